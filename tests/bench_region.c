/* bench_region.c — the dialog's 1:1 preview path timed (not a test; scripts/bench_region.py runs
 * it beside ONNX Runtime):
 *
 *   bench_region MODEL IMAGE.rgb W H THREADS RUNS REGION_W REGION_H STATS_PIXELS...
 *
 * IMAGE.rgb holds W x H interleaved 8-bit RGB.  For each STATS_PIXELS (0: exact) it times
 * impasto_stats_compute once, then RUNS regions of REGION_W x REGION_H at spread-out positions
 * through impasto_stylize_region, and prints one line per setting:
 *   stats_pixels N stats_s S region_median_s R region_min_s M region_cpu_median_s C
 * (C: the process's CPU seconds, which a shared machine's load does not inflate).
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "impasto.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clock_s (clockid_t id)
{
  struct timespec t;
  clock_gettime (id, &t);
  return (double) t.tv_sec + t.tv_nsec * 1e-9;
}

static double now (void)
{
  return clock_s (CLOCK_MONOTONIC);
}

static int compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int main (int argc, char **argv)
{
  if (argc < 10) {
    fprintf (stderr, "usage: bench_region MODEL IMAGE.rgb W H THREADS RUNS REGION_W REGION_H "
                     "STATS_PIXELS...\n");
    return 2;
  }
  int w = atoi (argv[3]), h = atoi (argv[4]), threads = atoi (argv[5]), runs = atoi (argv[6]);
  int rw = atoi (argv[7]), rh = atoi (argv[8]);
  if (w < 1 || h < 1 || runs < 1 || rw < 1 || rh < 1 || rw > w || rh > h) {
    fprintf (stderr, "bench_region: bad sizes\n");
    return 2;
  }
  size_t bytes = (size_t) w * (size_t) h * 3;
  ImpastoImage in = { .width = w, .height = h, .channels = 3, .type = IMPASTO_PIXEL_U8,
                      .data_u8 = malloc (bytes) };
  ImpastoImage out = { .width = rw, .height = rh, .channels = 3, .type = IMPASTO_PIXEL_U8,
                       .data_u8 = malloc ((size_t) rw * (size_t) rh * 3) };
  double *times = malloc ((size_t) runs * sizeof (double));
  double *cpu = malloc ((size_t) runs * sizeof (double));
  FILE *f = fopen (argv[2], "rb");
  if (!in.data_u8 || !out.data_u8 || !times || !cpu || !f || fread (in.data_u8, 1, bytes, f) != bytes) {
    fprintf (stderr, "bench_region: cannot read %s\n", argv[2]);
    return 1;
  }
  fclose (f);
  ImpastoError err;
  ImpastoModel *m = impasto_model_load (argv[1], &err);
  if (!m) {
    fprintf (stderr, "bench_region: %s\n", err.message);
    return 1;
  }
  int rc = 0;
  for (int a = 9; a < argc && !rc; a++) {
    ImpastoOptions o;
    impasto_options_init (&o);
    o.threads = threads;
    o.stats_pixels = atoll (argv[a]);
    ImpastoStats *stats = NULL;
    double t0 = now ();
    if (impasto_stats_compute (m, &in, &o, &stats, &err)) {
      fprintf (stderr, "bench_region: %s\n", err.message);
      rc = 1;
      break;
    }
    double stats_s = now () - t0;
    o.stats = stats;
    for (int r = 0; r < runs && !rc; r++) { /* positions spread over the image */
      int x = (int) ((int64_t) (w - rw) * ((r * 7) % runs) / (runs > 1 ? runs - 1 : 1));
      int y = (int) ((int64_t) (h - rh) * ((r * 3) % runs) / (runs > 1 ? runs - 1 : 1));
      t0 = now ();
      double c0 = clock_s (CLOCK_PROCESS_CPUTIME_ID);
      if (impasto_stylize_region (m, &in, x, y, &out, &o, &err)) {
        fprintf (stderr, "bench_region: %s\n", err.message);
        rc = 1;
      }
      times[r] = now () - t0;
      cpu[r] = clock_s (CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    impasto_stats_free (stats);
    if (rc)
      break;
    qsort (times, (size_t) runs, sizeof *times, compare_doubles);
    qsort (cpu, (size_t) runs, sizeof *cpu, compare_doubles);
    printf ("stats_pixels %s stats_s %.3f region_median_s %.4f region_min_s %.4f "
            "region_cpu_median_s %.4f\n", argv[a], stats_s, times[runs / 2], times[0], cpu[runs / 2]);
    fflush (stdout);
  }
  impasto_model_free (m);
  free (in.data_u8);
  free (out.data_u8);
  free (times);
  free (cpu);
  return rc;
}
