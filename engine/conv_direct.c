/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_direct.c — direct 9x9 convolution for skinny convs; see conv_direct.h.
 *
 * Work split: a task is a band of CD_ROWS output rows x a segment of output columns.  It copies
 * the (CD_ROWS + 8) input rows x (segment + 8) columns it needs, all channels, into a padded
 * per-thread buffer (applying the pad mode), then for every output row, output-channel block and
 * chunk of CHUNK = 8 * PV pixels accumulates OB x PV vectors of 8 outputs in registers over all
 * (c, ky, kx).  Weights are packed [oc block][c][ky][kx][OB] so the broadcasts are sequential.
 *
 * Two register shapes per instruction set: OB = 4 output channels (many output channels, e.g.
 * 3 -> 32) and OB = 3 (out_c <= 3, e.g. 32 -> 3).  AVX2 keeps 12 accumulators in its 16 ymm
 * registers (4 x 3 and 3 x 4 vectors of 8); AVX-512 keeps 24 in its 32 zmm registers (4 x 6 and
 * 3 x 8 vectors of 16), so each broadcast weight and each loaded input vector feeds more FMAs.
 * The widest kernel the CPU has is picked at run time; a plain C kernel with the same loop
 * structure is the portable fallback. */
#include "conv_direct.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define CD_X86 1
#include <immintrin.h>
#else
#define CD_X86 0
#endif

#define CD_KMAX 9    /* kernels 7x7 (CycleGAN's first and last) and 9x9 (fast-neural-style) */
#define CD_ROWS 16     /* output rows per task */
#define CD_SEG 256     /* output columns per task, at most; halved for in_c > 8 (cache) */
#define CD_CHUNK_MAX 128 /* pixels per register block, at most (AVX-512, 8 vectors of 16) */

/* One output row, one output-channel block, chunks of pixels [0, width) (width rounded up to
 * whole chunks; the padded buffer is wide enough).
 *   in:  padded input at the row's first tap, channel stride cs, row stride rs
 *   w:   [ic][k * k][OB] packed weights of the block, bias [OB]
 *   out: [OB][out_stride] */
typedef void (*Conv9RowFunc) (const float *in, size_t rs, size_t cs, int ic, const float *w,
                              const float *bias, int width, float *out, size_t out_stride);

struct ImpConv9 {
  ImpConvShape shape;
  int k;            /* kernel edge: 7 or 9 */
  int ob;           /* register block: output channels ... */
  int chunk;        /* ... x pixels (vectors x lanes) */
  int n_blocks;     /* output-channel blocks */
  float *w;         /* [n_blocks][in_c][k * k][ob] */
  float *bias;      /* [n_blocks * ob] */
  Conv9RowFunc row;
};

bool imp_conv9_eligible (const ImpConvShape *s)
{
  return s && (s->kh == 7 || s->kh == 9) && imp_conv_fast_shape (s, s->kh, 1, s->kh - 1)
         && (s->in_c <= 4 || s->out_c <= 4);
}

/* ------------------------------------------------------------------------------------------- */
/* Row kernels.                                                                                 */

/* Portable: same blocking, plain loops (gcc vectorises the pixel loop). */
static inline __attribute__ ((always_inline)) void
row_generic (const int K, const int OB, const int PV, const float *in, size_t rs, size_t cs, int ic,
             const float *w, const float *bias, int width, float *out, size_t out_stride)
{
  const int chunk = 8 * PV;
  for (int x0 = 0; x0 < width; x0 += chunk) {
    float acc[4][32];
    for (int o = 0; o < OB; o++)
      for (int p = 0; p < chunk; p++)
        acc[o][p] = bias[o];
    for (int c = 0; c < ic; c++)
      for (int ky = 0; ky < K; ky++) {
        const float *r = in + c * cs + ky * rs + x0;
        const float *wk = w + ((size_t) c * K * K + ky * K) * OB;
        for (int kx = 0; kx < K; kx++)
          for (int o = 0; o < OB; o++)
            for (int p = 0; p < chunk; p++)
              acc[o][p] += wk[kx * OB + o] * r[kx + p];
      }
    for (int o = 0; o < OB; o++)
      memcpy (out + o * out_stride + x0, acc[o], (size_t) chunk * sizeof (float));
  }
}

