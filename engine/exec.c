/* exec.c — runs a prepared model's steps.
 *
 * Two passes: first every step's output shape is inferred from the input's (so wrong shapes and
 * absurd sizes are refused before any work or allocation), then the steps run in order.  Buffers
 * are freed after their last reader and recycled; elementwise steps and instance norms work in
 * place when their input is not needed afterwards. */
#include "model.h"
#include "util.h"

#include <string.h>

typedef struct {
  ImpTensor t;     /* dims, and data once computed (borrowed for constants and the input) */
  size_t capacity; /* floats owned in t.data; 0 when borrowed */
  int uses;        /* reads still to come */
} Slot;

typedef struct {
  ImpastoModel *m;
  Slot *slots;          /* one per graph value */
  ImpBufferCache cache; /* freed buffers for reuse */
  ImpastoError *err;
} Exec;

static const ImpNode *step_node (const Exec *x, const ImpStep *s)
{
  return &x->m->graph->nodes[s->node];
}

static ImpastoStatus shape_error (Exec *x, const ImpStep *s, const char *what)
{
  const ImpNode *n = step_node (x, s);
  return imp_fail (x->err, IMPASTO_E_SHAPE, "node '%s' (%s): %s", n->name, n->op_type, what);
}

/* ------------------------------------------------------------------------------------------ */
/* Buffers.                                                                                     */

/* One read of value v is done: recycle its buffer after the last one. */
static void release (Exec *x, int v)
{
  Slot *s = &x->slots[v];
  if (--s->uses == 0 && s->capacity) {
    imp_cache_give (&x->cache, s->t.data, s->capacity);
    s->t.data = NULL;
    s->capacity = 0;
  }
}

static ImpastoStatus alloc_output (Exec *x, const ImpStep *s)
{
  Slot *o = &x->slots[s->output];
  size_t count = imp_tensor_count (&o->t);
  o->t.data = imp_cache_take (&x->cache, count, &o->capacity, x->err);
  return o->t.data ? IMPASTO_OK : IMPASTO_E_NOMEM;
}

/* Let the output take over input in's buffer when this step is its last reader. */
static ImpastoStatus alloc_output_inplace (Exec *x, const ImpStep *s, int in)
{
  Slot *i = &x->slots[in], *o = &x->slots[s->output];
  if (i->uses == 1 && i->capacity && imp_tensor_count (&i->t) == imp_tensor_count (&o->t)) {
    o->t.data = i->t.data;
    o->capacity = i->capacity;
    i->t.data = NULL;
    i->capacity = 0;
    i->uses = 0;
    return IMPASTO_OK;
  }
  return alloc_output (x, s);
}

/* ------------------------------------------------------------------------------------------ */
/* Shape inference.                                                                             */

static bool rank4 (const ImpTensor *t)
{
  return t->rank == 4;
}

