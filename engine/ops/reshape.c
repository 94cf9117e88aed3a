/* ops/reshape.c — Reshape of a runtime tensor to a constant shape (0 copies the input's
 * dimension, -1 takes the rest; allowzero 0), whole tensors only.  The data do not change: the
 * output takes over the input's buffer when it is the last reader. */
#include "exec.h"
#include "op.h"

#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "allowzero", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_need_input (g, n, 0, err)) || (st = imp_op_need_input (g, n, 1, err)))
    return st;
  if (imp_op_attr_int (n, "allowzero", 0) != 0)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "allowzero 1 is not supported");
  const ImpValue *shape = imp_op_input (g, n, 1);
  if (!shape->is_const || shape->t.dtype != IMP_DT_INT64 || shape->t.rank != 1
      || shape->t.dims[0] < 1 || shape->t.dims[0] > IMP_MAX_RANK)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "the shape must be a constant list of 1 to %d integers (known at load)", IMP_MAX_RANK);
  s->u.reshape.rank = (int) shape->t.dims[0];
  memcpy (s->u.reshape.dims, shape->t.data, sizeof (int64_t) * (size_t) s->u.reshape.rank);
  s->n_inputs = 1; /* the shape was read here */
  s->cost = 0;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *in = inputs[0];
  size_t total, known = 1;
  if (!imp_dims_count (in->dims, in->rank, &total))
    return "invalid input shape";
  int rest = -1;
  out->rank = s->u.reshape.rank;
  for (int d = 0; d < out->rank; d++) {
    int64_t v = s->u.reshape.dims[d];
    if (v == 0) {
      if (d >= in->rank)
        return "a 0 in the shape has no input dimension to copy";
      v = in->dims[d];
    } else if (v == -1) {
      if (rest >= 0)
        return "more than one -1 in the shape";
      rest = d;
      continue;
    } else if (v < 0) {
      return "a negative dimension in the shape";
    }
    out->dims[d] = v;
    known *= (size_t) v;
  }
  if (rest >= 0) {
    if (known == 0 || total % known)
      return "the shape does not divide the input's size";
    out->dims[rest] = (int64_t) (total / known);
    known = total;
  }
  return known == total ? NULL : "the shape does not hold the input's elements";
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const float *src = imp_exec_in (x, s, 0)->data;
  ImpastoStatus st = imp_exec_alloc_inplace (x, s, s->inputs[0]);
  if (st)
    return st;
  ImpTensor *out = imp_exec_out (x, s);
  if (out->data != src)
    memcpy (out->data, src, imp_tensor_count (out) * sizeof (float));
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "Reshape", NULL };
IMP_OP (reshape, IMP_STREAM_WHOLE, .name = "Reshape", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run);
