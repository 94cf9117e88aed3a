/* SPDX-License-Identifier: GPL-3.0-or-later */
/* norm.c — InstanceNormalization, per-channel sums and per-channel affine (BatchNorm).
 *
 * Parallel scheme: the [c, hw] tensor is cut into (channel, slice) tasks, a slice being at most
 * SLICE floats of one channel.  With many channels every channel is one task; with few channels
 * and a large image (e.g. 3 channels at 4 Mpixel) the slices keep both cores busy.  Statistics
 * are accumulated per slice in double and reduced per channel in slice order (deterministic). */
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <string.h>

#define SLICE ((size_t) 65536)

/* Oracle: mean, then population variance from the deviations, in double. */
void imp_instnorm_ref (int c, size_t hw, const float *x, const float *scale, const float *bias,
                       float eps, float *y)
{
  for (int ch = 0; ch < c; ch++) {
    const float *xc = x + (size_t) ch * hw;
    float *yc = y + (size_t) ch * hw;
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < hw; i++)
      mean += xc[i];
    mean /= (double) hw;
    for (size_t i = 0; i < hw; i++)
      var += (xc[i] - mean) * (xc[i] - mean);
    var /= (double) hw;
    double inv = 1.0 / sqrt (var + eps);
    for (size_t i = 0; i < hw; i++)
      yc[i] = (float) (scale[ch] * (xc[i] - mean) * inv + bias[ch]);
  }
}

void imp_channel_affine_ref (int c, size_t hw, const float *x, const float *mul, const float *add,
                             bool relu, float *y)
{
  for (int ch = 0; ch < c; ch++)
    for (size_t i = 0; i < hw; i++) {
      float v = x[(size_t) ch * hw + i] * mul[ch] + add[ch];
      y[(size_t) ch * hw + i] = relu && v < 0.0f ? 0.0f : v;
    }
}

/* ------------------------------------------------------------------------------------------- */
typedef struct {
  int c;
  size_t hw;
  size_t slices;    /* per channel */
  const float *x;
  float *y;
  double *part;     /* [c * slices][2]: sum, sum of squares per slice */
  const float *sub, *mul, *add; /* y = (x - sub) * mul + add; sub may be NULL */
  bool relu;
} SliceJob;

static void slice_range (const SliceJob *j, int64_t task, size_t *ch, size_t *i0, size_t *i1)
{
  *ch = (size_t) task / j->slices;
  size_t sl = (size_t) task % j->slices;
  *i0 = sl * SLICE;
  *i1 = IMP_MIN (j->hw, *i0 + SLICE);
}

/* Sum and sum of squares of n floats in double; 4 independent accumulators for ILP. */
static void sums (const float *x, size_t n, double *s_out, double *q_out)
{
  double s[4] = { 0 }, q[4] = { 0 };
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) {
      double v = x[i + k];
      s[k] += v;
      q[k] += v * v;
    }
  for (; i < n; i++) {
    double v = x[i];
    s[0] += v;
    q[0] += v * v;
  }
  *s_out = (s[0] + s[1]) + (s[2] + s[3]);
  *q_out = (q[0] + q[1]) + (q[2] + q[3]);
}

static void sums_task (void *ctx, int64_t task, int thread)
{
  const SliceJob *j = ctx;
  size_t ch, i0, i1;
  slice_range (j, task, &ch, &i0, &i1);
  sums (j->x + ch * j->hw + i0, i1 - i0, &j->part[2 * task], &j->part[2 * task + 1]);
}

static void affine_task (void *ctx, int64_t task, int thread)
{
  const SliceJob *j = ctx;
  size_t ch, i0, i1;
  slice_range (j, task, &ch, &i0, &i1);
  const float *src = j->x + ch * j->hw;
  float *dst = j->y + ch * j->hw;
  float m = j->mul[ch], a = j->add[ch], sh = j->sub ? j->sub[ch] : 0.0f;
  if (j->relu) {
    for (size_t i = i0; i < i1; i++) {
      float v = (src[i] - sh) * m + a;
      dst[i] = v > 0.0f ? v : 0.0f;
    }
  } else {
    for (size_t i = i0; i < i1; i++)
      dst[i] = (src[i] - sh) * m + a;
  }
}

static SliceJob slice_job (int c, size_t hw, const float *x, float *y)
{
  SliceJob j = { c, hw, (hw + SLICE - 1) / SLICE, x, y, NULL, NULL, NULL, NULL, false };
  if (j.slices == 0)
    j.slices = 1;
  return j;
}

/* Partial sums of every slice into part (c * slices pairs), then reduced into sum/sumsq.
 * part may be NULL when the allocation failed: then it is done serially per channel. */