static ImpastoStatus infer_step (Exec *x, const ImpStep *s)
{
  const ImpTensor *in = &x->slots[s->inputs[0]].t;
  ImpTensor *out = &x->slots[s->output].t;
  out->dtype = IMP_DT_FLOAT;
  out->rank = in->rank;
  memcpy (out->dims, in->dims, sizeof out->dims);
  switch (s->kind) {
  case STEP_CONV: {
    const ImpConvShape *cs = &s->u.conv.shape;
    if (!rank4 (in) || in->dims[1] != cs->in_c)
      return shape_error (x, s, "input channels do not match the weights");
    if (cs->pad_mode == IMP_PAD_REFLECT
        && (cs->pad_t >= in->dims[2] || cs->pad_b >= in->dims[2] || cs->pad_l >= in->dims[3]
            || cs->pad_r >= in->dims[3]))
      return shape_error (x, s, "reflect padding is larger than the image");
    if (!imp_conv_out_size (cs, in->dims[2], in->dims[3], &out->dims[2], &out->dims[3]))
      return shape_error (x, s, "the input is smaller than the kernel");
    out->dims[1] = cs->out_c;
    return IMPASTO_OK;
  }
  case STEP_CONVT:
    if (!rank4 (in) || in->dims[1] != s->u.convt.shape.in_c)
      return shape_error (x, s, "input channels do not match the weights");
    if (!imp_convt_out_size (&s->u.convt.shape, in->dims[2], in->dims[3], &out->dims[2], &out->dims[3]))
      return shape_error (x, s, "invalid output size");
    out->dims[1] = s->u.convt.shape.out_c;
    return IMPASTO_OK;
  case STEP_PAD:
    if (!rank4 (in))
      return shape_error (x, s, "input must be 4-D");
    if (s->u.pad.mode == IMP_PAD_REFLECT
        && (s->u.pad.t >= in->dims[2] || s->u.pad.b >= in->dims[2] || s->u.pad.l >= in->dims[3]
            || s->u.pad.r >= in->dims[3]))
      return shape_error (x, s, "reflect padding is larger than the image");
    out->dims[2] += s->u.pad.t + s->u.pad.b;
    out->dims[3] += s->u.pad.l + s->u.pad.r;
    return IMPASTO_OK;
  case STEP_INSTNORM:
    if (in->rank < 3 || in->dims[1] != s->u.instnorm.channels)
      return shape_error (x, s, "channel count does not match scale and bias");
    return IMPASTO_OK;
  case STEP_BATCHNORM:
    if (in->rank < 2 || in->dims[1] != s->u.batchnorm.channels)
      return shape_error (x, s, "channel count does not match the statistics");
    return IMPASTO_OK;
  case STEP_UNARY:
  case STEP_IDENTITY:
    return IMPASTO_OK;
  case STEP_BINARY: {
    const ImpTensor *b = &x->slots[s->inputs[1]].t;
    int rank = IMP_MAX (in->rank, b->rank);
    out->rank = rank;
    for (int d = 0; d < rank; d++) {
      int ia = d - (rank - in->rank), ib = d - (rank - b->rank);
      int64_t da = ia >= 0 ? in->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
      if (da != db && da != 1 && db != 1)
        return shape_error (x, s, "operand shapes do not broadcast");
      out->dims[d] = da == 1 ? db : da;
    }
    return IMPASTO_OK;
  }
  case STEP_RESIZE:
    if (!rank4 (in))
      return shape_error (x, s, "input must be 4-D");
    if (s->u.resize.size_h > 0) {
      out->dims[2] = s->u.resize.size_h;
      out->dims[3] = s->u.resize.size_w;
    } else { /* ONNX: output = floor(input * scale) */
      out->dims[2] = (int64_t) ((double) in->dims[2] * s->u.resize.scale_h);
      out->dims[3] = (int64_t) ((double) in->dims[3] * s->u.resize.scale_w);
    }
    if (out->dims[2] < 1 || out->dims[3] < 1)
      return shape_error (x, s, "output would be empty");
    return IMPASTO_OK;
  case STEP_CONCAT: {
    int axis = s->u.concat.axis < 0 ? s->u.concat.axis + in->rank : s->u.concat.axis;
    if (!rank4 (in) || axis != 1)
      return shape_error (x, s, "only concatenation of 4-D tensors along channels is supported");
    out->dims[1] = 0;
    for (int i = 0; i < s->n_inputs; i++) {
      const ImpTensor *t = &x->slots[s->inputs[i]].t;
      if (!rank4 (t) || t->dims[0] != in->dims[0] || t->dims[2] != in->dims[2] || t->dims[3] != in->dims[3])
        return shape_error (x, s, "inputs differ in size");
      out->dims[1] += t->dims[1];
    }
    return IMPASTO_OK;
  }
  case STEP_GLOBAL_AVGPOOL:
    if (in->rank < 3)
      return shape_error (x, s, "input must be at least 3-D");
    for (int d = 2; d < in->rank; d++)
      out->dims[d] = 1;
    return IMPASTO_OK;
  }
  return shape_error (x, s, "unknown step");
}

