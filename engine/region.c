/* region.c — whole-image normalisation statistics, and regions that equal the whole result.
 *
 * An instance norm normalises each channel with the mean and variance of the whole feature map,
 * so a crop run on its own comes out in other colours than the same part of the whole image.
 * impasto_stats_compute runs the model once over the image and records every norm's statistics
 * (ImpastoStats, by step index); impasto_stylize_region runs the network on the region plus the
 * margin its receptive field needs, aligned to the network's stride grid, with the norms taking the
 * recorded statistics instead of the crop's: the region then equals the whole result up to float
 * rounding (and, with statistics from a reduced image, up to how well those estimate the full
 * image's: measured in docs/tiling.md). */
#include "image.h"
#include "model.h"
#include "op.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* The statistics.                                                                              */

void impasto_stats_free (ImpastoStats *s)
{
  if (!s)
    return;
  imp_free (s->offset);
  imp_free (s->channels);
  imp_free (s->recorded);
  imp_free (s->mean);
  imp_free (s->var);
  free (s);
}

/* bn_image: the batch norms run with the image's statistics and have theirs recorded too */
static ImpastoStats *stats_new (const ImpastoModel *m, bool bn_image, ImpastoError *err)
{
  ImpastoStats *s = calloc (1, sizeof *s);
  if (!s) {
    imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    return NULL;
  }
  size_t n = (size_t) m->n_steps + 1;
  s->model = m->serial;
  s->n_steps = m->n_steps;
  s->offset = imp_alloc (n, sizeof (int), "statistics", err);
  s->channels = imp_alloc0 (n, sizeof (int), "statistics", err);
  s->recorded = imp_alloc0 (n, sizeof (bool), "statistics", err);
  int total = 0;
  for (int i = 0; s->offset && i < m->n_steps; i++) {
    const ImpStep *st = &m->steps[i];
    int c = st->op == &imp_op_instnorm                 ? st->u.instnorm.channels
            : bn_image && st->op == &imp_op_batchnorm ? st->u.batchnorm.channels
                                                       : 0;
    s->offset[i] = c ? total : -1;
    total += c;
  }
  s->mean = imp_alloc0 ((size_t) total + 1, sizeof (double), "statistics", err);
  s->var = imp_alloc0 ((size_t) total + 1, sizeof (double), "statistics", err);
  if (!s->offset || !s->channels || !s->recorded || !s->mean || !s->var) {
    impasto_stats_free (s);
    return NULL;
  }
  return s;
}

/* Same architecture is not enough: candy's statistics fit mosaic's steps channel for channel. */
ImpastoStatus imp_stats_check (const ImpastoModel *m, const ImpastoStats *s, ImpastoError *err)
{
  if (s && (s->model != m->serial || s->n_steps != m->n_steps))
    return imp_fail (err, IMPASTO_E_ARGUMENT,
                     "the statistics were computed for another model (or another load of it)");
  return IMPASTO_OK;
}

ImpastoStatus imp_stats_exchange (ImpastoModel *m, int step, int c, double *mean, double *var,
                                  ImpastoError *err)
{
  const ImpastoStats *use = m->stats_use;
  if (use) {
    if (step < 0 || step >= use->n_steps || use->offset[step] < 0 || !use->recorded[step]
        || use->channels[step] != c)
      return imp_fail (err, IMPASTO_E_ARGUMENT,
                       "the statistics hold no %d-channel instance norm for this step (made for "
                       "another model?)", c);
    memcpy (mean, use->mean + use->offset[step], (size_t) c * sizeof (double));
    memcpy (var, use->var + use->offset[step], (size_t) c * sizeof (double));
  }
  ImpastoStats *rec = m->stats_record;
  if (rec && step >= 0 && step < rec->n_steps && rec->offset[step] >= 0) {
    memcpy (rec->mean + rec->offset[step], mean, (size_t) c * sizeof (double));
    memcpy (rec->var + rec->offset[step], var, (size_t) c * sizeof (double));
    rec->channels[step] = c;
    rec->recorded[step] = true;
  }
  return IMPASTO_OK;
}

/* Edge of the tiles of the statistics' estimate: several times the networks' receptive reach, so
 * that most of a tile's features do not see the seams to its neighbours. */
#define SAMPLE_TILE 256

