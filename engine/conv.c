/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv.c — 2-D convolution (ONNX Conv): naive oracle and the im2col + sgemm fast path.
 *
 * Fast path.  Per group g the convolution is the matrix product
 *     y_g [M, oh*ow] = W_g [M, K] x col_g [K, oh*ow],   M = out_c / group, K = in_c / group * kh * kw
 * where col_g is the im2col matrix of the input.  The spatial axis (flattened output pixels) is cut
 * into chunks so that one chunk of col ([K, n]) stays around L2 size; every pool task builds the
 * im2col of one chunk in its thread's scratch buffer (the padding mode is applied inside the
 * gather, so a fused Pad costs nothing) and multiplies straight into y with ldc = oh*ow.
 * 1x1 stride-1 unpadded convolutions skip im2col: col_g is x_g itself.
 *
 * Few output channels (the final 9x9 32->3 conv of style networks): sgemm with M = 3 runs at a
 * fraction of its speed and im2col writes kh*kw copies of the input.  There the kx axis is folded
 * into M instead ("kx-folded" path): for one output row and a range of columns,
 *     Yp [(oc, kx), j] = sum_(ci, ky) W[oc, ci, ky, kx] * xpad[ci, oy*sh + ky*dh, j]
 * is one sgemm with M' = out_c * kw, K' = in_c * kh on a col that is just kh shifted input rows
 * per channel; then y[oc, oy, ox] = bias + sum_kx Yp[(oc, kx), ox*sw + kx*dw].
 * OpenBLAS runs single-threaded; the parallelism comes from the pool. */
#include "kernels.h"
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "conv_direct.h"
#include "conv_s2.h"
#include "winograd.h"

/* Declared here on purpose (not every cblas.h has it); it exists in libopenblas. */
void openblas_set_num_threads (int);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread (void)
{
  openblas_set_num_threads (1);
}

/* Floats of im2col scratch per thread (512 KiB, half the L2 of one core: the packed sgemm panels
 * need the rest; 64K..256K measured within noise of each other). */
#define COL_BUDGET_FLOATS (128 * 1024)
#define COL_MIN_CHUNK 512
/* kx-folded path: used up to this many output channels (M' = out_c * kw), scratch budget. */
#define FOLD_MAX_OUT_C 8
#define FOLD_BUDGET_FLOATS (64 * 1024)

struct ImpConv {
  ImpConvShape s;
  int k;          /* K = in_c / group * kh * kw */
  const float *weight; /* [out_c, K]: group g owns rows [g*M, (g+1)*M); own_weight or borrowed */
  float *own_weight;
  float *bias;    /* [out_c] or NULL */
  bool direct;    /* 1x1, stride 1, no padding: sgemm on x directly */
  float *wfold;   /* kx-folded path: [out_c * kw, in_c * kh], or NULL when not used */
  ImpWinograd *wg; /* 3x3 stride-1 convs (winograd.c), NULL otherwise */
  ImpConv9 *c9;   /* skinny 9x9 convs (conv_direct.c), NULL otherwise */
  ImpConvS2 *s2;  /* 3x3 stride-2 convs (conv_s2.c), NULL otherwise */
};

/* ------------------------------------------------------------------------------------------- */
/* Oracle: the ONNX formula, accumulated in double.  Reflect/edge padding reads the input through
 * imp_pad_index, exactly as if Pad had produced the padded image first. */
void imp_conv2d_ref (const ImpConvShape *s, int h, int w, const float *x, const float *weight,
                     const float *bias, float *y)
{
  int64_t oh, ow;
  if (!imp_conv_out_size (s, h, w, &oh, &ow))
    return;
  int cin_g = s->in_c / s->group, cout_g = s->out_c / s->group;
  for (int g = 0; g < s->group; g++)
    for (int m = 0; m < cout_g; m++) {
      int oc = g * cout_g + m;
      for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
          double acc = bias ? bias[oc] : 0.0;
          for (int ci = 0; ci < cin_g; ci++)
            for (int ky = 0; ky < s->kh; ky++)
              for (int kx = 0; kx < s->kw; kx++) {
                int64_t iy = imp_pad_index (oy * s->stride_h - s->pad_t + (int64_t) ky * s->dil_h,
                                            h, s->pad_mode);
                int64_t ix = imp_pad_index (ox * s->stride_w - s->pad_l + (int64_t) kx * s->dil_w,
                                            w, s->pad_mode);
                if (iy < 0 || ix < 0)
                  continue; /* zero padding */
                float xv = x[((int64_t) (g * cin_g + ci) * h + iy) * w + ix];
                float wv = weight[(((int64_t) oc * cin_g + ci) * s->kh + ky) * s->kw + kx];
                acc += (double) xv * wv;
              }
          y[((int64_t) oc * oh + oy) * ow + ox] = (float) acc;
        }
    }
}

