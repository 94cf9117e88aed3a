/* conv_check.h — comparing a fast convolution's output with the oracle's (imp_conv2d_ref), shared by
 * tests/test_winograd.c and tests/test_conv_direct.c.
 *
 * Tolerance: |y - ref| <= tol * scale per output channel, scale = |bias| + max|x| * sum|w| (the
 * largest value that channel can take): the fast algorithms mix whole input patches, so their error
 * follows the input's range, not the result's. */
#ifndef TEST_CONV_CHECK_H
#define TEST_CONV_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stddef.h>

/* Number of outputs off; prints the first one; updates *worst_ratio (largest error / scale).
 * y, ref [out_c, plane]; wt [out_c, k]; bias [out_c] or NULL. */
static size_t conv_outputs_off (const float *y, const float *ref, int out_c, size_t plane,
                                const float *wt, size_t k, const float *bias, double xmax,
                                double tol, double *worst_ratio)
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
      if (scale > 0 && e / scale > *worst_ratio)
        *worst_ratio = e / scale;
    }
  }
  if (bad)
    printf ("  %zu of %zu outputs off, first at %zu: %g vs %g\n", bad, (size_t) out_c * plane,
            first, y[first], ref[first]);
  return bad;
}

#endif