/* The statistics' estimate (ImpastoOptions.stats_pixels): full-resolution tiles from a regular grid
 * over in, stitched into one image of at most max_pixels pixels.  Full resolution because the
 * norms' statistics are not scale-invariant: from a box-reduced image they missed the bound by
 * 10x (docs/tiling.md). */
static ImpastoStatus sample_image (const ImpastoImage *in, int64_t max_pixels, ImpastoImage *out,
                                   ImpastoError *err)
{
  int64_t t = SAMPLE_TILE, n = IMP_MAX (1, max_pixels / (t * t));
  /* a grid of gx x gy tiles with the image's aspect, gx * gy <= n */
  int64_t gx = IMP_MAX (1, (int64_t) floor (sqrt ((double) n * in->width / in->height)));
  gx = IMP_MIN (gx, IMP_MAX (1, in->width / t));
  int64_t gy = IMP_MAX (1, IMP_MIN (n / gx, in->height / t));
  int64_t tw = IMP_MIN (t, in->width), th = IMP_MIN (t, in->height);
  *out = (ImpastoImage) { .width = (int) (gx * tw), .height = (int) (gy * th),
                          .channels = in->channels, .type = in->type };
  size_t elem = in->type == IMPASTO_PIXEL_U8 ? 1 : sizeof (float);
  size_t row = (size_t) out->width * (size_t) out->channels * elem;
  char *dst = imp_alloc (row, (size_t) out->height, "sampled image", err);
  if (!dst)
    return IMPASTO_E_NOMEM;
  if (in->type == IMPASTO_PIXEL_U8)
    out->data_u8 = (uint8_t *) dst;
  else
    out->data = (float *) dst;
  size_t is = (in->stride ? in->stride : (size_t) in->width * (size_t) in->channels) * elem;
  const char *src = in->type == IMPASTO_PIXEL_U8 ? (const char *) in->data_u8 : (const char *) in->data;
  for (int64_t j = 0; j < gy; j++)
    for (int64_t i = 0; i < gx; i++) { /* the tile centred in grid cell (i, j) */
      int64_t x0 = (2 * i + 1) * in->width / (2 * gx) - tw / 2;
      int64_t y0 = (2 * j + 1) * in->height / (2 * gy) - th / 2;
      x0 = IMP_MAX (0, IMP_MIN (x0, in->width - tw));
      y0 = IMP_MAX (0, IMP_MIN (y0, in->height - th));
      for (int64_t r = 0; r < th; r++)
        memcpy (dst + (size_t) (j * th + r) * row + (size_t) (i * tw) * (size_t) in->channels * elem,
                src + (size_t) (y0 + r) * is + (size_t) x0 * (size_t) in->channels * elem,
                (size_t) tw * (size_t) in->channels * elem);
    }
  return IMPASTO_OK;
}

ImpastoStatus impasto_stats_compute (ImpastoModel *m, const ImpastoImage *in,
                                     const ImpastoOptions *o, ImpastoStats **stats,
                                     ImpastoError *err)
{
  imp_error_clear (err);
  ImpastoOptions opt;
  if (o)
    opt = *o;
  else
    impasto_options_init (&opt);
  if (!m || !stats)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "no model or no place for the statistics");
  *stats = NULL;
  if (opt.stats_pixels < 0)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "stats_pixels must be 0 (exact) or positive");
  /* the result is thrown away: only the norms' statistics are kept */
  opt.strength = 1.0f;
  opt.preserve_colors = false;
  opt.stats = NULL;
  opt.rows = NULL;
  ImpastoImage small = { 0 }, sink = { 0 };
  const ImpastoImage *src = in;
  ImpastoStatus st = imp_image_check (in, in, &opt, err);
  if (!st && opt.stats_pixels > 0 && (int64_t) in->width * in->height > opt.stats_pixels) {
    st = sample_image (in, opt.stats_pixels, &small, err);
    src = &small;
  }
  if (!st) {
    sink = (ImpastoImage) { .width = src->width, .height = src->height,
                            .channels = src->channels, .type = IMPASTO_PIXEL_U8 };
    sink.data_u8 = imp_alloc ((size_t) src->width * (size_t) src->height,
                              (size_t) src->channels, "statistics run output", err);
    if (!sink.data_u8)
      st = IMPASTO_E_NOMEM;
  }
  ImpastoStats *s = st ? NULL : stats_new (m, imp_model_bn_image (m, &opt), err);
  if (!st && !s)
    st = IMPASTO_E_NOMEM;
  if (!st) {
    m->stats_record = s;
    st = imp_model_stylize (m, src, &sink, &opt, err);
    m->stats_record = NULL;
  }
  for (int i = 0; !st && i < m->n_steps; i++)
    if (s->offset[i] >= 0 && !s->recorded[i])
      st = imp_fail (err, IMPASTO_E_ARGUMENT, "internal error: norm step %d ran "
                     "without recording its statistics", i);
  imp_free (small.type == IMPASTO_PIXEL_U8 ? (void *) small.data_u8 : (void *) small.data);
  imp_free (sink.data_u8);
  if (st)
    impasto_stats_free (s);
  else
    *stats = s;
  return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Regions.                                                                                     */

