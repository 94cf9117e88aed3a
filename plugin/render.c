/* render.c — the stylisation worker (shared by preview and final render) and GEGL pixel I/O.
 *
 * Threads: GIMP's wire protocol (PDB calls, tile transfers of GEGL buffers) belongs to the main
 * thread, so pixels are read and written there; only impasto_job_run runs in a worker thread, and it
 * touches nothing but the job's own memory and model.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "render.h"

#include <gdk-pixbuf/gdk-pixbuf.h>

#include "i18n.h"

#include <math.h>
#include <string.h>

#define POLL_INTERVAL_US 50000   /* how often the final render updates GIMP's progress bar */
#define ESTIMATE_AFTER_US 2000000 /* the time left is guessed only after this much run time */
#define MIN_NET_EDGE 16          /* the network never sees a side shorter than this */
#define STROKE_MIN 0.25
#define STROKE_MAX 4.0

GQuark
impasto_plugin_error_quark (void)
{
  return g_quark_from_static_string ("impasto-plugin-error-quark");
}

/* ---------------------------------------------------------------- the job and its worker */

static gsize
element_size (const ImpastoImage *image)
{
  return image->type == IMPASTO_PIXEL_U8 ? 1 : sizeof (float);
}

static void *
image_pixels (const ImpastoImage *image)
{
  return image->type == IMPASTO_PIXEL_U8 ? (void *) image->data_u8 : (void *) image->data;
}

static gboolean
image_alloc (ImpastoImage *image, gint width, gint height, gint channels, gboolean u8)
{
  gsize count;
  image->type = u8 ? IMPASTO_PIXEL_U8 : IMPASTO_PIXEL_FLOAT;
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4 ||
      !g_size_checked_mul (&count, (gsize) width, (gsize) height) ||
      !g_size_checked_mul (&count, count, (gsize) channels) ||
      !g_size_checked_mul (&count, count, element_size (image)))
    return FALSE;
  void *pixels = g_try_malloc (count);
  if (u8)
    image->data_u8 = pixels;
  else
    image->data = pixels;
  image->width = width;
  image->height = height;
  image->channels = channels;
  image->stride = (size_t) width * (size_t) channels;
  return pixels != NULL;
}

gboolean
impasto_image_alloc (ImpastoImage *image, gint width, gint height, gint channels, gboolean u8)
{
  return image_alloc (image, width, height, channels, u8);
}

void
impasto_image_clear (ImpastoImage *image)
{
  g_free (image->data);
  g_free (image->data_u8);
  *image = (ImpastoImage) { 0 };
}

/* The babl format of an engine image: gamma-encoded sRGB (babl's default space), as the engine's
 * pixels are, so resampling works on the values the network sees. */
const Babl *
impasto_image_format (const ImpastoImage *image)
{
  static const gchar *const models[] = { "Y'", "Y'A", "R'G'B'", "R'G'B'A" };
  gchar *name = g_strdup_printf ("%s %s", models[image->channels - 1],
                                 image->type == IMPASTO_PIXEL_U8 ? "u8" : "float");
  const Babl *format = babl_format (name);
  g_free (name);
  return format;
}

static void
set_out_of_memory (GError **error, gint width, gint height)
{
  g_set_error (error, IMPASTO_PLUGIN_ERROR, 0, _("Not enough memory to stylise %d × %d pixels"),
               width, height);
}

ImpastoJob *
impasto_job_new (const gchar *model_path, ImpastoModel *model, gint width, gint height,
                 gint channels, gboolean u8, const ImpastoParams *params, GError **error)
{
  ImpastoJob *job = g_new0 (ImpastoJob, 1);

  job->model_path = g_strdup (model_path);
  job->model = model;
  job->params = *params;
  job->net_scale = 1.0;
  job->scale = 1.0;
  if (!image_alloc (&job->in, width, height, channels, u8) ||
      !image_alloc (&job->out, width, height, channels, u8))
    {
      set_out_of_memory (error, width, height);
      impasto_job_free (job);
      return NULL;
    }
  return job;
}

void
impasto_job_free (ImpastoJob *job)
{
  if (job == NULL)
    return;
  if (job->thread != NULL)
    g_thread_join (job->thread);
  if (job->owns_model)
    impasto_model_free (job->model);
  impasto_style_free (job->style);
  impasto_pack_free (job->pack);
  g_free (job->style_image[0].data_u8);
  g_free (job->style_image[1].data_u8);
  impasto_stats_free (job->stats_out);
  g_free (job->in.data);
  g_free (job->in.data_u8);
  g_free (job->out.data);
  g_free (job->out.data_u8);
  g_free (job->model_path);
  g_free (job);
}

