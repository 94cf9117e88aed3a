/* ops/conv.c — Conv (2-D): the kernels are engine/conv.c and its flavours; banded, a conv reads
 * its input rows plus the kernel's halo, padded on the fly in the fused Pad's mode. */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "kernel_shape", "strides", "pads", "dilations", "group",
                                       "auto_pad", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_check_auto_pad (n, err)) || (st = imp_op_need_input (g, n, 0, err)))
    return st;
  ImpValue *w = imp_op_input (g, n, 1);
  if (!w || !w->is_const || w->t.dtype != IMP_DT_FLOAT || w->t.rank != 4)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "only 2-D convolutions with constant float weights are supported");
  ImpConvShape *cs = &s->u.conv.shape;
  int group = (int) imp_op_attr_int (n, "group", 1);
  const int64_t *wd = w->t.dims; /* [M, C/group, KH, KW] */
  if (group < 1 || wd[0] % group || wd[0] > 65536 || wd[1] > 65536 || wd[2] > 1024 || wd[3] > 1024
      || wd[0] < 1 || wd[1] < 1 || wd[2] < 1 || wd[3] < 1)
    return imp_fail (err, IMPASTO_E_SHAPE, "weight shape [%lld, %lld, %lld, %lld] is invalid for group %d",
                     (long long) wd[0], (long long) wd[1], (long long) wd[2], (long long) wd[3], group);
  *cs = (ImpConvShape) { .in_c = (int) wd[1] * group, .out_c = (int) wd[0], .group = group,
                         .kh = (int) wd[2], .kw = (int) wd[3], .stride_h = 1, .stride_w = 1,
                         .dil_h = 1, .dil_w = 1, .pad_mode = IMP_PAD_CONSTANT };
  int ks[2] = { cs->kh, cs->kw }, strides[2] = { 1, 1 }, dil[2] = { 1, 1 }, pads[4] = { 0 };
  if ((st = imp_op_attr_ints (n, "kernel_shape", 2, ks, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "strides", 2, strides, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "dilations", 2, dil, 1, 1024, err))
      || (st = imp_op_attr_ints (n, "pads", 4, pads, 0, 4096, err)))
    return st;
  if (ks[0] != cs->kh || ks[1] != cs->kw)
    return imp_fail (err, IMPASTO_E_SHAPE, "kernel_shape does not match the weights");
  cs->stride_h = strides[0]; cs->stride_w = strides[1];
  cs->dil_h = dil[0]; cs->dil_w = dil[1];
  cs->pad_t = pads[0]; cs->pad_l = pads[1]; cs->pad_b = pads[2]; cs->pad_r = pads[3];
  s->u.conv.weight = w->t.data;
  s->u.conv.bias = NULL;
  if (imp_op_input (g, n, 2) && !(s->u.conv.bias = imp_op_const_floats (g, n, 2, cs->out_c, "bias", err)))
    return err->code;
  s->cost = (double) cs->kh * cs->kw * cs->in_c / group;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpConvShape *cs = &s->u.conv.shape;
  const ImpTensor *in = inputs[0];
  if (in->rank != 4 || in->dims[1] != cs->in_c)
    return "input channels do not match the weights";
  if (cs->pad_mode == IMP_PAD_REFLECT
      && (cs->pad_t >= in->dims[2] || cs->pad_b >= in->dims[2] || cs->pad_l >= in->dims[3]
          || cs->pad_r >= in->dims[3]))
    return "reflect padding is larger than the image";
  if (!imp_conv_out_size (cs, in->dims[2], in->dims[3], &out->dims[2], &out->dims[3]))
    return "the input is smaller than the kernel";
  out->dims[1] = cs->out_c;
  return NULL;
}

/* The packed conv for a whole run (banded: its copy without top/bottom padding), made on first
 * need.  Only one of the two is kept: the packed weights (Winograd transforms, direct-conv
 * blocks) of a ResNet generator at ngf 64 take about 200 MB, and holding both put a 6 MP CycleGAN
 * run at 950 MiB of its 1 GiB. */
