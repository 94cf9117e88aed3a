/* op.h — what an operator is: one descriptor per op, one file per op under engine/ops/.
 *
 * A descriptor says which ONNX op types it takes, how a step is built (and validated) from a node,
 * the output shape from the input shapes, the whole-tensor run (exec.c), and how the banded
 * executor (stream.c) treats it:
 *   IMP_STREAM_VIEW   its output is computed on the fly whenever rows of it are read (view);
 *   IMP_STREAM_BAND   its output is computed band by band and stored (band);
 *   IMP_STREAM_WHOLE  it needs whole tensors: a model with it always runs whole.
 * Every descriptor is written with IMP_OP, which refuses to compile without one of these.
 * Adding an operator: a file in engine/ops/, its name in IMP_OP_LIST below and in
 * engine/meson.build, and rows in the op tests (see docs/architecture.md). */
#ifndef IMP_OP_H
#define IMP_OP_H

#include "model.h"

typedef enum { IMP_STREAM_VIEW = 1, IMP_STREAM_BAND, IMP_STREAM_WHOLE } ImpStreamKind;

typedef struct ImpExec ImpExec;     /* exec.h */
typedef struct ImpStream ImpStream; /* stream.h */

struct ImpOp {
  const char *name;                /* for messages and the profile */
  const char *const *onnx_ops;     /* ONNX op types (default domain) it takes, NULL-terminated */
  ImpStreamKind stream;
  /* Fill s->u (and s->n_inputs when not 1) from node n; refuse, with a message naming the
   * attribute, anything the run would not compute exactly (the caller adds file and node). */
  ImpastoStatus (*build) (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err);
  /* out's dtype/rank/dims from the inputs' (in[k] for s->inputs[k]; out starts as a copy of
   * in[0]).  NULL, or what is wrong (the caller adds file and node). */
  const char *(*infer) (const ImpStep *s, const ImpTensor *const *in, ImpTensor *out);
  /* Whole-tensor run: inputs and output through exec.h (the caller adds file and node to an
   * error). */
  ImpastoStatus (*run) (ImpExec *x, const ImpStep *s);
  /* IMP_STREAM_VIEW: make the output value a view (stream.h). */
  ImpastoStatus (*view) (ImpStream *s, ImpStep *st);
  /* IMP_STREAM_BAND: rows [r0, r1) of the output into dst [C, r1 - r0, W]. */
  ImpastoStatus (*band) (ImpStream *s, ImpStep *st, int64_t r0, int64_t r1, float *dst);
  /* optional, IMP_STREAM_BAND: bytes of buffers one output row needs, when more than the
   * default (its own row or one row of each runtime input, whichever is larger) */
  size_t (*band_row_bytes) (const ImpStream *s, const ImpStep *st);
  /* optional: false when this step, as built, cannot run banded (the model then runs whole) */
  bool (*bandable) (const ImpGraph *g, const ImpStep *s);
  /* optional: after fusion, prepare what the run needs (packed weights) */
  ImpastoStatus (*pack) (ImpStep *s, ImpastoError *err);
  /* optional: dst (a copy of src) for the transposed image (H and W swapped): swap the op's H
   * and W parameters, transpose its weights; dst must own what release frees.  NULL: a model
   * with this op never runs transposed.  imp_op_transpose_copy: nothing depends on H vs W. */
  ImpastoStatus (*transpose) (const ImpGraph *g, ImpStep *dst, ImpastoError *err);
  /* optional: free what build (or a banded run) allocated in s->u */
  void (*release) (ImpStep *s);
};

#define IMP_STREAM_KIND_VALID(k) ((k) == IMP_STREAM_VIEW || (k) == IMP_STREAM_BAND || (k) == IMP_STREAM_WHOLE)

/* Defines descriptor imp_op_IDENT.  The streaming kind is a required argument, checked at
 * compile time: an op without a streaming decision does not build. */
#define IMP_OP(ident, stream_kind, ...)                                                          \
  _Static_assert (IMP_STREAM_KIND_VALID (stream_kind),                                         \
                  "operator " #ident ": the streaming kind must be IMP_STREAM_VIEW, _BAND or _WHOLE"); \
  const ImpOp imp_op_##ident = { .stream = (stream_kind), __VA_ARGS__ }

/* THE table of operators: one X per file in engine/ops/. */
#define IMP_OP_LIST(X)                                                                           \
  X (conv) X (convt) X (pad) X (instnorm) X (batchnorm) X (unary) X (binary) X (resize)          \
  X (concat) X (global_avgpool) X (identity) X (maxpool)          \
  X (reduce_mean) X (reshape)

#define IMP_OP_DECLARE(ident) extern const ImpOp imp_op_##ident;
IMP_OP_LIST (IMP_OP_DECLARE)
#undef IMP_OP_DECLARE

/* The descriptor taking ONNX op type op_type (default domain), or NULL. */
const ImpOp *imp_op_find (const char *op_type);

/* ---- helpers for build functions (op.c) -------------------------------------------------- */

/* Refuses any attribute of n not in known (NULL-terminated). */
ImpastoStatus imp_op_check_attrs (const ImpNode *n, const char *const *known, ImpastoError *err);
int64_t imp_op_attr_int (const ImpNode *n, const char *name, int64_t def);
float imp_op_attr_float (const ImpNode *n, const char *name, float def);
const char *imp_op_attr_string (const ImpNode *n, const char *name, const char *def);
/* An INTS attribute of exactly count values in [lo, hi] into out (as int); absent: out kept. */
ImpastoStatus imp_op_attr_ints (const ImpNode *n, const char *name, int count, int *out,
                                int64_t lo, int64_t hi, ImpastoError *err);
/* Input i of n, or NULL when absent or omitted. */
ImpValue *imp_op_input (ImpGraph *g, const ImpNode *n, int i);
/* A constant float input of count elements (-1: any), or NULL with an error naming what. */
const float *imp_op_const_floats (ImpGraph *g, const ImpNode *n, int i, int64_t count,
                                  const char *what, ImpastoError *err);
ImpastoStatus imp_op_need_input (ImpGraph *g, const ImpNode *n, int i, ImpastoError *err);
/* transpose hook of ops with nothing oriented (elementwise, per-channel) */
ImpastoStatus imp_op_transpose_copy (const ImpGraph *g, ImpStep *dst, ImpastoError *err);
/* [a, b, kh, kw] -> [a, b, kw, kh] into a new buffer (NULL and err on failure) */
float *imp_op_transpose_kernels (const float *w, size_t ab, int kh, int kw, ImpastoError *err);

/* auto_pad: NOTSET and VALID only (explicit pads) */
ImpastoStatus imp_op_check_auto_pad (const ImpNode *n, ImpastoError *err);

#endif
