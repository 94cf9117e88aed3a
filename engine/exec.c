/* exec.c — runs a prepared model's steps on whole tensors.
 *
 * Two passes: first every step's output shape is inferred from the input's by its op (so wrong
 * shapes and absurd sizes are refused before any work or allocation), then each op's run
 * function runs in order (engine/ops/, through exec.h).  Buffers
 * are freed after their last reader and recycled; elementwise steps and instance norms work in
 * place when their input is not needed afterwards. */
#include "exec.h"
#include "op.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------------------------ */
/* Buffers.                                                                                     */

/* One read of value v is done: recycle its buffer after the last one. */
static void release (ImpExec *x, int v)
{
  ImpSlot *s = &x->slots[v];
  if (--s->uses <= 0) { /* < 0: its buffer was taken over in place (imp_exec_alloc_inplace) */
    imp_free (s->sums);
    s->sums = NULL;
  }
  if (s->uses == 0 && s->capacity) {
    imp_cache_give (&x->cache, s->t.data, s->capacity);
    s->t.data = NULL;
    s->capacity = 0;
  }
}

ImpastoStatus imp_exec_alloc (ImpExec *x, const ImpStep *s)
{
  ImpSlot *o = &x->slots[s->output];
  size_t count = imp_tensor_count (&o->t);
  o->t.data = imp_cache_take (&x->cache, count, &o->capacity, x->err);
  return o->t.data ? IMPASTO_OK : IMPASTO_E_NOMEM;
}

/* Let the output take over input in's buffer when this step is its last reader. */
ImpastoStatus imp_exec_alloc_inplace (ImpExec *x, const ImpStep *s, int in)
{
  ImpSlot *i = &x->slots[in], *o = &x->slots[s->output];
  if (i->uses == 1 && i->capacity && imp_tensor_count (&i->t) == imp_tensor_count (&o->t)) {
    o->t.data = i->t.data;
    o->capacity = i->capacity;
    i->t.data = NULL;
    i->capacity = 0;
    i->uses = 0;
    return IMPASTO_OK;
  }
  return imp_exec_alloc (x, s);
}

size_t imp_spatial_count (const ImpTensor *t)
{
  size_t hw = 1;
  for (int d = 2; d < t->rank; d++)
    hw *= (size_t) t->dims[d];
  return hw;
}

static ImpastoStatus shape_error (ImpExec *x, const ImpStep *s, const char *what)
{
  imp_fail (x->err, IMPASTO_E_SHAPE, "%s", what);
  imp_node_context (x->m->graph, s->node, x->err);
  return IMPASTO_E_SHAPE;
}

static ImpastoStatus infer_step (ImpExec *x, const ImpStep *s)
{
  const ImpTensor *in[IMP_STEP_MAX_INPUTS] = { NULL };
  for (int k = 0; k < s->n_inputs; k++)
    in[k] = &x->slots[s->inputs[k]].t;
  ImpTensor *out = &x->slots[s->output].t;
  out->dtype = IMP_DT_FLOAT;
  out->rank = in[0]->rank;
  memcpy (out->dims, in[0]->dims, sizeof out->dims);
  const char *why = s->op->infer ? s->op->infer (s, in, out) : NULL;
  return why ? shape_error (x, s, why) : IMPASTO_OK;
}

/* Element count with limits: an absurd size is refused here, before anything is allocated.
 * whole: the tensor itself will be allocated (else only bands of it: see stream.c). */
static ImpastoStatus check_size (ImpExec *x, const ImpStep *s, bool whole)
{
  size_t count;
  const ImpTensor *t = &x->slots[s->output].t;
  if (!imp_dims_count (t->dims, t->rank, &count))
    return shape_error (x, s, "the output tensor would be too large");
  if (whole && count > ((size_t) 1 << 34) / sizeof (float))
    return shape_error (x, s, "the output tensor would be too large");
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d] > INT32_MAX)
      return shape_error (x, s, "a dimension is too large");
  return IMPASTO_OK;
}

/* ------------------------------------------------------------------------------------------ */

static void exec_cleanup (ImpExec *x, int keep)
{
  ImpastoModel *m = x->m;
  for (int v = 0; v < m->graph->n_values; v++) {
    if (v != keep && x->slots[v].capacity) {
      if (m->keep_buffers)
        imp_cache_give (&x->cache, x->slots[v].t.data, x->slots[v].capacity);
      else
        imp_free (x->slots[v].t.data);
    }
    imp_free (x->slots[v].sums);
  }
  if (m->keep_buffers)
    m->kept = x->cache;
  else
    imp_cache_clear (&x->cache);
  imp_free (x->slots);
}

/* Pass 1: shapes, reads per value, total cost.  Fills x->slots from the n inputs (inputs[k]
 * feeds value values[k]). */
