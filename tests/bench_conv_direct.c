/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_conv_direct.c — times the direct 9x9 conv against im2col + sgemm on the two 9x9 convs of
 * fast-neural-style at 1024x1024 (3 -> 32 and 32 -> 3, reflect pad 4).  Not a test: prints
 * milliseconds (median of several runs) and effective GFLOP/s (2 * out_c * in_c * 81 * oh * ow).
 *
 * Usage: bench_conv_direct [threads (default 2)] [runs (default 5)] [size (default 1024)]
 * IMPASTO_BENCH_CPU=1: process CPU time / threads instead of wall time (for a loaded machine). */
#include "conv_direct.h"
#include "kernels.h"
#include "pool.h"
#include "util.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* baseline: im2col of a band of output rows into per-thread scratch, then one sgemm per band */
typedef struct {
  const ImpConvShape *s;
  int h, w, oh, ow, band;
  const float *x, *wt, *bias;
  float *y, *cols;
  int gemm_only; /* skip the im2col (timing the sgemm alone: a bound for im2col + sgemm) */
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
          int64_t iy = imp_pad_index (oy0 + r + ky - s->pad_t, b->h, s->pad_mode);
          const float *src = b->x + ((size_t) c * b->h + (iy < 0 ? 0 : iy)) * b->w;
          for (int ox = 0; ox < b->ow; ox++) {
            int64_t ix = imp_pad_index (ox + kx - s->pad_l, b->w, s->pad_mode);
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

static void bench (ImpPool *pool, int runs, int in_c, int out_c, int size)
{
  ImpConvShape s = { .in_c = in_c, .out_c = out_c, .group = 1, .kh = 9, .kw = 9, .stride_h = 1,
                     .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = 4, .pad_l = 4, .pad_b = 4,
                     .pad_r = 4, .pad_mode = IMP_PAD_REFLECT };
  int h = size, w = size, oh = size, ow = size;
  size_t nx = (size_t) in_c * h * w, ny = (size_t) out_c * oh * ow, nw = (size_t) out_c * in_c * 81;
  float *x = malloc (nx * 4), *y = malloc (ny * 4), *y2 = malloc (ny * 4), *wt = malloc (nw * 4);
  float *bias = malloc ((size_t) out_c * 4);
  srand (1);
  for (size_t i = 0; i < nx; i++)
    x[i] = (float) rand () / RAND_MAX;
  for (size_t i = 0; i < nw; i++)
    wt[i] = (float) rand () / RAND_MAX - 0.5f;
  for (int i = 0; i < out_c; i++)
    bias[i] = 0.1f * i;
  double flops = 2.0 * out_c * in_c * 81 * (double) oh * ow;
  ImpastoError err = { 0 };
  ImpConv9 *cv = imp_conv9_new (&s, wt, bias, &err);
  if (!cv) {
    fprintf (stderr, "%s\n", err.message);
    exit (1);
  }
  double t[64];
  for (int r = 0; r < runs; r++) {
    double t0 = now ();
    if (imp_conv9_run (cv, h, w, x, y, pool, &err) != IMPASTO_OK) {
      fprintf (stderr, "%s\n", err.message);
      exit (1);
    }
    t[r] = now () - t0;
  }
  qsort (t, (size_t) runs, sizeof *t, cmp_double);
  double t_direct = t[runs / 2];

  int threads = imp_pool_threads (pool);
  int band = IMP_MAX (1, 4096 / ow);
  Im2col b = { &s, h, w, oh, ow, band, x, wt, bias, y2, NULL, 0 };
  b.cols = malloc ((size_t) threads * in_c * 81 * band * ow * 4);
  for (int r = 0; r < runs; r++) {
    double t0 = now ();
    imp_pool_run (pool, (oh + band - 1) / band, im2col_task, &b);
    t[r] = now () - t0;
  }
  qsort (t, (size_t) runs, sizeof *t, cmp_double);
  double t_gemm = t[runs / 2];
  b.gemm_only = 1;
  for (int r = 0; r < runs; r++) {
    double t0 = now ();
    imp_pool_run (pool, (oh + band - 1) / band, im2col_task, &b);
    t[r] = now () - t0;
  }
  qsort (t, (size_t) runs, sizeof *t, cmp_double);
  double t_bound = t[runs / 2];
  b.gemm_only = 0;
  imp_pool_run (pool, (oh + band - 1) / band, im2col_task, &b); /* y2 valid again */
  double maxdiff = 0, maxval = 0;
  for (size_t i = 0; i < ny; i++) {
    double d = y[i] > y2[i] ? y[i] - y2[i] : y2[i] - y[i];
    maxdiff = d > maxdiff ? d : maxdiff;
    maxval = (y2[i] > maxval ? y2[i] : (-y2[i] > maxval ? -y2[i] : maxval));
  }
  printf ("9x9 %2d->%2d @ %4dx%-4d  direct %8.2f ms %7.1f GFLOP/s | im2col+sgemm %8.2f ms "
          "%7.1f GFLOP/s (sgemm alone %7.2f ms) | speedup %.2fx | max diff %.2g of %.3g\n",
          in_c, out_c, size, size, t_direct * 1e3, flops / t_direct * 1e-9, t_gemm * 1e3,
          flops / t_gemm * 1e-9, t_bound * 1e3, t_gemm / t_direct, maxdiff, maxval);
  imp_conv9_free (cv);
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
  bench (pool, runs, 3, 32, size);
  bench (pool, runs, 32, 3, size);
  imp_pool_free (pool);
  return 0;
}
