/* ops/reduce_mean.c — ReduceMean (axes as attribute, or as a constant input from opset 18;
 * keepdims), whole tensors only: AdaIN written as ONNX primitives takes its feature statistics
 * with it. */
#include "exec.h"
#include "op.h"

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "axes", "keepdims", "noop_with_empty_axes", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_need_input (g, n, 0, err)))
    return st;
  const ImpAttr *a = imp_node_attr (n, "axes");
  const ImpValue *ax = imp_op_input (g, n, 1);
  int count = 0;
  const int64_t *axes = NULL;
  if (a && a->type == IMP_ATTR_INTS) {
    count = a->n;
    axes = a->ints;
  } else if (a) {
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute 'axes' must be a list of integers");
  } else if (ax) {
    if (!ax->is_const || ax->t.dtype != IMP_DT_INT64 || ax->t.rank != 1)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "the axes must be a constant list of integers");
    count = (int) ax->t.dims[0];
    axes = ax->t.data;
  }
  if (count == 0 && imp_op_attr_int (n, "noop_with_empty_axes", 0))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "noop_with_empty_axes is not supported");
  if (count > 8)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "too many axes");
  int64_t keep = imp_op_attr_int (n, "keepdims", 1);
  if (keep != 0 && keep != 1)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute 'keepdims' must be 0 or 1");
  /* axes kept as given (negative ones resolved against the rank at infer); none: every axis */
  s->u.reduce.count = count;
  for (int i = 0; i < count; i++) {
    if (axes[i] < -8 || axes[i] > 7)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "axis %lld is out of range", (long long) axes[i]);
    s->u.reduce.axes[i] = (int) axes[i];
  }
  s->u.reduce.keepdims = keep == 1;
  s->n_inputs = 1;
  s->cost = 1;
  return IMPASTO_OK;
}

/* which axes of a rank-`rank` tensor s reduces; NULL or what is wrong */
static const char *reduced_axes (const ImpStep *s, int rank, bool *reduce)
{
  for (int d = 0; d < rank; d++)
    reduce[d] = s->u.reduce.count == 0;
  for (int i = 0; i < s->u.reduce.count; i++) {
    int a = s->u.reduce.axes[i] < 0 ? s->u.reduce.axes[i] + rank : s->u.reduce.axes[i];
    if (a < 0 || a >= rank)
      return "an axis is out of range";
    reduce[a] = true;
  }
  return NULL;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *in = inputs[0];
  bool reduce[IMP_MAX_RANK];
  const char *why = reduced_axes (s, in->rank, reduce);
  if (why)
    return why;
  int r = 0;
  for (int d = 0; d < in->rank; d++)
    if (!reduce[d])
      out->dims[r++] = in->dims[d];
    else if (s->u.reduce.keepdims)
      out->dims[r++] = 1;
    else if (in->dims[d] == 0)
      return "cannot take the mean of an empty axis";
  out->rank = r;
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  bool reduce[IMP_MAX_RANK];
  reduced_axes (s, in->rank, reduce);
  ImpastoStatus st = imp_exec_alloc (x, s);
  if (st)
    return st;
  imp_reduce_mean_ref (in->rank, in->dims, reduce, in->data, imp_exec_out (x, s)->data);
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "ReduceMean", NULL };
IMP_OP (reduce_mean, IMP_STREAM_WHOLE, .name = "ReduceMean", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run);
