/* style.c — arbitrary style: a pack of two networks, a style computed once from any image, and
 * its application to content images.
 *
 * Magenta (Ghiasi et al. 2017): the predictor maps a 256x256 style crop to a vector; the transfer
 * net takes the content and that vector.  The vector is bound into the transfer net as a constant
 * (impasto_model_load_with_inputs): its 1x1 convs fold at load, the conditional scale and shift
 * become per-channel constants, and the net runs whole or banded like a fast net.  The pack keeps
 * the net made for the last vector, so a batch with one style prepares it once.
 *
 * AdaIN (Huang & Belongie 2017): the encoder's features of the style give per-channel means and
 * standard deviations (the style); the content's features are renormalised to them here, between
 * the encoder and the decoder graphs. */
#include "image.h"
#include "exec.h"
#include "model.h"
#include "op.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STYLE_MIN_SIDE 8
#define STYLE_MAX_PIXELS ((size_t) 1 << 26) /* 67 MP: far beyond what the style needs */
#define MAGENTA_SIDE 256   /* the predictor's trained input: short side 256, centre crop */
#define ADAIN_MAX_SHORT 512
#define ADAIN_MAX_LONG 4096
#define ADAIN_MIN_SHORT 16 /* reflect pads and three poolings need a few pixels */
#define ADAIN_EPS 1e-5     /* pytorch-AdaIN's calc_mean_std */

struct ImpastoPack {
  ImpastoFamily family;
  ImpastoModel *first;  /* predictor or encoder (RGB in) */
  ImpastoModel *second; /* decoder, or the transfer net bound to the vector `bound` */
  char *transfer_path;
  char *vector_name;    /* the transfer net's vector input */
  int64_t vector_dims[4];
  size_t n_values;      /* a style's values: the vector, or means then deviations */
  float *bound;
  int channels;         /* AdaIN: feature channels */
  int multiple;         /* AdaIN: total pooling stride */
};

struct ImpastoStyleDesc {
  ImpastoFamily family;
  size_t n;
  float *v;
};

static char *dup_string (const char *s)
{
  size_t n = strlen (s) + 1;
  char *d = malloc (n);
  if (d)
    memcpy (d, s, n);
  return d;
}

/* Prefix err's message with which network of the pack it is about. */
static void pack_context (ImpastoError *err, const char *which)
{
  size_t n = strlen (which), len = strnlen (err->message, IMPASTO_ERROR_MAX - 1);
  if (n + 2 >= IMPASTO_ERROR_MAX)
    return;
  len = IMP_MIN (len, IMPASTO_ERROR_MAX - 1 - n - 2); /* the message's end gives way */
  memmove (err->message + n + 2, err->message, len);
  memcpy (err->message, which, n);
  memcpy (err->message + n, ": ", 2);
  err->message[n + 2 + len] = '\0';
}

void impasto_pack_free (ImpastoPack *p)
{
  if (!p)
    return;
  impasto_model_free (p->first);
  impasto_model_free (p->second);
  free (p->transfer_path);
  free (p->vector_name);
  free (p->bound);
  free (p);
}

ImpastoFamily impasto_pack_family (const ImpastoPack *p)
{
  return p ? p->family : 0;
}

/* Declared channel count of value v (dims[1]), or -1. */
static int64_t declared_channels (const ImpastoModel *m, int v)
{
  const ImpTensor *t = &m->graph->values[v].t;
  return t->rank == 4 ? t->dims[1] : -1;
}

/* The transfer net's style vector input: the one of shape [1, K, 1, 1]. */
static ImpastoStatus find_vector_input (ImpastoPack *p, const char *path, ImpastoError *err)
{
  ImpGraph *g = imp_onnx_load (path, err);
  if (!g)
    return err->code;
  ImpastoStatus st = IMPASTO_OK;
  for (int i = 0; i < g->n_inputs && !p->vector_name; i++) {
    const ImpValue *v = &g->values[g->inputs[i]];
    if (v->t.rank == 4 && v->t.dims[1] > 3 && v->t.dims[2] == 1 && v->t.dims[3] == 1) {
      p->vector_name = dup_string (v->name);
      memcpy (p->vector_dims, v->t.dims, sizeof p->vector_dims);
      p->vector_dims[0] = 1;
      if (!p->vector_name)
        st = imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    }
  }
  if (!st && (!p->vector_name || g->n_inputs != 2))
    st = imp_fail (err, IMPASTO_E_UNSUPPORTED,
                   "%s: not a Magenta transfer net (inputs: an RGB image and a style vector [1, K, 1, 1])",
                   path);
  imp_graph_free (g);
  return st;
}

