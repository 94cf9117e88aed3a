/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_fast_conv.c — times each fast convolution (Winograd F(4x4, 3x3), the direct 9x9 and the
 * direct 3x3 stride-2 conv) against a plain im2col + sgemm conv, at the shapes fast-neural-style
 * runs them.  Not a test: prints milliseconds (median of several runs) and effective GFLOP/s
 * (direct-conv FLOPs: 2 * out_c * in_c * k * k * oh * ow), and how far the two results differ.
 *
 * Usage: bench_fast_conv [threads (default 2)] [runs (default 5)] [size (default 1024)] [cyclegan]
 * (cyclegan: the layers of the CycleGAN ResNet generator at ngf 64 instead of fast-neural-style's)
 * IMPASTO_BENCH_CPU=1: process CPU time / threads instead of wall time (for a loaded machine). */
#include "conv_direct.h"
#include "conv_s2.h"
#include "kernels.h"
#include "pool.h"
#include "util.h"
#include "winograd.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- baseline: im2col of a band of output rows into per-thread scratch, then one sgemm ---- */
typedef struct {
  const ImpConvShape *s;
  int h, w, oh, ow, band;
  const float *x, *wt, *bias;
  float *y, *cols; /* cols: per thread [in_c * k * k, band * ow] */
  int gemm_only;   /* skip the im2col (timing the sgemm alone: a bound for im2col + sgemm) */
} Im2col;

static void im2col_task (void *ctx, int64_t task, int thread)
{
  const Im2col *b = ctx;
  const ImpConvShape *s = b->s;
  const int k = s->kh, kk = k * k;
  int oy0 = (int) task * b->band, rows = IMP_MIN (b->band, b->oh - oy0);
  size_t npix = (size_t) rows * b->ow;
  float *col = b->cols + (size_t) thread * s->in_c * kk * b->band * b->ow;
  for (int c = 0; c < s->in_c && !b->gemm_only; c++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++) {
        float *dst = col + (size_t) ((c * k + ky) * k + kx) * npix;
        for (int r = 0; r < rows; r++) {
          int64_t iy = imp_pad_index ((oy0 + r) * s->stride_h + ky - s->pad_t, b->h, s->pad_mode);
          const float *src = b->x + ((size_t) c * b->h + (iy < 0 ? 0 : iy)) * b->w;
          for (int ox = 0; ox < b->ow; ox++) {
            int64_t ix = imp_pad_index (ox * s->stride_w + kx - s->pad_l, b->w, s->pad_mode);
            dst[(size_t) r * b->ow + ox] = iy < 0 || ix < 0 ? 0.0f : src[ix];
          }
        }
      }
  size_t oplane = (size_t) b->oh * b->ow;
  float *y = b->y + (size_t) oy0 * b->ow;
  for (int o = 0; o < s->out_c; o++)
    for (size_t i = 0; i < npix; i++)
      y[o * oplane + i] = b->bias[o];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, s->out_c, (int) npix, s->in_c * kk,
               1.0f, b->wt, s->in_c * kk, col, (int) npix, 1.0f, y, (int) oplane);
}

/* Wall time, or with IMPASTO_BENCH_CPU set the process CPU time divided by the thread count:
 * on a loaded machine the latter still compares algorithms fairly. */
