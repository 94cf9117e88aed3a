/* fold.c — constant folding: naive evaluation of nodes whose inputs are all known at load time.
 *
 * PyTorch exports compute pads and scales with small subgraphs (Constant, ConstantOfShape, Concat,
 * Reshape, Slice, Transpose, Cast, ...).  They are evaluated once here, so the executor only ever
 * sees image ops.  Tensors here are tiny: clarity beats speed. */
#include "model.h"
#include "util.h"

#include <math.h>
#include <string.h>

static size_t dtype_size (ImpDType dt)
{
  return dt == IMP_DT_INT64 ? 8 : 4;
}

static const ImpTensor *input_tensor (const ImpGraph *g, const ImpNode *n, int i)
{
  if (i >= n->n_inputs || n->inputs[i] < 0)
    return NULL;
  return &g->values[n->inputs[i]].t;
}

static double elem_as_double (const ImpTensor *t, size_t i)
{
  return t->dtype == IMP_DT_INT64 ? (double) ((const int64_t *) t->data)[i]
                                  : (double) ((const float *) t->data)[i];
}

static int64_t elem_as_int (const ImpTensor *t, size_t i)
{
  if (t->dtype == IMP_DT_INT64)
    return ((const int64_t *) t->data)[i];
  double v = ((const float *) t->data)[i];
  if (!(v > -9.2e18 && v < 9.2e18))
    return 0;
  return (int64_t) v;
}

/* Allocate the output tensor of a node: dtype, rank, dims. */
static ImpTensor *new_output (ImpGraph *g, const ImpNode *n, int o, ImpDType dt, int rank,
                              const int64_t *dims, ImpastoError *err)
{
  if (o >= n->n_outputs || n->outputs[o] < 0)
    return NULL;
  ImpValue *v = &g->values[n->outputs[o]];
  size_t count;
  if (rank < 0 || rank > IMP_MAX_RANK || !imp_dims_count (dims, rank, &count)
      || count > IMP_MAX_TENSOR_ELEMS) {
    imp_fail (err, IMPASTO_E_SHAPE, "node '%s' (%s): folded tensor has an invalid shape",
              n->name, n->op_type);
    return NULL;
  }
  size_t bytes = count * dtype_size (dt); /* count <= 2^31: no overflow */
  if (bytes > g->fold_budget) {
    imp_fail (err, IMPASTO_E_SHAPE,
              "node '%s' (%s): constant folding would allocate more than %zu MiB (%zu elements here)",
              n->name, n->op_type, g->fold_budget >> 20, count);
    return NULL;
  }
  void *data = imp_alloc0 (count ? count : 1, dtype_size (dt), "folded tensor", err);
  if (!data)
    return NULL;
  g->fold_budget -= bytes;
  imp_free (v->t.data);
  v->t.dtype = dt;
  v->t.rank = rank;
  memcpy (v->t.dims, dims, sizeof (int64_t) * (size_t) rank);
  v->t.data = data;
  v->is_const = true;
  return &v->t;
}

static void strides_of (const int64_t *dims, int rank, int64_t *strides)
{
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

static ImpastoStatus bad (ImpastoError *err, const ImpNode *n, const char *what)
{
  return imp_fail (err, IMPASTO_E_FORMAT, "node '%s' (%s): %s", n->name, n->op_type, what);
}

static ImpastoStatus fold_constant (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  if (n->n_attrs != 1)
    return bad (err, n, "Constant needs exactly one value attribute");
  const ImpAttr *a = &n->attrs[0];
  int64_t one = 1;
  ImpTensor *t;
  if (!strcmp (a->name, "value") && a->type == IMP_ATTR_TENSOR) {
    t = new_output (g, n, 0, a->t.dtype, a->t.rank, a->t.dims, err);
    if (t)
      memcpy (t->data, a->t.data, imp_tensor_count (t) * dtype_size (t->dtype));
  } else if (!strcmp (a->name, "value_float") && a->type == IMP_ATTR_FLOAT) {
    t = new_output (g, n, 0, IMP_DT_FLOAT, 0, &one, err);
    if (t)
      *(float *) t->data = a->f;
  } else if (!strcmp (a->name, "value_int") && a->type == IMP_ATTR_INT) {
    t = new_output (g, n, 0, IMP_DT_INT64, 0, &one, err);
    if (t)
      *(int64_t *) t->data = a->i;
  } else if (!strcmp (a->name, "value_floats") && a->type == IMP_ATTR_FLOATS) {
    int64_t d = a->n;
    t = new_output (g, n, 0, IMP_DT_FLOAT, 1, &d, err);
    if (t)
      memcpy (t->data, a->floats, sizeof (float) * (size_t) a->n);
  } else if (!strcmp (a->name, "value_ints") && a->type == IMP_ATTR_INTS) {
    int64_t d = a->n;
    t = new_output (g, n, 0, IMP_DT_INT64, 1, &d, err);
    if (t)
      memcpy (t->data, a->ints, sizeof (int64_t) * (size_t) a->n);
  } else {
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Constant): attribute '%s' is not supported",
                     n->name, a->name);
  }
  return t ? IMPASTO_OK : err->code;
}