/* The transfer net for vector v (kept while the next vector is the same). */
static ImpastoStatus bind_vector (ImpastoPack *p, const float *v, ImpastoError *err)
{
  if (p->second && !memcmp (p->bound, v, p->n_values * sizeof (float)))
    return IMPASTO_OK;
  ImpastoInput in = { .name = p->vector_name, .rank = 4, .data = v };
  memcpy (in.dims, p->vector_dims, sizeof p->vector_dims);
  ImpastoModel *m = imp_model_load_net (p->transfer_path, 1, &in, true, err);
  if (!m) {
    pack_context (err, "transfer net");
    return err->code;
  }
  impasto_model_free (p->second);
  p->second = m;
  memcpy (p->bound, v, p->n_values * sizeof (float));
  return IMPASTO_OK;
}

static ImpastoStatus load_magenta (ImpastoPack *p, const char *predictor, const char *transfer,
                                   ImpastoError *err)
{
  if (!(p->first = imp_model_load_net (predictor, 0, NULL, true, err))) {
    pack_context (err, "style predictor");
    return err->code;
  }
  ImpastoStatus st = find_vector_input (p, transfer, err);
  if (st) {
    pack_context (err, "transfer net");
    return st;
  }
  int64_t k = declared_channels (p->first, p->first->output);
  if (k != p->vector_dims[1])
    return imp_fail (err, IMPASTO_E_SHAPE,
                     "the style predictor gives %lld values, the transfer net takes %lld",
                     (long long) k, (long long) p->vector_dims[1]);
  p->n_values = (size_t) k;
  if (!(p->transfer_path = dup_string (transfer)))
    return imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
  p->bound = calloc (p->n_values, sizeof (float));
  float *zero = calloc (p->n_values, sizeof (float));
  if (!p->bound || !zero) {
    free (zero);
    return imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
  }
  st = bind_vector (p, zero, err); /* loads and checks the transfer net now, not at first use */
  free (zero);
  return st;
}

/* Product of the pooling strides: the content's H and W are padded to a multiple of it. */
static int pooling_multiple (const ImpastoModel *m)
{
  int mult = 1;
  for (int i = 0; i < m->n_steps && mult < 256; i++)
    if (m->steps[i].op == &imp_op_maxpool)
      mult *= m->steps[i].u.maxpool.shape.sh;
  return mult;
}

static ImpastoStatus load_adain (ImpastoPack *p, const char *encoder, const char *decoder,
                                 ImpastoError *err)
{
  if (!(p->first = imp_model_load_net (encoder, 0, NULL, true, err))) {
    pack_context (err, "encoder");
    return err->code;
  }
  if (!(p->second = imp_model_load_net (decoder, 0, NULL, false, err))) {
    pack_context (err, "decoder");
    return err->code;
  }
  int64_t ce = declared_channels (p->first, p->first->output);
  int64_t cd = declared_channels (p->second, p->second->input);
  if (ce < 1 || ce > 65536 || ce != cd)
    return imp_fail (err, IMPASTO_E_SHAPE,
                     "the encoder gives %lld feature channels, the decoder takes %lld",
                     (long long) ce, (long long) cd);
  p->channels = (int) ce;
  p->n_values = 2 * (size_t) ce;
  /* pytorch-AdaIN's networks work on 0..1 images; the decoder's output is clamped to 0..1 */
  p->first->in_scale = p->second->out_scale = 1.0f;
  p->first->in_offset = p->second->out_offset = 0.0f;
  p->multiple = pooling_multiple (p->first);
  return IMPASTO_OK;
}