static bool
job_progress (double fraction, void *user_data)
{
  ImpastoJob *job = user_data;
  g_atomic_int_set (&job->fraction_ppm, (gint) (CLAMP (fraction, 0.0, 1.0) * 1e6));
  /* Only the preview ever cancels; the final render's job is never cancelled. */
  return !g_atomic_int_get (&job->cancelled);
}

static gboolean
job_done_idle (gpointer user_data)
{
  ImpastoJob *job = user_data;
  job->done_func (job, job->done_data);
  return G_SOURCE_REMOVE;
}

gdouble
impasto_net_scale (const ImpastoParams *params, gint width, gint height)
{
  const gdouble stroke = CLAMP (params->stroke_size > 0.0 ? params->stroke_size : 1.0, STROKE_MIN,
                                STROKE_MAX);
  const gdouble shortest = MAX (1, MIN (width, height));
  return MAX (1.0 / stroke, MIN (1.0, MIN_NET_EDGE / shortest));
}

/* Pixels [x, x + dst->width) x [y, y + dst->height) of src resampled to width x height (same
 * channels and type) with GEGL: reduced by gegl_buffer_get's box filter, enlarged by
 * gegl:scale-size's linear sampler (gegl_buffer_get's bilinear filter darkens the edges: it
 * ignores the clamping abyss).  Only the pixels the rectangle needs are computed, and they are the
 * same as in the whole resampled image (the 1:1 preview at a stroke size relies on that). */
static void
resample_rect (const ImpastoImage *src, gint width, gint height, gint x, gint y, ImpastoImage *dst)
{
  const Babl *format = impasto_image_format (src);
  const gint dst_stride = (gint) (dst->stride * element_size (dst));
  GeglBuffer *buffer = gegl_buffer_linear_new_from_data (
      image_pixels (src), format, GEGL_RECTANGLE (0, 0, src->width, src->height),
      (gint) (src->stride * element_size (src)), NULL, NULL);
  const gdouble scale = (gdouble) width / src->width;
  if (scale <= 1.0)
    gegl_buffer_get (buffer, GEGL_RECTANGLE (x, y, dst->width, dst->height), scale, format,
                     image_pixels (dst), dst_stride, GEGL_ABYSS_CLAMP | GEGL_BUFFER_FILTER_BOX);
  else
    {
      GeglNode *graph = gegl_node_new ();
      GeglNode *source = gegl_node_new_child (graph, "operation", "gegl:buffer-source", "buffer",
                                              buffer, NULL);
      GeglNode *enlarge = gegl_node_new_child (
          graph, "operation", "gegl:scale-size", "x", (gdouble) width, "y", (gdouble) height,
          "sampler", GEGL_SAMPLER_LINEAR, "abyss-policy", GEGL_ABYSS_CLAMP, NULL);
      gegl_node_link (source, enlarge);
      gegl_node_blit (enlarge, 1.0, GEGL_RECTANGLE (x, y, dst->width, dst->height), format,
                      image_pixels (dst), dst_stride, GEGL_BLIT_DEFAULT);
      g_object_unref (graph);
    }
  g_object_unref (buffer);
}

/* Resample src into dst (same channels and type; the sizes give the factor). */
static void
resample (const ImpastoImage *src, ImpastoImage *dst)
{
  resample_rect (src, dst->width, dst->height, 0, 0, dst);
}

void
impasto_net_size (gint width, gint height, gdouble net_scale, gint *net_width, gint *net_height)
{
  *net_width = MAX (1, (gint) lround (width * net_scale));
  *net_height = MAX (1, (gint) lround (height * net_scale));
}

/* out = in + strength * (out - in) on the colour channels; alpha copied from in (the network ran
 * on a resampled copy, so neither its blend nor its alpha is exact at this size). */
static void
blend_with_source (const ImpastoImage *in, ImpastoImage *out, gdouble strength)
{
  const gint c = in->channels;
  const gboolean alpha = (c == 2 || c == 4);
  const gsize count = (gsize) in->width * (gsize) in->height * (gsize) c;
  for (gsize i = 0; i < count; i++)
    {
      const gboolean is_alpha = alpha && (gint) (i % (gsize) c) == c - 1;
      if (in->type == IMPASTO_PIXEL_U8)
        {
          const gdouble v = in->data_u8[i] + strength * (out->data_u8[i] - in->data_u8[i]);
          out->data_u8[i] = is_alpha ? in->data_u8[i] : (guint8) CLAMP (lrint (v), 0, 255);
        }
      else
        out->data[i] = is_alpha ? in->data[i]
                                : in->data[i] + (gfloat) strength * (out->data[i] - in->data[i]);
    }
}

