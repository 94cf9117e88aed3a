/* model.h — a prepared model: the graph after validation, constant folding and fusion, as a list
 * of executable steps.  Internal to the engine. */
#ifndef IMP_MODEL_H
#define IMP_MODEL_H

#include "graph.h"
#include "kernels.h"
#include "pool.h"
#include "util.h"

typedef struct ImpOp ImpOp; /* op.h: what an operator is and how it runs */

#define IMP_STEP_MAX_INPUTS 4

/* A per-channel normalisation (ops/instnorm.c: imp_exec_norm, imp_stream_norm_view):
 * y = scale (x - mean) / sqrt(var + eps) + bias, then relu, with the whole image's mean and var
 * (InstanceNormalization; BatchNormalization with the image's statistics); or, when mul is set,
 * y = x * mul + add with the statistics folded in at build (BatchNormalization's stored ones;
 * mul and add stay the step's). */
typedef struct {
  const float *scale, *bias;
  float eps;
  bool relu;
  float *mul, *add;
} ImpNorm;

/* One executable node.  Inputs/outputs are value indices into the graph. */
typedef struct {
  const ImpOp *op;    /* its operator (engine/ops/) */
  int node;           /* index of the (last) graph node this step implements */
  int n_inputs;
  int inputs[IMP_STEP_MAX_INPUTS]; /* values read, in the node's order (a constant operand may be
                                      among them: an op that captures it reads it at build) */
  int output;
  double cost;        /* multiply-adds per output element (rough), for progress */
  bool dead;          /* fused into another step */
  /* The op's parameters, set by its build function.  A union keeps a step one allocation and
   * lets the fusion pass edit a neighbour's parameters; an op with state too large or too
   * varied for it would keep a pointer here and free it in its release function. */
  union {
    struct { ImpConvShape shape; const float *weight, *bias; ImpConv *conv;
             ImpConv *band_conv; /* same weights, no top/bottom padding (banded runs) */
             float *own_weight; /* transposed steps: the transposed weights */ } conv;
    struct { ImpConvTShape shape; const float *weight, *bias; ImpConvT *conv;
             float *own_weight;
             bool relu_in; /* a fused Relu on the input (inputs[]: a fused Concat's parts) */ } convt;
    struct { int t, l, b, r; ImpPadMode mode; float value; } pad;
    struct { const float *scale, *bias; float eps; bool relu; int channels; } instnorm;
    struct { float *mul, *add; bool relu; int channels;
             const float *scale, *bias; float eps; /* for the image's statistics */ } batchnorm;
    struct { ImpUnaryOp op; float alpha, beta; } unary;
    struct { ImpBinaryOp op; } binary;
    struct { float scale_h, scale_w; int64_t size_h, size_w; ImpCoordMode coord;
             ImpNearestMode nearest; } resize;
    struct { int axis; } concat;
    struct { ImpPoolShape shape; } maxpool;
    struct { int count; int axes[8]; bool keepdims; } reduce;
    struct { int rank; int64_t dims[IMP_MAX_RANK]; } reshape;
  } u;
} ImpStep;

struct ImpastoModel {
  ImpGraph *graph;
  ImpStep *steps;
  int n_steps;
  int input;          /* the image input value */
  int n_inputs;       /* runtime inputs: graph->inputs[0..n_inputs), input among them */
  bool static_shapes; /* every input's shape was given at load: prepare records value shapes */
  int output;         /* the image output value */
  int n_params;       /* parameter count for describe */
  /* Mapping between image values 0..1 and the model's input/output domain:
   * model_in = v * in_scale + in_offset; v = (model_out - out_offset) / out_scale */
  float in_scale, in_offset, out_scale, out_offset;
  int size_multiple;  /* H and W are padded to a multiple of this */
  int min_size;       /* and to at least this */
  bool bn_image;      /* this run's BatchNormalization uses the image's statistics (set by
                         impasto_stylize from the options and metadata) */
  ImpPool *pool;
  int pool_threads;
  /* The steps for the transposed image (H and W swapped, weights transposed), made on first
   * need: a tall narrow image runs as a wide short one (see model.c, stylize_transposed). */
  ImpStep *tsteps;
  bool tsteps_tried;  /* made, or found impossible (tsteps NULL) */
  /* For the duration of one call: the statistics every instance norm uses instead of its
   * input's own (options->stats), and where impasto_stats_compute has them recorded. */
  const ImpastoStats *stats_use;
  ImpastoStats *stats_record;
  /* Regions (impasto_stylize_region) come one after another at about the same size, for a
   * preview: with keep_buffers set for the call, the whole-image executor leaves its freed
   * activations in kept for the next call, so that their pages are not faulted in again (freed
   * with the model, or by the next call without keep_buffers). */
  bool keep_buffers;
  ImpBufferCache kept;
  uint64_t serial;    /* unique per load in this process: statistics name the model they are of */
};

