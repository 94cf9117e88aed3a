/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_s2.h — direct 3x3 stride-2 convolution (the downsampling convs of style networks:
 * 32 -> 64 and 64 -> 128, reflect pad 1 fused).
 *
 * im2col + sgemm ran these at 110-130 GFLOP/s on 2 cores (M = 64 output channels is short for
 * the BLAS kernel, and im2col writes 9x the input).  Here, as in conv_direct.c, the output row is
 * the vector dimension: a register block of 4 output channels x 96 (AVX-512) or 24 (AVX2)
 * consecutive pixels accumulates, over (c, ky, kx), broadcast weight x a run of input pixels.
 * Stride 2 would make those runs strided, so each task first copies its input window (pads
 * applied) split into even and odd columns: tap kx = 0, 1, 2 of output pixel x then reads
 * even[x], odd[x], even[x + 1], all contiguous.  Bias fused. */
#ifndef IMP_CONV_S2_H
#define IMP_CONV_S2_H

#include "conv_common.h"
#include "impasto.h"
#include "pool.h"

#include <stdbool.h>

typedef struct ImpConvS2 ImpConvS2;

/* kh = kw = 3, strides 2, dilation 1, group 1, pads 0..2, a known pad mode. */
bool imp_conv_s2_eligible (const ImpConvShape *s);

/* weight [out_c, in_c, 3, 3], bias [out_c] or NULL; packed here.  NULL and err on failure. */
ImpConvS2 *imp_conv_s2_new (const ImpConvShape *s, const float *weight, const float *bias,
                            ImpastoError *err);

/* x [in_c, h, w] -> y [out_c, oh, ow], oh = (h + pad_t + pad_b - 3) / 2 + 1, ow likewise.
 * REFLECT needs pads < the dimension.  pool may be NULL. */
ImpastoStatus imp_conv_s2_run (const ImpConvS2 *cv, int h, int w, const float *x, float *y,
                               ImpPool *pool, ImpastoError *err);

void imp_conv_s2_free (ImpConvS2 *cv);

#endif