/* Element count with limits: an absurd size is refused here, before anything is allocated. */
static ImpastoStatus check_size (Exec *x, const ImpStep *s)
{
  size_t count;
  const ImpTensor *t = &x->slots[s->output].t;
  if (!imp_dims_count (t->dims, t->rank, &count) || count > ((size_t) 1 << 34) / sizeof (float))
    return shape_error (x, s, "the output tensor would be too large");
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] > INT32_MAX)
      return shape_error (x, s, "a dimension is too large");
  return IMPASTO_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Running one step.                                                                            */

static ImpastoStatus run_conv (Exec *x, const ImpStep *s)
{
  const ImpTensor *in = &x->slots[s->inputs[0]].t;
  ImpTensor *out = &x->slots[s->output].t;
  ImpastoStatus st = alloc_output (x, s);
  size_t in_item = imp_tensor_count (in) / (size_t) in->dims[0];
  size_t out_item = imp_tensor_count (out) / (size_t) out->dims[0];
  for (int64_t b = 0; !st && b < in->dims[0]; b++) {
    const float *src = (const float *) in->data + (size_t) b * in_item; /* [C, H, W] */
    float *dst = (float *) out->data + (size_t) b * out_item;          /* [M, OH, OW] */
    if (s->kind == STEP_CONV)
      st = imp_conv_run (s->u.conv.conv, (int) in->dims[2], (int) in->dims[3], src, dst,
                         x->m->pool, x->err);
    else
      st = imp_convt_run (s->u.convt.conv, (int) in->dims[2], (int) in->dims[3], src, dst,
                          x->m->pool, x->err);
  }
  return st;
}

static ImpastoStatus run_pad (Exec *x, const ImpStep *s)
{
  const ImpTensor *in = &x->slots[s->inputs[0]].t;
  ImpTensor *out = &x->slots[s->output].t;
  ImpastoStatus st = alloc_output (x, s);
  if (st)
    return st;
  /* batch and channel axes are never padded: treat [N*C, H, W] as channels */
  imp_pad2d ((int) (in->dims[0] * in->dims[1]), (int) in->dims[2], (int) in->dims[3], in->data,
             s->u.pad.t, s->u.pad.l, s->u.pad.b, s->u.pad.r, s->u.pad.mode, s->u.pad.value,
             out->data, x->m->pool);
  return IMPASTO_OK;
}

static size_t spatial_count (const ImpTensor *t)
{
  size_t hw = 1;
  for (int d = 2; d < t->rank; d++)
    hw *= (size_t) t->dims[d];
  return hw;
}

static ImpastoStatus run_norm (Exec *x, const ImpStep *s)
{
  const ImpTensor *in = &x->slots[s->inputs[0]].t;
  ImpTensor *out = &x->slots[s->output].t;
  const float *src = in->data; /* read before the output may take the buffer over */
  ImpastoStatus st = alloc_output_inplace (x, s, s->inputs[0]);
  if (st)
    return st;
  int c = (int) in->dims[1];
  size_t hw = spatial_count (out), item = (size_t) c * hw;
  for (int64_t b = 0; b < out->dims[0]; b++) {
    float *dst = (float *) out->data + (size_t) b * item;
    if (s->kind == STEP_INSTNORM)
      imp_instnorm (c, hw, src + (size_t) b * item, s->u.instnorm.scale, s->u.instnorm.bias,
                    s->u.instnorm.eps, s->u.instnorm.relu, dst, x->m->pool);
    else
      imp_channel_affine (c, hw, src + (size_t) b * item, s->u.batchnorm.mul,
                          s->u.batchnorm.add, s->u.batchnorm.relu, dst, x->m->pool);
  }
  return IMPASTO_OK;
}

