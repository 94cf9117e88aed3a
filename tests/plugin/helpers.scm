; SPDX-License-Identifier: GPL-3.0-or-later
; Helpers of the Script-Fu test sessions (checks.scm, checks_style.scm); the driver defines
; `test-dir` and `helpers-scm` (this file's path) before loading them.

(define (num n) (number->string n))
(define (flag v) (if (or (eq? v #t) (and (number? v) (not (= v 0)))) "1" "0"))
(define (fact tag . parts) (gimp-message (apply string-append "FACT " tag " " parts)))
(define (file-in name) (string-append test-dir "/" name))

(define (load-png name) (car (gimp-file-load RUN-NONINTERACTIVE (file-in name))))

; Export one drawable's own pixels (its size, no offsets, alpha kept) as a PNG.
(define (export-drawable drawable name)
  (let* ((w (car (gimp-drawable-get-width drawable)))
         (h (car (gimp-drawable-get-height drawable)))
         (gray (= (car (gimp-drawable-is-gray drawable)) 1))
         (tmp (car (gimp-image-new w h (if gray GRAY RGB))))
         (copy (car (gimp-layer-new-from-drawable drawable tmp))))
    (gimp-image-insert-layer tmp copy 0 0)
    (gimp-layer-set-offsets copy 0 0)
    (file-png-export #:run-mode RUN-NONINTERACTIVE #:image tmp #:file (file-in name)
                     #:save-transparent TRUE #:bkgd FALSE #:phys FALSE #:time FALSE
                     #:include-thumbnail FALSE)
    (gimp-image-delete tmp)))
