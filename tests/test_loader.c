/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_loader.c — the ONNX loader (engine/onnx_import.c) and graph helpers (engine/graph.c).
 *
 * 1. The shared models: what the loader builds is compared with an independent protobuf-c unpack
 *    of the same file (node list, op types, connections, initializer dims and bytes, declared
 *    input/output shapes), plus architecture facts of the TransformerNet.
 * 2. Hostile input, generated here: small models built with the protobuf-c API and packed, then
 *    broken in one place each; every failure is checked by error code and message. */
#include "graph.h"
#include "onnx.pb-c.h"
#include "util.h"
#include "data_check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* g must be NULL with err = code and a message containing substr; frees g otherwise. */
static void expect_error_at (int line, const char *what, ImpGraph *g, const ImpastoError *err,
                             ImpastoStatus code, const char *substr)
{
  bool ok = !g && err->code == code && strstr (err->message, substr) != NULL;
  if (ok) {
    passed++;
  } else {
    failed++;
    printf ("FAIL line %d: %s: expected code %d with \"%s\"; got %s, code %d \"%s\"\n", line,
            what, (int) code, substr, g ? "a graph" : "NULL", (int) err->code, err->message);
  }
  imp_graph_free (g);
}
#define EXPECT_ERROR(what, g, err, code, substr) \
  expect_error_at (__LINE__, what, g, err, code, substr)

static uint8_t *slurp (const char *path, size_t *n)
{
  FILE *f = fopen (path, "rb");
  if (!f)
    return NULL;
  fseek (f, 0, SEEK_END);
  long size = ftell (f);
  fseek (f, 0, SEEK_SET);
  uint8_t *buf = malloc (size > 0 ? (size_t) size : 1);
  *n = buf ? fread (buf, 1, (size_t) size, f) : 0;
  fclose (f);
  return buf;
}

static bool write_file (const char *path, const void *data, size_t n)
{
  FILE *f = fopen (path, "wb");
  if (!f)
    return false;
  bool ok = fwrite (data, 1, n, f) == n;
  return fclose (f) == 0 && ok;
}

static int find_value (const ImpGraph *g, const char *name)
{
  for (int i = 0; i < g->n_values; i++)
    if (strcmp (g->values[i].name, name) == 0)
      return i;
  return -1;
}

static bool dims_equal (const ImpTensor *t, const int64_t *dims, size_t rank)
{
  if (t->rank != (int) rank)
    return false;
  for (size_t i = 0; i < rank; i++)
    if (t->dims[i] != dims[i])
      return false;
  return true;
}

/* true if order[] is a permutation of the nodes with every producer before its consumers. */
static bool order_is_topological (const ImpGraph *g, const int *order)
{
  int *pos = malloc ((size_t) (g->n_nodes ? g->n_nodes : 1) * sizeof *pos);
  for (int i = 0; i < g->n_nodes; i++)
    pos[i] = -1;
  bool ok = true;
  for (int i = 0; i < g->n_nodes && ok; i++) {
    if (order[i] < 0 || order[i] >= g->n_nodes || pos[order[i]] >= 0)
      ok = false;
    else
      pos[order[i]] = i;
  }
  for (int i = 0; i < g->n_nodes && ok; i++)
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      int v = g->nodes[i].inputs[k];
      if (v >= 0 && g->values[v].producer >= 0 && pos[g->values[v].producer] >= pos[i])
        ok = false;
    }
  free (pos);
  return ok;
}

/* The graph's indices all point where they should. */
static bool graph_consistent (const ImpGraph *g)
{
  for (int v = 0; v < g->n_values; v++) {
    const ImpValue *val = &g->values[v];
    if (!val->name || val->producer < -1 || val->producer >= g->n_nodes)
      return false;
    if (val->is_const && (!val->t.data || val->t.rank < 0))
      return false;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const ImpNode *n = &g->nodes[i];
    if (!n->name || !n->op_type || !n->op_type[0] || !n->domain)
      return false;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] < -1 || n->inputs[k] >= g->n_values)
        return false;
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] < -1 || n->outputs[k] >= g->n_values
          || (n->outputs[k] >= 0 && g->values[n->outputs[k]].producer != i))
        return false;
    for (int k = 0; k < n->n_attrs; k++)
      if (!n->attrs[k].name)
        return false;
  }
  for (int i = 0; i < g->n_inputs; i++)
    if (g->inputs[i] < 0 || g->inputs[i] >= g->n_values || !g->values[g->inputs[i]].is_input)
      return false;
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] < 0 || g->outputs[i] >= g->n_values)
      return false;
  return g->producer && g->path && (g->n_meta == 0 || g->meta);
}

/* ------------------------------------------------------------------------------------------- */
/* Part 1: the shared models against an independent unpack.                                    */

static int count_op (const ImpGraph *g, const char *op)
{
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    n += strcmp (g->nodes[i].op_type, op) == 0;
  return n;
}

/* Input value of the first node with this op type, input slot k; -1 if none. */
static int first_op_input (const ImpGraph *g, const char *op, int k, bool last)
{
  int found = -1;
  for (int i = 0; i < g->n_nodes; i++)
    if (strcmp (g->nodes[i].op_type, op) == 0 && k < g->nodes[i].n_inputs) {
      found = g->nodes[i].inputs[k];
      if (!last)
        break;
    }
  return found;
}

static void check_declared (const char *file, const ImpGraph *g, int v,
                            const Onnx__ValueInfoProto *vi)
{
  const Onnx__TensorShapeProto *sh = vi->type->tensor_type->shape;
  CHECK (g->values[v].t.rank == (int) sh->n_dim, "%s: '%s' rank %d", file, vi->name,
         g->values[v].t.rank);
  for (size_t d = 0; d < sh->n_dim && (int) d < g->values[v].t.rank; d++) {
    int64_t want = sh->dim[d]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                       ? sh->dim[d]->dim_value : -1;
    CHECK (g->values[v].t.dims[d] == want, "%s: '%s' dim %zu is %lld, file says %lld", file,
           vi->name, d, (long long) g->values[v].t.dims[d], (long long) want);
  }
}

