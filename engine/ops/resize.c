/* ops/resize.c — Resize (opsets 10..19) and Upsample, nearest only, H and W only.  Banded it is a
 * view through row and column index maps; a Conv reading it gathers straight from the source
 * rows (ops/conv.c). */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <string.h>

static ImpastoStatus parse_nearest (const ImpNode *n, ImpStep *s, bool upsample, ImpastoError *err)
{
  const char *mode = imp_op_attr_string (n, "mode", "nearest");
  if (strcmp (mode, "nearest"))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "mode '%s' is not supported (only nearest)", mode);
  if (upsample) {
    s->u.resize.coord = IMP_COORD_ASYMMETRIC;
    s->u.resize.nearest = IMP_NEAREST_FLOOR;
    return IMPASTO_OK;
  }
  static const char *const coords[] = { "half_pixel", "asymmetric", "align_corners",
                                        "pytorch_half_pixel", "tf_half_pixel_for_nn", NULL };
  static const char *const nearests[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL };
  const char *c = imp_op_attr_string (n, "coordinate_transformation_mode", "half_pixel");
  const char *m = imp_op_attr_string (n, "nearest_mode", "round_prefer_floor");
  int ci = -1, mi = -1;
  for (int i = 0; coords[i]; i++) if (!strcmp (c, coords[i])) ci = i;
  for (int i = 0; nearests[i]; i++) if (!strcmp (m, nearests[i])) mi = i;
  if (ci < 0 || mi < 0)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "mode '%s'/'%s' is not supported", c, m);
  s->u.resize.coord = (ImpCoordMode) ci;
  s->u.resize.nearest = (ImpNearestMode) mi;
  if (imp_op_attr_int (n, "antialias", 0) || imp_node_attr (n, "axes"))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "antialias/axes are not supported");
  return IMPASTO_OK;
}

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const up_known[] = { "mode", "scales", NULL };
  static const char *const known[] = { "mode", "coordinate_transformation_mode", "nearest_mode",
                                       "cubic_coeff_a", "exclude_outside", "extrapolation_value",
                                       "antialias", "keep_aspect_ratio_policy", NULL };
  bool upsample = !strcmp (n->op_type, "Upsample");
  ImpastoStatus st = imp_op_check_attrs (n, upsample ? up_known : known, err);
  if (st || (st = imp_op_need_input (g, n, 0, err)) || (st = parse_nearest (n, s, upsample, err)))
    return st;
  /* where the scales (or sizes) live depends on the op and opset */
  int scales_in = upsample || g->opset == 10 ? 1 : 2, sizes_in = upsample || g->opset == 10 ? -1 : 3;
  float scales[4] = { 1, 1, 1, 1 };
  s->u.resize.size_h = s->u.resize.size_w = -1;
  const ImpAttr *sa = imp_node_attr (n, "scales");
  ImpValue *sv = imp_op_input (g, n, scales_in);
  if (sv && imp_tensor_count (&sv->t) > 0) {
    const float *v = imp_op_const_floats (g, n, scales_in, 4, "scales", err);
    if (!v)
      return err->code;
    memcpy (scales, v, sizeof scales);
  } else if (sa && sa->type == IMP_ATTR_FLOATS && sa->n == 4) {
    memcpy (scales, sa->floats, sizeof scales);
  } else if (sizes_in >= 0 && imp_op_input (g, n, sizes_in)) {
    ImpValue *zv = imp_op_input (g, n, sizes_in);
    if (!zv->is_const || zv->t.dtype != IMP_DT_INT64 || imp_tensor_count (&zv->t) != 4)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "sizes must be a constant of 4 values");
    const int64_t *z = zv->t.data;
    s->u.resize.size_h = z[2];
    s->u.resize.size_w = z[3];
    if (z[2] < 1 || z[3] < 1 || z[2] > (1 << 20) || z[3] > (1 << 20))
      return imp_fail (err, IMPASTO_E_SHAPE, "invalid sizes");
  } else {
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "needs constant scales or sizes");
  }
  if (scales[0] != 1 || scales[1] != 1)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "scaling batch or channel axes is not supported");
  if (!(scales[2] > 0 && scales[2] <= 64 && scales[3] > 0 && scales[3] <= 64))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "scale %g x %g is not supported", scales[2], scales[3]);
  s->u.resize.scale_h = scales[2];
  s->u.resize.scale_w = scales[3];
  s->cost = 0.1;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *in = inputs[0];
  if (in->rank != 4)
    return "input must be 4-D";
  if (s->u.resize.size_h > 0) {
    out->dims[2] = s->u.resize.size_h;
    out->dims[3] = s->u.resize.size_w;
  } else { /* ONNX: output = floor(input * scale) */
    out->dims[2] = (int64_t) ((double) in->dims[2] * s->u.resize.scale_h);
    out->dims[3] = (int64_t) ((double) in->dims[3] * s->u.resize.scale_w);
  }
  if (out->dims[2] < 1 || out->dims[3] < 1)
    return "output would be empty";
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in = imp_exec_in (x, s, 0);
  ImpTensor *out = imp_exec_out (x, s);
  ImpastoStatus st = imp_exec_alloc (x, s);
  if (st)
    return st;
  float sh = s->u.resize.scale_h, sw = s->u.resize.scale_w;
  if (s->u.resize.size_h > 0) { /* sizes given: the scale is output / input */
    sh = (float) out->dims[2] / (float) in->dims[2];
    sw = (float) out->dims[3] / (float) in->dims[3];
  }
  imp_resize_nearest ((int) (in->dims[0] * in->dims[1]), (int) in->dims[2], (int) in->dims[3],
                      in->data, (int) out->dims[2], (int) out->dims[3], sh, sw,
                      s->u.resize.coord, s->u.resize.nearest, out->data, x->m->pool);
  return IMPASTO_OK;
}

