/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_s2.c — direct 3x3 stride-2 convolution; see conv_s2.h.
 *
 * Work split: a task is S2_ROWS output rows x a segment of output columns.  Its input window
 * (2 * S2_ROWS + 1 rows x 2 * seg + 2 columns, every channel, pads applied) is copied into a
 * per-thread buffer as two planes per row: even columns (seg + 1 of them) and odd columns (seg).
 * For output pixel x of the segment, taps kx = 0, 1, 2 are even[x], odd[x], even[x + 1].
 * Weights are packed [oc block][c][ky][kx][OB] so the broadcasts are sequential. */
#include "conv_s2.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define S2_X86 1
#include <immintrin.h>
#else
#define S2_X86 0
#endif

#define S2_OB 4          /* output channels per register block */
#define S2_ROWS 4        /* output rows per task */
#define S2_SEG 192       /* output columns per task, at most (halved for in_c > 32: cache) */
#define S2_CHUNK_MAX 96  /* pixels per register block, at most */

/* One output row, one block of S2_OB output channels, pixels [0, width) in chunks (width
 * rounded up to whole chunks; the buffer is wide enough).
 *   even: the even-column plane of the row's first tap row (channel 0); odd = even + half;
 *   rs: floats from one window row to the next, cs: from one channel to the next
 *   w: [ic][3][3][S2_OB], bias [S2_OB]; out: [S2_OB][out_stride] */
typedef void (*S2RowFunc) (const float *even, size_t half, size_t rs, size_t cs, int ic,
                           const float *w, const float *bias, int width, float *out,
                           size_t out_stride);

struct ImpConvS2 {
  ImpConvShape shape;
  int chunk;        /* pixels per register block of the chosen kernel */
  int n_blocks;     /* output-channel blocks */
  float *w;         /* [n_blocks][in_c][9][S2_OB] */
  float *bias;      /* [n_blocks * S2_OB] */
  S2RowFunc row;
};

bool imp_conv_s2_eligible (const ImpConvShape *s)
{
  return imp_conv_fast_shape (s, 3, 2, 2);
}

/* ------------------------------------------------------------------------------------------- */
/* Row kernels.                                                                                 */

/* Portable: the same blocking with 3 "vectors" of 8 pixels (gcc vectorises the pixel loops). */
static void row_generic (const float *even, size_t half, size_t rs, size_t cs, int ic,
                         const float *w, const float *bias, int width, float *out,
                         size_t out_stride)
{
  enum { CHUNK = 24 };
  for (int x0 = 0; x0 < width; x0 += CHUNK) {
    float acc[S2_OB][CHUNK];
    for (int o = 0; o < S2_OB; o++)
      for (int p = 0; p < CHUNK; p++)
        acc[o][p] = bias[o];
    for (int c = 0; c < ic; c++)
      for (int ky = 0; ky < 3; ky++) {
        const float *e = even + c * cs + ky * rs + x0, *od = e + half;
        const float *wk = w + ((size_t) c * 9 + ky * 3) * S2_OB;
        for (int o = 0; o < S2_OB; o++)
          for (int p = 0; p < CHUNK; p++)
            acc[o][p] += wk[o] * e[p] + wk[S2_OB + o] * od[p] + wk[2 * S2_OB + o] * e[p + 1];
      }
    for (int o = 0; o < S2_OB; o++)
      memcpy (out + o * out_stride + x0, acc[o], sizeof acc[o]);
  }
}

