/* SPDX-License-Identifier: GPL-3.0-or-later */
/* graph.c — small helpers on the in-memory graph: freeing, attribute lookup, element counts,
 * topological order. */
#include "graph.h"
#include "util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tensor_clear (ImpTensor *t)
{
  imp_free (t->data);
  t->data = NULL;
}

static void attr_clear (ImpAttr *a)
{
  free (a->name);
  free (a->s);
  tensor_clear (&a->t);
  free (a->floats);
  free (a->ints);
}

static void node_clear (ImpNode *n)
{
  free (n->name);
  free (n->op_type);
  free (n->domain);
  free (n->inputs);
  free (n->outputs);
  if (n->attrs)
    for (int i = 0; i < n->n_attrs; i++)
      attr_clear (&n->attrs[i]);
  free (n->attrs);
}

/* Safe on a partly built graph: every pointer is NULL or owned, every count covers only
 * initialised (or zeroed) entries. */
void imp_graph_free (ImpGraph *g)
{
  if (!g)
    return;
  if (g->values)
    for (int i = 0; i < g->n_values; i++) {
      free (g->values[i].name);
      tensor_clear (&g->values[i].t);
    }
  free (g->values);
  if (g->nodes)
    for (int i = 0; i < g->n_nodes; i++)
      node_clear (&g->nodes[i]);
  free (g->nodes);
  free (g->inputs);
  free (g->outputs);
  if (g->meta)
    for (int i = 0; i < g->n_meta; i++) {
      free (g->meta[i].key);
      free (g->meta[i].value);
    }
  free (g->meta);
  free (g->producer);
  free (g->path);
  free (g);
}

const ImpAttr *imp_node_attr (const ImpNode *node, const char *name)
{
  if (!node || !name)
    return NULL;
  for (int i = 0; i < node->n_attrs; i++)
    if (node->attrs[i].name && strcmp (node->attrs[i].name, name) == 0)
      return &node->attrs[i];
  return NULL;
}

size_t imp_tensor_count (const ImpTensor *t)
{
  size_t n;
  if (!t || t->rank < 0 || t->rank > IMP_MAX_RANK || !imp_dims_count (t->dims, t->rank, &n))
    return 0;
  return n;
}

/* ------------------------------------------------------------------------------------------- */
/* Topological order (Kahn's algorithm).                                                        */

/* Producer node of node n's input slot k, or -1 (graph input, initializer, omitted). */
static int input_producer (const ImpGraph *g, const ImpNode *n, int k)
{
  int v = n->inputs[k];
  if (v < 0 || v >= g->n_values)
    return -1;
  return g->values[v].producer;
}

/* Some node on a cycle, given that `start` is not sortable (it still waits for an input).
 * Walking backwards through unsorted producers n_nodes times must end inside a cycle. */
static int node_on_cycle (const ImpGraph *g, const int *waiting, int start)
{
  int u = start;
  for (int step = 0; step < g->n_nodes; step++) {
    const ImpNode *n = &g->nodes[u];
    int next = -1;
    for (int k = 0; k < n->n_inputs && next < 0; k++) {
      int p = input_producer (g, n, k);
      if (p >= 0 && waiting[p] > 0)
        next = p;
    }
    if (next < 0)
      break; /* cannot happen when waiting[u] > 0; stay on u */
    u = next;
  }
  return u;
}

