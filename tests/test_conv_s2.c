/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_conv_s2.c — direct 3x3 stride-2 conv (conv_s2.c) vs imp_conv2d_ref on random shapes, all
 * pad modes and pad amounts 0..2 (asymmetric), odd and even sizes, with and without bias, every
 * kernel flavour this CPU runs (portable C, AVX2, AVX-512).
 *
 * Tolerance as in test_conv_direct.c: |y - ref| <= TOL * scale[o], scale[o] = |bias[o]| +
 * max|x| * sum |w[o, ...]|; a wrong tap, parity or pad element is off by about scale / (9 in_c). */
#include "conv_s2.h"
#include "kernels.h"
#include "pool.h"

#include "conv_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-5

static int passed, failed;
static double worst_ratio;

static void check (bool ok, const char *what)
{
  if (ok) {
    passed++;
  } else {
    failed++;
    printf ("FAIL: %s\n", what);
  }
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t rnd (void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t) (rng_state >> 32);
}
static int rnd_int (int lo, int hi)
{
  return lo + (int) (rnd () % (uint32_t) (hi - lo + 1));
}
static float rnd_float (void)
{
  return (float) rnd () / 2147483648.0f - 1.0f;
}

static const char *mode_name (ImpPadMode m)
{
  return m == IMP_PAD_CONSTANT ? "constant" : m == IMP_PAD_REFLECT ? "reflect" : "edge";
}

static void run_case (ImpPool *pool, int in_c, int out_c, int h, int w, int pt, int pl, int pb,
                      int pr, ImpPadMode mode, bool with_bias)
{
  char what[1024];
  snprintf (what, sizeof what, "%d->%d %dx%d pads t%d l%d b%d r%d %s%s%s", in_c, out_c, h, w, pt,
            pl, pb, pr, mode_name (mode), with_bias ? " bias" : "", pool ? " pool" : "");
  ImpConvShape s = { .in_c = in_c, .out_c = out_c, .group = 1, .kh = 3, .kw = 3, .stride_h = 2,
                     .stride_w = 2, .dil_h = 1, .dil_w = 1, .pad_t = pt, .pad_l = pl,
                     .pad_b = pb, .pad_r = pr, .pad_mode = mode };
  bool empty = h + pt + pb < 3 || w + pl + pr < 3;
  int oh = empty ? 0 : (h + pt + pb - 3) / 2 + 1, ow = empty ? 0 : (w + pl + pr - 3) / 2 + 1;
  size_t nx = (size_t) in_c * h * w, nw = (size_t) out_c * in_c * 9;
  size_t ny = (size_t) out_c * oh * ow;
  float *x = malloc (nx * sizeof *x), *wt = malloc (nw * sizeof *wt);
  float *bias = malloc ((size_t) out_c * sizeof *bias), *y = malloc ((ny + 1) * sizeof *y);
  float *ref = malloc ((ny + 1) * sizeof *ref);
  double xmax = 0;
  for (size_t i = 0; i < nx; i++) {
    x[i] = 255.0f * rnd_float ();
    xmax = fmax (xmax, fabs (x[i]));
  }
  for (size_t i = 0; i < nw; i++)
    wt[i] = 0.05f * rnd_float ();
  for (int i = 0; i < out_c; i++)
    bias[i] = 10.0f * rnd_float ();

  check (imp_conv_s2_eligible (&s), what);
  ImpastoError err = { 0 };
  ImpConvS2 *cv = imp_conv_s2_new (&s, wt, with_bias ? bias : NULL, &err);
  if (!cv) {
    check (false, err.message);
    goto out;
  }
  bool reflect_bad = mode == IMP_PAD_REFLECT && (pt >= h || pb >= h || pl >= w || pr >= w);
  ImpastoStatus st = imp_conv_s2_run (cv, h, w, x, y, pool, &err);
  if (empty || reflect_bad) {
    bool ok = st == IMPASTO_E_SHAPE && strstr (err.message, reflect_bad ? "reflect" : "empty");
    snprintf (what + strlen (what), sizeof what - strlen (what), ": expected shape error, got "
              "%d '%s'", st, err.message);
    check (ok, what);
  } else if (st != IMPASTO_OK) {
    check (false, err.message);
  } else {
    imp_conv2d_ref (&s, h, w, x, wt, with_bias ? bias : NULL, ref); /* the engine's oracle */
    size_t bad = conv_outputs_off (y, ref, out_c, (size_t) oh * ow, wt, (size_t) in_c * 9,
                                   with_bias ? bias : NULL, xmax, TOL, &worst_ratio);
    check (bad == 0, what);
  }
  imp_conv_s2_free (cv);
out:
  free (x);
  free (wt);
  free (bias);
  free (y);
  free (ref);
}