#define CD_ROW(attr, base, K, OB, PV)                                                          \
  attr static void base##_##K##_##OB##x##PV (const float *in, size_t rs, size_t cs, int ic,        \
                                             const float *w, const float *bias, int width,         \
                                             float *out, size_t out_stride)                        \
  {                                                                                                \
    base (K, OB, PV, in, rs, cs, ic, w, bias, width, out, out_stride);                             \
  }

CD_ROW (, row_generic, 9, 4, 3)
CD_ROW (, row_generic, 9, 3, 4)
CD_ROW (, row_generic, 7, 4, 3)
CD_ROW (, row_generic, 7, 3, 4)

#if CD_X86
__attribute__ ((target ("avx2,fma"), always_inline)) static inline void
row_avx2 (const int K, const int OB, const int PV, const float *in, size_t rs, size_t cs, int ic,
          const float *w, const float *bias, int width, float *out, size_t out_stride)
{
  const int chunk = 8 * PV;
  for (int x0 = 0; x0 < width; x0 += chunk) {
    __m256 acc[4][4];
#pragma GCC unroll 4
    for (int o = 0; o < OB; o++)
#pragma GCC unroll 4
      for (int p = 0; p < PV; p++)
        acc[o][p] = _mm256_broadcast_ss (bias + o);
    for (int c = 0; c < ic; c++)
      for (int ky = 0; ky < K; ky++) {
        const float *r = in + c * cs + ky * rs + x0;
        const float *wk = w + ((size_t) c * K * K + ky * K) * OB;
        for (int kx = 0; kx < K; kx++, wk += OB) {
          __m256 xv[4];
#pragma GCC unroll 4
          for (int p = 0; p < PV; p++)
            xv[p] = _mm256_loadu_ps (r + kx + 8 * p);
#pragma GCC unroll 4
          for (int o = 0; o < OB; o++) {
            const __m256 wv = _mm256_broadcast_ss (wk + o);
#pragma GCC unroll 4
            for (int p = 0; p < PV; p++)
              acc[o][p] = _mm256_fmadd_ps (wv, xv[p], acc[o][p]);
          }
        }
      }
#pragma GCC unroll 4
    for (int o = 0; o < OB; o++)
#pragma GCC unroll 4
      for (int p = 0; p < PV; p++)
        _mm256_storeu_ps (out + o * out_stride + x0 + 8 * p, acc[o][p]);
  }
}

CD_ROW (__attribute__ ((target ("avx2,fma"))), row_avx2, 9, 4, 3)
CD_ROW (__attribute__ ((target ("avx2,fma"))), row_avx2, 9, 3, 4)
CD_ROW (__attribute__ ((target ("avx2,fma"))), row_avx2, 7, 4, 3)
CD_ROW (__attribute__ ((target ("avx2,fma"))), row_avx2, 7, 3, 4)

/* The same loops with vectors of 16 pixels. */
__attribute__ ((target ("avx512f"), always_inline)) static inline void
row_avx512 (const int K, const int OB, const int PV, const float *in, size_t rs, size_t cs, int ic,
            const float *w, const float *bias, int width, float *out, size_t out_stride)
{
  const int chunk = 16 * PV;
  for (int x0 = 0; x0 < width; x0 += chunk) {
    __m512 acc[4][8];
#pragma GCC unroll 4
    for (int o = 0; o < OB; o++)
#pragma GCC unroll 8
      for (int p = 0; p < PV; p++)
        acc[o][p] = _mm512_set1_ps (bias[o]);
    for (int c = 0; c < ic; c++)
      for (int ky = 0; ky < K; ky++) {
        const float *r = in + c * cs + ky * rs + x0;
        const float *wk = w + ((size_t) c * K * K + ky * K) * OB;
        for (int kx = 0; kx < K; kx++, wk += OB) {
          __m512 wv[4];
#pragma GCC unroll 4
          for (int o = 0; o < OB; o++)
            wv[o] = _mm512_set1_ps (wk[o]);
#pragma GCC unroll 8
          for (int p = 0; p < PV; p++) {
            const __m512 xv = _mm512_loadu_ps (r + kx + 16 * p);
#pragma GCC unroll 4
            for (int o = 0; o < OB; o++)
              acc[o][p] = _mm512_fmadd_ps (wv[o], xv, acc[o][p]);
          }
        }
      }
#pragma GCC unroll 4
    for (int o = 0; o < OB; o++)
#pragma GCC unroll 8
      for (int p = 0; p < PV; p++)
        _mm512_storeu_ps (out + o * out_stride + x0 + 16 * p, acc[o][p]);
  }
}

