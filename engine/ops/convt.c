/* ops/convt.c — ConvTranspose (2-D).  Banded: output rows [r0, r1) read the input rows that reach
 * them (imp_convt_in_rows: about half as many for stride 2, plus the kernel's halo).
 * A U-Net's Concat -> Relu -> ConvTranspose is one step (prepare.c): inputs[] are the Concat's
 * parts and relu_in applies the Relu while the kernel copies its input, so neither the joined
 * tensor nor the Relu pass is ever written. */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <limits.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "kernel_shape", "strides", "pads", "dilations", "group",
                                       "auto_pad", "output_padding", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_check_auto_pad (n, err)) || (st = imp_op_need_input (g, n, 0, err)))
    return st;
  ImpValue *w = imp_op_input (g, n, 1);
  if (!w || !w->is_const || w->t.dtype != IMP_DT_FLOAT || w->t.rank != 4)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "only 2-D transposed convolutions with constant float weights are supported");
  int group = (int) imp_op_attr_int (n, "group", 1);
  const int64_t *wd = w->t.dims; /* [C, M/group, KH, KW] */
  if (group < 1 || wd[0] % group || wd[0] < 1 || wd[1] < 1 || wd[2] < 1 || wd[3] < 1
      || wd[0] > 65536 || wd[1] > 65536 || wd[2] > 1024 || wd[3] > 1024)
    return imp_fail (err, IMPASTO_E_SHAPE, "invalid weight shape");
  ImpConvTShape *cs = &s->u.convt.shape;
  *cs = (ImpConvTShape) { .in_c = (int) wd[0], .out_c = (int) wd[1] * group, .group = group,
                          .kh = (int) wd[2], .kw = (int) wd[3] };
  int ks[2] = { cs->kh, cs->kw }, strides[2] = { 1, 1 }, dil[2] = { 1, 1 }, pads[4] = { 0 },
      opad[2] = { 0, 0 };
  if ((st = imp_op_attr_ints (n, "kernel_shape", 2, ks, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "strides", 2, strides, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "dilations", 2, dil, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "pads", 4, pads, 0, 4096, err))
      || (st = imp_op_attr_ints (n, "output_padding", 2, opad, 0, 1024, err)))
    return st;
  if (ks[0] != cs->kh || ks[1] != cs->kw)
    return imp_fail (err, IMPASTO_E_SHAPE, "kernel_shape does not match the weights");
  cs->stride_h = strides[0]; cs->stride_w = strides[1];
  cs->dil_h = dil[0]; cs->dil_w = dil[1];
  cs->pad_t = pads[0]; cs->pad_l = pads[1]; cs->pad_b = pads[2]; cs->pad_r = pads[3];
  cs->out_pad_h = opad[0]; cs->out_pad_w = opad[1];
  s->u.convt.weight = w->t.data;
  s->u.convt.bias = NULL;
  if (imp_op_input (g, n, 2) && !(s->u.convt.bias = imp_op_const_floats (g, n, 2, cs->out_c, "bias", err)))
    return err->code;
  s->cost = (double) cs->kh * cs->kw * cs->in_c / group / ((double) cs->stride_h * cs->stride_w);
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *in = inputs[0];
  int64_t c = 0;
  for (int k = 0; k < s->n_inputs; k++) {
    const ImpTensor *t = inputs[k];
    if (t->rank != 4 || t->dims[0] != in->dims[0] || t->dims[2] != in->dims[2]
        || t->dims[3] != in->dims[3])
      return "the joined inputs differ in size";
    c += t->dims[1];
  }
  if (in->rank != 4 || c != s->u.convt.shape.in_c)
    return "input channels do not match the weights";
  if (!imp_convt_out_size (&s->u.convt.shape, in->dims[2], in->dims[3], &out->dims[2], &out->dims[3]))
    return "invalid output size";
  out->dims[1] = s->u.convt.shape.out_c;
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpTensor *out = imp_exec_out (x, s);
  ImpastoStatus st = imp_exec_alloc (x, s);
  size_t out_item = imp_tensor_count (out) / (size_t) out->dims[0];
  for (int64_t b = 0; !st && b < in->dims[0]; b++) {
    const float *xs[IMP_STEP_MAX_INPUTS];
    int cs[IMP_STEP_MAX_INPUTS];
    for (int k = 0; k < s->n_inputs; k++) { /* [C_k, H, W] of item b */
      const ImpTensor *t = imp_exec_in (x, s, k);
      xs[k] = (const float *) t->data + (size_t) b * (imp_tensor_count (t) / (size_t) t->dims[0]);
      cs[k] = (int) t->dims[1];
    }
    st = imp_convt_run_parts (s->u.convt.conv, (int) in->dims[2], (int) in->dims[3], s->n_inputs,
                              xs, cs, s->u.convt.relu_in,
                              (float *) out->data + (size_t) b * out_item, x->m->pool, x->err);
  }
  return st;
}