static ImpastoStatus fold_constant_of_shape (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *shape = input_tensor (g, n, 0);
  if (!shape || shape->rank != 1 || shape->dtype != IMP_DT_INT64 || shape->dims[0] > IMP_MAX_RANK)
    return bad (err, n, "shape input must be a 1-D int64 tensor of at most 8 elements");
  int64_t dims[IMP_MAX_RANK];
  for (int i = 0; i < shape->dims[0]; i++)
    dims[i] = ((const int64_t *) shape->data)[i];
  const ImpAttr *a = imp_node_attr (n, "value");
  ImpDType dt = a && a->type == IMP_ATTR_TENSOR ? a->t.dtype : IMP_DT_FLOAT;
  ImpTensor *t = new_output (g, n, 0, dt, (int) shape->dims[0], dims, err);
  if (!t)
    return err->code;
  size_t count = imp_tensor_count (t), es = dtype_size (dt);
  if (a && a->type == IMP_ATTR_TENSOR && imp_tensor_count (&a->t) >= 1)
    for (size_t i = 0; i < count; i++)
      memcpy ((char *) t->data + i * es, a->t.data, es);
  return IMPASTO_OK;
}

/* axis in [-rank, rank) as an index, else -1 (a huge axis must not wrap into range as an int) */
static int norm_axis (int64_t axis, int rank)
{
  if (axis < -rank || axis >= rank)
    return -1;
  return (int) (axis < 0 ? axis + rank : axis);
}

static ImpastoStatus fold_concat (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *first = input_tensor (g, n, 0);
  const ImpAttr *a = imp_node_attr (n, "axis");
  if (!first || !a)
    return bad (err, n, "needs inputs and an axis");
  int rank = first->rank, axis = norm_axis (a->i, rank);
  if (axis < 0 || axis >= rank)
    return bad (err, n, "axis out of range");
  int64_t dims[IMP_MAX_RANK];
  memcpy (dims, first->dims, sizeof dims);
  dims[axis] = 0;
  for (int i = 0; i < n->n_inputs; i++) {
    const ImpTensor *t = input_tensor (g, n, i);
    if (!t || t->rank != rank || t->dtype != first->dtype)
      return bad (err, n, "inputs differ in rank or type");
    for (int d = 0; d < rank; d++)
      if (d != axis && t->dims[d] != first->dims[d])
        return bad (err, n, "inputs differ in shape");
    dims[axis] += t->dims[axis];
  }
  ImpTensor *out = new_output (g, n, 0, first->dtype, rank, dims, err);
  if (!out)
    return err->code;
  /* copy blocks: outer = prod(dims[:axis]), inner = prod(dims[axis+1:]) */
  size_t es = dtype_size (first->dtype), outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= (size_t) dims[d];
  for (int d = axis + 1; d < rank; d++) inner *= (size_t) dims[d];
  char *dst = out->data;
  for (size_t o = 0; o < outer; o++)
    for (int i = 0; i < n->n_inputs; i++) {
      const ImpTensor *t = input_tensor (g, n, i);
      size_t block = (size_t) t->dims[axis] * inner * es;
      memcpy (dst, (const char *) t->data + o * block, block);
      dst += block;
    }
  return IMPASTO_OK;
}

