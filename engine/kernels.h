/* kernels.h — the compute kernels of the engine.
 *
 * Every op has a naive reference implementation (*_ref: plain loops, obviously correct, the oracle
 * of tests/test_ops.c) and a fast one used by the executor.  Activations are float32, one batch
 * item at a time, planar: [C, H, W] row-major.  Kernels never allocate unboundedly without
 * checking, never exit, and report failures through ImpastoError. */
#ifndef IMP_KERNELS_H
#define IMP_KERNELS_H

#include "impasto.h"
#include "pool.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------- */
/* Padding modes shared by Pad and by Conv (a Pad feeding a Conv is fused into it).             */
typedef enum { IMP_PAD_CONSTANT = 0, IMP_PAD_REFLECT, IMP_PAD_EDGE } ImpPadMode;

/* Index of padded coordinate i (may be < 0 or >= n) in [0, n) for reflect/edge; -1 for constant
 * outside.  Reflect requires -n < i < 2n - 1 (ONNX: pad < dim). */
static inline int64_t imp_pad_index (int64_t i, int64_t n, ImpPadMode mode)
{
  if (i >= 0 && i < n) return i;
  switch (mode) {
  case IMP_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
  case IMP_PAD_EDGE:    return i < 0 ? 0 : n - 1;
  default:              return -1;
  }
}

/* x [c, h, w] -> y [c, h + t + b, w + l + r].  All pads >= 0; reflect needs t, b < h and l, r < w. */
void imp_pad2d_ref (int c, int h, int w, const float *x, int t, int l, int b, int r,
                    ImpPadMode mode, float value, float *y);
void imp_pad2d (int c, int h, int w, const float *x, int t, int l, int b, int r,
                ImpPadMode mode, float value, float *y, ImpPool *pool);

/* ------------------------------------------------------------------------------------------- */
/* Conv2d (ONNX Conv, 2-D).                                                                     */
typedef struct {
  int in_c, out_c, group;
  int kh, kw;
  int stride_h, stride_w;
  int dil_h, dil_w;
  int pad_t, pad_l, pad_b, pad_r; /* >= 0 */
  ImpPadMode pad_mode;            /* CONSTANT (zero) for plain ONNX Conv; REFLECT/EDGE when a Pad
                                     was fused into the conv */
} ImpConvShape;

/* Output size for an h x w input; false if the output would be empty. */
bool imp_conv_out_size (const ImpConvShape *s, int64_t h, int64_t w, int64_t *oh, int64_t *ow);

/* Oracle.  x [in_c, h, w], weight [out_c, in_c / group, kh, kw], bias [out_c] or NULL
 * -> y [out_c, oh, ow]. */
void imp_conv2d_ref (const ImpConvShape *s, int h, int w, const float *x, const float *weight,
                     const float *bias, float *y);

/* Prepared convolution: weights packed once at load, algorithm chosen from the shape
 * (e.g. Winograd for 3x3 stride 1, im2col + sgemm otherwise). */
typedef struct ImpConv ImpConv;
ImpConv *imp_conv_new (const ImpConvShape *s, const float *weight, const float *bias,
                       ImpastoError *err);
void imp_conv_free (ImpConv *conv);
const ImpConvShape *imp_conv_shape (const ImpConv *conv);
ImpastoStatus imp_conv_run (const ImpConv *conv, int h, int w, const float *x, float *y,
                            ImpPool *pool, ImpastoError *err);

/* The fast convolutions' shared pieces (engine/conv.c):
 * a k x k conv of the given stride, dilation 1, group 1 and channels >= 1, with every pad
 * in 0..max_pad and a known pad mode; */
bool imp_conv_fast_shape (const ImpConvShape *s, int k, int stride, int max_pad);
/* the run-time checks they share: pointers given, a non-empty input, reflect pads smaller than
 * the input, a non-empty output; *oh, *ow the output size.  name prefixes the messages. */
ImpastoStatus imp_conv_fast_check (const char *name, const ImpConvShape *s, bool have_ptrs, int h,
                                   int w, int *oh, int *ow, ImpastoError *err);
/* weight [out_c, in_c, kk] -> *w [n_blocks][in_c][kk][ob] with n_blocks = ceil(out_c / ob), and
 * bias (or zeros) -> *bias_out [n_blocks * ob], both allocated here (tail lanes 0); false with err
 * set when they cannot be. */
bool imp_conv_pack_oc_blocks (const float *weight, const float *bias, int out_c, int in_c, int kk,
                              int ob, float **w, float **bias_out, ImpastoError *err);

/* A conv input [in_c, h, w] read through index maps from x [in_c, src_h, src_w]: element
 * (c, i, j) is x[c, rows[i], cols[j]], or 0 where rows[i] < 0.  A nearest upsampling fused into
 * the convolution that follows it: the upsampled image is never written out.  cols_double says
 * cols[j] == j / 2 (upsampling x2), which has a fast path. */
typedef struct {
  const float *x;
  int src_h, src_w;
  const int32_t *rows, *cols;
  bool cols_double;
} ImpGather;

/* imp_conv_run on a gathered input; IMPASTO_E_UNSUPPORTED (err untouched) when this conv's
 * algorithm has no gather path (only Winograd has one). */
ImpastoStatus imp_conv_run_gather (const ImpConv *conv, int h, int w, const ImpGather *g,
                                   float *y, ImpPool *pool, ImpastoError *err);

/* dst[2k] = dst[2k + 1] = src[k] for k < n (nearest x2 along a row). */
void imp_duplicate2 (const float *src, float *dst, size_t n);

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
ImpConvT *imp_convt_new (const ImpConvTShape *s, const float *weight, const float *bias,
                         ImpastoError *err);
void imp_convt_free (ImpConvT *conv);
ImpastoStatus imp_convt_run (const ImpConvT *conv, int h, int w, const float *x, float *y,
                             ImpPool *pool, ImpastoError *err);

/* ------------------------------------------------------------------------------------------- */
/* Normalisation.                                                                               */

/* InstanceNormalization: per channel y = scale * (x - mean) / sqrt(var + eps) + bias
 * (population variance).  x [c, hw]; y may equal x. */
void imp_instnorm_ref (int c, size_t hw, const float *x, const float *scale, const float *bias,
                       float eps, float *y);
/* Fast version; relu != 0 applies max(0, .) afterwards (fused InstanceNorm + Relu). */
void imp_instnorm (int c, size_t hw, const float *x, const float *scale, const float *bias,
                   float eps, bool relu, float *y, ImpPool *pool);

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

#endif