static ImpastoStatus run_unary (Exec *x, const ImpStep *s)
{
  const ImpTensor *in = &x->slots[s->inputs[0]].t;
  const float *src = in->data;
  ImpastoStatus st = alloc_output_inplace (x, s, s->inputs[0]);
  if (st)
    return st;
  ImpTensor *out = &x->slots[s->output].t;
  if (s->kind == STEP_IDENTITY) {
    if (out->data != src)
      memcpy (out->data, src, imp_tensor_count (out) * sizeof (float));
    return IMPASTO_OK;
  }
  imp_unary (s->u.unary.op, s->u.unary.alpha, s->u.unary.beta, imp_tensor_count (out), src,
             out->data, x->m->pool);
  return IMPASTO_OK;
}

static ImpastoStatus run_binary (Exec *x, const ImpStep *s)
{
  const ImpTensor *a = &x->slots[s->inputs[0]].t, *b = &x->slots[s->inputs[1]].t;
  ImpTensor *out = &x->slots[s->output].t;
  int rank = out->rank;
  int64_t ad[IMP_MAX_RANK], bd[IMP_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    int ia = d - (rank - a->rank), ib = d - (rank - b->rank);
    ad[d] = ia >= 0 ? a->dims[ia] : 1;
    bd[d] = ib >= 0 ? b->dims[ib] : 1;
  }
  const float *pa = a->data, *pb = b->data;
  size_t n = imp_tensor_count (out);
  ImpastoStatus st;
  if (imp_tensor_count (a) == n && s->inputs[0] != s->inputs[1])
    st = alloc_output_inplace (x, s, s->inputs[0]);
  else if (imp_tensor_count (b) == n && s->inputs[0] != s->inputs[1])
    st = alloc_output_inplace (x, s, s->inputs[1]);
  else
    st = alloc_output (x, s);
  if (st)
    return st;
  imp_binary (s->u.binary.op, rank, out->dims, pa, ad, pb, bd, out->data, x->m->pool);
  return IMPASTO_OK;
}

static ImpastoStatus run_resize (Exec *x, const ImpStep *s)
{
  const ImpTensor *in = &x->slots[s->inputs[0]].t;
  ImpTensor *out = &x->slots[s->output].t;
  ImpastoStatus st = alloc_output (x, s);
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

static ImpastoStatus run_concat (Exec *x, const ImpStep *s)
{
  ImpTensor *out = &x->slots[s->output].t;
  ImpastoStatus st = alloc_output (x, s);
  if (st)
    return st;
  size_t hw = spatial_count (out), offset = 0;
  for (int64_t b = 0; b < out->dims[0]; b++)
    for (int i = 0; i < s->n_inputs; i++) {
      const ImpTensor *t = &x->slots[s->inputs[i]].t;
      size_t item = (size_t) t->dims[1] * hw;
      memcpy ((float *) out->data + offset, (const float *) t->data + (size_t) b * item,
              item * sizeof (float));
      offset += item;
    }
  return IMPASTO_OK;
}

static ImpastoStatus run_avgpool (Exec *x, const ImpStep *s)
{
  const ImpTensor *in = &x->slots[s->inputs[0]].t;
  ImpTensor *out = &x->slots[s->output].t;
  ImpastoStatus st = alloc_output (x, s);
  if (st)
    return st;
  size_t hw = spatial_count (in);
  imp_global_avgpool_ref ((int) (in->dims[0] * in->dims[1]), hw, in->data, out->data);
  return IMPASTO_OK;
}

static ImpastoStatus run_step (Exec *x, const ImpStep *s)
{
  switch (s->kind) {
  case STEP_CONV:
  case STEP_CONVT: return run_conv (x, s);
  case STEP_PAD: return run_pad (x, s);
  case STEP_INSTNORM:
  case STEP_BATCHNORM: return run_norm (x, s);
  case STEP_UNARY:
  case STEP_IDENTITY: return run_unary (x, s);
  case STEP_BINARY: return run_binary (x, s);
  case STEP_RESIZE: return run_resize (x, s);
  case STEP_CONCAT: return run_concat (x, s);
  case STEP_GLOBAL_AVGPOOL: return run_avgpool (x, s);
  }
  return shape_error (x, s, "unknown step");
}

/* ------------------------------------------------------------------------------------------ */

static void exec_cleanup (Exec *x, int keep)
{
  for (int v = 0; v < x->m->graph->n_values; v++)
    if (v != keep && x->slots[v].capacity)
      imp_free (x->slots[v].t.data);
  imp_cache_clear (&x->cache);
  imp_free (x->slots);
}

/* Pass 1: shapes, reads per value, total cost.  Fills x->slots from the input. */
static ImpastoStatus plan_shapes (Exec *x, const ImpTensor *input, double *total)
{
  ImpastoModel *m = x->m;
  const ImpGraph *g = m->graph;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].is_const)
      x->slots[v].t = g->values[v].t; /* borrowed */
  if (input->rank != 4 || input->dtype != IMP_DT_FLOAT)
    return imp_fail (x->err, IMPASTO_E_SHAPE, "the input must be a 4-D float tensor");
  x->slots[m->input].t = *input; /* borrowed */
  *total = 0;
  ImpastoStatus st = IMPASTO_OK;
  for (int i = 0; !st && i < m->n_steps; i++) {
    const ImpStep *s = &m->steps[i];
    for (int k = 0; k < s->n_inputs; k++)
      x->slots[s->inputs[k]].uses++;
    if (!(st = infer_step (x, s)) && !(st = check_size (x, s)))
      *total += s->cost * (double) imp_tensor_count (&x->slots[s->output].t) + 1;
  }
  x->slots[m->output].uses++; /* the caller's read */
  return st;
}

