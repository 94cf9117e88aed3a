/* prepare.c — from a loaded ImpGraph to executable steps.
 *
 *  1. order the nodes topologically (graph.c; a cycle is an error naming a node on it);
 *  2. fold every node whose inputs are all constant (fold.c);
 *  3. turn each remaining node into a step, checking its attributes: an op or attribute we do not
 *     support is an error naming the op, the node and the attribute;
 *  4. fuse: Pad -> Conv becomes a conv with that padding mode, InstanceNorm -> Relu one step;
 *  5. pack the weights of every conv. */
#include "model.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Attribute checking helpers.                                                                  */

static ImpastoStatus check_attrs (const ImpNode *n, const char *const *known, ImpastoError *err)
{
  for (int a = 0; a < n->n_attrs; a++) {
    bool ok = false;
    for (int k = 0; known[k]; k++)
      ok |= !strcmp (n->attrs[a].name, known[k]);
    if (!ok)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                       "node '%s' (%s): attribute '%s' is not supported", n->name, n->op_type,
                       n->attrs[a].name);
  }
  return IMPASTO_OK;
}

static int64_t attr_int (const ImpNode *n, const char *name, int64_t def)
{
  const ImpAttr *a = imp_node_attr (n, name);
  return a && a->type == IMP_ATTR_INT ? a->i : def;
}

static float attr_float (const ImpNode *n, const char *name, float def)
{
  const ImpAttr *a = imp_node_attr (n, name);
  return a && a->type == IMP_ATTR_FLOAT ? a->f : def;
}

static const char *attr_string (const ImpNode *n, const char *name, const char *def)
{
  const ImpAttr *a = imp_node_attr (n, name);
  return a && a->type == IMP_ATTR_STRING ? a->s : def;
}

/* Copies an INTS attribute of exactly `count` elements into out (as int), or leaves defaults. */
static ImpastoStatus attr_ints (const ImpNode *n, const char *name, int count, int *out,
                                int64_t lo, int64_t hi, ImpastoError *err)
{
  const ImpAttr *a = imp_node_attr (n, name);
  if (!a)
    return IMPASTO_OK;
  if (a->type != IMP_ATTR_INTS || a->n != count)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): attribute '%s' must have %d values",
                     n->name, n->op_type, name, count);
  for (int i = 0; i < count; i++) {
    if (a->ints[i] < lo || a->ints[i] > hi)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): attribute '%s' value %lld is out of range",
                       n->name, n->op_type, name, (long long) a->ints[i]);
    out[i] = (int) a->ints[i];
  }
  return IMPASTO_OK;
}

static ImpValue *input_value (ImpGraph *g, const ImpNode *n, int i)
{
  return i < n->n_inputs && n->inputs[i] >= 0 ? &g->values[n->inputs[i]] : NULL;
}

/* A constant float input of the given element count (-1: any), or NULL with an error. */
static const float *const_floats (ImpGraph *g, const ImpNode *n, int i, int64_t count,
                                  const char *what, ImpastoError *err)
{
  ImpValue *v = input_value (g, n, i);
  if (!v || !v->is_const || v->t.dtype != IMP_DT_FLOAT) {
    imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): %s must be a constant float tensor",
              n->name, n->op_type, what);
    return NULL;
  }
  if (count >= 0 && imp_tensor_count (&v->t) != (size_t) count) {
    imp_fail (err, IMPASTO_E_SHAPE, "node '%s' (%s): %s has %zu elements, expected %lld", n->name,
              n->op_type, what, imp_tensor_count (&v->t), (long long) count);
    return NULL;
  }
  return v->t.data;
}

static ImpastoStatus need_runtime_input (ImpGraph *g, const ImpNode *n, int i, ImpastoError *err)
{
  if (!input_value (g, n, i))
    return imp_fail (err, IMPASTO_E_FORMAT, "node '%s' (%s): input %d is missing", n->name,
                     n->op_type, i);
  return IMPASTO_OK;
}

