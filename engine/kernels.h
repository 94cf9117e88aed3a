/* kernels.h — the compute kernels of the engine.
 *
 * Every op has a naive reference implementation (*_ref: plain loops, obviously correct, the oracle
 * of tests/test_ops.c) and a fast one used by the executor.  Activations are float32, one batch
 * item at a time, planar: [C, H, W] row-major.  Kernels never allocate unboundedly without
 * checking, never exit, and report failures through ImpastoError. */
#ifndef IMP_KERNELS_H
#define IMP_KERNELS_H

#include "conv_common.h"
#include "impasto.h"
#include "pool.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x [c, h, w] -> y [c, h + t + b, w + l + r].  All pads >= 0; reflect needs t, b < h and l, r < w. */
void imp_pad2d_ref (int c, int h, int w, const float *x, int t, int l, int b, int r,
                    ImpPadMode mode, float value, float *y);
void imp_pad2d (int c, int h, int w, const float *x, int t, int l, int b, int r,
                ImpPadMode mode, float value, float *y, ImpPool *pool);

/* ------------------------------------------------------------------------------------------- */
/* Conv2d (ONNX Conv, 2-D): ImpConvShape and the shared helpers are in conv_common.h.           */
/* Oracle.  x [in_c, h, w], weight [out_c, in_c / group, kh, kw], bias [out_c] or NULL
 * -> y [out_c, oh, ow]. */
void imp_conv2d_ref (const ImpConvShape *s, int h, int w, const float *x, const float *weight,
                     const float *bias, float *y);

/* Prepared convolution: weights packed once at load, algorithm chosen from the shape
 * (e.g. Winograd for 3x3 stride 1, im2col + sgemm otherwise). */
typedef struct ImpConv ImpConv;
ImpConv *imp_conv_new (const ImpConvShape *s, const float *weight, const float *bias,
                       ImpastoError *err);
/* The same; with borrow, weight may be referenced instead of copied, so it must outlive the conv
 * (the model's constants do). */
ImpConv *imp_conv_new_borrowed (const ImpConvShape *s, const float *weight, const float *bias,
                                bool borrow, ImpastoError *err);
void imp_conv_free (ImpConv *conv);
const ImpConvShape *imp_conv_shape (const ImpConv *conv);
ImpastoStatus imp_conv_run (const ImpConv *conv, int h, int w, const float *x, float *y,
                            ImpPool *pool, ImpastoError *err);

/* imp_conv_run that also gives sums [2, out_c] (each output channel's sum and sum of squares, in
 * double) when its algorithm gathers them on the way (Winograd): *have says whether it did. */
ImpastoStatus imp_conv_run_sums (const ImpConv *conv, int h, int w, const float *x, float *y,
                                 double *sums, bool *have, ImpPool *pool, ImpastoError *err);

/* imp_conv_run on a gathered input; IMPASTO_E_UNSUPPORTED (err untouched) when this conv's
 * algorithm has no gather path (only Winograd has one). */
ImpastoStatus imp_conv_run_gather (const ImpConv *conv, int h, int w, const ImpGather *g,
                                   float *y, ImpPool *pool, ImpastoError *err);

/* ------------------------------------------------------------------------------------------- */
/* ConvTranspose2d (ONNX ConvTranspose, 2-D).                                                   */
typedef struct {
  int in_c, out_c, group;
  int kh, kw;
  int stride_h, stride_w;
  int dil_h, dil_w;
  int pad_t, pad_l, pad_b, pad_r;
  int out_pad_h, out_pad_w;
} ImpConvTShape;

/* oh = (h - 1) * stride_h - pad_t - pad_b + dil_h * (kh - 1) + out_pad_h + 1 (same for w). */
bool imp_convt_out_size (const ImpConvTShape *s, int64_t h, int64_t w, int64_t *oh, int64_t *ow);
/* x [in_c, h, w], weight [in_c, out_c / group, kh, kw], bias [out_c] or NULL -> y [out_c, oh, ow] */
void imp_convt2d_ref (const ImpConvTShape *s, int h, int w, const float *x, const float *weight,
                      const float *bias, float *y);
