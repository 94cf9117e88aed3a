/* conv_check.h — what the fast-convolution tests share (tests/test_winograd.c, test_conv_direct.c,
 * test_conv_s2.c): pass/fail counting, a deterministic random source, and comparing a fast
 * convolution's output with the oracle's (imp_conv2d_ref).
 *
 * Tolerance: |y - ref| <= tol * scale per output channel, scale = |bias| + max|x| * sum|w| (the
 * largest value that channel can take): the fast algorithms mix whole input patches, so their error
 * follows the input's range, not the result's. */
#ifndef TEST_CONV_CHECK_H
#define TEST_CONV_CHECK_H

#include "kernels.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static double worst_ratio; /* largest error / scale seen (conv_outputs_off) */

static void check (bool ok, const char *what)
{
  if (ok) {
    passed++;
  } else {
    failed++;
    printf ("FAIL: %s\n", what);
  }
}

/* xorshift, deterministic; a test may set its own seed in rng_state before the first draw */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd (void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t) (rng_state >> 32);
}
static int rnd_int (int lo, int hi) /* inclusive */
{
  return lo + (int) (rnd () % (uint32_t) (hi - lo + 1));
}
static float rnd_float (void) /* -1 .. 1 */
{
  return (float) rnd () / 2147483648.0f - 1.0f;
}

/* Kernel flavours a test runs through, capped by an IMPASTO_*_ISA variable (util.h imp_isa):
 * portable C, AVX2, then the widest this CPU has.  Returns whether flavour i is a capped one. */
#define N_ISA_CAPS 3
static bool use_isa_cap (const char *env, int i)
{
  static const char *const caps[N_ISA_CAPS] = { "c", "avx2", NULL };
  if (caps[i])
    setenv (env, caps[i], 1);
  else
    unsetenv (env);
  return caps[i] != NULL;
}

static const char *mode_name (ImpPadMode m)
{
  return m == IMP_PAD_CONSTANT ? "constant" : m == IMP_PAD_REFLECT ? "reflect" : "edge";
}

/* Number of outputs off; prints the first one; updates *worst (largest error / scale).
 * y, ref [out_c, plane]; wt [out_c, k]; bias [out_c] or NULL. */
static size_t conv_outputs_off (const float *y, const float *ref, int out_c, size_t plane,
                                const float *wt, size_t k, const float *bias, double xmax,
                                double tol, double *worst)
{
  size_t bad = 0, first = 0;
  for (int o = 0; o < out_c; o++) {
    double scale = bias ? fabs (bias[o]) : 0.0;
    for (size_t i = 0; i < k; i++)
      scale += xmax * fabs (wt[(size_t) o * k + i]);
    for (size_t i = (size_t) o * plane; i < (size_t) (o + 1) * plane; i++) {
      double e = fabs ((double) y[i] - ref[i]);
      if (!(e <= tol * scale) && bad++ == 0)
        first = i;
      if (scale > 0 && e / scale > *worst)
        *worst = e / scale;
    }
  }
  if (bad)
    printf ("  %zu of %zu outputs off, first at %zu: %g vs %g\n", bad, (size_t) out_c * plane,
            first, y[first], ref[first]);
  return bad;
}

/* One fast convolution under test: its entry points (wrapped to take void *) and the scales of
 * the random data it is checked on. */
typedef struct {
  bool (*eligible) (const ImpConvShape *s);
  void *(*create) (const ImpConvShape *s, const float *weight, const float *bias, ImpastoError *err);
  ImpastoStatus (*run) (const void *cv, int h, int w, const float *x, float *y, ImpPool *pool,
                        ImpastoError *err);
  void (*destroy) (void *cv);
  float x_scale, w_scale, b_scale; /* random x in +-x_scale, weights +-w_scale, bias +-b_scale */
  double tol;
} FastConv;

/* Random data through fc on shape s (kernel, stride, pads, mode set by the caller) and h x w:
 * the output must match imp_conv2d_ref within fc->tol; shapes that give no output or reflect
 * pads too large for the input must be refused with a shape error that says why. */
