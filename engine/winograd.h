/* SPDX-License-Identifier: GPL-3.0-or-later */
/* winograd.h — Winograd F(4x4, 3x3) convolution for 3x3, stride 1, dilation 1, group 1 convs.
 *
 * Per 4x4 output tile the 6x6 input patch d is transformed to V = B^T d B, multiplied element-wise
 * (as 36 batched GEMMs over channels) with the pre-transformed weights U = G g G^T, and the 6x6
 * product M is transformed back to Y = A^T M A.  That is 36 multiplies per output pixel and input
 * channel pair where the direct conv needs 144: a 4x reduction of the GEMM work.
 *
 * Padding follows ImpConvShape: pads 0..2 on each side in CONSTANT (zero), REFLECT or EDGE mode,
 * so a reflect Pad feeding the conv costs no extra pass.  Bias is fused into the output transform.
 *
 * The image is processed in blocks of tiles (a band of tile rows x a segment of tile columns) so
 * that the transformed input and the products of a block stay in cache; blocks are the tasks of
 * imp_pool_run, so both cores work in every phase.  The 36 products per block are small GEMMs run
 * by the file's own register-blocked micro-kernel (AVX-512 / AVX2+FMA / portable C, chosen at run
 * time) on panel layouts the transforms write directly: per-product cblas_sgemm calls spent ~30%
 * of the time repacking the transformed input.  No BLAS call, so no OpenBLAS threading concern. */
#ifndef IMP_WINOGRAD_H
#define IMP_WINOGRAD_H

#include "conv_common.h"
#include "impasto.h"
#include "pool.h"

#include <stdbool.h>

typedef struct ImpWinograd ImpWinograd;

/* kh = kw = 3, strides 1, dilations 1, group 1, every pad in 0..2, a known pad mode. */
bool imp_winograd_eligible (const ImpConvShape *s);

/* weight [out_c, in_c, 3, 3], bias [out_c] or NULL.  The weights are transformed and packed here;
 * the caller's arrays are not referenced afterwards.  NULL and err filled on failure. */
ImpWinograd *imp_winograd_new (const ImpConvShape *s, const float *weight, const float *bias,
                               ImpastoError *err);

/* x [in_c, h, w] -> y [out_c, oh, ow] with oh = h + pad_t + pad_b - 2, ow = w + pad_l + pad_r - 2.
 * Any h, w >= 1 that give a non-empty output (REFLECT additionally needs pads < the dimension,
 * as ONNX Pad does).  x and y must not overlap.  pool may be NULL (serial). */
ImpastoStatus imp_winograd_run (const ImpWinograd *wg, int h, int w, const float *x, float *y,
                                ImpPool *pool, ImpastoError *err);

/* The same, also giving sums [2, out_c]: every output channel's sum and sum of squares
 * (accumulated in double; an instance norm of y needs no pass of its own to gather them). */
ImpastoStatus imp_winograd_run_sums (const ImpWinograd *wg, int h, int w, const float *x, float *y,
                                     double *sums, ImpPool *pool, ImpastoError *err);

/* The same on a gathered input (conv_common.h, ImpGather): g->rows has h entries, g->cols w, each
 * an index into g->x [in_c, src_h, src_w] (rows may be -1: a zero row). */
ImpastoStatus imp_winograd_run_gather (const ImpWinograd *wg, int h, int w, const ImpGather *g,
                                       float *y, ImpPool *pool, ImpastoError *err);

void imp_winograd_free (ImpWinograd *wg);

#endif