/* ------------------------------------------------------------------------------------------- */
ImpConv *imp_conv_new (const ImpConvShape *s, const float *weight, const float *bias,
                       ImpastoError *err)
{
  return imp_conv_new_borrowed (s, weight, bias, false, err);
}

ImpConv *imp_conv_new_borrowed (const ImpConvShape *s, const float *weight, const float *bias,
                                bool borrow, ImpastoError *err)
{
  if (!s || !weight) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "conv: missing shape or weight");
    return NULL;
  }
  if (!imp_conv_shape_valid (s)) {
    imp_fail (err, IMPASTO_E_SHAPE,
              "conv: invalid shape (in_c %d, out_c %d, group %d, kernel %dx%d, stride %dx%d, "
              "dilation %dx%d, pads %d,%d,%d,%d)", s->in_c, s->out_c, s->group, s->kh, s->kw,
              s->stride_h, s->stride_w, s->dil_h, s->dil_w, s->pad_t, s->pad_l, s->pad_b,
              s->pad_r);
    return NULL;
  }
  size_t k, n_weight;
  if (!imp_mul_size ((size_t) (s->in_c / s->group), (size_t) s->kh, &k)
      || !imp_mul_size (k, (size_t) s->kw, &k) || k > INT_MAX
      || !imp_mul_size (k, (size_t) s->out_c, &n_weight)) {
    imp_fail (err, IMPASTO_E_SHAPE, "conv: kernel %dx%dx%d too large", s->in_c / s->group,
              s->kh, s->kw);
    return NULL;
  }
  pthread_once (&blas_once, blas_single_thread);

  ImpConv *conv = imp_alloc0 (1, sizeof *conv, "conv", err);
  if (!conv)
    return NULL;
  conv->s = *s;
  conv->k = (int) k;
  if (bias) {
    conv->bias = imp_alloc ((size_t) s->out_c, sizeof (float), "conv bias", err);
    if (!conv->bias)
      goto fail;
    memcpy (conv->bias, bias, (size_t) s->out_c * sizeof (float));
  }
  conv->direct = s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1
                 && s->pad_t == 0 && s->pad_l == 0 && s->pad_b == 0 && s->pad_r == 0;

  /* ---- fast paths: 3x3 stride-1 convs to engine/winograd.c, skinny 9x9 ones to
   * engine/conv_direct.c, 3x3 stride-2 ones to engine/conv_s2.c.  When one cannot be prepared the
   * im2col path, which handles every shape, is used. */
  if (imp_winograd_eligible (s)) {
    ImpastoError wg_err;
    conv->wg = imp_winograd_new (s, weight, bias, &wg_err);
  }
  /* skinny 9x9 convs (3 -> 32, 32 -> 3): direct convolution; im2col stays the fallback */
  if (imp_conv9_eligible (s)) {
    ImpastoError c9_err;
    conv->c9 = imp_conv9_new (s, weight, bias, &c9_err);
  }
  if (imp_conv_s2_eligible (s)) {
    ImpastoError s2_err;
    conv->s2 = imp_conv_s2_new (s, weight, bias, &s2_err);
  }
  /* The im2col path's weights, only when no fast path took the conv (they pack their own: a
   * copy of every ResNet-block weight of CycleGAN ngf 64 was 42 MB for nothing).  ONNX weight
   * [out_c, in_c/group, kh, kw] is already row-major W_g [M, K] per group, which the im2col path
   * multiplies; a borrowed weight (the model's constant, which outlives its convs) is not copied
   * at all: on pix2pix ngf 64 the copies were 78 MB of fresh pages at every load. */
  if (!conv->wg && !conv->c9 && !conv->s2) {
    if (borrow) {
      conv->weight = weight;
    } else {
      conv->own_weight = imp_alloc (n_weight, sizeof (float), "conv weight", err);
      if (!conv->own_weight)
        goto fail;
      memcpy (conv->own_weight, weight, n_weight * sizeof (float));
      conv->weight = conv->own_weight;
    }
    if (!conv->direct && s->group == 1 && s->kw > 1 && s->out_c <= FOLD_MAX_OUT_C) {
      /* W [oc, ci, ky, kx] -> Wf [(oc, kx), (ci, ky)] */
      conv->wfold = imp_alloc (n_weight, sizeof (float), "conv folded weight", err);
      if (!conv->wfold)
        goto fail;
      for (int oc = 0; oc < s->out_c; oc++)
        for (int ci = 0; ci < s->in_c; ci++)
          for (int ky = 0; ky < s->kh; ky++)
            for (int kx = 0; kx < s->kw; kx++)
              conv->wfold[((size_t) oc * s->kw + kx) * (size_t) (s->in_c * s->kh)
                          + (size_t) ci * s->kh + ky]
                  = weight[(((size_t) oc * s->in_c + ci) * s->kh + ky) * s->kw + kx];
    }
  }
  return conv;

