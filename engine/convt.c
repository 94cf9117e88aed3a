/* SPDX-License-Identifier: GPL-3.0-or-later */
/* convt.c — 2-D transposed convolution (ONNX ConvTranspose): oracle and sgemm + col2im.
 *
 * Fast path, per group g and block of input rows:
 *     col [M = out_c/group * kh * kw, n] = W_g^T [M, cin_g] x x_g [cin_g, n]
 * (ONNX weight [in_c, out_c/group, kh, kw] is W_g [cin_g, M] row-major, so sgemm reads it
 * transposed), then col2im scatters col into y.  The sgemm is split across the pool by rows of
 * col, the scatter by output channel, so tasks never write the same memory.
 *
 * Phase path (4x4 kernel, stride 2, pads 1, group 1: pix2pix's up convolutions).  Output pixel
 * (2i + py, 2j + px) receives only kernel rows ky of parity 1 - py and columns of parity 1 - px:
 * each of the 4 output phases is a 2x2 convolution of the input,
 *     Y_p [out_c, (i, j)] = sum over taps t = (a, b) of W_pt [out_c, in_c] x X [in_c, (i + dy_a, j + dx_b)]
 * with (ky, dy) = (1, 0), (3, -1) for py = 0 and (0, +1), (2, 0) for py = 1 (the same for x).
 * A task copies a block of input rows with a zero border into xp [in_c, rows + 2, w + 2] (the
 * parts of a fused Concat one after another, a fused Relu applied on the way); in that padded
 * plane every tap is the same flat range shifted by dy * (w + 2) + dx, so each tap is one sgemm
 * straight on xp (ldb = the plane) accumulating into C [out_c, rows * (w + 2)] (the border
 * columns are computed and dropped), and the two x phases of a row are interleaved into y with
 * the bias.  No col buffer of 16 * out_c rows, no scatter-add: the col path wrote and re-read 16x
 * the output (1.1 GB for the 64-channel 512x512 layer of pix2pix ngf 64). */
#include "kernels.h"
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
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
/* Phase path: kernel row (column) and input offset of tap a of output parity py (see the top). */
static const int phase_k[2][2] = { { 1, 3 }, { 0, 2 } };
static const int phase_d[2][2] = { { 0, -1 }, { 1, 0 } };

bool imp_convt_phase_eligible (const ImpConvTShape *s)
{
  return shape_valid (s) && s->group == 1 && s->kh == 4 && s->kw == 4 && s->stride_h == 2
         && s->stride_w == 2 && s->dil_h == 1 && s->dil_w == 1 && s->pad_t == 1 && s->pad_l == 1
         && s->pad_b == 1 && s->pad_r == 1 && s->out_pad_h == 0 && s->out_pad_w == 0;
}