/* The input rows of one output row: every part's (a fused Concat's), or the output row. */
static size_t band_row_bytes (const ImpStream *s, const ImpStep *st)
{
  size_t in = 0;
  for (int k = 0; k < st->n_inputs; k++)
    in += (size_t) s->v[st->inputs[k]].c * (size_t) s->v[st->inputs[k]].w * sizeof (float);
  return in;
}

static ImpastoStatus band (ImpStream *s, ImpStep *st, int64_t r0, int64_t r1, float *dst)
{
  const SVal *in = &s->v[st->inputs[0]];
  int64_t i0, i1;
  imp_convt_in_rows (&st->u.convt.shape, in->h, r0, r1, &i0, &i1);
  if (in->h > INT_MAX || in->w > INT_MAX || r1 > INT_MAX)
    return imp_fail (s->err, IMPASTO_E_SHAPE, "image too large");
  size_t cap = 0;
  float *x = NULL; /* [in_c, i1 - i0, W]: the parts one after another */
  size_t in_c = (size_t) st->u.convt.shape.in_c;
  if (i1 > i0 && !(x = imp_stream_take (s, in_c * (size_t) (i1 - i0) * (size_t) in->w, &cap)))
    return IMPASTO_E_NOMEM;
  ImpastoStatus rc = IMPASTO_OK;
  size_t off = 0;
  for (int k = 0; !rc && i1 > i0 && k < st->n_inputs; k++) {
    rc = imp_rows_read (s, st->inputs[k], i0, i1, x + off);
    off += (size_t) s->v[st->inputs[k]].c * (size_t) (i1 - i0) * (size_t) in->w;
  }
  if (!rc && st->u.convt.relu_in)
    imp_unary (IMP_UNARY_RELU, 0.0f, 0.0f, off, x, x, s->pool);
  if (!rc)
    rc = imp_convt_run_rows (st->u.convt.conv, (int) in->h, (int) in->w, x, (int) i0,
                             (int) (i1 - i0), dst, (int) r0, (int) (r1 - r0), s->pool, s->err);
  imp_stream_give (s, x, cap);
  return rc;
}

static ImpastoStatus pack (ImpStep *s, ImpastoError *err)
{
  s->u.convt.conv = imp_convt_new (&s->u.convt.shape, s->u.convt.weight, s->u.convt.bias, err);
  return s->u.convt.conv ? IMPASTO_OK : err->code ? err->code : IMPASTO_E_NOMEM;
}

static ImpastoStatus transpose (const ImpGraph *g, ImpStep *s, ImpastoError *err)
{
  ImpConvTShape *cs = &s->u.convt.shape;
  ImpConvTShape t = *cs;
  t.kh = cs->kw, t.kw = cs->kh;
  t.stride_h = cs->stride_w, t.stride_w = cs->stride_h;
  t.dil_h = cs->dil_w, t.dil_w = cs->dil_h;
  t.pad_t = cs->pad_l, t.pad_l = cs->pad_t;
  t.pad_b = cs->pad_r, t.pad_r = cs->pad_b;
  t.out_pad_h = cs->out_pad_w, t.out_pad_w = cs->out_pad_h;
  s->u.convt.conv = NULL;
  s->u.convt.own_weight = imp_op_transpose_kernels (
      s->u.convt.weight, (size_t) cs->in_c * (size_t) (cs->out_c / cs->group), cs->kh, cs->kw, err);
  s->u.convt.weight = s->u.convt.own_weight;
  *cs = t;
  return s->u.convt.own_weight ? IMPASTO_OK : IMPASTO_E_NOMEM;
}

static void release (ImpStep *s)
{
  imp_convt_free (s->u.convt.conv);
  imp_free (s->u.convt.own_weight);
}

static const char *const onnx_ops[] = { "ConvTranspose", NULL };
IMP_OP (convt, IMP_STREAM_BAND, .name = "ConvTranspose", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run, .band = band, .band_row_bytes = band_row_bytes, .pack = pack,
        .transpose = transpose, .release = release);
