/* stream.h — running a model over an image of any size in row bands, in bounded memory, with
 * instance-norm statistics taken over the whole image (so tiles leave no seams). */
#ifndef IMP_STREAM_H
#define IMP_STREAM_H

#include "model.h"

/* Whether impasto_stylize should stream: tile_size > 0 asks for it, 0 forbids it, -1 decides
 * from the memory the whole-image run would need.  Models with ops that cannot be streamed
 * (ConvTranspose, global pooling) always run whole. */
bool imp_stream_wanted (ImpastoModel *m, int64_t ph, int64_t pw, int tile_size);

/* Stylise in -> out by row bands.  ph x pw is the padded model input size. */
ImpastoStatus imp_stream_run (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                              const ImpastoOptions *o, int64_t ph, int64_t pw, ImpastoError *err);

#endif