/* The pack and the (mixed) style of an arbitrary-style job, made once. */
static ImpastoStatus
pack_prepare (ImpastoJob *job)
{
  const ImpastoParams *p = &job->params;
  if (job->style != NULL)
    return IMPASTO_OK;
  if (p->style_net == NULL || p->style == NULL)
    {
      job->error.code = IMPASTO_E_ARGUMENT;
      g_snprintf (job->error.message, sizeof job->error.message, "%s",
                  p->style == NULL ? "this style takes a style image (style-file or style-layer)"
                                   : "the pack's sidecar names no predictor / encoder network");
      return job->error.code;
    }
  if (job->pack == NULL
      && !(job->pack = impasto_pack_load (p->family, p->style_net, job->model_path, &job->error)))
    return job->error.code;
  ImpastoStyleDesc *a = impasto_style_new_from_image (job->pack, p->style, NULL, &job->error);
  ImpastoStyleDesc *b = a && p->style2 ? impasto_style_new_from_image (job->pack, p->style2, NULL, &job->error) : NULL;
  if (a && p->style2 && b)
    job->style = impasto_style_mix (a, b, (float) p->mix, &job->error);
  else if (a && !p->style2)
    job->style = g_steal_pointer (&a);
  impasto_style_free (a);
  impasto_style_free (b);
  return job->style != NULL ? IMPASTO_OK : job->error.code;
}

static void
engine_options (ImpastoJob *job, ImpastoOptions *options, gdouble strength)
{
  impasto_options_init (options);
  options->strength = (float) strength;
  options->preserve_colors = job->params.preserve_colors;
  options->tile_size = job->params.tile_size;
  options->batchnorm = job->params.batchnorm;
  options->progress = job_progress;
  options->progress_data = job;
}

static ImpastoStatus
engine_run (ImpastoJob *job, const ImpastoImage *in, ImpastoImage *out, gdouble strength)
{
  ImpastoOptions options;
  engine_options (job, &options, strength);
  if (job->params.family != 0)
    {
      /* strength goes into the features: the job blends nothing afterwards (stylize_scaled) */
      ImpastoStatus st = pack_prepare (job);
      return st ? st : impasto_stylize_with_style (job->pack, job->style, in, out, &options, &job->error);
    }
  return impasto_stylize (job->model, in, out, &options, &job->error);
}

static ImpastoStatus
job_fail (ImpastoJob *job, ImpastoStatus status, const gchar *message)
{
  job->error.code = status;
  g_snprintf (job->error.message, sizeof job->error.message, "%s", message);
  return status;
}

static gboolean
stroke_resamples (const ImpastoJob *job)
{
  return fabs (job->net_scale - 1.0) >= 1e-6;
}

/* whole as the network sees it: itself, or at a stroke size resampled as the final render
 * resamples it, into the caller's cache job->scaled (made when its size is not the one wanted:
 * the resampling depends on the sizes alone). */
static const ImpastoImage *
net_whole (ImpastoJob *job)
{
  if (!stroke_resamples (job))
    return job->whole;
  gint w, h;
  impasto_net_size (job->whole->width, job->whole->height, job->net_scale, &w, &h);
  ImpastoImage *scaled = job->scaled;
  if (scaled->width == w && scaled->height == h)
    return scaled;
  impasto_image_clear (scaled);
  if (!image_alloc (scaled, w, h, job->whole->channels, job->whole->type == IMPASTO_PIXEL_U8))
    {
      impasto_image_clear (scaled);
      job_fail (job, IMPASTO_E_NOMEM, "not enough memory for the network's copy of the image");
      return NULL;
    }
  resample (job->whole, scaled);
  return scaled;
}

/* The region of the final result at a stroke size.  The network's copy net of whole is stylised
 * where the resampling back reads it for this region (the region's footprint in net plus the
 * sampler's reach), with net's statistics; that part is put into an otherwise empty image of
 * net's size and resampled back exactly as the final render resamples the whole result, for the
 * region's pixels only; then blended with in as stylize_scaled blends. */
