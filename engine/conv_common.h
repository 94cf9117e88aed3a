/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_common.h — the types and helpers the convolution (conv.c) and its fast flavours
 * (winograd.c, conv_direct.c, conv_s2.c) share.  The flavours include this, not kernels.h, so
 * conv.c depends on them and never the reverse; nothing here knows graph types. */
#ifndef IMP_CONV_COMMON_H
#define IMP_CONV_COMMON_H

#include "impasto.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------- */
/* Padding modes shared by Pad and by Conv (a Pad feeding a Conv is fused into it).             */
typedef enum { IMP_PAD_CONSTANT = 0, IMP_PAD_REFLECT, IMP_PAD_EDGE } ImpPadMode;

/* Index of padded coordinate i (may be < 0 or >= n) in [0, n) for reflect/edge; -1 for constant
 * outside.  Reflect requires -n < i < 2n - 1 (ONNX: pad < dim). */
static inline int64_t imp_pad_index (int64_t i, int64_t n, ImpPadMode mode)
{
  if (i >= 0 && i < n) return i;
  switch (mode) {
  case IMP_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
  case IMP_PAD_EDGE:    return i < 0 ? 0 : n - 1;
  default:              return -1;
  }
}

/* ------------------------------------------------------------------------------------------- */
/* Conv2d (ONNX Conv, 2-D).                                                                     */
typedef struct {
  int in_c, out_c, group;
  int kh, kw;
  int stride_h, stride_w;
  int dil_h, dil_w;
  int pad_t, pad_l, pad_b, pad_r; /* >= 0 */
  ImpPadMode pad_mode;            /* CONSTANT (zero) for plain ONNX Conv; REFLECT/EDGE when a Pad
                                     was fused into the conv */
} ImpConvShape;

/* Channels, kernel, strides, dilations and group consistent, pads >= 0, a known pad mode. */
bool imp_conv_shape_valid (const ImpConvShape *s);

/* Output size for an h x w input; false if the output would be empty. */
bool imp_conv_out_size (const ImpConvShape *s, int64_t h, int64_t w, int64_t *oh, int64_t *ow);

/* The fast convolutions' shared pieces (conv_common.c):
 * a k x k conv of the given stride, dilation 1, group 1 and channels >= 1, with every pad
 * in 0..max_pad and a known pad mode; */
bool imp_conv_fast_shape (const ImpConvShape *s, int k, int stride, int max_pad);
/* the run-time checks they share: pointers given, a non-empty input, reflect pads smaller than
 * the input, a non-empty output; *oh, *ow the output size.  name prefixes the messages. */
ImpastoStatus imp_conv_fast_check (const char *name, const ImpConvShape *s, bool have_ptrs, int h,
                                   int w, int *oh, int *ow, ImpastoError *err);
/* weight [out_c, in_c, kk] -> *w [n_blocks][in_c][kk][ob] with n_blocks = ceil(out_c / ob), and
 * bias (or zeros) -> *bias_out [n_blocks * ob], both allocated here (tail lanes 0); false with err
 * set when they cannot be. */
bool imp_conv_pack_oc_blocks (const float *weight, const float *bias, int out_c, int in_c, int kk,
                              int ob, float **w, float **bias_out, ImpastoError *err);

/* A conv input [in_c, h, w] read through index maps from x [in_c, src_h, src_w]: element
 * (c, i, j) is x[c, rows[i], cols[j]], or 0 where rows[i] < 0.  A nearest upsampling fused into
 * the convolution that follows it: the upsampled image is never written out.  cols_double says
 * cols[j] == j / 2 (upsampling x2), which has a fast path. */
typedef struct {
  const float *x;
  int src_h, src_w;
  const int32_t *rows, *cols;
  bool cols_double;
} ImpGather;

/* dst[2k] = dst[2k + 1] = src[k] for k < n (nearest x2 along a row; resize.c). */
void imp_duplicate2 (const float *src, float *dst, size_t n);

#endif
