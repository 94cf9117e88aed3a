/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_winograd.c — Winograd F(4x4, 3x3) conv vs the naive conv imp_conv2d_ref on random shapes.
 *
 * Tolerance: Winograd's transforms mix the whole 6x6 input patch of a tile with coefficients up to
 * 8 and down to 1/24; in exact arithmetic the extra terms cancel, in float their rounding remains.
 * So the error scales with the range of the inputs and weights, not with the (possibly cancelling
 * or small) result.  Each output of channel o is checked as
 *     |y - ref| <= TOL * scale[o],   scale[o] = |bias[o]| + max|x| * sum over c, taps |w[o, c]|
 * (scale is the largest |y| the channel could produce), TOL = 2e-5; imp_conv2d_ref accumulates in
 * double.  Measured worst ratio: a few 1e-6.  A wrong tap, pad element or bias is off by about
 * |w| max|x| >= scale / (9 * in_c) ~ 1e-3 scale for the largest in_c here. */
#include "kernels.h"
#include "pool.h"
#include "util.h"
#include "winograd.h"

#include "conv_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 2e-5

FAST_CONV (imp_winograd, ImpWinograd, 100.0f, 0.1f, 1.0f, TOL)

static void run_case (ImpPool *pool, int in_c, int out_c, int h, int w, int pt, int pl, int pb,
                      int pr, ImpPadMode mode, bool with_bias)
{
  run_fast_case (&fast, pool, conv_shape (in_c, out_c, 3, 1, pt, pl, pb, pr, mode), h, w,
                 with_bias);
}

/* The gather path (a nearest upsampling fused into the conv): y must equal the conv of the
 * materialised input xg[c, i, j] = x[c, rows[i], cols[j]] (0 where rows[i] < 0).
 * upsample: rows = i / 2 (a few rows -1), cols = j / 2 (the fast path); else random maps. */
static void run_gather_case (ImpPool *pool, int in_c, int out_c, int src_h, int src_w, int h,
                             int w, int pad, ImpPadMode mode, bool upsample)
{
  char what[256];
  snprintf (what, sizeof what, "gather %s %d->%d %dx%d from %dx%d pad %d %s",
            upsample ? "x2" : "random", in_c, out_c, h, w, src_h, src_w, pad, mode_name (mode));
  ImpConvShape s = { .in_c = in_c, .out_c = out_c, .group = 1, .kh = 3, .kw = 3, .stride_h = 1,
                     .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = pad, .pad_l = pad,
                     .pad_b = pad, .pad_r = pad, .pad_mode = mode };
  int oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
  size_t nx = (size_t) in_c * src_h * src_w, nxg = (size_t) in_c * h * w;
  size_t ny = (size_t) out_c * oh * ow, nw = (size_t) out_c * in_c * 9;
  float *x = malloc (nx * sizeof *x), *xg = malloc (nxg * sizeof *xg);
  float *wt = malloc (nw * sizeof *wt), *bias = malloc ((size_t) out_c * sizeof *bias);
  float *y = malloc (ny * sizeof *y), *ref = malloc (ny * sizeof *ref);
  int32_t *rows = malloc ((size_t) h * sizeof *rows), *cols = malloc ((size_t) w * sizeof *cols);
  for (size_t i = 0; i < nx; i++)
    x[i] = 100.0f * rnd_float ();
  for (size_t i = 0; i < nw; i++)
    wt[i] = 0.1f * rnd_float ();
  for (int i = 0; i < out_c; i++)
    bias[i] = rnd_float ();
  for (int i = 0; i < h; i++)
    rows[i] = upsample ? (rnd () % 7 == 0 ? -1 : i / 2) : rnd_int (-1, src_h - 1);
  for (int j = 0; j < w; j++)
    cols[j] = upsample ? j / 2 : rnd_int (0, src_w - 1);
  double xmax = 0;
  for (int c = 0; c < in_c; c++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++) {
        float v = rows[i] < 0 ? 0.0f : x[((size_t) c * src_h + rows[i]) * src_w + cols[j]];
        xg[((size_t) c * h + i) * w + j] = v;
        xmax = fmax (xmax, fabs (v));
      }
  ImpastoError err = { 0 };
  ImpWinograd *wg = imp_winograd_new (&s, wt, bias, &err);
  ImpGather g = { x, src_h, src_w, rows, cols, upsample };
  ImpastoStatus st = wg ? imp_winograd_run_gather (wg, h, w, &g, y, pool, &err) : err.code;
  if (st != IMPASTO_OK) {
    check (false, err.message);
  } else {
    imp_conv2d_ref (&s, h, w, xg, wt, bias, ref);
    size_t bad = conv_outputs_off (y, ref, out_c, (size_t) oh * ow, wt, (size_t) in_c * 9, bias,
                                   xmax, TOL, &worst_ratio);
    check (bad == 0, what);
  }
  imp_winograd_free (wg);
  free (x), free (xg), free (wt), free (bias), free (y), free (ref), free (rows), free (cols);
}