#if S2_X86
/* The vector kernels: PV vectors of L lanes per output channel. */
#define S2_KERNEL(NAME, TARGET, VEC, L, PV, SET1, LOADU, FMADD, STOREU)                             \
  __attribute__ ((target (TARGET))) static void                                                     \
  NAME (const float *even, size_t half, size_t rs, size_t cs, int ic, const float *w,               \
        const float *bias, int width, float *out, size_t out_stride)                                \
  {                                                                                                 \
    for (int x0 = 0; x0 < width; x0 += (L) * (PV)) {                                                \
      VEC acc[S2_OB][PV];                                                                           \
      _Pragma ("GCC unroll 4") for (int o = 0; o < S2_OB; o++)                                      \
        _Pragma ("GCC unroll 8") for (int p = 0; p < (PV); p++) acc[o][p] = SET1 (bias[o]);         \
      for (int c = 0; c < ic; c++)                                                                  \
        for (int ky = 0; ky < 3; ky++) {                                                            \
          const float *e = even + c * cs + ky * rs + x0, *od = e + half;                            \
          const float *wk = w + ((size_t) c * 9 + ky * 3) * S2_OB;                                  \
          _Pragma ("GCC unroll 3") for (int kx = 0; kx < 3; kx++) {                                 \
            const float *src = kx == 1 ? od : e + (kx == 2);                                        \
            VEC wv[S2_OB];                                                                          \
            _Pragma ("GCC unroll 4") for (int o = 0; o < S2_OB; o++) wv[o] = SET1 (wk[kx * S2_OB + o]); \
            _Pragma ("GCC unroll 8") for (int p = 0; p < (PV); p++) {                               \
              const VEC xv = LOADU (src + (L) * p);                                                 \
              _Pragma ("GCC unroll 4") for (int o = 0; o < S2_OB; o++)                              \
                acc[o][p] = FMADD (wv[o], xv, acc[o][p]);                                           \
            }                                                                                       \
          }                                                                                         \
        }                                                                                           \
      _Pragma ("GCC unroll 4") for (int o = 0; o < S2_OB; o++)                                      \
        _Pragma ("GCC unroll 8") for (int p = 0; p < (PV); p++)                                     \
          STOREU (out + o * out_stride + x0 + (L) * p, acc[o][p]);                                  \
    }                                                                                               \
  }

S2_KERNEL (row_avx2, "avx2,fma", __m256, 8, 3, _mm256_set1_ps, _mm256_loadu_ps, _mm256_fmadd_ps,
           _mm256_storeu_ps)
S2_KERNEL (row_avx512, "avx512f", __m512, 16, 6, _mm512_set1_ps, _mm512_loadu_ps,
           _mm512_fmadd_ps, _mm512_storeu_ps)
#endif

/* The widest kernel this CPU runs and its chunk.  IMPASTO_CONV_S2_ISA=c or =avx2 caps the choice
 * (tests check every kernel on one machine). */
static S2RowFunc pick_row (int *chunk)
{
  switch (imp_isa ("IMPASTO_CONV_S2_ISA")) {
#if S2_X86
  case IMP_ISA_AVX512:
    *chunk = 96;
    return row_avx512;
  case IMP_ISA_AVX2:
    *chunk = 24;
    return row_avx2;
#endif
  default:
    *chunk = 24;
    return row_generic;
  }
}

/* ------------------------------------------------------------------------------------------- */

ImpConvS2 *imp_conv_s2_new (const ImpConvShape *s, const float *weight, const float *bias,
                            ImpastoError *err)
{
  if (!imp_conv_s2_eligible (s)) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "conv_s2: not a 3x3 stride-2 group-1 conv with pads 0..2");
    return NULL;
  }
  if (!weight) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "conv_s2: no weights");
    return NULL;
  }
  ImpConvS2 *cv = imp_alloc0 (1, sizeof *cv, "conv_s2", err);
  if (!cv)
    return NULL;
  cv->shape = *s;
  cv->n_blocks = (s->out_c + S2_OB - 1) / S2_OB;
  cv->row = pick_row (&cv->chunk);
  if (!imp_conv_pack_oc_blocks (weight, bias, s->out_c, s->in_c, 9, S2_OB, &cv->w, &cv->bias,
                                err)) {
    imp_conv_s2_free (cv);
    return NULL;
  }
  return cv;
}

void imp_conv_s2_free (ImpConvS2 *cv)
{
  if (!cv)
    return;
  imp_free (cv->w);
  imp_free (cv->bias);
  imp_free (cv);
}

typedef struct {
  const ImpConvS2 *cv;
  int h, w, oh, ow;
  int seg, n_segs;           /* output columns per segment, segments per row band */
  size_t half;               /* floats of one column plane (even, then odd) */
  size_t rs, cs;             /* buffer: row stride (2 planes), channel stride */
  size_t scratch_floats;     /* per thread: window buffer + output block */
  const float *x;
  float *y;
  float *scratch;
  int *colmaps;              /* per thread: 2 * seg + 2 source columns */
  void (*deinterleave) (const float *src, float *even, float *odd, int n);
} S2Run;