struct ImpConvT {
  ImpConvTShape s;
  float *wp;     /* phase path: [4 phases][4 taps][out_c][in_c], or NULL */
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
  /* IMPASTO_CONVT_COL=1: the col path for every shape (to compare the two) */
  if (imp_convt_phase_eligible (s) && !getenv ("IMPASTO_CONVT_COL")) {
    /* W [ic, oc, ky, kx] -> wp [p = py*2 + px][t = a*2 + b][oc][ic], a transpose done in blocks
     * of 16 input channels: 16 sequential read streams, whole 64-byte lines written (element by
     * element it was 12% of a pix2pix ngf 64 load, a cache miss per float) */
    conv->wp = imp_alloc (n_weight, sizeof (float), "conv transpose phase weights", err);
    if (!conv->wp)
      goto fail;
    size_t dst_of[16]; /* tap k = ky * 4 + kx -> its (p, t) block */
    for (int p = 0; p < 4; p++)
      for (int t = 0; t < 4; t++)
        dst_of[phase_k[p >> 1][t >> 1] * 4 + phase_k[p & 1][t & 1]]
            = (size_t) (p * 4 + t) * (size_t) s->out_c * (size_t) s->in_c;
    for (int ic0 = 0; ic0 < s->in_c; ic0 += 16) {
      int ic1 = IMP_MIN (s->in_c, ic0 + 16);
      for (int oc = 0; oc < s->out_c; oc++)
        for (int k = 0; k < 16; k++) {
          float *dst = conv->wp + dst_of[k] + (size_t) oc * s->in_c;
          for (int ic = ic0; ic < ic1; ic++)
            dst[ic] = weight[((size_t) ic * s->out_c + oc) * 16 + k];
        }
    }
  }
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
  imp_free (conv->wp);
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


/* ---- phase path ---------------------------------------------------------------------------- */

typedef struct {
  const ImpConvT *conv;
  int w, w2;            /* input width, padded row (w + 2) */
  int n_parts;
  const float *const *xs; /* parts [c_k, x_rows, w] each: input rows x_r0 .. x_r0 + x_rows - 1 */
  const int *cs;
  bool relu;
  int x_r0, x_rows;
  float *y;             /* [out_c, y_rows, 2w]: output rows y_r0 .. */
  int y_r0, y_rows;
  int i_begin;          /* first input-row index i (output rows 2i, 2i + 1) */
  int ib, n_row_blocks; /* i per task, blocks */
  int m_split, m_per;   /* output channels split in m_split tasks of m_per */
  size_t plane;         /* floats of one xp channel: (ib + 2) * w2 + 2 */
  size_t per_thread;    /* scratch floats per thread: xp, then C for px = 0 and 1 */
  float *scratch;
} PhaseJob;

/* xp [in_c, plane]: input rows i0 - 1 .. i0 + rows, zero outside the image / the given rows and
 * in the border columns; one float of zero before and after each plane's rows. */
static void phase_fill (const PhaseJob *j, int i0, int rows, float *xp)
{
  const int r_n = rows + 2;
  int c0 = 0;
  for (int k = 0; k < j->n_parts; k++) {
    for (int c = 0; c < j->cs[k]; c++) {
      float *pl = xp + (size_t) (c0 + c) * j->plane;
      pl[0] = 0.0f;
      pl[1 + (size_t) r_n * j->w2] = 0.0f;
      for (int r = 0; r < r_n; r++) {
        float *dst = pl + 1 + (size_t) r * j->w2;
        int iy = i0 - 1 + r - j->x_r0;
        if (iy < 0 || iy >= j->x_rows) {
          memset (dst, 0, (size_t) j->w2 * sizeof (float));
          continue;
        }
        const float *src = j->xs[k] + ((size_t) c * j->x_rows + (size_t) iy) * (size_t) j->w;
        dst[0] = 0.0f;
        if (j->relu)
          for (int x = 0; x < j->w; x++)
            dst[1 + x] = src[x] > 0.0f ? src[x] : 0.0f;
        else
          memcpy (dst + 1, src, (size_t) j->w * sizeof (float));
        dst[j->w + 1] = 0.0f;
      }
    }
    c0 += j->cs[k];
  }
}

static void phase_task (void *ctx, int64_t task, int thread)
{
  const PhaseJob *j = ctx;
  const ImpConvT *conv = j->conv;
  const ImpConvTShape *s = &conv->s;
  const int blk = (int) (task / j->m_split), ms = (int) (task % j->m_split);
  const int i_end = j->i_begin + (j->y_rows + 1 + (j->y_r0 & 1)) / 2; /* exclusive */
  const int i0 = j->i_begin + blk * j->ib, rows = IMP_MIN (j->ib, i_end - i0);
  const int m0 = ms * j->m_per, mr = IMP_MIN (j->m_per, s->out_c - m0);
  if (rows <= 0 || mr <= 0)
    return;
  float *xp = j->scratch + (size_t) thread * j->per_thread;  /* [in_c, plane] */
  const size_t n = (size_t) rows * (size_t) j->w2;
  float *cbuf[2] = { xp + (size_t) s->in_c * j->plane, NULL }; /* [mr, n] each */
  cbuf[1] = cbuf[0] + (size_t) j->m_per * n;
  phase_fill (j, i0, rows, xp);
  const int ow = 2 * j->w;
  for (int py = 0; py < 2; py++) {
    for (int px = 0; px < 2; px++) {
      int p = py * 2 + px;
      for (int t = 0; t < 4; t++) {
        int dy = phase_d[py][t >> 1], dx = phase_d[px][t & 1];
        const float *a = conv->wp + ((size_t) (p * 4 + t) * (size_t) s->out_c + (size_t) m0)
                                        * (size_t) s->in_c;
        const float *b = xp + 1 + (ptrdiff_t) (1 + dy) * j->w2 + dx; /* [in_c, n], ldb = plane */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, mr, (int) n, s->in_c, 1.0f, a,
                     s->in_c, b, (int) j->plane, t ? 1.0f : 0.0f, cbuf[px], (int) n);
      }
    }
    for (int r = 0; r < rows; r++) {
      int oy = 2 * (i0 + r) + py - j->y_r0;
      if (oy < 0 || oy >= j->y_rows)
        continue;
      for (int m = 0; m < mr; m++) {
        const float *e = cbuf[0] + (size_t) m * n + (size_t) r * j->w2 + 1;
        const float *o = cbuf[1] + (size_t) m * n + (size_t) r * j->w2 + 1;
        float bias = conv->bias ? conv->bias[m0 + m] : 0.0f;
        float *dst = j->y + ((size_t) (m0 + m) * (size_t) j->y_rows + (size_t) oy) * (size_t) ow;
        for (int x = 0; x < j->w; x++) {
          dst[2 * x] = e[x] + bias;
          dst[2 * x + 1] = o[x] + bias;
        }
      }
    }
  }
}

/* Output rows [y_r0, y_r0 + y_rows) of the phase path from the parts' rows [x_r0, x_r0 + x_rows)
 * (which must hold every input row those output rows read). */