ImpastoStatus imp_model_shapes (ImpastoModel *m, const int64_t in_dims[4], ImpTensor *shapes,
                                ImpastoError *err)
{
  Exec x = { .m = m, .err = err };
  x.slots = imp_alloc0 ((size_t) m->graph->n_values, sizeof (Slot), "value slots", err);
  if (!x.slots)
    return IMPASTO_E_NOMEM;
  ImpTensor input = { .dtype = IMP_DT_FLOAT, .rank = 4 };
  memcpy (input.dims, in_dims, 4 * sizeof (int64_t));
  double total;
  ImpastoStatus st = plan_shapes (&x, &input, &total);
  for (int v = 0; !st && v < m->graph->n_values; v++) {
    shapes[v] = x.slots[v].t;
    shapes[v].data = NULL;
  }
  imp_free (x.slots);
  return st;
}

ImpastoStatus imp_model_exec (ImpastoModel *m, const ImpTensor *input, ImpTensor *out,
                              ImpProgressCb progress, void *progress_data, ImpastoError *err)
{
  const ImpGraph *g = m->graph;
  Exec x = { .m = m, .err = err };
  x.slots = imp_alloc0 ((size_t) g->n_values, sizeof (Slot), "value slots", err);
  if (!x.slots)
    return IMPASTO_E_NOMEM;
  double total, done = 0;
  ImpastoStatus st = plan_shapes (&x, input, &total);

  /* pass 2: run */
  for (int i = 0; !st && i < m->n_steps; i++) {
    const ImpStep *s = &m->steps[i];
    st = run_step (&x, s);
    for (int k = 0; !st && k < s->n_inputs; k++)
      release (&x, s->inputs[k]);
    done += s->cost * (double) imp_tensor_count (&x.slots[s->output].t) + 1;
    if (!st && progress && !progress (done / total, progress_data))
      st = imp_fail (err, IMPASTO_E_CANCELLED, "cancelled");
  }
  if (!st) {
    Slot *o = &x.slots[m->output];
    *out = o->t;
    if (!o->capacity) { /* output aliases a borrowed tensor: hand back a copy */
      size_t n = imp_tensor_count (&o->t);
      out->data = imp_alloc (n, sizeof (float), "output", err);
      if (!out->data)
        st = IMPASTO_E_NOMEM;
      else
        memcpy (out->data, o->t.data, n * sizeof (float));
    }
  }
  exec_cleanup (&x, st ? -1 : m->output);
  return st;
}