static ImpConv *packed_conv (ImpStep *st, bool banded, ImpastoError *err)
{
  ImpConv **mine = banded ? &st->u.conv.band_conv : &st->u.conv.conv;
  ImpConv **other = banded ? &st->u.conv.conv : &st->u.conv.band_conv;
  if (!*mine) {
    ImpConvShape shape = st->u.conv.shape;
    if (banded)
      shape.pad_t = shape.pad_b = 0; /* rows come padded from imp_rows_read_padded */
    imp_conv_free (*other);
    *other = NULL;
    *mine = imp_conv_new_borrowed (&shape, st->u.conv.weight, st->u.conv.bias, true, err);
  }
  return *mine;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpTensor *out = imp_exec_out (x, s);
  /* the step is the model's own (steps[] or tsteps[]); only its packed conv changes */
  ImpConv *conv = packed_conv ((ImpStep *) s, false, x->err);
  if (!conv)
    return x->err->code ? x->err->code : IMPASTO_E_NOMEM;
  ImpastoStatus st = imp_exec_alloc (x, s);
  size_t in_item = imp_tensor_count (in) / (size_t) in->dims[0];
  size_t out_item = imp_tensor_count (out) / (size_t) out->dims[0];
  ImpSlot *o = &x->slots[s->output];
  if (!st && in->dims[0] == 1 && o->want_sums) {
    /* an instance norm reads the result: its channel sums on the way, when the algorithm can */
    double *sums = imp_alloc ((size_t) out->dims[1], 2 * sizeof (double), "channel sums", x->err);
    bool have = false;
    if (!sums)
      return IMPASTO_E_NOMEM;
    st = imp_conv_run_sums (conv, (int) in->dims[2], (int) in->dims[3], in->data, out->data, sums,
                            &have, x->m->pool, x->err);
    if (!st && have)
      o->sums = sums;
    else
      imp_free (sums);
    return st;
  }
  for (int64_t b = 0; !st && b < in->dims[0]; b++) /* [C, H, W] -> [M, OH, OW] per item */
    st = imp_conv_run (conv, (int) in->dims[2], (int) in->dims[3],
                       (const float *) in->data + (size_t) b * in_item,
                       (float *) out->data + (size_t) b * out_item, x->m->pool, x->err);
  return st;
}

/* ---- banded ------------------------------------------------------------------------------ */

static size_t row_bytes (const SVal *sv)
{
  return (size_t) sv->c * (size_t) sv->w * sizeof (float);
}

/* One output row reads stride_h input rows; of a resize view read through its maps, only the
 * view's source rows are buffered. */
static size_t band_row_bytes (const ImpStream *s, const ImpStep *st)
{
  const SVal *iv = &s->v[st->inputs[0]];
  size_t in = row_bytes (iv);
  if (iv->kind == SV_RESIZE && s->gather_resize && iv->h > 0) {
    const SVal *src = &s->v[iv->src];
    in = (size_t) ((double) row_bytes (src) * (double) src->h / (double) iv->h) + 1;
  }
  return in * (size_t) st->u.conv.shape.stride_h;
}

/* A conv whose input is a nearest-resize view reads the source rows through index maps
 * (ImpGather), so the resized band is never written out.  IMPASTO_E_UNSUPPORTED when the conv
 * has no gather path (the caller then materialises). */
static ImpastoStatus band_gather (ImpStream *s, ImpStep *st, int64_t a, int64_t b, float *dst)
{
  const ImpConvShape *cs = &st->u.conv.shape;
  SVal *in = &s->v[st->inputs[0]];
  const SVal *src = &s->v[in->src];
  if (!in->col_map32) { /* the column map as the conv wants it, once per value */
    in->col_map32 = imp_alloc ((size_t) in->w, sizeof (int32_t), "resize map", s->err);
    if (!in->col_map32)
      return IMPASTO_E_NOMEM;
    for (int64_t x = 0; x < in->w; x++)
      in->col_map32[x] = (int32_t) in->col_map[x];
  }
  int32_t *rmap = imp_alloc ((size_t) (b - a), sizeof (int32_t), "resize map", s->err);
  if (!rmap)
    return IMPASTO_E_NOMEM;
  int64_t lo = INT64_MAX, hi = -1;
  for (int64_t r = a; r < b; r++) {
    int64_t pr = imp_pad_index (r, in->h, cs->pad_mode);
    rmap[r - a] = pr < 0 ? -1 : (int32_t) in->row_map[pr];
    if (pr >= 0) {
      lo = IMP_MIN (lo, in->row_map[pr]);
      hi = IMP_MAX (hi, in->row_map[pr]);
    }
  }
  size_t cap = 0, span = hi >= 0 ? (size_t) (hi - lo + 1) : 1;
  float *tmp = imp_stream_take (s, (size_t) src->c * span * (size_t) src->w, &cap); /* [C, span, sw] */
  ImpastoStatus rc = tmp ? IMPASTO_OK : IMPASTO_E_NOMEM;
  if (!rc && hi >= 0)
    rc = imp_rows_read (s, in->src, lo, hi + 1, tmp);
  else if (!rc)
    memset (tmp, 0, (size_t) src->c * (size_t) src->w * sizeof (float));
  for (int64_t i = 0; !rc && i < b - a; i++)
    if (rmap[i] >= 0)
      rmap[i] -= (int32_t) lo;
  if (!rc) {
    ImpGather g = { tmp, (int) span, (int) src->w, rmap, in->col_map32, in->cols_double };
    rc = imp_conv_run_gather (st->u.conv.band_conv, (int) (b - a), (int) in->w, &g, dst, s->pool,
                              s->err);
  }
  imp_stream_give (s, tmp, cap);
  imp_free (rmap);
  return rc;
}

