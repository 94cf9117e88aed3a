/* SPDX-License-Identifier: GPL-3.0-or-later */
/* convt.c — 2-D transposed convolution (ONNX ConvTranspose): oracle and sgemm + col2im.
 *
 * Fast path, per group g and block of input rows:
 *     col [M = out_c/group * kh * kw, n] = W_g^T [M, cin_g] x x_g [cin_g, n]
 * (ONNX weight [in_c, out_c/group, kh, kw] is W_g [cin_g, M] row-major, so sgemm reads it
 * transposed), then col2im scatters col into y.  The sgemm is split across the pool by rows of
 * col, the scatter by output channel, so tasks never write the same memory. */
#include "kernels.h"
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

void openblas_set_num_threads (int);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread (void)
{
  openblas_set_num_threads (1);
}

/* Floats of col buffer per block (4 MiB). */
#define COL_BUDGET_FLOATS (1024 * 1024)

static bool shape_valid (const ImpConvTShape *s)
{
  return s->in_c > 0 && s->out_c > 0 && s->group > 0 && s->in_c % s->group == 0
         && s->out_c % s->group == 0 && s->kh > 0 && s->kw > 0 && s->stride_h > 0
         && s->stride_w > 0 && s->dil_h > 0 && s->dil_w > 0 && s->pad_t >= 0 && s->pad_l >= 0
         && s->pad_b >= 0 && s->pad_r >= 0 && s->out_pad_h >= 0 && s->out_pad_w >= 0;
}

bool imp_convt_out_size (const ImpConvTShape *s, int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
  if (!shape_valid (s) || h <= 0 || w <= 0)
    return false;
  int64_t rh = (h - 1) * s->stride_h - s->pad_t - s->pad_b + (int64_t) s->dil_h * (s->kh - 1)
               + s->out_pad_h + 1;
  int64_t rw = (w - 1) * s->stride_w - s->pad_l - s->pad_r + (int64_t) s->dil_w * (s->kw - 1)
               + s->out_pad_w + 1;
  if (rh <= 0 || rw <= 0)
    return false;
  *oh = rh;
  *ow = rw;
  return true;
}

/* Oracle, written as a gather: output (oy, ox) receives x[ic, iy, ix] * W[ic, m, ky, kx] whenever
 * oy = iy * stride_h - pad_t + ky * dil_h (and likewise for x).  Accumulated in double. */
void imp_convt2d_ref (const ImpConvTShape *s, int h, int w, const float *x, const float *weight,
                      const float *bias, float *y)
{
  int64_t oh, ow;
  if (!imp_convt_out_size (s, h, w, &oh, &ow))
    return;
  int cin_g = s->in_c / s->group, cout_g = s->out_c / s->group;
  for (int g = 0; g < s->group; g++)
    for (int m = 0; m < cout_g; m++) {
      int oc = g * cout_g + m;
      for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
          double acc = bias ? bias[oc] : 0.0;
          for (int i = 0; i < cin_g; i++) {
            int ic = g * cin_g + i;
            for (int ky = 0; ky < s->kh; ky++) {
              int64_t ty = oy + s->pad_t - (int64_t) ky * s->dil_h; /* = iy * stride_h */
              if (ty < 0 || ty % s->stride_h != 0 || ty / s->stride_h >= h)
                continue;
              int64_t iy = ty / s->stride_h;
              for (int kx = 0; kx < s->kw; kx++) {
                int64_t tx = ox + s->pad_l - (int64_t) kx * s->dil_w;
                if (tx < 0 || tx % s->stride_w != 0 || tx / s->stride_w >= w)
                  continue;
                int64_t ix = tx / s->stride_w;
                float xv = x[((int64_t) ic * h + iy) * w + ix];
                float wv = weight[(((int64_t) ic * cout_g + m) * s->kh + ky) * s->kw + kx];
                acc += (double) xv * wv;
              }
            }
          }
          y[((int64_t) oc * oh + oy) * ow + ox] = (float) acc;
        }
    }
}

/* ------------------------------------------------------------------------------------------- */
struct ImpConvT {
  ImpConvTShape s;
  int m;         /* rows of col per group: out_c / group * kh * kw */
  const float *weight; /* [in_c, out_c/group, kh, kw] as given by ONNX: the caller's, borrowed
                         (a copy doubled pix2pix ngf 64's 110 MB of ConvTranspose weights) */
  float *bias;   /* [out_c] or NULL */
};