fail:
  imp_conv_free (conv);
  return NULL;
}

void imp_conv_free (ImpConv *conv)
{
  if (!conv)
    return;
  imp_winograd_free (conv->wg);
  imp_conv9_free (conv->c9);
  imp_conv_s2_free (conv->s2);
  imp_free (conv->own_weight);
  imp_free (conv->wfold);
  imp_free (conv->bias);
  imp_free (conv);
}

const ImpConvShape *imp_conv_shape (const ImpConv *conv)
{
  return &conv->s;
}

/* ------------------------------------------------------------------------------------------- */
typedef struct {
  const ImpConv *conv;
  int h, w, oh, ow;
  const float *x;
  float *y;
  int64_t chunk;     /* output pixels per task */
  int64_t n_chunks;  /* per group */
  int m_split, m_per; /* output channels of a group cut into m_split tasks of m_per */
  float *scratch;    /* per thread: [K * chunk] im2col buffer (NULL for direct); folded path:
                        [K' * cw] col then [M' * cw] Yp */
  int64_t per_thread; /* floats of scratch per thread */
} ConvJob;

/* One row segment of im2col: dst[i] = row[ox*sw + off] for ox in [ox0, ox0 + n), with the pad
 * mode applied to out-of-range columns. */
static void gather_row (const float *row, int w, int64_t ox0, int64_t n, int64_t off, int sw,
                        ImpPadMode mode, float *dst)
{
  /* interior: 0 <= ox*sw + off < w  <=>  lo <= ox < hi */
  int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  int64_t hi = (w - 1 - off) < 0 ? 0 : (w - 1 - off) / sw + 1;
  int64_t end = ox0 + n;
  lo = IMP_MIN (IMP_MAX (lo, ox0), end);
  hi = IMP_MIN (IMP_MAX (hi, lo), end);
  int64_t i = 0, ox = ox0;
  for (; ox < lo; ox++, i++) {
    int64_t ix = imp_pad_index (ox * sw + off, w, mode);
    dst[i] = ix < 0 ? 0.0f : row[ix];
  }
  if (sw == 1) {
    memcpy (dst + i, row + ox + off, (size_t) (hi - ox) * sizeof *dst);
    i += hi - ox;
    ox = hi;
  } else {
    for (; ox < hi; ox++, i++)
      dst[i] = row[ox * sw + off];
  }
  for (; ox < end; ox++, i++) {
    int64_t ix = imp_pad_index (ox * sw + off, w, mode);
    dst[i] = ix < 0 ? 0.0f : row[ix];
  }
}

