/* ops/unary.c — Relu, LeakyRelu, Sigmoid, Tanh, Clip, Sqrt: elementwise, in place when possible; banded
 * a view (a Relu on a norm view turns that view's relu on). */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <math.h>
#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const none[] = { NULL };
  static const char *const leaky[] = { "alpha", NULL };
  static const char *const clip[] = { "min", "max", NULL };
  const char *op = n->op_type;
  ImpastoStatus st = imp_op_need_input (g, n, 0, err);
  if (st)
    return st;
  s->cost = 0.1;
  if (!strcmp (op, "Relu")) { s->u.unary.op = IMP_UNARY_RELU; return imp_op_check_attrs (n, none, err); }
  if (!strcmp (op, "Sigmoid")) { s->u.unary.op = IMP_UNARY_SIGMOID; return imp_op_check_attrs (n, none, err); }
  if (!strcmp (op, "Tanh")) { s->u.unary.op = IMP_UNARY_TANH; return imp_op_check_attrs (n, none, err); }
  if (!strcmp (op, "Sqrt")) { s->u.unary.op = IMP_UNARY_SQRT; return imp_op_check_attrs (n, none, err); }
  if (!strcmp (op, "LeakyRelu")) {
    s->u.unary.op = IMP_UNARY_LEAKY_RELU;
    s->u.unary.alpha = imp_op_attr_float (n, "alpha", 0.01f);
    return imp_op_check_attrs (n, leaky, err);
  }
  /* Clip: min/max as attributes (opset < 11) or optional constant inputs */
  s->u.unary.op = IMP_UNARY_CLIP;
  s->u.unary.alpha = imp_op_attr_float (n, "min", -INFINITY);
  s->u.unary.beta = imp_op_attr_float (n, "max", INFINITY);
  const float *v;
  if (imp_op_input (g, n, 1)) {
    if (!(v = imp_op_const_floats (g, n, 1, 1, "min", err)))
      return err->code;
    s->u.unary.alpha = *v;
  }
  if (imp_op_input (g, n, 2)) {
    if (!(v = imp_op_const_floats (g, n, 2, 1, "max", err)))
      return err->code;
    s->u.unary.beta = *v;
  }
  return imp_op_check_attrs (n, clip, err);
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const float *src = imp_exec_in (x, s, 0)->data;
  ImpastoStatus st = imp_exec_alloc_inplace (x, s, s->inputs[0]);
  if (st)
    return st;
  ImpTensor *out = imp_exec_out (x, s);
  imp_unary (s->u.unary.op, s->u.unary.alpha, s->u.unary.beta, imp_tensor_count (out), src,
             out->data, x->m->pool);
  return IMPASTO_OK;
}

static ImpastoStatus view (ImpStream *s, ImpStep *st)
{
  SVal *in = &s->v[st->inputs[0]], *out = &s->v[st->output];
  if (st->u.unary.op == IMP_UNARY_RELU && in->kind == SV_AFFINE && !in->relu) {
    /* relu after a norm: the same view with relu on (shares the coefficients) */
    out->mul = in->mul;
    out->add = in->add;
    out->relu = true;
    out->kind = SV_AFFINE;
    out->src = in->src;
    return IMPASTO_OK;
  }
  out->op = st->u.unary.op;
  out->alpha = st->u.unary.alpha;
  out->beta = st->u.unary.beta;
  imp_stream_view_of (s, st, SV_UNARY);
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Sqrt", NULL };
IMP_OP (unary, IMP_STREAM_VIEW, .name = "Unary", .onnx_ops = onnx_ops, .build = build, .run = run,
        .view = view, .transpose = imp_op_transpose_copy);