/* model.c: load path with the named inputs bound to constant values (none: n_inputs 0); exactly
 * one runtime input must remain, an RGB image when rgb.  impasto_model_load is (path, 0, NULL, true). */
ImpastoModel *imp_model_load_net (const char *path, int n_inputs, const ImpastoInput *inputs,
                                  bool rgb, ImpastoError *err);
/* model.c: the worker pool for threads (0: every CPU) */
ImpastoStatus imp_model_ensure_pool (ImpastoModel *m, int threads);
/* model.c: impasto_stylize after its checks (the caller sets stats_use / stats_record). */
/* model.c: whether BatchNormalization runs with the image's statistics for options o (the
 * option, else the model's metadata "impasto.batchnorm"). */
bool imp_model_bn_image (const ImpastoModel *m, const ImpastoOptions *o);
ImpastoStatus imp_model_stylize (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                                 const ImpastoOptions *o, ImpastoError *err);

/* ImpastoStats (impasto.h): the statistics of every instance norm, by step index (the same in
 * the transposed steps). */
struct ImpastoStats {
  uint64_t model;      /* the serial of the model they were made for */
  int n_steps;         /* its step count */
  int *offset;         /* per step: its first entry in mean and var; -1: not an instance norm */
  int *channels;       /* per step */
  bool *recorded;      /* per step */
  double *mean, *var;  /* population variance */
};

/* region.c: IMPASTO_E_ARGUMENT unless stats (NULL: none) were made for m. */
ImpastoStatus imp_stats_check (const ImpastoModel *m, const ImpastoStats *stats, ImpastoError *err);

/* region.c: an instance norm at step index step with c channels, whose own statistics are in
 * mean and var (or not computed yet, when m->stats_use is set): replaces them by m->stats_use's
 * and records them into m->stats_record. */
ImpastoStatus imp_stats_exchange (ImpastoModel *m, int step, int c, double *mean, double *var,
                                  ImpastoError *err);

/* prepare.c: validate, fold constants, fuse, build steps.  Takes ownership of graph. */
ImpastoStatus imp_model_prepare (ImpastoModel *model, ImpGraph *graph, ImpastoError *err);
void imp_model_release_steps (ImpastoModel *model);

/* fold.c: evaluate a node whose inputs are all constant (naive implementations, any dtype).
 * Fills the outputs' tensors.  Returns IMPASTO_E_UNSUPPORTED if the op cannot be folded. */
ImpastoStatus imp_fold_node (ImpGraph *graph, const ImpNode *node, ImpastoError *err);

/* The largest value (floats) of an automatic whole-image run: beyond it imp_stream_wanted runs the
 * image banded (a whole run holds about three such values at once: under 1 GiB). */
#define IMP_WHOLE_MAX_FLOATS (((size_t) 1 << 30) / sizeof (float) / 3)

/* exec.c: run the steps on one input tensor [1, C, H, W]; out receives a newly allocated
 * [1, C', H', W'] tensor (imp_free its data). */
typedef bool (*ImpProgressCb) (double fraction, void *user);
ImpastoStatus imp_model_exec (ImpastoModel *model, const ImpTensor *input, ImpTensor *out,
                              ImpProgressCb progress, void *progress_data, ImpastoError *err);

/* exec.c: the same with every runtime input given (values[k] is the graph value inputs[k] feeds). */
ImpastoStatus imp_model_exec_inputs (ImpastoModel *model, int n, const int *values,
                                     const ImpTensor *inputs, ImpTensor *out, ImpProgressCb progress,
                                     void *progress_data, ImpastoError *err);

/* exec.c: infer the shape of every value for an input of in_dims [N, C, H, W]; shapes has one
 * entry per graph value (dims only, data NULL).  Checks every dimension against limits; with
 * whole, also every tensor's size against the per-tensor cap (a banded run checks what it
 * really allocates instead, band by band). */
ImpastoStatus imp_model_shapes (ImpastoModel *model, const int64_t in_dims[4], bool whole,
                                ImpTensor *shapes, ImpastoError *err);

#endif