ImpConvT *imp_convt_new (const ImpConvTShape *s, const float *weight, const float *bias,
                         ImpastoError *err)
{
  if (!s || !weight) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "conv transpose: missing shape or weight");
    return NULL;
  }
  if (!shape_valid (s)) {
    imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: invalid shape (in_c %d, out_c %d, group %d, "
              "kernel %dx%d)", s->in_c, s->out_c, s->group, s->kh, s->kw);
    return NULL;
  }
  size_t m, n_weight;
  if (!imp_mul_size ((size_t) (s->out_c / s->group), (size_t) s->kh, &m)
      || !imp_mul_size (m, (size_t) s->kw, &m) || m > INT_MAX
      || !imp_mul_size (m, (size_t) s->in_c, &n_weight)) {
    imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: kernel too large");
    return NULL;
  }
  pthread_once (&blas_once, blas_single_thread);
  ImpConvT *conv = imp_alloc0 (1, sizeof *conv, "conv transpose", err);
  if (!conv)
    return NULL;
  conv->s = *s;
  conv->m = (int) m;
  conv->weight = weight;
  if (bias) {
    conv->bias = imp_alloc ((size_t) s->out_c, sizeof (float), "conv transpose bias", err);
    if (!conv->bias)
      goto fail;
    memcpy (conv->bias, bias, (size_t) s->out_c * sizeof (float));
  }
  return conv;
fail:
  imp_convt_free (conv);
  return NULL;
}

void imp_convt_free (ImpConvT *conv)
{
  if (!conv)
    return;
  imp_free (conv->bias);
  imp_free (conv);
}

typedef struct {
  const ImpConvT *conv;
  int w, ow;
  const float *x;    /* [in_c, x_rows, w]: input rows x_r0 .. x_r0 + x_rows - 1 */
  int x_r0, x_rows;
  float *y;          /* [out_c, y_rows, ow]: output rows y_r0 .. y_r0 + y_rows - 1 */
  int y_r0, y_rows;
  float *col;        /* [M, rows * w] */
  int g;             /* current group */
  int r0, rows;      /* current block of input rows (relative to x_r0) */
  int m_per_task;    /* rows of col per sgemm task */
} ConvTJob;

/* y[oc] = bias[oc] (or 0) for all channels; task = output channel. */
static void init_task (void *ctx, int64_t oc, int thread)
{
  const ConvTJob *j = ctx;
  size_t plane = (size_t) j->y_rows * (size_t) j->ow;
  float *dst = j->y + (size_t) oc * plane;
  float v = j->conv->bias ? j->conv->bias[oc] : 0.0f;
  for (size_t i = 0; i < plane; i++)
    dst[i] = v;
}

/* col rows [task * m_per_task, ...) = W_g^T x x_g[:, block]. */
static void gemm_task (void *ctx, int64_t task, int thread)
{
  const ConvTJob *j = ctx;
  const ImpConvTShape *s = &j->conv->s;
  int cin_g = s->in_c / s->group;
  int m0 = (int) task * j->m_per_task, mr = IMP_MIN (j->m_per_task, j->conv->m - m0);
  int n = j->rows * j->w;
  const float *wg = j->conv->weight + (size_t) j->g * cin_g * (size_t) j->conv->m;
  const float *xg = j->x + ((size_t) j->g * cin_g * (size_t) j->x_rows + (size_t) j->r0) * (size_t) j->w;
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, mr, n, cin_g, 1.0f, wg + m0, j->conv->m,
               xg, j->x_rows * j->w, 0.0f, j->col + (size_t) m0 * n, n);
}

/* Scatter-add the kh*kw col rows of output channel m (within the group) into y. */
static void col2im_task (void *ctx, int64_t m, int thread)
{
  const ConvTJob *j = ctx;
  const ImpConvTShape *s = &j->conv->s;
  int cout_g = s->out_c / s->group;
  int n = j->rows * j->w;
  float *yc = j->y + (size_t) (j->g * cout_g + m) * (size_t) j->y_rows * (size_t) j->ow;
  for (int ky = 0; ky < s->kh; ky++)
    for (int kx = 0; kx < s->kw; kx++) {
      const float *src = j->col + ((size_t) (m * s->kh + ky) * s->kw + kx) * (size_t) n;
      int64_t off_x = (int64_t) kx * s->dil_w - s->pad_l;
      for (int r = 0; r < j->rows; r++) {
        int64_t oy = (int64_t) (j->x_r0 + j->r0 + r) * s->stride_h - s->pad_t
                     + (int64_t) ky * s->dil_h - j->y_r0;
        if (oy < 0 || oy >= j->y_rows)
          continue;
        float *dst = yc + oy * j->ow;
        const float *srow = src + (size_t) r * j->w;
        for (int64_t ix = 0; ix < j->w; ix++) {
          int64_t ox = ix * s->stride_w + off_x;
          if (ox >= 0 && ox < j->ow)
            dst[ox] += srow[ix];
        }
      }
    }
}

