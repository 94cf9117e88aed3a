/* SPDX-License-Identifier: GPL-3.0-or-later */
/* elementwise.c — unary activations, broadcasting binary arithmetic, GlobalAveragePool,
 * ReduceMean. */
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>

/* Elements per pool task: large enough to amortise the task hand-out, small enough for balance. */
#define CHUNK ((size_t) 32768)

#define MAX_RANK 8

static inline float unary_one (ImpUnaryOp op, float alpha, float beta, float v)
{
  switch (op) {
  case IMP_UNARY_RELU:       return v > 0.0f ? v : 0.0f;
  case IMP_UNARY_LEAKY_RELU: return v < 0.0f ? alpha * v : v;
  case IMP_UNARY_SIGMOID:    return 1.0f / (1.0f + expf (-v));
  case IMP_UNARY_TANH:       return tanhf (v);
  case IMP_UNARY_CLIP:       return fminf (fmaxf (v, alpha), beta); /* ONNX: min(max(x, lo), hi) */
  case IMP_UNARY_SQRT:       return sqrtf (v);
  }
  return v;
}

void imp_unary_ref (ImpUnaryOp op, float alpha, float beta, size_t n, const float *x, float *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] = unary_one (op, alpha, beta, x[i]);
}

typedef struct {
  ImpUnaryOp op;
  float alpha, beta;
  size_t n;
  const float *x;
  float *y;
} UnaryJob;

/* The switch is hoisted out of the loop so that relu/leaky/clip vectorise. */
static void unary_task (void *ctx, int64_t task, int thread)
{
  const UnaryJob *j = ctx;
  size_t i0 = (size_t) task * CHUNK, i1 = IMP_MIN (j->n, i0 + CHUNK);
  const float *x = j->x;
  float *y = j->y;
  float a = j->alpha, b = j->beta;
  switch (j->op) {
  case IMP_UNARY_RELU:
    for (size_t i = i0; i < i1; i++)
      y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    break;
  case IMP_UNARY_LEAKY_RELU:
    for (size_t i = i0; i < i1; i++)
      y[i] = x[i] < 0.0f ? a * x[i] : x[i];
    break;
  case IMP_UNARY_CLIP:
    for (size_t i = i0; i < i1; i++)
      y[i] = fminf (fmaxf (x[i], a), b);
    break;
  default:
    for (size_t i = i0; i < i1; i++)
      y[i] = unary_one (j->op, a, b, x[i]);
    break;
  }
}

void imp_unary (ImpUnaryOp op, float alpha, float beta, size_t n, const float *x, float *y,
                ImpPool *pool)
{
  UnaryJob j = { op, alpha, beta, n, x, y };
  imp_pool_run (pool, (int64_t) ((n + CHUNK - 1) / CHUNK), unary_task, &j);
}

/* ------------------------------------------------------------------------------------------- */
static inline float binary_one (ImpBinaryOp op, float a, float b)
{
  switch (op) {
  case IMP_BINARY_ADD: return a + b;
  case IMP_BINARY_SUB: return a - b;
  case IMP_BINARY_MUL: return a * b;
  case IMP_BINARY_DIV: return a / b;
  }
  return a;
}

/* Oracle: for every output index, the input offsets with broadcast dims contributing nothing. */
void imp_binary_ref (ImpBinaryOp op, int rank, const int64_t *out_dims, const float *a,
                     const int64_t *a_dims, const float *b, const int64_t *b_dims, float *y)
{
  size_t n;
  if (!imp_dims_count (out_dims, rank, &n))
    return;
  for (size_t i = 0; i < n; i++) {
    size_t rem = i, ao = 0, bo = 0, as = 1, bs = 1;
    for (int d = rank - 1; d >= 0; d--) {
      size_t idx = rem % (size_t) out_dims[d];
      rem /= (size_t) out_dims[d];
      if (a_dims[d] != 1)
        ao += idx * as;
      if (b_dims[d] != 1)
        bo += idx * bs;
      as *= (size_t) a_dims[d];
      bs *= (size_t) b_dims[d];
    }
    y[i] = binary_one (op, a[ao], b[bo]);
  }
}

/* Broadcast problem after simplification: dims of size 1 dropped, neighbouring dims with the same
 * broadcast pattern merged.  Strides are 0 on broadcast dims. */
typedef struct {
  ImpBinaryOp op;
  int rank;
  int64_t dims[MAX_RANK];
  int64_t as[MAX_RANK], bs[MAX_RANK]; /* element strides of a and b per dim */
  size_t n;
  size_t chunk;
  const float *a, *b;
  float *y;
} BinaryJob;

/* y[0..n) = a[i*sa] op b[i*sb], sa, sb in {0, 1}.  Each variant is a simple loop the compiler
 * vectorises; op is constant per call. */
static void binary_run (ImpBinaryOp op, size_t n, const float *a, int64_t sa, const float *b,
                        int64_t sb, float *y)
{
#define LOOP(EXPR) \
  do { \
    if (sa && sb) \
      for (size_t i = 0; i < n; i++) { float av = a[i], bv = b[i]; y[i] = EXPR; } \
    else if (sa) \
      for (size_t i = 0; i < n; i++) { float av = a[i], bv = b[0]; y[i] = EXPR; } \
    else if (sb) \
      for (size_t i = 0; i < n; i++) { float av = a[0], bv = b[i]; y[i] = EXPR; } \
    else \
      for (size_t i = 0; i < n; i++) { float av = a[0], bv = b[0]; y[i] = EXPR; } \
  } while (0)
  switch (op) {
  case IMP_BINARY_ADD: LOOP (av + bv); break;
  case IMP_BINARY_SUB: LOOP (av - bv); break;
  case IMP_BINARY_MUL: LOOP (av * bv); break;
  case IMP_BINARY_DIV: LOOP (av / bv); break;
  }
#undef LOOP
}