/* How far (in input pixels) the value of one output pixel can depend on input pixels away from
 * its own position: the receptive field's reach, from the steps' kernels, strides, pads and
 * resampling.  Each value carries its reach and its scale (input pixels per pixel of it); a step
 * takes the largest reach of its inputs.  Refused for an op whose reach is the whole image or
 * unknown. */
static ImpastoStatus receptive_reach (const ImpastoModel *m, int *reach, ImpastoError *err)
{
  const ImpGraph *g = m->graph;
  double *ext = imp_alloc0 ((size_t) g->n_values, 2 * sizeof (double), "receptive field", err);
  if (!ext)
    return IMPASTO_E_NOMEM;
  double *scale = ext + g->n_values;
  for (int v = 0; v < g->n_values; v++)
    scale[v] = 1.0;
  ImpastoStatus st = IMPASTO_OK;
  for (int i = 0; !st && i < m->n_steps; i++) {
    const ImpStep *s = &m->steps[i];
    double e = 0, sc = scale[s->inputs[0]];
    for (int k = 0; k < s->n_inputs; k++)
      if (!g->values[s->inputs[k]].is_const)
        e = IMP_MAX (e, ext[s->inputs[k]]);
    if (s->op == &imp_op_conv) {
      const ImpConvShape *c = &s->u.conv.shape;
      int reach_h = IMP_MAX (c->pad_t, (c->kh - 1) * c->dil_h - c->pad_t);
      int reach_w = IMP_MAX (c->pad_l, (c->kw - 1) * c->dil_w - c->pad_l);
      e += IMP_MAX (reach_h, reach_w) * sc;
      sc *= IMP_MAX (c->stride_h, c->stride_w);
    } else if (s->op == &imp_op_convt) {
      const ImpConvTShape *c = &s->u.convt.shape;
      int r = IMP_MAX (IMP_MAX (c->pad_t, (c->kh - 1) * c->dil_h - c->pad_t),
                       IMP_MAX (c->pad_l, (c->kw - 1) * c->dil_w - c->pad_l));
      int stride = IMP_MIN (c->stride_h, c->stride_w);
      e += ((double) r / stride + 1) * sc;
      sc /= stride;
    } else if (s->op == &imp_op_pad) {
      e += IMP_MAX (IMP_MAX (s->u.pad.t, s->u.pad.b), IMP_MAX (s->u.pad.l, s->u.pad.r)) * sc;
    } else if (s->op == &imp_op_resize) {
      if (s->u.resize.size_h > 0 || !(s->u.resize.scale_h > 0) || !(s->u.resize.scale_w > 0)) {
        st = imp_fail (err, IMPASTO_E_UNSUPPORTED, "a resize to a fixed size");
        imp_node_context (g, s->node, err);
        break;
      }
      e += sc; /* nearest: a source pixel up to one away */
      sc /= IMP_MIN (s->u.resize.scale_h, s->u.resize.scale_w);
    } else if (s->op != &imp_op_instnorm && s->op != &imp_op_batchnorm && s->op != &imp_op_unary
               && s->op != &imp_op_binary && s->op != &imp_op_concat && s->op != &imp_op_identity) {
      st = imp_fail (err, IMPASTO_E_UNSUPPORTED,
                     "a region cannot equal the whole result: the op mixes the whole image");
      imp_node_context (g, s->node, err);
      break;
    }
    ext[s->output] = e;
    scale[s->output] = sc;
  }
  if (!st)
    *reach = (int) ceil (ext[m->output]) + 1;
  imp_free (ext);
  return st;
}

