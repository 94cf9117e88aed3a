/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_direct.h — direct convolution for the skinny 9x9 convs of style networks (3 -> 32 and
 * 32 -> 3 at full resolution, reflect pad 4 fused) and the 7x7 ones of the CycleGAN generator
 * (3 -> 64 and 64 -> 3, reflect pad 3).
 *
 * im2col + GEMM is a poor fit there: the GEMM has M = 3 or K = 243 and the im2col matrix is 81x
 * the input.  Here the output row is the vector dimension: a register block of output channels x
 * 24..32 consecutive pixels accumulates sum over (c, ky, kx) of broadcast weight x the shifted
 * input row, read from a padded copy of a band of input rows that stays in cache.  Bias fused;
 * pads of any mode (CONSTANT zero, REFLECT, EDGE) are applied while building that copy. */
#ifndef IMP_CONV_DIRECT_H
#define IMP_CONV_DIRECT_H

#include "conv_common.h"
#include "impasto.h"
#include "pool.h"

#include <stdbool.h>

typedef struct ImpConv9 ImpConv9;

/* kh = kw = 9 or 7, stride 1, dilation 1, group 1, pads 0..k-1, and skinny: in_c <= 4 or
 * out_c <= 4. */
bool imp_conv9_eligible (const ImpConvShape *s);

/* weight [out_c, in_c, 9, 9], bias [out_c] or NULL; packed here.  NULL and err on failure. */
ImpConv9 *imp_conv9_new (const ImpConvShape *s, const float *weight, const float *bias,
                         ImpastoError *err);

/* x [in_c, h, w] -> y [out_c, h + pad_t + pad_b - k + 1, w + pad_l + pad_r - k + 1].  REFLECT needs
 * pads < the dimension.  pool may be NULL. */
ImpastoStatus imp_conv9_run (const ImpConv9 *cv, int h, int w, const float *x, float *y,
                             ImpPool *pool, ImpastoError *err);

void imp_conv9_free (ImpConv9 *cv);

#endif