static ImpastoStatus plan_shapes (ImpExec *x, int n, const int *values, const ImpTensor *inputs,
                                  bool whole, double *total)
{
  ImpastoModel *m = x->m;
  const ImpGraph *g = m->graph;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].is_const)
      x->slots[v].t = g->values[v].t; /* borrowed */
  for (int k = 0; k < n; k++) {
    if (inputs[k].rank != 4 || inputs[k].dtype != IMP_DT_FLOAT)
      return imp_fail (x->err, IMPASTO_E_SHAPE, "input '%s' must be a 4-D float tensor",
                       g->values[values[k]].name);
    x->slots[values[k]].t = inputs[k]; /* borrowed */
  }
  *total = 0;
  ImpastoStatus st = IMPASTO_OK;
  for (int i = 0; !st && i < m->n_steps; i++) {
    const ImpStep *s = &m->steps[i];
    for (int k = 0; k < s->n_inputs; k++)
      x->slots[s->inputs[k]].uses++;
    if (s->op == &imp_op_instnorm || s->op == &imp_op_batchnorm)
      x->slots[s->inputs[0]].want_sums = true;
    if (!(st = infer_step (x, s)) && !(st = check_size (x, s, whole)))
      *total += s->cost * (double) imp_tensor_count (&x->slots[s->output].t) + 1;
  }
  x->slots[m->output].uses++; /* the caller's read */
  return st;
}

ImpastoStatus imp_model_shapes (ImpastoModel *m, const int64_t in_dims[4], bool whole,
                                ImpTensor *shapes, ImpastoError *err)
{
  ImpExec x = { .m = m, .err = err };
  x.slots = imp_alloc0 ((size_t) m->graph->n_values, sizeof (ImpSlot), "value slots", err);
  if (!x.slots)
    return IMPASTO_E_NOMEM;
  ImpTensor input = { .dtype = IMP_DT_FLOAT, .rank = 4 };
  memcpy (input.dims, in_dims, 4 * sizeof (int64_t));
  double total;
  ImpastoStatus st = plan_shapes (&x, 1, &m->input, &input, whole, &total);
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
  return imp_model_exec_inputs (m, 1, &m->input, input, out, progress, progress_data, err);
}

ImpastoStatus imp_model_exec_inputs (ImpastoModel *m, int n_in, const int *values,
                                     const ImpTensor *inputs, ImpTensor *out, ImpProgressCb progress,
                                     void *progress_data, ImpastoError *err)
{
  const ImpGraph *g = m->graph;
  ImpExec x = { .m = m, .err = err };
  /* Big enough to recycle any one tensor of a whole-image run (imp_stream_wanted sends larger
   * ones to the banded executor): a freed buffer that is not kept comes back as fresh pages,
   * which cost a fault and a clear each.  CycleGAN ngf 64 at 1024 x 1024 has two
   * [64, 1024, 1024] values (256 MiB, over the default limit) far apart. */
  x.slots = imp_alloc0 ((size_t) g->n_values, sizeof (ImpSlot), "value slots", err);
  if (!x.slots)
    return IMPASTO_E_NOMEM;
  if (m->keep_buffers) { /* the last region's buffers (model.h) */
    x.cache = m->kept;
    m->kept = (ImpBufferCache) { 0 };
  }
  x.cache.limit = IMP_WHOLE_MAX_FLOATS;
  double total, done = 0;
  total = 0;
  ImpastoStatus st = plan_shapes (&x, n_in, values, inputs, true, &total);
  bool profile = getenv ("IMPASTO_PROFILE") != NULL; /* per-step wall times on stderr */

  /* pass 2: run */
  for (int i = 0; !st && i < m->n_steps; i++) {
    const ImpStep *s = &m->steps[i];
    struct timespec t0, t1, c0, c1;
    if (profile) {
      clock_gettime (CLOCK_MONOTONIC, &t0);
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
    }
    st = s->op->run (&x, s);
    if (st && st != IMPASTO_E_CANCELLED)
      imp_node_context (g, s->node, err);
    if (profile) {
      clock_gettime (CLOCK_MONOTONIC, &t1);
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
      const ImpTensor *o = &x.slots[s->output].t;
      /* CPU time too (all threads): on a busy machine the wall time says little */
      fprintf (stderr, "impasto profile: step %2d %-22s -> [%lld, %lld, %lld] %8.2f ms, CPU %8.2f ms\n",
               i, g->nodes[s->node].op_type, (long long) o->dims[1], (long long) o->dims[2],
               (long long) o->dims[3], imp_ms_between (&t0, &t1), imp_ms_between (&c0, &c1));
    }
    for (int k = 0; !st && k < s->n_inputs; k++)
      release (&x, s->inputs[k]);
    done += s->cost * (double) imp_tensor_count (&x.slots[s->output].t) + 1;
    if (!st && progress && !progress (done / total, progress_data))
      st = imp_fail (err, IMPASTO_E_CANCELLED, "cancelled");
  }
  if (!st) {
    ImpSlot *o = &x.slots[m->output];
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
