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

FAST_CONV (imp_conv_s2, ImpConvS2, 255.0f, 0.05f, 10.0f, TOL)

static void run_case (ImpPool *pool, int in_c, int out_c, int h, int w, int pt, int pl, int pb,
                      int pr, ImpPadMode mode, bool with_bias)
{
  run_fast_case (&fast, pool, conv_shape (in_c, out_c, 3, 2, pt, pl, pb, pr, mode), h, w,
                 with_bias);
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
  rng_state = 0x2545F4914F6CDD1Dull;
  ImpPool *pool = imp_pool_new (2);
  test_not_eligible ();
  const ImpPadMode modes[3] = { IMP_PAD_CONSTANT, IMP_PAD_REFLECT, IMP_PAD_EDGE };
  for (int isa = 0; isa < N_ISA_CAPS; isa++) {
    use_isa_cap ("IMPASTO_CONV_S2_ISA", isa);
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
