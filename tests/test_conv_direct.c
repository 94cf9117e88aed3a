/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_conv_direct.c — direct 9x9 and 7x7 convs (conv_direct.c) vs imp_conv2d_ref on random skinny
 * shapes, all pad modes and pad amounts 0..k-1 (asymmetric), with and without bias, every kernel
 * flavour.
 *
 * Tolerance: |y - ref| <= TOL * scale[o], scale[o] = |bias[o]| + max|x| * sum |w[o, ...]| (the
 * largest |y| output channel o could produce), TOL = 1e-5; imp_conv2d_ref accumulates in double.
 * Float accumulation of up to 81 * 40 terms in another order stays near 1e-7; a wrong tap or pad
 * element is off by about |w| max|x| >= scale / (81 * in_c) ~ 3e-4 scale. */
#include "conv_direct.h"
#include "kernels.h"
#include "pool.h"
#include "util.h"

#include "conv_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-5

FAST_CONV (imp_conv9, ImpConv9, 255.0f, 0.05f, 10.0f, TOL)

static int kernel = 9; /* the edge the cases run with */

static void run_case (ImpPool *pool, int in_c, int out_c, int h, int w, int pt, int pl, int pb,
                      int pr, ImpPadMode mode, bool with_bias)
{
  int k = kernel;
  run_fast_case (&fast, pool, conv_shape (in_c, out_c, k, 1, IMP_MIN (pt, k - 1), IMP_MIN (pl, k - 1),
                                          IMP_MIN (pb, k - 1), IMP_MIN (pr, k - 1), mode),
                 h, w, with_bias);
}

static void test_not_eligible (void)
{
  ImpConvShape s = { .in_c = 3, .out_c = 32, .group = 1, .kh = 9, .kw = 9, .stride_h = 1,
                     .stride_w = 1, .dil_h = 1, .dil_w = 1, .pad_t = 4, .pad_l = 4, .pad_b = 4,
                     .pad_r = 4, .pad_mode = IMP_PAD_REFLECT };
  check (imp_conv9_eligible (&s), "3->32 9x9 eligible");
  ImpConvShape t = s;
  t.in_c = 8;
  check (!imp_conv9_eligible (&t), "8->32 not skinny");
  t = s;
  t.kw = 7;
  check (!imp_conv9_eligible (&t), "9x7 not eligible");
  t.kh = 7;
  t.pad_t = t.pad_l = t.pad_b = t.pad_r = 3;
  check (imp_conv9_eligible (&t), "7x7 3->32 eligible");
  t.pad_l = 7;
  check (!imp_conv9_eligible (&t), "7x7 with pad 7 not eligible");
  t = s;
  t.kh = t.kw = 5;
  check (!imp_conv9_eligible (&t), "5x5 not eligible");
  t = s;
  t.stride_h = 2;
  check (!imp_conv9_eligible (&t), "stride 2 not eligible");
  t = s;
  t.pad_l = 9;
  check (!imp_conv9_eligible (&t), "pad 9 not eligible");
  ImpastoError err = { 0 };
  static float wt[8 * 32 * 81];
  check (imp_conv9_new (&t, wt, NULL, &err) == NULL && err.code == IMPASTO_E_ARGUMENT
         && strstr (err.message, "9x9"), "new refuses ineligible shape with a message");
}

int main (void)
{
  rng_state = 0x2545F4914F6CDD1Dull;
  ImpPool *pool = imp_pool_new (2);
  test_not_eligible ();
  const ImpPadMode modes[3] = { IMP_PAD_CONSTANT, IMP_PAD_REFLECT, IMP_PAD_EDGE };
  /* every kernel flavour this CPU can run: portable C, AVX2, the widest (AVX-512 when present) */
  for (int isa = 0; isa < N_ISA_CAPS * 2; isa++) {
    use_isa_cap ("IMPASTO_CONV9_ISA", isa % N_ISA_CAPS);
    kernel = isa < N_ISA_CAPS ? 9 : 7; /* the style nets' 9x9, then CycleGAN's 7x7 */
    for (int mi = 0; mi < 3; mi++) {
      run_case (pool, 3, 32, 20, 33, 4, 4, 4, 4, modes[mi], true);  /* the style net's first */
      run_case (pool, 32, 3, 21, 40, 4, 4, 4, 4, modes[mi], true);  /* and last conv */
      run_case (NULL, 1, 1, 1, 1, 4, 4, 4, 4, modes[mi], true);     /* 1x1 input */
      run_case (NULL, 2, 5, 2, 3, 4, 4, 4, 4, modes[mi], false);
      run_case (NULL, 2, 2, 5, 5, 0, 0, 0, 0, modes[mi], true);     /* empty output: refused */
    }
    for (int i = 0; i < 60; i++) {
      bool narrow_in = rnd () % 2;
      int in_c = narrow_in ? rnd_int (1, 4) : rnd_int (1, 40);
      int out_c = narrow_in ? rnd_int (1, 40) : rnd_int (1, 4);
      run_case (rnd () % 3 ? pool : NULL, in_c, out_c, rnd_int (1, 30), rnd_int (1, 70),
                rnd_int (0, 8), rnd_int (0, 8), rnd_int (0, 8), rnd_int (0, 8), modes[rnd () % 3],
                rnd () % 4 != 0);
    }
    if (kernel == 7) { /* CycleGAN's first and last conv */
      run_case (pool, 3, 64, 23, 300, 3, 3, 3, 3, IMP_PAD_REFLECT, true);
      run_case (pool, 64, 3, 19, 277, 3, 3, 3, 3, IMP_PAD_REFLECT, true);
    }
    /* several bands and segments */
    run_case (pool, 3, 32, 37, 600, 4, 4, 4, 4, IMP_PAD_REFLECT, true);
    run_case (pool, 32, 3, 19, 531, 4, 3, 2, 8, IMP_PAD_EDGE, true);
    run_case (pool, 3, 32, 18, 250, 4, 4, 4, 4, IMP_PAD_REFLECT, true); /* segment > 256 */
    run_case (pool, 32, 3, 18, 127, 4, 4, 4, 4, IMP_PAD_REFLECT, true); /* segment > 128 */
    run_case (pool, 3, 32, 17, 583, 4, 4, 4, 4, IMP_PAD_REFLECT, true); /* 96-pixel blocks, partial */
    run_case (pool, 32, 3, 17, 389, 4, 4, 4, 4, IMP_PAD_REFLECT, true); /* 128-pixel blocks */
  }
  imp_pool_free (pool);
  printf ("worst |error| / scale: %.3g (tolerance %.0e)\n", worst_ratio, TOL);
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