typedef struct ImpConvT ImpConvT;
/* weight is borrowed: it must outlive the conv (the model's constants do) */
ImpConvT *imp_convt_new (const ImpConvTShape *s, const float *weight, const float *bias,
                         ImpastoError *err);
void imp_convt_free (ImpConvT *conv);
ImpastoStatus imp_convt_run (const ImpConvT *conv, int h, int w, const float *x, float *y,
                             ImpPool *pool, ImpastoError *err);
/* The phase path (convt.c) is used: 4x4 kernel, stride 2, pads 1, group 1, no dilation or output
 * padding (unless IMPASTO_CONVT_COL is set: the col path for every shape). */
bool imp_convt_phase_eligible (const ImpConvTShape *s);
/* imp_convt_run on an input given in n_parts parts, each xs[k] [cs[k], h, w], joined along the
 * channels (a fused Concat); relu: max(0, x) applied to the input first (a fused Relu). */
ImpastoStatus imp_convt_run_parts (const ImpConvT *conv, int h, int w, int n_parts,
                                   const float *const *xs, const int *cs, bool relu, float *y,
                                   ImpPool *pool, ImpastoError *err);
/* Input rows [*iy0, *iy1) of an h-row input that output rows [oy0, oy1) read (may be empty:
 * rows only the output padding or the bias reach). */
void imp_convt_in_rows (const ImpConvTShape *s, int64_t h, int64_t oy0, int64_t oy1,
                        int64_t *iy0, int64_t *iy1);
/* Output rows [y_r0, y_r0 + y_rows) into y [out_c, y_rows, ow] of an h x w input, from x
 * [in_c, x_rows, w] holding input rows [x_r0, x_r0 + x_rows), which must include the rows
 * imp_convt_in_rows names (a banded run). */
ImpastoStatus imp_convt_run_rows (const ImpConvT *conv, int h, int w, const float *x, int x_r0,
                                  int x_rows, float *y, int y_r0, int y_rows, ImpPool *pool,
                                  ImpastoError *err);

/* ------------------------------------------------------------------------------------------- */
/* Normalisation.                                                                               */

/* InstanceNormalization: per channel y = scale * (x - mean) / sqrt(var + eps) + bias
 * (population variance).  x [c, hw]; y may equal x. */
void imp_instnorm_ref (int c, size_t hw, const float *x, const float *scale, const float *bias,
                       float eps, float *y);
/* Fast version; relu != 0 applies max(0, .) afterwards (fused InstanceNorm + Relu). */
void imp_instnorm (int c, size_t hw, const float *x, const float *scale, const float *bias,
                   float eps, bool relu, float *y, ImpPool *pool);
/* The same with the channel sums known (sums [2, c]: sum and sum of squares of x per channel,
 * e.g. from imp_conv_run_sums): no pass to gather them. */
void imp_instnorm_sums (int c, size_t hw, const float *x, const double *sums, const float *scale,
                        const float *bias, float eps, bool relu, float *y, ImpPool *pool);

/* Per-channel sums (for statistics gathered across tiles): sum[ch] += sum x, sumsq[ch] += sum x^2,
 * accumulated in double.  x [c, hw]. */
void imp_channel_sums (int c, size_t hw, const float *x, double *sum, double *sumsq, ImpPool *pool);

/* Per-channel affine y = x * mul[ch] + add[ch], then relu when asked.  x [c, hw]; y may equal x.
 * Serves BatchNormalization (inference) and InstanceNorm with known statistics. */
void imp_channel_affine_ref (int c, size_t hw, const float *x, const float *mul, const float *add,
                             bool relu, float *y);
void imp_channel_affine (int c, size_t hw, const float *x, const float *mul, const float *add,
                         bool relu, float *y, ImpPool *pool);

