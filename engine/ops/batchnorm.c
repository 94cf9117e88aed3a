/* ops/batchnorm.c — BatchNormalization.  With the stored statistics (inference) it is folded at
 * build into one per-channel y = x * mul + add; with the image's statistics (ImpastoOptions
 * .batchnorm, pix2pix's test mode) it is an instance norm with BatchNorm's scale and bias.
 * Banded it is a view either way (the image's statistics from the stored input's sums). */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <math.h>
#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "epsilon", "momentum", "training_mode", "spatial", NULL };
  ImpastoStatus st = imp_op_check_attrs (n, known, err);
  if (st || (st = imp_op_need_input (g, n, 0, err)))
    return st;
  if (imp_op_attr_int (n, "training_mode", 0) != 0 || n->n_outputs > 1)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "training mode is not supported");
  ImpValue *sc = imp_op_input (g, n, 1);
  int64_t c = sc && sc->is_const ? (int64_t) imp_tensor_count (&sc->t) : -1;
  const float *scale = imp_op_const_floats (g, n, 1, c, "scale", err), *bias, *mean, *var;
  if (!scale || !(bias = imp_op_const_floats (g, n, 2, c, "bias", err))
      || !(mean = imp_op_const_floats (g, n, 3, c, "mean", err))
      || !(var = imp_op_const_floats (g, n, 4, c, "var", err)))
    return err->code;
  float eps = imp_op_attr_float (n, "epsilon", 1e-5f);
  s->u.batchnorm.mul = imp_alloc ((size_t) c, sizeof (float), "batchnorm", err);
  s->u.batchnorm.add = imp_alloc ((size_t) c, sizeof (float), "batchnorm", err);
  if (!s->u.batchnorm.mul || !s->u.batchnorm.add)
    return IMPASTO_E_NOMEM; /* release frees what was allocated */
  for (int64_t i = 0; i < c; i++) { /* y = (x - mean) * scale / sqrt(var + eps) + bias */
    float m = scale[i] / sqrtf (var[i] + eps);
    s->u.batchnorm.mul[i] = m;
    s->u.batchnorm.add[i] = bias[i] - mean[i] * m;
  }
  s->u.batchnorm.channels = (int) c;
  s->u.batchnorm.scale = scale;
  s->u.batchnorm.bias = bias;
  s->u.batchnorm.eps = eps;
  s->cost = 0.2;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  if (inputs[0]->rank < 2 || inputs[0]->dims[1] != s->u.batchnorm.channels)
    return "channel count does not match the statistics";
  return NULL;
}

/* With the image's statistics (a batch of one: its batch statistics are the image's), or with
 * the stored ones, folded at build. */
static ImpNorm norm_of (const ImpastoModel *m, const ImpStep *s)
{
  bool image = m->bn_image;
  return (ImpNorm) { s->u.batchnorm.scale, s->u.batchnorm.bias, s->u.batchnorm.eps,
                     s->u.batchnorm.relu, image ? NULL : s->u.batchnorm.mul,
                     image ? NULL : s->u.batchnorm.add };
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpNorm n = norm_of (x->m, s);
  return imp_exec_norm (x, s, &n);
}

static ImpastoStatus view (ImpStream *s, ImpStep *st)
{
  const ImpNorm n = norm_of (s->m, st);
  return imp_stream_norm_view (s, st, &n);
}

/* the copy owns its own coefficients (release frees them) */
static ImpastoStatus transpose (const ImpGraph *g, ImpStep *s, ImpastoError *err)
{
  size_t c = (size_t) s->u.batchnorm.channels;
  const float *mul = s->u.batchnorm.mul, *add = s->u.batchnorm.add;
  s->u.batchnorm.mul = imp_alloc (c, sizeof (float), "batchnorm", err);
  s->u.batchnorm.add = imp_alloc (c, sizeof (float), "batchnorm", err);
  if (!s->u.batchnorm.mul || !s->u.batchnorm.add)
    return IMPASTO_E_NOMEM;
  memcpy (s->u.batchnorm.mul, mul, c * sizeof (float));
  memcpy (s->u.batchnorm.add, add, c * sizeof (float));
  return IMPASTO_OK;
}

static void release (ImpStep *s)
{
  imp_free (s->u.batchnorm.mul);
  imp_free (s->u.batchnorm.add);
}

static const char *const onnx_ops[] = { "BatchNormalization", NULL };
IMP_OP (batchnorm, IMP_STREAM_VIEW, .name = "BatchNormalization", .onnx_ops = onnx_ops,
        .build = build, .infer = infer, .run = run, .view = view, .transpose = transpose,
        .release = release);