static void check_model (const char *dir, const char *file)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", dir, file);
  size_t n;
  uint8_t *bytes = slurp (path, &n);
  Onnx__ModelProto *mp = bytes ? onnx__model_proto__unpack (NULL, n, bytes) : NULL;
  CHECK (mp && mp->graph, "%s: reference unpack failed", file);
  ImpastoError err;
  ImpGraph *g = imp_onnx_load (path, &err);
  CHECK (g != NULL, "%s: load failed: %s", file, err.message);
  if (!g || !mp || !mp->graph) {
    imp_graph_free (g);
    if (mp)
      onnx__model_proto__free_unpacked (mp, NULL);
    free (bytes);
    return;
  }
  const Onnx__GraphProto *gp = mp->graph;
  CHECK (graph_consistent (g), "%s: graph indices inconsistent", file);
  CHECK (err.code == IMPASTO_OK, "%s: error code %d after success", file, err.code);
  CHECK (strcmp (g->path, path) == 0, "%s: path '%s'", file, g->path);
  CHECK (g->ir_version == mp->ir_version, "%s: ir_version %lld", file, (long long) g->ir_version);
  int64_t opset = -1;
  for (size_t i = 0; i < mp->n_opset_import; i++)
    if (!mp->opset_import[i]->domain || !mp->opset_import[i]->domain[0])
      opset = mp->opset_import[i]->version;
  CHECK (g->opset == opset, "%s: opset %lld, file says %lld", file, (long long) g->opset,
         (long long) opset);
  char producer[256];
  snprintf (producer, sizeof producer, "%s %s", mp->producer_name, mp->producer_version);
  CHECK (strcmp (g->producer, producer) == 0, "%s: producer '%s'", file, g->producer);
  CHECK (g->n_meta == (int) mp->n_metadata_props, "%s: %d metadata", file, g->n_meta);

  /* nodes: same order, op types, names, and connections by name */
  CHECK (g->n_nodes == (int) gp->n_node, "%s: %d nodes, file has %zu", file, g->n_nodes,
         gp->n_node);
  int bad_nodes = 0;
  for (int i = 0; i < g->n_nodes && i < (int) gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const ImpNode *node = &g->nodes[i];
    bool ok = strcmp (node->op_type, np->op_type) == 0 && strcmp (node->name, np->name) == 0
              && node->n_inputs == (int) np->n_input && node->n_outputs == (int) np->n_output
              && node->n_attrs == (int) np->n_attribute;
    for (int k = 0; ok && k < node->n_inputs; k++)
      ok = np->input[k][0] ? node->inputs[k] >= 0
                                 && strcmp (g->values[node->inputs[k]].name, np->input[k]) == 0
                           : node->inputs[k] == -1;
    for (int k = 0; ok && k < node->n_outputs; k++)
      ok = node->outputs[k] >= 0 && g->values[node->outputs[k]].producer == i
           && strcmp (g->values[node->outputs[k]].name, np->output[k]) == 0;
    for (int k = 0; ok && k < node->n_attrs; k++) {
      const ImpAttr *a = imp_node_attr (node, np->attribute[k]->name);
      ok = a != NULL;
      if (ok && np->attribute[k]->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) {
        ok = a->type == IMP_ATTR_INTS && a->n == (int) np->attribute[k]->n_ints
             && memcmp (a->ints, np->attribute[k]->ints, np->attribute[k]->n_ints * 8) == 0;
      }
    }
    bad_nodes += !ok;
  }
  CHECK (bad_nodes == 0, "%s: %d nodes differ from the file", file, bad_nodes);

  /* initializers: constants with the file's dims and (float32 raw) bytes */
  int n_const = 0;
  for (int i = 0; i < g->n_values; i++)
    n_const += g->values[i].is_const;
  CHECK (n_const == (int) gp->n_initializer, "%s: %d constants, file has %zu initializers", file,
         n_const, gp->n_initializer);
  int bad_inits = 0;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    int v = find_value (g, tp->name);
    bool ok = v >= 0 && g->values[v].is_const && !g->values[v].is_input
              && g->values[v].producer == -1 && dims_equal (&g->values[v].t, tp->dims, tp->n_dims)
              && tp->data_type == 1 && g->values[v].t.dtype == IMP_DT_FLOAT
              && imp_tensor_count (&g->values[v].t) * 4 == tp->raw_data.len
              && memcmp (g->values[v].t.data, tp->raw_data.data, tp->raw_data.len) == 0;
    bad_inits += !ok;
  }
  CHECK (bad_inits == 0, "%s: %d initializers differ from the file", file, bad_inits);

  /* runtime inputs and outputs with their declared shapes */
  CHECK (g->n_inputs == 1 && g->n_outputs == 1, "%s: %d inputs %d outputs", file, g->n_inputs,
         g->n_outputs);
  if (g->n_inputs == 1 && g->n_outputs == 1) {
    int vi = g->inputs[0], vo = g->outputs[0];
    CHECK (strcmp (g->values[vi].name, gp->input[0]->name) == 0 && g->values[vi].is_input
           && !g->values[vi].is_const, "%s: input '%s'", file, g->values[vi].name);
    CHECK (strcmp (g->values[vo].name, gp->output[0]->name) == 0, "%s: output '%s'", file,
           g->values[vo].name);
    check_declared (file, g, vi, gp->input[0]);
    check_declared (file, g, vo, gp->output[0]);
    /* the -9 files declare 1x3x224x224, the dynamic ones 1x3xheightxwidth */
    bool dynamic = strstr (file, "dynamic") != NULL;
    int64_t want_in[4] = { 1, 3, dynamic ? -1 : 224, dynamic ? -1 : 224 };
    CHECK (dims_equal (&g->values[vi].t, want_in, 4), "%s: input dims", file);
  }

  /* TransformerNet facts: 16 convs, first 9x9 3->32, last 9x9 32->3, 5 residual Adds */
  CHECK (count_op (g, "Conv") == 16, "%s: %d Conv", file, count_op (g, "Conv"));
  CHECK (count_op (g, "InstanceNormalization") == 15, "%s: InstanceNorm count", file);
  CHECK (count_op (g, "Add") == 5, "%s: Add count", file);
  int w0 = first_op_input (g, "Conv", 1, false), wl = first_op_input (g, "Conv", 1, true);
  int64_t first_w[4] = { 32, 3, 9, 9 }, last_w[4] = { 3, 32, 9, 9 };
  CHECK (w0 >= 0 && dims_equal (&g->values[w0].t, first_w, 4), "%s: first conv weight", file);
  CHECK (wl >= 0 && dims_equal (&g->values[wl].t, last_w, 4), "%s: last conv weight", file);

  /* Constant nodes: value attribute is a tensor equal to the file's */
  int bad_const = 0, n_constant = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (strcmp (g->nodes[i].op_type, "Constant") != 0)
      continue;
    n_constant++;
    const ImpAttr *a = imp_node_attr (&g->nodes[i], "value");
    const Onnx__TensorProto *tp = gp->node[i]->attribute[0]->t;
    size_t esize = tp->data_type == 7 ? 8 : 4;
    bool ok = a && a->type == IMP_ATTR_TENSOR && dims_equal (&a->t, tp->dims, tp->n_dims)
              && (tp->data_type == 7 ? a->t.dtype == IMP_DT_INT64 : a->t.dtype == IMP_DT_FLOAT)
              && imp_tensor_count (&a->t) * esize == tp->raw_data.len
              && memcmp (a->t.data, tp->raw_data.data, tp->raw_data.len) == 0;
    bad_const += !ok;
  }
  CHECK (n_constant > 0 && bad_const == 0, "%s: %d of %d Constant nodes differ", file, bad_const,
         n_constant);

  int *order = malloc ((size_t) g->n_nodes * sizeof *order);
  CHECK (imp_graph_topo_order (g, order, &err) == IMPASTO_OK && order_is_topological (g, order),
         "%s: topological order: %s", file, err.message);
  free (order);

  imp_graph_free (g);
  onnx__model_proto__free_unpacked (mp, NULL);
  free (bytes);
}

static int test_shared_models (void)
{
  char dir[4096];
  shared_path (dir, sizeof dir, "models");
  DIR *d = opendir (dir);
  if (!d)
    return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir (d))) {
    size_t len = strlen (e->d_name);
    if (len > 5 && strcmp (e->d_name + len - 5, ".onnx") == 0) {
      check_model (dir, e->d_name);
      n++;
    }
  }
  closedir (d);
  CHECK (n == 7, "expected 7 models in %s, found %d", dir, n);
  return n;
}

/* ------------------------------------------------------------------------------------------- */
/* Part 2: a small model built with protobuf-c, broken one way at a time.                        */

#define MAX_NODES 8
#define MAX_ATTRS 6

typedef struct {
  Onnx__ModelProto model;
  Onnx__GraphProto graph;
  Onnx__OperatorSetIdProto opset[2], *opsets[2];
  Onnx__StringStringEntryProto meta, *metas[1];
  Onnx__ValueInfoProto vi[2], *ins[1], *outs[1];
  Onnx__TypeProto type[2];
  Onnx__TypeProto__Tensor ttype[2];
  Onnx__TensorShapeProto shape[2];
  Onnx__TensorShapeProto__Dimension dim[2][4], *dims[2][4];
  Onnx__TensorProto init[3], *inits[3];
  int64_t init_dims[3][4];
  float w[6], b[2];
  Onnx__NodeProto node[MAX_NODES], *nodes[MAX_NODES];
  char *node_in[MAX_NODES][4], *node_out[MAX_NODES][2];
  Onnx__AttributeProto attr[MAX_NODES][MAX_ATTRS], *attrs[MAX_NODES][MAX_ATTRS];
  int64_t ones[2];
  Onnx__TensorProto ktensor;
  int64_t k_dims[1], k_data[2];
  Onnx__StringStringEntryProto ext[3], *exts[3];
} Model;