static size_t elem_size (const ImpastoImage *im)
{
  return im->type == IMPASTO_PIXEL_U8 ? 1 : sizeof (float);
}

static size_t stride_of (const ImpastoImage *im)
{
  return im->stride ? im->stride : (size_t) im->width * (size_t) im->channels;
}

/* The pixel at (x, y) of an image, as bytes. */
static char *pixel_at (const ImpastoImage *im, int64_t x, int64_t y)
{
  char *base = im->type == IMPASTO_PIXEL_U8 ? (char *) im->data_u8 : (char *) im->data;
  return base + ((size_t) y * stride_of (im) + (size_t) x * (size_t) im->channels) * elem_size (im);
}

ImpastoStatus impasto_stylize_region (ImpastoModel *m, const ImpastoImage *in, int x, int y,
                                      ImpastoImage *out, const ImpastoOptions *o,
                                      ImpastoError *err)
{
  imp_error_clear (err);
  ImpastoOptions defaults;
  if (!o) {
    impasto_options_init (&defaults);
    o = &defaults;
  }
  if (!m || !in || !out)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "no model or image");
  ImpastoStatus st = imp_image_check (in, in, o, err);
  if (st || (st = imp_image_check (out, out, o, err)) || (st = imp_stats_check (m, o->stats, err)))
    return st;
  if (o->rows)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "a region is returned whole: options->rows must "
                     "be NULL");
  if (out->channels != in->channels)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "the region's image must have the input's channels");
  if (x < 0 || y < 0 || x > in->width - out->width || y > in->height - out->height)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "the region %d,%d %dx%d is not inside the %dx%d image",
                     x, y, out->width, out->height, in->width, in->height);
  bool norms = false, bn_image = imp_model_bn_image (m, o);
  for (int i = 0; i < m->n_steps; i++)
    norms |= m->steps[i].op == &imp_op_instnorm || (bn_image && m->steps[i].op == &imp_op_batchnorm);
  if (norms && !o->stats)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "a region needs the whole image's statistics "
                     "(impasto_stats_compute)");
  int reach;
  if ((st = receptive_reach (m, &reach, err)))
    return st;
  /* The crop starts on the network's stride grid, so that its downsampled layers sample the
   * same pixels as the whole image's; where it meets the image's edge it pads as the whole does. */
  int64_t mult = m->size_multiple;
  int64_t x0 = IMP_MAX (0, x - reach) / mult * mult, y0 = IMP_MAX (0, y - reach) / mult * mult;
  int64_t x1 = IMP_MIN (in->width, (int64_t) x + out->width + reach);
  int64_t y1 = IMP_MIN (in->height, (int64_t) y + out->height + reach);
  ImpastoImage crop = { .width = (int) (x1 - x0), .height = (int) (y1 - y0),
                        .channels = in->channels, .stride = stride_of (in), .type = in->type };
  if (in->type == IMPASTO_PIXEL_U8)
    crop.data_u8 = (uint8_t *) pixel_at (in, x0, y0);
  else
    crop.data = (float *) pixel_at (in, x0, y0);
  ImpastoImage res = { .width = crop.width, .height = crop.height, .channels = in->channels,
                       .type = out->type };
  void *buf = imp_alloc ((size_t) crop.width * (size_t) crop.height,
                         (size_t) in->channels * elem_size (out), "region", err);
  if (!buf)
    return IMPASTO_E_NOMEM;
  if (out->type == IMPASTO_PIXEL_U8)
    res.data_u8 = buf;
  else
    res.data = buf;
  m->stats_use = o->stats;
  m->keep_buffers = true;
  st = imp_model_stylize (m, &crop, &res, o, err);
  m->keep_buffers = false;
  m->stats_use = NULL;
  size_t row = (size_t) out->width * (size_t) out->channels * elem_size (out);
  for (int r = 0; !st && r < out->height; r++)
    memcpy (pixel_at (out, 0, r), pixel_at (&res, x - x0, y - y0 + r), row);
  imp_free (buf);
  return st;
}