static int node_output (const ImpNode *n)
{
  return n->n_outputs > 0 ? n->outputs[0] : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* One builder per op.                                                                          */

static ImpastoStatus parse_auto_pad (const ImpNode *n, ImpastoError *err)
{
  const char *ap = attr_string (n, "auto_pad", "NOTSET");
  if (strcmp (ap, "NOTSET") && strcmp (ap, "VALID"))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): auto_pad '%s' is not supported",
                     n->name, n->op_type, ap);
  return IMPASTO_OK;
}

static ImpastoStatus build_conv (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "kernel_shape", "strides", "pads", "dilations", "group",
                                       "auto_pad", NULL };
  ImpastoStatus st = check_attrs (n, known, err);
  if (st || (st = parse_auto_pad (n, err)) || (st = need_runtime_input (g, n, 0, err)))
    return st;
  ImpValue *w = input_value (g, n, 1);
  if (!w || !w->is_const || w->t.dtype != IMP_DT_FLOAT || w->t.rank != 4)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "node '%s' (Conv): only 2-D convolutions with constant float weights are supported",
                     n->name);
  ImpConvShape *cs = &s->u.conv.shape;
  int group = (int) attr_int (n, "group", 1);
  const int64_t *wd = w->t.dims; /* [M, C/group, KH, KW] */
  if (group < 1 || wd[0] % group || wd[0] > 65536 || wd[1] > 65536 || wd[2] > 1024 || wd[3] > 1024
      || wd[0] < 1 || wd[1] < 1 || wd[2] < 1 || wd[3] < 1)
    return imp_fail (err, IMPASTO_E_SHAPE, "node '%s' (Conv): weight shape [%lld, %lld, %lld, %lld] is invalid for group %d",
                     n->name, (long long) wd[0], (long long) wd[1], (long long) wd[2], (long long) wd[3], group);
  *cs = (ImpConvShape) { .in_c = (int) wd[1] * group, .out_c = (int) wd[0], .group = group,
                         .kh = (int) wd[2], .kw = (int) wd[3], .stride_h = 1, .stride_w = 1,
                         .dil_h = 1, .dil_w = 1, .pad_mode = IMP_PAD_CONSTANT };
  int ks[2] = { cs->kh, cs->kw }, strides[2] = { 1, 1 }, dil[2] = { 1, 1 }, pads[4] = { 0 };
  if ((st = attr_ints (n, "kernel_shape", 2, ks, 1, 1024, err))
      || (st = attr_ints (n, "strides", 2, strides, 1, 1024, err))
      || (st = attr_ints (n, "dilations", 2, dil, 1, 1024, err))
      || (st = attr_ints (n, "pads", 4, pads, 0, 4096, err)))
    return st;
  if (ks[0] != cs->kh || ks[1] != cs->kw)
    return imp_fail (err, IMPASTO_E_SHAPE, "node '%s' (Conv): kernel_shape does not match the weights", n->name);
  cs->stride_h = strides[0]; cs->stride_w = strides[1];
  cs->dil_h = dil[0]; cs->dil_w = dil[1];
  cs->pad_t = pads[0]; cs->pad_l = pads[1]; cs->pad_b = pads[2]; cs->pad_r = pads[3];
  s->u.conv.weight = w->t.data;
  s->u.conv.bias = NULL;
  if (input_value (g, n, 2) && !(s->u.conv.bias = const_floats (g, n, 2, cs->out_c, "bias", err)))
    return err->code;
  s->kind = STEP_CONV;
  s->cost = (double) cs->kh * cs->kw * cs->in_c / group;
  return IMPASTO_OK;
}

