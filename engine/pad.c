/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pad.c — 2-D padding (ONNX Pad on the last two axes): constant, reflect, edge. */
#include "kernels.h"
#include "util.h"

#include <string.h>

/* Oracle: every output pixel looks up its source through imp_pad_index. */
void imp_pad2d_ref (int c, int h, int w, const float *x, int t, int l, int b, int r,
                    ImpPadMode mode, float value, float *y)
{
  int64_t ph = (int64_t) h + t + b, pw = (int64_t) w + l + r;
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t oy = 0; oy < ph; oy++)
      for (int64_t ox = 0; ox < pw; ox++) {
        int64_t iy = imp_pad_index (oy - t, h, mode);
        int64_t ix = imp_pad_index (ox - l, w, mode);
        float v = value;
        if (iy >= 0 && ix >= 0)
          v = x[(ch * h + iy) * w + ix];
        y[(ch * ph + oy) * pw + ox] = v;
      }
}

typedef struct {
  int c, h, w, t, l, b, r;
  ImpPadMode mode;
  float value;
  const float *x;
  float *y;
  int64_t rows_per_task; /* output rows (over all channels) per task */
} PadJob;

/* One output row: left border, memcpy of the interior, right border. */
static void pad_row (const PadJob *j, int64_t ch, int64_t oy, float *dst)
{
  int64_t pw = (int64_t) j->w + j->l + j->r;
  int64_t iy = imp_pad_index (oy - j->t, j->h, j->mode);
  if (iy < 0) {
    for (int64_t i = 0; i < pw; i++)
      dst[i] = j->value;
    return;
  }
  const float *src = j->x + ((size_t) ch * j->h + (size_t) iy) * (size_t) j->w;
  for (int64_t i = 0; i < j->l; i++) {
    int64_t ix = imp_pad_index (i - j->l, j->w, j->mode);
    dst[i] = ix < 0 ? j->value : src[ix];
  }
  memcpy (dst + j->l, src, (size_t) j->w * sizeof *src);
  for (int64_t i = j->l + j->w; i < pw; i++) {
    int64_t ix = imp_pad_index (i - j->l, j->w, j->mode);
    dst[i] = ix < 0 ? j->value : src[ix];
  }
}

static void pad_task (void *ctx, int64_t task, int thread)
{
  const PadJob *j = ctx;
  int64_t ph = (int64_t) j->h + j->t + j->b, pw = (int64_t) j->w + j->l + j->r;
  int64_t total = (int64_t) j->c * ph;
  int64_t r0 = task * j->rows_per_task, r1 = IMP_MIN (total, r0 + j->rows_per_task);
  for (int64_t row = r0; row < r1; row++)
    pad_row (j, row / ph, row % ph, j->y + row * pw);
}

void imp_pad2d (int c, int h, int w, const float *x, int t, int l, int b, int r,
                ImpPadMode mode, float value, float *y, ImpPool *pool)
{
  PadJob j = { c, h, w, t, l, b, r, mode, value, x, y, 1 };
  int64_t ph = (int64_t) h + t + b, pw = (int64_t) w + l + r;
  int64_t total = (int64_t) c * ph;
  if (total <= 0 || pw <= 0)
    return;
  /* ~64 KiB of output per task keeps the task overhead negligible */
  j.rows_per_task = IMP_MAX ((int64_t) 1, 16384 / pw);
  imp_pool_run (pool, (total + j.rows_per_task - 1) / j.rows_per_task, pad_task, &j);
}