CD_ROW (__attribute__ ((target ("avx512f"))), row_avx512, 9, 4, 6)
CD_ROW (__attribute__ ((target ("avx512f"))), row_avx512, 9, 3, 8)
CD_ROW (__attribute__ ((target ("avx512f"))), row_avx512, 7, 4, 6)
CD_ROW (__attribute__ ((target ("avx512f"))), row_avx512, 7, 3, 8)
#endif

/* The row kernel for blocks of ob output channels and its pixels per block.
 * IMPASTO_CONV9_ISA=c or =avx2 caps the choice (tests check every kernel on one machine). */
static Conv9RowFunc pick_row (int k, int ob, int *chunk)
{
  bool nine = k == 9, four = ob == 4;
  switch (imp_isa ("IMPASTO_CONV9_ISA")) {
#if CD_X86
  case IMP_ISA_AVX512:
    *chunk = four ? 16 * 6 : 16 * 8;
    return nine ? (four ? row_avx512_9_4x6 : row_avx512_9_3x8)
                : (four ? row_avx512_7_4x6 : row_avx512_7_3x8);
  case IMP_ISA_AVX2:
    *chunk = four ? 8 * 3 : 8 * 4;
    return nine ? (four ? row_avx2_9_4x3 : row_avx2_9_3x4) : (four ? row_avx2_7_4x3 : row_avx2_7_3x4);
#endif
  default:
    *chunk = four ? 8 * 3 : 8 * 4;
    return nine ? (four ? row_generic_9_4x3 : row_generic_9_3x4)
                : (four ? row_generic_7_4x3 : row_generic_7_3x4);
  }
}

/* ------------------------------------------------------------------------------------------- */

ImpConv9 *imp_conv9_new (const ImpConvShape *s, const float *weight, const float *bias,
                         ImpastoError *err)
{
  if (!imp_conv9_eligible (s)) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "conv9: conv shape is not a skinny 9x9 or 7x7 stride-1 "
              "group-1 conv with pads 0..k-1");
    return NULL;
  }
  if (!weight) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "conv9: no weights");
    return NULL;
  }
  ImpConv9 *cv = imp_alloc0 (1, sizeof *cv, "conv9", err);
  if (!cv)
    return NULL;
  cv->shape = *s;
  cv->k = s->kh;
  cv->ob = s->out_c <= 3 ? 3 : 4;
  cv->n_blocks = (s->out_c + cv->ob - 1) / cv->ob;
  cv->row = pick_row (cv->k, cv->ob, &cv->chunk);
  if (!imp_conv_pack_oc_blocks (weight, bias, s->out_c, s->in_c, cv->k * cv->k, cv->ob, &cv->w,
                                &cv->bias, err)) {
    imp_conv9_free (cv);
    return NULL;
  }
  return cv;
}

void imp_conv9_free (ImpConv9 *cv)
{
  if (!cv)
    return;
  imp_free (cv->w);
  imp_free (cv->bias);
  imp_free (cv);
}

typedef struct {
  const ImpConv9 *cv;
  int h, w, oh, ow;
  int seg, n_segs;           /* output columns per segment, segments per band */
  size_t buf_rs, buf_cs;     /* padded buffer: row stride, channel stride (floats) */
  size_t scratch_floats;     /* per thread: padded buffer + output rows */
  const float *x;
  float *y;
  float *scratch;
} Conv9Run;

static int pad_map9 (int i, int n, int lo, int hi, ImpPadMode mode)
{
  if (i < -lo || i >= n + hi)
    return -1; /* beyond the padded extent: only read for discarded outputs */
  return (int) imp_pad_index (i, n, mode);
}