static int cpu_divisor;
static double now (void)
{
  struct timespec ts;
  clock_gettime (cpu_divisor ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (ts.tv_sec + ts.tv_nsec * 1e-9) / (cpu_divisor ? cpu_divisor : 1);
}

static int cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* ---- the fast convolutions, behind one interface ---- */
typedef struct {
  const char *name;
  void *(*create) (const ImpConvShape *s, const float *w, const float *b, ImpastoError *err);
  ImpastoStatus (*run) (const void *cv, int h, int w, const float *x, float *y, ImpPool *pool,
                        ImpastoError *err);
  void (*destroy) (void *cv);
} Fast;

#define FAST_WRAPPERS(PREFIX, TYPE)                                                                \
  static void *PREFIX##_create (const ImpConvShape *s, const float *w, const float *b,           \
                                ImpastoError *err)                                               \
  {                                                                                               \
    return imp_##PREFIX##_new (s, w, b, err);                                                     \
  }                                                                                               \
  static ImpastoStatus PREFIX##_run (const void *cv, int h, int w, const float *x, float *y,     \
                                     ImpPool *pool, ImpastoError *err)                            \
  {                                                                                               \
    return imp_##PREFIX##_run ((const TYPE *) cv, h, w, x, y, pool, err);                         \
  }                                                                                               \
  static void PREFIX##_destroy (void *cv) { imp_##PREFIX##_free (cv); }
FAST_WRAPPERS (winograd, ImpWinograd)
FAST_WRAPPERS (conv9, ImpConv9)
FAST_WRAPPERS (conv_s2, ImpConvS2)
static const Fast winograd = { "winograd", winograd_create, winograd_run, winograd_destroy };
static const Fast conv9 = { "direct", conv9_create, conv9_run, conv9_destroy };
static const Fast conv_s2 = { "direct s2", conv_s2_create, conv_s2_run, conv_s2_destroy };

static void fail (const ImpastoError *err)
{
  fprintf (stderr, "%s\n", err->message);
  exit (1);
}

/* Median of runs timings of fn over the band tasks (fast == NULL: the baseline). */
static double time_runs (int runs, const Fast *fast, void *cv, Im2col *b, ImpPool *pool)
{
  double t[64];
  ImpastoError err = { 0 };
  for (int r = 0; r < runs; r++) {
    double t0 = now ();
    if (fast) {
      if (fast->run (cv, b->h, b->w, b->x, b->y, pool, &err) != IMPASTO_OK)
        fail (&err);
    } else {
      imp_pool_run (pool, (b->oh + b->band - 1) / b->band, im2col_task, b);
    }
    t[r] = now () - t0;
  }
  qsort (t, (size_t) runs, sizeof *t, cmp_double);
  return t[runs / 2];
}