static void run_fast_case (const FastConv *fc, ImpPool *pool, ImpConvShape s, int h, int w,
                           bool with_bias)
{
  char what[1024];
  snprintf (what, sizeof what, "%dx%d s%d %d->%d %dx%d pads t%d l%d b%d r%d %s%s%s", s.kh, s.kw,
            s.stride_h, s.in_c, s.out_c, h, w, s.pad_t, s.pad_l, s.pad_b, s.pad_r,
            mode_name (s.pad_mode), with_bias ? " bias" : "", pool ? " pool" : "");
  int ph = h + s.pad_t + s.pad_b, pw = w + s.pad_l + s.pad_r;
  bool empty = ph < s.kh || pw < s.kw;
  int oh = empty ? 0 : (ph - s.kh) / s.stride_h + 1, ow = empty ? 0 : (pw - s.kw) / s.stride_w + 1;
  size_t k = (size_t) s.in_c * s.kh * s.kw;
  size_t nx = (size_t) s.in_c * h * w, nw = (size_t) s.out_c * k, ny = (size_t) s.out_c * oh * ow;
  float *x = malloc (nx * sizeof *x), *wt = malloc (nw * sizeof *wt);
  float *bias = malloc ((size_t) s.out_c * sizeof *bias), *y = malloc ((ny + 1) * sizeof *y);
  float *ref = malloc ((ny + 1) * sizeof *ref);
  double xmax = 0;
  for (size_t i = 0; i < nx; i++) {
    x[i] = fc->x_scale * rnd_float ();
    xmax = fmax (xmax, fabs (x[i]));
  }
  for (size_t i = 0; i < nw; i++)
    wt[i] = fc->w_scale * rnd_float ();
  for (int i = 0; i < s.out_c; i++)
    bias[i] = fc->b_scale * rnd_float ();

  check (fc->eligible (&s), what);
  ImpastoError err = { 0 };
  void *cv = fc->create (&s, wt, with_bias ? bias : NULL, &err);
  if (!cv) {
    check (false, err.message);
  } else {
    bool reflect_bad = s.pad_mode == IMP_PAD_REFLECT
                       && (s.pad_t >= h || s.pad_b >= h || s.pad_l >= w || s.pad_r >= w);
    ImpastoStatus st = fc->run (cv, h, w, x, y, pool, &err);
    if (empty || reflect_bad) {
      bool ok = st == IMPASTO_E_SHAPE && strstr (err.message, reflect_bad ? "reflect" : "empty");
      snprintf (what + strlen (what), sizeof what - strlen (what), ": expected shape error, got "
                "%d '%s'", st, err.message);
      check (ok, what);
    } else if (st != IMPASTO_OK) {
      check (false, err.message);
    } else {
      imp_conv2d_ref (&s, h, w, x, wt, with_bias ? bias : NULL, ref); /* the engine's oracle */
      size_t bad = conv_outputs_off (y, ref, s.out_c, (size_t) oh * ow, wt, k,
                                     with_bias ? bias : NULL, xmax, fc->tol, &worst_ratio);
      check (bad == 0, what);
    }
    fc->destroy (cv);
  }
  free (x);
  free (wt);
  free (bias);
  free (y);
  free (ref);
}

/* The FastConv named `fast` for a kernel family PREFIX_eligible / _new / _run / _free on TYPE. */
#define FAST_CONV(PREFIX, TYPE, XS, WS, BS, TOL_)                                                 \
  static bool fc_eligible (const ImpConvShape *s) { return PREFIX##_eligible (s); }             \
  static void *fc_create (const ImpConvShape *s, const float *w, const float *b,                \
                          ImpastoError *err)                                                     \
  {                                                                                              \
    return PREFIX##_new (s, w, b, err);                                                          \
  }                                                                                              \
  static ImpastoStatus fc_run (const void *cv, int h, int w, const float *x, float *y,          \
                               ImpPool *pool, ImpastoError *err)                                 \
  {                                                                                              \
    return PREFIX##_run ((const TYPE *) cv, h, w, x, y, pool, err);                              \
  }                                                                                              \
  static void fc_destroy (void *cv) { PREFIX##_free (cv); }                                      \
  static const FastConv fast = { fc_eligible, fc_create, fc_run, fc_destroy, XS, WS, BS, TOL_ };

/* A group-1, dilation-1 conv shape. */
static ImpConvShape conv_shape (int in_c, int out_c, int k, int stride, int pt, int pl, int pb,
                                int pr, ImpPadMode mode)
{
  return (ImpConvShape) { .in_c = in_c, .out_c = out_c, .group = 1, .kh = k, .kw = k,
                          .stride_h = stride, .stride_w = stride, .dil_h = 1, .dil_w = 1,
                          .pad_t = pt, .pad_l = pl, .pad_b = pb, .pad_r = pr, .pad_mode = mode };
}

#endif