static ImpastoStatus
region_scaled (ImpastoJob *job, const ImpastoImage *net, const ImpastoOptions *options)
{
  const gdouble fx = (gdouble) net->width / job->whole->width;
  const gdouble fy = (gdouble) net->height / job->whole->height;
  /* box reduction reads 1 / scale source pixels per pixel, the linear sampler one either side */
  const gint margin = (gint) ceil (MAX (fx, fy)) + 2;
  const gint x0 = MAX (0, (gint) floor (job->region_x * fx) - margin);
  const gint y0 = MAX (0, (gint) floor (job->region_y * fy) - margin);
  const gint x1 = MIN (net->width, (gint) ceil ((job->region_x + job->out.width) * fx) + margin);
  const gint y1 = MIN (net->height, (gint) ceil ((job->region_y + job->out.height) * fy) + margin);
  const gboolean u8 = job->out.type == IMPASTO_PIXEL_U8;
  const gint c = job->out.channels;
  ImpastoImage part = { 0 }, canvas = { 0 };
  gsize bytes;
  if (!image_alloc (&part, x1 - x0, y1 - y0, c, u8)
      || !g_size_checked_mul (&bytes, (gsize) net->width * (gsize) c, (gsize) net->height)
      || !g_size_checked_mul (&bytes, bytes, u8 ? 1 : sizeof (gfloat)))
    {
      impasto_image_clear (&part);
      return job_fail (job, IMPASTO_E_NOMEM, "not enough memory for the preview");
    }
  /* zero pages that nothing reads: only the part's rows are ever touched */
  void *pixels = g_try_malloc0 (bytes);
  if (pixels == NULL)
    {
      impasto_image_clear (&part);
      return job_fail (job, IMPASTO_E_NOMEM, "not enough memory for the preview");
    }
  canvas = (ImpastoImage) { .width = net->width, .height = net->height, .channels = c,
                            .stride = (size_t) net->width * (size_t) c,
                            .type = u8 ? IMPASTO_PIXEL_U8 : IMPASTO_PIXEL_FLOAT };
  if (u8)
    canvas.data_u8 = pixels;
  else
    canvas.data = pixels;
  ImpastoStatus status = impasto_stylize_region (job->model, net, x0, y0, &part, options,
                                                 &job->error);
  if (status == IMPASTO_OK)
    {
      const gsize elem = element_size (&part), row = (gsize) part.width * (gsize) c * elem;
      for (gint r = 0; r < part.height; r++)
        memcpy ((gchar *) pixels + (((gsize) (y0 + r) * canvas.stride) + (gsize) x0 * (gsize) c) * elem,
                (const gchar *) image_pixels (&part) + (gsize) r * part.stride * elem, row);
      resample_rect (&canvas, job->whole->width, job->whole->height, job->region_x,
                     job->region_y, &job->out);
      blend_with_source (&job->in, &job->out, job->params.strength);
    }
  impasto_image_clear (&part);
  g_free (pixels);
  return status;
}

/* The 1:1 preview's two halves: the statistics of what the network sees of whole (once per style
 * and stroke size), or a region with them, which equals the same region of the final layer. */
static ImpastoStatus
engine_run_whole (ImpastoJob *job)
{
  ImpastoOptions options;
  /* at a stroke size the blend follows at full size, as in stylize_scaled */
  engine_options (job, &options, stroke_resamples (job) ? 1.0 : job->params.strength);
  const ImpastoImage *net = net_whole (job);
  if (net == NULL)
    return job->error.code;
  if (job->want_stats)
    return impasto_stats_compute (job->model, net, &options, &job->stats_out, &job->error);
  options.stats = job->stats;
  if (stroke_resamples (job))
    return region_scaled (job, net, &options);
  return impasto_stylize_region (job->model, job->whole, job->region_x, job->region_y, &job->out,
                                 &options, &job->error);
}

/* Stroke size: the network runs on in resampled by net_scale, its result is resampled back and
 * blended with in at full size. */
static ImpastoStatus
stylize_scaled (ImpastoJob *job)
{
  if (fabs (job->net_scale - 1.0) < 1e-6)
    return engine_run (job, &job->in, &job->out, job->params.strength);

  gint w, h;
  impasto_net_size (job->in.width, job->in.height, job->net_scale, &w, &h);
  const gboolean u8 = job->in.type == IMPASTO_PIXEL_U8;
  ImpastoImage small_in = { 0 }, small_out = { 0 };
  ImpastoStatus status;
  if (!image_alloc (&small_in, w, h, job->in.channels, u8) ||
      !image_alloc (&small_out, w, h, job->in.channels, u8))
    {
      job->error.code = IMPASTO_E_NOMEM;
      g_snprintf (job->error.message, sizeof job->error.message,
                  "not enough memory for the network's %d x %d copy", w, h);
      status = IMPASTO_E_NOMEM;
    }
  else
    {
      resample (&job->in, &small_in);
      gboolean pack = job->params.family != 0; /* strength in feature space */
      status = engine_run (job, &small_in, &small_out, pack ? job->params.strength : 1.0);
      if (status == IMPASTO_OK)
        {
          resample (&small_out, &job->out);
          blend_with_source (&job->in, &job->out, pack ? 1.0 : job->params.strength);
        }
    }
  g_free (small_in.data);
  g_free (small_in.data_u8);
  g_free (small_out.data);
  g_free (small_out.data_u8);
  return status;
}