/* A k x k conv of the given stride, reflect pad (k - 1) / 2, on a size x size input. */
static void bench (const Fast *fast, ImpPool *pool, int runs, int in_c, int out_c, int k, int stride,
                   int size)
{
  int p = (k - 1) / 2;
  ImpConvShape s = { .in_c = in_c, .out_c = out_c, .group = 1, .kh = k, .kw = k,
                     .stride_h = stride, .stride_w = stride, .dil_h = 1, .dil_w = 1, .pad_t = p,
                     .pad_l = p, .pad_b = p, .pad_r = p, .pad_mode = IMP_PAD_REFLECT };
  int h = size, w = size;
  int64_t oh64, ow64;
  imp_conv_out_size (&s, h, w, &oh64, &ow64);
  int oh = (int) oh64, ow = (int) ow64;
  size_t nx = (size_t) in_c * h * w, ny = (size_t) out_c * oh * ow;
  size_t nw = (size_t) out_c * in_c * k * k;
  float *x = malloc (nx * 4), *y = malloc (ny * 4), *y2 = malloc (ny * 4), *wt = malloc (nw * 4);
  float *bias = malloc ((size_t) out_c * 4);
  srand (1);
  for (size_t i = 0; i < nx; i++)
    x[i] = (float) ((double) rand () / RAND_MAX);
  for (size_t i = 0; i < nw; i++)
    wt[i] = (float) ((double) rand () / RAND_MAX - 0.5);
  for (int i = 0; i < out_c; i++)
    bias[i] = 0.1f * i;
  double flops = 2.0 * out_c * in_c * k * k * (double) oh * ow;
  ImpastoError err = { 0 };
  void *cv = fast->create (&s, wt, bias, &err);
  if (!cv)
    fail (&err);

  int band = IMP_MAX (1, 4096 / ow);
  Im2col b = { &s, h, w, oh, ow, band, x, wt, bias, y, NULL, 0 };
  double t_fast = time_runs (runs, fast, cv, &b, pool);
  b.y = y2;
  b.cols = malloc ((size_t) imp_pool_threads (pool) * in_c * k * k * band * ow * 4);
  double t_gemm = time_runs (runs, NULL, NULL, &b, pool);
  b.gemm_only = 1;
  double t_bound = time_runs (runs, NULL, NULL, &b, pool);
  b.gemm_only = 0;
  imp_pool_run (pool, (oh + band - 1) / band, im2col_task, &b); /* y2 valid again */
  double maxdiff = 0, maxval = 0;
  for (size_t i = 0; i < ny; i++) {
    double d = y[i] > y2[i] ? y[i] - y2[i] : y2[i] - y[i];
    maxdiff = d > maxdiff ? d : maxdiff;
    maxval = (y2[i] > maxval ? y2[i] : (-y2[i] > maxval ? -y2[i] : maxval));
  }
  printf ("%dx%d s%d %3d->%3d @ %4dx%-4d  %-9s %8.2f ms %7.1f GFLOP/s | im2col+sgemm %8.2f ms "
          "%7.1f GFLOP/s (sgemm alone %7.2f ms) | speedup %.2fx | max diff %.2g of %.3g\n",
          k, k, stride, in_c, out_c, size, size, fast->name, t_fast * 1e3, flops / t_fast * 1e-9,
          t_gemm * 1e3, flops / t_gemm * 1e-9, t_bound * 1e3, t_gemm / t_fast, maxdiff, maxval);
  fast->destroy (cv);
  free (b.cols);
  free (x);
  free (y);
  free (y2);
  free (wt);
  free (bias);
}

int main (int argc, char **argv)
{
  int threads = argc > 1 ? atoi (argv[1]) : 2;
  int runs = argc > 2 ? atoi (argv[2]) : 5;
  int size = argc > 3 ? atoi (argv[3]) : 1024;
  if (runs < 1 || runs > 64)
    runs = 5;
  if (size < 16)
    size = 1024;
  openblas_set_num_threads (1);
  ImpPool *pool = imp_pool_new (threads);
  if (getenv ("IMPASTO_BENCH_CPU"))
    cpu_divisor = imp_pool_threads (pool);
  printf ("threads %d, median of %d runs, %s\n", imp_pool_threads (pool), runs,
          cpu_divisor ? "CPU time / threads" : "wall time");
  if (argc > 4 && !strcmp (argv[4], "cyclegan")) {
    /* the CycleGAN ResNet generator's layers at ngf 64 (its 3x3 stride-1 convs are all
     * 256 -> 256 at a quarter of the size) */
    bench (&conv9, pool, runs, 3, 64, 7, 1, size);
    bench (&conv_s2, pool, runs, 64, 128, 3, 2, size);
    bench (&conv_s2, pool, runs, 128, 256, 3, 2, size / 2);
    bench (&winograd, pool, runs, 256, 256, 3, 1, size / 4);
    bench (&conv9, pool, runs, 64, 3, 7, 1, size);
    imp_pool_free (pool);
    return 0;
  }
  /* the network's layers at a size x size input */
  bench (&conv9, pool, runs, 3, 32, 9, 1, size);
  bench (&conv_s2, pool, runs, 32, 64, 3, 2, size);
  bench (&conv_s2, pool, runs, 64, 128, 3, 2, size / 2);
  bench (&winograd, pool, runs, 128, 128, 3, 1, size / 4);
  bench (&winograd, pool, runs, 128, 64, 3, 1, size / 2);
  bench (&winograd, pool, runs, 64, 32, 3, 1, size);
  bench (&conv9, pool, runs, 32, 3, 9, 1, size);
  imp_pool_free (pool);
  return 0;
}
