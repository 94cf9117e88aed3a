/* rows.c — reading rows of any value of a banded run (stream.h): the input image, a stored
 * value, or a view computed on the fly from the rows of its source. */
#include "stream.h"
#include "image.h"

#include <stdint.h>
#include <string.h>

float *imp_stream_take (ImpStream *s, size_t count, size_t *cap)
{
  return imp_cache_take (&s->cache, count, cap, s->err);
}

void imp_stream_give (ImpStream *s, float *p, size_t cap)
{
  imp_cache_give (&s->cache, p, cap);
}

void imp_stream_view_of (ImpStream *s, const ImpStep *st, SvKind kind)
{
  SVal *out = &s->v[st->output];
  out->kind = kind;
  out->src = st->inputs[0];
}

typedef struct {
  const float *src; /* [C, span, w]: rows lo .. lo + span - 1 */
  float *dst;       /* [C, b - a, w] */
  int64_t a, b, lo, span, h, w;
  ImpPadMode mode;
  float value;
} PadRowsJob;

static void pad_rows_channel (void *ctx, int64_t ch, int thread)
{
  const PadRowsJob *j = ctx;
  size_t w = (size_t) j->w, n = (size_t) (j->b - j->a);
  for (int64_t r = j->a; r < j->b; r++) {
    float *d = j->dst + ((size_t) ch * n + (size_t) (r - j->a)) * w;
    int64_t i = imp_pad_index (r, j->h, j->mode);
    if (i < 0) {
      for (size_t x = 0; x < w; x++)
        d[x] = j->value;
    } else {
      memcpy (d, j->src + ((size_t) ch * (size_t) j->span + (size_t) (i - j->lo)) * w,
              w * sizeof (float));
    }
  }
}

/* Rows [a, b) of v, where rows outside [0, h) follow the padding mode; dst [C, b - a, W]. */
ImpastoStatus imp_rows_read_padded (ImpStream *s, int v, int64_t a, int64_t b, ImpPadMode mode,
                                    float value, float *dst)
{
  SVal *sv = &s->v[v];
  if (a >= 0 && b <= sv->h)
    return imp_rows_read (s, v, a, b, dst);
  int64_t lo = INT64_MAX, hi = -1;
  for (int64_t r = a; r < b; r++) {
    int64_t i = imp_pad_index (r, sv->h, mode);
    if (i >= 0) {
      lo = IMP_MIN (lo, i);
      hi = IMP_MAX (hi, i);
    }
  }
  size_t cap = 0, w = (size_t) sv->w;
  float *tmp = NULL;
  if (hi >= 0) {
    tmp = imp_stream_take (s, (size_t) sv->c * (size_t) (hi - lo + 1) * w, &cap);
    ImpastoStatus st = tmp ? imp_rows_read (s, v, lo, hi + 1, tmp) : IMPASTO_E_NOMEM;
    if (st) {
      imp_stream_give (s, tmp, cap);
      return st;
    }
  }
  PadRowsJob j = { tmp, dst, a, b, lo, (int64_t) (hi - lo + 1), sv->h, (int64_t) w, mode, value };
  imp_pool_run (s->pool, sv->c, pad_rows_channel, &j);
  imp_stream_give (s, tmp, cap);
  return IMPASTO_OK;
}

typedef struct {
  const SVal *sv;
  const float *src; /* [C, span, sw] rows lo..hi of the source */
  float *dst;       /* [C, n, w] */
  int64_t r0, n, lo, span, sw;
} ResizeJob;

static void resize_channel (void *ctx, int64_t ch, int thread)
{
  const ResizeJob *j = ctx;
  const SVal *sv = j->sv;
  size_t w = (size_t) sv->w;
  for (int64_t r = 0; r < j->n; r++) {
    const float *srow = j->src + ((size_t) ch * (size_t) j->span
                                  + (size_t) (sv->row_map[j->r0 + r] - j->lo)) * (size_t) j->sw;
    float *d = j->dst + ((size_t) ch * (size_t) j->n + (size_t) r) * w;
    if (sv->cols_double) { /* nearest x2: every source pixel twice */
      imp_duplicate2 (srow, d, w / 2);
      if (w & 1)
        d[w - 1] = srow[sv->col_map[w - 1]];
    } else {
      for (size_t x = 0; x < w; x++)
        d[x] = srow[sv->col_map[x]];
    }
  }
}

static ImpastoStatus read_resized (ImpStream *s, SVal *sv, int64_t r0, int64_t r1, float *dst)
{
  int64_t lo = INT64_MAX, hi = -1;
  for (int64_t r = r0; r < r1; r++) {
    lo = IMP_MIN (lo, sv->row_map[r]);
    hi = IMP_MAX (hi, sv->row_map[r]);
  }
  const SVal *src = &s->v[sv->src];
  size_t cap, span = (size_t) (hi - lo + 1), sw = (size_t) src->w;
  float *tmp = imp_stream_take (s, (size_t) sv->c * span * sw, &cap); /* [C, span, sw] */
  if (!tmp)
    return IMPASTO_E_NOMEM;
  ImpastoStatus st = imp_rows_read (s, sv->src, lo, hi + 1, tmp);
  if (!st) {
    ResizeJob j = { sv, tmp, dst, r0, r1 - r0, lo, (int64_t) span, (int64_t) sw };
    imp_pool_run (s->pool, sv->c, resize_channel, &j);
  }
  imp_stream_give (s, tmp, cap);
  return st;
}