static void conv9_task (void *ctx, int64_t task, int thread)
{
  const Conv9Run *run = ctx;
  const ImpConv9 *cv = run->cv;
  const ImpConvShape *s = &cv->shape;
  const int band = (int) (task / run->n_segs), sg = (int) (task % run->n_segs);
  const int oy0 = band * CD_ROWS, ox0 = sg * run->seg;
  const int rows = IMP_MIN (CD_ROWS, run->oh - oy0), cols = IMP_MIN (run->seg, run->ow - ox0);
  float *buf = run->scratch + (size_t) thread * run->scratch_floats; /* [ic][rows + k - 1][buf_rs] */
  float *obuf = buf + (size_t) s->in_c * run->buf_cs;                 /* [ob][seg] */

  /* padded input window: rows oy0 - pad_t .., columns ox0 - pad_l .. + buf_rs.  Columns
   * [j0, j1) are inside the image and copied as a block; the others go through the pad map. */
  int colmap[CD_SEG + CD_CHUNK_MAX + CD_KMAX - 1]; /* seg <= CD_SEG rounded up to a chunk */
  const int nb = (int) run->buf_rs, xs = ox0 - s->pad_l;
  for (int j = 0; j < nb; j++)
    colmap[j] = pad_map9 (xs + j, run->w, s->pad_l, s->pad_r, s->pad_mode);
  const int j0 = IMP_MIN (IMP_MAX (0, -xs), nb), j1 = IMP_MAX (j0, IMP_MIN (nb, run->w - xs));
  const size_t plane = (size_t) run->h * run->w;
  for (int c = 0; c < s->in_c; c++)
    for (int r = 0; r < rows + cv->k - 1; r++) {
      float *dst = buf + c * run->buf_cs + r * run->buf_rs;
      int iy = pad_map9 (oy0 + r - s->pad_t, run->h, s->pad_t, s->pad_b, s->pad_mode);
      if (iy < 0) {
        memset (dst, 0, run->buf_rs * sizeof (float));
        continue;
      }
      const float *src = run->x + c * plane + (size_t) iy * run->w;
      for (int j = 0; j < j0; j++)
        dst[j] = colmap[j] < 0 ? 0.0f : src[colmap[j]];
      memcpy (dst + j0, src + xs + j0, (size_t) (j1 - j0) * sizeof (float));
      for (int j = j1; j < nb; j++)
        dst[j] = colmap[j] < 0 ? 0.0f : src[colmap[j]];
    }

  const size_t oplane = (size_t) run->oh * run->ow;
  for (int r = 0; r < rows; r++)
    for (int b = 0; b < cv->n_blocks; b++) {
      cv->row (buf + r * run->buf_rs, run->buf_rs, run->buf_cs, s->in_c,
               cv->w + (size_t) b * s->in_c * cv->k * cv->k * cv->ob, cv->bias + b * cv->ob, cols, obuf,
               (size_t) run->seg);
      for (int o = 0; o < cv->ob && b * cv->ob + o < s->out_c; o++)
        memcpy (run->y + (size_t) (b * cv->ob + o) * oplane + (size_t) (oy0 + r) * run->ow + ox0,
                obuf + (size_t) o * run->seg, (size_t) cols * sizeof (float));
    }
}

ImpastoStatus imp_conv9_run (const ImpConv9 *cv, int h, int w, const float *x, float *y,
                             ImpPool *pool, ImpastoError *err)
{
  Conv9Run run = { .cv = cv, .h = h, .w = w, .x = x, .y = y };
  ImpastoStatus st = imp_conv_fast_check ("conv9", cv ? &cv->shape : NULL, cv && x && y, h, w,
                                          &run.oh, &run.ow, err);
  if (st)
    return st;
  const ImpConvShape *s = &cv->shape;
  const int chunk = cv->chunk;
  const int seg_max = s->in_c > 8 ? CD_SEG / 2 : CD_SEG;
  int n = (run.ow + seg_max - 1) / seg_max; /* balance the segments, whole chunks each */
  run.seg = ((run.ow + n - 1) / n + chunk - 1) / chunk * chunk;
  run.n_segs = (run.ow + run.seg - 1) / run.seg;
  run.buf_rs = (size_t) run.seg + cv->k - 1;
  run.buf_cs = run.buf_rs * (CD_ROWS + cv->k - 1);
  const int threads = imp_pool_threads (pool);
  size_t in_part, all;
  if (!imp_mul_size ((size_t) s->in_c, run.buf_cs, &in_part)
      || !imp_mul_size (in_part + (size_t) cv->ob * run.seg, (size_t) threads, &all))
    return imp_fail (err, IMPASTO_E_NOMEM, "conv9: scratch size overflows");
  run.scratch_floats = in_part + (size_t) cv->ob * run.seg;
  run.scratch = imp_alloc (all, sizeof (float), "conv9 scratch", err);
  if (!run.scratch)
    return err ? err->code : IMPASTO_E_NOMEM;
  int64_t n_tasks = (int64_t) ((run.oh + CD_ROWS - 1) / CD_ROWS) * run.n_segs;
  imp_pool_run (pool, n_tasks, conv9_task, &run);
  imp_free (run.scratch);
  return IMPASTO_OK;
}