static ImpastoStatus build_convt (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "kernel_shape", "strides", "pads", "dilations", "group",
                                       "auto_pad", "output_padding", NULL };
  ImpastoStatus st = check_attrs (n, known, err);
  if (st || (st = parse_auto_pad (n, err)) || (st = need_runtime_input (g, n, 0, err)))
    return st;
  ImpValue *w = input_value (g, n, 1);
  if (!w || !w->is_const || w->t.dtype != IMP_DT_FLOAT || w->t.rank != 4)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "node '%s' (ConvTranspose): only 2-D transposed convolutions with constant float weights are supported",
                     n->name);
  int group = (int) attr_int (n, "group", 1);
  const int64_t *wd = w->t.dims; /* [C, M/group, KH, KW] */
  if (group < 1 || wd[0] % group || wd[0] < 1 || wd[1] < 1 || wd[2] < 1 || wd[3] < 1
      || wd[0] > 65536 || wd[1] > 65536 || wd[2] > 1024 || wd[3] > 1024)
    return imp_fail (err, IMPASTO_E_SHAPE, "node '%s' (ConvTranspose): invalid weight shape", n->name);
  ImpConvTShape *cs = &s->u.convt.shape;
  *cs = (ImpConvTShape) { .in_c = (int) wd[0], .out_c = (int) wd[1] * group, .group = group,
                          .kh = (int) wd[2], .kw = (int) wd[3] };
  int ks[2] = { cs->kh, cs->kw }, strides[2] = { 1, 1 }, dil[2] = { 1, 1 }, pads[4] = { 0 },
      opad[2] = { 0, 0 };
  if ((st = attr_ints (n, "kernel_shape", 2, ks, 1, 1024, err))
      || (st = attr_ints (n, "strides", 2, strides, 1, 1024, err))
      || (st = attr_ints (n, "dilations", 2, dil, 1, 1024, err))
      || (st = attr_ints (n, "pads", 4, pads, 0, 4096, err))
      || (st = attr_ints (n, "output_padding", 2, opad, 0, 1024, err)))
    return st;
  if (ks[0] != cs->kh || ks[1] != cs->kw)
    return imp_fail (err, IMPASTO_E_SHAPE, "node '%s' (ConvTranspose): kernel_shape does not match the weights", n->name);
  cs->stride_h = strides[0]; cs->stride_w = strides[1];
  cs->dil_h = dil[0]; cs->dil_w = dil[1];
  cs->pad_t = pads[0]; cs->pad_l = pads[1]; cs->pad_b = pads[2]; cs->pad_r = pads[3];
  cs->out_pad_h = opad[0]; cs->out_pad_w = opad[1];
  s->u.convt.weight = w->t.data;
  s->u.convt.bias = NULL;
  if (input_value (g, n, 2) && !(s->u.convt.bias = const_floats (g, n, 2, cs->out_c, "bias", err)))
    return err->code;
  s->kind = STEP_CONVT;
  s->cost = (double) cs->kh * cs->kw * cs->in_c / group / ((double) cs->stride_h * cs->stride_w);
  return IMPASTO_OK;
}

static ImpastoStatus build_pad (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "mode", "pads", "value", NULL };
  ImpastoStatus st = check_attrs (n, known, err);
  if (st || (st = need_runtime_input (g, n, 0, err)))
    return st;
  const char *mode = attr_string (n, "mode", "constant");
  if (!strcmp (mode, "constant")) s->u.pad.mode = IMP_PAD_CONSTANT;
  else if (!strcmp (mode, "reflect")) s->u.pad.mode = IMP_PAD_REFLECT;
  else if (!strcmp (mode, "edge")) s->u.pad.mode = IMP_PAD_EDGE;
  else
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Pad): mode '%s' is not supported", n->name, mode);
  int64_t pads[8];
  int np = 0;
  ImpValue *pv = input_value (g, n, 1);
  if (pv) {
    if (!pv->is_const || pv->t.dtype != IMP_DT_INT64)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Pad): pads must be constant", n->name);
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
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Pad): only 4-D pads are supported", n->name);
  if (pads[0] || pads[1] || pads[4] || pads[5])
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Pad): padding of batch or channel axes is not supported", n->name);
  for (int i = 0; i < 8; i++)
    if (pads[i] < 0 || pads[i] > 4096)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Pad): pad %lld is not supported", n->name, (long long) pads[i]);
  s->u.pad.t = (int) pads[2]; s->u.pad.l = (int) pads[3];
  s->u.pad.b = (int) pads[6]; s->u.pad.r = (int) pads[7];
  s->u.pad.value = attr_float (n, "value", 0.0f);
  if (input_value (g, n, 2)) {
    const float *v = const_floats (g, n, 2, 1, "constant_value", err);
    if (!v)
      return err->code;
    s->u.pad.value = *v;
  }
  s->kind = STEP_PAD;
  s->cost = 0.1;
  return IMPASTO_OK;
}

