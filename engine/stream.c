/* stream.c — the banded executor's scheduler (see stream.h and docs/tiling.md).
 *
 * Steps run in graph order.  An op of streaming kind VIEW turns its output into a view (its view
 * function, in its file under engine/ops/); an op of kind BAND produces a STORED value band by
 * band (its band function), reading its inputs' rows (plus the kernel's halo) through the views.
 * An instance norm needs its input complete: by then the input is STORED and its sums are known,
 * so the normalisation is exact — the same as running the whole image at once — and costs no
 * pass of its own.  The last step writes straight into the output image.  A value is dropped
 * after the last step that reads it (through views too). */
#include "stream.h"
#include "image.h"
#include "op.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BAND_BYTES ((size_t) 24 << 20) /* target size of one band buffer (automatic bands) */

int64_t imp_stream_band_rows (const ImpStream *s, const SVal *out, size_t row_bytes)
{
  int64_t rows;
  if (s->tile_rows > 0) /* the user's tile size, scaled to this value's resolution */
    rows = (s->tile_rows * out->h + s->ph - 1) / s->ph;
  else
    rows = (int64_t) (BAND_BYTES / (row_bytes ? row_bytes : 1));
  return IMP_MAX (1, IMP_MIN (rows, out->h));
}

static size_t value_row_bytes (const SVal *sv)
{
  return (size_t) sv->c * (size_t) sv->w * sizeof (float);
}

/* Bytes of band buffer one output row of step st needs: its own row or the input rows it reads,
 * whichever is larger, unless its op knows better.  (A 32 -> 3 conv reads 10x more than it
 * writes: sizing its bands by the output alone made 260 MB input bands.) */
static size_t step_row_bytes (const ImpStream *s, const ImpStep *st)
{
  size_t bytes = value_row_bytes (&s->v[st->output]);
  if (st->op->band_row_bytes)
    return IMP_MAX (bytes, st->op->band_row_bytes (s, st));
  for (int i = 0; i < st->n_inputs; i++)
    if (!s->m->graph->values[st->inputs[i]].is_const)
      bytes = IMP_MAX (bytes, value_row_bytes (&s->v[st->inputs[i]]));
  return bytes;
}

static bool report (ImpStream *s, double amount)
{
  s->done += amount;
  const ImpastoOptions *o = s->o;
  return !o->progress || o->progress (IMP_MIN (s->done / s->total, 1.0), o->progress_data);
}

/* The largest buffer a band run may take: the per-tensor cap of the whole-tensor run applied to
 * what is really allocated. */
#define BAND_MAX_FLOATS (((size_t) 1 << 34) / sizeof (float))

/* Produce value st->output band by band; into the output image when it is the model's output. */
static ImpastoStatus materialise (ImpStream *s, ImpStep *st)
{
  SVal *out = &s->v[st->output];
  bool final = st->output == s->m->output;
  ImpastoStatus rc = IMPASTO_OK;
  if (!final) {
    out->store = (ImpStored) { .c = out->c, .h = out->h, .w = out->w };
    out->kind = SV_STORED;
    rc = imp_stored_create (&s->scratch, &out->store);
  }
  int64_t rows = imp_stream_band_rows (s, out, step_row_bytes (s, st));
  size_t cap = 0, count = 0;
  if (!rc && (!imp_dims_count ((int64_t[]) { out->c, rows, out->w }, 3, &count)
              || count > BAND_MAX_FLOATS))
    rc = imp_fail (s->err, IMPASTO_E_SHAPE, "one band of the output would be too large");
  float *band = rc ? NULL : imp_stream_take (s, count, &cap);
  if (!rc && !band)
    rc = IMPASTO_E_NOMEM;
  double per_row = st->cost * (double) out->c * (double) out->w;
  for (int64_t r0 = 0; !rc && r0 < out->h; r0 += rows) {
    int64_t r1 = IMP_MIN (r0 + rows, out->h);
    if ((rc = st->op->band (s, st, r0, r1, band)))
      break;
    if (final)
      rc = imp_image_compose_rows (s->m, s->in, band, r0, r1, out->w, s->o, s->out, s->pool,
                                   s->err);
    else
      rc = imp_stored_write (&s->scratch, &out->store, r0, r1 - r0, band);
    if (!rc && !report (s, per_row * (double) (r1 - r0)))
      rc = imp_fail (s->err, IMPASTO_E_CANCELLED, "cancelled");
  }
  imp_stream_give (s, band, cap);
  return rc;
}