/* col [K, n] for output pixels [p0, p0 + n) of one group.  xg [in_c/group, h, w]. */
static void im2col_chunk (const ImpConvShape *s, int h, int w, int ow, const float *xg,
                          int64_t p0, int64_t n, float *col)
{
  int cin_g = s->in_c / s->group;
  size_t plane = (size_t) h * (size_t) w;
  for (int ci = 0; ci < cin_g; ci++)
    for (int ky = 0; ky < s->kh; ky++)
      for (int kx = 0; kx < s->kw; kx++) {
        const float *xc = xg + (size_t) ci * plane;
        int64_t off_x = (int64_t) kx * s->dil_w - s->pad_l;
        for (int64_t p = p0; p < p0 + n;) {
          int64_t oy = p / ow, ox0 = p % ow;
          int64_t seg = IMP_MIN (ow - ox0, p0 + n - p);
          int64_t iy = imp_pad_index (oy * s->stride_h - s->pad_t + (int64_t) ky * s->dil_h, h,
                                      s->pad_mode);
          if (iy < 0)
            memset (col, 0, (size_t) seg * sizeof *col);
          else
            gather_row (xc + iy * w, w, ox0, seg, off_x, s->stride_w, s->pad_mode, col);
          col += seg;
          p += seg;
        }
      }
}

static void conv_task (void *ctx, int64_t task, int thread)
{
  const ConvJob *j = ctx;
  const ImpConv *conv = j->conv;
  const ImpConvShape *s = &conv->s;
  const int64_t ms = task % j->m_split;
  task /= j->m_split;
  int64_t g = task / j->n_chunks, c = task % j->n_chunks;
  int64_t ohw = (int64_t) j->oh * j->ow;
  int64_t p0 = c * j->chunk, n = IMP_MIN (j->chunk, ohw - p0);
  int m_g = s->out_c / s->group, cin_g = s->in_c / s->group;
  int m0 = (int) ms * j->m_per, m = IMP_MIN (j->m_per, m_g - m0); /* rows [m0, m0 + m) */
  if (m <= 0)
    return;
  const float *xg = j->x + (size_t) g * cin_g * (size_t) j->h * (size_t) j->w;
  float *yg = j->y + ((size_t) g * m_g + (size_t) m0) * (size_t) ohw + p0; /* [m, n], ldc = ohw */
  const float *wg = conv->weight + ((size_t) g * m_g + (size_t) m0) * (size_t) conv->k;

  const float *b;
  int ldb;
  if (conv->direct) {
    b = xg + p0; /* x_g [cin_g, h*w] is col_g */
    ldb = (int) ohw;
  } else {
    float *col = j->scratch + (size_t) thread * (size_t) j->per_thread;
    im2col_chunk (s, j->h, j->w, j->ow, xg, p0, n, col);
    b = col;
    ldb = (int) n;
  }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, (int) n, conv->k, 1.0f, wg,
               conv->k, b, ldb, 0.0f, yg, (int) ohw);
  if (conv->bias) {
    const float *bias = conv->bias + (size_t) g * m_g + m0;
    for (int i = 0; i < m; i++) {
      float *row = yg + (size_t) i * (size_t) ohw;
      for (int64_t p = 0; p < n; p++)
        row[p] += bias[i];
    }
  }
}

/* Columns of padded input that n consecutive outputs of one row read. */
static int64_t fold_width (const ImpConvShape *s, int64_t n)
{
  return (n - 1) * s->stride_w + (int64_t) (s->kw - 1) * s->dil_w + 1;
}