static ImpastoStatus build_instnorm (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "epsilon", NULL };
  ImpastoStatus st = check_attrs (n, known, err);
  if (st || (st = need_runtime_input (g, n, 0, err)))
    return st;
  ImpValue *sc = input_value (g, n, 1);
  int64_t c = sc && sc->is_const ? (int64_t) imp_tensor_count (&sc->t) : -1;
  if (!(s->u.instnorm.scale = const_floats (g, n, 1, c, "scale", err))
      || !(s->u.instnorm.bias = const_floats (g, n, 2, c, "bias", err)))
    return err->code;
  s->u.instnorm.channels = (int) c;
  s->u.instnorm.eps = attr_float (n, "epsilon", 1e-5f);
  s->u.instnorm.relu = false;
  s->kind = STEP_INSTNORM;
  s->cost = 0.5;
  return IMPASTO_OK;
}

static ImpastoStatus build_batchnorm (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const known[] = { "epsilon", "momentum", "training_mode", "spatial", NULL };
  ImpastoStatus st = check_attrs (n, known, err);
  if (st || (st = need_runtime_input (g, n, 0, err)))
    return st;
  if (attr_int (n, "training_mode", 0) != 0 || n->n_outputs > 1)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (BatchNormalization): training mode is not supported", n->name);
  ImpValue *sc = input_value (g, n, 1);
  int64_t c = sc && sc->is_const ? (int64_t) imp_tensor_count (&sc->t) : -1;
  const float *scale = const_floats (g, n, 1, c, "scale", err), *bias, *mean, *var;
  if (!scale || !(bias = const_floats (g, n, 2, c, "bias", err))
      || !(mean = const_floats (g, n, 3, c, "mean", err)) || !(var = const_floats (g, n, 4, c, "var", err)))
    return err->code;
  float eps = attr_float (n, "epsilon", 1e-5f);
  s->u.batchnorm.mul = imp_alloc ((size_t) c, sizeof (float), "batchnorm", err);
  s->u.batchnorm.add = imp_alloc ((size_t) c, sizeof (float), "batchnorm", err);
  if (!s->u.batchnorm.mul || !s->u.batchnorm.add) {
    imp_free (s->u.batchnorm.mul);
    imp_free (s->u.batchnorm.add);
    return IMPASTO_E_NOMEM;
  }
  for (int64_t i = 0; i < c; i++) { /* y = (x - mean) * scale / sqrt(var + eps) + bias */
    float m = scale[i] / sqrtf (var[i] + eps);
    s->u.batchnorm.mul[i] = m;
    s->u.batchnorm.add[i] = bias[i] - mean[i] * m;
  }
  s->u.batchnorm.channels = (int) c;
  s->kind = STEP_BATCHNORM;
  s->cost = 0.2;
  return IMPASTO_OK;
}

static ImpastoStatus build_unary (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const none[] = { NULL };
  static const char *const leaky[] = { "alpha", NULL };
  static const char *const clip[] = { "min", "max", NULL };
  const char *op = n->op_type;
  ImpastoStatus st = need_runtime_input (g, n, 0, err);
  if (st)
    return st;
  s->kind = STEP_UNARY;
  s->cost = 0.1;
  if (!strcmp (op, "Relu")) { s->u.unary.op = IMP_UNARY_RELU; return check_attrs (n, none, err); }
  if (!strcmp (op, "Sigmoid")) { s->u.unary.op = IMP_UNARY_SIGMOID; return check_attrs (n, none, err); }
  if (!strcmp (op, "Tanh")) { s->u.unary.op = IMP_UNARY_TANH; return check_attrs (n, none, err); }
  if (!strcmp (op, "LeakyRelu")) {
    s->u.unary.op = IMP_UNARY_LEAKY_RELU;
    s->u.unary.alpha = attr_float (n, "alpha", 0.01f);
    return check_attrs (n, leaky, err);
  }
  /* Clip: min/max as attributes (opset < 11) or optional constant inputs */
  s->u.unary.op = IMP_UNARY_CLIP;
  s->u.unary.alpha = attr_float (n, "min", -INFINITY);
  s->u.unary.beta = attr_float (n, "max", INFINITY);
  const float *v;
  if (input_value (g, n, 1)) {
    if (!(v = const_floats (g, n, 1, 1, "min", err)))
      return err->code;
    s->u.unary.alpha = *v;
  }
  if (input_value (g, n, 2)) {
    if (!(v = const_floats (g, n, 2, 1, "max", err)))
      return err->code;
    s->u.unary.beta = *v;
  }
  return check_attrs (n, clip, err);
}