static ImpastoStatus phase_run (const ImpConvT *conv, int w, int n_parts, const float *const *xs,
                                const int *cs, bool relu, int x_r0, int x_rows, float *y,
                                int y_r0, int y_rows, ImpPool *pool, ImpastoError *err)
{
  const ImpConvTShape *s = &conv->s;
  PhaseJob j = { .conv = conv, .w = w, .w2 = w + 2, .n_parts = n_parts, .xs = xs, .cs = cs,
                 .relu = relu, .x_r0 = x_r0, .x_rows = x_rows, .y = y, .y_r0 = y_r0,
                 .y_rows = y_rows };
  j.i_begin = y_r0 / 2;
  const int n_i = (y_rows + 1 + (y_r0 & 1)) / 2;
  /* about 2048 columns of C per sgemm: long enough to amortise packing the weights */
  int ib = IMP_MAX (1, IMP_MIN (n_i, 2048 / j.w2));
  int nb = (n_i + ib - 1) / ib;
  const int threads = imp_pool_threads (pool);
  nb = IMP_MAX (nb, IMP_MIN (n_i, 2 * threads)); /* balance: re-cut into at least 2 per thread */
  ib = (n_i + nb - 1) / nb;
  j.ib = ib;
  j.n_row_blocks = (n_i + ib - 1) / ib;
  /* few row blocks (the deep, small layers): split the output channels too */
  j.m_split = 1;
  while (j.n_row_blocks * j.m_split < 2 * threads && s->out_c / (2 * j.m_split) >= 16)
    j.m_split *= 2;
  j.m_per = (s->out_c + j.m_split - 1) / j.m_split;
  size_t n = (size_t) ib * (size_t) j.w2, xp_floats, c_floats, all;
  j.plane = (size_t) (ib + 2) * (size_t) j.w2 + 2;
  if (j.plane > INT_MAX || n > INT_MAX
      || !imp_mul_size ((size_t) s->in_c, j.plane, &xp_floats)
      || !imp_mul_size (2 * (size_t) j.m_per, n, &c_floats) || xp_floats > SIZE_MAX - c_floats
      || !imp_mul_size (xp_floats + c_floats, (size_t) threads, &all))
    return imp_fail (err, IMPASTO_E_NOMEM, "conv transpose: scratch size overflows");
  j.per_thread = xp_floats + c_floats;
  j.scratch = imp_alloc (all, sizeof (float), "conv transpose scratch", err);
  if (!j.scratch)
    return IMPASTO_E_NOMEM;
  imp_pool_run (pool, (int64_t) j.n_row_blocks * j.m_split, phase_task, &j);
  imp_free (j.scratch);
  return IMPASTO_OK;
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
  if (conv->wp) {
    const float *xs[1] = { x };
    const int cs[1] = { s->in_c };
    return phase_run (conv, w, 1, xs, cs, false, x_r0, x_rows, y, y_r0, y_rows, pool, err);
  }
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

ImpastoStatus imp_convt_run_parts (const ImpConvT *conv, int h, int w, int n_parts,
                                   const float *const *xs, const int *cs, bool relu, float *y,
                                   ImpPool *pool, ImpastoError *err)
{
  const ImpConvTShape *s = &conv->s;
  int64_t oh, ow;
  int total = 0;
  for (int k = 0; k < n_parts; k++)
    total += cs[k] > 0 ? cs[k] : -s->in_c - 1;
  if (n_parts < 1 || total != s->in_c)
    return imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: the inputs' channels do not add up "
                     "to %d", s->in_c);
  if (!imp_convt_out_size (s, h, w, &oh, &ow))
    return imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: %dx%d input gives an empty output",
                     h, w);
  if (oh > INT_MAX || (int64_t) oh * ow > INT_MAX || (int64_t) h * w > INT_MAX)
    return imp_fail (err, IMPASTO_E_SHAPE, "conv transpose: %dx%d image too large", h, w);
  if (conv->wp)
    return phase_run (conv, w, n_parts, xs, cs, relu, 0, h, y, 0, (int) oh, pool, err);
  if (n_parts == 1 && !relu)
    return imp_convt_run (conv, h, w, xs[0], y, pool, err);
  /* the col path reads one input: the parts joined, the Relu applied */
  size_t plane = (size_t) h * (size_t) w, n;
  if (!imp_mul_size (plane, (size_t) s->in_c, &n))
    return imp_fail (err, IMPASTO_E_NOMEM, "conv transpose: input size overflows");
  float *x = imp_alloc (n, sizeof (float), "conv transpose input", err); /* [in_c, h, w] */
  if (!x)
    return IMPASTO_E_NOMEM;
  float *dst = x;
  for (int k = 0; k < n_parts; k++) {
    size_t c = (size_t) cs[k] * plane;
    for (size_t i = 0; i < c; i++)
      dst[i] = relu && xs[k][i] < 0.0f ? 0.0f : xs[k][i];
    dst += c;
  }
  ImpastoStatus st = imp_convt_run (conv, h, w, x, y, pool, err);
  imp_free (x);
  return st;
}