ImpastoPack *impasto_pack_load (ImpastoFamily family, const char *first, const char *second,
                                ImpastoError *err)
{
  imp_error_clear (err);
  bool magenta = family == IMPASTO_FAMILY_MAGENTA;
  if (!magenta && family != IMPASTO_FAMILY_ADAIN) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "unknown model family %d", (int) family);
    return NULL;
  }
  if (!first || !first[0] || !second || !second[0]) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "the %s pack has no %s", magenta ? "Magenta" : "AdaIN",
              !first || !first[0] ? (magenta ? "style predictor" : "encoder")
                                  : (magenta ? "transfer net" : "decoder"));
    return NULL;
  }
  ImpastoPack *p = calloc (1, sizeof *p);
  if (!p) {
    imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    return NULL;
  }
  p->family = family;
  ImpastoStatus st = magenta ? load_magenta (p, first, second, err) : load_adain (p, first, second, err);
  if (st) {
    impasto_pack_free (p);
    return NULL;
  }
  return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Style images.                                                                                */

static int64_t mirror (int64_t i, int64_t n)
{
  if (n == 1)
    return 0;
  int64_t period = 2 * (n - 1), r = i % period;
  r = r < 0 ? r + period : r;
  return r < n ? r : period - r;
}

typedef struct {
  int64_t lo, hi;
  float t;
} Tap;

/* Bilinear taps as TensorFlow's resize (half-pixel centres, no antialiasing), which is how the
 * Magenta predictor's inputs were made (ref/README.md). */
static Tap bilinear_tap (int64_t o, int64_t in_size, int64_t out_size)
{
  float scale = (float) in_size / (float) out_size;
  float c = ((float) o + 0.5f) * scale - 0.5f;
  float f = floorf (c);
  Tap t = { (int64_t) f, (int64_t) ceilf (c), c - f };
  t.lo = t.lo < 0 ? 0 : t.lo;
  t.hi = t.hi > in_size - 1 ? in_size - 1 : t.hi;
  return t;
}

/* The image resized to rh x rw, window [oy, oy + ch) x [ox, ox + cw) of it (mirrored where it
 * falls outside), into dst [3, ch, cw], 0..1. */
static void resample (const ImpastoImage *im, int64_t rh, int64_t rw, int64_t oy, int64_t ox,
                      int64_t ch, int64_t cw, float *dst)
{
  size_t plane = (size_t) ch * (size_t) cw;
  for (int64_t y = 0; y < ch; y++) {
    Tap ty = bilinear_tap (mirror (oy + y, rh), im->height, rh);
    for (int64_t x = 0; x < cw; x++) {
      Tap tx = bilinear_tap (mirror (ox + x, rw), im->width, rw);
      float a[3], b[3], c[3], d[3];
      imp_image_get_rgb (im, tx.lo, ty.lo, a);
      imp_image_get_rgb (im, tx.hi, ty.lo, b);
      imp_image_get_rgb (im, tx.lo, ty.hi, c);
      imp_image_get_rgb (im, tx.hi, ty.hi, d);
      for (int k = 0; k < 3; k++) {
        float top = a[k] + (b[k] - a[k]) * tx.t, bottom = c[k] + (d[k] - c[k]) * tx.t;
        dst[(size_t) k * plane + (size_t) y * (size_t) cw + (size_t) x] = top + (bottom - top) * ty.t;
      }
    }
  }
}

/* Size of the image scaled so that its short side is short_side. */
static void scaled_size (const ImpastoImage *im, double short_side, int64_t *h, int64_t *w)
{
  double s = short_side / (double) IMP_MIN (im->width, im->height);
  *h = IMP_MAX ((int64_t) 1, (int64_t) llround (im->height * s));
  *w = IMP_MAX ((int64_t) 1, (int64_t) llround (im->width * s));
}

static ImpastoStatus check_style_image (const ImpastoImage *im, const ImpastoOptions *o,
                                        ImpastoError *err)
{
  if (!im || (im->type == IMPASTO_PIXEL_U8 ? !im->data_u8 : !im->data) || im->channels < 1
      || im->channels > 4)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "no style image");
  if (im->width < STYLE_MIN_SIDE || im->height < STYLE_MIN_SIDE)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "style image too small: %d x %d (at least %d x %d)",
                     im->width, im->height, STYLE_MIN_SIDE, STYLE_MIN_SIDE);
  if ((size_t) im->width * (size_t) im->height > STYLE_MAX_PIXELS)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "style image too large: %d x %d (at most %zu megapixels)",
                     im->width, im->height, STYLE_MAX_PIXELS / 1000000);
  if (o->style_scale != 0.0f && !(o->style_scale >= 0.25f && o->style_scale <= 4.0f))
    return imp_fail (err, IMPASTO_E_ARGUMENT, "style scale must be between 0.25 and 4 (got %g)",
                     o->style_scale);
  return IMPASTO_OK;
}

