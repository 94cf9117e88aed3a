/* ops/pad.c — Pad (H and W only; constant, reflect, edge).  Banded it is a view: rows and columns
 * outside the source follow the mode.  A Pad feeding a Conv is fused into it (prepare.c). */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "mode", "pads", "value", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_need_input (g, n, 0, err)))
    return st;
  const char *mode = imp_op_attr_string (n, "mode", "constant");
  if (!strcmp (mode, "constant")) s->u.pad.mode = IMP_PAD_CONSTANT;
  else if (!strcmp (mode, "reflect")) s->u.pad.mode = IMP_PAD_REFLECT;
  else if (!strcmp (mode, "edge")) s->u.pad.mode = IMP_PAD_EDGE;
  else
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "mode '%s' is not supported", mode);
  int64_t pads[8];
  int np = 0;
  ImpValue *pv = imp_op_input (g, n, 1);
  if (pv) {
    if (!pv->is_const || pv->t.dtype != IMP_DT_INT64)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "pads must be constant");
    np = (int) imp_tensor_count (&pv->t);
    if (np == 8)
      memcpy (pads, pv->t.data, sizeof pads);
  } else {
    const ImpAttr *a = imp_node_attr (n, "pads");
    if (a && a->type == IMP_ATTR_INTS && a->n == 8)
      memcpy (pads, a->ints, sizeof pads);
    np = a ? a->n : 0;
  }
  if (np != 8)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "only 4-D pads are supported");
  if (pads[0] || pads[1] || pads[4] || pads[5])
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "padding of batch or channel axes is not supported");
  for (int i = 0; i < 8; i++)
    if (pads[i] < 0 || pads[i] > 4096)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "pad %lld is not supported", (long long) pads[i]);
  s->u.pad.t = (int) pads[2]; s->u.pad.l = (int) pads[3];
  s->u.pad.b = (int) pads[6]; s->u.pad.r = (int) pads[7];
  s->u.pad.value = imp_op_attr_float (n, "value", 0.0f);
  if (imp_op_input (g, n, 2)) {
    const float *v = imp_op_const_floats (g, n, 2, 1, "constant_value", err);
    if (!v)
      return err->code;
    s->u.pad.value = *v;
  }
  s->cost = 0.1;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *in = inputs[0];
  if (in->rank != 4)
    return "input must be 4-D";
  if (s->u.pad.mode == IMP_PAD_REFLECT
      && (s->u.pad.t >= in->dims[2] || s->u.pad.b >= in->dims[2] || s->u.pad.l >= in->dims[3]
          || s->u.pad.r >= in->dims[3]))
    return "reflect padding is larger than the image";
  out->dims[2] += s->u.pad.t + s->u.pad.b;
  out->dims[3] += s->u.pad.l + s->u.pad.r;
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpTensor *out = imp_exec_out (x, s);
  ImpastoStatus st = imp_exec_alloc (x, s);
  if (st)
    return st;
  /* batch and channel axes are never padded: treat [N*C, H, W] as channels */
  imp_pad2d ((int) (in->dims[0] * in->dims[1]), (int) in->dims[2], (int) in->dims[3], in->data,
             s->u.pad.t, s->u.pad.l, s->u.pad.b, s->u.pad.r, s->u.pad.mode, s->u.pad.value,
             out->data, x->m->pool);
  return IMPASTO_OK;
}

static ImpastoStatus view (ImpStream *s, ImpStep *st)
{
  SVal *out = &s->v[st->output];
  out->pt = st->u.pad.t;
  out->pl = st->u.pad.l;
  out->mode = st->u.pad.mode;
  out->value = st->u.pad.value;
  imp_stream_view_of (s, st, SV_PAD);
  return IMPASTO_OK;
}

static ImpastoStatus transpose (const ImpGraph *g, ImpStep *s, ImpastoError *err)
{
  int t = s->u.pad.t, b = s->u.pad.b;
  s->u.pad.t = s->u.pad.l, s->u.pad.b = s->u.pad.r;
  s->u.pad.l = t, s->u.pad.r = b;
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "Pad", NULL };
IMP_OP (pad, IMP_STREAM_VIEW, .name = "Pad", .onnx_ops = onnx_ops, .build = build, .infer = infer,
        .run = run, .view = view, .transpose = transpose);