static ImpastoStatus build_binary (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const none[] = { NULL };
  ImpastoStatus st = check_attrs (n, none, err);
  if (st || (st = need_runtime_input (g, n, 0, err)) || (st = need_runtime_input (g, n, 1, err)))
    return st;
  for (int i = 0; i < 2; i++) {
    ImpValue *v = input_value (g, n, i);
    if (v->is_const && v->t.dtype != IMP_DT_FLOAT)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): non-float operand", n->name, n->op_type);
  }
  const char *op = n->op_type;
  s->u.binary.op = !strcmp (op, "Add") ? IMP_BINARY_ADD : !strcmp (op, "Sub") ? IMP_BINARY_SUB
                 : !strcmp (op, "Mul") ? IMP_BINARY_MUL : IMP_BINARY_DIV;
  s->kind = STEP_BINARY;
  s->n_inputs = 2;
  s->cost = 0.1;
  return IMPASTO_OK;
}

static ImpastoStatus parse_nearest (const ImpNode *n, ImpStep *s, bool upsample, ImpastoError *err)
{
  const char *mode = attr_string (n, "mode", "nearest");
  if (strcmp (mode, "nearest"))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): mode '%s' is not supported (only nearest)",
                     n->name, n->op_type, mode);
  if (upsample) {
    s->u.resize.coord = IMP_COORD_ASYMMETRIC;
    s->u.resize.nearest = IMP_NEAREST_FLOOR;
    return IMPASTO_OK;
  }
  static const char *const coords[] = { "half_pixel", "asymmetric", "align_corners",
                                        "pytorch_half_pixel", "tf_half_pixel_for_nn", NULL };
  static const char *const nearests[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL };
  const char *c = attr_string (n, "coordinate_transformation_mode", "half_pixel");
  const char *m = attr_string (n, "nearest_mode", "round_prefer_floor");
  int ci = -1, mi = -1;
  for (int i = 0; coords[i]; i++) if (!strcmp (c, coords[i])) ci = i;
  for (int i = 0; nearests[i]; i++) if (!strcmp (m, nearests[i])) mi = i;
  if (ci < 0 || mi < 0)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Resize): mode '%s'/'%s' is not supported",
                     n->name, c, m);
  s->u.resize.coord = (ImpCoordMode) ci;
  s->u.resize.nearest = (ImpNearestMode) mi;
  if (attr_int (n, "antialias", 0) || imp_node_attr (n, "axes"))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Resize): antialias/axes are not supported", n->name);
  return IMPASTO_OK;
}