static void set_node (Model *m, int i, const char *name, const char *op, int n_in,
                      const char *const *in, int n_out, const char *const *out)
{
  onnx__node_proto__init (&m->node[i]);
  m->nodes[i] = &m->node[i];
  m->node[i].name = (char *) name;
  m->node[i].op_type = (char *) op;
  m->node[i].n_input = (size_t) n_in;
  m->node[i].input = m->node_in[i];
  for (int k = 0; k < n_in; k++)
    m->node_in[i][k] = (char *) in[k];
  m->node[i].n_output = (size_t) n_out;
  m->node[i].output = m->node_out[i];
  for (int k = 0; k < n_out; k++)
    m->node_out[i][k] = (char *) out[k];
  m->node[i].attribute = m->attrs[i];
  if (i + 1 > (int) m->graph.n_node)
    m->graph.n_node = (size_t) i + 1;
}

static Onnx__AttributeProto *add_attr (Model *m, int node, const char *name,
                                       Onnx__AttributeProto__AttributeType type)
{
  int k = (int) m->node[node].n_attribute++;
  Onnx__AttributeProto *a = &m->attr[node][k];
  onnx__attribute_proto__init (a);
  m->attrs[node][k] = a;
  a->name = (char *) name;
  a->has_type = 1;
  a->type = type;
  return a;
}

static void set_value_info (Model *m, int which, const char *name, int rank, const int64_t *dims,
                            const char *param)
{
  Onnx__ValueInfoProto *vi = &m->vi[which];
  onnx__value_info_proto__init (vi);
  onnx__type_proto__init (&m->type[which]);
  onnx__type_proto__tensor__init (&m->ttype[which]);
  onnx__tensor_shape_proto__init (&m->shape[which]);
  vi->name = (char *) name;
  vi->type = &m->type[which];
  m->type[which].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  m->type[which].tensor_type = &m->ttype[which];
  m->ttype[which].has_elem_type = 1;
  m->ttype[which].elem_type = 1;
  m->ttype[which].shape = &m->shape[which];
  m->shape[which].n_dim = (size_t) rank;
  m->shape[which].dim = m->dims[which];
  for (int d = 0; d < rank; d++) {
    Onnx__TensorShapeProto__Dimension *dim = &m->dim[which][d];
    onnx__tensor_shape_proto__dimension__init (dim);
    m->dims[which][d] = dim;
    if (dims[d] >= 0) {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim->dim_value = dims[d];
    } else if (param) {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dim->dim_param = (char *) param;
    } /* else: neither set */
  }
}

/* Initializer i: name, FLOAT, dims; data set by the caller. */
static Onnx__TensorProto *set_init (Model *m, int i, const char *name, int rank,
                                    const int64_t *dims)
{
  Onnx__TensorProto *t = &m->init[i];
  onnx__tensor_proto__init (t);
  m->inits[i] = t;
  t->name = (char *) name;
  t->has_data_type = 1;
  t->data_type = 1;
  t->n_dims = (size_t) rank;
  t->dims = m->init_dims[i];
  for (int d = 0; d < rank; d++)
    m->init_dims[i][d] = dims[d];
  if (i + 1 > (int) m->graph.n_initializer)
    m->graph.n_initializer = (size_t) i + 1;
  return t;
}

/*  x [1,3,h,5] --Conv(w [2,3,1,1] raw, b [2] float_data)--> c --Add(c, k)--> y --Clip(y,"","")--> z
 *  k = Constant int64 [2] {1, 2}.  Metadata style=test, opset 13, producer "impasto-test 1". */
