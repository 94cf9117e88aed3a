/* stream.h — running a model over an image of any size in row bands, in bounded memory, with
 * instance-norm statistics taken over the whole image (so tiles leave no seams).
 *
 * Every value of the graph is one of:
 *   INPUT   rows generated on demand from the user's image (never stored whole);
 *   STORED  computed once, band by band, by a band op and kept by the scratch store (scratch.h);
 *   a view  of another value, computed on the fly whenever rows are read (rows.c): AFFINE
 *           (instance norm with whole-image statistics, batch norm, fused relu), UNARY, RESIZE,
 *           PAD, ALIAS.
 * The scheduler (stream.c) runs the steps in graph order: a view op makes its output a view, a
 * band op fills its output band by band, reading its inputs' rows through the views.  The last
 * step writes straight into the output image.  See docs/tiling.md and docs/architecture.md. */
#ifndef IMP_STREAM_H
#define IMP_STREAM_H

#include "model.h"
#include "scratch.h"

/* Whether impasto_stylize should stream: tile_size > 0 asks for it, 0 forbids it, -1 decides
 * from the memory the whole-image run would need.  Models with an op that cannot be streamed
 * (IMP_STREAM_WHOLE, or a step its op calls not bandable) always run whole. */
bool imp_stream_wanted (ImpastoModel *m, int64_t ph, int64_t pw, int tile_size);

/* Stylise in -> out by row bands.  ph x pw is the padded model input size. */
ImpastoStatus imp_stream_run (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                              const ImpastoOptions *o, int64_t ph, int64_t pw, ImpastoError *err);

/* ---- for the ops' view and band functions ------------------------------------------------ */

typedef enum { SV_NONE, SV_INPUT, SV_STORED, SV_AFFINE, SV_UNARY, SV_RESIZE, SV_PAD, SV_ALIAS } SvKind;

typedef struct {
  SvKind kind;
  int c;
  int64_t h, w;
  int src;            /* views: the value read */
  int last_use;       /* index of the last step that reads it (through views too) */
  ImpStored store;    /* STORED */
  /* AFFINE: y = x * mul[c] + add[c], then relu */
  float *mul, *add;
  bool own_affine, relu;
  /* UNARY */
  ImpUnaryOp op;
  float alpha, beta;
  /* RESIZE: source row / column of every output row / column */
  int64_t *row_map, *col_map;
  int32_t *col_map32; /* col_map for a conv's gather, made on first use */
  bool cols_double;   /* col_map[x] == x / 2 */
  /* PAD */
  int pt, pl;
  ImpPadMode mode;
  float value;
} SVal;

typedef struct ImpStream ImpStream;

struct ImpStream {
  ImpastoModel *m;
  const ImpastoImage *in;
  ImpastoImage *out;
  const ImpastoOptions *o;
  ImpastoError *err;
  ImpPool *pool;
  SVal *v;              /* one per graph value */
  ImpTensor *shapes;    /* one per graph value */
  int64_t ph, pw;       /* model input size */
  int64_t tile_rows;    /* band height in input rows; 0: automatic per step */
  ImpScratch scratch;
  bool gather_resize;   /* convs read resize views through index maps (IMPASTO_NO_GATHER=1: not) */
  ImpBufferCache cache;
  double done, total;
};

/* A buffer of at least count floats from the stream's cache (NULL and err on failure). */
float *imp_stream_take (ImpStream *s, size_t count, size_t *cap);
void imp_stream_give (ImpStream *s, float *p, size_t cap);

/* Rows [r0, r1) (0 <= r0 < r1 <= h) of value v into dst [C, r1 - r0, W]. */
ImpastoStatus imp_rows_read (ImpStream *s, int v, int64_t r0, int64_t r1, float *dst);
/* Rows [a, b) of v, where rows outside [0, h) follow the padding mode; dst [C, b - a, W]. */
ImpastoStatus imp_rows_read_padded (ImpStream *s, int v, int64_t a, int64_t b, ImpPadMode mode,
                                    float value, float *dst);
/* Per-channel sums over all rows of any value. */
ImpastoStatus imp_rows_channel_stats (ImpStream *s, int v, double *sum, double *sumsq);
/* The model's output is a view: read it band by band into the output image. */
ImpastoStatus imp_rows_drain_output (ImpStream *s);
/* Rows per band of value sv, whose rows cost row_bytes of buffers each. */
int64_t imp_stream_band_rows (const ImpStream *s, const SVal *sv, size_t row_bytes);

/* Make the output of st a view of kind on its first input. */
void imp_stream_view_of (ImpStream *s, const ImpStep *st, SvKind kind);
/* Make the output of st an AFFINE view of its first input normalised as n says (model.h), with
 * the input's whole-image statistics unless n has them folded in: the view of
 * InstanceNormalization and BatchNormalization (ops/instnorm.c). */
ImpastoStatus imp_stream_norm_view (ImpStream *s, const ImpStep *st, const ImpNorm *n);

#endif
