/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_ops.c — every fast kernel of engine/kernels.h against its naive reference on many random
 * shapes, and the references themselves against small hand-computed cases.
 *
 * Random cases use a seeded PRNG; the seed is printed and can be forced with IMPASTO_SEED=N.
 *
 * Tolerances (|fast - ref| <= tol per element), chosen like ggml's test-backend-ops: relative to
 * the magnitude the result was computed from, not to the result itself (which may cancel to ~0):
 *   conv, conv transpose:  1e-4 * (1 + S), S = sum |x * w| + |bias| over the output's receptive
 *                          field (computed by running the reference on |x|, |w|, |bias|).  The fast
 *                          path sums K products in float in a different order (sgemm blocking);
 *                          the worst-case bound is ~K * 2^-24 * S, K <= 405 here.
 *   instance norm:         1e-4 * (1 + |y| + |scale| * |mean| / std): the fast path subtracts a
 *                          float-rounded mean, an error of ~2^-24 |mean| scaled by scale / std.
 *   channel affine:        1e-6 * (1 + |x * mul| + |add|) (same float ops, maybe reassociated).
 *   unary (sigmoid, tanh): 1e-6 * (1 + |y|); relu, leaky relu, clip: exact.
 *   binary, pad, resize:   exact (the same single float operation / pure copies).
 * Reference results against hand-computed values are checked to 1e-5. */
#include "kernels.h"
#include "pool.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------------------------- */
static uint64_t rng_state;

static uint64_t rng_next (void) /* splitmix64 */
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* uniform integer in [lo, hi] */
static int rnd (int lo, int hi)
{
  return lo + (int) (rng_next () % (uint64_t) (hi - lo + 1));
}

/* uniform float in [lo, hi) */
static float rndf (float lo, float hi)
{
  return lo + (hi - lo) * (float) ((rng_next () >> 40) * (1.0 / 16777216.0));
}

static float *rand_buf (size_t n, float lo, float hi)
{
  float *p = malloc ((n ? n : 1) * sizeof *p);
  if (!p) {
    fprintf (stderr, "out of memory\n");
    exit (2);
  }
  for (size_t i = 0; i < n; i++)
    p[i] = rndf (lo, hi);
  return p;
}

static float *abs_copy (const float *x, size_t n)
{
  float *p = rand_buf (n, 0, 0);
  for (size_t i = 0; i < n; i++)
    p[i] = fabsf (x[i]);
  return p;
}

/* ------------------------------------------------------------------------------------------- */
static int n_passed, n_failed;
static int op_passed, op_failed;

static void op_begin (void)
{
  op_passed = op_failed = 0;
}

static void op_end (const char *name)
{
  printf ("%-22s %5d passed, %d failed\n", name, op_passed, op_failed);
  n_passed += op_passed;
  n_failed += op_failed;
}

/* Record one check; print the first few failures with their description. */
static void check (bool ok, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void check (bool ok, const char *fmt, ...)
{
  if (ok) {
    op_passed++;
    return;
  }
  op_failed++;
  if (op_failed <= 5) {
    va_list ap;
    va_start (ap, fmt);
    printf ("  FAIL: ");
    vprintf (fmt, ap);
    printf ("\n");
    va_end (ap);
  }
}

/* Max over i of |a - b| / tol_i; <= 1 passes.  tol_i = rel * (1 + mag[i]) (mag NULL: |b[i]|),
 * rel == 0: exact.  *where gets the worst index. */
static double worst_ratio (const float *a, const float *b, const float *mag, size_t n, double rel,
                           size_t *where)
{
  double worst = 0.0;
  *where = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs ((double) a[i] - b[i]);
    if (isnan (a[i]) != isnan (b[i]))
      d = INFINITY;
    else if (isnan (a[i]))
      d = 0.0;
    double r;
    if (rel == 0.0)
      r = d > 0.0 ? INFINITY : 0.0;
    else
      r = d / (rel * (1.0 + (mag ? mag[i] : fabs (b[i]))));
    if (r > worst) {
      worst = r;
      *where = i;
    }
  }
  return worst;
}

static bool close_to (const float *got, const double *want, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (fabs (got[i] - want[i]) > 1e-5 * (1.0 + fabs (want[i])))
      return false;
  return true;
}

static ImpPool *pool2;

/* ------------------------------------------------------------------------------------------- */
/* Pad                                                                                          */
static void test_pad (void)
{
  op_begin ();
  /* hand-computed: 2x3 image [[1,2,3],[4,5,6]], pads t=1 b=1 l=2 r=2 */
  const float img[6] = { 1, 2, 3, 4, 5, 6 };
  float y[4 * 7];
  const double reflect[28] = { 6, 5, 4, 5, 6, 5, 4,   3, 2, 1, 2, 3, 2, 1,
                               6, 5, 4, 5, 6, 5, 4,   3, 2, 1, 2, 3, 2, 1 };
  const double edge[28] = { 1, 1, 1, 2, 3, 3, 3,   1, 1, 1, 2, 3, 3, 3,
                            4, 4, 4, 5, 6, 6, 6,   4, 4, 4, 5, 6, 6, 6 };
  const double constant[20] = { 7, 7, 7, 7, 7,   7, 1, 2, 3, 7,   7, 4, 5, 6, 7,   7, 7, 7, 7, 7 };
  imp_pad2d_ref (1, 2, 3, img, 1, 2, 1, 2, IMP_PAD_REFLECT, 0, y);
  check (close_to (y, reflect, 28), "pad ref reflect 2x3 hand case");
  imp_pad2d_ref (1, 2, 3, img, 1, 2, 1, 2, IMP_PAD_EDGE, 0, y);
  check (close_to (y, edge, 28), "pad ref edge 2x3 hand case");
  imp_pad2d_ref (1, 2, 3, img, 1, 1, 1, 1, IMP_PAD_CONSTANT, 7, y);
  check (close_to (y, constant, 20), "pad ref constant 2x3 hand case");

  for (int it = 0; it < 300; it++) {
    int c = rnd (1, 4), h = rnd (1, 20), w = rnd (1, 20);
    ImpPadMode mode = (ImpPadMode) rnd (0, 2);
    int lim_h = mode == IMP_PAD_REFLECT ? h - 1 : 6, lim_w = mode == IMP_PAD_REFLECT ? w - 1 : 6;
    int t = rnd (0, IMP_MIN (lim_h, 6)), b = rnd (0, IMP_MIN (lim_h, 6));
    int l = rnd (0, IMP_MIN (lim_w, 6)), r = rnd (0, IMP_MIN (lim_w, 6));
    size_t n = (size_t) c * (h + t + b) * (w + l + r);
    float *x = rand_buf ((size_t) c * h * w, -1, 1);
    float *ya = rand_buf (n, 0, 0), *yb = rand_buf (n, 0, 0);
    float value = rndf (-2, 2);
    imp_pad2d_ref (c, h, w, x, t, l, b, r, mode, value, ya);
    imp_pad2d (c, h, w, x, t, l, b, r, mode, value, yb, it % 3 ? pool2 : NULL);
    size_t at;
    double q = worst_ratio (yb, ya, NULL, n, 0.0, &at);
    check (q <= 1.0, "pad c%d %dx%d pads t%d l%d b%d r%d mode %d: mismatch at %zu", c, h, w, t,
           l, b, r, mode, at);
    free (x);
    free (ya);
    free (yb);
  }
  op_end ("pad");
}