static ImpastoStatus band (ImpStream *s, ImpStep *st, int64_t o0, int64_t o1, float *dst)
{
  const ImpConvShape *cs = &st->u.conv.shape;
  if (!packed_conv (st, true, s->err))
    return s->err->code ? s->err->code : IMPASTO_E_NOMEM;
  const SVal *in = &s->v[st->inputs[0]];
  int64_t a = o0 * cs->stride_h - cs->pad_t;
  int64_t b = (o1 - 1) * cs->stride_h - cs->pad_t + (int64_t) cs->dil_h * (cs->kh - 1) + 1;
  if (in->kind == SV_RESIZE && s->gather_resize) {
    ImpastoStatus rc = band_gather (s, st, a, b, dst);
    if (rc != IMPASTO_E_UNSUPPORTED)
      return rc;
  }
  size_t cap;
  float *buf = imp_stream_take (s, (size_t) in->c * (size_t) (b - a) * (size_t) in->w, &cap); /* [C, b-a, W] */
  if (!buf)
    return IMPASTO_E_NOMEM;
  ImpastoStatus rc = imp_rows_read_padded (s, st->inputs[0], a, b, cs->pad_mode, 0.0f, buf);
  if (!rc)
    rc = imp_conv_run (st->u.conv.band_conv, (int) (b - a), (int) in->w, buf, dst, s->pool, s->err);
  imp_stream_give (s, buf, cap);
  return rc;
}

static ImpastoStatus pack (ImpStep *s, ImpastoError *err)
{
  s->u.conv.conv = imp_conv_new_borrowed (&s->u.conv.shape, s->u.conv.weight, s->u.conv.bias, true, err);
  return s->u.conv.conv ? IMPASTO_OK : err->code ? err->code : IMPASTO_E_NOMEM;
}

static ImpastoStatus transpose (const ImpGraph *g, ImpStep *s, ImpastoError *err)
{
  ImpConvShape *cs = &s->u.conv.shape;
  ImpConvShape t = *cs;
  t.kh = cs->kw, t.kw = cs->kh;
  t.stride_h = cs->stride_w, t.stride_w = cs->stride_h;
  t.dil_h = cs->dil_w, t.dil_w = cs->dil_h;
  t.pad_t = cs->pad_l, t.pad_l = cs->pad_t;
  t.pad_b = cs->pad_r, t.pad_r = cs->pad_b;
  s->u.conv.conv = s->u.conv.band_conv = NULL;
  s->u.conv.own_weight = imp_op_transpose_kernels (
      s->u.conv.weight, (size_t) cs->out_c * (size_t) (cs->in_c / cs->group), cs->kh, cs->kw, err);
  s->u.conv.weight = s->u.conv.own_weight;
  *cs = t;
  return s->u.conv.own_weight ? IMPASTO_OK : IMPASTO_E_NOMEM;
}

static void release (ImpStep *s)
{
  imp_conv_free (s->u.conv.conv);
  imp_conv_free (s->u.conv.band_conv);
  imp_free (s->u.conv.own_weight);
}

static const char *const onnx_ops[] = { "Conv", NULL };
IMP_OP (conv, IMP_STREAM_BAND, .name = "Conv", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run, .band = band, .band_row_bytes = band_row_bytes, .pack = pack,
        .transpose = transpose, .release = release);