void
impasto_job_run (ImpastoJob *job)
{
  memset (&job->error, 0, sizeof job->error);
  if (job->params.strength <= 0.0)
    {
      /* Strength 0 is the source itself: no model, no network. */
      memcpy (image_pixels (&job->out), image_pixels (&job->in),
              job->in.stride * (gsize) job->in.height * element_size (&job->in));
      job->status = IMPASTO_OK;
      g_atomic_int_set (&job->done, 1);
      if (job->done_func != NULL)
        g_idle_add (job_done_idle, job);
      return;
    }
  if (job->model == NULL && job->params.family == 0)
    {
      job->model = impasto_model_load (job->model_path, &job->error);
      job->owns_model = (job->model != NULL);
    }
  if (job->model == NULL && job->params.family == 0)
    job->status = job->error.code != IMPASTO_OK ? job->error.code : IMPASTO_E_IO;
  else if (g_atomic_int_get (&job->cancelled))
    job->status = IMPASTO_E_CANCELLED;
  else if (job->whole != NULL && job->params.family == 0)
    job->status = engine_run_whole (job);
  else
    job->status = stylize_scaled (job);
  g_atomic_int_set (&job->done, 1);
  if (job->done_func != NULL)
    g_idle_add (job_done_idle, job);
}

static gpointer
job_thread (gpointer user_data)
{
  impasto_job_run (user_data);
  return NULL;
}

void
impasto_job_start (ImpastoJob *job)
{
  job->thread = g_thread_new ("impasto-worker", job_thread, job);
}

void
impasto_job_cancel (ImpastoJob *job)
{
  g_atomic_int_set (&job->cancelled, 1);
}

gboolean
impasto_job_is_done (ImpastoJob *job)
{
  return g_atomic_int_get (&job->done) != 0;
}

gdouble
impasto_job_fraction (ImpastoJob *job)
{
  return g_atomic_int_get (&job->fraction_ppm) / 1e6;
}

ImpastoModel *
impasto_job_steal_model (ImpastoJob *job)
{
  ImpastoModel *model = job->model;
  job->owns_model = FALSE;
  return model;
}

/* ---------------------------------------------------------------- GEGL I/O */

static gboolean
read_style_file (GFile *file, ImpastoImage *image, GError **error)
{
  gchar *path = g_file_get_path (file);
  GError *gerr = NULL;
  GdkPixbuf *raw = path != NULL ? gdk_pixbuf_new_from_file (path, &gerr) : NULL;
  GdkPixbuf *pixbuf = raw != NULL ? gdk_pixbuf_apply_embedded_orientation (raw) : NULL;
  g_clear_object (&raw);
  gboolean ok = pixbuf != NULL && gdk_pixbuf_get_bits_per_sample (pixbuf) == 8
             && gdk_pixbuf_get_colorspace (pixbuf) == GDK_COLORSPACE_RGB;
  if (ok)
    {
      gint w = gdk_pixbuf_get_width (pixbuf), h = gdk_pixbuf_get_height (pixbuf);
      gint n = gdk_pixbuf_get_n_channels (pixbuf), rs = gdk_pixbuf_get_rowstride (pixbuf);
      ok = image_alloc (image, w, h, n, TRUE);
      const guint8 *src = gdk_pixbuf_read_pixels (pixbuf);
      for (gint y = 0; ok && y < h; y++)
        memcpy (image->data_u8 + (gsize) y * image->stride, src + (gsize) y * (gsize) rs, (gsize) w * (gsize) n);
      if (!ok)
        set_out_of_memory (error, w, h);
    }
  else
    {
      gchar *name = g_file_get_parse_name (file);
      g_set_error (error, IMPASTO_PLUGIN_ERROR, 0, _("Cannot read the style image %s: %s"), name,
                   gerr != NULL ? gerr->message : _("not an 8-bit RGB picture"));
      g_free (name);
    }
  g_clear_error (&gerr);
  g_clear_object (&pixbuf);
  g_free (path);
  return ok;
}

static gboolean
read_style_layer (GimpDrawable *drawable, ImpastoImage *image, GError **error)
{
  gint w = gimp_drawable_get_width (drawable), h = gimp_drawable_get_height (drawable);
  if (!image_alloc (image, w, h, impasto_drawable_channels (drawable), TRUE))
    {
      set_out_of_memory (error, w, h);
      return FALSE;
    }
  impasto_read_pixels (drawable, 0, 0, 1.0, FALSE, image);
  return TRUE;
}

