; SPDX-License-Identifier: GPL-3.0-or-later
; Script-Fu side of the plug-in tests (run by run_plugin_tests.py in one GIMP batch session).
;
; The driver defines `test-dir` (inputs in.png, in-alpha.png; outputs go there too) before loading
; this file.  Every case calls plug-in-impasto with named arguments, exports the source layer before
; and after and the new layer to PNG, and prints "FACT <case> key=value" lines through gimp-message.
; The driver compares the pixels (against the impasto CLI) and the facts.

(load helpers-scm) ; num, flag, fact, file-in, load-png, export-drawable

; The layers beside item: its parent's children, or the image's top-level layers.
(define (siblings img item)
  (let ((parent (car (gimp-item-get-parent item))))
    (if (and (number? parent) (> parent 0))
        (car (gimp-item-get-children parent))
        (car (gimp-image-get-layers img)))))

(define (parent-id item)
  (let ((parent (car (gimp-item-get-parent item))))
    (if (and (number? parent) (> parent 0)) parent -1)))

(define (describe tag img src new)
  (let ((src-off (gimp-drawable-get-offsets src))
        (new-off (gimp-drawable-get-offsets new)))
    (fact tag "name=" (car (gimp-item-get-name new)))
    (fact tag "pos-new=" (num (car (gimp-image-get-item-position img new))))
    (fact tag "pos-src=" (num (car (gimp-image-get-item-position img src))))
    (fact tag "same-parent=" (if (= (parent-id src) (parent-id new)) "1" "0"))
    (fact tag "siblings=" (num (vector-length (siblings img new))))
    (fact tag "src-size=" (num (car (gimp-drawable-get-width src))) "x"
          (num (car (gimp-drawable-get-height src))))
    (fact tag "new-size=" (num (car (gimp-drawable-get-width new))) "x"
          (num (car (gimp-drawable-get-height new))))
    (fact tag "src-offsets=" (num (car src-off)) "," (num (cadr src-off)))
    (fact tag "new-offsets=" (num (car new-off)) "," (num (cadr new-off)))
    (fact tag "new-alpha=" (flag (car (gimp-drawable-has-alpha new))))
    (fact tag "new-gray=" (flag (car (gimp-drawable-is-gray new))))))

