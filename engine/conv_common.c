/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_common.c — what the convolution and its fast flavours share (conv_common.h). */
#include "conv_common.h"
#include "util.h"

bool imp_conv_shape_valid (const ImpConvShape *s)
{
  return s->in_c > 0 && s->out_c > 0 && s->group > 0 && s->in_c % s->group == 0
         && s->out_c % s->group == 0 && s->kh > 0 && s->kw > 0 && s->stride_h > 0
         && s->stride_w > 0 && s->dil_h > 0 && s->dil_w > 0 && s->pad_t >= 0 && s->pad_l >= 0
         && s->pad_b >= 0 && s->pad_r >= 0
         && (s->pad_mode == IMP_PAD_CONSTANT || s->pad_mode == IMP_PAD_REFLECT
             || s->pad_mode == IMP_PAD_EDGE);
}

bool imp_conv_out_size (const ImpConvShape *s, int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
  if (!imp_conv_shape_valid (s) || h <= 0 || w <= 0)
    return false;
  int64_t eh = (int64_t) s->dil_h * (s->kh - 1) + 1; /* effective kernel extent */
  int64_t ew = (int64_t) s->dil_w * (s->kw - 1) + 1;
  int64_t ph = h + s->pad_t + s->pad_b, pw = w + s->pad_l + s->pad_r;
  if (ph < eh || pw < ew)
    return false;
  *oh = (ph - eh) / s->stride_h + 1;
  *ow = (pw - ew) / s->stride_w + 1;
  return true;
}

bool imp_conv_fast_shape (const ImpConvShape *s, int k, int stride, int max_pad)
{
  if (!s || s->kh != k || s->kw != k || s->stride_h != stride || s->stride_w != stride
      || s->dil_h != 1 || s->dil_w != 1 || s->group != 1 || s->in_c < 1 || s->out_c < 1)
    return false;
  const int pads[4] = { s->pad_t, s->pad_l, s->pad_b, s->pad_r };
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0 || pads[i] > max_pad)
      return false;
  return s->pad_mode == IMP_PAD_CONSTANT || s->pad_mode == IMP_PAD_REFLECT
         || s->pad_mode == IMP_PAD_EDGE;
}

ImpastoStatus imp_conv_fast_check (const char *name, const ImpConvShape *s, bool have_ptrs, int h,
                                   int w, int *oh, int *ow, ImpastoError *err)
{
  if (!have_ptrs)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "%s: NULL argument", name);
  if (h < 1 || w < 1)
    return imp_fail (err, IMPASTO_E_SHAPE, "%s: empty input %d x %d", name, h, w);
  if (s->pad_mode == IMP_PAD_REFLECT
      && (s->pad_t >= h || s->pad_b >= h || s->pad_l >= w || s->pad_r >= w))
    return imp_fail (err, IMPASTO_E_SHAPE, "%s: reflect pads must be smaller than the input "
                     "%d x %d", name, h, w);
  int64_t oh64, ow64;
  if (!imp_conv_out_size (s, h, w, &oh64, &ow64))
    return imp_fail (err, IMPASTO_E_SHAPE, "%s: input %d x %d gives an empty output", name, h, w);
  *oh = (int) oh64; /* at most h + pads: fits */
  *ow = (int) ow64;
  return IMPASTO_OK;
}

bool imp_conv_pack_oc_blocks (const float *weight, const float *bias, int out_c, int in_c, int kk,
                              int ob, float **w, float **bias_out, ImpastoError *err)
{
  const size_t ic = (size_t) in_c, k = (size_t) kk, b_ob = (size_t) ob;
  const size_t ocp = ((size_t) out_c + b_ob - 1) / b_ob * b_ob;
  size_t n;
  *w = *bias_out = NULL;
  if (!imp_mul_size (ocp, ic, &n) || !imp_mul_size (n, k, &n)) {
    imp_fail (err, IMPASTO_E_NOMEM, "conv: packed weights overflow");
    return false;
  }
  *w = imp_alloc0 (n, sizeof (float), "packed conv weights", err);
  *bias_out = imp_alloc0 (ocp, sizeof (float), "packed conv bias", err);
  if (!*w || !*bias_out)
    return false; /* the caller frees what was allocated */
  for (size_t o = 0; o < (size_t) out_c; o++) {
    const size_t b = o / b_ob, lane = o % b_ob;
    for (size_t c = 0; c < ic; c++)
      for (size_t i = 0; i < k; i++)
        (*w)[((b * ic + c) * k + i) * b_ob + lane] = weight[(o * ic + c) * k + i];
    if (bias)
      (*bias_out)[o] = bias[o];
  }
  return true;
}
