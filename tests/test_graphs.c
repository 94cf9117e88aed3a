/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_graphs.c — whole graphs built here with the protobuf-c types, loaded from a file and run:
 *
 * 1. a 100,000-node chain of elementwise ops loads and runs, whole and banded, and gives what a
 *    plain loop over the same ops gives (fusion and the banded scheduler keep indexes, not
 *    scans: quadratic passes made such a chain take minutes);
 * 2. errors name the model file and the node (its name, or its op type and index when unnamed),
 *    at load and at run time;
 * 3. the per-tensor size cap applies to what is allocated: a graph whose whole-image run would
 *    hold a 20 GB tensor runs banded (bands and scratch rows are small), and only the whole run
 *    refuses it;
 * 4. a tall narrow image, which impasto_stylize runs transposed (transposed steps on the
 *    transposed image), gives what the ordinary steps give on it (mosaic-9 from ../shared). */
#include "impasto.h"
#include "model.h"
#include "onnx.pb-c.h"
#include "util.h"
#include "data_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* ---- a small graph builder over the protobuf-c types ------------------------------------- */

#define NET_MAX_ATTRS 4

typedef struct {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset, *opsets[1];
  Onnx__StringStringEntryProto meta[2], *metas[2];
  Onnx__ValueInfoProto vi[2], *ins[1], *outs[1];
  Onnx__TypeProto type[2];
  Onnx__TypeProto__Tensor ttype[2];
  Onnx__TensorShapeProto shape[2];
  Onnx__TensorShapeProto__Dimension dim[2][4], *dims[2][4];
  Onnx__NodeProto *node, **nodes;
  Onnx__AttributeProto (*attr)[NET_MAX_ATTRS], *(*attrs)[NET_MAX_ATTRS];
  Onnx__TensorProto *init, **inits;
  int max_nodes, max_inits;
  char **strings; /* every name allocated here, freed with the net */
  int n_strings, max_strings;
} Net;