static ImpastoStatus view (ImpStream *s, ImpStep *st)
{
  SVal *in = &s->v[st->inputs[0]], *out = &s->v[st->output];
  out->row_map = imp_alloc ((size_t) out->h, sizeof (int64_t), "resize map", s->err);
  out->col_map = imp_alloc ((size_t) out->w, sizeof (int64_t), "resize map", s->err);
  if (!out->row_map || !out->col_map)
    return IMPASTO_E_NOMEM;
  /* Let the kernel itself say which source pixel each output pixel takes: resize an image of
   * indices.  One row / one column at a time keeps this exact and cheap. */
  float sh = st->u.resize.scale_h, sw = st->u.resize.scale_w;
  if (st->u.resize.size_h > 0) {
    sh = (float) out->h / (float) in->h;
    sw = (float) out->w / (float) in->w;
  }
  size_t cap1, cap2;
  int64_t n = IMP_MAX (IMP_MAX (in->h, in->w), IMP_MAX (out->h, out->w));
  float *idx = imp_stream_take (s, (size_t) n, &cap1), *res = imp_stream_take (s, (size_t) n, &cap2);
  if (!idx || !res) {
    imp_stream_give (s, idx, cap1);
    imp_stream_give (s, res, cap2);
    return IMPASTO_E_NOMEM;
  }
  for (int64_t i = 0; i < n; i++)
    idx[i] = (float) i; /* exact for i < 2^24 */
  imp_resize_nearest (1, (int) in->h, 1, idx, (int) out->h, 1, sh, 1.0f, st->u.resize.coord,
                      st->u.resize.nearest, res, NULL);
  for (int64_t i = 0; i < out->h; i++)
    out->row_map[i] = (int64_t) res[i];
  imp_resize_nearest (1, 1, (int) in->w, idx, 1, (int) out->w, 1.0f, sw, st->u.resize.coord,
                      st->u.resize.nearest, res, NULL);
  out->cols_double = true;
  for (int64_t i = 0; i < out->w; i++) {
    out->col_map[i] = (int64_t) res[i];
    out->cols_double &= out->col_map[i] == i / 2;
  }
  imp_stream_give (s, idx, cap1);
  imp_stream_give (s, res, cap2);
  imp_stream_view_of (s, st, SV_RESIZE);
  return IMPASTO_OK;
}

static ImpastoStatus transpose (const ImpGraph *g, ImpStep *s, ImpastoError *err)
{
  float sh = s->u.resize.scale_h;
  int64_t zh = s->u.resize.size_h;
  s->u.resize.scale_h = s->u.resize.scale_w, s->u.resize.scale_w = sh;
  s->u.resize.size_h = s->u.resize.size_w, s->u.resize.size_w = zh;
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "Resize", "Upsample", NULL };
IMP_OP (resize, IMP_STREAM_VIEW, .name = "Resize", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run, .view = view, .transpose = transpose);