static void gather_sums (SliceJob *j, double *sum, double *sumsq, ImpPool *pool)
{
  size_t n_tasks = (size_t) j->c * j->slices;
  j->part = imp_alloc (n_tasks, 2 * sizeof (double), "channel sums", NULL);
  if (!j->part) {
    for (int ch = 0; ch < j->c; ch++) {
      double s, q;
      sums (j->x + (size_t) ch * j->hw, j->hw, &s, &q);
      sum[ch] += s;
      sumsq[ch] += q;
    }
    return;
  }
  imp_pool_run (pool, (int64_t) n_tasks, sums_task, j);
  for (int ch = 0; ch < j->c; ch++)
    for (size_t sl = 0; sl < j->slices; sl++) {
      sum[ch] += j->part[2 * ((size_t) ch * j->slices + sl)];
      sumsq[ch] += j->part[2 * ((size_t) ch * j->slices + sl) + 1];
    }
  imp_free (j->part);
  j->part = NULL;
}

void imp_channel_sums (int c, size_t hw, const float *x, double *sum, double *sumsq, ImpPool *pool)
{
  if (c <= 0 || hw == 0)
    return;
  SliceJob j = slice_job (c, hw, x, NULL);
  gather_sums (&j, sum, sumsq, pool);
}

void imp_channel_affine (int c, size_t hw, const float *x, const float *mul, const float *add,
                         bool relu, float *y, ImpPool *pool)
{
  if (c <= 0 || hw == 0)
    return;
  SliceJob j = slice_job (c, hw, x, y);
  j.mul = mul;
  j.add = add;
  j.relu = relu;
  imp_pool_run (pool, (int64_t) c * (int64_t) j.slices, affine_task, &j);
}

/* Small fixed-size channel counts use the stack; the model's norms have <= 128 channels. */
#define STACK_CHANNELS 512

static void instnorm (int c, size_t hw, const float *x, const double *known, const float *scale,
                      const float *bias, float eps, bool relu, float *y, ImpPool *pool);

void imp_instnorm (int c, size_t hw, const float *x, const float *scale, const float *bias,
                   float eps, bool relu, float *y, ImpPool *pool)
{
  instnorm (c, hw, x, NULL, scale, bias, eps, relu, y, pool);
}

void imp_instnorm_sums (int c, size_t hw, const float *x, const double *sums, const float *scale,
                        const float *bias, float eps, bool relu, float *y, ImpPool *pool)
{
  instnorm (c, hw, x, sums, scale, bias, eps, relu, y, pool);
}

/* Two passes: statistics (sum, sum of squares in double), then y = (x - mean) * mul + bias
 * (+ relu) with mul = scale / sqrt(var + eps); subtracting the mean first avoids the cancellation
 * of x * mul + (bias - mean * mul) when |mean| >> std.  E[x^2] - E[x]^2 in double is accurate
 * to ~1e-9 relative for float activations of moderate mean/std ratio, far below float precision.
 * known: the sums [2, c] of x, or NULL to gather them here (a first pass). */
static void instnorm (int c, size_t hw, const float *x, const double *known, const float *scale,
                      const float *bias, float eps, bool relu, float *y, ImpPool *pool)
{
  if (c <= 0 || hw == 0)
    return;
  double stack_d[2 * STACK_CHANNELS];
  float stack_f[2 * STACK_CHANNELS]; /* mul, mean */
  double *sum = stack_d;
  float *mul = stack_f;
  void *heap_d = NULL, *heap_f = NULL;
  if (c > STACK_CHANNELS) {
    heap_d = imp_alloc ((size_t) c, 2 * sizeof (double), "instnorm stats", NULL);
    heap_f = imp_alloc ((size_t) c, 2 * sizeof (float), "instnorm coefficients", NULL);
    if (!heap_d || !heap_f) {
      /* out of memory for a few KiB: fall back to the oracle, which needs nothing */
      imp_free (heap_d);
      imp_free (heap_f);
      imp_instnorm_ref (c, hw, x, scale, bias, eps, y);
      if (relu)
        imp_unary (IMP_UNARY_RELU, 0, 0, (size_t) c * hw, y, y, pool);
      return;
    }
    sum = heap_d;
    mul = heap_f;
  }
  double *sumsq = sum + c;
  float *mean_f = mul + c;
  SliceJob j = slice_job (c, hw, x, y);
  if (known) {
    memcpy (sum, known, 2 * (size_t) c * sizeof (double));
  } else {
    for (int ch = 0; ch < c; ch++)
      sum[ch] = sumsq[ch] = 0.0;
    gather_sums (&j, sum, sumsq, pool);
  }
  for (int ch = 0; ch < c; ch++) {
    double mean = sum[ch] / (double) hw;
    double var = sumsq[ch] / (double) hw - mean * mean;
    if (var < 0.0)
      var = 0.0;
    double m = scale[ch] / sqrt (var + eps);
    mul[ch] = (float) m;
    mean_f[ch] = (float) mean;
  }
  j.sub = mean_f;
  j.mul = mul;
  j.add = bias;
  j.relu = relu;
  imp_pool_run (pool, (int64_t) c * (int64_t) j.slices, affine_task, &j);
  imp_free (heap_d);
  imp_free (heap_f);
}
