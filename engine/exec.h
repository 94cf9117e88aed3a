/* exec.h — the whole-tensor executor's interface for the ops' run functions (exec.c). */
#ifndef IMP_EXEC_H
#define IMP_EXEC_H

#include "model.h"
#include "util.h"

typedef struct ImpExec ImpExec;

typedef struct {
  ImpTensor t;     /* dims, and data once computed (borrowed for constants and the input) */
  size_t capacity; /* floats owned in t.data; 0 when borrowed */
  int uses;        /* reads still to come */
  bool want_sums;  /* a normalisation reads it: its producer may gather its channel sums */
  double *sums;    /* [2, C]: sum and sum of squares per channel of a [1, C, ...] value, when its
                      producer gathered them on the way (imp_exec_norm then needs no pass) */
} ImpSlot;

struct ImpExec {
  ImpastoModel *m;
  ImpSlot *slots;       /* one per graph value */
  ImpBufferCache cache; /* freed buffers for reuse */
  ImpastoError *err;
};

/* Input k of step s, the output (dims set; data once allocated). */
static inline const ImpTensor *imp_exec_in (ImpExec *x, const ImpStep *s, int k)
{
  return &x->slots[s->inputs[k]].t;
}

static inline ImpTensor *imp_exec_out (ImpExec *x, const ImpStep *s)
{
  return &x->slots[s->output].t;
}

/* Allocate the output of s. */
ImpastoStatus imp_exec_alloc (ImpExec *x, const ImpStep *s);
/* Same, taking over value in's buffer when s is its last reader and the sizes match (read in's
 * data pointer before calling). */
ImpastoStatus imp_exec_alloc_inplace (ImpExec *x, const ImpStep *s, int in);

/* Normalise input 0 of s per channel as n says (model.h), with its own whole-image statistics
 * (or those given or recorded, see model.h) unless n has them folded in: the run of
 * InstanceNormalization and BatchNormalization (ops/instnorm.c). */
ImpastoStatus imp_exec_norm (ImpExec *x, const ImpStep *s, const ImpNorm *n);

/* Element count of the axes after the first two ([N, C, ...]). */
size_t imp_spatial_count (const ImpTensor *t);

#endif
