; SPDX-License-Identifier: GPL-3.0-or-later
; Script-Fu side of the arbitrary-style plug-in tests (run by run_style_tests.py in one GIMP batch
; session).  The driver defines `test-dir` (in.png, wave.png, starry.png), `helpers-scm` and the
; models "magenta" and "adain" (packs: NAME.onnx + NAME.json) before loading this file.  Each case
; exports the new layer; the driver compares it with the impasto CLI.

(load helpers-scm)

(define (content) (load-png "in.png"))
(define (first-layer img) (vector-ref (car (gimp-image-get-layers img)) 0))

; 1. a style file (Magenta)
(let* ((img (content)) (layer (first-layer img)))
  (export-drawable (car (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img
                                         #:drawables (vector layer) #:model "magenta"
                                         #:style-file (file-in "wave.png")))
                   "mag-file.png"))

; 2. a style layer of another open image (Magenta)
(let* ((img (content)) (layer (first-layer img))
       (style (first-layer (load-png "wave.png"))))
  (export-drawable (car (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img
                                         #:drawables (vector layer) #:model "magenta"
                                         #:style-layer style))
                   "mag-layer.png"))

; 3. a style file (AdaIN pair), strength 0.5 in feature space
(let* ((img (content)) (layer (first-layer img)))
  (export-drawable (car (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img
                                         #:drawables (vector layer) #:model "adain"
                                         #:strength 0.5 #:style-file (file-in "wave.png")))
                   "ada-file.png"))

; 4. two styles mixed
(let* ((img (content)) (layer (first-layer img)))
  (export-drawable (car (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img
                                         #:drawables (vector layer) #:model "magenta"
                                         #:style-file (file-in "wave.png")
                                         #:style2-file (file-in "starry.png") #:mix 0.3))
                   "mag-mix.png"))

; 5. no style image: an error that says what is missing, and no new layer
(let* ((img (content)) (layer (first-layer img)))
  (fact "nostyle" "ok=" (if (catch #f (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img
                                                       #:drawables (vector layer)
                                                       #:model "magenta"))
                            "1" "0"))
  (fact "nostyle" "layers=" (num (vector-length (car (gimp-image-get-layers img))))))

(fact "done" "all=1")