static void test_not_eligible (void)
{
  ImpConvShape s = { .in_c = 32, .out_c = 64, .group = 1, .kh = 3, .kw = 3, .stride_h = 2,
                     .stride_w = 2, .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1,
                     .pad_r = 1, .pad_mode = IMP_PAD_REFLECT };
  check (imp_conv_s2_eligible (&s), "32->64 3x3 s2 eligible");
  ImpConvShape t = s;
  t.stride_w = 1;
  check (!imp_conv_s2_eligible (&t), "stride 2x1 not eligible");
  t = s;
  t.kh = t.kw = 5;
  check (!imp_conv_s2_eligible (&t), "5x5 not eligible");
  t = s;
  t.group = 2;
  check (!imp_conv_s2_eligible (&t), "grouped not eligible");
  t = s;
  t.pad_r = 3;
  check (!imp_conv_s2_eligible (&t), "pad 3 not eligible");
  ImpastoError err = { 0 };
  static float wt[32 * 64 * 9];
  check (imp_conv_s2_new (&t, wt, NULL, &err) == NULL && err.code == IMPASTO_E_ARGUMENT
         && strstr (err.message, "stride-2"), "new refuses ineligible shape with a message");
}

int main (void)
{
  ImpPool *pool = imp_pool_new (2);
  test_not_eligible ();
  const ImpPadMode modes[3] = { IMP_PAD_CONSTANT, IMP_PAD_REFLECT, IMP_PAD_EDGE };
  const char *isas[3] = { "c", "avx2", NULL };
  for (int isa = 0; isa < 3; isa++) {
    if (isas[isa])
      setenv ("IMPASTO_CONV_S2_ISA", isas[isa], 1);
    else
      unsetenv ("IMPASTO_CONV_S2_ISA");
    for (int mi = 0; mi < 3; mi++) {
      run_case (pool, 32, 64, 20, 33, 1, 1, 1, 1, modes[mi], true); /* the style net's */
      run_case (pool, 64, 128, 11, 16, 1, 1, 1, 1, modes[mi], true);
      run_case (NULL, 1, 1, 1, 1, 1, 1, 1, 1, modes[mi], true);     /* 1x1 input */
      run_case (NULL, 2, 5, 2, 3, 0, 0, 0, 0, modes[mi], false);
      run_case (NULL, 2, 2, 1, 2, 0, 0, 0, 0, modes[mi], true);     /* empty output: refused */
    }
    for (int i = 0; i < 60; i++)
      run_case (rnd () % 3 ? pool : NULL, rnd_int (1, 70), rnd_int (1, 20), rnd_int (1, 30),
                rnd_int (1, 70), rnd_int (0, 2), rnd_int (0, 2), rnd_int (0, 2), rnd_int (0, 2),
                modes[rnd () % 3], rnd () % 4 != 0);
    /* several row bands and column segments, partial register blocks */
    run_case (pool, 32, 64, 37, 600, 1, 1, 1, 1, IMP_PAD_REFLECT, true);
    run_case (pool, 64, 128, 19, 531, 1, 2, 0, 1, IMP_PAD_EDGE, true);
    run_case (pool, 33, 7, 18, 389, 2, 1, 2, 0, IMP_PAD_CONSTANT, true);
  }
  imp_pool_free (pool);
  printf ("worst |error| / scale: %.3g (tolerance %.0e)\n", worst_ratio, TOL);
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