static char *net_str (Net *n, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static char *net_str (Net *n, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char buf[256];
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  if (n->n_strings == n->max_strings) {
    n->max_strings = n->max_strings * 2 + 64;
    n->strings = realloc (n->strings, sizeof (char *) * (size_t) n->max_strings);
  }
  return n->strings[n->n_strings++] = strdup (buf);
}

/* Input x and output y: float [1, 3, ?, ?]; metadata says the model works on 0..1 values. */
static void net_init (Net *n, int max_nodes, int max_inits)
{
  memset (n, 0, sizeof *n);
  onnx__model_proto__init (&n->model);
  onnx__graph_proto__init (&n->graph);
  n->model.has_ir_version = 1;
  n->model.ir_version = 8;
  n->model.graph = &n->graph;
  onnx__operator_set_id_proto__init (&n->opset);
  n->opset.domain = "";
  n->opset.has_version = 1;
  n->opset.version = 13;
  n->opsets[0] = &n->opset;
  n->model.n_opset_import = 1;
  n->model.opset_import = n->opsets;
  for (int i = 0; i < 2; i++) {
    onnx__string_string_entry_proto__init (&n->meta[i]);
    n->metas[i] = &n->meta[i];
  }
  n->meta[0].key = "impasto.input_range";
  n->meta[0].value = "0,1";
  n->meta[1].key = "impasto.size_multiple";
  n->meta[1].value = "1";
  n->model.n_metadata_props = 2;
  n->model.metadata_props = n->metas;
  for (int w = 0; w < 2; w++) {
    Onnx__ValueInfoProto *vi = &n->vi[w];
    onnx__value_info_proto__init (vi);
    onnx__type_proto__init (&n->type[w]);
    onnx__type_proto__tensor__init (&n->ttype[w]);
    onnx__tensor_shape_proto__init (&n->shape[w]);
    vi->name = w ? "y" : "x";
    vi->type = &n->type[w];
    n->type[w].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    n->type[w].tensor_type = &n->ttype[w];
    n->ttype[w].has_elem_type = 1;
    n->ttype[w].elem_type = 1;
    n->ttype[w].shape = &n->shape[w];
    n->shape[w].n_dim = 4;
    n->shape[w].dim = n->dims[w];
    for (int d = 0; d < 4; d++) {
      onnx__tensor_shape_proto__dimension__init (&n->dim[w][d]);
      n->dims[w][d] = &n->dim[w][d];
      if (d < 2) { /* value and param share a union (oneof) */
        n->dim[w][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        n->dim[w][d].dim_value = d == 0 ? 1 : 3;
      } else {
        n->dim[w][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        n->dim[w][d].dim_param = d == 2 ? "h" : "w";
      }
    }
  }
  n->ins[0] = &n->vi[0];
  n->outs[0] = &n->vi[1];
  n->graph.n_input = n->graph.n_output = 1;
  n->graph.input = n->ins;
  n->graph.output = n->outs;
  n->max_nodes = max_nodes;
  n->max_inits = max_inits;
  n->node = calloc ((size_t) max_nodes, sizeof *n->node);
  n->nodes = calloc ((size_t) max_nodes, sizeof *n->nodes);
  n->attr = calloc ((size_t) max_nodes, sizeof *n->attr);
  n->attrs = calloc ((size_t) max_nodes, sizeof *n->attrs);
  n->init = calloc ((size_t) max_inits + 1, sizeof *n->init);
  n->inits = calloc ((size_t) max_inits + 1, sizeof *n->inits);
  n->graph.node = n->nodes;
  n->graph.initializer = n->inits;
}

static void net_free (Net *n)
{
  for (int i = 0; i < (int) n->graph.n_node; i++) {
    free (n->node[i].input);
    free (n->node[i].output);
  }
  for (int i = 0; i < n->n_strings; i++)
    free (n->strings[i]);
  free (n->strings);
  free (n->node), free (n->nodes), free (n->attr), free (n->attrs);
  free (n->init), free (n->inits);
}

/* A node reading in0 (and in1, NULL for none) writing out. */
static int net_node (Net *n, const char *name, const char *op, const char *in0, const char *in1,
                     const char *out)
{
  int i = (int) n->graph.n_node++;
  Onnx__NodeProto *p = &n->node[i];
  onnx__node_proto__init (p);
  n->nodes[i] = p;
  p->name = (char *) name;
  p->op_type = (char *) op;
  p->n_input = in1 ? 2 : 1;
  p->input = malloc (2 * sizeof (char *));
  p->input[0] = (char *) in0;
  p->input[1] = (char *) in1;
  p->n_output = 1;
  p->output = malloc (sizeof (char *));
  p->output[0] = (char *) out;
  p->attribute = n->attrs[i];
  return i;
}

static Onnx__AttributeProto *net_attr (Net *n, int node, const char *name,
                                       Onnx__AttributeProto__AttributeType type)
{
  int k = (int) n->node[node].n_attribute++;
  Onnx__AttributeProto *a = &n->attr[node][k];
  onnx__attribute_proto__init (a);
  n->attrs[node][k] = a;
  a->name = (char *) name;
  a->has_type = 1;
  a->type = type;
  return a;
}

static void net_ints (Net *n, int node, const char *name, int count, const int64_t *v)
{
  Onnx__AttributeProto *a = net_attr (n, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = (size_t) count;
  a->ints = (int64_t *) v;
}

/* A float initializer with the given dims and values (kept by the caller). */
static void net_init_floats (Net *n, const char *name, int rank, const int64_t *dims,
                             const float *data, size_t count)
{
  int i = (int) n->graph.n_initializer++;
  Onnx__TensorProto *t = &n->init[i];
  onnx__tensor_proto__init (t);
  n->inits[i] = t;
  t->name = (char *) name;
  t->has_data_type = 1;
  t->data_type = 1;
  t->n_dims = (size_t) rank;
  t->dims = (int64_t *) dims;
  t->n_float_data = count;
  t->float_data = (float *) data;
}

/* Packs the net into a file under dir named file; the path (malloc'd) or NULL. */
static char *net_write (const Net *n, const char *dir, const char *file)
{
  size_t size = onnx__model_proto__get_packed_size (&n->model);
  uint8_t *buf = malloc (size ? size : 1);
  onnx__model_proto__pack (&n->model, buf);
  size_t len = strlen (dir) + strlen (file) + 2;
  char *path = malloc (len);
  snprintf (path, len, "%s/%s", dir, file);
  FILE *f = fopen (path, "wb");
  bool ok = f && fwrite (buf, 1, size, f) == size;
  if (f)
    ok &= fclose (f) == 0;
  free (buf);
  if (!ok) {
    free (path);
    return NULL;
  }
  return path;
}

static double now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

static uint32_t rng = 777;
static float frand (void) /* 0..1 */
{
  rng = rng * 1664525u + 1013904223u;
  return (float) (rng >> 8) / (float) (1u << 24);
}

/* ---- 1. a long chain ----------------------------------------------------------------------- */

#define CHAIN_NODES 100000

/* The chain's op k: Add 0.25, Mul 0.9, Relu, Sub 0.1 (bounded whatever the length). */
static float chain_ref (float v, int nodes)
{
  for (int k = 0; k < nodes; k++) {
    switch (k % 4) {
    case 0: v = v + 0.25f; break;
    case 1: v = v * 0.9f; break;
    case 2: v = v > 0 ? v : 0; break;
    case 3: v = v - 0.1f; break;
    }
  }
  return v;
}

static void test_long_chain (const char *dir)
{
  static const float add = 0.25f, mul = 0.9f, sub = 0.1f;
  static const int64_t one[1] = { 1 };
  Net n;
  net_init (&n, CHAIN_NODES, 3);
  net_init_floats (&n, "add", 1, one, &add, 1);
  net_init_floats (&n, "mul", 1, one, &mul, 1);
  net_init_floats (&n, "sub", 1, one, &sub, 1);
  const char *prev = "x";
  for (int k = 0; k < CHAIN_NODES; k++) {
    const char *out = k == CHAIN_NODES - 1 ? "y" : net_str (&n, "v%d", k);
    static const char *const ops[4] = { "Add", "Mul", "Relu", "Sub" };
    static const char *const consts[4] = { "add", "mul", NULL, "sub" };
    net_node (&n, net_str (&n, "n%d", k), ops[k % 4], prev, consts[k % 4], out);
    prev = out;
  }
  char *path = net_write (&n, dir, "chain.onnx");
  net_free (&n);
  CHECK (path != NULL, "cannot write the chain model in %s", dir);
  if (!path)
    return;
  ImpastoError err;
  double t0 = now ();
  ImpastoModel *m = impasto_model_load (path, &err);
  double t_load = now () - t0;
  CHECK (m != NULL, "100,000-node chain: %s", err.message);
  if (!m) {
    free (path);
    return;
  }
  /* whole: the internal tensor entry point */
  enum { H = 5, W = 7 };
  float x[3 * H * W], want[3 * H * W];
  for (int i = 0; i < 3 * H * W; i++) {
    x[i] = 2.0f * frand () - 1.0f;
    want[i] = chain_ref (x[i], CHAIN_NODES);
  }
  ImpTensor in = { .dtype = IMP_DT_FLOAT, .rank = 4, .dims = { 1, 3, H, W }, .data = x };
  ImpTensor out = { 0 };
  t0 = now ();
  ImpastoStatus st = imp_model_exec (m, &in, &out, NULL, NULL, &err);
  double t_whole = now () - t0;
  CHECK (st == IMPASTO_OK, "chain, whole run: %s", err.message);
  float worst = 0;
  for (int i = 0; !st && i < 3 * H * W; i++)
    worst = fmaxf (worst, fabsf (((float *) out.data)[i] - want[i]));
  CHECK (!st && worst <= 1e-5f, "chain, whole run: off the plain loop by %g", worst);
  imp_free (out.data);

  /* banded, through the public API: 16x16 (the model's minimum), bands of 4 rows */
  ImpastoImage im = { .width = 16, .height = 16, .channels = 3 }, res = im;
  im.data = malloc (sizeof (float) * 16 * 16 * 3);
  res.data = calloc (16 * 16 * 3, sizeof (float));
  for (int i = 0; i < 16 * 16 * 3; i++)
    im.data[i] = frand ();
  ImpastoOptions o;
  impasto_options_init (&o);
  o.tile_size = 4;
  o.threads = 1;
  t0 = now ();
  st = impasto_stylize (m, &im, &res, &o, &err);
  double t_banded = now () - t0;
  CHECK (st == IMPASTO_OK, "chain, banded run: %s", err.message);
  worst = 0;
  for (int i = 0; !st && i < 16 * 16 * 3; i++) {
    float v = chain_ref (im.data[i], CHAIN_NODES);
    worst = fmaxf (worst, fabsf (res.data[i] - fminf (fmaxf (v, 0.0f), 1.0f)));
  }
  CHECK (!st && worst <= 1e-5f, "chain, banded run: off the plain loop by %g", worst);
  printf ("# %d-node chain: load %.2f s, whole run %.2f s, banded run %.2f s\n", CHAIN_NODES,
          t_load, t_whole, t_banded);
  free (im.data), free (res.data);
  impasto_model_free (m);
  unlink (path);
  free (path);
}

/* ---- 2. errors name the file and the node -------------------------------------------------- */

static bool has (const char *msg, const char *a, const char *b)
{
  return strstr (msg, a) && (!b || strstr (msg, b));
}

static void test_error_context (const char *dir)
{
  static const float k2[2] = { 1, 2 };
  static const int64_t k2_dims[4] = { 1, 2, 1, 1 };
  ImpastoError err;
  ImpastoImage im = { .width = 16, .height = 16, .channels = 3 }, res = im;
  im.data = calloc (16 * 16 * 3, sizeof (float));
  res.data = calloc (16 * 16 * 3, sizeof (float));

  /* run time: a constant of 2 channels added to a 3-channel image, named and unnamed */
  for (int named = 0; named <= 1; named++) {
    Net n;
    net_init (&n, 2, 1);
    net_init_floats (&n, "k", 4, k2_dims, k2, 2);
    net_node (&n, "first", "Relu", "x", NULL, "r");
    net_node (&n, named ? "merge" : "", "Add", "r", "k", "y");
    char *path = net_write (&n, dir, "mosaic.onnx");
    net_free (&n);
    ImpastoModel *m = path ? impasto_model_load (path, &err) : NULL;
    CHECK (m != NULL, "broadcast model: %s", path ? err.message : "not written");
    if (m) {
      ImpastoStatus st = impasto_stylize (m, &im, &res, NULL, &err);
      char want[4200];
      snprintf (want, sizeof want, "%s: node %s (Add): operand shapes do not broadcast", path,
                named ? "'merge'" : "#1");
      CHECK (st == IMPASTO_E_SHAPE && has (err.message, want, NULL),
             "broadcast error: status %d '%s', wanted '%s'", st, err.message, want);
      impasto_model_free (m);
    }
    if (path)
      unlink (path);
    free (path);
  }

  /* load time: an attribute we do not run */
  Net n;
  net_init (&n, 1, 0);
  int c = net_node (&n, "", "Relu", "x", NULL, "y");
  net_attr (&n, c, "bogus", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)->has_i = 1;
  char *path = net_write (&n, dir, "attr.onnx");
  net_free (&n);
  ImpastoModel *m = path ? impasto_model_load (path, &err) : NULL;
  CHECK (!m && err.code == IMPASTO_E_UNSUPPORTED
             && has (err.message, path ? path : "?", "node #0 (Relu): attribute 'bogus' is not supported"),
         "unsupported attribute: '%s'", err.message);
  impasto_model_free (m);
  if (path)
    unlink (path);
  free (path);
  free (im.data), free (res.data);
}

/* ---- 3. the size cap applies to bands ------------------------------------------------------ */

/* x [1,3,16,16] -> 6 x Pad 4096 (zeros) -> [1,3,49168,49168] -> Conv 1x1 stride 1024 (identity)
 *   -> [1,3,49,49] -> Conv 1x1 stride 2 (identity, bias 0.25) -> y [1,3,25,25].  The last Pad is
 * fused into the conv; the one before it is [1,3,40976,40976] (5e9 values: 20 GB whole).  The
 * padded image has the input at rows and columns 24576..24591: the first conv samples row and
 * column 24576 (its output 24), the second its row and column 24 (output 12).  So y is 0.25
 * everywhere except y[:, 12, 12] = x[:, 0, 0] + 0.25. */
static void test_band_cap (const char *dir)
{
  static const int64_t pads[8] = { 0, 0, 4096, 4096, 0, 0, 4096, 4096 };
  static const int64_t w_dims[4] = { 3, 3, 1, 1 }, b_dims[1] = { 3 };
  static const int64_t s1024[2] = { 1024, 1024 }, s2[2] = { 2, 2 };
  static const float eye[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 }, zero[3] = { 0, 0, 0 },
                     quarter[3] = { 0.25f, 0.25f, 0.25f };
  Net n;
  net_init (&n, 8, 4);
  net_init_floats (&n, "eye", 4, w_dims, eye, 9);
  net_init_floats (&n, "zero", 1, b_dims, zero, 3);
  net_init_floats (&n, "quarter", 1, b_dims, quarter, 3);
  const char *prev = "x";
  for (int k = 0; k < 6; k++) {
    const char *out = net_str (&n, "p%d", k);
    int i = net_node (&n, net_str (&n, "pad%d", k), "Pad", prev, NULL, out);
    /* pads as an attribute (before opset 11); the engine takes both forms */
    net_ints (&n, i, "pads", 8, pads);
    prev = out;
  }
  int c1 = net_node (&n, "c1", "Conv", prev, "eye", "c");
  int c2 = net_node (&n, "c2", "Conv", "c", "eye", "y");
  net_ints (&n, c1, "strides", 2, s1024);
  net_ints (&n, c2, "strides", 2, s2);
  /* the biases: third inputs */
  for (int i = 0; i < 2; i++) {
    Onnx__NodeProto *p = &n.node[i ? c2 : c1];
    p->input = realloc (p->input, 3 * sizeof (char *));
    p->input[2] = i ? "quarter" : "zero";
    p->n_input = 3;
  }
  char *path = net_write (&n, dir, "huge.onnx");
  net_free (&n);
  ImpastoError err;
  ImpastoModel *m = path ? impasto_model_load (path, &err) : NULL;
  CHECK (m != NULL, "padded model: %s", path ? err.message : "not written");
  if (!m) {
    free (path);
    return;
  }
  ImpastoImage im = { .width = 16, .height = 16, .channels = 3 }, res = im;
  im.data = malloc (16 * 16 * 3 * sizeof (float));
  res.data = calloc (16 * 16 * 3, sizeof (float));
  for (int i = 0; i < 16 * 16 * 3; i++)
    im.data[i] = 0.5f * frand ();
  ImpastoOptions o;
  impasto_options_init (&o); /* automatic: the whole run would need 20 GB, so it is banded */
  ImpastoStatus st = impasto_stylize (m, &im, &res, &o, &err);
  CHECK (st == IMPASTO_OK, "banded run of a 49168x49168 intermediate: %s", err.message);
  float worst = 0;
  for (int y = 0; !st && y < 16; y++)
    for (int x = 0; x < 16; x++)
      for (int ch = 0; ch < 3; ch++) {
        float want = 0.25f + (y == 12 && x == 12 ? im.data[ch] : 0.0f);
        worst = fmaxf (worst, fabsf (res.data[(y * 16 + x) * 3 + ch] - want));
      }
  CHECK (!st && worst < 1e-6f, "banded run of a 49168x49168 intermediate: off by %g", worst);
  /* the whole run refuses it before allocating anything, naming file and node */
  o.tile_size = 0;
  st = impasto_stylize (m, &im, &res, &o, &err);
  CHECK (st == IMPASTO_E_SHAPE && has (err.message, path, "(Pad): the output tensor would be too large"),
         "whole run of a 20 GB tensor: status %d '%s'", st, err.message);
  impasto_model_free (m);
  unlink (path);
  free (path);
  free (im.data), free (res.data);
}

/* ---- 4. tall narrow images run transposed ------------------------------------------------- */

static void test_tall_narrow (void)
{
  char path[4096];
  ImpastoError err;
  ImpastoModel *m = impasto_model_load (shared_path (path, sizeof path, "models/mosaic-9.onnx"), &err);
  CHECK (m != NULL, "%s", err.message);
  if (!m)
    return;
  enum { W = 24, H = 300 }; /* multiples of 4: no padding */
  ImpastoImage im = { .width = W, .height = H, .channels = 3 }, res = im;
  im.data = malloc (sizeof (float) * W * H * 3);
  res.data = calloc (W * H * 3, sizeof (float));
  float *x = malloc (sizeof (float) * W * H * 3); /* the model's input, [3, H, W], 0..255 */
  for (int y = 0; y < H; y++)
    for (int i = 0; i < W; i++)
      for (int c = 0; c < 3; c++) {
        float v = 0.5f + 0.3f * sinf (0.05f * (float) (y + 3 * i + 7 * c)) + 0.2f * (frand () - 0.5f);
        im.data[((size_t) y * W + (size_t) i) * 3 + (size_t) c] = v;
        x[((size_t) c * H + (size_t) y) * W + (size_t) i] = v * 255.0f;
      }
  /* the ordinary steps, through the internal tensor entry point */
  ImpTensor in = { .dtype = IMP_DT_FLOAT, .rank = 4, .dims = { 1, 3, H, W }, .data = x };
  ImpTensor want = { 0 };
  ImpastoStatus st = imp_model_exec (m, &in, &want, NULL, NULL, &err);
  CHECK (st == IMPASTO_OK && want.dims[2] == H && want.dims[3] == W, "ordinary run: %s", err.message);
  for (int tile = 0; !st && tile <= 64; tile += 64) {
    ImpastoOptions o;
    impasto_options_init (&o);
    o.tile_size = tile;
    ImpastoStatus rs = impasto_stylize (m, &im, &res, &o, &err);
    CHECK (rs == IMPASTO_OK, "tall image, tile %d: %s", tile, err.message);
    float worst = 0;
    for (int y = 0; !rs && y < H; y++)
      for (int i = 0; i < W; i++)
        for (int c = 0; c < 3; c++) {
          float v = ((float *) want.data)[((size_t) c * H + (size_t) y) * W + (size_t) i] / 255.0f;
          v = fminf (fmaxf (v, 0.0f), 1.0f);
          worst = fmaxf (worst, fabsf (res.data[((size_t) y * W + (size_t) i) * 3 + (size_t) c] - v));
        }
    /* float rounding of other summation orders; the scratch file is not used at this size */
    CHECK (!rs && worst < 2e-4f, "tall %dx%d image, tile %d: off the ordinary run by %g", W, H,
           tile, worst);
  }
  imp_free (want.data);
  free (x), free (im.data), free (res.data);
  impasto_model_free (m);
}

int main (void)
{
  char dir[] = "/tmp/impasto-graphs-XXXXXX";
  if (!mkdtemp (dir)) {
    printf ("FAIL: cannot make a temporary folder\n");
    return 1;
  }
  test_error_context (dir);
  test_band_cap (dir);
  test_long_chain (dir);
  test_tall_narrow ();
  rmdir (dir);
  return check_summary ();
}
