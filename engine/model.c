/* model.c — the public API: load, describe, stylise.
 *
 * impasto_stylize maps an interleaved 0..1 image to the model's input domain, pads it (bottom and
 * right, mirrored) to a size the network accepts, runs it, crops back, and composes the result:
 * optional colour preservation (luma from the stylised image, chroma from the original, BT.601
 * Y'CbCr), strength blend with the original, gray conversion and alpha pass-through. */
#include "image.h"
#include "model.h"
#include "op.h"
#include "stream.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef IMPASTO_VERSION
#define IMPASTO_VERSION "0.0.0"
#endif

const char *impasto_version (void)
{
  return IMPASTO_VERSION;
}

void impasto_options_init (ImpastoOptions *o)
{
  memset (o, 0, sizeof *o);
  o->strength = 1.0f;
  o->tile_size = -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Loading.                                                                                     */

static int last_op_output (const ImpGraph *g, int value, const char **op)
{
  for (int i = 0; i < g->n_nodes; i++)
    for (int o = 0; o < g->nodes[i].n_outputs; o++)
      if (g->nodes[i].outputs[o] == value) {
        *op = g->nodes[i].op_type;
        return i;
      }
  return -1;
}

/* The value range the model expects and produces, from metadata "impasto.input_range"
 * ("0,255", "0,1" or "-1,1") or else from the last op: Sigmoid -> 0..1, Tanh -> -1..1,
 * anything else -> 0..255 (fast-neural-style). */
static void choose_value_range (ImpastoModel *m)
{
  const char *range = impasto_model_metadata (m, "impasto.input_range");
  const char *op = "";
  last_op_output (m->graph, m->output, &op);
  float lo = 0, hi = 255;
  if (range && sscanf (range, "%f,%f", &lo, &hi) == 2 && hi > lo) {
    /* as given */
  } else if (!strcmp (op, "Sigmoid")) {
    lo = 0, hi = 1;
  } else if (!strcmp (op, "Tanh")) {
    lo = -1, hi = 1;
  } else {
    lo = 0, hi = 255;
  }
  m->in_scale = m->out_scale = hi - lo;
  m->in_offset = m->out_offset = lo;
}

/* H and W must be multiples of the product of the conv and pooling strides (the total
 * downsampling). */
static void choose_size_rules (ImpastoModel *m)
{
  int mult = 1;
  for (int i = 0; i < m->n_steps; i++) {
    if (m->steps[i].op == &imp_op_conv)
      mult *= m->steps[i].u.conv.shape.stride_h;
    if (m->steps[i].op == &imp_op_maxpool)
      mult *= m->steps[i].u.maxpool.shape.sh;
    if (mult > 256)
      mult = 256;
  }
  const char *meta = impasto_model_metadata (m, "impasto.size_multiple");
  if (meta && atoi (meta) >= 1 && atoi (meta) <= 1024)
    mult = atoi (meta);
  m->size_multiple = mult;
  m->min_size = IMP_MAX (16, mult);
}

/* The graph's one remaining runtime input and its first output; with rgb, the input must be an
 * RGB image tensor. */
static ImpastoStatus check_io (ImpastoModel *m, bool rgb, ImpastoError *err)
{
  const ImpGraph *g = m->graph;
  m->n_inputs = g->n_inputs;
  if (g->n_inputs != 1 && !m->static_shapes)
    return imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "%s: the model has %d runtime inputs; bind all but the image by name "
                     "(impasto_model_load_with_inputs) or load it as a style pack",
                     g->path ? g->path : "model", g->n_inputs);
  m->input = g->inputs[0];
  m->output = g->outputs[0];
  const ImpTensor *t = &g->values[m->input].t;
  if (t->rank != 4 || (rgb && t->dims[1] >= 0 && t->dims[1] != 3))
    return imp_fail (err, IMPASTO_E_UNSUPPORTED, "input '%s' is not %s",
                     g->values[m->input].name,
                     rgb ? "an RGB image tensor [N, 3, H, W]" : "a tensor [N, C, H, W]");
  return IMPASTO_OK;
}

/* Turn the named runtime inputs of g into constants holding the given values: what depends on
 * them alone is folded at prepare, and the rest of the graph sees per-channel constants (the
 * Magenta style vector's conditional scale and shift), so it runs whole or banded like a
 * single-input net. */
