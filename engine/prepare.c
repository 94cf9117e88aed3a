/* prepare.c — from a loaded ImpGraph to executable steps.
 *
 *  1. order the nodes topologically (graph.c; a cycle is an error naming a node on it);
 *  2. fold every node whose inputs are all constant (fold.c);
 *  3. turn each remaining node into a step, built and checked by its op (op.h, engine/ops/): an
 *     op or attribute we do not support is an error naming the file, the node and the attribute;
 *  4. fuse: Pad -> Conv becomes a conv with that padding mode, InstanceNorm -> Relu one step,
 *     Concat -> Relu -> ConvTranspose (a U-Net decoder's input) one ConvTranspose step;
 *  5. pack the weights of every conv. */
#include "model.h"
#include "op.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static ImpastoStatus build_step (ImpGraph *g, int node, ImpStep *s, ImpastoError *err)
{
  const ImpNode *n = &g->nodes[node];
  memset (s, 0, sizeof *s);
  s->node = node;
  s->n_inputs = 1;
  for (int i = 0; i < IMP_STEP_MAX_INPUTS; i++)
    s->inputs[i] = i < n->n_inputs ? n->inputs[i] : -1;
  s->output = n->n_outputs > 0 ? n->outputs[0] : -1;
  if (s->output < 0)
    return imp_fail (err, IMPASTO_E_FORMAT, "the node has no output");
  bool default_domain = !n->domain[0] || !strcmp (n->domain, "ai.onnx");
  s->op = default_domain ? imp_op_find (n->op_type) : NULL;
  if (!s->op)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "unsupported operator '%s%s%s'",
                     default_domain ? "" : n->domain, default_domain ? "" : ".", n->op_type);
  ImpastoStatus st = s->op->build (g, n, s, err);
  if (st && s->op->release)
    s->op->release (s); /* what the build allocated before it failed */
  return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Fusion.                                                                                      */

/* The fusions below merge a step into its producer; both need the producer of a value and how
 * many steps read it.  Kept as indexes (value -> producing step, value -> live reads), so the
 * pass is linear in the number of steps: a 100,000-node chain loads in well under a second. */
