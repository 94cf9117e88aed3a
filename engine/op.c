/* op.c — the operator table and the attribute helpers of the build functions (op.h). */
#include "op.h"
#include "util.h"

#include <string.h>

static const ImpOp *const ops[] = {
#define IMP_OP_ENTRY(ident) &imp_op_##ident,
  IMP_OP_LIST (IMP_OP_ENTRY)
#undef IMP_OP_ENTRY
};

const ImpOp *imp_op_find (const char *op_type)
{
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    for (int k = 0; ops[i]->onnx_ops[k]; k++)
      if (!strcmp (op_type, ops[i]->onnx_ops[k]))
        return ops[i];
  return NULL;
}

ImpastoStatus imp_op_check_attrs (const ImpNode *n, const char *const *known, ImpastoError *err)
{
  for (int a = 0; a < n->n_attrs; a++) {
    bool ok = false;
    for (int k = 0; known[k]; k++)
      ok |= !strcmp (n->attrs[a].name, known[k]);
    if (!ok)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute '%s' is not supported",
                       n->attrs[a].name);
  }
  return IMPASTO_OK;
}

int64_t imp_op_attr_int (const ImpNode *n, const char *name, int64_t def)
{
  const ImpAttr *a = imp_node_attr (n, name);
  return a && a->type == IMP_ATTR_INT ? a->i : def;
}

float imp_op_attr_float (const ImpNode *n, const char *name, float def)
{
  const ImpAttr *a = imp_node_attr (n, name);
  return a && a->type == IMP_ATTR_FLOAT ? a->f : def;
}

const char *imp_op_attr_string (const ImpNode *n, const char *name, const char *def)
{
  const ImpAttr *a = imp_node_attr (n, name);
  return a && a->type == IMP_ATTR_STRING ? a->s : def;
}

ImpastoStatus imp_op_attr_ints (const ImpNode *n, const char *name, int count, int *out,
                                int64_t lo, int64_t hi, ImpastoError *err)
{
  const ImpAttr *a = imp_node_attr (n, name);
  if (!a)
    return IMPASTO_OK;
  if (a->type != IMP_ATTR_INTS || a->n != count)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute '%s' must have %d values", name, count);
  for (int i = 0; i < count; i++) {
    if (a->ints[i] < lo || a->ints[i] > hi)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "attribute '%s' value %lld is out of range",
                       name, (long long) a->ints[i]);
    out[i] = (int) a->ints[i];
  }
  return IMPASTO_OK;
}

ImpValue *imp_op_input (ImpGraph *g, const ImpNode *n, int i)
{
  return i < n->n_inputs && n->inputs[i] >= 0 ? &g->values[n->inputs[i]] : NULL;
}

const float *imp_op_const_floats (ImpGraph *g, const ImpNode *n, int i, int64_t count,
                                  const char *what, ImpastoError *err)
{
  ImpValue *v = imp_op_input (g, n, i);
  if (!v || !v->is_const || v->t.dtype != IMP_DT_FLOAT) {
    imp_fail (err, IMPASTO_E_UNSUPPORTED, "%s must be a constant float tensor", what);
    return NULL;
  }
  if (count >= 0 && imp_tensor_count (&v->t) != (size_t) count) {
    imp_fail (err, IMPASTO_E_SHAPE, "%s has %zu elements, expected %lld", what,
              imp_tensor_count (&v->t), (long long) count);
    return NULL;
  }
  return v->t.data;
}

ImpastoStatus imp_op_need_input (ImpGraph *g, const ImpNode *n, int i, ImpastoError *err)
{
  if (!imp_op_input (g, n, i))
    return imp_fail (err, IMPASTO_E_FORMAT, "input %d is missing", i);
  return IMPASTO_OK;
}

ImpastoStatus imp_op_check_auto_pad (const ImpNode *n, ImpastoError *err)
{
  const char *ap = imp_op_attr_string (n, "auto_pad", "NOTSET");
  if (strcmp (ap, "NOTSET") && strcmp (ap, "VALID"))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "auto_pad '%s' is not supported", ap);
  return IMPASTO_OK;
}

ImpastoStatus imp_op_transpose_copy (const ImpGraph *g, ImpStep *dst, ImpastoError *err)
{
  (void) g, (void) dst, (void) err;
  return IMPASTO_OK;
}

float *imp_op_transpose_kernels (const float *w, size_t ab, int kh, int kw, ImpastoError *err)
{
  size_t kk = (size_t) kh * (size_t) kw, n;
  if (!imp_mul_size (ab, kk, &n)) {
    imp_fail (err, IMPASTO_E_NOMEM, "transposed weights: size overflows");
    return NULL;
  }
  float *t = imp_alloc (n, sizeof (float), "transposed weights", err);
  if (!t)
    return NULL;
  for (size_t i = 0; i < ab; i++)
    for (int y = 0; y < kh; y++)
      for (int x = 0; x < kw; x++)
        t[i * kk + (size_t) x * (size_t) kh + (size_t) y] = w[i * kk + (size_t) y * (size_t) kw + (size_t) x];
  return t;
}
