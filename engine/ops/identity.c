/* ops/identity.c — Identity and Dropout (inference): the same values; banded an alias. */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const none[] = { NULL };
  static const char *const dropout[] = { "ratio", "seed", NULL };
  ImpastoStatus st = imp_op_need_input (g, n, 0, err);
  if (st)
    return st;
  /* Dropout is the identity only in inference: a training_mode input (opset 12+) that is not a
   * constant false would drop values */
  ImpValue *training = !strcmp (n->op_type, "Dropout") ? imp_op_input (g, n, 2) : NULL;
  if (training && (!training->is_const || training->t.dtype != IMP_DT_INT64
                   || imp_tensor_count (&training->t) != 1 || *(const int64_t *) training->t.data))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "training mode is not supported");
  s->cost = 0.05;
  return imp_op_check_attrs (n, !strcmp (n->op_type, "Dropout") ? dropout : none, err);
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

static ImpastoStatus view (ImpStream *s, ImpStep *st)
{
  imp_stream_view_of (s, st, SV_ALIAS);
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "Identity", "Dropout", NULL };
IMP_OP (identity, IMP_STREAM_VIEW, .name = "Identity", .onnx_ops = onnx_ops, .build = build,
        .run = run, .view = view, .transpose = imp_op_transpose_copy);