static ImpastoStatus build_resize (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const up_known[] = { "mode", "scales", NULL };
  static const char *const known[] = { "mode", "coordinate_transformation_mode", "nearest_mode",
                                       "cubic_coeff_a", "exclude_outside", "extrapolation_value",
                                       "antialias", "keep_aspect_ratio_policy", NULL };
  bool upsample = !strcmp (n->op_type, "Upsample");
  ImpastoStatus st = check_attrs (n, upsample ? up_known : known, err);
  if (st || (st = need_runtime_input (g, n, 0, err)) || (st = parse_nearest (n, s, upsample, err)))
    return st;
  /* where the scales (or sizes) live depends on the op and opset */
  int scales_in = upsample || g->opset == 10 ? 1 : 2, sizes_in = upsample || g->opset == 10 ? -1 : 3;
  float scales[4] = { 1, 1, 1, 1 };
  s->u.resize.size_h = s->u.resize.size_w = -1;
  const ImpAttr *sa = imp_node_attr (n, "scales");
  ImpValue *sv = input_value (g, n, scales_in);
  if (sv && imp_tensor_count (&sv->t) > 0) {
    const float *v = const_floats (g, n, scales_in, 4, "scales", err);
    if (!v)
      return err->code;
    memcpy (scales, v, sizeof scales);
  } else if (sa && sa->type == IMP_ATTR_FLOATS && sa->n == 4) {
    memcpy (scales, sa->floats, sizeof scales);
  } else if (sizes_in >= 0 && input_value (g, n, sizes_in)) {
    ImpValue *zv = input_value (g, n, sizes_in);
    if (!zv->is_const || zv->t.dtype != IMP_DT_INT64 || imp_tensor_count (&zv->t) != 4)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Resize): sizes must be a constant of 4 values", n->name);
    const int64_t *z = zv->t.data;
    s->u.resize.size_h = z[2];
    s->u.resize.size_w = z[3];
    if (z[2] < 1 || z[3] < 1 || z[2] > (1 << 20) || z[3] > (1 << 20))
      return imp_fail (err, IMPASTO_E_SHAPE, "node '%s' (Resize): invalid sizes", n->name);
  } else {
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): needs constant scales or sizes", n->name, n->op_type);
  }
  if (scales[0] != 1 || scales[1] != 1)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): scaling batch or channel axes is not supported", n->name, n->op_type);
  if (!(scales[2] > 0 && scales[2] <= 64 && scales[3] > 0 && scales[3] <= 64))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (%s): scale %g x %g is not supported", n->name, n->op_type, scales[2], scales[3]);
  s->u.resize.scale_h = scales[2];
  s->u.resize.scale_w = scales[3];
  s->kind = STEP_RESIZE;
  s->cost = 0.1;
  return IMPASTO_OK;
}

static ImpastoStatus build_misc (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const none[] = { NULL };
  static const char *const axis[] = { "axis", NULL };
  static const char *const dropout[] = { "ratio", "seed", NULL };
  const char *op = n->op_type;
  ImpastoStatus st = need_runtime_input (g, n, 0, err);
  if (st)
    return st;
  s->cost = 0.05;
  if (!strcmp (op, "Concat")) {
    if ((st = check_attrs (n, axis, err)))
      return st;
    if (n->n_inputs > 4 || n->n_inputs < 1)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Concat): %d inputs (at most 4 supported)", n->name, n->n_inputs);
    /* the executor joins 4-D tensors along channels only: refuse other axes here, at load */
    int64_t ax = attr_int (n, "axis", 1);
    if (ax != 1 && ax != -3)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                       "node '%s' (Concat): axis %lld is not supported (only 1, the channels)",
                       n->name, (long long) ax);
    s->kind = STEP_CONCAT;
    s->u.concat.axis = (int) ax;
    s->n_inputs = n->n_inputs;
    return IMPASTO_OK;
  }
  if (!strcmp (op, "GlobalAveragePool")) {
    s->kind = STEP_GLOBAL_AVGPOOL;
    return check_attrs (n, none, err);
  }
  /* Dropout is the identity only in inference: a training_mode input (opset 12+) that is not a
   * constant false would drop values */
  ImpValue *training = !strcmp (op, "Dropout") ? input_value (g, n, 2) : NULL;
  if (training && (!training->is_const || training->t.dtype != IMP_DT_INT64
                   || imp_tensor_count (&training->t) != 1 || *(const int64_t *) training->t.data))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Dropout): training mode is not supported",
                     n->name);
  s->kind = STEP_IDENTITY; /* Identity, Dropout (inference) */
  return check_attrs (n, !strcmp (op, "Dropout") ? dropout : none, err);
}

typedef ImpastoStatus (*BuildFunc) (ImpGraph *, const ImpNode *, ImpStep *, ImpastoError *);

static const struct { const char *op; BuildFunc build; } builders[] = {
  { "Conv", build_conv },           { "ConvTranspose", build_convt },
  { "Pad", build_pad },             { "InstanceNormalization", build_instnorm },
  { "BatchNormalization", build_batchnorm },
  { "Relu", build_unary },          { "LeakyRelu", build_unary },
  { "Sigmoid", build_unary },       { "Tanh", build_unary },
  { "Clip", build_unary },          { "Add", build_binary },
  { "Sub", build_binary },          { "Mul", build_binary },
  { "Div", build_binary },          { "Upsample", build_resize },
  { "Resize", build_resize },       { "Concat", build_misc },
  { "GlobalAveragePool", build_misc }, { "Identity", build_misc },
  { "Dropout", build_misc },
};

