/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_winograd.c — times Winograd F(4x4, 3x3) against a plain im2col + sgemm conv on the
 * 3x3 convs of fast-neural-style at 1024x1024.  Not a test: prints milliseconds (median of
 * several runs) and effective GFLOP/s (direct-conv FLOPs: 2 * out_c * in_c * 9 * oh * ow).
 *
 * Usage: bench_winograd [threads (default 2)] [runs (default 7)] */
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
  float *y, *cols; /* cols: per thread [in_c * 9, band * ow] */
  int gemm_only;   /* skip the im2col (timing the sgemm alone: a bound for im2col + sgemm) */
} Im2col;

static void im2col_task (void *ctx, int64_t task, int thread)
{
  const Im2col *b = ctx;
  const ImpConvShape *s = b->s;
  int oy0 = (int) task * b->band, rows = IMP_MIN (b->band, b->oh - oy0);
  size_t npix = (size_t) rows * b->ow;
  float *col = b->cols + (size_t) thread * s->in_c * 9 * b->band * b->ow;
  for (int c = 0; c < s->in_c && !b->gemm_only; c++)
    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++) {
        float *dst = col + (size_t) ((c * 3 + ky) * 3 + kx) * npix;
        for (int r = 0; r < rows; r++) {
          int64_t iy = imp_pad_index (oy0 + r + ky - s->pad_t, b->h, s->pad_mode);
          for (int ox = 0; ox < b->ow; ox++) {
            int64_t ix = imp_pad_index (ox + kx - s->pad_l, b->w, s->pad_mode);
            dst[(size_t) r * b->ow + ox]
                = iy < 0 || ix < 0 ? 0.0f : b->x[((size_t) c * b->h + iy) * b->w + ix];
          }
        }
      }
  size_t oplane = (size_t) b->oh * b->ow;
  float *y = b->y + (size_t) oy0 * b->ow;
  for (int o = 0; o < s->out_c; o++)
    for (size_t i = 0; i < npix; i++)
      y[o * oplane + i] = b->bias[o];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, s->out_c, (int) npix, s->in_c * 9,
               1.0f, b->wt, s->in_c * 9, col, (int) npix, 1.0f, y, (int) oplane);
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

static double median (double *t, int n)
{
  qsort (t, (size_t) n, sizeof *t, cmp_double);
  return t[n / 2];
}

static void bench (ImpPool *pool, int runs, int in_c, int out_c, int size)
{
  ImpConvShape s = { .in_c = in_c, .out_c = out_c, .group = 1, .kh = 3, .kw = 3, .stride_h = 1,
                     .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                     .pad_r = 1, .pad_mode = IMP_PAD_REFLECT };
  int h = size, w = size, oh = size, ow = size;
  size_t nx = (size_t) in_c * h * w, ny = (size_t) out_c * oh * ow, nw = (size_t) out_c * in_c * 9;
  float *x = malloc (nx * 4), *y = malloc (ny * 4), *y2 = malloc (ny * 4), *wt = malloc (nw * 4);
  float *bias = malloc ((size_t) out_c * 4);
  srand (1);
  for (size_t i = 0; i < nx; i++)
    x[i] = (float) rand () / RAND_MAX;
  for (size_t i = 0; i < nw; i++)
    wt[i] = (float) rand () / RAND_MAX - 0.5f;
  for (int i = 0; i < out_c; i++)
    bias[i] = 0.1f * i;
  double flops = 2.0 * out_c * in_c * 9 * (double) oh * ow;
  ImpastoError err = { 0 };

  ImpWinograd *wg = imp_winograd_new (&s, wt, bias, &err);
  if (!wg) {
    fprintf (stderr, "%s\n", err.message);
    exit (1);
  }
  double t[64];
  for (int r = 0; r < runs; r++) {
    double t0 = now ();
    if (imp_winograd_run (wg, h, w, x, y, pool, &err) != IMPASTO_OK) {
      fprintf (stderr, "%s\n", err.message);
      exit (1);
    }
    t[r] = now () - t0;
  }
  double t_wg = median (t, runs);

  int threads = imp_pool_threads (pool);
  int band = IMP_MAX (1, 4096 / ow);
  Im2col b = { &s, h, w, oh, ow, band, x, wt, bias, y2, NULL, 0 };
  b.cols = malloc ((size_t) threads * in_c * 9 * band * ow * 4);
  for (int r = 0; r < runs; r++) {
    double t0 = now ();
    imp_pool_run (pool, (oh + band - 1) / band, im2col_task, &b);
    t[r] = now () - t0;
  }
  double t_gemm = median (t, runs);
  b.gemm_only = 1;
  for (int r = 0; r < runs; r++) {
    double t0 = now ();
    imp_pool_run (pool, (oh + band - 1) / band, im2col_task, &b);
    t[r] = now () - t0;
  }
  double t_bound = median (t, runs);
  b.gemm_only = 0;
  imp_pool_run (pool, (oh + band - 1) / band, im2col_task, &b); /* y2 valid again */
  double maxdiff = 0, maxval = 0;
  for (size_t i = 0; i < ny; i++) {
    double d = y[i] > y2[i] ? y[i] - y2[i] : y2[i] - y[i];
    maxdiff = d > maxdiff ? d : maxdiff;
    maxval = (y2[i] > maxval ? y2[i] : (-y2[i] > maxval ? -y2[i] : maxval));
  }
  printf ("3x3 %3d->%3d @ %4dx%-4d  winograd %8.2f ms %7.1f GFLOP/s | im2col+sgemm %8.2f ms "
          "%7.1f GFLOP/s (sgemm alone %7.2f ms) | speedup %.2fx | max diff %.2g of %.3g\n",
          in_c, out_c, size, size, t_wg * 1e3, flops / t_wg * 1e-9, t_gemm * 1e3,
          flops / t_gemm * 1e-9, t_bound * 1e3, t_gemm / t_wg, maxdiff, maxval);
  imp_winograd_free (wg);
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
  int runs = argc > 2 ? atoi (argv[2]) : 7;
  if (runs < 1 || runs > 64)
    runs = 7;
  openblas_set_num_threads (1);
  ImpPool *pool = imp_pool_new (threads);
  if (getenv ("IMPASTO_BENCH_CPU"))
    cpu_divisor = imp_pool_threads (pool);
  printf ("threads %d, median of %d runs, %s\n", imp_pool_threads (pool), runs,
          cpu_divisor ? "CPU time / threads" : "wall time");
  bench (pool, runs, 128, 128, 256);
  bench (pool, runs, 128, 64, 512);
  bench (pool, runs, 64, 32, 1024);
  imp_pool_free (pool);
  return 0;
}
