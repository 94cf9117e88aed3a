/* SPDX-License-Identifier: GPL-3.0-or-later */
/* resize.c — nearest-neighbour Resize (ONNX Resize mode "nearest", Upsample opset 9).
 *
 * Both versions map every output coordinate through source_index() below — the ONNX
 * coordinate_transformation_mode followed by nearest_mode and a clamp to the input — computed in
 * float like the ONNX reference and ONNX Runtime.  The fast version evaluates it once per output
 * row and column (index tables) and copies; for exact 2x upsampling (the tables say every output
 * pixel i reads input i / 2) rows are built by duplicating pixels and copying the row. */
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <string.h>

/* Input coordinate of output coordinate `o` (ONNX Resize, coordinate_transformation_mode). */
static float original_coord (ImpCoordMode coord, int64_t o, int64_t in_len, int64_t out_len,
                             float scale)
{
  float xo = (float) o;
  switch (coord) {
  case IMP_COORD_HALF_PIXEL:
    return (xo + 0.5f) / scale - 0.5f;
  case IMP_COORD_PYTORCH_HALF_PIXEL:
    return out_len > 1 ? (xo + 0.5f) / scale - 0.5f : 0.0f;
  case IMP_COORD_ALIGN_CORNERS:
    return out_len == 1 ? 0.0f : xo * (float) (in_len - 1) / (float) (out_len - 1);
  case IMP_COORD_TF_HALF_PIXEL_FOR_NN:
    return (xo + 0.5f) / scale;
  case IMP_COORD_ASYMMETRIC:
  default:
    return xo / scale;
  }
}

/* nearest_mode applied to the original coordinate, then clamped to [0, in_len - 1]. */
static int64_t source_index (ImpCoordMode coord, ImpNearestMode nearest, int64_t o,
                             int64_t in_len, int64_t out_len, float scale)
{
  float xf = original_coord (coord, o, in_len, out_len, scale);
  float fl = floorf (xf);
  float r;
  switch (nearest) {
  case IMP_NEAREST_ROUND_PREFER_FLOOR: /* halfway rounds down */
    r = xf - fl == 0.5f ? fl : roundf (xf);
    break;
  case IMP_NEAREST_ROUND_PREFER_CEIL:  /* halfway rounds up */
    r = xf - fl == 0.5f ? fl + 1.0f : roundf (xf);
    break;
  case IMP_NEAREST_CEIL:
    r = ceilf (xf);
    break;
  case IMP_NEAREST_FLOOR:
  default:
    r = fl;
    break;
  }
  if (!(r >= 0.0f)) /* also catches NaN from a zero scale */
    return 0;
  if (r >= (float) (in_len - 1))
    return in_len - 1;
  return (int64_t) r;
}

void imp_resize_nearest_ref (int c, int h, int w, const float *x, int oh, int ow, float scale_h,
                             float scale_w, ImpCoordMode coord, ImpNearestMode nearest, float *y)
{
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        int64_t iy = source_index (coord, nearest, oy, h, oh, scale_h);
        int64_t ix = source_index (coord, nearest, ox, w, ow, scale_w);
        y[(ch * oh + oy) * ow + ox] = x[(ch * h + iy) * w + ix];
      }
}

typedef struct {
  int c, h, w, oh, ow;
  const float *x;
  float *y;
  const int64_t *iy, *ix; /* index tables [oh], [ow] */
  bool twice;             /* exact 2x: iy[o] = o / 2, ix[o] = o / 2, oh = 2h, ow = 2w */
  int64_t rows_per_task;  /* output rows (over all channels) per task */
} ResizeJob;

static void resize_task (void *ctx, int64_t task, int thread)
{
  const ResizeJob *j = ctx;
  int64_t total = (int64_t) j->c * j->oh;
  int64_t r0 = task * j->rows_per_task, r1 = IMP_MIN (total, r0 + j->rows_per_task);
  for (int64_t row = r0; row < r1; row++) {
    int64_t ch = row / j->oh, oy = row % j->oh;
    float *dst = j->y + (size_t) row * (size_t) j->ow;
    /* identical source row as the row before (and the previous row is ours): copy it */
    if (row > r0 && oy > 0 && j->iy[oy] == j->iy[oy - 1]) {
      memcpy (dst, dst - j->ow, (size_t) j->ow * sizeof *dst);
      continue;
    }
    const float *src = j->x + ((size_t) ch * (size_t) j->h + (size_t) j->iy[oy]) * (size_t) j->w;
    if (j->twice) {
      for (int64_t i = 0; i < j->w; i++)
        dst[2 * i] = dst[2 * i + 1] = src[i];
    } else {
      for (int64_t ox = 0; ox < j->ow; ox++)
        dst[ox] = src[j->ix[ox]];
    }
  }
}

void imp_resize_nearest (int c, int h, int w, const float *x, int oh, int ow, float scale_h,
                         float scale_w, ImpCoordMode coord, ImpNearestMode nearest, float *y,
                         ImpPool *pool)
{
  if (c <= 0 || oh <= 0 || ow <= 0 || h <= 0 || w <= 0)
    return;
  int64_t *tab = imp_alloc ((size_t) oh + (size_t) ow, sizeof *tab, "resize tables", NULL);
  if (!tab) {
    imp_resize_nearest_ref (c, h, w, x, oh, ow, scale_h, scale_w, coord, nearest, y);
    return;
  }
  ResizeJob j = { c, h, w, oh, ow, x, y, tab, tab + oh, false, 1 };
  bool twice = (int64_t) oh == 2 * (int64_t) h && (int64_t) ow == 2 * (int64_t) w;
  for (int64_t o = 0; o < oh; o++) {
    tab[o] = source_index (coord, nearest, o, h, oh, scale_h);
    twice = twice && tab[o] == o / 2;
  }
  for (int64_t o = 0; o < ow; o++) {
    tab[oh + o] = source_index (coord, nearest, o, w, ow, scale_w);
    twice = twice && tab[oh + o] == o / 2;
  }
  j.twice = twice;
  /* at least 2 rows per task so that duplicated rows are mostly copies */
  j.rows_per_task = IMP_MAX ((int64_t) 2, 16384 / ow);
  int64_t total = (int64_t) c * oh;
  imp_pool_run (pool, (total + j.rows_per_task - 1) / j.rows_per_task, resize_task, &j);
  imp_free (tab);
}

/* imp_duplicate2 (kernels.h): plain, and with AVX-512 permutes. */
static void duplicate_plain (const float *src, float *dst, size_t n)
{
  for (size_t k = 0; k < n; k++)
    dst[2 * k] = dst[2 * k + 1] = src[k];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__ ((target ("avx512f"))) static void duplicate_avx512 (const float *src, float *dst,
                                                                   size_t n)
{
  const __m512i lo = _mm512_setr_epi32 (0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i hi = _mm512_setr_epi32 (8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  size_t k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m512 x = _mm512_loadu_ps (src + k);
    _mm512_storeu_ps (dst + 2 * k, _mm512_permutexvar_ps (lo, x));
    _mm512_storeu_ps (dst + 2 * k + 16, _mm512_permutexvar_ps (hi, x));
  }
  duplicate_plain (src + k, dst + 2 * k, n - k);
}

void imp_duplicate2 (const float *src, float *dst, size_t n)
{
  static int wide = -1;
  if (wide < 0)
    wide = imp_isa (NULL) == IMP_ISA_AVX512;
  (wide ? duplicate_avx512 : duplicate_plain) (src, dst, n);
}
#else
void imp_duplicate2 (const float *src, float *dst, size_t n)
{
  duplicate_plain (src, dst, n);
}
#endif