static ImpastoStatus fold_reshape (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0), *shape = input_tensor (g, n, 1);
  if (!x || !shape || shape->rank != 1 || shape->dtype != IMP_DT_INT64
      || shape->dims[0] > IMP_MAX_RANK)
    return bad (err, n, "needs data and a 1-D int64 shape");
  const ImpAttr *az = imp_node_attr (n, "allowzero");
  bool allowzero = az && az->i;
  int rank = (int) shape->dims[0], infer = -1;
  int64_t dims[IMP_MAX_RANK];
  size_t count = imp_tensor_count (x), known = 1;
  for (int i = 0; i < rank; i++) {
    int64_t d = ((const int64_t *) shape->data)[i];
    if (d == 0 && !allowzero) {
      if (i >= x->rank)
        return bad (err, n, "0 in shape refers to a missing dimension");
      d = x->dims[i];
    }
    if (d == -1) {
      if (infer >= 0)
        return bad (err, n, "more than one -1 in shape");
      infer = i;
      d = 1;
    } else if (d < 0) {
      return bad (err, n, "negative dimension in shape");
    }
    dims[i] = d;
    if (!imp_mul_size (known, (size_t) d, &known))
      return bad (err, n, "shape overflows");
  }
  if (infer >= 0) {
    if (known == 0 || count % known)
      return bad (err, n, "cannot infer -1 dimension");
    dims[infer] = (int64_t) (count / known);
    known = count;
  }
  if (known != count)
    return bad (err, n, "element count changes");
  ImpTensor *out = new_output (g, n, 0, x->dtype, rank, dims, err);
  if (!out)
    return err->code;
  memcpy (out->data, x->data, count * dtype_size (x->dtype));
  return IMPASTO_OK;
}

static ImpastoStatus fold_transpose (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0);
  if (!x)
    return bad (err, n, "missing input");
  int rank = x->rank, perm[IMP_MAX_RANK];
  const ImpAttr *a = imp_node_attr (n, "perm");
  for (int i = 0; i < rank; i++)
    perm[i] = rank - 1 - i;
  if (a) {
    if (a->type != IMP_ATTR_INTS || a->n != rank)
      return bad (err, n, "perm does not match the rank");
    bool used[IMP_MAX_RANK] = { false };
    for (int i = 0; i < rank; i++) {
      if (a->ints[i] < 0 || a->ints[i] >= rank || used[a->ints[i]])
        return bad (err, n, "perm is not a permutation");
      perm[i] = (int) a->ints[i];
      used[perm[i]] = true;
    }
  }
  int64_t dims[IMP_MAX_RANK], in_strides[IMP_MAX_RANK], idx[IMP_MAX_RANK] = { 0 };
  for (int i = 0; i < rank; i++)
    dims[i] = x->dims[perm[i]];
  ImpTensor *out = new_output (g, n, 0, x->dtype, rank, dims, err);
  if (!out)
    return err->code;
  strides_of (x->dims, rank, in_strides);
  size_t count = imp_tensor_count (out), es = dtype_size (x->dtype);
  for (size_t o = 0; o < count; o++) {
    int64_t src = 0;
    for (int d = 0; d < rank; d++)
      src += idx[d] * in_strides[perm[d]];
    memcpy ((char *) out->data + o * es, (const char *) x->data + (size_t) src * es, es);
    for (int d = rank - 1; d >= 0; d--) { /* odometer over output indices */
      if (++idx[d] < dims[d])
        break;
      idx[d] = 0;
    }
  }
  return IMPASTO_OK;
}

static ImpastoStatus fold_cast (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0);
  const ImpAttr *to = imp_node_attr (n, "to");
  if (!x || !to)
    return bad (err, n, "needs an input and 'to'");
  ImpDType dt;
  switch (to->i) {
  case 1: case 10: case 11: case 16: dt = IMP_DT_FLOAT; break;  /* float, float16, double, bf16 */
  case 2: case 3: case 4: case 5: case 6: case 7: case 9: case 12: case 13: dt = IMP_DT_INT64; break;
  default:
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "node '%s' (Cast): target type %lld is not supported",
                     n->name, (long long) to->i);
  }
  ImpTensor *out = new_output (g, n, 0, dt, x->rank, x->dims, err);
  if (!out)
    return err->code;
  size_t count = imp_tensor_count (x);
  for (size_t i = 0; i < count; i++) {
    if (dt == IMP_DT_FLOAT)
      ((float *) out->data)[i] = (float) elem_as_double (x, i);
    else
      ((int64_t *) out->data)[i] = to->i == 9 ? elem_as_double (x, i) != 0 : elem_as_int (x, i);
  }
  return IMPASTO_OK;
}