static void build_base (Model *m)
{
  memset (m, 0, sizeof *m);
  onnx__model_proto__init (&m->model);
  onnx__graph_proto__init (&m->graph);
  m->model.has_ir_version = 1;
  m->model.ir_version = 8;
  m->model.producer_name = "impasto-test";
  m->model.producer_version = "1";
  m->model.graph = &m->graph;
  onnx__operator_set_id_proto__init (&m->opset[0]);
  m->opset[0].domain = "";
  m->opset[0].has_version = 1;
  m->opset[0].version = 13;
  m->opsets[0] = &m->opset[0];
  m->model.n_opset_import = 1;
  m->model.opset_import = m->opsets;
  onnx__string_string_entry_proto__init (&m->meta);
  m->meta.key = "style";
  m->meta.value = "test";
  m->metas[0] = &m->meta;
  m->model.n_metadata_props = 1;
  m->model.metadata_props = m->metas;

  int64_t in_dims[4] = { 1, 3, -1, 5 }, out_dims[4] = { 1, 2, -1, -1 };
  set_value_info (m, 0, "x", 4, in_dims, "h");
  set_value_info (m, 1, "z", 4, out_dims, NULL);
  m->ins[0] = &m->vi[0];
  m->outs[0] = &m->vi[1];
  m->graph.n_input = 1;
  m->graph.input = m->ins;
  m->graph.n_output = 1;
  m->graph.output = m->outs;

  m->graph.initializer = m->inits;
  int64_t wd[4] = { 2, 3, 1, 1 }, bd[1] = { 2 };
  for (int i = 0; i < 6; i++)
    m->w[i] = 0.25f * (float) (i + 1) - 1.0f;
  m->b[0] = 1.5f;
  m->b[1] = -7.0f;
  Onnx__TensorProto *w = set_init (m, 0, "w", 4, wd);
  w->has_raw_data = 1;
  w->raw_data.len = sizeof m->w;
  w->raw_data.data = (uint8_t *) m->w; /* little-endian host */
  Onnx__TensorProto *b = set_init (m, 1, "b", 1, bd);
  b->n_float_data = 2;
  b->float_data = m->b;

  m->graph.node = m->nodes;
  set_node (m, 0, "conv", "Conv", 3, (const char *[]){ "x", "w", "b" }, 1, (const char *[]){ "c" });
  Onnx__AttributeProto *a = add_attr (m, 0, "kernel_shape", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  m->ones[0] = m->ones[1] = 1;
  a->n_ints = 2;
  a->ints = m->ones;
  a = add_attr (m, 0, "group", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  a->has_i = 1;
  a->i = 1;
  a = add_attr (m, 0, "alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = 1;
  a->f = 0.5f;
  a = add_attr (m, 0, "auto_pad", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  a->has_s = 1;
  a->s.data = (uint8_t *) "NOTSET";
  a->s.len = 6;

  set_node (m, 1, "k", "Constant", 0, NULL, 1, (const char *[]){ "k" });
  a = add_attr (m, 1, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
  onnx__tensor_proto__init (&m->ktensor);
  m->ktensor.has_data_type = 1;
  m->ktensor.data_type = 7;
  m->k_dims[0] = 2;
  m->ktensor.n_dims = 1;
  m->ktensor.dims = m->k_dims;
  m->k_data[0] = 1;
  m->k_data[1] = 2;
  m->ktensor.n_int64_data = 2;
  m->ktensor.int64_data = m->k_data;
  a->t = &m->ktensor;

  set_node (m, 2, "add", "Add", 2, (const char *[]){ "c", "k" }, 1, (const char *[]){ "y" });
  set_node (m, 3, "clip", "Clip", 3, (const char *[]){ "y", "", "" }, 1, (const char *[]){ "z" });
}

static uint8_t *pack_model (const Model *m, size_t *n)
{
  *n = onnx__model_proto__get_packed_size (&m->model);
  uint8_t *buf = malloc (*n ? *n : 1);
  onnx__model_proto__pack (&m->model, buf);
  return buf;
}

static ImpGraph *load_model (const Model *m, const char *model_dir, ImpastoError *err)
{
  size_t n;
  uint8_t *buf = pack_model (m, &n);
  ImpGraph *g = imp_onnx_load_bytes (buf, n, model_dir, err);
  free (buf);
  return g;
}

static void test_base_model (void)
{
  Model m;
  build_base (&m);
  ImpastoError err;
  ImpGraph *g = load_model (&m, NULL, &err);
  CHECK (g != NULL, "base model: %s", err.message);
  if (!g)
    return;
  CHECK (g->n_nodes == 4 && g->n_inputs == 1 && g->n_outputs == 1 && g->n_values == 7,
         "base: %d nodes %d inputs %d outputs %d values", g->n_nodes, g->n_inputs, g->n_outputs,
         g->n_values);
  CHECK (g->opset == 13 && g->ir_version == 8, "base: opset %lld ir %lld", (long long) g->opset,
         (long long) g->ir_version);
  CHECK (strcmp (g->producer, "impasto-test 1") == 0, "base: producer '%s'", g->producer);
  CHECK (g->n_meta == 1 && strcmp (g->meta[0].key, "style") == 0
         && strcmp (g->meta[0].value, "test") == 0, "base: metadata");
  int x = find_value (g, "x"), w = find_value (g, "w"), b = find_value (g, "b");
  int z = find_value (g, "z"), k = find_value (g, "k");
  CHECK (x >= 0 && g->inputs[0] == x && g->values[x].is_input && !g->values[x].is_const
         && g->values[x].producer == -1, "base: input x");
  int64_t xd[4] = { 1, 3, -1, 5 }, zd[4] = { 1, 2, -1, -1 }, wd[4] = { 2, 3, 1, 1 };
  CHECK (x >= 0 && dims_equal (&g->values[x].t, xd, 4) && g->values[x].t.dtype == IMP_DT_FLOAT,
         "base: x dims");
  CHECK (z >= 0 && g->outputs[0] == z && g->values[z].producer == 3
         && dims_equal (&g->values[z].t, zd, 4), "base: output z");
  CHECK (w >= 0 && g->values[w].is_const && dims_equal (&g->values[w].t, wd, 4)
         && memcmp (g->values[w].t.data, m.w, sizeof m.w) == 0, "base: w from raw_data");
  CHECK (b >= 0 && g->values[b].is_const && g->values[b].t.rank == 1
         && ((float *) g->values[b].t.data)[0] == 1.5f
         && ((float *) g->values[b].t.data)[1] == -7.0f, "base: b from float_data");
  CHECK (k >= 0 && g->values[k].producer == 1 && !g->values[k].is_const, "base: k");
  const ImpNode *conv = &g->nodes[0], *clip = &g->nodes[3];
  CHECK (conv->n_inputs == 3 && conv->inputs[0] == x && conv->inputs[1] == w
         && conv->inputs[2] == b, "base: conv inputs");
  CHECK (clip->n_inputs == 3 && clip->inputs[1] == -1 && clip->inputs[2] == -1,
         "base: omitted optional inputs are -1");
  const ImpAttr *a = imp_node_attr (conv, "kernel_shape");
  CHECK (a && a->type == IMP_ATTR_INTS && a->n == 2 && a->ints[0] == 1 && a->ints[1] == 1,
         "base: INTS attr");
  a = imp_node_attr (conv, "group");
  CHECK (a && a->type == IMP_ATTR_INT && a->i == 1, "base: INT attr");
  a = imp_node_attr (conv, "alpha");
  CHECK (a && a->type == IMP_ATTR_FLOAT && a->f == 0.5f, "base: FLOAT attr");
  a = imp_node_attr (conv, "auto_pad");
  CHECK (a && a->type == IMP_ATTR_STRING && strcmp (a->s, "NOTSET") == 0, "base: STRING attr");
  CHECK (imp_node_attr (conv, "nope") == NULL, "base: absent attr is NULL");
  a = imp_node_attr (&g->nodes[1], "value");
  CHECK (a && a->type == IMP_ATTR_TENSOR && a->t.dtype == IMP_DT_INT64 && a->t.rank == 1
         && a->t.dims[0] == 2 && ((int64_t *) a->t.data)[0] == 1
         && ((int64_t *) a->t.data)[1] == 2, "base: TENSOR attr from int64_data");
  CHECK (strcmp (g->nodes[0].domain, "") == 0 && strcmp (g->path, "") == 0, "base: domain, path");

  int order[4];
  CHECK (imp_graph_topo_order (g, order, &err) == IMPASTO_OK && order_is_topological (g, order),
         "base: topo order");
  ImpTensor t = { .rank = 2, .dims = { 3, 4 } };
  CHECK (imp_tensor_count (&t) == 12, "tensor_count 3x4");
  t.dims[1] = -1;
  CHECK (imp_tensor_count (&t) == 0, "tensor_count unknown dim");
  t.rank = 0;
  CHECK (imp_tensor_count (&t) == 1, "tensor_count scalar");
  t.rank = 2;
  t.dims[0] = INT64_MAX;
  t.dims[1] = INT64_MAX;
  CHECK (imp_tensor_count (&t) == 0, "tensor_count overflow");
  imp_graph_free (g);

  /* file order not topological: consumer before producer still loads */
  build_base (&m);
  Onnx__NodeProto *tmp = m.nodes[0];
  m.nodes[0] = m.nodes[3];
  m.nodes[3] = tmp;
  g = load_model (&m, NULL, &err);
  CHECK (g && imp_graph_topo_order (g, order, &err) == IMPASTO_OK
         && order_is_topological (g, order) && order[3] == 0, "reordered nodes: %s", err.message);
  imp_graph_free (g);
}

static void test_bad_bytes (const char *tmp)
{
  ImpastoError err;
  char path[4096];
  EXPECT_ERROR ("empty bytes", imp_onnx_load_bytes ((const uint8_t *) "", 0, NULL, &err), &err,
                IMPASTO_E_FORMAT, "not an ONNX model");
  snprintf (path, sizeof path, "%s/empty.onnx", tmp);
  write_file (path, "", 0);
  ImpGraph *g = imp_onnx_load (path, &err);
  EXPECT_ERROR ("empty file", g, &err, IMPASTO_E_FORMAT, "empty.onnx: not an ONNX model");

  /* random bytes, several seeds */
  uint64_t s = 0x9E3779B97F4A7C15ull;
  for (int trial = 0; trial < 20; trial++) {
    uint8_t buf[4096];
    for (size_t i = 0; i < sizeof buf; i++) {
      s ^= s << 13; s ^= s >> 7; s ^= s << 17;
      buf[i] = (uint8_t) s;
    }
    g = imp_onnx_load_bytes (buf, sizeof buf, NULL, &err);
    EXPECT_ERROR ("random bytes", g, &err, IMPASTO_E_FORMAT, "not an ONNX model");
  }

  /* every prefix of a valid model: no crash, never an OK code with NULL */
  Model m;
  build_base (&m);
  size_t n;
  uint8_t *full = pack_model (&m, &n);
  int n_parse_fail = 0, n_inconsistent = 0;
  for (size_t len = 0; len < n; len++) {
    uint8_t *prefix = malloc (len ? len : 1); /* exact size: ASan sees any overread */
    memcpy (prefix, full, len);
    g = imp_onnx_load_bytes (prefix, len, NULL, &err);
    if (!g && strstr (err.message, "protobuf parse failed") && err.code == IMPASTO_E_FORMAT)
      n_parse_fail++;
    if (!g && (err.code == IMPASTO_OK || !err.message[0]))
      n_inconsistent++;
    imp_graph_free (g);
    free (prefix);
  }
  CHECK (n_inconsistent == 0, "prefixes: %d failures without an error", n_inconsistent);
  CHECK (n_parse_fail > (int) n / 2, "prefixes: only %d of %zu are parse failures", n_parse_fail,
         n);
  g = imp_onnx_load_bytes (full, n - 1, NULL, &err);
  EXPECT_ERROR ("prefix n-1", g, &err, IMPASTO_E_FORMAT, "not an ONNX model (protobuf parse failed)");
  g = imp_onnx_load_bytes (full, n / 2, NULL, &err);
  EXPECT_ERROR ("prefix n/2", g, &err, IMPASTO_E_FORMAT, "not an ONNX model");

  /* random byte changes of a valid model: an error with a message, or a consistent graph */
  int n_mutants_bad = 0, n_mutants_loaded = 0;
  for (int trial = 0; trial < 5000; trial++) {
    uint8_t *mut = malloc (n);
    memcpy (mut, full, n);
    int changes = 1 + trial % 4;
    for (int c = 0; c < changes; c++) {
      s ^= s << 13; s ^= s >> 7; s ^= s << 17;
      mut[(s >> 8) % n] = (uint8_t) s;
    }
    g = imp_onnx_load_bytes (mut, n, NULL, &err);
    if (g)
      n_mutants_loaded++;
    if (g ? err.code != IMPASTO_OK || !graph_consistent (g) : err.code == IMPASTO_OK
                                                             || !err.message[0])
      n_mutants_bad++;
    imp_graph_free (g);
    free (mut);
  }
  CHECK (n_mutants_bad == 0, "mutated models: %d inconsistent results (%d loaded)", n_mutants_bad,
         n_mutants_loaded);

  /* a truncated file on disk */
  snprintf (path, sizeof path, "%s/truncated.onnx", tmp);
  write_file (path, full, n - 3);
  EXPECT_ERROR ("truncated file", imp_onnx_load (path, &err), &err, IMPASTO_E_FORMAT,
                "truncated.onnx: not an ONNX model");
  /* and the whole model from a file loads, remembering its path */
  snprintf (path, sizeof path, "%s/good.onnx", tmp);
  write_file (path, full, n);
  g = imp_onnx_load (path, &err);
  CHECK (g && strcmp (g->path, path) == 0 && g->n_nodes == 4, "good file: %s", err.message);
  imp_graph_free (g);
  free (full);

  /* a protobuf with no graph */
  Onnx__ModelProto empty = ONNX__MODEL_PROTO__INIT;
  empty.has_ir_version = 1;
  empty.ir_version = 8;
  uint8_t nog[64];
  size_t nn = onnx__model_proto__pack (&empty, nog);
  EXPECT_ERROR ("no graph", imp_onnx_load_bytes (nog, nn, NULL, &err), &err, IMPASTO_E_FORMAT,
                "no graph");
}

/* A load that blocks (opening a FIFO waits for a writer) must fail the test, not hang the suite:
 * fifo_guard arms an alarm whose handler reports the hang and exits. */
static const char *fifo_guarded;

static void fifo_hang (int sig)
{
  (void) sig;
  static const char msg[] = "FAIL: loading a FIFO blocked (opened without O_NONBLOCK?): ";
  ssize_t w = write (STDOUT_FILENO, msg, sizeof msg - 1);
  w = write (STDOUT_FILENO, fifo_guarded, strlen (fifo_guarded));
  w = write (STDOUT_FILENO, "\n", 1);
  (void) w;
  _exit (1);
}

static void fifo_guard (const char *what)
{
  fifo_guarded = what;
  signal (SIGALRM, what ? fifo_hang : SIG_DFL);
  alarm (what ? 10 : 0);
}

static void test_files (const char *tmp)
{
  ImpastoError err;
  char path[4096], want[4200];
  snprintf (path, sizeof path, "%s/does-not-exist.onnx", tmp);
  snprintf (want, sizeof want, "%s: cannot open: %s", path, strerror (ENOENT));
  EXPECT_ERROR ("missing file", imp_onnx_load (path, &err), &err, IMPASTO_E_IO, want);
  snprintf (want, sizeof want, "%s: cannot read: %s", tmp, strerror (EISDIR));
  EXPECT_ERROR ("directory", imp_onnx_load (tmp, &err), &err, IMPASTO_E_IO, want);
  EXPECT_ERROR ("NULL path", imp_onnx_load (NULL, &err), &err, IMPASTO_E_ARGUMENT, "no path");
  EXPECT_ERROR ("device", imp_onnx_load ("/dev/null", &err), &err, IMPASTO_E_IO,
                "/dev/null: not a regular file");
  snprintf (path, sizeof path, "%s/fifo.onnx", tmp);
  CHECK (mkfifo (path, 0644) == 0, "mkfifo %s: %s", path, strerror (errno));
  snprintf (want, sizeof want, "%s: not a regular file", path);
  fifo_guard ("model file");
  EXPECT_ERROR ("FIFO", imp_onnx_load (path, &err), &err, IMPASTO_E_IO, want);
  fifo_guard (NULL);
  unlink (path);

  /* just over the size limit: a sparse file, refused before reading */
  snprintf (path, sizeof path, "%s/huge.onnx", tmp);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  bool made = fd >= 0 && ftruncate (fd, (off_t) IMP_MAX_FILE_BYTES + 1) == 0;
  if (fd >= 0)
    close (fd);
  if (made)
    EXPECT_ERROR ("huge file", imp_onnx_load (path, &err), &err, IMPASTO_E_FORMAT,
                  "more than the 2 GiB");
  unlink (path);
}

static void test_tensors (void)
{
  ImpastoError err;
  Model m;
  uint8_t short_raw[20] = { 0 };

  build_base (&m);
  m.init[0].raw_data.len = 20; /* dims [2,3,1,1] need 24 */
  m.init[0].raw_data.data = short_raw;
  EXPECT_ERROR ("short raw_data", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "initializer 'w': raw_data has 20 bytes but dims [2,3,1,1] of FLOAT need 24");

  build_base (&m);
  m.init[1].n_float_data = 1;
  EXPECT_ERROR ("short float_data", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "initializer 'b': float_data has 1 elements but dims [2] need 2");

  build_base (&m);
  m.init_dims[0][0] = (int64_t) 1 << 40;
  m.init_dims[0][1] = (int64_t) 1 << 40;
  EXPECT_ERROR ("absurd dims", load_model (&m, NULL, &err), &err, IMPASTO_E_SHAPE,
                "initializer 'w' has absurd dims [1099511627776,1099511627776,1,1]");

  build_base (&m);
  m.init_dims[0][0] = (int64_t) 1 << 20;
  m.init_dims[0][1] = (int64_t) 1 << 20; /* 2^40 elements: no overflow, over the limit */
  EXPECT_ERROR ("too many elements", load_model (&m, NULL, &err), &err, IMPASTO_E_SHAPE,
                "absurd dims");

  build_base (&m);
  m.init_dims[0][1] = -3;
  EXPECT_ERROR ("negative dims", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "initializer 'w' has a negative dimension: dims [2,-3,1,1]");

  build_base (&m);
  m.init[0].n_dims = 9;
  EXPECT_ERROR ("rank 9", load_model (&m, NULL, &err), &err, IMPASTO_E_UNSUPPORTED,
                "initializer 'w' has rank 9");

  build_base (&m);
  m.k_dims[0] = 3;
  EXPECT_ERROR ("Constant tensor short", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "node 'k' (Constant) attribute 'value': int64_data has 2 elements but dims [3]");

  build_base (&m);
  m.init[0].data_type = 8;
  EXPECT_ERROR ("string tensor", load_model (&m, NULL, &err), &err, IMPASTO_E_UNSUPPORTED,
                "initializer 'w' has data type STRING");
  m.init[0].data_type = 14;
  EXPECT_ERROR ("complex tensor", load_model (&m, NULL, &err), &err, IMPASTO_E_UNSUPPORTED,
                "initializer 'w' has data type COMPLEX64");
  m.init[0].data_type = 99;
  EXPECT_ERROR ("unknown type", load_model (&m, NULL, &err), &err, IMPASTO_E_UNSUPPORTED,
                "data type type 99");
  m.init[0].has_data_type = 0;
  EXPECT_ERROR ("no type", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT, "has no data type");

  /* FLOAT16 from raw_data and from int32_data: IEEE half bit patterns */
  static const uint16_t halves[6] = { 0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3800, 0x8000 };
  static const float expect[6] = { 1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f, 0.5f, -0.0f };
  for (int variant = 0; variant < 2; variant++) {
    build_base (&m);
    int32_t as_int32[6];
    m.init[0].data_type = 10;
    if (variant == 0) {
      m.init[0].raw_data.len = sizeof halves;
      m.init[0].raw_data.data = (uint8_t *) halves;
    } else {
      for (int i = 0; i < 6; i++)
        as_int32[i] = halves[i];
      m.init[0].has_raw_data = 0;
      m.init[0].raw_data.len = 0;
      m.init[0].n_int32_data = 6;
      m.init[0].int32_data = as_int32;
    }
    ImpGraph *g = load_model (&m, NULL, &err);
    int w = g ? find_value (g, "w") : -1;
    bool ok = w >= 0 && g->values[w].t.dtype == IMP_DT_FLOAT;
    for (int i = 0; ok && i < 6; i++) {
      float f = ((float *) g->values[w].t.data)[i];
      ok = f == expect[i] && !signbit (f) == !signbit (expect[i]);
    }
    CHECK (ok, "float16 %s converts exactly: %s", variant ? "int32_data" : "raw_data",
           err.message);
    imp_graph_free (g);
  }
  /* FLOAT16 inf / nan, BFLOAT16, DOUBLE */
  {
    build_base (&m);
    static const uint16_t special[6] = { 0x7C00, 0xFC00, 0x7E00, 0x3555, 0x0400, 0x03FF };
    m.init[0].data_type = 10;
    m.init[0].raw_data.len = sizeof special;
    m.init[0].raw_data.data = (uint8_t *) special;
    ImpGraph *g = load_model (&m, NULL, &err);
    const float *f = g ? g->values[find_value (g, "w")].t.data : NULL;
    CHECK (f && isinf (f[0]) && f[0] > 0 && isinf (f[1]) && f[1] < 0 && isnan (f[2])
           && f[3] == 0.333251953125f && f[4] == 6.103515625e-05f
           && f[5] == 6.097555160522461e-05f, "float16 specials");
    imp_graph_free (g);

    build_base (&m);
    static const uint16_t bf[6] = { 0x3F80, 0xC040, 0x0000, 0x4120, 0x7F80, 0xBF00 };
    m.init[0].data_type = 16;
    m.init[0].raw_data.len = sizeof bf;
    m.init[0].raw_data.data = (uint8_t *) bf;
    g = load_model (&m, NULL, &err);
    f = g ? g->values[find_value (g, "w")].t.data : NULL;
    CHECK (f && f[0] == 1.0f && f[1] == -3.0f && f[2] == 0.0f && f[3] == 10.0f && isinf (f[4])
           && f[5] == -0.5f, "bfloat16");
    imp_graph_free (g);

    build_base (&m);
    double dd[6] = { 1.5, -2.25, 1e300, -1e300, 1e-3, 0.0 };
    m.init[0].data_type = 11;
    m.init[0].raw_data.len = sizeof dd;
    m.init[0].raw_data.data = (uint8_t *) dd;
    g = load_model (&m, NULL, &err);
    f = g ? g->values[find_value (g, "w")].t.data : NULL;
    CHECK (f && f[0] == 1.5f && f[1] == -2.25f && isinf (f[2]) && f[2] > 0 && isinf (f[3])
           && f[3] < 0 && f[4] == (float) 1e-3, "double raw_data");
    imp_graph_free (g);
    build_base (&m);
    m.init[1].data_type = 11;
    m.init[1].n_float_data = 0;
    double db[2] = { 0.125, -4.0 };
    m.init[1].n_double_data = 2;
    m.init[1].double_data = db;
    g = load_model (&m, NULL, &err);
    f = g ? g->values[find_value (g, "b")].t.data : NULL;
    CHECK (f && f[0] == 0.125f && f[1] == -4.0f, "double_data");
    imp_graph_free (g);
  }
  /* integer types to INT64 */
  {
    struct { int code; const void *raw; size_t len; int64_t want[6]; } cases[] = {
      { 6, (const int32_t[]){ -1, 2, INT32_MIN, INT32_MAX, 0, 7 }, 24,
        { -1, 2, INT32_MIN, INT32_MAX, 0, 7 } },
      { 3, (const int8_t[]){ -1, 2, -128, 127, 0, 7 }, 6, { -1, 2, -128, 127, 0, 7 } },
      { 2, (const uint8_t[]){ 255, 2, 128, 127, 0, 7 }, 6, { 255, 2, 128, 127, 0, 7 } },
      { 5, (const int16_t[]){ -1, 2, -32768, 32767, 0, 7 }, 12, { -1, 2, -32768, 32767, 0, 7 } },
      { 4, (const uint16_t[]){ 65535, 2, 0, 1, 0, 7 }, 12, { 65535, 2, 0, 1, 0, 7 } },
      { 12, (const uint32_t[]){ 4294967295u, 2, 0, 1, 0, 7 }, 24, { 4294967295ll, 2, 0, 1, 0, 7 } },
      { 9, (const uint8_t[]){ 1, 0, 2, 1, 0, 0 }, 6, { 1, 0, 1, 1, 0, 0 } },
      { 7, (const int64_t[]){ INT64_MIN, INT64_MAX, -5, 0, 1, 2 }, 48,
        { INT64_MIN, INT64_MAX, -5, 0, 1, 2 } },
      { 13, (const uint64_t[]){ 0, 1, 2, INT64_MAX, 4, 5 }, 48, { 0, 1, 2, INT64_MAX, 4, 5 } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      build_base (&m);
      m.init[0].data_type = cases[c].code;
      m.init[0].raw_data.len = cases[c].len;
      m.init[0].raw_data.data = (uint8_t *) cases[c].raw;
      ImpGraph *g = load_model (&m, NULL, &err);
      int w = g ? find_value (g, "w") : -1;
      bool ok = w >= 0 && g->values[w].t.dtype == IMP_DT_INT64
                && memcmp (g->values[w].t.data, cases[c].want, sizeof cases[c].want) == 0;
      CHECK (ok, "raw type %d to int64: %s", cases[c].code, err.message);
      imp_graph_free (g);
    }
    build_base (&m);
    int32_t i8[6] = { -1, 255, 3, -128, 127, 0 }; /* INT8 in int32_data */
    m.init[0].data_type = 3;
    m.init[0].has_raw_data = 0;
    m.init[0].raw_data.len = 0;
    m.init[0].n_int32_data = 6;
    m.init[0].int32_data = i8;
    ImpGraph *g = load_model (&m, NULL, &err);
    const int64_t *v = g ? g->values[find_value (g, "w")].t.data : NULL;
    CHECK (v && v[0] == -1 && v[1] == -1 && v[2] == 3 && v[3] == -128 && v[4] == 127,
           "int8 from int32_data");
    imp_graph_free (g);

    build_base (&m);
    const uint64_t big[6] = { 0, 1, 2, (uint64_t) INT64_MAX + 1, 4, 5 };
    m.init[0].data_type = 13;
    m.init[0].raw_data.len = sizeof big;
    m.init[0].raw_data.data = (uint8_t *) big;
    EXPECT_ERROR ("uint64 too big", load_model (&m, NULL, &err), &err, IMPASTO_E_UNSUPPORTED,
                  "UINT64 value 9223372036854775808 does not fit");
  }
}

static void test_names (void)
{
  ImpastoError err;
  Model m;

  build_base (&m);
  m.node_out[2][0] = "c"; /* Add also outputs "c", already Conv's output */
  EXPECT_ERROR ("two producers", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "value 'c' is defined twice (output of node 'add' (Add) and output of node "
                "'conv' (Conv))");

  build_base (&m);
  m.node_out[0][0] = "w";
  EXPECT_ERROR ("output = initializer", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "value 'w' is defined twice (output of node 'conv' (Conv) and an initializer)");

  build_base (&m);
  m.node_out[1][0] = "x";
  EXPECT_ERROR ("output = graph input", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "value 'x' is defined twice");

  build_base (&m);
  m.init[1].name = "w";
  EXPECT_ERROR ("two initializers", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "value 'w' is defined twice (an initializer and an initializer)");

  build_base (&m);
  m.node[0].name = "";
  m.node_out[2][0] = "c";
  EXPECT_ERROR ("unnamed producer", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "value 'c' is defined twice (output of node 'add' (Add) and output of node #0 "
                "(Conv))");

  build_base (&m);
  Onnx__ValueInfoProto *xx[2] = { &m.vi[0], &m.vi[0] };
  m.graph.input = xx;
  m.graph.n_input = 2;
  EXPECT_ERROR ("input twice", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "value 'x' is defined twice (a graph input and a graph input)");

  build_base (&m);
  m.node[2].name = "";
  m.node_in[2][1] = "nope";
  EXPECT_ERROR ("undefined input, unnamed node", load_model (&m, NULL, &err), &err,
                IMPASTO_E_FORMAT, "node #2 (Add) input 'nope' is not defined");

  build_base (&m);
  m.init[1].name = "";
  EXPECT_ERROR ("unnamed initializer", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "initializer #1 has no name");

  build_base (&m);
  m.node_in[2][1] = "nope";
  EXPECT_ERROR ("undefined input", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "node 'add' (Add) input 'nope' is not defined");

  build_base (&m);
  m.vi[1].name = "q";
  EXPECT_ERROR ("undefined output", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "graph output 'q' is not defined");

  build_base (&m);
  m.node[0].op_type = "";
  EXPECT_ERROR ("no op_type", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "node #0 ('conv') has no op_type");

  build_base (&m);
  m.attr[0][1].name = "kernel_shape";
  EXPECT_ERROR ("duplicate attribute", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "node 'conv' (Conv) has attribute 'kernel_shape' twice");

  build_base (&m);
  m.ttype[0].elem_type = 8;
  EXPECT_ERROR ("string input", load_model (&m, NULL, &err), &err, IMPASTO_E_UNSUPPORTED,
                "graph input 'x' has data type STRING");

  build_base (&m);
  m.dim[0][3].dim_value = -2;
  EXPECT_ERROR ("negative declared dim", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "graph input 'x' has a negative dimension -2");

  /* a graph input that is also an initializer is a constant, not a runtime input */
  build_base (&m);
  Onnx__ValueInfoProto wi = ONNX__VALUE_INFO_PROTO__INIT;
  wi.name = "w";
  Onnx__ValueInfoProto *two[2] = { &m.vi[0], &wi };
  m.graph.input = two;
  m.graph.n_input = 2;
  ImpGraph *g = load_model (&m, NULL, &err);
  int w = g ? find_value (g, "w") : -1;
  CHECK (g && g->n_inputs == 1 && w >= 0 && g->values[w].is_const && !g->values[w].is_input,
         "input that is an initializer: %s", err.message);
  imp_graph_free (g);

  /* opset from "ai.onnx", foreign domains kept, an unknown dim (no value, no param) is -1 */
  build_base (&m);
  m.opset[0].domain = "ai.onnx";
  m.opset[0].version = 11;
  onnx__operator_set_id_proto__init (&m.opset[1]);
  m.opset[1].domain = "com.microsoft";
  m.opset[1].has_version = 1;
  m.opset[1].version = 1;
  m.opsets[1] = &m.opset[1];
  m.model.n_opset_import = 2;
  m.node[2].domain = "com.microsoft";
  m.node[3].domain = "ai.onnx";
  m.dim[0][0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE__NOT_SET;
  g = load_model (&m, NULL, &err);
  CHECK (g && g->opset == 11 && strcmp (g->nodes[2].domain, "com.microsoft") == 0
         && strcmp (g->nodes[3].domain, "") == 0 && g->values[g->inputs[0]].t.dims[0] == -1,
         "domains and opset: %s", err.message);
  imp_graph_free (g);

  /* attributes we do not interpret are kept by name: GRAPH, STRINGS */
  build_base (&m);
  Onnx__GraphProto sub = ONNX__GRAPH_PROTO__INIT;
  Onnx__AttributeProto *a = add_attr (&m, 3, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
  a->g = &sub;
  a = add_attr (&m, 3, "names", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
  ProtobufCBinaryData strs[1] = { { 1, (uint8_t *) "a" } };
  a->n_strings = 1;
  a->strings = strs;
  g = load_model (&m, NULL, &err);
  const ImpAttr *ta = g ? imp_node_attr (&g->nodes[3], "then_branch") : NULL;
  const ImpAttr *na = g ? imp_node_attr (&g->nodes[3], "names") : NULL;
  CHECK (ta && ta->type == IMP_ATTR_OTHER && na && na->type == IMP_ATTR_OTHER,
         "other attributes kept by name: %s", err.message);
  imp_graph_free (g);
}

/* Wire-format helpers for inputs protobuf-c's own (recursive) packer cannot build. */
static size_t put_varint (uint8_t *p, uint64_t v)
{
  size_t n = 0;
  do {
    p[n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return n;
}

static void test_limits (void)
{
  ImpastoError err;
  /* 100000 levels of Graph { node: Node { attribute: Attribute { g: Graph { ... } } } }, built
   * backwards from the innermost message: would overflow the stack of a recursive parser. */
  const int levels = 100000;
  size_t cap = (size_t) levels * 3 * 6 + 64;
  uint8_t *buf = malloc (cap);
  size_t start = cap, len = 0;
  static const uint8_t fields[3] = { 6 << 3 | 2, 5 << 3 | 2, 1 << 3 | 2 }; /* Attr.g, Node.attribute,
                                                                             Graph.node */
  for (int i = 0; i < levels * 3; i++) {
    uint8_t hdr[11];
    hdr[0] = fields[i % 3];
    size_t h = 1 + put_varint (hdr + 1, len);
    start -= h;
    memcpy (buf + start, hdr, h);
    len += h;
  }
  uint8_t hdr[11];
  hdr[0] = 7 << 3 | 2; /* Model.graph */
  size_t h = 1 + put_varint (hdr + 1, len);
  start -= h;
  memcpy (buf + start, hdr, h);
  len += h;
  EXPECT_ERROR ("deep nesting", imp_onnx_load_bytes (buf + start, len, NULL, &err), &err,
                IMPASTO_E_FORMAT, "nested more than");
  free (buf);

  /* 4 million empty nodes: 8 MB on the wire, several hundred MB unpacked: over the budget */
  size_t n_empty = (size_t) 4 << 20;
  size_t glen = 2 * n_empty;
  buf = malloc (glen + 16);
  buf[0] = 7 << 3 | 2; /* Model.graph */
  h = 1 + put_varint (buf + 1, glen);
  for (size_t i = 0; i < n_empty; i++) {
    buf[h + 2 * i] = 1 << 3 | 2; /* Graph.node, length 0 */
    buf[h + 2 * i + 1] = 0;
  }
  EXPECT_ERROR ("millions of empty messages", imp_onnx_load_bytes (buf, h + glen, NULL, &err), &err,
                IMPASTO_E_NOMEM, "unpacking the protobuf needs more than 96 MiB");
  free (buf);

  /* more nodes than IMP_MAX_NODES */
  Model m;
  build_base (&m);
  size_t nn = IMP_MAX_NODES + 1;
  Onnx__NodeProto *many = malloc (nn * sizeof *many);
  Onnx__NodeProto **ptrs = malloc (nn * sizeof *ptrs);
  for (size_t i = 0; i < nn; i++) {
    onnx__node_proto__init (&many[i]);
    many[i].op_type = "Relu";
    ptrs[i] = &many[i];
  }
  m.graph.node = ptrs;
  m.graph.n_node = nn;
  EXPECT_ERROR ("too many nodes", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "100001 nodes (limit 100000)");
  free (many);
  free (ptrs);
}

static void set_external (Model *m, const char *location, const char *offset, const char *length)
{
  Onnx__TensorProto *t = &m->init[0];
  t->has_raw_data = 0;
  t->raw_data.len = 0;
  t->raw_data.data = NULL;
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  const char *keys[3] = { "location", "offset", "length" };
  const char *vals[3] = { location, offset, length };
  t->n_external_data = 0;
  t->external_data = m->exts;
  for (int i = 0; i < 3; i++) {
    if (!vals[i])
      continue;
    Onnx__StringStringEntryProto *e = &m->ext[t->n_external_data];
    onnx__string_string_entry_proto__init (e);
    e->key = (char *) keys[i];
    e->value = (char *) vals[i];
    m->exts[t->n_external_data++] = e;
  }
}

/* Writes the model into dir/name and loads it from there. */
static ImpGraph *load_from_dir (const Model *m, const char *dir, ImpastoError *err)
{
  char path[4200];
  snprintf (path, sizeof path, "%s/model.onnx", dir);
  size_t n;
  uint8_t *buf = pack_model (m, &n);
  write_file (path, buf, n);
  free (buf);
  return imp_onnx_load (path, err);
}

static void test_external (const char *tmp)
{
  ImpastoError err;
  Model m;
  char dir[4096], path[4200], outside[4200];
  snprintf (dir, sizeof dir, "%s/model", tmp);
  mkdir (dir, 0755);
  snprintf (path, sizeof path, "%s/sub", dir);
  mkdir (path, 0755);

  /* weights.bin: 16 bytes of junk, then w's 6 floats */
  build_base (&m);
  uint8_t blob[16 + sizeof m.w];
  memset (blob, 0xAB, 16);
  memcpy (blob + 16, m.w, sizeof m.w);
  snprintf (path, sizeof path, "%s/weights.bin", dir);
  write_file (path, blob, sizeof blob);
  snprintf (path, sizeof path, "%s/sub/w.bin", dir);
  write_file (path, m.w, sizeof m.w);
  snprintf (outside, sizeof outside, "%s/outside.bin", tmp);
  write_file (outside, m.w, sizeof m.w);
  snprintf (path, sizeof path, "%s/escape.bin", dir);
  unlink (path);
  CHECK (symlink (outside, path) == 0, "symlink: %s", strerror (errno));
  snprintf (path, sizeof path, "%s/inside-link.bin", dir);
  unlink (path);
  CHECK (symlink ("sub/w.bin", path) == 0, "symlink: %s", strerror (errno));
  snprintf (path, sizeof path, "%s/fifo.bin", dir);
  CHECK (mkfifo (path, 0644) == 0, "mkfifo %s: %s", path, strerror (errno));

  struct { const char *loc, *off, *len; } good[] = {
    { "weights.bin", "16", "24" }, { "weights.bin", "16", NULL }, { "sub/w.bin", NULL, NULL },
    { "./sub/w.bin", "0", "24" }, { "inside-link.bin", NULL, "24" },
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    build_base (&m);
    set_external (&m, good[i].loc, good[i].off, good[i].len);
    ImpGraph *g = load_from_dir (&m, dir, &err);
    int w = g ? find_value (g, "w") : -1;
    CHECK (w >= 0 && memcmp (g->values[w].t.data, m.w, sizeof m.w) == 0,
           "external data %s offset %s length %s: %s", good[i].loc, good[i].off, good[i].len,
           err.message);
    imp_graph_free (g);
  }

  struct { const char *loc, *off, *len; ImpastoStatus code; const char *msg; } bad[] = {
    { "../outside.bin", NULL, NULL, IMPASTO_E_FORMAT,
      "initializer 'w': external data file '../outside.bin' is outside the model's folder" },
    { "sub/../../outside.bin", NULL, NULL, IMPASTO_E_FORMAT, "outside the model's folder" },
    { "sub/../weights.bin", "16", NULL, IMPASTO_E_FORMAT, "outside the model's folder" },
    { "/etc/passwd", NULL, NULL, IMPASTO_E_FORMAT,
      "external data file '/etc/passwd' is outside the model's folder" },
    { "escape.bin", NULL, NULL, IMPASTO_E_FORMAT,
      "external data file 'escape.bin' is outside the model's folder (resolves to" },
    { "missing.bin", NULL, NULL, IMPASTO_E_IO, "missing.bin" },
    { "sub", NULL, NULL, IMPASTO_E_FORMAT, "is not a regular file" },
    { "fifo.bin", NULL, NULL, IMPASTO_E_FORMAT, "external data file 'fifo.bin' is not a regular file" },
    { "", NULL, NULL, IMPASTO_E_FORMAT, "external data without a location" },
    { "weights.bin", "100", NULL, IMPASTO_E_FORMAT, "offset 100 is beyond the end" },
    { "weights.bin", "16", "100", IMPASTO_E_FORMAT, "offset 16 + length 100 is beyond the end" },
    { "weights.bin", "8", "32", IMPASTO_E_FORMAT, "external data has 32 bytes but" },
    { "weights.bin", NULL, NULL, IMPASTO_E_FORMAT, "external data has 40 bytes but" },
    { "weights.bin", "-1", NULL, IMPASTO_E_FORMAT, "offset '-1' / length '' invalid" },
    { "weights.bin", "99999999999999999999999", NULL, IMPASTO_E_FORMAT, "invalid" },
  };
  fifo_guard ("external data");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    build_base (&m);
    set_external (&m, bad[i].loc, bad[i].off, bad[i].len);
    EXPECT_ERROR (bad[i].loc, load_from_dir (&m, dir, &err), &err, bad[i].code, bad[i].msg);
  }
  fifo_guard (NULL);

  /* from memory there is no folder: refused */
  build_base (&m);
  set_external (&m, "weights.bin", "16", "24");
  EXPECT_ERROR ("external from memory", load_model (&m, NULL, &err), &err, IMPASTO_E_FORMAT,
                "external data is not allowed when loading a model from memory");
  /* ... unless a folder is given */
  ImpGraph *g = load_model (&m, dir, &err);
  CHECK (g != NULL, "external data with model_dir: %s", err.message);
  imp_graph_free (g);
}

static void test_cycles (void)
{
  ImpastoError err;
  Model m;
  /* tail consumes the cycle a <-> b; tail comes first in the file but is not on the cycle */
  build_base (&m);
  m.graph.n_node = 0;
  set_node (&m, 0, "tail", "Relu", 1, (const char *[]){ "q" }, 1, (const char *[]){ "z" });
  set_node (&m, 1, "a", "Relu", 1, (const char *[]){ "q" }, 1, (const char *[]){ "p" });
  set_node (&m, 2, "b", "Add", 2, (const char *[]){ "p", "x" }, 1, (const char *[]){ "q" });
  ImpGraph *g = load_model (&m, NULL, &err);
  CHECK (g != NULL, "a graph with a cycle still loads: %s", err.message);
  if (g) {
    int order[3];
    int st = imp_graph_topo_order (g, order, &err);
    CHECK (st == IMPASTO_E_FORMAT && err.code == IMPASTO_E_FORMAT
           && (strstr (err.message, "graph has a cycle through node 'a' (Relu)")
               || strstr (err.message, "graph has a cycle through node 'b' (Add)")),
           "cycle: %d '%s'", st, err.message);
    imp_graph_free (g);
  }
  /* a node feeding itself, unnamed */
  build_base (&m);
  m.graph.n_node = 0;
  set_node (&m, 0, "", "Mul", 2, (const char *[]){ "x", "z" }, 1, (const char *[]){ "z" });
  g = load_model (&m, NULL, &err);
  if (g) {
    int order[1];
    int st = imp_graph_topo_order (g, order, &err);
    CHECK (st == IMPASTO_E_FORMAT && strstr (err.message, "graph has a cycle through node #0 (Mul)"),
           "self loop: '%s'", err.message);
  }
  CHECK (g != NULL, "self loop loads: %s", err.message);
  imp_graph_free (g);
}

int main (void)
{
  char models[4096];
  shared_path (models, sizeof models, "models");
  struct stat st;
  if (stat (models, &st) != 0)
    return missing_data (models);
  char tmp[] = "/tmp/impasto-test-loader-XXXXXX";
  if (!mkdtemp (tmp)) {
    printf ("mkdtemp failed: %s\n", strerror (errno));
    return 1;
  }

  test_shared_models ();
  test_base_model ();
  test_bad_bytes (tmp);
  test_files (tmp);
  test_tensors ();
  test_names ();
  test_limits ();
  test_external (tmp);
  test_cycles ();

  char cmd[4200];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system (cmd) != 0)
    printf ("note: could not remove %s\n", tmp);
  return check_summary ();
}