static void test_not_eligible (void)
{
  ImpConvShape s = { .in_c = 4, .out_c = 4, .group = 1, .kh = 3, .kw = 3, .stride_h = 1,
                     .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                     .pad_r = 1, .pad_mode = IMP_PAD_CONSTANT };
  check (imp_winograd_eligible (&s), "base shape eligible");
  ImpConvShape t = s;
  t.stride_w = 2;
  check (!imp_winograd_eligible (&t), "stride 2 not eligible");
  t = s;
  t.kh = 5;
  check (!imp_winograd_eligible (&t), "5x3 not eligible");
  t = s;
  t.group = 2;
  check (!imp_winograd_eligible (&t), "group 2 not eligible");
  t = s;
  t.dil_h = 2;
  check (!imp_winograd_eligible (&t), "dilation 2 not eligible");
  t = s;
  t.pad_r = 3;
  check (!imp_winograd_eligible (&t), "pad 3 not eligible");
  ImpastoError err = { 0 };
  float wt[4 * 4 * 9] = { 0 };
  check (imp_winograd_new (&t, wt, NULL, &err) == NULL && err.code == IMPASTO_E_ARGUMENT
         && strstr (err.message, "3x3"), "new refuses ineligible shape with a message");
}

/* imp_winograd_run_sums: y exactly as imp_winograd_run's, and the channel sums and sums of
 * squares of y as a naive double loop over y gives them (up to the order of the additions:
 * 1e-9 of the sum of |terms|; a row or tile counted twice or missed is off by ~1/oh of it). */
static void run_sums_case (ImpPool *pool, int in_c, int out_c, int h, int w, int pad,
                           ImpPadMode mode)
{
  char what[256];
  snprintf (what, sizeof what, "sums %d->%d %dx%d pad %d %s%s", in_c, out_c, h, w, pad,
            mode_name (mode), pool ? " pool" : "");
  ImpConvShape s = { .in_c = in_c, .out_c = out_c, .group = 1, .kh = 3, .kw = 3, .stride_h = 1,
                     .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = pad, .pad_l = pad,
                     .pad_b = pad, .pad_r = pad, .pad_mode = mode };
  int oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
  size_t nx = (size_t) in_c * h * w, ny = (size_t) out_c * oh * ow, nw = (size_t) out_c * in_c * 9;
  float *x = malloc (nx * sizeof *x), *wt = malloc (nw * sizeof *wt);
  float *bias = malloc ((size_t) out_c * sizeof *bias);
  float *y = malloc (ny * sizeof *y), *y2 = malloc (ny * sizeof *y2);
  double *sums = malloc (2 * (size_t) out_c * sizeof *sums);
  for (size_t i = 0; i < nx; i++)
    x[i] = 10.0f * rnd_float ();
  for (size_t i = 0; i < nw; i++)
    wt[i] = 0.1f * rnd_float ();
  for (int i = 0; i < out_c; i++)
    bias[i] = rnd_float ();
  ImpastoError err = { 0 };
  ImpWinograd *wg = imp_winograd_new (&s, wt, bias, &err);
  bool ok = wg && imp_winograd_run (wg, h, w, x, y, pool, &err) == IMPASTO_OK
            && imp_winograd_run_sums (wg, h, w, x, y2, sums, pool, &err) == IMPASTO_OK
            && memcmp (y, y2, ny * sizeof *y) == 0;
  for (int o = 0; ok && o < out_c; o++) {
    double sum = 0, sumsq = 0, mag = 0;
    for (size_t i = 0; i < (size_t) oh * ow; i++) {
      double v = y[(size_t) o * oh * ow + i];
      sum += v;
      sumsq += v * v;
      mag += fabs (v);
    }
    ok = fabs (sums[o] - sum) <= 1e-9 * mag + 1e-300
         && fabs (sums[out_c + o] - sumsq) <= 1e-9 * sumsq + 1e-300;
  }
  check (ok, what);
  imp_winograd_free (wg);
  free (x);
  free (wt);
  free (bias);
  free (y);
  free (y2);
  free (sums);
}