/* kx-folded path: task = (output row, chunk of columns). */
static void fold_task (void *ctx, int64_t task, int thread)
{
  const ConvJob *j = ctx;
  const ImpConv *conv = j->conv;
  const ImpConvShape *s = &conv->s;
  int64_t oy = task / j->n_chunks, ox0 = (task % j->n_chunks) * j->chunk;
  int64_t n = IMP_MIN (j->chunk, j->ow - ox0);
  int64_t cw = fold_width (s, n);
  int kf = s->in_c * s->kh, mf = s->out_c * s->kw;
  float *col = j->scratch + (size_t) thread * (size_t) j->per_thread; /* [K', cw] */
  float *yp = col + (size_t) kf * (size_t) cw;                         /* [M', cw] */
  size_t plane = (size_t) j->h * (size_t) j->w;
  int64_t off = ox0 * s->stride_w - s->pad_l; /* input column of col column 0 */

  float *dst = col;
  for (int ci = 0; ci < s->in_c; ci++)
    for (int ky = 0; ky < s->kh; ky++, dst += cw) {
      int64_t iy = imp_pad_index (oy * s->stride_h - s->pad_t + (int64_t) ky * s->dil_h, j->h,
                                  s->pad_mode);
      if (iy < 0)
        memset (dst, 0, (size_t) cw * sizeof *dst);
      else
        gather_row (j->x + ci * plane + (size_t) iy * j->w, j->w, 0, cw, off, 1, s->pad_mode,
                    dst);
    }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, mf, (int) cw, kf, 1.0f, conv->wfold,
               kf, col, (int) cw, 0.0f, yp, (int) cw);
  size_t ohw = (size_t) j->oh * (size_t) j->ow;
  for (int oc = 0; oc < s->out_c; oc++) {
    float *yrow = j->y + oc * ohw + (size_t) oy * j->ow + ox0;
    float b = conv->bias ? conv->bias[oc] : 0.0f;
    for (int64_t i = 0; i < n; i++)
      yrow[i] = b;
    for (int kx = 0; kx < s->kw; kx++) {
      const float *src = yp + ((size_t) oc * s->kw + kx) * (size_t) cw + (size_t) kx * s->dil_w;
      if (s->stride_w == 1)
        for (int64_t i = 0; i < n; i++)
          yrow[i] += src[i];
      else
        for (int64_t i = 0; i < n; i++)
          yrow[i] += src[i * s->stride_w];
    }
  }
}

/* Chunking and scratch of the kx-folded path. */
static ImpastoStatus fold_run (ConvJob *j, ImpPool *pool, ImpastoError *err)
{
  const ImpConvShape *s = &j->conv->s;
  int64_t rows = (int64_t) s->in_c * s->kh + (int64_t) s->out_c * s->kw; /* K' + M' */
  int64_t cw_max = FOLD_BUDGET_FLOATS / rows;
  int64_t n = (cw_max - (int64_t) (s->kw - 1) * s->dil_w - 1) / s->stride_w + 1;
  n = IMP_MIN (IMP_MAX (n, (int64_t) 16), (int64_t) j->ow);
  j->chunk = n;
  j->n_chunks = (j->ow + n - 1) / n;
  int64_t cw = fold_width (s, n);
  if (cw > INT_MAX)
    return imp_fail (err, IMPASTO_E_SHAPE, "conv: kernel too wide");
  size_t per_thread, total;
  if (!imp_mul_size ((size_t) rows, (size_t) cw, &per_thread)
      || !imp_mul_size (per_thread, (size_t) imp_pool_threads (pool), &total))
    return imp_fail (err, IMPASTO_E_NOMEM, "conv: scratch size overflows");
  j->per_thread = (int64_t) per_thread;
  j->scratch = imp_alloc (total, sizeof (float), "conv folded scratch", err);
  if (!j->scratch)
    return IMPASTO_E_NOMEM;
  imp_pool_run (pool, (int64_t) j->oh * j->n_chunks, fold_task, j);
  imp_free (j->scratch);
  return IMPASTO_OK;
}

ImpastoStatus imp_conv_run_gather (const ImpConv *conv, int h, int w, const ImpGather *g,
                                   float *y, ImpPool *pool, ImpastoError *err)
{
  if (conv && conv->wg)
    return imp_winograd_run_gather (conv->wg, h, w, g, y, pool, err);
  (void) conv, (void) h, (void) w, (void) g, (void) y, (void) pool, (void) err;
  return IMPASTO_E_UNSUPPORTED;
}

static ImpastoStatus conv_run (const ImpConv *conv, int h, int w, const float *x, float *y,
                               double *sums, bool *have, ImpPool *pool, ImpastoError *err);

ImpastoStatus imp_conv_run (const ImpConv *conv, int h, int w, const float *x, float *y,
                            ImpPool *pool, ImpastoError *err)
{
  bool have;
  return conv_run (conv, h, w, x, y, NULL, &have, pool, err);
}

ImpastoStatus imp_conv_run_sums (const ImpConv *conv, int h, int w, const float *x, float *y,
                                 double *sums, bool *have, ImpPool *pool, ImpastoError *err)
{
  return conv_run (conv, h, w, x, y, sums, have, pool, err);
}