gboolean
impasto_job_read_style (ImpastoJob *job, GObject *config, const ImpastoStyle *style,
                        GError **error)
{
  ImpastoParams *p = &job->params;
  p->family = 0;
  p->style = p->style2 = NULL;
  gboolean magenta = g_strcmp0 (style->family, "magenta") == 0;
  if (!magenta && g_strcmp0 (style->family, "adain") != 0)
    return TRUE;
  /* the pack's networks: the sidecar names them, or NAME.onnx is the transfer net / decoder */
  const gchar *main_net = impasto_style_network (style, magenta ? "transfer" : "decoder");
  if (main_net == NULL && !style->is_pack)
    main_net = style->path;
  if (main_net != NULL)
    {
      g_free (job->model_path);
      job->model_path = g_strdup (main_net);
    }
  GFile *file = NULL, *file2 = NULL;
  GimpDrawable *layer = NULL;
  g_object_get (config, "style-file", &file, "style-layer", &layer, "style2-file", &file2, "mix",
                &p->mix, NULL);
  p->family = magenta ? IMPASTO_FAMILY_MAGENTA : IMPASTO_FAMILY_ADAIN;
  p->style_net = impasto_style_network (style, magenta ? "predictor" : "encoder");
  gboolean ok = layer != NULL ? read_style_layer (layer, &job->style_image[0], error)
              : file != NULL  ? read_style_file (file, &job->style_image[0], error)
              : (g_set_error (error, IMPASTO_PLUGIN_ERROR, 0,
                              _("The style %s takes a style image: give style-file or style-layer."),
                              style->name), FALSE);
  if (ok)
    p->style = &job->style_image[0];
  if (ok && file2 != NULL && (ok = read_style_file (file2, &job->style_image[1], error)))
    p->style2 = &job->style_image[1];
  g_clear_object (&file);
  g_clear_object (&file2);
  g_clear_object (&layer);
  return ok;
}

gint
impasto_drawable_channels (GimpDrawable *drawable)
{
  return (gimp_drawable_is_gray (drawable) ? 1 : 3) + (gimp_drawable_has_alpha (drawable) ? 1 : 0);
}

gboolean
impasto_drawable_is_8bit (GimpDrawable *drawable)
{
  const Babl *format = gimp_drawable_get_format (drawable);
  return babl_format_get_bytes_per_pixel (format) == babl_format_get_n_components (format);
}

const Babl *
impasto_drawable_format (GimpDrawable *drawable, gboolean with_alpha, gboolean u8, gboolean native)
{
  const gchar *model;
  if (gimp_drawable_is_gray (drawable))
    model = with_alpha ? "Y'A" : "Y'";
  else
    model = with_alpha ? "R'G'B'A" : "R'G'B'";
  gchar *name = g_strdup_printf ("%s %s", model, u8 ? "u8" : "float");
  /* A format without a space is sRGB: babl converts the image's profile to it on reading and back
   * on writing, so a ProPhoto layer looks like its sRGB twin. */
  const Babl *format = native ? babl_format_with_space (name, gimp_drawable_get_format (drawable))
                              : babl_format (name);
  g_free (name);
  return format;
}

void
impasto_read_pixels (GimpDrawable *drawable, gdouble x, gdouble y, gdouble scale,
                     gboolean native, const ImpastoImage *image)
{
  GeglBuffer *buffer = gimp_drawable_get_buffer (drawable);
  const Babl *format = impasto_drawable_format (drawable, gimp_drawable_has_alpha (drawable),
                                                image->type == IMPASTO_PIXEL_U8, native);
  /* gegl_buffer_get takes the rectangle in the reduced coordinates. */
  gegl_buffer_get (buffer,
                   GEGL_RECTANGLE ((gint) lround (x * scale), (gint) lround (y * scale),
                                   image->width, image->height),
                   scale, format, image_pixels (image),
                   (gint) (image->stride * element_size (image)),
                   scale < 1.0 ? GEGL_ABYSS_CLAMP | GEGL_BUFFER_FILTER_BOX : GEGL_ABYSS_NONE);
  g_object_unref (buffer);
}

gchar *
impasto_drawable_refusal (GimpDrawable *drawable)
{
  if (gimp_drawable_is_indexed (drawable))
    return g_strdup (_("Style Transfer works on RGB and grayscale layers, and this image is "
                       "indexed (a palette image, whose few colours cannot hold a painting). "
                       "Convert it first with Image ▸ Mode ▸ RGB."));
  return NULL;
}