static ImpastoStatus run_step (ImpStream *s, ImpStep *st)
{
  switch (st->op->stream) {
  case IMP_STREAM_VIEW:
    return st->op->view (s, st);
  case IMP_STREAM_BAND:
    return materialise (s, st);
  case IMP_STREAM_WHOLE: /* streamable() kept such models away */
    break;
  }
  return imp_fail (s->err, IMPASTO_E_ARGUMENT, "internal error: %s cannot run banded",
                   st->op->name);
}

/* ------------------------------------------------------------------------------------------ */

static bool streamable (const ImpastoModel *m)
{
  for (int i = 0; i < m->n_steps; i++) {
    const ImpStep *st = &m->steps[i];
    switch (st->op->stream) {
    case IMP_STREAM_WHOLE:
      return false;
    case IMP_STREAM_VIEW:
    case IMP_STREAM_BAND:
      if (st->op->bandable && !st->op->bandable (m->graph, st))
        return false;
      break;
    }
  }
  return true;
}

bool imp_stream_wanted (ImpastoModel *m, int64_t ph, int64_t pw, int tile_size)
{
  if (tile_size == 0 || !streamable (m))
    return false;
  if (tile_size > 0)
    return true;
  /* automatic: stream when the whole-image run would hold more than about 1 GiB */
  ImpTensor *shapes = imp_alloc ((size_t) m->graph->n_values, sizeof (ImpTensor), "shapes", NULL);
  if (!shapes)
    return true;
  int64_t dims[4] = { 1, 3, ph, pw };
  size_t largest = 0;
  ImpastoError err;
  if (imp_model_shapes (m, dims, false, shapes, &err) == IMPASTO_OK) {
    for (int i = 0; i < m->n_steps; i++)
      largest = IMP_MAX (largest, imp_tensor_count (&shapes[m->steps[i].output]));
  } else {
    largest = SIZE_MAX / 16;
  }
  imp_free (shapes);
  return largest > IMP_WHOLE_MAX_FLOATS;
}

static void compute_last_uses (ImpStream *s)
{
  ImpastoModel *m = s->m;
  for (int v = 0; v < m->graph->n_values; v++)
    s->v[v].last_use = -1;
  for (int i = 0; i < m->n_steps; i++)
    for (int k = 0; k < m->steps[i].n_inputs; k++)
      s->v[m->steps[i].inputs[k]].last_use = i;
  s->v[m->output].last_use = m->n_steps; /* read by the final drain */
  for (int i = m->n_steps - 1; i >= 0; i--) { /* a view keeps its source alive */
    const ImpStep *st = &m->steps[i];
    if (st->op->stream == IMP_STREAM_VIEW) {
      SVal *src = &s->v[st->inputs[0]];
      src->last_use = IMP_MAX (src->last_use, s->v[st->output].last_use);
    }
  }
}

static void value_free (ImpStream *s, SVal *sv)
{
  if (sv->kind == SV_STORED) {
    imp_stored_free (&s->scratch, &sv->store);
    sv->kind = SV_NONE;
  }
}

static void stream_cleanup (ImpStream *s)
{
  const ImpGraph *g = s->m->graph;
  for (int v = 0; s->v && v < g->n_values; v++) {
    SVal *sv = &s->v[v];
    value_free (s, sv);
    if (sv->own_affine) {
      imp_free (sv->mul);
      imp_free (sv->add);
    }
    imp_free (sv->row_map);
    imp_free (sv->col_map);
    imp_free (sv->col_map32);
  }
  imp_free (s->v);
  imp_free (s->shapes);
  imp_cache_clear (&s->cache);
  imp_scratch_close (&s->scratch);
}

