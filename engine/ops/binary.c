/* ops/binary.c — Add, Sub, Mul, Div with broadcasting.  Banded, each operand is read row band by
 * row band; a constant operand is broadcast over rows, so it must have no rows of its own. */
#include "exec.h"
#include "op.h"
#include "stream.h"

#include <string.h>

static ImpastoStatus build (ImpGraph *g, const ImpNode *n, ImpStep *s, ImpastoError *err)
{
  static const char *const none[] = { NULL };
  ImpastoStatus st = imp_op_check_attrs (n, none, err);
  if (st || (st = imp_op_need_input (g, n, 0, err)) || (st = imp_op_need_input (g, n, 1, err)))
    return st;
  for (int i = 0; i < 2; i++) {
    ImpValue *v = imp_op_input (g, n, i);
    if (v->is_const && v->t.dtype != IMP_DT_FLOAT)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "non-float operand");
  }
  const char *op = n->op_type;
  s->u.binary.op = !strcmp (op, "Add") ? IMP_BINARY_ADD : !strcmp (op, "Sub") ? IMP_BINARY_SUB
                 : !strcmp (op, "Mul") ? IMP_BINARY_MUL : IMP_BINARY_DIV;
  s->n_inputs = 2;
  s->cost = 0.1;
  return IMPASTO_OK;
}

static const char *infer (const ImpStep *s, const ImpTensor *const *inputs, ImpTensor *out)
{
  const ImpTensor *a = inputs[0], *b = inputs[1];
  int rank = IMP_MAX (a->rank, b->rank);
  out->rank = rank;
  for (int d = 0; d < rank; d++) {
    int ia = d - (rank - a->rank), ib = d - (rank - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return "operand shapes do not broadcast";
    out->dims[d] = da == 1 ? db : da;
  }
  return NULL;
}

static ImpastoStatus run (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *a = imp_exec_in (x, s, 0), *b = imp_exec_in (x, s, 1);
  ImpTensor *out = imp_exec_out (x, s);
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
    st = imp_exec_alloc_inplace (x, s, s->inputs[0]);
  else if (imp_tensor_count (b) == n && s->inputs[0] != s->inputs[1])
    st = imp_exec_alloc_inplace (x, s, s->inputs[1]);
  else
    st = imp_exec_alloc (x, s);
  if (st)
    return st;
  imp_binary (s->u.binary.op, rank, out->dims, pa, ad, pb, bd, out->data, x->m->pool);
  return IMPASTO_OK;
}

/* One operand for rows [r0, r1): a runtime value read into a buffer, or a constant. */
static ImpastoStatus operand (ImpStream *s, int v, int64_t r0, int64_t r1, float **data,
                              int64_t dims[4], size_t *cap)
{
  const ImpValue *gv = &s->m->graph->values[v];
  *cap = 0;
  if (gv->is_const) {
    int rank = gv->t.rank;
    for (int d = 0; d < 4; d++)
      dims[d] = d - (4 - rank) >= 0 ? gv->t.dims[d - (4 - rank)] : 1;
    *data = gv->t.data;
    return IMPASTO_OK;
  }
  const SVal *sv = &s->v[v];
  dims[0] = 1, dims[1] = sv->c, dims[2] = r1 - r0, dims[3] = sv->w;
  *data = imp_stream_take (s, (size_t) sv->c * (size_t) (r1 - r0) * (size_t) sv->w, cap);
  return *data ? imp_rows_read (s, v, r0, r1, *data) : IMPASTO_E_NOMEM;
}

static ImpastoStatus band (ImpStream *s, ImpStep *st, int64_t r0, int64_t r1, float *dst)
{
  float *a, *b;
  int64_t ad[4], bd[4];
  size_t ca, cb;
  ImpastoStatus rc = operand (s, st->inputs[0], r0, r1, &a, ad, &ca);
  if (rc) {
    imp_stream_give (s, ca ? a : NULL, ca);
    return rc;
  }
  rc = operand (s, st->inputs[1], r0, r1, &b, bd, &cb);
  if (!rc) {
    const SVal *out = &s->v[st->output];
    int64_t od[4] = { 1, out->c, r1 - r0, out->w };
    imp_binary (st->u.binary.op, 4, od, a, ad, b, bd, dst, s->pool);
  }
  imp_stream_give (s, ca ? a : NULL, ca);
  imp_stream_give (s, cb ? b : NULL, cb);
  return rc;
}

/* a constant with rows of its own cannot be broadcast band by band */
static bool bandable (const ImpGraph *g, const ImpStep *s)
{
  for (int k = 0; k < 2; k++) {
    const ImpValue *gv = &g->values[s->inputs[k]];
    if (gv->is_const && gv->t.rank >= 2 && gv->t.dims[gv->t.rank - 2] != 1)
      return false;
  }
  return true;
}

/* a constant operand with an H or W of its own would have to be transposed too */
static ImpastoStatus transpose (const ImpGraph *g, ImpStep *s, ImpastoError *err)
{
  for (int k = 0; k < 2; k++) {
    const ImpValue *gv = &g->values[s->inputs[k]];
    for (int d = gv->t.rank - 2; gv->is_const && d < gv->t.rank; d++)
      if (d >= 0 && gv->t.dims[d] != 1)
        return imp_fail (err, IMPASTO_E_UNSUPPORTED, "a constant operand has rows or columns");
  }
  return IMPASTO_OK;
}

static const char *const onnx_ops[] = { "Add", "Sub", "Mul", "Div", NULL };
IMP_OP (binary, IMP_STREAM_BAND, .name = "Binary", .onnx_ops = onnx_ops, .build = build,
        .infer = infer, .run = run, .band = band, .bandable = bandable, .transpose = transpose);