/* Output range [i0, i1): walk it row by row along the innermost dim with an odometer. */
static void binary_task (void *ctx, int64_t task, int thread)
{
  const BinaryJob *j = ctx;
  size_t i0 = (size_t) task * j->chunk, i1 = IMP_MIN (j->n, i0 + j->chunk);
  int r = j->rank;
  int64_t idx[MAX_RANK];
  size_t rem = i0;
  for (int d = r - 1; d >= 0; d--) {
    idx[d] = (int64_t) (rem % (size_t) j->dims[d]);
    rem /= (size_t) j->dims[d];
  }
  int64_t inner = j->dims[r - 1];
  for (size_t i = i0; i < i1;) {
    int64_t ao = 0, bo = 0;
    for (int d = 0; d < r; d++) {
      ao += idx[d] * j->as[d];
      bo += idx[d] * j->bs[d];
    }
    size_t seg = IMP_MIN ((size_t) (inner - idx[r - 1]), i1 - i);
    binary_run (j->op, seg, j->a + ao, j->as[r - 1], j->b + bo, j->bs[r - 1], j->y + i);
    i += seg;
    /* advance the odometer by seg: the inner index either ends the row or the range */
    idx[r - 1] += (int64_t) seg;
    for (int d = r - 1; d > 0 && idx[d] == j->dims[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
    }
  }
}

void imp_binary (ImpBinaryOp op, int rank, const int64_t *out_dims, const float *a,
                 const int64_t *a_dims, const float *b, const int64_t *b_dims, float *y,
                 ImpPool *pool)
{
  size_t n;
  if (!imp_dims_count (out_dims, rank, &n) || n == 0)
    return;
  if (rank > MAX_RANK) {
    imp_binary_ref (op, rank, out_dims, a, a_dims, b, b_dims, y);
    return;
  }
  BinaryJob j = { .op = op, .rank = 0, .n = n, .a = a, .b = b, .y = y };
  /* element strides of the full-rank inputs */
  int64_t as_full[MAX_RANK], bs_full[MAX_RANK], sa = 1, sb = 1;
  for (int d = rank - 1; d >= 0; d--) {
    as_full[d] = a_dims[d] == 1 ? 0 : sa;
    bs_full[d] = b_dims[d] == 1 ? 0 : sb;
    sa *= a_dims[d];
    sb *= b_dims[d];
  }
  /* drop size-1 output dims; merge dim d into the previous kept one when both inputs are
   * contiguous across the boundary (stride_prev == stride_d * dim_d, 0 == 0 for broadcasts) */
  for (int d = 0; d < rank; d++) {
    if (out_dims[d] == 1)
      continue;
    int k = j.rank - 1;
    if (k >= 0 && j.as[k] == as_full[d] * out_dims[d] && j.bs[k] == bs_full[d] * out_dims[d]) {
      j.dims[k] *= out_dims[d];
      j.as[k] = as_full[d];
      j.bs[k] = bs_full[d];
    } else {
      j.dims[j.rank] = out_dims[d];
      j.as[j.rank] = as_full[d];
      j.bs[j.rank] = bs_full[d];
      j.rank++;
    }
  }
  if (j.rank == 0) { /* a single element */
    j.rank = 1;
    j.dims[0] = 1;
    j.as[0] = j.bs[0] = 0;
  }
  j.chunk = CHUNK;
  imp_pool_run (pool, (int64_t) ((n + CHUNK - 1) / CHUNK), binary_task, &j);
}

/* ------------------------------------------------------------------------------------------- */
void imp_global_avgpool_ref (int c, size_t hw, const float *x, float *y)
{
  for (int ch = 0; ch < c; ch++) {
    double s = 0.0;
    for (size_t i = 0; i < hw; i++)
      s += x[(size_t) ch * hw + i];
    y[ch] = (float) (s / (double) hw);
  }
}

void imp_reduce_mean_ref (int rank, const int64_t *dims, const bool *reduce, const float *x, float *y)
{
  size_t n, m = 1;
  int64_t odims[MAX_RANK];
  if (rank < 1 || rank > MAX_RANK)
    return;
  for (int d = 0; d < rank; d++) {
    odims[d] = reduce[d] ? 1 : dims[d];
    m *= reduce[d] ? (size_t) dims[d] : 1;
  }
  if (!imp_dims_count (odims, rank, &n) || m == 0)
    return;
  double *acc = calloc (n, sizeof (double)); /* statistics: summed in double */
  if (!acc) {
    for (size_t i = 0; i < n; i++)
      y[i] = NAN;
    return;
  }
  size_t total = n * m;
  for (size_t i = 0; i < total; i++) {
    size_t rem = i, o = 0, os = 1;
    for (int d = rank - 1; d >= 0; d--) {
      size_t idx = rem % (size_t) dims[d];
      rem /= (size_t) dims[d];
      if (!reduce[d]) {
        o += idx * os;
        os *= (size_t) dims[d];
      }
    }
    acc[o] += x[i];
  }
  for (size_t i = 0; i < n; i++)
    y[i] = (float) (acc[i] / (double) m);
  free (acc);
}