ImpastoStatus imp_stream_run (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                              const ImpastoOptions *o, int64_t ph, int64_t pw, ImpastoError *err)
{
  const ImpGraph *g = m->graph;
  ImpStream s = { .m = m, .in = in, .out = out, .o = o, .err = err, .pool = m->pool, .ph = ph,
                  .pw = pw, .tile_rows = o->tile_size > 0 ? o->tile_size : 0,
                  .gather_resize = !getenv ("IMPASTO_NO_GATHER") };
  s.cache.limit = ((size_t) 96 << 20) / sizeof (float);
  size_t ram = o->stream_ram_mb > 0    ? (size_t) o->stream_ram_mb << 20
               : o->stream_ram_mb == 0 ? (size_t) 384 << 20
                                       : 0;
  imp_scratch_init (&s.scratch, o->scratch_dir, ram, imp_pool_threads (m->pool),
                    !getenv ("IMPASTO_SCRATCH_NO_MMAP"), m->pool, &s.cache, err);
  bool profile = getenv ("IMPASTO_PROFILE") != NULL; /* per-step wall times on stderr */
  s.v = imp_alloc0 ((size_t) g->n_values, sizeof (SVal), "stream values", err);
  s.shapes = imp_alloc0 ((size_t) g->n_values, sizeof (ImpTensor), "shapes", err);
  /* steps[i] frees the values whose last reader it is: free_first[i] .. free_first[i + 1] in
   * free_list (a pass over all values after every step made long graphs quadratic) */
  int *free_first = imp_alloc0 ((size_t) m->n_steps + 2, sizeof (int), "stream plan", err);
  int *free_list = imp_alloc ((size_t) g->n_values + 1, sizeof (int), "stream plan", err);
  int64_t dims[4] = { 1, 3, ph, pw };
  ImpastoStatus rc = !s.v || !s.shapes || !free_first || !free_list
                         ? IMPASTO_E_NOMEM
                         : imp_model_shapes (m, dims, false, s.shapes, err);
  const ImpTensor *res = rc ? NULL : &s.shapes[m->output];
  if (!rc && (res->rank != 4 || res->dims[1] != 3 || res->dims[2] < in->height || res->dims[3] < in->width))
    rc = imp_fail (err, IMPASTO_E_SHAPE, "the model's output is not an RGB image of the input's size");
  for (int v = 0; !rc && v < g->n_values; v++) {
    const ImpTensor *t = &s.shapes[v];
    if (t->rank == 4) { /* [1, C, H, W] */
      s.v[v].c = (int) t->dims[1];
      s.v[v].h = t->dims[2];
      s.v[v].w = t->dims[3];
    }
  }
  if (!rc) {
    s.v[m->input].kind = SV_INPUT;
    compute_last_uses (&s);
    for (int i = 0; i < m->n_steps; i++)
      s.total += m->steps[i].cost * (double) imp_tensor_count (&s.shapes[m->steps[i].output]) + 1;
    for (int v = 0; v < g->n_values; v++)
      if (s.v[v].last_use >= 0 && s.v[v].last_use < m->n_steps)
        free_first[s.v[v].last_use + 2]++;
    for (int i = 0; i <= m->n_steps; i++)
      free_first[i + 1] += free_first[i];
    for (int v = 0; v < g->n_values; v++)
      if (s.v[v].last_use >= 0 && s.v[v].last_use < m->n_steps)
        free_list[free_first[s.v[v].last_use + 1]++] = v;
  }
  for (int i = 0; !rc && i < m->n_steps; i++) {
    ImpStep *st = &m->steps[i];
    struct timespec t0, t1, c0, c1;
    if (profile) {
      clock_gettime (CLOCK_MONOTONIC, &t0);
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
    }
    rc = run_step (&s, st);
    if (rc && rc != IMPASTO_E_CANCELLED)
      imp_node_context (g, st->node, err);
    if (profile) {
      clock_gettime (CLOCK_MONOTONIC, &t1);
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
      const SVal *ov = &s.v[st->output];
      fprintf (stderr, "impasto profile: band step %2d %-22s -> [%d, %lld, %lld] %s %8.2f ms, CPU %8.2f ms\n",
               i, g->nodes[st->node].op_type, ov->c, (long long) ov->h, (long long) ov->w,
               ov->kind == SV_STORED ? (ov->store.ram ? "ram " : "file") : "view",
               imp_ms_between (&t0, &t1), imp_ms_between (&c0, &c1));
    }
    for (int k = free_first[i]; !rc && k < free_first[i + 1]; k++) /* what no later step reads */
      value_free (&s, &s.v[free_list[k]]);
  }
  if (!rc && s.v[m->output].kind != SV_NONE)
    rc = imp_rows_drain_output (&s);
  imp_free (free_first);
  imp_free (free_list);
  stream_cleanup (&s);
  return rc;
}