static ImpastoStatus bind_inputs (ImpGraph *g, int n, const ImpastoInput *inputs, bool *hinted,
                                  ImpastoError *err)
{
  const char *file = g->path ? g->path : "model";
  for (int i = 0; i < n; i++) {
    const ImpastoInput *in = &inputs[i];
    int k = 0;
    while (k < g->n_inputs && (!in->name || strcmp (g->values[g->inputs[k]].name, in->name)))
      k++;
    if (k == g->n_inputs)
      return imp_fail (err, IMPASTO_E_ARGUMENT, "%s: no runtime input named '%s'", file,
                       in->name ? in->name : "(null)");
    ImpValue *v = &g->values[g->inputs[k]];
    size_t count;
    if (in->rank < 1 || in->rank > IMP_MAX_RANK || !imp_dims_count (in->dims, in->rank, &count)
        || count == 0 || count > IMP_MAX_TENSOR_ELEMS)
      return imp_fail (err, IMPASTO_E_ARGUMENT, "%s: input '%s': an invalid shape", file, in->name);
    if (v->t.rank >= 0 && v->t.rank != in->rank)
      return imp_fail (err, IMPASTO_E_SHAPE, "%s: input '%s' has rank %d, the value given rank %d",
                       file, in->name, v->t.rank, in->rank);
    for (int d = 0; v->t.rank >= 0 && d < in->rank; d++)
      if (v->t.dims[d] >= 0 && v->t.dims[d] != in->dims[d])
        return imp_fail (err, IMPASTO_E_SHAPE, "%s: input '%s': dimension %d is %lld, the value given has %lld",
                         file, in->name, d, (long long) v->t.dims[d], (long long) in->dims[d]);
    if (v->t.rank >= 0 && v->t.dtype != IMP_DT_FLOAT)
      return imp_fail (err, IMPASTO_E_UNSUPPORTED, "%s: input '%s' is not a float tensor", file, in->name);
    if (!in->data) { /* its shape only: it stays a runtime input */
      v->t.rank = in->rank;
      memcpy (v->t.dims, in->dims, sizeof (int64_t) * (size_t) in->rank);
      *hinted = true;
      continue;
    }
    float *data = imp_alloc (count, sizeof (float), "bound input", err);
    if (!data)
      return IMPASTO_E_NOMEM;
    memcpy (data, in->data, count * sizeof (float));
    imp_free (v->t.data);
    v->t.dtype = IMP_DT_FLOAT;
    v->t.rank = in->rank;
    memcpy (v->t.dims, in->dims, sizeof (int64_t) * (size_t) in->rank);
    v->t.data = data;
    v->is_const = true;
    v->is_input = false;
    memmove (&g->inputs[k], &g->inputs[k + 1], sizeof (int) * (size_t) (g->n_inputs - k - 1));
    g->n_inputs--;
  }
  return IMPASTO_OK;
}

static void release_tsteps (ImpastoModel *m, int n);

ImpastoModel *imp_model_load_net (const char *path, int n_inputs, const ImpastoInput *inputs,
                                  bool rgb, ImpastoError *err)
{
  imp_error_clear (err);
  if (!path) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "no model path given");
    return NULL;
  }
  if (n_inputs < 0 || (n_inputs > 0 && !inputs)) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "bad list of bound inputs");
    return NULL;
  }
  ImpGraph *g = imp_onnx_load (path, err);
  if (!g)
    return NULL;
  bool hinted = false;
  ImpastoStatus st = bind_inputs (g, n_inputs, inputs, &hinted, err);
  if (st) {
    imp_graph_free (g);
    return NULL;
  }
  ImpastoModel *m = calloc (1, sizeof *m);
  if (!m) {
    imp_graph_free (g);
    imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    return NULL;
  }
  m->static_shapes = hinted;
  st = imp_model_prepare (m, g, err);
  if (!st)
    st = check_io (m, rgb, err);
  if (st) {
    impasto_model_free (m);
    return NULL;
  }
  choose_value_range (m);
  choose_size_rules (m);
  static atomic_uint_fast64_t serials;
  m->serial = atomic_fetch_add (&serials, 1) + 1;
  return m;
}