/* Read an int64 list from input i (opset >= 10/13 style) or attribute name (older opsets). */
static int read_ints (const ImpGraph *g, const ImpNode *n, int input, const char *attr,
                      int64_t *vals, int max)
{
  const ImpTensor *t = input_tensor (g, n, input);
  if (t) {
    size_t c = imp_tensor_count (t);
    if (c > (size_t) max)
      return -1;
    for (size_t i = 0; i < c; i++)
      vals[i] = elem_as_int (t, i);
    return (int) c;
  }
  const ImpAttr *a = attr ? imp_node_attr (n, attr) : NULL;
  if (a && a->type == IMP_ATTR_INTS && a->n <= max) {
    memcpy (vals, a->ints, sizeof (int64_t) * (size_t) a->n);
    return a->n;
  }
  return a ? -1 : -2; /* -2: absent */
}

static int64_t clamp64 (int64_t v, int64_t lo, int64_t hi)
{
  return v < lo ? lo : (v > hi ? hi : v);
}

static ImpastoStatus fold_slice (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0);
  if (!x)
    return bad (err, n, "missing input");
  int rank = x->rank;
  int64_t starts[IMP_MAX_RANK], ends[IMP_MAX_RANK], axes[IMP_MAX_RANK], steps[IMP_MAX_RANK];
  int ns = read_ints (g, n, 1, "starts", starts, IMP_MAX_RANK);
  int ne = read_ints (g, n, 2, "ends", ends, IMP_MAX_RANK);
  int na = read_ints (g, n, 3, "axes", axes, IMP_MAX_RANK);
  int nt = read_ints (g, n, 4, NULL, steps, IMP_MAX_RANK);
  if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (nt >= 0 && nt != ns) || na == -1 || nt == -1)
    return bad (err, n, "starts/ends/axes/steps are inconsistent");
  /* per-axis start and step over the input; default: whole axis */
  int64_t start[IMP_MAX_RANK], step[IMP_MAX_RANK], dims[IMP_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    start[d] = 0;
    step[d] = 1;
    dims[d] = x->dims[d];
  }
  for (int i = 0; i < ns; i++) {
    int axis = na >= 0 ? norm_axis (axes[i], rank) : i;
    int64_t st = nt >= 0 ? steps[i] : 1;
    if (axis < 0 || axis >= rank || st == 0)
      return bad (err, n, "bad axis or zero step");
    int64_t dim = x->dims[axis];
    int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (st > 0) {
      s = clamp64 (s, 0, dim);
      e = clamp64 (e, 0, dim);
      dims[axis] = e > s ? (e - s - 1) / st + 1 : 0; /* ceil ((e - s) / st), no overflow */
    } else {
      s = clamp64 (s, 0, dim - 1);
      e = clamp64 (e, -1, dim - 1);
      uint64_t mag = st == INT64_MIN ? (uint64_t) INT64_MAX + 1 : (uint64_t) -st;
      dims[axis] = s > e ? (int64_t) ((uint64_t) (s - e - 1) / mag) + 1 : 0;
    }
    start[axis] = s;
    step[axis] = st;
  }
  ImpTensor *out = new_output (g, n, 0, x->dtype, rank, dims, err);
  if (!out)
    return err->code;
  int64_t in_strides[IMP_MAX_RANK], idx[IMP_MAX_RANK] = { 0 };
  strides_of (x->dims, rank, in_strides);
  size_t count = imp_tensor_count (out), es = dtype_size (x->dtype);
  for (size_t o = 0; o < count; o++) {
    int64_t src = 0;
    for (int d = 0; d < rank; d++)
      src += (start[d] + idx[d] * step[d]) * in_strides[d];
    memcpy ((char *) out->data + o * es, (const char *) x->data + (size_t) src * es, es);
    for (int d = rank - 1; d >= 0; d--) {
      if (++idx[d] < dims[d])
        break;
      idx[d] = 0;
    }
  }
  return IMPASTO_OK;
}