/* ------------------------------------------------------------------------------------------- */
/* Conv                                                                                         */
static ImpConvShape conv_shape (int in_c, int out_c, int group, int kh, int kw, int stride,
                                int dil, int pad, ImpPadMode mode)
{
  ImpConvShape s = { in_c, out_c, group, kh, kw, stride, stride, dil, dil,
                     pad, pad, pad, pad, mode };
  return s;
}

static void conv_hand_cases (void)
{
  float x9[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, y[16];
  /* 2x2 kernel [[1,2],[3,4]] on 3x3 1..9, bias 0.5 */
  float k4[4] = { 1, 2, 3, 4 }, bias = 0.5f;
  ImpConvShape s = conv_shape (1, 1, 1, 2, 2, 1, 1, 0, IMP_PAD_CONSTANT);
  imp_conv2d_ref (&s, 3, 3, x9, k4, &bias, y);
  check (close_to (y, (const double[]) { 37.5, 47.5, 67.5, 77.5 }, 4), "conv ref 2x2 kernel");
  /* 3x3 box, zero pad 1, stride 2 */
  float ones[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  s = conv_shape (1, 1, 1, 3, 3, 2, 1, 1, IMP_PAD_CONSTANT);
  imp_conv2d_ref (&s, 3, 3, x9, ones, NULL, y);
  check (close_to (y, (const double[]) { 12, 16, 24, 28 }, 4), "conv ref box zero pad stride 2");
  /* same with reflect padding (rows/cols -1 -> 1, 3 -> 1) */
  s.pad_mode = IMP_PAD_REFLECT;
  imp_conv2d_ref (&s, 3, 3, x9, ones, NULL, y);
  check (close_to (y, (const double[]) { 33, 39, 51, 57 }, 4), "conv ref box reflect stride 2");
  /* edge padding: (0,0) sums rows {0,0,1} x cols {0,0,1} */
  s.pad_mode = IMP_PAD_EDGE;
  imp_conv2d_ref (&s, 3, 3, x9, ones, NULL, y);
  check (close_to (y, (const double[]) { 1 + 1 + 2 + 1 + 1 + 2 + 4 + 4 + 5,
                                         2 + 3 + 3 + 2 + 3 + 3 + 5 + 6 + 6,
                                         4 + 4 + 5 + 7 + 7 + 8 + 7 + 7 + 8,
                                         5 + 6 + 6 + 8 + 9 + 9 + 8 + 9 + 9 }, 4),
         "conv ref box edge stride 2");
  /* dilation 2 along a 1x5 row: y[i] = x[i] + x[i+2] */
  float row[5] = { 1, 2, 3, 4, 5 };
  s = conv_shape (1, 1, 1, 1, 2, 1, 2, 0, IMP_PAD_CONSTANT);
  imp_conv2d_ref (&s, 1, 5, row, ones, NULL, y);
  check (close_to (y, (const double[]) { 4, 6, 8 }, 3), "conv ref dilation 2");
  /* groups: 2 channels, group 2, 1x1 kernels 2 and -1 */
  float x2[2] = { 3, 5 }, k2[2] = { 2, -1 };
  s = conv_shape (2, 2, 2, 1, 1, 1, 1, 0, IMP_PAD_CONSTANT);
  imp_conv2d_ref (&s, 1, 1, x2, k2, NULL, y);
  check (close_to (y, (const double[]) { 6, -5 }, 2), "conv ref groups");
  /* asymmetric pads: 1x3 row [1,2,3], kernel 1x2 ones, pad_l 2 pad_r 0 -> [0+0? ...] */
  s = conv_shape (1, 1, 1, 1, 2, 1, 1, 0, IMP_PAD_CONSTANT);
  s.pad_l = 2;
  imp_conv2d_ref (&s, 1, 3, row, ones, NULL, y); /* padded row 0 0 1 2 3 */
  check (close_to (y, (const double[]) { 0, 1, 3, 5 }, 4), "conv ref asymmetric pads");
}

/* Run fast vs reference on one shape; returns false on mismatch (also records the check). */
static void conv_case (const ImpConvShape *s, int h, int w, bool with_bias, ImpPool *pool)
{
  int64_t oh, ow;
  if (!imp_conv_out_size (s, h, w, &oh, &ow))
    return;
  size_t nx = (size_t) s->in_c * h * w, ny = (size_t) s->out_c * oh * ow;
  size_t nw = (size_t) s->out_c * (s->in_c / s->group) * s->kh * s->kw;
  float *x = rand_buf (nx, -1, 1), *wt = rand_buf (nw, -1, 1);
  float *bias = with_bias ? rand_buf ((size_t) s->out_c, -1, 1) : NULL;
  float *ya = rand_buf (ny, 0, 0), *yb = rand_buf (ny, 0, 0), *mag = rand_buf (ny, 0, 0);
  float *ax = abs_copy (x, nx), *aw = abs_copy (wt, nw);
  float *ab = bias ? abs_copy (bias, (size_t) s->out_c) : NULL;
  imp_conv2d_ref (s, h, w, x, wt, bias, ya);
  imp_conv2d_ref (s, h, w, ax, aw, ab, mag); /* S = sum |x w| + |b| per output */
  ImpastoError err = { 0 };
  ImpConv *conv = imp_conv_new (s, wt, bias, &err);
  ImpastoStatus st = conv ? imp_conv_run (conv, h, w, x, yb, pool, &err) : err.code;
  if (conv && memcmp (imp_conv_shape (conv), s, sizeof *s) != 0)
    st = IMPASTO_E_ARGUMENT; /* the prepared conv must report the shape it was made for */
  size_t at = 0;
  double q = st == IMPASTO_OK ? worst_ratio (yb, ya, mag, ny, 1e-4, &at) : INFINITY;
  check (q <= 1.0,
         "conv in %d out %d group %d k %dx%d stride %dx%d dil %dx%d pads %d,%d,%d,%d mode %d "
         "input %dx%d bias %d: status %d (%s), error ratio %.3g at %zu (%g vs %g)",
         s->in_c, s->out_c, s->group, s->kh, s->kw, s->stride_h, s->stride_w, s->dil_h,
         s->dil_w, s->pad_t, s->pad_l, s->pad_b, s->pad_r, s->pad_mode, h, w, with_bias, st,
         err.message, q, at, st == IMPASTO_OK ? yb[at] : 0.0, ya[at]);
  imp_conv_free (conv);
  free (x);
  free (wt);
  free (bias);
  free (ya);
  free (yb);
  free (mag);
  free (ax);
  free (aw);
  free (ab);
}

static void test_conv (void)
{
  op_begin ();
  conv_hand_cases ();

  /* TransformerNet-like shapes on small images */
  ImpConvShape s = conv_shape (3, 32, 1, 9, 9, 1, 1, 4, IMP_PAD_REFLECT);
  conv_case (&s, 12, 10, true, pool2);
  s = conv_shape (32, 16, 1, 3, 3, 2, 1, 1, IMP_PAD_REFLECT);
  conv_case (&s, 17, 13, true, pool2);
  s = conv_shape (32, 32, 1, 3, 3, 1, 1, 1, IMP_PAD_REFLECT);
  conv_case (&s, 33, 37, true, pool2); /* several im2col chunks, crossing row boundaries */
  s = conv_shape (16, 3, 1, 9, 9, 1, 1, 4, IMP_PAD_REFLECT); /* kx-folded path */
  conv_case (&s, 9, 11, true, NULL);
  s = conv_shape (32, 3, 1, 9, 9, 1, 1, 4, IMP_PAD_REFLECT);
  conv_case (&s, 6, 300, true, pool2); /* several column chunks per row */
  s = conv_shape (5, 2, 1, 3, 4, 2, 1, 2, IMP_PAD_EDGE);
  s.stride_w = 3;
  s.dil_w = 2;
  conv_case (&s, 31, 290, false, pool2);
  s = conv_shape (40, 24, 1, 1, 1, 1, 1, 0, IMP_PAD_CONSTANT); /* direct sgemm path */
  conv_case (&s, 70, 65, true, pool2);
  s = conv_shape (6, 6, 3, 1, 1, 1, 1, 0, IMP_PAD_CONSTANT); /* direct path with groups */
  conv_case (&s, 5, 7, false, pool2);
  /* pix2pix's 4x4 stride-2 convs on small images: the output channels cut across tasks (an
   * uneven cut too), whole and with groups */
  s = conv_shape (8, 256, 1, 4, 4, 2, 1, 1, IMP_PAD_CONSTANT);
  conv_case (&s, 10, 12, false, pool2);
  s = conv_shape (6, 129, 1, 4, 4, 2, 1, 1, IMP_PAD_CONSTANT);
  conv_case (&s, 6, 9, true, pool2);
  s = conv_shape (8, 256, 2, 4, 4, 2, 1, 1, IMP_PAD_CONSTANT);
  conv_case (&s, 4, 4, true, pool2);

  for (int it = 0; it < 400; it++) {
    int group = rnd (0, 3) == 0 ? rnd (2, 3) : 1;
    int in_c = group * rnd (1, 5);
    /* out_c <= 8 with group 1 takes the kx-folded path, more the plain im2col path */
    int out_c = group * (rnd (0, 1) ? rnd (1, 4) : rnd (9, 14));
    int kh = rnd (1, 5), kw = rnd (1, 5);
    if (rnd (0, 9) == 0)
      kh = kw = 9;
    int h = rnd (1, 20), w = rnd (1, 20);
    if (rnd (0, 7) == 0)
      h = w = 1;
    ImpConvShape cs = conv_shape (in_c, out_c, group, kh, kw, 1, 1, 0, IMP_PAD_CONSTANT);
    cs.stride_h = rnd (1, 3);
    cs.stride_w = rnd (1, 3);
    cs.dil_h = rnd (0, 2) ? 1 : rnd (2, 3);
    cs.dil_w = rnd (0, 2) ? 1 : rnd (2, 3);
    cs.pad_mode = (ImpPadMode) rnd (0, 2);
    int lim_h = cs.pad_mode == IMP_PAD_REFLECT ? h - 1 : 5;
    int lim_w = cs.pad_mode == IMP_PAD_REFLECT ? w - 1 : 5;
    if (cs.pad_mode == IMP_PAD_CONSTANT && rnd (0, 4) == 0) {
      lim_h = 8; /* kernels larger than the image, zero padded */
      lim_w = 8;
    }
    cs.pad_t = rnd (0, IMP_MIN (lim_h, 8));
    cs.pad_b = rnd (0, IMP_MIN (lim_h, 8));
    cs.pad_l = rnd (0, IMP_MIN (lim_w, 8));
    cs.pad_r = rnd (0, IMP_MIN (lim_w, 8));
    if (rnd (0, 5) == 0) { /* 1x1 stride 1 unpadded: the direct path */
      cs.kh = cs.kw = cs.stride_h = cs.stride_w = 1;
      cs.pad_t = cs.pad_b = cs.pad_l = cs.pad_r = 0;
    }
    int64_t oh, ow;
    if (!imp_conv_out_size (&cs, h, w, &oh, &ow)) {
      /* empty output: the fast path must refuse with a shape error */
      ImpastoError err = { 0 };
      float *wt = rand_buf ((size_t) out_c * (in_c / group) * cs.kh * cs.kw, -1, 1);
      ImpConv *conv = imp_conv_new (&cs, wt, NULL, &err);
      ImpastoStatus st = conv ? imp_conv_run (conv, h, w, wt, wt, pool2, &err) : err.code;
      check (st == IMPASTO_E_SHAPE && strstr (err.message, "empty output"),
             "conv with empty output: status %d message '%s'", st, err.message);
      imp_conv_free (conv);
      free (wt);
      continue;
    }
    conv_case (&cs, h, w, rnd (0, 3) != 0, rnd (0, 3) ? pool2 : NULL);
  }

  /* errors are reported, not crashed on */
  ImpastoError err = { 0 };
  float wt[16] = { 0 };
  s = conv_shape (3, 2, 2, 1, 1, 1, 1, 0, IMP_PAD_CONSTANT); /* 3 channels in 2 groups */
  ImpConv *conv = imp_conv_new (&s, wt, NULL, &err);
  check (!conv && err.code == IMPASTO_E_SHAPE && strstr (err.message, "invalid shape"),
         "conv group mismatch: code %d message '%s'", err.code, err.message);
  imp_conv_free (conv);
  s = conv_shape (1, 1, 1, 3, 3, 1, 1, 2, IMP_PAD_REFLECT);
  conv = imp_conv_new (&s, wt, NULL, &err);
  float x4[4] = { 0 }, y4[16];
  ImpastoStatus st = conv ? imp_conv_run (conv, 2, 2, x4, y4, pool2, &err) : err.code;
  check (st == IMPASTO_E_SHAPE && strstr (err.message, "reflect"),
         "conv reflect pad >= size: status %d message '%s'", st, err.message);
  imp_conv_free (conv);
  op_end ("conv");
}

/* ------------------------------------------------------------------------------------------- */
/* ConvTranspose                                                                                */
static void convt_case (const ImpConvTShape *s, int h, int w, bool with_bias, ImpPool *pool)
{
  int64_t oh, ow;
  if (!imp_convt_out_size (s, h, w, &oh, &ow))
    return;
  size_t nx = (size_t) s->in_c * h * w, ny = (size_t) s->out_c * oh * ow;
  size_t nw = (size_t) s->in_c * (s->out_c / s->group) * s->kh * s->kw;
  float *x = rand_buf (nx, -1, 1), *wt = rand_buf (nw, -1, 1);
  float *bias = with_bias ? rand_buf ((size_t) s->out_c, -1, 1) : NULL;
  float *ya = rand_buf (ny, 0, 0), *yb = rand_buf (ny, 0, 0), *mag = rand_buf (ny, 0, 0);
  float *ax = abs_copy (x, nx), *aw = abs_copy (wt, nw);
  float *ab = bias ? abs_copy (bias, (size_t) s->out_c) : NULL;
  imp_convt2d_ref (s, h, w, x, wt, bias, ya);
  imp_convt2d_ref (s, h, w, ax, aw, ab, mag);
  /* whole, and in bands of output rows that read only the input rows imp_convt_in_rows names
   * (the band copied alone) */
  {
    ImpastoError err = { 0 };
    ImpConvT *conv = imp_convt_new (s, wt, bias, &err);
    for (int band = 0; band < 3; band++) {
      int rows = band == 0 ? (int) oh : band == 1 ? 1 : 3;
      ImpastoStatus st = conv ? IMPASTO_OK : err.code;
      memset (yb, 0xff, ny * sizeof (float)); /* NaN: a row left unwritten fails */
      for (int r0 = 0; !st && r0 < oh; r0 += rows) {
        int r1 = (int) IMP_MIN (oh, (int64_t) r0 + rows);
        int64_t i0, i1;
        imp_convt_in_rows (s, h, r0, r1, &i0, &i1);
        size_t nb = (size_t) s->in_c * (size_t) (i1 - i0) * w, no = (size_t) s->out_c * (r1 - r0) * ow;
        float *xb = malloc ((nb ? nb : 1) * sizeof (float)), *yo = malloc (no * sizeof (float));
        for (int c = 0; c < s->in_c; c++)
          memcpy (xb + (size_t) c * (i1 - i0) * w, x + ((size_t) c * h + i0) * w,
                  (size_t) (i1 - i0) * w * sizeof (float));
        st = imp_convt_run_rows (conv, h, w, xb, (int) i0, (int) (i1 - i0), yo, r0, r1 - r0, pool, &err);
        for (int c = 0; !st && c < s->out_c; c++)
          memcpy (yb + ((size_t) c * oh + r0) * ow, yo + (size_t) c * (r1 - r0) * ow,
                  (size_t) (r1 - r0) * ow * sizeof (float));
        free (xb);
        free (yo);
      }
      size_t at = 0;
      double q = st == IMPASTO_OK ? worst_ratio (yb, ya, mag, ny, 1e-4, &at) : INFINITY;
      check (q <= 1.0,
             "convt in %d out %d group %d k %dx%d stride %dx%d dil %dx%d pads %d,%d,%d,%d outpad "
             "%d,%d input %dx%d bands of %d: status %d (%s), error ratio %.3g at %zu", s->in_c,
             s->out_c, s->group, s->kh, s->kw, s->stride_h, s->stride_w, s->dil_h, s->dil_w,
             s->pad_t, s->pad_l, s->pad_b, s->pad_r, s->out_pad_h, s->out_pad_w, h, w, rows, st,
             err.message, q, at);
    }
    imp_convt_free (conv);
  }
  free (x);
  free (wt);
  free (bias);
  free (ya);
  free (yb);
  free (mag);
  free (ax);
  free (aw);
  free (ab);
}

/* imp_convt_run_parts (a fused Concat -> Relu -> ConvTranspose): the input in 3 parts, Relu on
 * the way in, against the oracle on the joined input with the Relu applied. */
static void convt_parts_case (const ImpConvTShape *s, int h, int w, bool with_bias, ImpPool *pool)
{
  int64_t oh, ow;
  if (!imp_convt_out_size (s, h, w, &oh, &ow))
    return;
  int cs[3] = { s->in_c / 3, s->in_c / 3, s->in_c - 2 * (s->in_c / 3) };
  size_t plane = (size_t) h * w, nx = (size_t) s->in_c * plane, ny = (size_t) s->out_c * oh * ow;
  size_t nw = (size_t) s->in_c * s->out_c * s->kh * s->kw;
  float *x = rand_buf (nx, -1, 1), *wt = rand_buf (nw, -1, 1);
  float *bias = with_bias ? rand_buf ((size_t) s->out_c, -1, 1) : NULL;
  float *xr = rand_buf (nx, 0, 0), *ya = rand_buf (ny, 0, 0), *yb = rand_buf (ny, 0, 0);
  float *mag = rand_buf (ny, 0, 0), *aw = abs_copy (wt, nw);
  float *ab = bias ? abs_copy (bias, (size_t) s->out_c) : NULL;
  for (size_t i = 0; i < nx; i++)
    xr[i] = x[i] > 0.0f ? x[i] : 0.0f;
  imp_convt2d_ref (s, h, w, xr, wt, bias, ya);
  imp_convt2d_ref (s, h, w, xr, aw, ab, mag);
  const float *xs[3] = { x, x + (size_t) cs[0] * plane, x + (size_t) (cs[0] + cs[1]) * plane };
  ImpastoError err = { 0 };
  ImpConvT *conv = imp_convt_new (s, wt, bias, &err);
  memset (yb, 0xff, ny * sizeof (float));
  ImpastoStatus st = conv ? imp_convt_run_parts (conv, h, w, 3, xs, cs, true, yb, pool, &err)
                          : err.code;
  size_t at = 0;
  double q = st == IMPASTO_OK ? worst_ratio (yb, ya, mag, ny, 1e-4, &at) : INFINITY;
  check (q <= 1.0, "convt parts %d+%d+%d -> %d, relu, input %dx%d: status %d (%s), error ratio "
         "%.3g at %zu", cs[0], cs[1], cs[2], s->out_c, h, w, st, err.message, q, at);
  int bad[2] = { cs[0], s->in_c }; /* one channel too many */
  check (conv && imp_convt_run_parts (conv, h, w, 2, xs, bad, true, yb, pool, &err)
                     == IMPASTO_E_SHAPE, "convt parts: channels that do not add up refused");
  imp_convt_free (conv);
  free (x);
  free (wt);
  free (bias);
  free (xr);
  free (ya);
  free (yb);
  free (mag);
  free (aw);
  free (ab);
}

static void test_convt (void)
{
  op_begin ();
  /* hand cases: 2x2 [1,2;3,4], 2x2 kernel of ones */
  float x[4] = { 1, 2, 3, 4 }, ones[4] = { 1, 1, 1, 1 }, y[16];
  ImpConvTShape s = { 1, 1, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0 };
  imp_convt2d_ref (&s, 2, 2, x, ones, NULL, y);
  check (close_to (y, (const double[]) { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }, 16),
         "convt ref stride 2");
  s.stride_h = s.stride_w = 1;
  imp_convt2d_ref (&s, 2, 2, x, ones, NULL, y);
  check (close_to (y, (const double[]) { 1, 3, 2, 4, 10, 6, 3, 7, 4 }, 9), "convt ref stride 1");
  /* pads crop, output_padding extends: stride 2, pads 1 all round, out_pad 1 -> 3x3 */
  ImpConvTShape sp = { 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 };
  int64_t oh, ow;
  check (imp_convt_out_size (&sp, 2, 2, &oh, &ow) && oh == 3 && ow == 3, "convt out size");
  imp_convt2d_ref (&sp, 2, 2, x, ones, NULL, y);
  check (close_to (y, (const double[]) { 1, 2, 2, 3, 4, 4, 3, 4, 4 }, 9), "convt ref pads");

  for (int it = 0; it < 250; it++) {
    int group = rnd (0, 3) == 0 ? 2 : 1;
    ImpConvTShape cs = { 0 };
    cs.group = group;
    cs.in_c = group * rnd (1, 4);
    cs.out_c = group * rnd (1, 4);
    cs.kh = rnd (1, 5);
    cs.kw = rnd (1, 5);
    cs.stride_h = rnd (1, 3);
    cs.stride_w = rnd (1, 3);
    cs.dil_h = rnd (1, 2);
    cs.dil_w = rnd (1, 2);
    cs.pad_t = rnd (0, 2);
    cs.pad_l = rnd (0, 2);
    cs.pad_b = rnd (0, 2);
    cs.pad_r = rnd (0, 2);
    cs.out_pad_h = rnd (0, IMP_MAX (cs.stride_h, cs.dil_h) - 1);
    cs.out_pad_w = rnd (0, IMP_MAX (cs.stride_w, cs.dil_w) - 1);
    int h = rnd (1, 12), w = rnd (1, 12);
    convt_case (&cs, h, w, rnd (0, 2) != 0, rnd (0, 3) ? pool2 : NULL);
  }
  /* a CycleGAN-like upsampling layer, a pix2pix one (4x4, no bias) and its innermost (1x1 in) */
  ImpConvTShape cg = { 24, 12, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 };
  convt_case (&cg, 19, 23, true, pool2);
  ImpConvTShape pp = { 32, 16, 1, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0 };
  convt_case (&pp, 17, 29, false, pool2);
  convt_case (&pp, 1, 1, false, pool2);
  /* the phase path (convt.c: 4x4, stride 2, pads 1), then the same shapes on the col path:
   * several row blocks, output channels split across tasks, 1..70 channels */
  static const int phase_shapes[][4] = { { 3, 1, 2, 3 }, { 5, 3, 9, 40 }, { 40, 20, 33, 70 },
                                         { 70, 70, 4, 4 }, { 16, 33, 7, 130 } };
  check (!imp_convt_phase_eligible (&cg), "phase path: CycleGAN's 3x3 output-padded layer not "
         "eligible");
  for (int col = 0; col < 2; col++) {
    if (col)
      setenv ("IMPASTO_CONVT_COL", "1", 1);
    for (size_t i = 0; i < sizeof phase_shapes / sizeof phase_shapes[0]; i++) {
      const int *ps = phase_shapes[i];
      ImpConvTShape ph = { ps[0], ps[1], 1, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0 };
      check (imp_convt_phase_eligible (&ph), "phase path eligible: %d -> %d", ps[0], ps[1]);
      convt_case (&ph, ps[2], ps[3], i % 2 == 0, i == 4 ? NULL : pool2);
      convt_parts_case (&ph, ps[2], ps[3], i % 2 == 1, pool2);
    }
    unsetenv ("IMPASTO_CONVT_COL");
  }
  op_end ("conv_transpose");
}

/* ------------------------------------------------------------------------------------------- */
/* Normalisation                                                                                */
static void test_instnorm (void)
{
  op_begin ();
  /* hand case: [1,2,3,4], mean 2.5, population variance 1.25 */
  float x4[4] = { 1, 2, 3, 4 }, y4[4], sc = 2, bi = 1;
  double sd = sqrt (1.25);
  imp_instnorm_ref (1, 4, x4, &sc, &bi, 0.0f, y4);
  check (close_to (y4, (const double[]) { 2 * -1.5 / sd + 1, 2 * -0.5 / sd + 1, 2 * 0.5 / sd + 1,
                                          2 * 1.5 / sd + 1 }, 4), "instnorm ref hand case");
  float gap;
  imp_global_avgpool_ref (1, 4, x4, &gap);
  check (gap == 2.5f, "global avgpool ref hand case");

  for (int it = 0; it < 120; it++) {
    int c = rnd (1, 6);
    size_t hw = (size_t) rnd (1, 3000);
    if (it < 3) { /* few channels, many slices per channel */
      c = rnd (1, 3);
      hw = (size_t) rnd (150000, 300000);
    }
    size_t n = (size_t) c * hw;
    float offset = rndf (-50, 50), spread = rndf (0.01f, 10);
    float *x = rand_buf (n, -1, 1);
    for (size_t i = 0; i < n; i++)
      x[i] = offset + spread * x[i];
    float *scale = rand_buf ((size_t) c, -2, 2), *bias = rand_buf ((size_t) c, -2, 2);
    float eps = rnd (0, 1) ? 1e-5f : 1e-3f;
    bool relu = rnd (0, 1);
    float *ya = rand_buf (n, 0, 0), *yb = rand_buf (n, 0, 0), *mag = rand_buf (n, 0, 0);
    imp_instnorm_ref (c, hw, x, scale, bias, eps, ya);
    for (int ch = 0; ch < c; ch++) { /* magnitude: |y| + |scale| |mean| / std */
      double m = 0, v = 0;
      for (size_t i = 0; i < hw; i++)
        m += x[ch * hw + i];
      m /= (double) hw;
      for (size_t i = 0; i < hw; i++)
        v += (x[ch * hw + i] - m) * (x[ch * hw + i] - m);
      double k = fabs (scale[ch]) * fabs (m) / sqrt (v / (double) hw + eps);
      for (size_t i = 0; i < hw; i++) {
        if (relu && ya[ch * hw + i] < 0)
          ya[ch * hw + i] = 0;
        mag[ch * hw + i] = (float) (fabs (ya[ch * hw + i]) + k);
      }
    }
    bool in_place = rnd (0, 3) == 0;
    if (in_place)
      memcpy (yb, x, n * sizeof *x);
    imp_instnorm (c, hw, in_place ? yb : x, scale, bias, eps, relu, yb, rnd (0, 3) ? pool2 : NULL);
    size_t at;
    double q = worst_ratio (yb, ya, mag, n, 1e-4, &at);
    check (q <= 1.0, "instnorm c %d hw %zu relu %d in-place %d: error ratio %.3g at %zu", c, hw,
           relu, in_place, q, at);
    /* with the channel sums given (as a Winograd conv gathers them): the same bound */
    double known[12];
    for (int ch = 0; ch < c; ch++) {
      known[ch] = known[c + ch] = 0.0;
      for (size_t i = 0; i < hw; i++) {
        known[ch] += x[ch * hw + i];
        known[c + ch] += (double) x[ch * hw + i] * x[ch * hw + i];
      }
    }
    imp_instnorm_sums (c, hw, x, known, scale, bias, eps, relu, yb, rnd (0, 3) ? pool2 : NULL);
    q = worst_ratio (yb, ya, mag, n, 1e-4, &at);
    check (q <= 1.0, "instnorm (sums given) c %d hw %zu relu %d: error ratio %.3g at %zu", c, hw,
           relu, q, at);

    /* per-channel sums: accumulate onto existing values */
    double sum[6], sumsq[6];
    for (int ch = 0; ch < c; ch++)
      sum[ch] = sumsq[ch] = 1.0;
    imp_channel_sums (c, hw, x, sum, sumsq, pool2);
    bool ok = true;
    for (int ch = 0; ch < c; ch++) {
      double s = 1.0, q2 = 1.0, mag2 = 1.0;
      for (size_t i = 0; i < hw; i++) {
        s += x[ch * hw + i];
        q2 += (double) x[ch * hw + i] * x[ch * hw + i];
        mag2 += fabs (x[ch * hw + i]);
      }
      ok = ok && fabs (sum[ch] - s) <= 1e-12 * mag2 * (double) hw
           && fabs (sumsq[ch] - q2) <= 1e-12 * q2 * (double) hw;
    }
    check (ok, "channel sums c %d hw %zu", c, hw);

    /* channel affine (BatchNorm) */
    imp_channel_affine_ref (c, hw, x, scale, bias, relu, ya);
    for (size_t i = 0; i < n; i++)
      mag[i] = fabsf (x[i] * scale[i / hw]) + fabsf (bias[i / hw]);
    imp_channel_affine (c, hw, x, scale, bias, relu, yb, pool2);
    q = worst_ratio (yb, ya, mag, n, 1e-6, &at);
    check (q <= 1.0, "channel affine c %d hw %zu relu %d: error ratio %.3g", c, hw, relu, q);
    free (x);
    free (scale);
    free (bias);
    free (ya);
    free (yb);
    free (mag);
  }
  op_end ("instnorm/affine/sums");
}

/* ------------------------------------------------------------------------------------------- */
/* Elementwise                                                                                  */
static void test_unary (void)
{
  op_begin ();
  float in[5] = { -2, -0.5f, 0, 0.5f, 3 }, out[5];
  imp_unary_ref (IMP_UNARY_RELU, 0, 0, 5, in, out);
  check (close_to (out, (const double[]) { 0, 0, 0, 0.5, 3 }, 5), "relu ref");
  imp_unary_ref (IMP_UNARY_LEAKY_RELU, 0.1f, 0, 5, in, out);
  check (close_to (out, (const double[]) { -0.2, -0.05, 0, 0.5, 3 }, 5), "leaky relu ref");
  imp_unary_ref (IMP_UNARY_CLIP, -1, 1, 5, in, out);
  check (close_to (out, (const double[]) { -1, -0.5, 0, 0.5, 1 }, 5), "clip ref");
  imp_unary_ref (IMP_UNARY_SIGMOID, 0, 0, 5, in, out);
  check (close_to (out, (const double[]) { 1 / (1 + exp (2)), 1 / (1 + exp (0.5)), 0.5,
                                           1 / (1 + exp (-0.5)), 1 / (1 + exp (-3)) }, 5),
         "sigmoid ref");
  imp_unary_ref (IMP_UNARY_TANH, 0, 0, 5, in, out);
  check (close_to (out, (const double[]) { tanh (-2), tanh (-0.5), 0, tanh (0.5), tanh (3) }, 5),
         "tanh ref");

  for (int it = 0; it < 100; it++) {
    ImpUnaryOp op = (ImpUnaryOp) rnd (0, 4);
    size_t n = (size_t) (rnd (0, 1) ? rnd (1, 100) : rnd (1, 200000));
    float *x = rand_buf (n, -8, 8), *ya = rand_buf (n, 0, 0), *yb = rand_buf (n, 0, 0);
    float alpha = rndf (-2, 0.5f), beta = alpha + rndf (0, 4);
    imp_unary_ref (op, alpha, beta, n, x, ya);
    bool in_place = rnd (0, 1);
    if (in_place)
      memcpy (yb, x, n * sizeof *x);
    imp_unary (op, alpha, beta, n, in_place ? yb : x, yb, pool2);
    bool exact = op == IMP_UNARY_RELU || op == IMP_UNARY_LEAKY_RELU || op == IMP_UNARY_CLIP;
    size_t at;
    double q = worst_ratio (yb, ya, NULL, n, exact ? 0.0 : 1e-6, &at);
    check (q <= 1.0, "unary op %d n %zu in-place %d: error ratio %.3g at %zu", op, n, in_place, q,
           at);
    free (x);
    free (ya);
    free (yb);
  }
  op_end ("unary");
}

static void binary_case (ImpBinaryOp op, int rank, const int64_t *od, const int64_t *ad,
                         const int64_t *bd, bool in_place, ImpPool *pool)
{
  size_t n, na, nb;
  imp_dims_count (od, rank, &n);
  imp_dims_count (ad, rank, &na);
  imp_dims_count (bd, rank, &nb);
  float *a = rand_buf (na, -4, 4), *b = rand_buf (nb, 0.5f, 2);
  for (size_t i = 0; i < nb; i++)
    if (rng_next () & 1)
      b[i] = -b[i]; /* |b| >= 0.5: no division blow-ups */
  float *ya = rand_buf (n, 0, 0), *yb = rand_buf (n, 0, 0);
  imp_binary_ref (op, rank, od, a, ad, b, bd, ya);
  bool a_full = na == n;
  float *ain = a;
  if (in_place && a_full) { /* y aliases a */
    memcpy (yb, a, n * sizeof *a);
    ain = yb;
  }
  imp_binary (op, rank, od, ain, ad, b, bd, yb, pool);
  size_t at;
  double q = worst_ratio (yb, ya, NULL, n, 0.0, &at);
  char shape[256];
  int len = 0;
  for (int d = 0; d < rank; d++)
    len += snprintf (shape + len, sizeof shape - (size_t) len, "%s%lld/%lld", d ? "," : "",
                     (long long) ad[d], (long long) bd[d]);
  check (q <= 1.0, "binary op %d dims (a/b) [%s] in-place %d: mismatch at %zu", op, shape,
         in_place && a_full, at);
  free (a);
  free (b);
  free (ya);
  free (yb);
}

static void test_binary (void)
{
  op_begin ();
  /* hand case: [2,1] + [1,3] */
  float a[2] = { 1, 2 }, b[3] = { 10, 20, 30 }, y[6];
  int64_t od[2] = { 2, 3 }, ad[2] = { 2, 1 }, bd[2] = { 1, 3 };
  imp_binary_ref (IMP_BINARY_ADD, 2, od, a, ad, b, bd, y);
  check (close_to (y, (const double[]) { 11, 21, 31, 12, 22, 32 }, 6), "binary ref broadcast");
  imp_binary_ref (IMP_BINARY_SUB, 2, od, a, ad, b, bd, y);
  check (close_to (y, (const double[]) { -9, -19, -29, -8, -18, -28 }, 6), "binary ref sub");

  /* the model's cases: same shape, per-channel, scalar */
  int64_t full[4] = { 1, 16, 67, 75 }, chan[4] = { 1, 16, 1, 1 }, one[4] = { 1, 1, 1, 1 };
  for (int op = 0; op < 4; op++) {
    binary_case ((ImpBinaryOp) op, 4, full, full, full, false, pool2);
    binary_case ((ImpBinaryOp) op, 4, full, full, full, true, pool2);
    binary_case ((ImpBinaryOp) op, 4, full, full, chan, true, pool2);
    binary_case ((ImpBinaryOp) op, 4, full, chan, full, false, pool2);
    binary_case ((ImpBinaryOp) op, 4, full, full, one, false, pool2);
    binary_case ((ImpBinaryOp) op, 4, full, one, full, false, NULL);
    binary_case ((ImpBinaryOp) op, 4, one, one, one, false, pool2);
  }
  for (int it = 0; it < 300; it++) {
    int rank = rnd (1, 5);
    int64_t o[5], x[5], z[5];
    for (int d = 0; d < rank; d++) {
      o[d] = rnd (1, 7);
      if (it < 20 && d == rank - 1)
        o[d] = rnd (2000, 40000); /* multi-chunk rows */
      x[d] = rnd (0, 2) ? o[d] : 1;
      z[d] = rnd (0, 2) ? o[d] : 1;
    }
    binary_case ((ImpBinaryOp) rnd (0, 3), rank, o, x, z, rnd (0, 1), rnd (0, 3) ? pool2 : NULL);
  }
  op_end ("binary");
}

/* ------------------------------------------------------------------------------------------- */
/* Resize                                                                                       */
static void test_resize (void)
{
  op_begin ();
  float two[2] = { 1, 2 }, three[3] = { 1, 2, 3 }, y[5];
  imp_resize_nearest_ref (1, 1, 2, two, 1, 4, 1, 2, IMP_COORD_ASYMMETRIC, IMP_NEAREST_FLOOR, y);
  check (close_to (y, (const double[]) { 1, 1, 2, 2 }, 4), "resize ref upsample x2");
  /* align_corners 3 -> 5: x = o / 2 = 0, .5, 1, 1.5, 2 */
  imp_resize_nearest_ref (1, 1, 3, three, 1, 5, 1, 5.0f / 3, IMP_COORD_ALIGN_CORNERS,
                          IMP_NEAREST_ROUND_PREFER_FLOOR, y);
  check (close_to (y, (const double[]) { 1, 1, 2, 2, 3 }, 5), "resize ref align_corners floor");
  imp_resize_nearest_ref (1, 1, 3, three, 1, 5, 1, 5.0f / 3, IMP_COORD_ALIGN_CORNERS,
                          IMP_NEAREST_ROUND_PREFER_CEIL, y);
  check (close_to (y, (const double[]) { 1, 2, 2, 3, 3 }, 5), "resize ref align_corners ceil");
  /* half_pixel 3 -> 5, scale 5/3: x = (o + .5) * .6 - .5 = -.2, .4, 1, 1.6, 2.2 */
  imp_resize_nearest_ref (1, 1, 3, three, 1, 5, 1, 5.0f / 3, IMP_COORD_HALF_PIXEL,
                          IMP_NEAREST_ROUND_PREFER_FLOOR, y);
  check (close_to (y, (const double[]) { 1, 1, 2, 3, 3 }, 5), "resize ref half_pixel");
  /* tf_half_pixel_for_nn 3 -> 5: x = (o + .5) * .6 = .3, .9, 1.5, 2.1, 2.7 */
  imp_resize_nearest_ref (1, 1, 3, three, 1, 5, 1, 5.0f / 3, IMP_COORD_TF_HALF_PIXEL_FOR_NN,
                          IMP_NEAREST_FLOOR, y);
  check (close_to (y, (const double[]) { 1, 1, 2, 3, 3 }, 5), "resize ref tf_half_pixel floor");
  imp_resize_nearest_ref (1, 1, 3, three, 1, 5, 1, 5.0f / 3, IMP_COORD_TF_HALF_PIXEL_FOR_NN,
                          IMP_NEAREST_ROUND_PREFER_CEIL, y);
  check (close_to (y, (const double[]) { 1, 2, 3, 3, 3 }, 5), "resize ref tf_half_pixel ceil");
  /* 3 -> 1, scale 1/3: pytorch_half_pixel maps to 0, half_pixel to (0.5) * 3 - 0.5 = 1 */
  imp_resize_nearest_ref (1, 1, 3, three, 1, 1, 1, 1.0f / 3, IMP_COORD_PYTORCH_HALF_PIXEL,
                          IMP_NEAREST_ROUND_PREFER_FLOOR, y);
  check (y[0] == 1, "resize ref pytorch_half_pixel to length 1");
  imp_resize_nearest_ref (1, 1, 3, three, 1, 1, 1, 1.0f / 3, IMP_COORD_HALF_PIXEL,
                          IMP_NEAREST_ROUND_PREFER_FLOOR, y);
  check (y[0] == 2, "resize ref half_pixel to length 1");
  /* asymmetric downscale 5 -> 2 with scale 0.4: x = 0, 2.5 -> ceil 0, 3 */
  float five[5] = { 1, 2, 3, 4, 5 };
  imp_resize_nearest_ref (1, 1, 5, five, 1, 2, 1, 0.4f, IMP_COORD_ASYMMETRIC, IMP_NEAREST_CEIL, y);
  check (close_to (y, (const double[]) { 1, 4 }, 2), "resize ref asymmetric ceil");

  const float scales[] = { 2, 2, 2, 3, 1, 0.5f, 1.5f, 0.7f, 2.3f, 1.25f, 4 };
  for (int it = 0; it < 400; it++) {
    int c = rnd (1, 3), h = rnd (1, 12), w = rnd (1, 12);
    float sh = scales[rnd (0, 10)], sw = rnd (0, 1) ? sh : scales[rnd (0, 10)];
    int oh = IMP_MAX (1, (int) floorf (h * sh)), ow = IMP_MAX (1, (int) floorf (w * sw));
    ImpCoordMode coord = (ImpCoordMode) rnd (0, 4);
    ImpNearestMode nearest = (ImpNearestMode) rnd (0, 3);
    if (it < 40) { /* the models' mode: asymmetric + floor (Upsample opset 9) */
      coord = IMP_COORD_ASYMMETRIC;
      nearest = IMP_NEAREST_FLOOR;
    }
    size_t n = (size_t) c * oh * ow;
    float *x = rand_buf ((size_t) c * h * w, -1, 1), *ya = rand_buf (n, 0, 0);
    float *yb = rand_buf (n, 0, 0);
    imp_resize_nearest_ref (c, h, w, x, oh, ow, sh, sw, coord, nearest, ya);
    imp_resize_nearest (c, h, w, x, oh, ow, sh, sw, coord, nearest, yb, rnd (0, 3) ? pool2 : NULL);
    size_t at;
    double q = worst_ratio (yb, ya, NULL, n, 0.0, &at);
    check (q <= 1.0, "resize c %d %dx%d -> %dx%d scales %g,%g coord %d nearest %d: mismatch at %zu",
           c, h, w, oh, ow, sh, sw, coord, nearest, at);
    free (x);
    free (ya);
    free (yb);
  }
  op_end ("resize_nearest");
}

/* ------------------------------------------------------------------------------------------- */
/* The kernels under test, one row each: a new operator's kernel adds a row (and its cases). */
static const struct {
  const char *op;
  void (*run) (void);
} kernel_tests[] = {
  { "Pad", test_pad },
  { "Conv", test_conv },
  { "ConvTranspose", test_convt },
  { "InstanceNormalization", test_instnorm },
  { "Unary", test_unary },
  { "Binary", test_binary },
  { "Resize", test_resize },
};

int main (void)
{
  const char *env = getenv ("IMPASTO_SEED");
  uint64_t seed = env ? strtoull (env, NULL, 10) : (uint64_t) time (NULL);
  rng_state = seed;
  printf ("seed %llu (set IMPASTO_SEED to repeat)\n", (unsigned long long) seed);
  pool2 = imp_pool_new (2);

  for (size_t i = 0; i < sizeof kernel_tests / sizeof kernel_tests[0]; i++) {
    printf ("# %s\n", kernel_tests[i].op);
    kernel_tests[i].run ();
  }

  imp_pool_free (pool2);
  printf ("%d passed, %d failed\n", n_passed, n_failed);
  return n_failed ? 1 : 0;
}