ImpastoModel *impasto_model_load_with_inputs (const char *path, int n_inputs,
                                              const ImpastoInput *inputs, ImpastoError *err)
{
  return imp_model_load_net (path, n_inputs, inputs, true, err);
}

ImpastoModel *impasto_model_load (const char *path, ImpastoError *err)
{
  return imp_model_load_net (path, 0, NULL, true, err);
}

void impasto_model_free (ImpastoModel *m)
{
  if (!m)
    return;
  if (m->tsteps)
    release_tsteps (m, m->n_steps);
  imp_model_release_steps (m);
  imp_graph_free (m->graph);
  imp_pool_free (m->pool);
  imp_cache_clear (&m->kept);
  free (m);
}

const char *impasto_model_metadata (const ImpastoModel *m, const char *key)
{
  if (!m || !m->graph || !key)
    return NULL;
  for (int i = 0; i < m->graph->n_meta; i++)
    if (!strcmp (m->graph->meta[i].key, key))
      return m->graph->meta[i].value;
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* describe                                                                                     */

typedef struct {
  char *buf;
  size_t len, cap;
  bool failed;
} Text;

static void text_add (Text *t, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void text_add (Text *t, const char *fmt, ...)
{
  if (t->failed)
    return;
  if (!t->buf) { /* vsnprintf into NULL + 0 would be undefined (UBSan) even with size 0 */
    t->buf = malloc (256);
    if (!t->buf) {
      t->failed = true;
      return;
    }
    t->cap = 256;
  }
  for (;;) {
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end (ap);
    if (n < 0) {
      t->failed = true;
      return;
    }
    if ((size_t) n < t->cap - t->len) {
      t->len += (size_t) n;
      return;
    }
    size_t cap = t->cap * 2 + (size_t) n + 256;
    char *b = realloc (t->buf, cap);
    if (!b) {
      t->failed = true;
      return;
    }
    t->buf = b;
    t->cap = cap;
  }
}

static void describe_value (Text *t, const ImpValue *v)
{
  text_add (t, "  %s: %s [", v->name, v->t.dtype == IMP_DT_INT64 ? "int64" : "float");
  for (int d = 0; d < v->t.rank; d++) {
    if (v->t.dims[d] >= 0)
      text_add (t, "%s%lld", d ? ", " : "", (long long) v->t.dims[d]);
    else
      text_add (t, "%s?", d ? ", " : "");
  }
  text_add (t, "]\n");
}

static int compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void describe_ops (Text *t, const ImpGraph *g)
{
  const char **ops = malloc (sizeof (char *) * (size_t) (g->n_nodes + 1));
  if (!ops) {
    t->failed = true;
    return;
  }
  for (int i = 0; i < g->n_nodes; i++)
    ops[i] = g->nodes[i].op_type;
  qsort (ops, (size_t) g->n_nodes, sizeof *ops, compare_strings);
  text_add (t, "Operators (%d nodes):\n", g->n_nodes);
  for (int i = 0; i < g->n_nodes;) {
    int j = i;
    while (j < g->n_nodes && !strcmp (ops[j], ops[i]))
      j++;
    text_add (t, "  %-24s %d\n", ops[i], j - i);
    i = j;
  }
  free (ops);
}

char *impasto_model_describe (const ImpastoModel *m)
{
  if (!m)
    return NULL;
  const ImpGraph *g = m->graph;
  Text t = { 0 };
  text_add (&t, "Model: %s\n", g->path ? g->path : "?");
  text_add (&t, "ONNX IR version: %lld, opset: %lld\n", (long long) g->ir_version,
            (long long) g->opset);
  if (g->producer && g->producer[0])
    text_add (&t, "Producer: %s\n", g->producer);
  text_add (&t, "Inputs:\n");
  for (int i = 0; i < g->n_inputs; i++)
    describe_value (&t, &g->values[g->inputs[i]]);
  text_add (&t, "Outputs:\n");
  for (int i = 0; i < g->n_outputs; i++)
    describe_value (&t, &g->values[g->outputs[i]]);
  size_t params = 0;
  for (int v = 0; v < g->n_values; v++)
    if (g->values[v].producer < 0 && g->values[v].is_const && !g->values[v].is_input)
      params += imp_tensor_count (&g->values[v].t);
  text_add (&t, "Parameters: %zu\n", params);
  describe_ops (&t, g);
  text_add (&t, "Prepared: %d steps after folding and fusion; pixel values %g..%g; H and W padded to a multiple of %d\n",
            m->n_steps, m->in_offset, m->in_offset + m->in_scale, m->size_multiple);
  if (g->n_meta) {
    text_add (&t, "Metadata:\n");
    for (int i = 0; i < g->n_meta; i++)
      text_add (&t, "  %s: %s\n", g->meta[i].key, g->meta[i].value);
  }
  if (t.failed) {
    free (t.buf);
    return NULL;
  }
  return t.buf;
}

/* ------------------------------------------------------------------------------------------ */
/* stylise                                                                                      */

static int64_t round_up (int64_t v, int64_t mult)
{
  return (v + mult - 1) / mult * mult;
}

ImpastoStatus imp_model_ensure_pool (ImpastoModel *m, int threads)
{
  if (threads <= 0)
    threads = imp_cpu_count ();
  if (m->pool && m->pool_threads == threads)
    return IMPASTO_OK;
  imp_pool_free (m->pool);
  m->pool = imp_pool_new (threads); /* NULL: run serially */
  m->pool_threads = threads;
  return IMPASTO_OK;
}

/* Whole image in one piece: fastest, but memory grows with the image. */
static ImpastoStatus stylize_whole (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                                    const ImpastoOptions *o, int64_t ph, int64_t pw,
                                    ImpastoError *err)
{
  float *data = imp_alloc ((size_t) ph * (size_t) pw, 3 * sizeof (float), "model input", err);
  if (!data)
    return IMPASTO_E_NOMEM;
  imp_image_input_rows (m, in, 0, ph, pw, data, m->pool); /* [3, ph, pw] */
  ImpTensor input = { .dtype = IMP_DT_FLOAT, .rank = 4, .dims = { 1, 3, ph, pw }, .data = data };
  ImpTensor result = { 0 };
  ImpastoStatus st = imp_model_exec (m, &input, &result, o->progress, o->progress_data, err);
  imp_free (data);
  if (st)
    return st;
  if (result.rank != 4 || result.dims[0] != 1 || result.dims[1] != 3
      || result.dims[2] < in->height || result.dims[3] < in->width) {
    imp_free (result.data);
    return imp_fail (err, IMPASTO_E_SHAPE, "the model's output is not an RGB image of the input's size");
  }
  st = imp_image_compose_rows (m, in, result.data, 0, result.dims[2], result.dims[3], o, out,
                               m->pool, err);
  imp_free (result.data);
  return st;
}

/* ---- tall narrow images ------------------------------------------------------------------ *
 * Every kernel vectorises along rows and blocks over columns: on an image a few pixels wide most
 * vector lanes idle and per-row overheads dominate (measured through impasto stylize, mosaic-9:
 * 1x40000 took 9x the time of 40000x1, 40x40000 2.1x 40000x40; each conv of the 4-pixel-wide
 * 1/4-resolution layers ran ~20x slower than the same work 4 rows high).  Such an image runs
 * transposed instead: the model with every H/W parameter swapped and its kernels transposed
 * computes the transposed result, the same values up to float rounding. */

/* Narrow: padded width under this, and the height at least twice the width. */
#define TRANSPOSE_MAX_WIDTH 256
/* The transposed copies of the input and output images stay under this. */
#define TRANSPOSE_MAX_BYTES ((size_t) 512 << 20)

static void release_tsteps (ImpastoModel *m, int n)
{
  for (int i = 0; i < n; i++)
    if (m->tsteps[i].op->release)
      m->tsteps[i].op->release (&m->tsteps[i]);
  imp_free (m->tsteps);
  m->tsteps = NULL;
}

/* m->tsteps, made once; NULL when an op cannot run transposed (or on failure: the run is then
 * made the ordinary way, which is only slower). */
static void ensure_transposed (ImpastoModel *m)
{
  if (m->tsteps_tried)
    return;
  m->tsteps_tried = true;
  for (int i = 0; i < m->n_steps; i++)
    if (!m->steps[i].op->transpose)
      return;
  ImpastoError err;
  m->tsteps = imp_alloc ((size_t) m->n_steps + 1, sizeof (ImpStep), "transposed steps", &err);
  if (!m->tsteps)
    return;
  memcpy (m->tsteps, m->steps, (size_t) m->n_steps * sizeof (ImpStep));
  for (int i = 0; i < m->n_steps; i++) {
    ImpStep *t = &m->tsteps[i];
    ImpastoStatus st = t->op->transpose (m->graph, t, &err);
    if (!st && t->op->pack)
      st = t->op->pack (t, &err);
    if (st) {
      release_tsteps (m, i + 1); /* step i owns what its transpose made; later ones are copies */
      return;
    }
  }
}

/* Columns [x0, x0 + n) of in (w x h) -> rows [0, n) of out (h wide), any pixel type; strides as
 * in ImpastoImage. */
static void transpose_image (const ImpastoImage *in, int x0, int n, ImpastoImage *out)
{
  size_t px = (size_t) in->channels, elem = in->type == IMPASTO_PIXEL_U8 ? 1 : sizeof (float);
  size_t is = in->stride ? in->stride : (size_t) in->width * px;
  size_t os = out->stride ? out->stride : (size_t) out->width * px;
  const char *src = in->type == IMPASTO_PIXEL_U8 ? (const char *) in->data_u8 : (const char *) in->data;
  char *dst = out->type == IMPASTO_PIXEL_U8 ? (char *) out->data_u8 : (char *) out->data;
  for (int y = 0; y < in->height; y++)
    for (int x = x0; x < x0 + n; x++)
      memcpy (dst + ((size_t) (x - x0) * os + (size_t) y * px) * elem,
              src + ((size_t) y * is + (size_t) x * px) * elem, px * elem);
}

static ImpastoStatus stylize_oriented (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                                       const ImpastoOptions *o, ImpastoError *err);

static bool transpose_wanted (ImpastoModel *m, const ImpastoImage *in, int64_t ph, int64_t pw)
{
  size_t elem = in->type == IMPASTO_PIXEL_U8 ? 1 : sizeof (float);
  size_t bytes = 2 * (size_t) in->width * (size_t) in->height * (size_t) in->channels * elem;
  if (pw >= TRANSPOSE_MAX_WIDTH || ph < 2 * pw || bytes > TRANSPOSE_MAX_BYTES)
    return false;
  ensure_transposed (m);
  return m->tsteps != NULL;
}

/* The transposed result tres back into out: whole, or with o->rows through out's row buffer
 * (each of its rows is a column of tres, so they come only once tres is complete). */
static ImpastoStatus transpose_back (const ImpastoImage *tres, ImpastoImage *out,
                                     const ImpastoOptions *o, ImpastoError *err)
{
  if (!o->rows) {
    transpose_image (tres, 0, tres->width, out);
    return IMPASTO_OK;
  }
  for (int y = 0; y < tres->width; y += out->height) {
    ImpastoImage rows = *out;
    rows.height = IMP_MIN (out->height, tres->width - y);
    transpose_image (tres, y, rows.height, &rows);
    ImpastoStatus st = imp_image_hand_rows (o, &rows, y, err);
    if (st)
      return st;
  }
  return IMPASTO_OK;
}

/* Stylise the transposed image with the transposed steps, transpose the result back.  The
 * transposed result is held whole even with o->rows: transpose_wanted bounds its size. */
static ImpastoStatus stylize_transposed (ImpastoModel *m, const ImpastoImage *in,
                                         ImpastoImage *out, const ImpastoOptions *o,
                                         ImpastoError *err)
{
  ImpastoImage tin = { .width = in->height, .height = in->width, .channels = in->channels,
                       .type = in->type };
  ImpastoImage tout = { .width = in->height, .height = in->width, .channels = out->channels,
                        .type = out->type };
  ImpastoOptions to = *o;
  to.rows = NULL;
  size_t elem = in->type == IMPASTO_PIXEL_U8 ? 1 : sizeof (float);
  size_t n = (size_t) in->width * (size_t) in->height * (size_t) in->channels;
  void *a = imp_alloc (n, elem, "transposed image", err), *b = imp_alloc (n, elem, "transposed image", err);
  ImpastoStatus st = a && b ? IMPASTO_OK : IMPASTO_E_NOMEM;
  if (!st) {
    if (in->type == IMPASTO_PIXEL_U8)
      tin.data_u8 = a, tout.data_u8 = b;
    else
      tin.data = a, tout.data = b;
    transpose_image (in, 0, in->width, &tin);
    ImpastoModel tm = *m; /* the same model, its transposed steps */
    tm.steps = m->tsteps;
    m->kept = (ImpBufferCache) { 0 }; /* the copy has the kept buffers for the run, then m again */
    st = stylize_oriented (&tm, &tin, &tout, &to, err);
    m->kept = tm.kept;
    if (!st)
      st = transpose_back (&tout, out, o, err);
  }
  imp_free (a);
  imp_free (b);
  return st;
}

/* Stylise in -> out in the orientation given, whole or banded. */
static ImpastoStatus stylize_oriented (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                                       const ImpastoOptions *o, ImpastoError *err)
{
  int64_t ph = IMP_MAX (round_up (in->height, m->size_multiple), m->min_size);
  int64_t pw = IMP_MAX (round_up (in->width, m->size_multiple), m->min_size);
  if (imp_stream_wanted (m, ph, pw, o->tile_size))
    return imp_stream_run (m, in, out, o, ph, pw, err);
  return stylize_whole (m, in, out, o, ph, pw, err);
}

bool impasto_batchnorm_parse (const char *text, ImpastoBatchNorm *mode)
{
  if (text && !strcmp (text, "image-statistics"))
    *mode = IMPASTO_BATCHNORM_IMAGE;
  else if (text && !strcmp (text, "running"))
    *mode = IMPASTO_BATCHNORM_RUNNING;
  else
    return false;
  return true;
}

bool imp_model_bn_image (const ImpastoModel *m, const ImpastoOptions *o)
{
  ImpastoBatchNorm bn = o->batchnorm;
  if (bn == IMPASTO_BATCHNORM_AUTO
      && !impasto_batchnorm_parse (impasto_model_metadata (m, "impasto.batchnorm"), &bn))
    bn = IMPASTO_BATCHNORM_RUNNING;
  return bn == IMPASTO_BATCHNORM_IMAGE;
}

ImpastoStatus imp_model_stylize (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                                 const ImpastoOptions *o, ImpastoError *err)
{
  if (!m->keep_buffers) /* not a preview's region: its buffers would only add to this run's */
    imp_cache_clear (&m->kept);
  imp_model_ensure_pool (m, o->threads);
  m->bn_image = imp_model_bn_image (m, o);
  int64_t ph = IMP_MAX (round_up (in->height, m->size_multiple), m->min_size);
  int64_t pw = IMP_MAX (round_up (in->width, m->size_multiple), m->min_size);
  if (transpose_wanted (m, in, ph, pw))
    return stylize_transposed (m, in, out, o, err);
  return stylize_oriented (m, in, out, o, err);
}

ImpastoStatus impasto_stylize (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                               const ImpastoOptions *o, ImpastoError *err)
{
  imp_error_clear (err);
  ImpastoOptions defaults;
  if (!o) {
    impasto_options_init (&defaults);
    o = &defaults;
  }
  if (!m)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "no model");
  ImpastoStatus st = imp_image_check (in, out, o, err);
  if (st)
    return st;
  if ((st = imp_stats_check (m, o->stats, err)))
    return st;
  m->stats_use = o->stats;
  st = imp_model_stylize (m, in, out, o, err);
  m->stats_use = NULL;
  return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Several image inputs.                                                                        */

ImpastoStatus impasto_stylize_images (const char *path, int n, const char *const *names,
                                      const ImpastoImage *const *images, float range_lo,
                                      float range_hi, int multiple, ImpastoImage *out,
                                      const ImpastoOptions *o, ImpastoError *err)
{
  imp_error_clear (err);
  ImpastoOptions defaults;
  if (!o) {
    impasto_options_init (&defaults);
    o = &defaults;
  }
  if (n < 1 || n > IMP_STEP_MAX_INPUTS || !images || !images[0] || multiple < 0 || multiple > 1024)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "give 1 to %d images and a multiple from 0 to 1024",
                     IMP_STEP_MAX_INPUTS);
  ImpastoStatus st = imp_image_check (images[0], out, o, err);
  for (int k = 1; !st && k < n; k++)
    if (!images[k] || imp_image_check (images[k], images[k], o, err))
      st = imp_fail (err, IMPASTO_E_ARGUMENT, "image %d: %s", k + 1, images[k] ? err->message : "missing");
  if (st)
    return st;
  /* names: given, or the model's inputs in order (known once loaded: the shapes go by index) */
  ImpGraph *g = imp_onnx_load (path, err);
  if (!g)
    return err->code;
  char *owned[IMP_STEP_MAX_INPUTS] = { NULL };
  ImpastoInput hints[IMP_STEP_MAX_INPUTS];
  int64_t mult = multiple > 0 ? multiple : 1;
  for (int k = 0; !st && k < n; k++) {
    if (!names && k >= g->n_inputs) {
      st = imp_fail (err, IMPASTO_E_ARGUMENT, "%s: the model has %d inputs, %d images were given",
                     path, g->n_inputs, n);
      break;
    }
    const char *name = names ? names[k] : g->values[g->inputs[k]].name;
    if (!(owned[k] = strdup (name)))
      st = imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    int64_t h = images[k]->height, w = images[k]->width;
    if (k == 0) { /* the content: padded by reflection to the multiple, cropped back */
      h = IMP_MAX (round_up (h, mult), 16);
      w = IMP_MAX (round_up (w, mult), 16);
    }
    hints[k] = (ImpastoInput) { .name = owned[k], .rank = 4, .dims = { 1, 3, h, w } };
  }
  imp_graph_free (g);
  ImpastoModel *m = st ? NULL : imp_model_load_net (path, n, hints, false, err);
  if (!st && !m)
    st = err->code;
  if (!st && m->n_inputs != n)
    st = imp_fail (err, IMPASTO_E_ARGUMENT, "%s: the model has %d inputs, %d images were given",
                   path, m->n_inputs, n);
  if (!st && range_hi > range_lo) {
    m->in_scale = m->out_scale = range_hi - range_lo;
    m->in_offset = m->out_offset = range_lo;
  }
  float *data[IMP_STEP_MAX_INPUTS] = { NULL };
  ImpTensor tensors[IMP_STEP_MAX_INPUTS];
  int values[IMP_STEP_MAX_INPUTS];
  if (!st)
    imp_model_ensure_pool (m, o->threads);
  for (int k = 0; !st && k < n; k++) {
    int64_t h = hints[k].dims[2], w = hints[k].dims[3];
    if (!(data[k] = imp_alloc (3 * (size_t) h, (size_t) w * sizeof (float), "model input", err))) {
      st = IMPASTO_E_NOMEM;
      break;
    }
    imp_image_input_rows (m, images[k], 0, h, w, data[k], m->pool); /* [3, h, w] */
    tensors[k] = (ImpTensor) { .dtype = IMP_DT_FLOAT, .rank = 4, .dims = { 1, 3, h, w }, .data = data[k] };
    values[k] = -1;
    for (int i = 0; i < m->graph->n_inputs; i++)
      if (!strcmp (m->graph->values[m->graph->inputs[i]].name, owned[k]))
        values[k] = m->graph->inputs[i];
  }
  ImpTensor result = { 0 };
  if (!st)
    st = imp_model_exec_inputs (m, n, values, tensors, &result, o->progress, o->progress_data, err);
  if (!st && (result.rank != 4 || result.dims[1] != 3 || result.dims[2] < images[0]->height
              || result.dims[3] < images[0]->width))
    st = imp_fail (err, IMPASTO_E_SHAPE, "the model's output is not an RGB image of the content's size");
  if (!st)
    st = imp_image_compose_rows (m, images[0], result.data, 0, result.dims[2], result.dims[3], o,
                                 out, m->pool, err);
  imp_free (result.data);
  for (int k = 0; k < n; k++) {
    imp_free (data[k]);
    free (owned[k]);
  }
  impasto_model_free (m);
  return st;
}