static ImpastoStatus read_padded_view (ImpStream *s, SVal *sv, int64_t r0, int64_t r1, float *dst)
{
  const SVal *src = &s->v[sv->src];
  size_t cap, n = (size_t) (r1 - r0), sw = (size_t) src->w, w = (size_t) sv->w;
  float *tmp = imp_stream_take (s, (size_t) sv->c * n * sw, &cap); /* [C, n, sw] */
  if (!tmp)
    return IMPASTO_E_NOMEM;
  ImpastoStatus st = imp_rows_read_padded (s, sv->src, r0 - sv->pt, r1 - sv->pt, sv->mode, sv->value, tmp);
  for (int ch = 0; !st && ch < sv->c; ch++)
    for (size_t r = 0; r < n; r++) {
      const float *srow = tmp + ((size_t) ch * n + r) * sw;
      float *d = dst + ((size_t) ch * n + r) * w;
      for (size_t x = 0; x < w; x++) {
        int64_t i = imp_pad_index ((int64_t) x - sv->pl, (int64_t) sw, sv->mode);
        d[x] = i < 0 ? sv->value : srow[i];
      }
    }
  imp_stream_give (s, tmp, cap);
  return st;
}

/* Rows [r0, r1) (0 <= r0 < r1 <= h) of value v into dst [C, r1 - r0, W]. */
ImpastoStatus imp_rows_read (ImpStream *s, int v, int64_t r0, int64_t r1, float *dst)
{
  SVal *sv = &s->v[v];
  size_t n = (size_t) (r1 - r0) * (size_t) sv->w;
  ImpastoStatus st;
  switch (sv->kind) {
  case SV_INPUT:
    imp_image_input_rows (s->m, s->in, r0, r1, sv->w, dst, s->pool);
    return IMPASTO_OK;
  case SV_STORED:
    return imp_stored_read (&s->scratch, &sv->store, r0, r1 - r0, dst, NULL, NULL, false);
  case SV_ALIAS:
    return imp_rows_read (s, sv->src, r0, r1, dst);
  case SV_AFFINE:
    if (s->v[sv->src].kind == SV_STORED) /* one pass: read and map */
      return imp_stored_read (&s->scratch, &s->v[sv->src].store, r0, r1 - r0, dst, sv->mul,
                              sv->add, sv->relu);
    if ((st = imp_rows_read (s, sv->src, r0, r1, dst)))
      return st;
    imp_channel_affine (sv->c, n, dst, sv->mul, sv->add, sv->relu, dst, s->pool);
    return IMPASTO_OK;
  case SV_UNARY:
    if ((st = imp_rows_read (s, sv->src, r0, r1, dst)))
      return st;
    imp_unary (sv->op, sv->alpha, sv->beta, n * (size_t) sv->c, dst, dst, s->pool);
    return IMPASTO_OK;
  case SV_RESIZE:
    return read_resized (s, sv, r0, r1, dst);
  case SV_PAD:
    return read_padded_view (s, sv, r0, r1, dst);
  case SV_NONE:
    break;
  }
  return imp_fail (s->err, IMPASTO_E_ARGUMENT, "internal error: value %d read before it exists", v);
}

/* Receives one band of for_each_band's walk; a failure stops the walk. */
typedef ImpastoStatus (*BandSink) (ImpStream *s, const SVal *sv, int64_t r0, int64_t r1,
                                   float *band, void *ctx);

static ImpastoStatus for_each_band (ImpStream *s, int v, BandSink fn, void *ctx)
{
  SVal *sv = &s->v[v];
  int64_t rows = imp_stream_band_rows (s, sv, (size_t) sv->c * (size_t) sv->w * sizeof (float));
  size_t cap;
  float *band = imp_stream_take (s, (size_t) sv->c * (size_t) rows * (size_t) sv->w, &cap);
  if (!band)
    return IMPASTO_E_NOMEM;
  ImpastoStatus rc = IMPASTO_OK;
  for (int64_t r0 = 0; !rc && r0 < sv->h; r0 += rows) {
    int64_t r1 = IMP_MIN (r0 + rows, sv->h);
    rc = imp_rows_read (s, v, r0, r1, band);
    if (!rc)
      rc = fn (s, sv, r0, r1, band, ctx);
  }
  imp_stream_give (s, band, cap);
  return rc;
}

static ImpastoStatus sum_band (ImpStream *s, const SVal *sv, int64_t r0, int64_t r1, float *band,
                               void *ctx)
{
  double **sums = ctx;
  imp_channel_sums (sv->c, (size_t) (r1 - r0) * (size_t) sv->w, band, sums[0], sums[1], s->pool);
  return IMPASTO_OK;
}

/* Sums over all rows of any value (for a norm whose input is a view). */
ImpastoStatus imp_rows_channel_stats (ImpStream *s, int v, double *sum, double *sumsq)
{
  double *sums[2] = { sum, sumsq };
  return for_each_band (s, v, sum_band, sums);
}

/* Fails when the output rows callback asks to stop. */
static ImpastoStatus compose_band (ImpStream *s, const SVal *sv, int64_t r0, int64_t r1,
                                   float *band, void *ctx)
{
  return imp_image_compose_rows (s->m, s->in, band, r0, r1, sv->w, s->o, s->out, s->pool, s->err);
}

/* The model's output is a view (e.g. a final Tanh): read it band by band into the image. */
ImpastoStatus imp_rows_drain_output (ImpStream *s)
{
  return for_each_band (s, s->m->output, compose_band, NULL);
}