static ImpastoStatus conv_run (const ImpConv *conv, int h, int w, const float *x, float *y,
                               double *sums, bool *have, ImpPool *pool, ImpastoError *err)
{
  *have = false;
  const ImpConvShape *s = &conv->s;
  int64_t oh, ow;
  if (!imp_conv_out_size (s, h, w, &oh, &ow))
    return imp_fail (err, IMPASTO_E_SHAPE, "conv: %dx%d input gives an empty output", h, w);
  if (s->pad_mode == IMP_PAD_REFLECT
      && (s->pad_t >= h || s->pad_b >= h || s->pad_l >= w || s->pad_r >= w))
    return imp_fail (err, IMPASTO_E_SHAPE,
                     "conv: reflect pads %d,%d,%d,%d need a larger input than %dx%d", s->pad_t,
                     s->pad_l, s->pad_b, s->pad_r, h, w);
  int64_t ohw = oh * ow;
  if (ohw > INT_MAX || (int64_t) h * w > INT_MAX)
    return imp_fail (err, IMPASTO_E_SHAPE, "conv: %dx%d image too large", h, w);

  if (conv->wg && sums) {
    *have = true;
    return imp_winograd_run_sums (conv->wg, h, w, x, y, sums, pool, err);
  }
  if (conv->wg)
    return imp_winograd_run (conv->wg, h, w, x, y, pool, err);
  if (conv->c9)
    return imp_conv9_run (conv->c9, h, w, x, y, pool, err);
  if (conv->s2)
    return imp_conv_s2_run (conv->s2, h, w, x, y, pool, err);

  int threads = imp_pool_threads (pool);
  ConvJob j = { .conv = conv, .h = h, .w = w, .oh = (int) oh, .ow = (int) ow, .x = x, .y = y,
                .m_split = 1, .m_per = s->out_c / s->group };
  if (conv->wfold)
    return fold_run (&j, pool, err);
  if (conv->direct) {
    j.chunk = 4096;
  } else {
    /* one chunk of col [K, chunk] ≈ COL_BUDGET_FLOATS, multiple of 16, but at least
     * COL_MIN_CHUNK pixels: every sgemm call packs its [M, K] weights again, which at 64
     * pixels (K = 4096: pix2pix's 256 -> 512 4x4 conv) cost as much as the product */
    j.chunk = IMP_MAX ((int64_t) COL_MIN_CHUNK, (COL_BUDGET_FLOATS / conv->k) / 16 * 16);
  }
  /* enough tasks to keep every thread busy on small images: first cut the output channels
   * (each part packs only its rows of the weights), then the pixels */
  int64_t want_tasks = 4 * (int64_t) threads;
  int m_g = s->out_c / s->group;
  j.m_split = 1;
  while (s->group * ((ohw + j.chunk - 1) / j.chunk) * j.m_split < want_tasks
         && m_g / (2 * j.m_split) >= 64)
    j.m_split *= 2;
  j.m_per = (m_g + j.m_split - 1) / j.m_split;
  if (s->group * ((ohw + j.chunk - 1) / j.chunk) * j.m_split < want_tasks) {
    int64_t per_group = (want_tasks + s->group * j.m_split - 1) / (s->group * j.m_split);
    j.chunk = IMP_MAX ((int64_t) 16, ((ohw + per_group - 1) / per_group + 15) / 16 * 16);
  }
  j.chunk = IMP_MIN (j.chunk, ohw);
  j.n_chunks = (ohw + j.chunk - 1) / j.chunk;

  if (!conv->direct) {
    size_t per_thread, total;
    if (!imp_mul_size ((size_t) conv->k, (size_t) j.chunk, &per_thread)
        || !imp_mul_size (per_thread, (size_t) threads, &total))
      return imp_fail (err, IMPASTO_E_NOMEM, "conv: im2col scratch size overflows");
    j.per_thread = (int64_t) per_thread;
    j.scratch = imp_alloc (total, sizeof (float), "conv im2col scratch", err);
    if (!j.scratch)
      return IMPASTO_E_NOMEM;
  }
  imp_pool_run (pool, s->group * j.n_chunks * j.m_split, conv_task, &j);
  imp_free (j.scratch);
  return IMPASTO_OK;
}
