/* ops/instnorm.c — InstanceNormalization (fused with a following Relu by prepare.c).  Banded it is
 * a view with whole-image statistics: its input is complete by the time it runs, and a stored
 * input's channel sums were gathered while it was written, so no pass of its own. */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <math.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "epsilon", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_need_input (g, n, 0, err)))
    return st;
  ImpValue *sc = imp_op_input (g, n, 1);
  int64_t c = sc && sc->is_const ? (int64_t) imp_tensor_count (&sc->t) : -1;
  if (!(s->u.instnorm.scale = imp_op_const_floats (g, n, 1, c, "scale", err))
      || !(s->u.instnorm.bias = imp_op_const_floats (g, n, 2, c, "bias", err)))
    return err->code;
  s->u.instnorm.channels = (int) c;
  s->u.instnorm.eps = imp_op_attr_float (n, "epsilon", 1e-5f);
  s->u.instnorm.relu = false;
  s->cost = 0.5;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  if (inputs[0]->rank < 3 || inputs[0]->dims[1] != s->u.instnorm.channels)
    return "channel count does not match scale and bias";
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpTensor *out = imp_exec_out (x, s);
  const float *src = in->data; /* read before the output may take the buffer over */
  int c = (int) in->dims[1];
  ImpastoStatus st = imp_exec_alloc_inplace (x, s, s->inputs[0]);
  if (st)
    return st;
  size_t hw = imp_spatial_count (out), item = (size_t) c * hw;
  for (int64_t b = 0; b < out->dims[0]; b++)
    imp_instnorm (c, hw, src + (size_t) b * item, s->u.instnorm.scale, s->u.instnorm.bias,
                  s->u.instnorm.eps, s->u.instnorm.relu, (float *) out->data + (size_t) b * item,
                  x->m->pool);
  return IMPASTO_OK;
}

ImpastoStatus imp_stream_norm_view (ImpStream *s, const ImpStep *st, const float *scale,
                                    const float *bias, float eps, bool relu)
{
  SVal *out = &s->v[st->output], *in = &s->v[st->inputs[0]];
  int c = out->c;
  double *sum = NULL, *sumsq = NULL;
  ImpastoStatus rc = IMPASTO_OK;
  if (in->kind != SV_STORED) { /* rare: norm of a view; one pass to gather the sums */
    sum = imp_alloc0 ((size_t) c, sizeof (double), "channel sums", s->err);
    sumsq = imp_alloc0 ((size_t) c, sizeof (double), "channel sums", s->err);
    rc = sum && sumsq ? imp_rows_channel_stats (s, st->inputs[0], sum, sumsq) : IMPASTO_E_NOMEM;
  }
  out->mul = imp_alloc ((size_t) c, sizeof (float), "norm", s->err);
  out->add = imp_alloc ((size_t) c, sizeof (float), "norm", s->err);
  out->own_affine = true;
  if (!rc && (!out->mul || !out->add))
    rc = IMPASTO_E_NOMEM;
  double count = (double) in->h * (double) in->w;
  for (int ch = 0; !rc && ch < c; ch++) { /* y = scale (x - mean) / sqrt(var + eps) + bias */
    double mean, var;
    if (in->kind == SV_STORED) {
      mean = imp_stored_mean (&in->store, ch, &var);
    } else {
      mean = sum[ch] / count;
      var = sumsq[ch] / count - mean * mean;
      var = var > 0 ? var : 0;
    }
    double k = scale[ch] / sqrt (var + eps);
    out->mul[ch] = (float) k;
    out->add[ch] = (float) (bias[ch] - mean * k);
  }
  imp_free (sum);
  imp_free (sumsq);
  out->relu = relu;
  imp_stream_view_of (s, st, SV_AFFINE);
  return rc;
}

static ImpastoStatus view (ImpStream *s, ImpStep *st)
{
  return imp_stream_norm_view (s, st, st->u.instnorm.scale, st->u.instnorm.bias,
                               st->u.instnorm.eps, st->u.instnorm.relu);
}

static const char *const onnx_ops[] = { "InstanceNormalization", NULL };
IMP_OP (instnorm, IMP_STREAM_VIEW, .name = "InstanceNormalization", .onnx_ops = onnx_ops,
        .build = build, .infer = infer, .run = run, .view = view,
        .transpose = imp_op_transpose_copy);