static void fuse_steps (ImpastoModel *m, int *producer, int *uses)
{
  const ImpGraph *g = m->graph;
  for (int v = 0; v < g->n_values; v++) {
    producer[v] = -1;
    uses[v] = 0;
  }
  for (int i = 0; i < m->n_steps; i++) {
    producer[m->steps[i].output] = i;
    for (int k = 0; k < m->steps[i].n_inputs; k++)
      if (m->steps[i].inputs[k] >= 0)
        uses[m->steps[i].inputs[k]]++;
  }
  for (int o = 0; o < g->n_outputs; o++)
    uses[g->outputs[o]]++;
  for (int i = 0; i < m->n_steps; i++) {
    ImpStep *s = &m->steps[i];
    if (s->dead || s->inputs[0] < 0 || producer[s->inputs[0]] < 0)
      continue;
    ImpStep *p = &m->steps[producer[s->inputs[0]]];
    if (p->dead || uses[p->output] != 1)
      continue;
    /* Pad -> Conv: the conv reads through the padding mode (no padded copy). */
    if (s->op == &imp_op_conv && p->op == &imp_op_pad) {
      ImpConvShape *cs = &s->u.conv.shape;
      bool conv_unpadded = !cs->pad_t && !cs->pad_l && !cs->pad_b && !cs->pad_r;
      bool zero_pad = p->u.pad.mode == IMP_PAD_CONSTANT && p->u.pad.value == 0.0f;
      if (conv_unpadded || zero_pad) {
        cs->pad_t += p->u.pad.t; cs->pad_l += p->u.pad.l;
        cs->pad_b += p->u.pad.b; cs->pad_r += p->u.pad.r;
        cs->pad_mode = p->u.pad.mode;
        uses[p->output]--;
        s->inputs[0] = p->inputs[0]; /* the pad read it once, the conv now does */
        p->dead = true;
      }
    }
    /* [Concat ->] Relu -> ConvTranspose of the phase path: the kernel reads the parts and
     * applies the Relu as it copies its input (ops/convt.c). */
    if (s->op == &imp_op_convt && s->n_inputs == 1 && !s->u.convt.relu_in
        && imp_convt_phase_eligible (&s->u.convt.shape)) {
      if (p->op == &imp_op_unary && p->u.unary.op == IMP_UNARY_RELU) {
        s->u.convt.relu_in = true;
        uses[p->output]--;
        s->inputs[0] = p->inputs[0];
        p->dead = true;
      }
      int q = producer[s->inputs[0]];
      ImpStep *c = q >= 0 ? &m->steps[q] : NULL;
      bool parts_runtime = c && c->op == &imp_op_concat && !c->dead && uses[c->output] == 1;
      for (int k = 0; parts_runtime && k < c->n_inputs; k++)
        parts_runtime = c->inputs[k] >= 0 && !g->values[c->inputs[k]].is_const;
      if (parts_runtime) {
        uses[c->output]--;
        for (int k = 0; k < IMP_STEP_MAX_INPUTS; k++)
          s->inputs[k] = k < c->n_inputs ? c->inputs[k] : -1;
        s->n_inputs = c->n_inputs;
        c->dead = true;
      }
      continue;
    }
    /* InstanceNorm -> Relu: one pass. */
    if (s->op == &imp_op_unary && s->u.unary.op == IMP_UNARY_RELU && p->op == &imp_op_instnorm
        && !p->u.instnorm.relu) {
      p->u.instnorm.relu = true;
      uses[p->output]--;
      p->output = s->output;
      producer[s->output] = (int) (p - m->steps);
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
    ImpastoStatus st = s->op->pack ? s->op->pack (s, err) : IMPASTO_OK;
    if (st) {
      imp_node_context (m->graph, s->node, err);
      return st;
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

/* A Shape whose input's dimensions are all known (shapes given at load) is a constant. */
static bool shape_known (const ImpGraph *g, const ImpNode *n)
{
  if (strcmp (n->op_type, "Shape") || n->n_inputs != 1 || n->inputs[0] < 0)
    return false;
  const ImpTensor *t = &g->values[n->inputs[0]].t;
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] < 0)
      return false;
  return t->rank >= 0;
}

/* Shapes given at load (impasto_model_load_with_inputs without data): record the output shape
 * of step s in the graph, so that Shape nodes downstream fold and the ONNX shape arithmetic
 * around them (Gather, Concat, ReduceProd...) with them. */
static void record_shape (ImpGraph *g, const ImpStep *s)
{
  const ImpTensor *in[IMP_STEP_MAX_INPUTS] = { NULL };
  for (int k = 0; k < s->n_inputs; k++) {
    in[k] = &g->values[s->inputs[k]].t;
    if (in[k]->rank < 0)
      return;
    for (int d = 0; d < in[k]->rank; d++)
      if (in[k]->dims[d] < 0)
        return;
  }
  ImpTensor out = *in[0]; /* an op without infer keeps its input's shape (exec.c) */
  out.data = NULL;
  out.dtype = IMP_DT_FLOAT;
  if (s->op->infer && s->op->infer (s, in, &out))
    return; /* the run reports it, naming the node */
  ImpTensor *t = &g->values[s->output].t;
  t->dtype = IMP_DT_FLOAT;
  t->rank = out.rank;
  memcpy (t->dims, out.dims, sizeof t->dims);
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
    if (all_inputs_const (g, n) || (m->static_shapes && shape_known (g, n))) {
      st = imp_fold_node (g, n, err);
      if (st != IMPASTO_E_UNSUPPORTED)
        continue;
      st = IMPASTO_OK; /* not foldable: an ordinary step reading constants */
      imp_error_clear (err);
    }
    st = build_step (g, order[k], &m->steps[m->n_steps], err);
    if (st) {
      imp_node_context (g, order[k], err);
    } else {
      if (m->static_shapes)
        record_shape (g, &m->steps[m->n_steps]);
      m->n_steps++;
    }
  }
  imp_free (order);
  if (st)
    return st;
  for (int o = 0; o < g->n_outputs; o++)
    if (g->values[g->outputs[o]].is_const)
      return imp_fail (err, IMPASTO_E_FORMAT, "graph output '%s' does not depend on any input",
                       g->values[g->outputs[o]].name);
  int *producer = imp_alloc ((size_t) g->n_values + 1, sizeof (int), "fusion index", err);
  int *uses = imp_alloc ((size_t) g->n_values + 1, sizeof (int), "fusion index", err);
  if (producer && uses)
    fuse_steps (m, producer, uses);
  imp_free (producer);
  imp_free (uses);
  if (!producer || !uses)
    return IMPASTO_E_NOMEM;
  return pack_weights (m, err);
}

void imp_model_release_steps (ImpastoModel *m)
{
  for (int i = 0; i < m->n_steps; i++)
    if (m->steps[i].op->release)
      m->steps[i].op->release (&m->steps[i]);
  imp_free (m->steps);
  m->steps = NULL;
  m->n_steps = 0;
}