static ImpastoStatus run_net (ImpastoModel *m, float *data, int64_t c, int64_t h, int64_t w,
                              int threads, ImpTensor *out, ImpastoError *err)
{
  imp_model_ensure_pool (m, threads);
  ImpTensor in = { .dtype = IMP_DT_FLOAT, .rank = 4, .dims = { 1, c, h, w }, .data = data };
  return imp_model_exec (m, &in, out, NULL, NULL, err);
}

/* Magenta: the predictor's vector for im, short side 256 * scale, centre 256 x 256. */
static ImpastoStatus magenta_vector (ImpastoPack *p, const ImpastoImage *im, float scale,
                                     int threads, float *v, ImpastoError *err)
{
  int64_t rh, rw, side = MAGENTA_SIDE;
  scaled_size (im, MAGENTA_SIDE * (double) scale, &rh, &rw);
  float *data = imp_alloc (3 * (size_t) side, (size_t) side * sizeof (float), "style input", err);
  if (!data)
    return IMPASTO_E_NOMEM;
  /* floor division: a window larger than the resized image starts before it (mirrored) */
  int64_t oy = (rh - side) >= 0 ? (rh - side) / 2 : -((side - rh + 1) / 2);
  int64_t ox = (rw - side) >= 0 ? (rw - side) / 2 : -((side - rw + 1) / 2);
  resample (im, rh, rw, oy, ox, side, side, data);
  ImpTensor out = { 0 };
  ImpastoStatus st = run_net (p->first, data, 3, side, side, threads, &out, err);
  imp_free (data);
  if (st) {
    pack_context (err, "style predictor");
    return st;
  }
  if (imp_tensor_count (&out) != p->n_values)
    st = imp_fail (err, IMPASTO_E_SHAPE, "style predictor: the output has %zu values, not %zu",
                   imp_tensor_count (&out), p->n_values);
  else
    memcpy (v, out.data, p->n_values * sizeof (float));
  imp_free (out.data);
  return st;
}

/* Per-channel mean and standard deviation (unbiased variance + eps, as pytorch-AdaIN) of
 * features f [c, hw]. */
static ImpastoStatus feature_stats (const float *f, int c, size_t hw, float *mean, float *std,
                                    ImpastoError *err)
{
  if (hw < 2)
    return imp_fail (err, IMPASTO_E_SHAPE, "the features are a single pixel: no statistics");
  for (int k = 0; k < c; k++) {
    const float *x = f + (size_t) k * hw;
    double s = 0, ss = 0;
    for (size_t i = 0; i < hw; i++)
      s += x[i];
    double m = s / (double) hw;
    for (size_t i = 0; i < hw; i++)
      ss += (x[i] - m) * (x[i] - m);
    mean[k] = (float) m;
    std[k] = (float) sqrt (ss / (double) (hw - 1) + ADAIN_EPS);
  }
  return IMPASTO_OK;
}

static ImpastoStatus check_features (const ImpastoPack *p, const ImpTensor *t, ImpastoError *err)
{
  if (t->rank != 4 || t->dims[0] != 1 || t->dims[1] != p->channels)
    return imp_fail (err, IMPASTO_E_SHAPE, "encoder: the output is not [1, %d, H, W]", p->channels);
  return IMPASTO_OK;
}

/* AdaIN: the statistics of im's features, short side min(short, 512) * scale. */
static ImpastoStatus adain_stats (ImpastoPack *p, const ImpastoImage *im, float scale, int threads,
                                  float *v, ImpastoError *err)
{
  int64_t rh, rw;
  double short_side = IMP_MIN (IMP_MIN (im->width, im->height), ADAIN_MAX_SHORT) * (double) scale;
  double longest = short_side * IMP_MAX (im->width, im->height) / IMP_MIN (im->width, im->height);
  if (longest > ADAIN_MAX_LONG) /* a panorama: bound the work by its long side */
    short_side *= ADAIN_MAX_LONG / longest;
  scaled_size (im, IMP_MAX (short_side, (double) ADAIN_MIN_SHORT), &rh, &rw);
  float *data = imp_alloc (3 * (size_t) rh, (size_t) rw * sizeof (float), "style input", err);
  if (!data)
    return IMPASTO_E_NOMEM;
  resample (im, rh, rw, 0, 0, rh, rw, data);
  ImpTensor f = { 0 };
  ImpastoStatus st = run_net (p->first, data, 3, rh, rw, threads, &f, err);
  imp_free (data);
  if (st)
    pack_context (err, "encoder");
  if (!st && !(st = check_features (p, &f, err)))
    st = feature_stats (f.data, p->channels, imp_spatial_count (&f), v, v + p->channels, err);
  imp_free (f.data);
  return st;
}