static ImpastoStatus fold_unsqueeze (ImpGraph *g, const ImpNode *n, bool squeeze, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0);
  int64_t axes[IMP_MAX_RANK];
  int na = read_ints (g, n, 1, "axes", axes, IMP_MAX_RANK);
  if (!x || na == -1 || (na == -2 && !squeeze))
    return bad (err, n, "needs an input and axes");
  int64_t dims[IMP_MAX_RANK];
  int rank = 0;
  if (squeeze) {
    for (int d = 0; d < x->rank; d++) {
      bool drop = false;
      for (int i = 0; i < na; i++)
        drop |= norm_axis (axes[i], x->rank) == d;
      if (na < 0)
        drop = x->dims[d] == 1;
      if (drop && x->dims[d] != 1)
        return bad (err, n, "squeezing a dimension that is not 1");
      if (!drop)
        dims[rank++] = x->dims[d];
    }
  } else {
    int out_rank = x->rank + na, src = 0;
    if (out_rank > IMP_MAX_RANK)
      return bad (err, n, "rank too large");
    for (int d = 0; d < out_rank; d++) {
      bool ins = false;
      for (int i = 0; i < na; i++)
        ins |= norm_axis (axes[i], out_rank) == d;
      dims[d] = ins ? 1 : x->dims[src++];
    }
    if (src != x->rank)
      return bad (err, n, "bad axes");
    rank = out_rank;
  }
  ImpTensor *out = new_output (g, n, 0, x->dtype, rank, dims, err);
  if (!out)
    return err->code;
  memcpy (out->data, x->data, imp_tensor_count (x) * dtype_size (x->dtype));
  return IMPASTO_OK;
}

static ImpastoStatus fold_gather (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0), *ind = input_tensor (g, n, 1);
  const ImpAttr *a = imp_node_attr (n, "axis");
  if (!x || !ind || x->rank + ind->rank - 1 > IMP_MAX_RANK || x->rank < 1)
    return bad (err, n, "bad inputs");
  int axis = norm_axis (a ? a->i : 0, x->rank);
  if (axis < 0 || axis >= x->rank)
    return bad (err, n, "axis out of range");
  int64_t dims[IMP_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < axis; d++) dims[rank++] = x->dims[d];
  for (int d = 0; d < ind->rank; d++) dims[rank++] = ind->dims[d];
  for (int d = axis + 1; d < x->rank; d++) dims[rank++] = x->dims[d];
  ImpTensor *out = new_output (g, n, 0, x->dtype, rank, dims, err);
  if (!out)
    return err->code;
  size_t outer = 1, inner = 1, es = dtype_size (x->dtype), ni = imp_tensor_count (ind);
  for (int d = 0; d < axis; d++) outer *= (size_t) x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= (size_t) x->dims[d];
  char *dst = out->data;
  for (size_t o = 0; o < outer; o++)
    for (size_t i = 0; i < ni; i++) {
      int64_t k = elem_as_int (ind, i);
      if (k < 0)
        k += x->dims[axis];
      if (k < 0 || k >= x->dims[axis])
        return bad (err, n, "index out of range");
      memcpy (dst, (const char *) x->data + ((o * (size_t) x->dims[axis]) + (size_t) k) * inner * es,
              inner * es);
      dst += inner * es;
    }
  return IMPASTO_OK;
}

static ImpastoStatus fold_shape (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0);
  if (!x || x->rank < 0)
    return IMPASTO_E_UNSUPPORTED;
  for (int d = 0; d < x->rank; d++)
    if (x->dims[d] < 0)
      return IMPASTO_E_UNSUPPORTED; /* depends on the image size: not constant */
  int64_t len = x->rank;
  ImpTensor *out = new_output (g, n, 0, IMP_DT_INT64, 1, &len, err);
  if (!out)
    return err->code;
  memcpy (out->data, x->dims, sizeof (int64_t) * (size_t) x->rank);
  return IMPASTO_OK;
}

