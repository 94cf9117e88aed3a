/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_conv.c — times the fast conv (imp_conv_run) at the TransformerNet's shapes for a
 * 1024x1024 input and prints GFLOP/s per shape.  Not a test: run it by hand,
 *   build/tests/bench_conv [size] [threads] [repetitions]
 * The best of the repetitions is reported (the minimum is the least disturbed by other load).
 * FLOPs counted as 2 * out_c * oh * ow * (in_c / group) * kh * kw.
 * Besides wall-clock GFLOP/s it prints GFLOP per CPU-second (process CPU time over all threads):
 * on a machine shared with other jobs the wall clock mostly measures the other jobs, the CPU
 * time much less so.  threads * GFLOP/cpu-s is what the wall clock would show on an idle box. */
#include "kernels.h"
#include "pool.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
  const char *name;
  int in_c, out_c, k, stride;
  int div;    /* input size = size / div */
  int count;  /* occurrences in the network */
} Layer;

static double now (clockid_t clock)
{
  struct timespec ts;
  clock_gettime (clock, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

int main (int argc, char **argv)
{
  int size = argc > 1 ? atoi (argv[1]) : 1024;
  int threads = argc > 2 ? atoi (argv[2]) : 0;
  int reps = argc > 3 ? atoi (argv[3]) : 5;
  if (size < 16 || size % 4 != 0) {
    fprintf (stderr, "size must be a multiple of 4, >= 16\n");
    return 2;
  }
  const Layer layers[] = {
    { "conv1 9x9 3->32", 3, 32, 9, 1, 1, 1 },
    { "conv2 3x3 s2 32->64", 32, 64, 3, 2, 1, 1 },
    { "conv3 3x3 s2 64->128", 64, 128, 3, 2, 2, 1 },
    { "res 3x3 128->128", 128, 128, 3, 1, 4, 10 },
    { "up1 3x3 128->64", 128, 64, 3, 1, 2, 1 },
    { "up2 3x3 64->32", 64, 32, 3, 1, 1, 1 },
    { "conv_out 9x9 32->3", 32, 3, 9, 1, 1, 1 },
  };
  ImpPool *pool = imp_pool_new (threads);
  printf ("input %dx%d, %d threads\n", size, size, imp_pool_threads (pool));
  printf ("%-24s %9s %9s %10s %12s %8s\n", "layer", "in", "ms", "GFLOP/s", "GFLOP/cpu-s",
          "x count");
  double total_ms = 0, total_flop = 0, total_cpu = 0;
  for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
    const Layer *L = &layers[i];
    int h = size / L->div, w = h;
    int pad = L->k / 2;
    ImpConvShape s = { L->in_c, L->out_c, 1, L->k, L->k, L->stride, L->stride, 1, 1,
                       pad, pad, pad, pad, IMP_PAD_REFLECT };
    int64_t oh, ow;
    if (!imp_conv_out_size (&s, h, w, &oh, &ow))
      return 1;
    size_t nw = (size_t) L->out_c * L->in_c * L->k * L->k;
    float *wt = malloc (nw * sizeof *wt), *bias = malloc ((size_t) L->out_c * sizeof *bias);
    float *x = malloc ((size_t) L->in_c * h * w * sizeof *x);
    float *y = malloc ((size_t) L->out_c * oh * ow * sizeof *y);
    if (!wt || !bias || !x || !y)
      return 2;
    for (size_t j = 0; j < nw; j++)
      wt[j] = (float) ((j * 7919) % 1000) * 1e-3f - 0.5f;
    for (int j = 0; j < L->out_c; j++)
      bias[j] = 0.1f;
    for (size_t j = 0; j < (size_t) L->in_c * h * w; j++)
      x[j] = (float) ((j * 104729) % 1000) * 1e-3f;
    ImpastoError err = { 0 };
    ImpConv *conv = imp_conv_new (&s, wt, bias, &err);
    if (!conv) {
      fprintf (stderr, "%s\n", err.message);
      return 1;
    }
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < reps; rep++) {
      double t0 = now (CLOCK_MONOTONIC), c0 = now (CLOCK_PROCESS_CPUTIME_ID);
      if (imp_conv_run (conv, h, w, x, y, pool, &err) != IMPASTO_OK) {
        fprintf (stderr, "%s\n", err.message);
        return 1;
      }
      double t = now (CLOCK_MONOTONIC) - t0, c = now (CLOCK_PROCESS_CPUTIME_ID) - c0;
      if (t < best)
        best = t;
      if (c < best_cpu)
        best_cpu = c;
    }
    double flop = 2.0 * L->out_c * (double) oh * ow * L->in_c * L->k * L->k;
    printf ("%-24s %4dx%-4d %9.1f %10.1f %12.1f %8d\n", L->name, h, w, best * 1e3,
            flop / best * 1e-9, flop / best_cpu * 1e-9, L->count);
    total_ms += best * 1e3 * L->count;
    total_cpu += best_cpu * L->count;
    total_flop += flop * L->count;
    imp_conv_free (conv);
    free (wt);
    free (bias);
    free (x);
    free (y);
  }
  printf ("all convs of the network: %.0f ms, %.1f GFLOP/s average, %.1f GFLOP/cpu-s\n",
          total_ms, total_flop / total_ms * 1e-6, total_flop / total_cpu * 1e-9);
  imp_pool_free (pool);
  return 0;
}
