/* graph.h — the engine's in-memory form of an ONNX model.
 *
 * onnx_import.c builds an ImpGraph from a .onnx file (protobuf-c); prepare.c validates it, sorts
 * it, folds constant subgraphs and plans execution; exec.c (whole tensors) or stream.c (bands)
 * runs it.  See docs/architecture.md. */
#ifndef IMP_GRAPH_H
#define IMP_GRAPH_H

#include "impasto.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Element types the engine keeps.  The loader converts other ONNX types on import:
 * FLOAT16, DOUBLE -> FLOAT; INT8/16/32, UINT8/16/32, BOOL -> INT64.  Codes equal ONNX's. */
typedef enum { IMP_DT_FLOAT = 1, IMP_DT_INT64 = 7 } ImpDType;

#define IMP_MAX_RANK 8

typedef struct {
  ImpDType dtype;
  int rank;
  int64_t dims[IMP_MAX_RANK]; /* a dim < 0 is unknown (symbolic, e.g. "height") */
  void *data;                 /* value, when known (initializers, Constant, folded); owned;
                                 allocated with imp_alloc, freed with imp_free */
} ImpTensor;

typedef enum {
  IMP_ATTR_FLOAT,
  IMP_ATTR_INT,
  IMP_ATTR_STRING,
  IMP_ATTR_TENSOR,
  IMP_ATTR_FLOATS,
  IMP_ATTR_INTS,
  IMP_ATTR_OTHER, /* graphs, sparse tensors, strings lists...: kept by name only so ops can
                     refuse them by name */
} ImpAttrType;

typedef struct {
  char *name;
  ImpAttrType type;
  float f;
  int64_t i;
  char *s;          /* STRING: NUL-terminated copy */
  ImpTensor t;      /* TENSOR */
  int n;            /* FLOATS / INTS count */
  float *floats;
  int64_t *ints;
} ImpAttr;

typedef struct {
  char *name;
  int producer;  /* index of the node that outputs it; -1 for graph inputs and initializers */
  bool is_input; /* a runtime graph input (not an initializer) */
  bool is_const; /* t.data holds its value (initializer, or computed at load) */
  ImpTensor t;   /* dtype / rank / dims as declared or inferred; rank -1 = unknown */
} ImpValue;

typedef struct {
  char *name;     /* node name, "" when the file has none */
  char *op_type;  /* ONNX op_type, e.g. "Conv" */
  char *domain;   /* "" for the default ONNX domain */
  int n_inputs;
  int *inputs;    /* value indices; -1 for an omitted optional input ("" in ONNX) */
  int n_outputs;
  int *outputs;   /* value indices; -1 for an omitted optional output */
  int n_attrs;
  ImpAttr *attrs;
} ImpNode;

typedef struct {
  char *key;
  char *value;
} ImpMeta;

typedef struct {
  ImpValue *values;
  int n_values;
  ImpNode *nodes;   /* in file order (not necessarily topological) */
  int n_nodes;
  int *inputs;      /* runtime inputs, value indices, in file order */
  int n_inputs;
  int *outputs;     /* graph outputs, value indices */
  int n_outputs;
  int64_t ir_version;
  int64_t opset;    /* version of the default ("" / "ai.onnx") domain */
  char *producer;   /* "name version" */
  ImpMeta *meta;
  int n_meta;
  char *path;       /* file it came from */
  size_t fold_budget; /* bytes constant folding may still allocate (set by prepare.c) */
} ImpGraph;

/* Limits checked before anything is allocated. */
#define IMP_MAX_FILE_BYTES   ((size_t) 2 << 30)  /* 2 GiB: protobuf's own limit */
#define IMP_MAX_TENSOR_ELEMS ((size_t) 1 << 31)
#define IMP_MAX_NODES        100000

/* Load an ONNX file.  Checks, with a precise message on failure: file readable, protobuf valid,
 * every name defined exactly once, every node input defined, tensor sizes against the bytes
 * present, external data only from files inside the model's folder.  NULL on error. */
ImpGraph *imp_onnx_load (const char *path, ImpastoError *err);
/* Same from bytes; model_dir is where external data may be read from (NULL: refuse external data). */
ImpGraph *imp_onnx_load_bytes (const uint8_t *bytes, size_t n_bytes, const char *model_dir,
                               ImpastoError *err);
void imp_graph_free (ImpGraph *graph);

/* Attribute lookup on a node; NULL when absent. */
const ImpAttr *imp_node_attr (const ImpNode *node, const char *name);

/* Element count of a tensor with known dims (0 if any dim unknown or on overflow). */
size_t imp_tensor_count (const ImpTensor *t);

/* Node indices in a topological order (Kahn's algorithm; ties in file order) into order[n_nodes].
 * Returns IMPASTO_OK, or IMPASTO_E_FORMAT "graph has a cycle through node 'NAME' (OpType)" naming
 * a node that lies on a cycle. */
int imp_graph_topo_order (const ImpGraph *g, int *order, ImpastoError *err);

/* Prefix err's message with where it happened: "PATH: node 'NAME' (OP): " or, for a node
 * without a name, "PATH: node #INDEX (OP): " (the index in file order).  Every error about one
 * node goes through here, so the user can find it in the file. */
void imp_node_context (const ImpGraph *g, int node, ImpastoError *err);

#endif
