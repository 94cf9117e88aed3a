/* ops/maxpool.c — MaxPool (2-D, ceil_mode, pads; no dilations, no indices output), whole tensors
 * only: AdaIN's encoders run whole (their features feed whole-image statistics anyway). */
#include "exec.h"
#include "op.h"

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "kernel_shape", "strides", "pads", "dilations", "ceil_mode",
                                       "auto_pad", "storage_order", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_check_auto_pad (n, err)) || (st = imp_op_need_input (g, n, 0, err)))
    return st;
  if (n->n_outputs > 1 && n->outputs[1] >= 0)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "the Indices output is not supported");
  const ImpAttr *ks = imp_node_attr (n, "kernel_shape");
  if (!ks || ks->type != IMP_ATTR_INTS || ks->n != 2)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute 'kernel_shape' must have 2 values (2-D pooling)");
  int k[2], strides[2] = { 1, 1 }, dil[2] = { 1, 1 }, pads[4] = { 0 };
  if ((st = imp_op_attr_ints (n, "kernel_shape", 2, k, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "strides", 2, strides, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "dilations", 2, dil, 1, 1, err))
      || (st = imp_op_attr_ints (n, "pads", 4, pads, 0, 1023, err)))
    return st;
  if (pads[0] >= k[0] || pads[2] >= k[0] || pads[1] >= k[1] || pads[3] >= k[1])
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute 'pads' must be smaller than the kernel");
  int64_t ceil_mode = imp_op_attr_int (n, "ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute 'ceil_mode' must be 0 or 1");
  if (imp_op_attr_int (n, "storage_order", 0) != 0)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute 'storage_order' must be 0");
  s->u.maxpool.shape = (ImpPoolShape) { .kh = k[0], .kw = k[1], .sh = strides[0], .sw = strides[1],
                                        .pt = pads[0], .pl = pads[1], .pb = pads[2], .pr = pads[3],
                                        .ceil_mode = ceil_mode == 1 };
  s->cost = (double) k[0] * k[1] / ((double) strides[0] * strides[1]);
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *in = inputs[0];
  if (in->rank != 4)
    return "input must be 4-D [N, C, H, W]";
  if (!imp_maxpool_out_size (&s->u.maxpool.shape, in->dims[2], in->dims[3], &out->dims[2], &out->dims[3]))
    return "the input is smaller than the pooling window";
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpastoStatus st = imp_exec_alloc (x, s);
  if (st)
    return st;
  imp_maxpool_ref (&s->u.maxpool.shape, (int) (in->dims[0] * in->dims[1]), in->dims[2], in->dims[3],
                   in->data, imp_exec_out (x, s)->data);
  return IMPASTO_OK;
}

static ImpastoStatus transpose (const ImpGraph *g, ImpStep *dst, ImpastoError *err)
{
  ImpPoolShape *p = &dst->u.maxpool.shape, q = *p;
  *p = (ImpPoolShape) { .kh = q.kw, .kw = q.kh, .sh = q.sw, .sw = q.sh, .pt = q.pl, .pl = q.pt,
                        .pb = q.pr, .pr = q.pb, .ceil_mode = q.ceil_mode };
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "MaxPool", NULL };
IMP_OP (maxpool, IMP_STREAM_WHOLE, .name = "MaxPool", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run, .transpose = transpose);
