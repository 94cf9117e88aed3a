/* ops/concat.c — Concat of 4-D tensors along channels (up to IMP_STEP_MAX_INPUTS inputs); banded
 * each input's rows go one after another into the band. */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const axis[] = { "axis", NULL };
  ImpastoStatus st = imp_op_need_input (g, n, 0, err);
  if (st || (st = imp_op_check_attrs (n, axis, err)))
    return st;
  if (n->n_inputs > IMP_STEP_MAX_INPUTS || n->n_inputs < 1)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "%d inputs (at most %d supported)", n->n_inputs,
                     IMP_STEP_MAX_INPUTS);
  for (int i = 0; i < n->n_inputs; i++)
    if ((st = imp_op_need_input (g, n, i, err)))
      return st;
  /* the executor joins 4-D tensors along channels only: refuse other axes here, at load */
  int64_t ax = imp_op_attr_int (n, "axis", 1);
  if (ax != 1 && ax != -3)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "axis %lld is not supported (only 1, the channels)", (long long) ax);
  s->u.concat.axis = (int) ax;
  s->n_inputs = n->n_inputs;
  s->cost = 0.05;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *in = inputs[0];
  int axis = s->u.concat.axis < 0 ? s->u.concat.axis + in->rank : s->u.concat.axis;
  if (in->rank != 4 || axis != 1)
    return "only concatenation of 4-D tensors along channels is supported";
  out->dims[1] = 0;
  for (int i = 0; i < s->n_inputs; i++) {
    const ImpTensor *t = inputs[i];
    if (t->rank != 4 || t->dims[0] != in->dims[0] || t->dims[2] != in->dims[2] || t->dims[3] != in->dims[3])
      return "inputs differ in size";
    out->dims[1] += t->dims[1];
  }
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  ImpTensor *out = imp_exec_out (x, s);
  ImpastoStatus st = imp_exec_alloc (x, s);
  if (st)
    return st;
  size_t hw = imp_spatial_count (out), offset = 0;
  for (int64_t b = 0; b < out->dims[0]; b++)
    for (int i = 0; i < s->n_inputs; i++) {
      const ImpTensor *t = imp_exec_in (x, s, i);
      size_t item = (size_t) t->dims[1] * hw;
      memcpy ((float *) out->data + offset, (const float *) t->data + (size_t) b * item,
              item * sizeof (float));
      offset += item;
    }
  return IMPASTO_OK;
}

static ImpastoStatus band (ImpStream *s, ImpStep *st, int64_t r0, int64_t r1, float *dst)
{
  size_t plane = (size_t) (r1 - r0) * (size_t) s->v[st->output].w;
  for (int i = 0; i < st->n_inputs; i++) {
    ImpastoStatus rc = imp_rows_read (s, st->inputs[i], r0, r1, dst);
    if (rc)
      return rc;
    dst += (size_t) s->v[st->inputs[i]].c * plane; /* [C_i, n, W] slices one after another */
  }
  return IMPASTO_OK;
}

/* a constant input has no rows to read */
static bool bandable (const ImpGraph *g, const ImpStep *s)
{
  for (int i = 0; i < s->n_inputs; i++)
    if (g->values[s->inputs[i]].is_const)
      return false;
  return true;
}

static const char *const onnx_ops[] = { "Concat", NULL };
IMP_OP (concat, IMP_STREAM_BAND, .name = "Concat", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run, .band = band, .bandable = bandable,
        .transpose = imp_op_transpose_copy);