/* All cases once per micro-kernel flavour (IMPASTO_WINOGRAD_ISA caps the one _new picks); the
 * random sweep is shorter for the flavours the engine would not pick on this machine. */
int main (void)
{
  rng_state = 0x9E3779B97F4A7C15ull;
  ImpPool *pool = imp_pool_new (2);
  test_not_eligible ();

  const ImpPadMode modes[3] = { IMP_PAD_CONSTANT, IMP_PAD_REFLECT, IMP_PAD_EDGE };
  for (int isa = 0; isa < N_ISA_CAPS; isa++) {
    bool capped = use_isa_cap ("IMPASTO_WINOGRAD_ISA", isa);
    int n_random = capped ? 40 : 150;
    /* fixed corner cases: 1x1, 2x3, sizes around the tile edge, every pad mode */
    for (int mi = 0; mi < 3; mi++) {
      run_case (NULL, 1, 1, 1, 1, 1, 1, 1, 1, modes[mi], true);
      run_case (NULL, 2, 3, 2, 3, 1, 1, 1, 1, modes[mi], true);
      run_case (pool, 3, 2, 2, 3, 2, 2, 2, 2, modes[mi], false);
      run_case (NULL, 2, 2, 1, 1, 0, 0, 0, 0, modes[mi], true); /* empty output: refused */
      for (int n = 3; n <= 10; n++)
        run_case (pool, 3, 5, n, n + 1, 1, 1, 1, 1, modes[mi], true);
    }
    /* random shapes, asymmetric pads */
    for (int i = 0; i < n_random; i++) {
      int in_c = rnd () % 4 == 0 ? rnd_int (100, 130) : rnd_int (1, 20);
      int out_c = rnd () % 4 == 0 ? rnd_int (100, 130) : rnd_int (1, 20);
      int big = in_c * out_c > 2000;
      int h = rnd_int (1, big ? 12 : 40), w = rnd_int (1, big ? 12 : 70);
      run_case (rnd () % 3 ? pool : NULL, in_c, out_c, h, w, rnd_int (0, 2), rnd_int (0, 2),
                rnd_int (0, 2), rnd_int (0, 2), modes[rnd () % 3], rnd () % 4 != 0);
    }
    /* larger images, so that blocks span several tile rows, panels and segments */
    run_case (pool, 8, 8, 130, 300, 1, 1, 1, 1, IMP_PAD_REFLECT, true);
    run_case (pool, 16, 4, 257, 255, 2, 0, 1, 2, IMP_PAD_EDGE, true);
    run_case (NULL, 128, 128, 20, 36, 1, 1, 1, 1, IMP_PAD_CONSTANT, true);
    /* gathered inputs: x2 upsampling (even and odd sizes, every pad) and arbitrary maps */
    for (int mi = 0; mi < 3; mi++)
      for (int pad = 0; pad <= 2; pad++) {
        run_gather_case (pool, 5, 7, 9, 40, 18, 80, pad, modes[mi], true);
        run_gather_case (pool, 3, 4, 6, 33, 11, 65, pad, modes[mi], true);
        run_gather_case (NULL, 4, 3, 7, 9, 12, 15, pad, modes[mi], false);
      }
    /* channel sums gathered by the output transform: partial edge tiles, several blocks and
     * column segments, one thread and two */
    run_sums_case (pool, 3, 5, 9, 11, 1, IMP_PAD_REFLECT);
    run_sums_case (NULL, 7, 12, 22, 37, 0, IMP_PAD_CONSTANT);
    run_sums_case (pool, 64, 24, 30, 290, 2, IMP_PAD_EDGE);
    run_sums_case (pool, 256, 16, 18, 70, 1, IMP_PAD_REFLECT);
    /* wide enough for several column segments: segments start on odd image columns */
    run_gather_case (pool, 128, 128, 6, 150, 12, 300, 1, IMP_PAD_REFLECT, true);
  }

  imp_pool_free (pool);
  printf ("worst |error| / scale: %.3g (tolerance %.0e)\n", worst_ratio, TOL);
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