static int pad_map (int i, int n, int lo, int hi, ImpPadMode mode)
{
  if (i < -lo || i >= n + hi)
    return -1; /* beyond the padded extent: only read for discarded outputs */
  return (int) imp_pad_index (i, n, mode);
}

/* even[k] = src[2k], odd[k] = src[2k + 1] for k < n. */
static void deinterleave_plain (const float *src, float *even, float *odd, int n)
{
  for (int k = 0; k < n; k++) {
    even[k] = src[2 * k];
    odd[k] = src[2 * k + 1];
  }
}

#if S2_X86
__attribute__ ((target ("avx512f"))) static void
deinterleave_avx512 (const float *src, float *even, float *odd, int n)
{
  const __m512i ie = _mm512_setr_epi32 (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32 (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    const __m512 a = _mm512_loadu_ps (src + 2 * k), b = _mm512_loadu_ps (src + 2 * k + 16);
    _mm512_storeu_ps (even + k, _mm512_permutex2var_ps (a, ie, b));
    _mm512_storeu_ps (odd + k, _mm512_permutex2var_ps (a, io, b));
  }
  deinterleave_plain (src + 2 * k, even + k, odd + k, n - k);
}
#endif

typedef void (*DeinterleaveFunc) (const float *src, float *even, float *odd, int n);

static DeinterleaveFunc pick_deinterleave (void)
{
#if S2_X86
  if (imp_isa ("IMPASTO_CONV_S2_ISA") == IMP_ISA_AVX512)
    return deinterleave_avx512;
#endif
  return deinterleave_plain;
}

/* Copies the task's input window: rows oy0 * 2 - pad_t .., columns ox0 * 2 - pad_l .., split into
 * the even and odd column planes of every row.  Column pairs inside the image are copied
 * straight (the bulk); those at the image edges go through the pad map. */
static void fill_window (const S2Run *run, int oy0, int rows, int ox0, float *buf, int *colmap)
{
  const ImpConvShape *s = &run->cv->shape;
  const int xs = 2 * ox0 - s->pad_l, n_pairs = run->seg + 1;
  for (int j = 0; j < 2 * n_pairs; j++)
    colmap[j] = pad_map (xs + j, run->w, s->pad_l, s->pad_r, s->pad_mode);
  /* pairs [k0, k1) lie inside the image: columns xs + 2k and xs + 2k + 1 both in [0, w) */
  int k0 = xs >= 0 ? 0 : (-xs + 1) / 2;
  int k1 = (run->w - xs) / 2;
  k0 = IMP_MIN (k0, n_pairs);
  k1 = IMP_MAX (k0, IMP_MIN (k1, n_pairs));
  const size_t plane = (size_t) run->h * (size_t) run->w;
  for (int c = 0; c < s->in_c; c++)
    for (int r = 0; r < 2 * rows + 1; r++) {
      float *even = buf + (size_t) c * run->cs + (size_t) r * run->rs, *odd = even + run->half;
      int iy = pad_map (2 * oy0 - s->pad_t + r, run->h, s->pad_t, s->pad_b, s->pad_mode);
      if (iy < 0) {
        memset (even, 0, 2 * run->half * sizeof (float));
        continue;
      }
      const float *src = run->x + (size_t) c * plane + (size_t) iy * run->w;
      for (int k = 0; k < k0; k++) {
        even[k] = colmap[2 * k] < 0 ? 0.0f : src[colmap[2 * k]];
        odd[k] = colmap[2 * k + 1] < 0 ? 0.0f : src[colmap[2 * k + 1]];
      }
      run->deinterleave (src + xs + 2 * k0, even + k0, odd + k0, k1 - k0);
      for (int k = k1; k < n_pairs; k++) {
        even[k] = colmap[2 * k] < 0 ? 0.0f : src[colmap[2 * k]];
        odd[k] = colmap[2 * k + 1] < 0 ? 0.0f : src[colmap[2 * k + 1]];
      }
    }
}

static void s2_task (void *ctx, int64_t task, int thread)
{
  const S2Run *run = ctx;
  const ImpConvS2 *cv = run->cv;
  const ImpConvShape *s = &cv->shape;
  const int band = (int) (task / run->n_segs), sg = (int) (task % run->n_segs);
  const int oy0 = band * S2_ROWS, ox0 = sg * run->seg;
  const int rows = IMP_MIN (S2_ROWS, run->oh - oy0), cols = IMP_MIN (run->seg, run->ow - ox0);
  float *buf = run->scratch + (size_t) thread * run->scratch_floats; /* [ic][2 rows + 1][2][half] */
  float *obuf = buf + (size_t) s->in_c * run->cs;                    /* [S2_OB][seg] */
  fill_window (run, oy0, rows, ox0, buf, run->colmaps + (size_t) thread * (2 * run->seg + 2));

  const size_t oplane = (size_t) run->oh * (size_t) run->ow;
  for (int r = 0; r < rows; r++)
    for (int b = 0; b < cv->n_blocks; b++) {
      cv->row (buf + (size_t) (2 * r) * run->rs, run->half, run->rs, run->cs, s->in_c,
               cv->w + (size_t) b * s->in_c * 9 * S2_OB, cv->bias + b * S2_OB, cols, obuf,
               (size_t) run->seg);
      for (int o = 0; o < S2_OB && b * S2_OB + o < s->out_c; o++)
        memcpy (run->y + (size_t) (b * S2_OB + o) * oplane + (size_t) (oy0 + r) * run->ow + ox0,
                obuf + (size_t) o * run->seg, (size_t) cols * sizeof (float));
    }
}

ImpastoStatus imp_conv_s2_run (const ImpConvS2 *cv, int h, int w, const float *x, float *y,
                               ImpPool *pool, ImpastoError *err)
{
  S2Run run = { .cv = cv, .h = h, .w = w, .x = x, .y = y };
  ImpastoStatus st = imp_conv_fast_check ("conv_s2", cv ? &cv->shape : NULL, cv && x && y, h, w,
                                          &run.oh, &run.ow, err);
  if (st)
    return st;
  const ImpConvShape *s = &cv->shape;
  run.deinterleave = pick_deinterleave ();
  const int chunk = cv->chunk;
  const int seg_max = s->in_c > 32 ? S2_SEG / 2 : S2_SEG;
  int n = (run.ow + seg_max - 1) / seg_max; /* balance the segments, whole chunks each */
  run.seg = ((run.ow + n - 1) / n + chunk - 1) / chunk * chunk;
  run.n_segs = (run.ow + run.seg - 1) / run.seg;
  run.half = (size_t) run.seg + 16; /* even[x + 1] for x < seg, and a cache line apart */
  run.rs = 2 * run.half;
  run.cs = run.rs * (2 * S2_ROWS + 1);
  const int threads = imp_pool_threads (pool);
  size_t in_part, all, maps;
  if (!imp_mul_size ((size_t) s->in_c, run.cs, &in_part)
      || !imp_mul_size (in_part + (size_t) S2_OB * run.seg, (size_t) threads, &all)
      || !imp_mul_size ((size_t) threads, 2 * (size_t) run.seg + 2, &maps)
      || all > SIZE_MAX / sizeof (float) - maps)
    return imp_fail (err, IMPASTO_E_NOMEM, "conv_s2: scratch size overflows");
  run.scratch_floats = in_part + (size_t) S2_OB * run.seg;
  run.scratch = imp_alloc (all + maps, sizeof (float), "conv_s2 scratch", err);
  if (!run.scratch)
    return err ? err->code : IMPASTO_E_NOMEM;
  run.colmaps = (int *) (run.scratch + all); /* int and float are both 4 bytes */
  int64_t n_tasks = (int64_t) ((run.oh + S2_ROWS - 1) / S2_ROWS) * run.n_segs;
  imp_pool_run (pool, n_tasks, s2_task, &run);
  imp_free (run.scratch);
  return IMPASTO_OK;
}