void imp_convt_in_rows (const ImpConvTShape *s, int64_t h, int64_t oy0, int64_t oy1,
                        int64_t *iy0, int64_t *iy1)
{
  /* oy = iy * stride_h - pad_t + ky * dil_h for some ky in [0, kh) */
  int64_t lo = oy0 + s->pad_t - (int64_t) (s->kh - 1) * s->dil_h, hi = oy1 - 1 + s->pad_t;
  lo = lo <= 0 ? 0 : (lo + s->stride_h - 1) / s->stride_h;
  hi = hi < 0 ? -1 : hi / s->stride_h;
  *iy0 = IMP_MIN (lo, h);
  *iy1 = IMP_MAX (*iy0, IMP_MIN (hi + 1, h));
}

ImpastoStatus imp_convt_run_rows (const ImpConvT *conv, int h, int w, const float *x, int x_r0,
                                  int x_rows, float *y, int y_r0, int y_rows, ImpPool *pool,
                                  ImpastoError *err)
{
  const ImpConvTShape *s = &conv->s;
  int64_t oh, ow;
  if (!imp_convt_out_size (s, h, w, &oh, &ow))
    return imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: %dx%d input gives an empty output",
                     h, w);
  if ((int64_t) y_rows * ow > INT_MAX || (int64_t) x_rows * w > INT_MAX || x_r0 < 0 || x_rows < 0
      || x_r0 + x_rows > h || y_r0 < 0 || y_rows < 1 || y_r0 + y_rows > oh)
    return imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: %dx%d image too large or rows out "
                     "of range", h, w);
  int rows = (int) IMP_MAX ((int64_t) 1, IMP_MIN ((int64_t) IMP_MAX (x_rows, 1),
                                                  COL_BUDGET_FLOATS / ((int64_t) conv->m * w)));
  size_t n_col;
  if (!imp_mul_size ((size_t) conv->m, (size_t) rows * (size_t) w, &n_col)
      || (size_t) rows * (size_t) w > INT_MAX)
    return imp_fail (err, IMPASTO_E_NOMEM, "conv transpose: col buffer size overflows");
  ConvTJob j = { conv, w, (int) ow, x, x_r0, x_rows, y, y_r0, y_rows, NULL, 0, 0, rows, 0 };
  imp_pool_run (pool, s->out_c, init_task, &j);
  if (x_rows == 0) /* rows no input reaches (output padding): the bias */
    return IMPASTO_OK;
  j.col = imp_alloc (n_col, sizeof (float), "conv transpose col buffer", err);
  if (!j.col)
    return IMPASTO_E_NOMEM;
  int threads = imp_pool_threads (pool);
  j.m_per_task = IMP_MAX (1, (conv->m + 2 * threads - 1) / (2 * threads));
  int gemm_tasks = (conv->m + j.m_per_task - 1) / j.m_per_task;
  for (j.g = 0; j.g < s->group; j.g++)
    for (j.r0 = 0; j.r0 < x_rows; j.r0 += rows) {
      j.rows = IMP_MIN (rows, x_rows - j.r0);
      imp_pool_run (pool, gemm_tasks, gemm_task, &j);
      imp_pool_run (pool, s->out_c / s->group, col2im_task, &j);
    }
  imp_free (j.col);
  return IMPASTO_OK;
}

ImpastoStatus imp_convt_run (const ImpConvT *conv, int h, int w, const float *x, float *y,
                             ImpPool *pool, ImpastoError *err)
{
  int64_t oh, ow;
  if (!imp_convt_out_size (&conv->s, h, w, &oh, &ow))
    return imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: %dx%d input gives an empty output",
                     h, w);
  if (oh > INT_MAX)
    return imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: %dx%d image too large", h, w);
  return imp_convt_run_rows (conv, h, w, x, 0, h, y, 0, (int) oh, pool, err);
}