int imp_graph_topo_order (const ImpGraph *g, int *order, ImpastoError *err)
{
  if (!g || (!order && g->n_nodes > 0))
    return imp_fail (err, IMPASTO_E_ARGUMENT, "imp_graph_topo_order: NULL argument");
  int nn = g->n_nodes;
  if (nn < 0)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "imp_graph_topo_order: negative node count");
  if (nn == 0)
    return IMPASTO_OK;

  /* waiting[i]: inputs of node i whose producer is not yet ordered.
   * Consumers of each node in CSR form: first[p] .. first[p+1] index into cons[]. */
  int *waiting = calloc ((size_t) nn, sizeof *waiting);
  int *first = calloc ((size_t) nn + 1, sizeof *first);
  int *fill = calloc ((size_t) nn + 1, sizeof *fill);
  size_t n_edges = 0;
  for (int i = 0; i < nn; i++)
    n_edges += (size_t) g->nodes[i].n_inputs;
  if (n_edges > INT_MAX) { /* first[] counts edges in int */
    free (waiting); free (first); free (fill);
    return imp_fail (err, IMPASTO_E_NOMEM, "%zu node inputs are too many to sort", n_edges);
  }
  int *cons = malloc ((n_edges ? n_edges : 1) * sizeof *cons);
  if (!waiting || !first || !fill || !cons) {
    free (waiting); free (first); free (fill); free (cons);
    return imp_fail (err, IMPASTO_E_NOMEM, "out of memory sorting %d nodes", nn);
  }

  for (int i = 0; i < nn; i++)
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      int p = input_producer (g, &g->nodes[i], k);
      if (p >= 0 && p < nn) {
        waiting[i]++;
        first[p + 1]++;
      }
    }
  for (int p = 0; p < nn; p++)
    first[p + 1] += first[p];
  for (int i = 0; i < nn; i++)
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      int p = input_producer (g, &g->nodes[i], k);
      if (p >= 0 && p < nn)
        cons[first[p] + fill[p]++] = i;
    }

  /* order[] doubles as the FIFO queue: [head, tail) are ready, not yet expanded. */
  int head = 0, tail = 0;
  for (int i = 0; i < nn; i++)
    if (waiting[i] == 0)
      order[tail++] = i;
  while (head < tail) {
    int p = order[head++];
    for (int e = first[p]; e < first[p + 1]; e++)
      if (--waiting[cons[e]] == 0)
        order[tail++] = cons[e];
  }

  int status = IMPASTO_OK;
  if (tail < nn) {
    int start = 0;
    while (waiting[start] == 0)
      start++;
    int u = node_on_cycle (g, waiting, start);
    const ImpNode *n = &g->nodes[u];
    if (n->name && n->name[0])
      status = imp_fail (err, IMPASTO_E_FORMAT, "graph has a cycle through node '%s' (%s)",
                         n->name, n->op_type ? n->op_type : "?");
    else
      status = imp_fail (err, IMPASTO_E_FORMAT, "graph has a cycle through node #%d (%s)", u,
                         n->op_type ? n->op_type : "?");
  }
  free (waiting);
  free (first);
  free (fill);
  free (cons);
  return status;
}

void imp_node_context (const ImpGraph *g, int node, ImpastoError *err)
{
  if (!err || !g || node < 0 || node >= g->n_nodes)
    return;
  const ImpNode *n = &g->nodes[node];
  const char *op = n->op_type && n->op_type[0] ? n->op_type : "?";
  char where[IMPASTO_ERROR_MAX];
  if (n->name && n->name[0])
    snprintf (where, sizeof where, "%s: node '%s' (%s)", g->path ? g->path : "model", n->name, op);
  else
    snprintf (where, sizeof where, "%s: node #%d (%s)", g->path ? g->path : "model", node, op);
  if (strncmp (err->message, where, strlen (where)) == 0)
    return; /* already said */
  char msg[IMPASTO_ERROR_MAX];
  memcpy (msg, err->message, sizeof msg);
  msg[sizeof msg - 1] = '\0';
  size_t a = strlen (where), b = strlen (msg), cap = sizeof err->message - 1;
  a = a < cap ? a : cap;
  memcpy (err->message, where, a);
  if (a + 2 <= cap) {
    memcpy (err->message + a, ": ", 2);
    a += 2;
  }
  b = b < cap - a ? b : cap - a; /* a long message loses its end */
  memcpy (err->message + a, msg, b);
  err->message[a + b] = '\0';
}