/* Elementwise arithmetic with numpy broadcasting, any dtype (result: a's dtype). */
static ImpastoStatus fold_arith (ImpGraph *g, const ImpNode *n, char op, ImpastoError *err)
{
  const ImpTensor *a = input_tensor (g, n, 0), *b = input_tensor (g, n, 1);
  if (!a || !b)
    return bad (err, n, "needs two inputs");
  int rank = IMP_MAX (a->rank, b->rank);
  int64_t ad[IMP_MAX_RANK], bd[IMP_MAX_RANK], od[IMP_MAX_RANK] = { 0 };
  for (int d = 0; d < rank; d++) {
    int ia = d - (rank - a->rank), ib = d - (rank - b->rank);
    ad[d] = ia >= 0 ? a->dims[ia] : 1;
    bd[d] = ib >= 0 ? b->dims[ib] : 1;
    if (ad[d] != bd[d] && ad[d] != 1 && bd[d] != 1)
      return bad (err, n, "shapes do not broadcast");
    od[d] = ad[d] == 1 ? bd[d] : ad[d];
  }
  ImpDType dt = a->dtype;
  ImpTensor *out = new_output (g, n, 0, dt, rank, od, err);
  if (!out)
    return err->code;
  int64_t as[IMP_MAX_RANK], bs[IMP_MAX_RANK], idx[IMP_MAX_RANK] = { 0 };
  strides_of (ad, rank, as);
  strides_of (bd, rank, bs);
  size_t count = imp_tensor_count (out);
  for (size_t o = 0; o < count; o++) {
    size_t ia = 0, ib = 0;
    for (int d = 0; d < rank; d++) {
      ia += (size_t) ((ad[d] == 1 ? 0 : idx[d]) * as[d]);
      ib += (size_t) ((bd[d] == 1 ? 0 : idx[d]) * bs[d]);
    }
    if (dt == IMP_DT_FLOAT) {
      double x = elem_as_double (a, ia), y = elem_as_double (b, ib), r;
      r = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
      ((float *) out->data)[o] = (float) r;
    } else {
      int64_t x = elem_as_int (a, ia), y = elem_as_int (b, ib), r;
      if (op == '/' && y == 0)
        return bad (err, n, "integer division by zero");
      r = op == '+' ? (int64_t) ((uint64_t) x + (uint64_t) y)
        : op == '-' ? (int64_t) ((uint64_t) x - (uint64_t) y)
        : op == '*' ? (int64_t) ((uint64_t) x * (uint64_t) y) : x / y;
      ((int64_t *) out->data)[o] = r;
    }
    for (int d = rank - 1; d >= 0; d--) {
      if (++idx[d] < od[d])
        break;
      idx[d] = 0;
    }
  }
  return IMPASTO_OK;
}

static ImpastoStatus fold_identity (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const ImpTensor *x = input_tensor (g, n, 0);
  if (!x)
    return bad (err, n, "missing input");
  ImpTensor *out = new_output (g, n, 0, x->dtype, x->rank, x->dims, err);
  if (!out)
    return err->code;
  memcpy (out->data, x->data, imp_tensor_count (x) * dtype_size (x->dtype));
  return IMPASTO_OK;
}

ImpastoStatus imp_fold_node (ImpGraph *g, const ImpNode *n, ImpastoError *err)
{
  const char *op = n->op_type;
  if (n->domain[0] && strcmp (n->domain, "ai.onnx"))
    return IMPASTO_E_UNSUPPORTED;
  if (!strcmp (op, "Constant")) return fold_constant (g, n, err);
  if (!strcmp (op, "ConstantOfShape")) return fold_constant_of_shape (g, n, err);
  if (!strcmp (op, "Concat")) return fold_concat (g, n, err);
  if (!strcmp (op, "Reshape")) return fold_reshape (g, n, err);
  if (!strcmp (op, "Flatten")) return IMPASTO_E_UNSUPPORTED;
  if (!strcmp (op, "Transpose")) return fold_transpose (g, n, err);
  if (!strcmp (op, "Cast")) return fold_cast (g, n, err);
  if (!strcmp (op, "Slice")) return fold_slice (g, n, err);
  if (!strcmp (op, "Unsqueeze")) return fold_unsqueeze (g, n, false, err);
  if (!strcmp (op, "Squeeze")) return fold_unsqueeze (g, n, true, err);
  if (!strcmp (op, "Gather")) return fold_gather (g, n, err);
  if (!strcmp (op, "Shape")) return fold_shape (g, n, err);
  if (!strcmp (op, "Identity")) return fold_identity (g, n, err);
  if (!strcmp (op, "Add")) return fold_arith (g, n, '+', err);
  if (!strcmp (op, "Sub")) return fold_arith (g, n, '-', err);
  if (!strcmp (op, "Mul")) return fold_arith (g, n, '*', err);
  if (!strcmp (op, "Div")) return fold_arith (g, n, '/', err);
  return IMPASTO_E_UNSUPPORTED;
}
