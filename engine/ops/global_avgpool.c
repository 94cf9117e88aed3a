/* ops/global_avgpool.c — GlobalAveragePool: whole tensors only (its one output pixel depends on
 * every input row). */
#include "exec.h"
#include "op.h"

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const none[] = { NULL };
  ImpastoStatus st = imp_op_need_input (g, n, 0, err);
  if (st)
    return st;
  s->cost = 0.05;
  return imp_op_check_attrs (n, none, err);
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  if (inputs[0]->rank < 3)
    return "input must be at least 3-D";
  for (int d = 2; d < inputs[0]->rank; d++)
    out->dims[d] = 1;
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpTensor *out = imp_exec_out (x, s);
  ImpastoStatus st = imp_exec_alloc (x, s);
  if (st)
    return st;
  imp_global_avgpool_ref ((int) (in->dims[0] * in->dims[1]), imp_spatial_count (in), in->data,
                          out->data);
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "GlobalAveragePool", NULL };
IMP_OP (global_avgpool, IMP_STREAM_WHOLE, .name = "GlobalAveragePool", .onnx_ops = onnx_ops,
        .build = build, .infer = infer, .run = run, .transpose = imp_op_transpose_copy);
