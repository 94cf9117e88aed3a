/* ops/instnorm.c — InstanceNormalization (fused with a following Relu by prepare.c).  Banded it is
 * a view with whole-image statistics: its input is complete by the time it runs, and a stored
 * input's channel sums were gathered while it was written, so no pass of its own.  The same run
 * and view serve BatchNormalization (ops/batchnorm.c): imp_exec_norm and imp_stream_norm_view. */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <math.h>
#include <string.h>

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

static ImpNorm norm_of (const ImpStep *s)
{
  return (ImpNorm) { s->u.instnorm.scale, s->u.instnorm.bias, s->u.instnorm.eps,
                     s->u.instnorm.relu, NULL, NULL };
}

/* y = scale (x - mean) / sqrt(var + eps) + bias as y = x * mul + add, per channel. */
static void norm_affine (const ImpNorm *n, int c, const double *mean, const double *var,
                         float *mul, float *add)
{
  for (int ch = 0; ch < c; ch++) {
    double k = n->scale[ch] / sqrt (var[ch] + n->eps);
    mul[ch] = (float) k;
    add[ch] = (float) (n->bias[ch] - mean[ch] * k);
  }
}

/* With statistics given or recorded (impasto_stats_compute, impasto_stylize_region): own sums
 * only when none are given, then the norm as an affine map. */
static ImpastoStatus run_with_stats (ImpExec *x, const ImpStep *s, const ImpNorm *n,
                                     const float *src, const double *known, float *dst, int c,
                                     size_t hw)
{
  ImpastoModel *m = x->m;
  double *mean = imp_alloc0 ((size_t) c, 2 * sizeof (double), "norm statistics", x->err);
  float *mul = imp_alloc ((size_t) c, 2 * sizeof (float), "norm", x->err);
  ImpastoStatus st = mean && mul ? IMPASTO_OK : IMPASTO_E_NOMEM;
  double *var = mean ? mean + c : NULL;
  if (!st && !m->stats_use) {
    if (known)
      memcpy (mean, known, 2 * (size_t) c * sizeof (double));
    else
      imp_channel_sums (c, hw, src, mean, var, m->pool);
    for (int ch = 0; ch < c; ch++) {
      mean[ch] /= (double) hw;
      var[ch] = var[ch] / (double) hw - mean[ch] * mean[ch];
      var[ch] = var[ch] > 0 ? var[ch] : 0;
    }
  }
  if (!st)
    st = imp_stats_exchange (m, (int) (s - m->steps), c, mean, var, x->err);
  if (!st) {
    norm_affine (n, c, mean, var, mul, mul + c);
    imp_channel_affine (c, hw, src, mul, mul + c, n->relu, dst, m->pool);
  }
  imp_free (mean);
  imp_free (mul);
  return st;
}

ImpastoStatus imp_exec_norm (ImpExec *x, const ImpStep *s, const ImpNorm *n)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpTensor *out = imp_exec_out (x, s);
  const float *src = in->data; /* read before the output may take the buffer over */
  int c = (int) in->dims[1];
  /* the channel sums its producer gathered (a [1, C, ...] value), else NULL */
  const double *known = x->slots[s->inputs[0]].sums;
  ImpastoStatus st = imp_exec_alloc_inplace (x, s, s->inputs[0]);
  if (st)
    return st;
  size_t hw = imp_spatial_count (out), item = (size_t) c * hw;
  if (!n->mul && (x->m->stats_use || x->m->stats_record)) {
    if (out->dims[0] != 1)
      return imp_fail (x->err, IMPASTO_E_SHAPE, "whole-image statistics need a batch of one image");
    return run_with_stats (x, s, n, src, known, out->data, c, hw);
  }
  for (int64_t b = 0; b < out->dims[0]; b++) {
    const float *from = src + (size_t) b * item;
    float *to = (float *) out->data + (size_t) b * item;
    if (n->mul)
      imp_channel_affine (c, hw, from, n->mul, n->add, n->relu, to, x->m->pool);
    else if (known && out->dims[0] == 1)
      imp_instnorm_sums (c, hw, from, known, n->scale, n->bias, n->eps, n->relu, to, x->m->pool);
    else
      imp_instnorm (c, hw, from, n->scale, n->bias, n->eps, n->relu, to, x->m->pool);
  }
  return IMPASTO_OK;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpNorm n = norm_of (s);
  return imp_exec_norm (x, s, &n);
}

ImpastoStatus imp_stream_norm_view (ImpStream *s, const ImpStep *st, const ImpNorm *n)
{
  SVal *out = &s->v[st->output], *in = &s->v[st->inputs[0]];
  out->relu = n->relu;
  if (n->mul) { /* the step's own map: nothing to gather */
    out->mul = n->mul;
    out->add = n->add;
    imp_stream_view_of (s, st, SV_AFFINE);
    return IMPASTO_OK;
  }
  int c = out->c;
  double *sum = imp_alloc0 ((size_t) c, 2 * sizeof (double), "channel sums", s->err);
  double *sumsq = sum ? sum + c : NULL;
  ImpastoStatus rc = sum ? IMPASTO_OK : IMPASTO_E_NOMEM;
  /* rare: norm of a view; one pass to gather the sums (unless statistics are given) */
  if (!rc && in->kind != SV_STORED && !s->m->stats_use)
    rc = imp_rows_channel_stats (s, st->inputs[0], sum, sumsq);
  out->mul = imp_alloc ((size_t) c, sizeof (float), "norm", s->err);
  out->add = imp_alloc ((size_t) c, sizeof (float), "norm", s->err);
  out->own_affine = true;
  if (!rc && (!out->mul || !out->add))
    rc = IMPASTO_E_NOMEM;
  double count = (double) in->h * (double) in->w;
  for (int ch = 0; !rc && !s->m->stats_use && ch < c; ch++) { /* sums -> mean, var in place */
    if (in->kind == SV_STORED) {
      sum[ch] = imp_stored_mean (&in->store, ch, &sumsq[ch]);
    } else {
      sum[ch] /= count;
      sumsq[ch] = sumsq[ch] / count - sum[ch] * sum[ch];
      sumsq[ch] = sumsq[ch] > 0 ? sumsq[ch] : 0;
    }
  }
  if (!rc)
    rc = imp_stats_exchange (s->m, (int) (st - s->m->steps), c, sum, sumsq, s->err);
  if (!rc)
    norm_affine (n, c, sum, sumsq, out->mul, out->add);
  imp_free (sum);
  imp_stream_view_of (s, st, SV_AFFINE);
  return rc;
}

static ImpastoStatus view (ImpStream *s, ImpStep *st)
{
  const ImpNorm n = norm_of (st);
  return imp_stream_norm_view (s, st, &n);
}

static const char *const onnx_ops[] = { "InstanceNormalization", NULL };
IMP_OP (instnorm, IMP_STREAM_VIEW, .name = "InstanceNormalization", .onnx_ops = onnx_ops,
        .build = build, .infer = infer, .run = run, .view = view,
        .transpose = imp_op_transpose_copy);