static ImpastoStatus build_step (ImpGraph *g, int node, ImpStep *s, ImpastoError *err)
{
  const ImpNode *n = &g->nodes[node];
  memset (s, 0, sizeof *s);
  s->node = node;
  s->n_inputs = 1;
  for (int i = 0; i < 4; i++)
    s->inputs[i] = i < n->n_inputs ? n->inputs[i] : -1;
  s->output = node_output (n);
  if (s->output < 0)
    return imp_fail (err, IMPASTO_E_FORMAT, "node '%s' (%s) has no output", n->name, n->op_type);
  bool default_domain = !n->domain[0] || !strcmp (n->domain, "ai.onnx");
  for (size_t i = 0; default_domain && i < sizeof builders / sizeof builders[0]; i++)
    if (!strcmp (n->op_type, builders[i].op))
      return builders[i].build (g, n, s, err);
  return imp_fail (err, IMPASTO_E_UNSUPPORTED, "unsupported operator '%s%s%s' (node '%s')",
                   default_domain ? "" : n->domain, default_domain ? "" : ".", n->op_type, n->name);
}

/* ------------------------------------------------------------------------------------------ */
/* Fusion.                                                                                      */

/* How many steps read value v, plus one if it is a graph output. */
static int count_uses (const ImpastoModel *m, int v)
{
  int uses = 0;
  for (int i = 0; i < m->n_steps; i++)
    for (int k = 0; k < m->steps[i].n_inputs; k++)
      uses += !m->steps[i].dead && m->steps[i].inputs[k] == v;
  for (int o = 0; o < m->graph->n_outputs; o++)
    uses += m->graph->outputs[o] == v;
  return uses;
}

static ImpStep *producer_step (ImpastoModel *m, int v)
{
  for (int i = 0; i < m->n_steps; i++)
    if (!m->steps[i].dead && m->steps[i].output == v)
      return &m->steps[i];
  return NULL;
}

static void fuse_steps (ImpastoModel *m)
{
  for (int i = 0; i < m->n_steps; i++) {
    ImpStep *s = &m->steps[i];
    if (s->dead)
      continue;
    ImpStep *p = producer_step (m, s->inputs[0]);
    if (!p || count_uses (m, p->output) != 1)
      continue;
    /* Pad -> Conv: the conv reads through the padding mode (no padded copy). */
    if (s->kind == STEP_CONV && p->kind == STEP_PAD) {
      ImpConvShape *cs = &s->u.conv.shape;
      bool conv_unpadded = !cs->pad_t && !cs->pad_l && !cs->pad_b && !cs->pad_r;
      bool zero_pad = p->u.pad.mode == IMP_PAD_CONSTANT && p->u.pad.value == 0.0f;
      if (conv_unpadded || zero_pad) {
        cs->pad_t += p->u.pad.t; cs->pad_l += p->u.pad.l;
        cs->pad_b += p->u.pad.b; cs->pad_r += p->u.pad.r;
        cs->pad_mode = p->u.pad.mode;
        s->inputs[0] = p->inputs[0];
        p->dead = true;
      }
    }
    /* InstanceNorm -> Relu: one pass. */
    if (s->kind == STEP_UNARY && s->u.unary.op == IMP_UNARY_RELU && p->kind == STEP_INSTNORM
        && !p->u.instnorm.relu) {
      p->u.instnorm.relu = true;
      p->output = s->output;
      p->node = s->node;
      s->dead = true;
    }
  }
  /* compact */
  int k = 0;
  for (int i = 0; i < m->n_steps; i++)
    if (!m->steps[i].dead)
      m->steps[k++] = m->steps[i];
  m->n_steps = k;
}

/* ------------------------------------------------------------------------------------------ */