; Run the plug-in on src (model, strength, preserve-colors, tile-size, stroke-size) with the pixels
; exported around it.
(define (stylise-all tag img src model strength preserve tile stroke)
  (export-drawable src (string-append tag "-src-before.png"))
  (let ((new (car (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img
                                   #:drawables (vector src) #:model model
                                   #:strength strength #:preserve-colors preserve
                                   #:tile-size tile #:stroke-size stroke))))
    (export-drawable src (string-append tag "-src-after.png"))
    (export-drawable new (string-append tag "-new.png"))
    (describe tag img src new)
    new))

(define (stylise-with tag img src model strength preserve tile)
  (stylise-all tag img src model strength preserve tile 1.0))

(define (stylise tag img src model strength) (stylise-with tag img src model strength FALSE -1))

; 1. Plain RGB layer, strength 0.7.
(let* ((img (load-png "in.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (stylise "rgb" img layer "mosaic-9" 0.7))

; 2. A rectangular selection: only its bounding box is stylised, the rest stays transparent.
(let* ((img (load-png "in.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (gimp-image-select-rectangle img CHANNEL-OP-REPLACE 12 8 40 32)
  (stylise "selection" img layer "candy-9" 1.0))

; 3. A grayscale image.
(let* ((img (load-png "in.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (gimp-image-convert-grayscale img)
  (stylise "gray" img layer "mosaic-9" 1.0))

; 3b. A 16-bit image: its pixels travel to the engine as floats.
(let* ((img (load-png "in.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (gimp-image-convert-precision img PRECISION-U16-NON-LINEAR)
  (stylise "u16" img layer "candy-9" 0.5))

; 4. A layer with alpha (values 64..255), kept as it is.
(let* ((img (load-png "in-alpha.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (stylise "alpha" img layer "udnie-9" 1.0))

; 5. A layer with offsets in a bigger image; preserve-colors on.
(define (offset-layer-image)
  (let* ((img (car (gimp-image-new 128 96 RGB)))
         (bg (car (gimp-layer-new img "background" 128 96 RGB-IMAGE 100 LAYER-MODE-NORMAL)))
         (src-img (load-png "in.png"))
         (layer (car (gimp-layer-new-from-drawable
                      (vector-ref (car (gimp-image-get-layers src-img)) 0) img))))
    (gimp-image-insert-layer img bg 0 0)
    (gimp-drawable-fill bg FILL-WHITE)
    (gimp-image-insert-layer img layer 0 0)
    (gimp-layer-set-offsets layer 20 12)
    (gimp-image-delete src-img)
    (list img layer)))

(let ((il (offset-layer-image)))
  (stylise-with "offsets" (car il) (cadr il) "mosaic-9" 1.0 TRUE -1))

; 5b. A layer with offsets and a selection in image coordinates (30,20 40x30 = layer 10,8).
(let ((il (offset-layer-image)))
  (gimp-image-select-rectangle (car il) CHANNEL-OP-REPLACE 30 20 40 30)
  (stylise "offsel" (car il) (cadr il) "rain_princess-9" 1.0))

; 6. A layer inside a group, below another layer of the group; 32 px tiles.
(let* ((img (car (gimp-image-new 96 64 RGB)))
       (bg (car (gimp-layer-new img "background" 96 64 RGB-IMAGE 100 LAYER-MODE-NORMAL)))
       (group (car (gimp-group-layer-new img "group")))
       (top (car (gimp-layer-new img "top" 96 64 RGBA-IMAGE 100 LAYER-MODE-NORMAL)))
       (src-img (load-png "in.png"))
       (layer (car (gimp-layer-new-from-drawable
                    (vector-ref (car (gimp-image-get-layers src-img)) 0) img))))
  (gimp-image-insert-layer img bg 0 0)
  (gimp-image-insert-layer img group 0 0)
  (gimp-image-insert-layer img layer group 0)
  (gimp-image-insert-layer img top group 0)
  (stylise-with "group" img layer "mosaic-9" 1.0 FALSE 32)
  (fact "group" "parent-is-group=" (if (= (parent-id layer) group) "1" "0"))
  (gimp-image-delete src-img))

; 7. Strength 0: a copy of the layer, without the network.
(let* ((img (load-png "in-alpha.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (stylise "zero" img layer "candy-9" 0.0))

; 8. Stroke size 2: the network sees the layer at half size; the new layer keeps the full size.
(let* ((img (load-png "in.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (stylise-all "stroke" img layer "candy-9" 1.0 FALSE -1 2.0))

; 9. The same photo in ProPhoto RGB (ROMM RGB, 16 bits so the conversion loses nothing): the
; network must see the same sRGB pixels, so after converting back the result equals the sRGB
; twin's ("twin", plain 8-bit sRGB).
(let* ((img (load-png "in.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (stylise "twin" img layer "candy-9" 1.0))
(let* ((img (load-png "in.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (gimp-image-convert-precision img PRECISION-U16-NON-LINEAR)
  (gimp-image-convert-color-profile-from-file img prophoto-icc
                                              COLOR-RENDERING-INTENT-RELATIVE-COLORIMETRIC TRUE)
  (let ((new (car (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img
                                   #:drawables (vector layer) #:model "candy-9"))))
    (gimp-image-convert-color-profile-from-file img srgb-icc
                                                COLOR-RENDERING-INTENT-RELATIVE-COLORIMETRIC TRUE)
    (gimp-image-convert-precision img PRECISION-U8-NON-LINEAR)
    (export-drawable layer "prophoto-src.png")
    (export-drawable new "prophoto-new.png")))

; 10. A translation (CycleGAN generator, values -1..1, H and W padded to a multiple of 4) on an
; odd-sized (93x61) RGBA layer, strength 0.6.
(let* ((img (load-png "in-odd-alpha.png"))
       (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
  (stylise "translation" img layer "photo2monet" 0.6))

(fact "done" "all=1")
