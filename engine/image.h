/* image.h — conversions between ImpastoImage (interleaved, 0..1 or 0..255) and the model's planar
 * tensors, and the final composition (colour preservation, strength, gray, alpha). */
#ifndef IMP_IMAGE_H
#define IMP_IMAGE_H

#include "model.h"

/* Checks an input/output image pair and the options; IMPASTO_E_ARGUMENT with a message if bad. */
ImpastoStatus imp_image_check (const ImpastoImage *in, const ImpastoImage *out,
                               const ImpastoOptions *o, ImpastoError *err);

/* Rows [r0, r1) of the model input, planar [3, r1 - r0, pw] in the model's value range.  Rows and
 * columns past the image's bottom/right edge are mirrored (repeatedly, so tiny images work). */
void imp_image_input_rows (const ImpastoModel *m, const ImpastoImage *in, int64_t r0, int64_t r1,
                           int64_t pw, float *dst, ImpPool *pool);

/* Composes rows [r0, r1) of the model output (planar [3, r1 - r0, tw], model range) into out;
 * rows beyond the image are ignored.  With o->rows, out is a row buffer handed to o->rows as it
 * fills: every call must continue where the previous one ended, starting at row 0.  Fails only
 * when o->rows asks to stop (IMPASTO_E_CANCELLED). */
ImpastoStatus imp_image_compose_rows (const ImpastoModel *m, const ImpastoImage *in,
                                      const float *styled, int64_t r0, int64_t r1, int64_t tw,
                                      const ImpastoOptions *o, ImpastoImage *out, ImpPool *pool,
                                      ImpastoError *err);

/* Hands rows (image rows [y, y + rows->height)) to o->rows; IMPASTO_E_CANCELLED when it asks to
 * stop. */
ImpastoStatus imp_image_hand_rows (const ImpastoOptions *o, const ImpastoImage *rows, int y,
                                   ImpastoError *err);

#endif