static ImpastoStatus pack_weights (ImpastoModel *m, ImpastoError *err)
{
  for (int i = 0; i < m->n_steps; i++) {
    ImpStep *s = &m->steps[i];
    if (s->kind == STEP_CONV) {
      s->u.conv.conv = imp_conv_new (&s->u.conv.shape, s->u.conv.weight, s->u.conv.bias, err);
      if (!s->u.conv.conv)
        return err->code ? err->code : IMPASTO_E_NOMEM;
    } else if (s->kind == STEP_CONVT) {
      s->u.convt.conv = imp_convt_new (&s->u.convt.shape, s->u.convt.weight, s->u.convt.bias, err);
      if (!s->u.convt.conv)
        return err->code ? err->code : IMPASTO_E_NOMEM;
    }
  }
  return IMPASTO_OK;
}

static bool all_inputs_const (const ImpGraph *g, const ImpNode *n)
{
  for (int i = 0; i < n->n_inputs; i++)
    if (n->inputs[i] >= 0 && !g->values[n->inputs[i]].is_const)
      return false;
  return true;
}

ImpastoStatus imp_model_prepare (ImpastoModel *m, ImpGraph *g, ImpastoError *err)
{
  m->graph = g;
  if (g->n_inputs < 1 || g->n_outputs < 1)
    return imp_fail (err, IMPASTO_E_FORMAT, "the graph has no inputs or no outputs");
  int *order = imp_alloc ((size_t) g->n_nodes + 1, sizeof (int), "node order", err);
  m->steps = imp_alloc0 ((size_t) g->n_nodes + 1, sizeof (ImpStep), "steps", err);
  if (!order || !m->steps) {
    imp_free (order);
    return IMPASTO_E_NOMEM;
  }
  /* A few bytes of ConstantOfShape may ask for gigabytes: folding may make twice the constants
   * the file holds (initializers and Constant nodes' tensors; a transposed or concatenated
   * weight) plus 64 MiB, no more. */
  size_t const_bytes = 0;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].is_const)
      const_bytes += imp_tensor_count (&g->values[v].t) * (g->values[v].t.dtype == IMP_DT_INT64 ? 8 : 4);
  for (int i = 0; i < g->n_nodes; i++)
    for (int a = 0; a < g->nodes[i].n_attrs; a++) {
      const ImpAttr *at = &g->nodes[i].attrs[a];
      if (at->type == IMP_ATTR_TENSOR)
        const_bytes += imp_tensor_count (&at->t) * (at->t.dtype == IMP_DT_INT64 ? 8 : 4);
      else if (at->type == IMP_ATTR_FLOATS || at->type == IMP_ATTR_INTS)
        const_bytes += (size_t) at->n * 8;
    }
  g->fold_budget = 2 * const_bytes + ((size_t) 64 << 20);
  ImpastoStatus st = (ImpastoStatus) imp_graph_topo_order (g, order, err);
  for (int k = 0; !st && k < g->n_nodes; k++) {
    const ImpNode *n = &g->nodes[order[k]];
    if (all_inputs_const (g, n)) {
      st = imp_fold_node (g, n, err);
      if (st != IMPASTO_E_UNSUPPORTED)
        continue;
      st = IMPASTO_OK; /* not foldable: an ordinary step reading constants */
      imp_error_clear (err);
    }
    st = build_step (g, order[k], &m->steps[m->n_steps], err);
    if (!st)
      m->n_steps++;
  }
  imp_free (order);
  if (st)
    return st;
  for (int o = 0; o < g->n_outputs; o++)
    if (g->values[g->outputs[o]].is_const)
      return imp_fail (err, IMPASTO_E_FORMAT, "graph output '%s' does not depend on any input",
                       g->values[g->outputs[o]].name);
  fuse_steps (m);
  return pack_weights (m, err);
}

void imp_model_release_steps (ImpastoModel *m)
{
  for (int i = 0; i < m->n_steps; i++) {
    ImpStep *s = &m->steps[i];
    if (s->kind == STEP_CONV) {
      imp_conv_free (s->u.conv.conv);
      imp_conv_free (s->u.conv.band_conv); /* made lazily by stream.c */
    } else if (s->kind == STEP_CONVT)
      imp_convt_free (s->u.convt.conv);
    else if (s->kind == STEP_BATCHNORM) {
      imp_free (s->u.batchnorm.mul);
      imp_free (s->u.batchnorm.add);
    }
  }
  imp_free (m->steps);
  m->steps = NULL;
  m->n_steps = 0;
}