static ImpastoStyleDesc *style_new (const ImpastoPack *p, ImpastoError *err)
{
  ImpastoStyleDesc *s = calloc (1, sizeof *s);
  if (s && !(s->v = calloc (p->n_values, sizeof (float)))) {
    free (s);
    s = NULL;
  }
  if (!s) {
    imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    return NULL;
  }
  s->family = p->family;
  s->n = p->n_values;
  return s;
}

void impasto_style_free (ImpastoStyleDesc *s)
{
  if (!s)
    return;
  free (s->v);
  free (s);
}

const float *impasto_style_values (const ImpastoStyleDesc *s, size_t *count)
{
  if (count)
    *count = s ? s->n : 0;
  return s ? s->v : NULL;
}

ImpastoStyleDesc *impasto_style_new_from_image (ImpastoPack *p, const ImpastoImage *image,
                                            const ImpastoOptions *options, ImpastoError *err)
{
  imp_error_clear (err);
  ImpastoOptions defaults;
  if (!options) {
    impasto_options_init (&defaults);
    options = &defaults;
  }
  if (!p) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "no model pack");
    return NULL;
  }
  if (check_style_image (image, options, err))
    return NULL;
  float scale = options->style_scale != 0.0f ? options->style_scale : 1.0f;
  ImpastoStyleDesc *s = style_new (p, err);
  if (!s)
    return NULL;
  ImpastoStatus st = p->family == IMPASTO_FAMILY_MAGENTA
                   ? magenta_vector (p, image, scale, options->threads, s->v, err)
                   : adain_stats (p, image, scale, options->threads, s->v, err);
  if (st) {
    impasto_style_free (s);
    return NULL;
  }
  return s;
}

ImpastoStyleDesc *impasto_style_mix (const ImpastoStyleDesc *a, const ImpastoStyleDesc *b, float w,
                                 ImpastoError *err)
{
  imp_error_clear (err);
  if (!a || !b || a->family != b->family || a->n != b->n) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "the styles to mix must come from the same model pack");
    return NULL;
  }
  if (!(w >= 0.0f && w <= 1.0f)) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "the mix weight must be between 0 and 1 (got %g)", w);
    return NULL;
  }
  ImpastoStyleDesc *s = calloc (1, sizeof *s);
  if (!s || !(s->v = malloc (a->n * sizeof (float)))) {
    free (s);
    imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
    return NULL;
  }
  s->family = a->family;
  s->n = a->n;
  /* AdaIN is affine in (mean, std) for a given content, so mixing the statistics equals mixing
   * the AdaIN outputs, as the paper interpolates styles.  The end points copy exactly. */
  for (size_t i = 0; i < a->n; i++)
    s->v[i] = w == 0.0f ? a->v[i] : w == 1.0f ? b->v[i] : (1.0f - w) * a->v[i] + w * b->v[i];
  return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Content.                                                                                     */

static ImpastoStatus stylize_magenta (ImpastoPack *p, const ImpastoStyleDesc *style,
                                      const ImpastoImage *in, ImpastoImage *out,
                                      const ImpastoOptions *o, ImpastoError *err)
{
  float a = o->strength;
  float *v = malloc (p->n_values * sizeof (float));
  if (!v)
    return imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
  ImpastoStatus st = IMPASTO_OK;
  if (a == 1.0f) {
    memcpy (v, style->v, p->n_values * sizeof (float));
  } else if (!(st = magenta_vector (p, in, 1.0f, o->threads, v, err))) {
    /* Magenta's identity interpolation: the content's own vector at strength 0 */
    for (size_t i = 0; i < p->n_values; i++)
      v[i] = a == 0.0f ? v[i] : a * style->v[i] + (1.0f - a) * v[i];
  }
  if (!st)
    st = bind_vector (p, v, err);
  free (v);
  if (st)
    return st;
  ImpastoOptions run = *o;
  run.strength = 1.0f; /* the strength went into the vector */
  return impasto_stylize (p->second, in, out, &run, err);
}