/* ------------------------------------------------------------------------------------------- */
/* Elementwise.                                                                                 */
typedef enum {
  IMP_UNARY_RELU,
  IMP_UNARY_LEAKY_RELU, /* alpha */
  IMP_UNARY_SIGMOID,
  IMP_UNARY_TANH,
  IMP_UNARY_CLIP,       /* alpha = min, beta = max */
  IMP_UNARY_SQRT,
} ImpUnaryOp;

/* y[i] = op(x[i]); y may equal x. */
void imp_unary_ref (ImpUnaryOp op, float alpha, float beta, size_t n, const float *x, float *y);
void imp_unary (ImpUnaryOp op, float alpha, float beta, size_t n, const float *x, float *y,
                ImpPool *pool);

typedef enum { IMP_BINARY_ADD, IMP_BINARY_SUB, IMP_BINARY_MUL, IMP_BINARY_DIV } ImpBinaryOp;

/* Numpy broadcasting.  a and b have rank `rank` (lower ranks padded with leading 1s by the
 * caller); out_dims[i] = max(a_dims[i], b_dims[i]) and each input dim is 1 or out_dims[i].
 * y may equal a or b when that input has the output's shape. */
void imp_binary_ref (ImpBinaryOp op, int rank, const int64_t *out_dims, const float *a,
                     const int64_t *a_dims, const float *b, const int64_t *b_dims, float *y);
void imp_binary (ImpBinaryOp op, int rank, const int64_t *out_dims, const float *a,
                 const int64_t *a_dims, const float *b, const int64_t *b_dims, float *y,
                 ImpPool *pool);

/* ------------------------------------------------------------------------------------------- */
/* Resize / Upsample, nearest neighbour (ONNX Resize mode "nearest"; Upsample = asymmetric+floor). */
typedef enum {
  IMP_COORD_HALF_PIXEL,
  IMP_COORD_ASYMMETRIC,
  IMP_COORD_ALIGN_CORNERS,
  IMP_COORD_PYTORCH_HALF_PIXEL,
  IMP_COORD_TF_HALF_PIXEL_FOR_NN,
} ImpCoordMode;

typedef enum {
  IMP_NEAREST_ROUND_PREFER_FLOOR,
  IMP_NEAREST_ROUND_PREFER_CEIL,
  IMP_NEAREST_FLOOR,
  IMP_NEAREST_CEIL,
} ImpNearestMode;

/* x [c, h, w] -> y [c, oh, ow].  scale_h, scale_w are the model's scales (output / input; used by
 * the coordinate transform as ONNX specifies). */
void imp_resize_nearest_ref (int c, int h, int w, const float *x, int oh, int ow, float scale_h,
                             float scale_w, ImpCoordMode coord, ImpNearestMode nearest, float *y);
void imp_resize_nearest (int c, int h, int w, const float *x, int oh, int ow, float scale_h,
                         float scale_w, ImpCoordMode coord, ImpNearestMode nearest, float *y,
                         ImpPool *pool);

/* GlobalAveragePool: x [c, hw] -> y [c]. */
void imp_global_avgpool_ref (int c, size_t hw, const float *x, float *y);

/* Mean over the axes marked in reduce: x has dims[0..rank), y the same with those axes 1. */
void imp_reduce_mean_ref (int rank, const int64_t *dims, const bool *reduce, const float *x, float *y);

/* 2-D max pooling window: kernel, strides, pads (t, l, b, r), ceil_mode (ONNX MaxPool). */
typedef struct { int kh, kw, sh, sw, pt, pl, pb, pr; bool ceil_mode; } ImpPoolShape;
/* Output H and W for an input of h x w; false when the window does not fit. */
bool imp_maxpool_out_size (const ImpPoolShape *p, int64_t h, int64_t w, int64_t *oh, int64_t *ow);
/* Planes x [c, h, w] -> y [c, oh, ow]: the largest input value under each window (padding never
 * wins).  Naive, and the reference the tests hold it to. */
void imp_maxpool_ref (const ImpPoolShape *p, int c, int64_t h, int64_t w, const float *x, float *y);

#endif