/* The selection's coverage (0..1) of [x, y, width, height] in image coordinates into *mask, or
 * NULL when nothing is selected (everything counts as selected).  FALSE when out of memory. */
static gboolean
read_selection (GimpImage *image, gint x, gint y, gint width, gint height, gfloat **mask_out)
{
  *mask_out = NULL;
  if (gimp_selection_is_empty (image))
    return TRUE;
  gfloat *mask = g_try_new (gfloat, (gsize) width * (gsize) height);
  if (mask == NULL)
    return FALSE;
  GimpSelection *selection = gimp_image_get_selection (image);
  GeglBuffer *buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (selection));
  gegl_buffer_get (buffer, GEGL_RECTANGLE (x, y, width, height), 1.0, babl_format ("Y float"),
                   mask, GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  g_object_unref (buffer);
  *mask_out = mask;
  return TRUE;
}

/* The stylised pixels with the selection applied as alpha: channels + 1 when the source has no
 * alpha but a selection limits the result.  Returns a new buffer of the image's element type, or
 * NULL when out of memory. */
static void *
apply_selection (const ImpastoImage *styled, gboolean has_alpha, const gfloat *mask,
                 gint *out_channels)
{
  const gint in_c = styled->channels;
  const gint out_c = has_alpha ? in_c : in_c + 1;
  const gint colours = has_alpha ? in_c - 1 : in_c;
  const gsize pixels = (gsize) styled->width * (gsize) styled->height;
  const gboolean u8 = styled->type == IMPASTO_PIXEL_U8;
  void *out = g_try_malloc (pixels * (gsize) out_c * element_size (styled));
  if (out == NULL)
    return NULL;

  for (gsize i = 0; i < pixels; i++)
    {
      const gsize s = i * (gsize) in_c, d = i * (gsize) out_c;
      if (u8)
        {
          guint8 *dst = (guint8 *) out + d;
          memcpy (dst, styled->data_u8 + s, (gsize) colours);
          const gfloat alpha = has_alpha ? styled->data_u8[s + in_c - 1] : 255.0f;
          dst[out_c - 1] = (guint8) (alpha * mask[i] + 0.5f);
        }
      else
        {
          gfloat *dst = (gfloat *) out + d;
          memcpy (dst, styled->data + s, (gsize) colours * sizeof (gfloat));
          const gfloat alpha = has_alpha ? styled->data[s + in_c - 1] : 1.0f;
          dst[out_c - 1] = alpha * mask[i];
        }
    }
  *out_channels = out_c;
  return out;
}

static GimpImageType
layer_type_for (GimpDrawable *source, gboolean alpha)
{
  if (gimp_drawable_is_gray (source))
    return alpha ? GIMP_GRAYA_IMAGE : GIMP_GRAY_IMAGE;
  return alpha ? GIMP_RGBA_IMAGE : GIMP_RGB_IMAGE;
}

/* "TITLE — about N s left" from the fraction done after elapsed seconds (a straight-line guess),
 * or NULL while it is too early to guess.  g_free() it. */
static gchar *
time_left_text (const gchar *title, gdouble fraction, gdouble elapsed)
{
  if (fraction < 0.01 || fraction >= 1.0 || elapsed * 1e6 < ESTIMATE_AFTER_US)
    return NULL;
  const gdouble left = elapsed * (1.0 - fraction) / fraction;
  if (left >= 90.0)
    return g_strdup_printf (_("%s — about %d min left"), title, (gint) lround (left / 60.0));
  return g_strdup_printf (_("%s — about %d s left"), title, MAX (1, (gint) lround (left)));
}

/* Run job in a worker thread while this (main) thread drives GIMP's progress bar and, once a
 * second, its text with the time left. */
static void
run_with_progress (ImpastoJob *job, const gchar *title)
{
  const gint64 start = g_get_monotonic_time ();
  gint64 last_text = 0;
  impasto_job_start (job);
  while (!impasto_job_is_done (job))
    {
      const gdouble fraction = impasto_job_fraction (job);
      const gint64 now = g_get_monotonic_time ();
      gimp_progress_update (fraction);
      if (now - last_text >= G_USEC_PER_SEC)
        {
          gchar *text = time_left_text (title, fraction, (now - start) / 1e6);
          if (text != NULL)
            {
              gimp_progress_set_text (text);
              last_text = now;
            }
          g_free (text);
        }
      g_usleep (POLL_INTERVAL_US);
    }
  g_thread_join (job->thread);
  job->thread = NULL;
  gimp_progress_update (1.0);
}