/* f (content features [c, hw]) <- a * AdaIN(f, style) + (1 - a) * f */
static ImpastoStatus adain_apply (const ImpastoPack *p, const ImpastoStyleDesc *style, float a,
                                  float *f, size_t hw, ImpastoError *err)
{
  int c = p->channels;
  float *stats = malloc (2 * (size_t) c * sizeof (float));
  if (!stats)
    return imp_fail (err, IMPASTO_E_NOMEM, "out of memory");
  ImpastoStatus st = feature_stats (f, c, hw, stats, stats + c, err);
  for (int k = 0; !st && k < c; k++) {
    float *x = f + (size_t) k * hw;
    float mc = stats[k], sc = stats[c + k], ms = style->v[k], ss = style->v[c + k];
    for (size_t i = 0; i < hw; i++) {
      float t = (x[i] - mc) / sc * ss + ms;
      x[i] = a == 1.0f ? t : a * t + (1.0f - a) * x[i];
    }
  }
  free (stats);
  return st;
}

static ImpastoStatus stylize_adain (ImpastoPack *p, const ImpastoStyleDesc *style,
                                    const ImpastoImage *in, ImpastoImage *out,
                                    const ImpastoOptions *o, ImpastoError *err)
{
  int64_t mult = p->multiple, min = IMP_MAX (ADAIN_MIN_SHORT, mult);
  int64_t ph = IMP_MAX ((in->height + mult - 1) / mult * mult, min);
  int64_t pw = IMP_MAX ((in->width + mult - 1) / mult * mult, min);
  imp_model_ensure_pool (p->first, o->threads);
  float *data = imp_alloc (3 * (size_t) ph, (size_t) pw * sizeof (float), "model input", err);
  if (!data)
    return IMPASTO_E_NOMEM;
  imp_image_input_rows (p->first, in, 0, ph, pw, data, p->first->pool); /* [3, ph, pw], mirrored */
  ImpTensor f = { 0 }, y = { 0 };
  ImpastoStatus st = run_net (p->first, data, 3, ph, pw, o->threads, &f, err);
  imp_free (data);
  if (st)
    pack_context (err, "encoder");
  if (!st)
    st = check_features (p, &f, err);
  if (!st && o->progress && !o->progress (0.4, o->progress_data))
    st = imp_fail (err, IMPASTO_E_CANCELLED, "cancelled");
  if (!st && o->strength != 0.0f)
    st = adain_apply (p, style, o->strength, f.data, imp_spatial_count (&f), err);
  if (!st && (st = run_net (p->second, f.data, f.dims[1], f.dims[2], f.dims[3], o->threads, &y, err)))
    pack_context (err, "decoder");
  imp_free (f.data);
  if (!st && (y.rank != 4 || y.dims[1] != 3 || y.dims[2] < in->height || y.dims[3] < in->width))
    st = imp_fail (err, IMPASTO_E_SHAPE, "decoder: the output is not an RGB image of the content's size");
  if (!st) {
    ImpastoOptions run = *o;
    run.strength = 1.0f; /* applied to the features */
    st = imp_image_compose_rows (p->second, in, y.data, 0, y.dims[2], y.dims[3], &run, out,
                                 p->first->pool, err);
    if (!st && o->progress && !o->progress (1.0, o->progress_data))
      st = imp_fail (err, IMPASTO_E_CANCELLED, "cancelled");
  }
  imp_free (y.data);
  return st;
}

ImpastoStatus impasto_stylize_with_style (ImpastoPack *p, const ImpastoStyleDesc *style,
                                          const ImpastoImage *content, ImpastoImage *out,
                                          const ImpastoOptions *options, ImpastoError *err)
{
  imp_error_clear (err);
  ImpastoOptions defaults;
  if (!options) {
    impasto_options_init (&defaults);
    options = &defaults;
  }
  if (!p || !style)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "no model pack or no style");
  if (style->family != p->family || style->n != p->n_values)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "the style was not made with this model pack");
  ImpastoStatus st = imp_image_check (content, out, options, err);
  if (st)
    return st;
  return p->family == IMPASTO_FAMILY_MAGENTA ? stylize_magenta (p, style, content, out, options, err)
                                             : stylize_adain (p, style, content, out, options, err);
}