/* Create the new layer above source and fill [x, y, w, h] with pixels (format with channels). */
static GimpLayer *
write_layer (GimpImage *image, GimpLayer *source, const gchar *name, gint x, gint y, gint w,
             gint h, const void *pixels, gint channels, gboolean alpha, gboolean u8,
             gboolean native)
{
  GimpDrawable *src = GIMP_DRAWABLE (source);
  gint off_x, off_y;
  gimp_drawable_get_offsets (src, &off_x, &off_y);
  const gint width = gimp_drawable_get_width (src);
  const gint height = gimp_drawable_get_height (src);

  gimp_image_undo_group_start (image);

  GimpLayer *layer = gimp_layer_new (image, name, width, height, layer_type_for (src, alpha),
                                     100.0, GIMP_LAYER_MODE_NORMAL);
  GimpItem *parent = gimp_item_get_parent (GIMP_ITEM (source));
  gint position = gimp_image_get_item_position (image, GIMP_ITEM (source));
  gimp_image_insert_layer (image, layer, parent != NULL ? GIMP_LAYER (parent) : NULL, position);
  gimp_layer_set_offsets (layer, off_x, off_y);

  GeglBuffer *buffer = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  if (alpha)
    gegl_buffer_clear (buffer, NULL);
  const Babl *format = impasto_drawable_format (src, alpha, u8, native);
  gegl_buffer_set (buffer, GEGL_RECTANGLE (x, y, w, h), 0, format, pixels,
                   (gint) ((gsize) w * (gsize) channels * (u8 ? 1 : sizeof (gfloat))));
  g_object_unref (buffer); /* flushes the tiles to GIMP */
  gimp_drawable_update (GIMP_DRAWABLE (layer), 0, 0, width, height);

  gimp_image_undo_group_end (image);
  return layer;
}

GimpLayer *
impasto_render_layer (GimpImage *image, GimpLayer *source, const gchar *model_path,
                      const gchar *layer_name, const gchar *title, const ImpastoParams *params,
                      GObject *config, const ImpastoStyle *style, GError **error)
{
  GimpDrawable *src = GIMP_DRAWABLE (source);
  gint x, y, w, h, off_x, off_y;

  if (!gimp_drawable_mask_intersect (src, &x, &y, &w, &h) || w <= 0 || h <= 0)
    {
      g_set_error (error, IMPASTO_PLUGIN_ERROR, 0,
                   _("The selection does not touch the layer: there is nothing to stylise."));
      return NULL;
    }
  gimp_drawable_get_offsets (src, &off_x, &off_y);

  const gboolean has_alpha = gimp_drawable_has_alpha (src);
  const gboolean u8 = impasto_drawable_is_8bit (src);
  ImpastoJob *job = impasto_job_new (model_path, NULL, w, h, impasto_drawable_channels (src), u8,
                                     params, error);
  if (job == NULL)
    return NULL;
  if (!impasto_job_read_style (job, config, style, error))
    {
      impasto_job_free (job);
      return NULL;
    }
  /* Strength 0 copies: the pixels travel in the layer's own space, untouched. */
  const gboolean native = params->strength <= 0.0;
  job->net_scale = impasto_net_scale (params, w, h);
  impasto_read_pixels (src, x, y, 1.0, native, &job->in);
  gfloat *mask;
  if (!read_selection (image, off_x + x, off_y + y, w, h, &mask))
    {
      set_out_of_memory (error, w, h);
      impasto_job_free (job);
      return NULL;
    }

  if (native)
    impasto_job_run (job);
  else
    run_with_progress (job, title);
  if (job->status != IMPASTO_OK)
    {
      gchar *model = g_path_get_basename (model_path);
      g_set_error (error, IMPASTO_PLUGIN_ERROR, job->status,
                   _("Style transfer with the model %s failed: %s"), model,
                   job->error.message[0] != '\0' ? job->error.message : "?");
      g_free (model);
      g_free (mask);
      impasto_job_free (job);
      return NULL;
    }

  GimpLayer *layer = NULL;
  if (mask != NULL)
    {
      gint channels;
      void *pixels = apply_selection (&job->out, has_alpha, mask, &channels);
      if (pixels == NULL)
        set_out_of_memory (error, w, h);
      else
        layer = write_layer (image, source, layer_name, x, y, w, h, pixels, channels, TRUE, u8,
                             native);
      g_free (pixels);
    }
  else
    layer = write_layer (image, source, layer_name, x, y, w, h, image_pixels (&job->out),
                         job->out.channels, has_alpha, u8, native);
  g_free (mask);
  impasto_job_free (job);
  return layer;
}
