/* impasto-dialog.c — the Style Transfer dialog: style list with thumbnails, strength, stroke size,
 * preserve-colours toggle, an "Advanced" expander, and a preview of the whole layer or a zoomed part
 * of it, plain or split (before | after) with a draggable divider.
 *
 * The preview runs the same worker as the final render (impasto_job_run) in a thread.  At most one
 * preview job runs at a time: a setting change, a pan or a zoom cancels the running job (its
 * progress callback then returns false) and queues a new one, started when the old one has
 * finished.  The last result stays on screen (drawn where it belongs in the new view) until the
 * next one is ready, so nothing flashes; a turning arc in the preview's corner says that work is
 * going on (drawn here: GtkSpinner's icon is missing from the icon theme plug-ins get).
 *
 * At 1:1 the preview is the result (issue 12): the network runs on the visible region plus its
 * receptive margin with the normalisation statistics of the whole area the final render stylises
 * (impasto_stylize_region), so the preview equals that region of the final layer.  The statistics
 * cost one run over the area, once per style and stroke size (a stats job, not cancelled by a pan
 * or a zoom); the area's pixels are read once, and with a stroke size that resamples, the
 * resampled copy the network sees is made once too (the worker keeps it here).  The last 1:1
 * result is kept: a pan computes only the band that comes into sight (docs/tiling.md).  Zoomed
 * out the preview is computed on its own copy as before, and says so.
 *
 * "Get more styles…" beside the style list (built with libcurl) opens the catalogue window
 * (impasto-catalogue.c); after an install the model folders are scanned again, the style list is
 * rebuilt and the new style chosen.  Preview jobs may still point into the old list or borrow a
 * model cached under the same name, so those are kept until the dialog ends.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "impasto-dialog.h"

#include <libgimp/gimpui.h>
#include <math.h>
#include <string.h>

#include "i18n.h"
#include "plugin-defs.h"
#include "render.h"
#ifdef IMPASTO_HAVE_MODELS_INSTALL
#include "impasto-catalogue.h"
#endif

#define PREVIEW_WIDTH  480     /* preview area in screen pixels (the dialog keeps this size) */
#define PREVIEW_HEIGHT 360
#define PREVIEW_BUDGET 1.0e6   /* most network pixels one preview may cost (about 1.5 s) */
#define THUMBNAIL_EDGE 96      /* the chosen style's picture */
#define LIST_THUMB_EDGE 40     /* thumbnails in the style list */
#define DIVIDER_GRAB 6         /* screen pixels either side of the divider that pick it up */
#define BUSY_RADIUS 9          /* the busy arc in the preview's top-right corner */
#define BUSY_TICK_MS 80

enum { COL_ID, COL_LABEL, COL_THUMB, N_COLS };

/* A picture of part of the layer: its top-left corner in layer pixels and its scale (surface
 * pixels per layer pixel). */
typedef struct {
  cairo_surface_t *surface;
  gdouble          x, y, scale;
} Picture;

typedef enum { DRAG_NONE, DRAG_PAN, DRAG_DIVIDER } DragMode;

typedef struct {
  GimpProcedureConfig    *config;
  GtkWidget              *dialog;
  GimpDrawable           *drawable;
  const ImpastoStyleList *styles;    /* the newest list (*styles_io) */
  ImpastoStyleList      **styles_io;
  ImpastoRescanFunc       rescan;
  const gchar            *install_folder; /* where "Get more styles…" installs; NULL: no button */
  GPtrArray              *retired;   /* lists replaced after an install: preview jobs may point
                                      * into them (a pack's networks), so they live until the end */
  GPtrArray              *retired_models, *retired_stats; /* cached for a style an install
                                      * replaced; a running job may borrow them: freed at the end */
  gboolean                filled;    /* the full dialog is built (not the no-models text) */
  GtkWidget              *body, *empty;
  gint                    layer_w, layer_h;

  GtkWidget  *combo;      /* the style list */
  GtkWidget  *thumbnail;
  GtkWidget  *info;       /* description, author, licence of the chosen style */
  GtkWidget  *style_box;  /* style image choosers, shown for arbitrary-style packs */
  GtkWidget  *area;       /* the preview */
  GtkWidget  *zoom;       /* combo: fit, 50, 100, 200 % */
  GtkWidget  *split;      /* toggle */
  GtkWidget  *status;     /* one line under the preview */

  /* The view: display pixels per layer pixel, and the layer pixel at the area's top left. */
  gdouble     view_scale, view_x, view_y;
  gdouble     divider;    /* split position, 0..1 of the area's width */
  gint        area_w, area_h; /* the size the view was made for */
  Picture     before, after;
  gchar      *note;       /* what the last result is (reduced copy or not) */

  DragMode    drag;
  gdouble     drag_x, drag_y, drag_view_x, drag_view_y;

  GHashTable *models;     /* style id -> ImpastoModel*, loaded by earlier previews */
  /* The 1:1 preview's truth: the pixels the final render reads (the selection's bounds, in the
   * layer's pixel type), read on first need, and each style's statistics of them. */
  ImpastoImage whole;
  gint        whole_x, whole_y, whole_w, whole_h; /* whole_w == 0: nothing to stylise */
  gboolean    whole_u8;
  GHashTable *stats;      /* stats_key () -> ImpastoStats* */
  ImpastoImage scaled;    /* whole as the network sees it at the last stroke size that resamples
                           * (made and replaced by the worker; untouched here while a job runs) */
  /* The last 1:1 preview: the final result's pixels in a rectangle of the layer, and the settings
   * they were computed with.  A pan computes only the band of the new view they do not cover
   * (regions equal the final result, so the pieces join without seams). */
  ImpastoImage last;      /* width 0: none */
  gint        last_x, last_y;
  gchar      *last_key;
  /* the rectangle the running job's part belongs to (part_w 0: the job computes it all) */
  gint        part_x, part_y, part_w, part_h;
  ImpastoJob *running;    /* the preview job in its thread, or NULL */
  gchar      *running_id;
  gchar      *running_key; /* the statistics the running job computes, or NULL */
  gchar      *running_settings; /* what an exact region job computes with (last_key to be) */
  gboolean    pending;    /* the view or a setting changed while a job ran: render again */
  gboolean    closing;
  gint64      started_us; /* when the running job started (for the test log) */
  guint       busy_timer; /* turns the busy arc while a job runs; 0 when idle */
  gint        busy_phase;
} PreviewState;

static const gdouble zoom_levels[] = { 0.0 /* fit */, 0.5, 1.0, 2.0 };

static void start_preview (PreviewState *state);

static gchar *
config_model_id (PreviewState *state)
{
  gchar *id = NULL;
  g_object_get (state->config, "model", &id, NULL);
  return id;
}

static void
set_status (PreviewState *state, const gchar *text)
{
  gtk_label_set_text (GTK_LABEL (state->status), text != NULL ? text : "");
}

static gboolean
busy_tick (gpointer user_data)
{
  PreviewState *state = user_data;
  state->busy_phase = (state->busy_phase + 1) % 12;
  gtk_widget_queue_draw (state->area);
  return G_SOURCE_CONTINUE;
}

static void
set_busy (PreviewState *state, gboolean busy)
{
  if (busy && state->busy_timer == 0)
    state->busy_timer = g_timeout_add (BUSY_TICK_MS, busy_tick, state);
  else if (!busy && state->busy_timer != 0)
    {
      g_source_remove (state->busy_timer);
      state->busy_timer = 0;
    }
  gtk_widget_queue_draw (state->area);
}

static void
picture_set (Picture *picture, cairo_surface_t *surface, gdouble x, gdouble y, gdouble scale)
{
  g_clear_pointer (&picture->surface, cairo_surface_destroy);
  *picture = (Picture) { surface, x, y, scale };
}

/* An 8-bit engine image as a cairo surface (babl converts, alpha premultiplied). */
static cairo_surface_t *
image_surface (const ImpastoImage *image)
{
  cairo_surface_t *surface =
      cairo_image_surface_create (CAIRO_FORMAT_ARGB32, image->width, image->height);
  cairo_surface_flush (surface);
  const Babl *fish = babl_fish (impasto_image_format (image), babl_format ("cairo-ARGB32"));
  guchar *dst = cairo_image_surface_get_data (surface);
  const gint dst_stride = cairo_image_surface_get_stride (surface);
  for (gint y = 0; y < image->height; y++)
    babl_process (fish, image->data_u8 + (gsize) y * image->stride, dst + (gsize) y * dst_stride,
                  image->width);
  cairo_surface_mark_dirty (surface);
  return surface;
}

/* ---------------------------------------------------------------- the view */

static gint
area_width (PreviewState *state)
{
  return MAX (1, gtk_widget_get_allocated_width (state->area));
}

static gint
area_height (PreviewState *state)
{
  return MAX (1, gtk_widget_get_allocated_height (state->area));
}

/* Centre the layer on an axis where it is smaller than the area, else keep the view inside it. */
static gdouble
clamp_axis (gdouble origin, gint layer, gint area, gdouble scale)
{
  const gdouble visible = area / scale;
  if (layer <= visible)
    return (layer - visible) / 2.0;
  return CLAMP (origin, 0.0, layer - visible);
}

static gdouble
chosen_zoom (PreviewState *state)
{
  const gint i = gtk_combo_box_get_active (GTK_COMBO_BOX (state->zoom));
  return i >= 0 && i < (gint) G_N_ELEMENTS (zoom_levels) ? zoom_levels[i] : 0.0;
}

/* Recompute the view after a zoom change or a resize, keeping the centre where it was. */
static void
update_view (PreviewState *state)
{
  const gint aw = area_width (state), ah = area_height (state);
  gdouble zoom = chosen_zoom (state);
  const gboolean fit = zoom <= 0.0;
  if (fit) /* the whole layer, never enlarged */
    zoom = MIN (1.0, MIN ((gdouble) aw / state->layer_w, (gdouble) ah / state->layer_h));
  const gdouble cx = state->view_scale > 0.0 ? state->view_x + aw / (2 * state->view_scale)
                                             : state->layer_w / 2.0;
  const gdouble cy = state->view_scale > 0.0 ? state->view_y + ah / (2 * state->view_scale)
                                             : state->layer_h / 2.0;
  state->view_scale = zoom;
  state->view_x = clamp_axis (cx - aw / (2 * zoom), state->layer_w, aw, zoom);
  state->view_y = clamp_axis (cy - ah / (2 * zoom), state->layer_h, ah, zoom);
}

/* ---------------------------------------------------------------- preview jobs */

/* Show image (a preview's result at (x, y) in layer pixels, scale) as the "after" picture. */
static void
show_after (PreviewState *state, const ImpastoImage *image, gdouble x, gdouble y, gdouble scale,
            gboolean exact, gint computed_w, gint computed_h)
{
  picture_set (&state->after, image_surface (image), x, y, scale);
  gtk_widget_queue_draw (state->area);
  set_status (state, state->note);
  /* For the dialog test, which waits for the preview and finds the area to drag in. */
  if (g_getenv ("IMPASTO_PREVIEW_LOG") != NULL)
    {
      gint ax = 0, ay = 0;
      gtk_widget_translate_coordinates (state->area, state->dialog, 0, 0, &ax, &ay);
      g_printerr ("impasto: preview drawn (%d x %d, %.0f ms; area at %d,%d size %dx%d; "
                  "layer %.0f,%.0f scale %.3f%s; computed %d x %d)\n",
                  image->width, image->height,
                  (g_get_monotonic_time () - state->started_us) / 1000.0, ax, ay,
                  area_width (state), area_height (state), x, y, scale, exact ? ", exact" : "",
                  computed_w, computed_h);
      /* and compares the last one with the final layer */
      const gchar *dump = g_getenv ("IMPASTO_PREVIEW_DUMP");
      if (dump != NULL)
        cairo_surface_write_to_png (state->after.surface, dump);
    }
}

/* Rows [y, y + h) x columns [x, x + w) of src at (sx, sy) into dst at (dx, dy) (8-bit images
 * with the same channels). */
static void
copy_pixels (const ImpastoImage *src, gint sx, gint sy, ImpastoImage *dst, gint dx, gint dy,
             gint w, gint h)
{
  const gsize px = (gsize) src->channels;
  for (gint r = 0; r < h; r++)
    memcpy (dst->data_u8 + (gsize) (dy + r) * dst->stride + (gsize) dx * px,
            src->data_u8 + (gsize) (sy + r) * src->stride + (gsize) sx * px, (gsize) w * px);
}

/* The exact preview job's result: alone, or the part of the view last did not cover, joined to
 * last's pixels; it becomes last. */
static void
exact_done (PreviewState *state, ImpastoJob *job)
{
  ImpastoImage joined = { 0 };
  if (state->part_w > 0 && state->last.width > 0 &&
      impasto_image_alloc (&joined, state->part_w, state->part_h, job->out.channels, TRUE))
    {
      /* the overlap from last, the rest from the job */
      const gint x0 = MAX (state->part_x, state->last_x), y0 = MAX (state->part_y, state->last_y);
      const gint x1 = MIN (state->part_x + state->part_w, state->last_x + state->last.width);
      const gint y1 = MIN (state->part_y + state->part_h, state->last_y + state->last.height);
      copy_pixels (&state->last, x0 - state->last_x, y0 - state->last_y, &joined,
                   x0 - state->part_x, y0 - state->part_y, x1 - x0, y1 - y0);
      copy_pixels (&job->out, 0, 0, &joined, (gint) job->x - state->part_x,
                   (gint) job->y - state->part_y, job->out.width, job->out.height);
      impasto_image_clear (&state->last);
      state->last = joined;
      state->last_x = state->part_x;
      state->last_y = state->part_y;
    }
  else
    {
      impasto_image_clear (&state->last);
      state->last = job->out;
      job->out = (ImpastoImage) { 0 };
      state->last_x = (gint) job->x;
      state->last_y = (gint) job->y;
    }
  g_free (state->last_key);
  state->last_key = g_steal_pointer (&state->running_settings);
  show_after (state, &state->last, state->last_x, state->last_y, 1.0, TRUE,
              state->part_w > 0 ? (gint) job->in.width : state->last.width,
              state->part_w > 0 ? (gint) job->in.height : state->last.height);
}

static void
preview_job_done (ImpastoJob *job, gpointer user_data)
{
  PreviewState *state = user_data;
  const gboolean cancelled = g_atomic_int_get (&job->cancelled) != 0;

  state->running = NULL;
  /* The style may have been replaced meanwhile (a style of the same name installed from the
   * catalogue): what the job loaded or measured then belongs to the old one. */
  const ImpastoStyle *now = impasto_style_list_find (state->styles, state->running_id);
  const gboolean same_style = now != NULL && g_strcmp0 (now->path, job->model_path) == 0;
  if (job->owns_model && same_style)
    g_hash_table_replace (state->models, g_strdup (state->running_id),
                          impasto_job_steal_model (job));

  if (job->want_stats)
    {
      /* Kept even when the view moved meanwhile: they belong to the style, not the view. */
      if (job->status == IMPASTO_OK && same_style && state->running_key != NULL)
        {
          g_hash_table_replace (state->stats, g_strdup (state->running_key), job->stats_out);
          job->stats_out = NULL;
          state->pending = TRUE; /* now the region itself */
        }
      else if (!state->closing && !cancelled)
        {
          gchar *text = g_strdup_printf (_("Preview with %s failed: %s"), state->running_id,
                                         job->error.message);
          set_status (state, text);
          g_free (text);
        }
    }
  else if (!state->closing && !cancelled && !state->pending)
    {
      if (job->status == IMPASTO_OK && job->whole != NULL)
        {
          if (!same_style) /* shown, but not joined to later views of the new style */
            g_clear_pointer (&state->running_settings, g_free);
          exact_done (state, job);
        }
      else if (job->status == IMPASTO_OK)
        show_after (state, &job->out, job->x, job->y, job->scale, FALSE, job->out.width,
                    job->out.height);
      else
        {
          gchar *text = g_strdup_printf (_("Preview with %s failed: %s"), state->running_id,
                                         job->error.message);
          set_status (state, text);
          g_free (text);
        }
    }
  g_clear_pointer (&state->running_id, g_free);
  g_clear_pointer (&state->running_key, g_free);
  g_clear_pointer (&state->running_settings, g_free);
  impasto_job_free (job);

  if (state->pending && !state->closing)
    {
      state->pending = FALSE;
      start_preview (state);
    }
  else
    set_busy (state, FALSE);
}

/* What the preview computes for the current view: the visible part of the layer, read at the
 * display's scale when zoomed out (never above 1:1), and the network's scale for it: the stroke
 * size's, unless that would cost more than PREVIEW_BUDGET network pixels (then *reduced). */
static gboolean
preview_region (PreviewState *state, const ImpastoParams *params, gdouble *x, gdouble *y,
                gint *width, gint *height, gdouble *scale, gdouble *net_scale, gboolean *reduced)
{
  const gdouble s = MIN (1.0, state->view_scale);
  const gdouble x0 = MAX (0.0, floor (state->view_x));
  const gdouble y0 = MAX (0.0, floor (state->view_y));
  const gdouble x1 = MIN (state->layer_w, ceil (state->view_x + area_width (state) / state->view_scale));
  const gdouble y1 = MIN (state->layer_h, ceil (state->view_y + area_height (state) / state->view_scale));
  const glong sx = lround (x0 * s), sy = lround (y0 * s);
  *width = (gint) MAX (1, lround (x1 * s) - sx);
  *height = (gint) MAX (1, lround (y1 * s) - sy);
  *x = sx / s;
  *y = sy / s;
  *scale = s;
  const gdouble truth = impasto_net_scale (params, state->layer_w, state->layer_h) / s;
  const gdouble budget = sqrt (PREVIEW_BUDGET / ((gdouble) *width * *height));
  *net_scale = MIN (truth, budget);
  *reduced = truth > budget;
  return x1 > x0 && y1 > y0;
}

/* Read the area the final render stylises, once; FALSE when there is none or no memory. */
static gboolean
ensure_whole (PreviewState *state)
{
  if (state->whole.width > 0)
    return TRUE;
  if (state->whole_w == 0)
    return FALSE;
  if (!impasto_image_alloc (&state->whole, state->whole_w, state->whole_h,
                            impasto_drawable_channels (state->drawable), state->whole_u8))
    {
      impasto_image_clear (&state->whole);
      state->whole_w = 0; /* too big to keep: the preview stays approximate */
      return FALSE;
    }
  impasto_read_pixels (state->drawable, state->whole_x, state->whole_y, 1.0, FALSE, &state->whole);
  return TRUE;
}

/* The network's copy of the stylised area at a stroke size is kept for the 1:1 preview up to
 * this many pixels (more: a stroke size far below 1 on a big image; the preview is then
 * approximate). */
#define SCALED_MAX_PIXELS 64e6

/* Whether this preview can be the result itself: 1:1 and not reduced for the preview's budget, a
 * network to run, and the view meeting the stylised area (the view is then clipped to it). */
static gboolean
exact_region (PreviewState *state, const ImpastoParams *params, gdouble scale, gboolean reduced,
              gdouble *x, gdouble *y, gint *width, gint *height)
{
  if (scale < 1.0 || reduced || params->strength <= 0.0 || state->whole_w == 0)
    return FALSE;
  const gdouble net = impasto_net_scale (params, state->whole_w, state->whole_h);
  if (fabs (net - 1.0) > 1e-6 && net * net * state->whole_w * state->whole_h > SCALED_MAX_PIXELS)
    return FALSE;
  const gint x0 = MAX ((gint) *x, state->whole_x), y0 = MAX ((gint) *y, state->whole_y);
  const gint x1 = MIN ((gint) *x + *width, state->whole_x + state->whole_w);
  const gint y1 = MIN ((gint) *y + *height, state->whole_y + state->whole_h);
  if (x1 <= x0 || y1 <= y0 || !ensure_whole (state))
    return FALSE;
  *x = x0;
  *y = y0;
  *width = x1 - x0;
  *height = y1 - y0;
  return TRUE;
}

/* What the statistics are cached under: the style and the size of the copy the network sees
 * (the stroke size's resampling depends on that size alone). */
static gchar *
stats_key (PreviewState *state, const gchar *id, const ImpastoParams *params)
{
  gint w, h;
  impasto_net_size (state->whole_w, state->whole_h,
                    impasto_net_scale (params, state->whole_w, state->whole_h), &w, &h);
  return g_strdup_printf ("%s\n%dx%d", id, w, h);
}

/* The region of whole at (x, y) into image (same channels and type), instead of asking GIMP. */
static void
copy_from_whole (PreviewState *state, gint x, gint y, const ImpastoImage *image)
{
  const gsize elem = image->type == IMPASTO_PIXEL_U8 ? 1 : sizeof (gfloat);
  const gchar *src = image->type == IMPASTO_PIXEL_U8 ? (const gchar *) state->whole.data_u8
                                                     : (const gchar *) state->whole.data;
  gchar *dst = image->type == IMPASTO_PIXEL_U8 ? (gchar *) image->data_u8 : (gchar *) image->data;
  const gsize px = (gsize) image->channels * elem;
  for (gint r = 0; r < image->height; r++)
    memcpy (dst + (gsize) r * image->stride * elem,
            src + ((gsize) (y - state->whole_y + r) * state->whole.stride) * elem
                + (gsize) (x - state->whole_x) * px,
            (gsize) image->width * px);
}

/* The part of the view (x, y, w, h) that the last preview does not cover, when that is one band
 * (a pan along one axis, or a view inside the last: *pw 0); FALSE when it is not (a diagonal pan,
 * no overlap: the whole view is computed). */
static gboolean
uncovered (PreviewState *state, gint x, gint y, gint w, gint h, gint *px, gint *py, gint *pw,
           gint *ph)
{
  const gint lx0 = state->last_x, ly0 = state->last_y;
  const gint lx1 = lx0 + state->last.width, ly1 = ly0 + state->last.height;
  const gint ix0 = MAX (x, lx0), iy0 = MAX (y, ly0), ix1 = MIN (x + w, lx1), iy1 = MIN (y + h, ly1);
  if (ix1 <= ix0 || iy1 <= iy0)
    return FALSE;
  const gboolean cols = ix0 == x && ix1 == x + w, rows = iy0 == y && iy1 == y + h;
  *px = x, *py = y, *pw = w, *ph = h;
  if (cols && rows)
    *pw = *ph = 0;
  else if (cols && iy0 == y) /* covered on top: the band below */
    *py = iy1, *ph = y + h - iy1;
  else if (cols && iy1 == y + h)
    *ph = iy0 - y;
  else if (rows && ix0 == x)
    *px = ix1, *pw = x + w - ix1;
  else if (rows && ix1 == x + w)
    *pw = ix0 - x;
  else
    return FALSE;
  return TRUE;
}

/* The "before" picture of the view (x, y, w, h) at 1:1 from the pixels in memory. */
static void
before_from_whole (PreviewState *state, gint x, gint y, gint w, gint h)
{
  ImpastoImage view = { 0 };
  if (!impasto_image_alloc (&view, w, h, state->whole.channels, TRUE))
    return;
  if (state->whole.type == IMPASTO_PIXEL_U8)
    copy_from_whole (state, x, y, &view);
  else
    impasto_read_pixels (state->drawable, x, y, 1.0, FALSE, &view);
  picture_set (&state->before, image_surface (&view), x, y, 1.0);
  impasto_image_clear (&view);
}

static void
start_preview (PreviewState *state)
{
  /* the latency the dialog test reports: from the request, GEGL reads included */
  const gint64 requested_us = g_get_monotonic_time ();
  gchar *id = config_model_id (state);
  const ImpastoStyle *style = impasto_style_list_find (state->styles, id);
  if (style == NULL)
    {
      gchar *text = g_strdup_printf (_("Unknown style model \"%s\"."), id);
      set_status (state, text);
      g_free (text);
      g_free (id);
      set_busy (state, FALSE);
      return;
    }

  ImpastoParams params = { 0 };
  g_object_get (state->config, "strength", &params.strength, "preserve-colors",
                &params.preserve_colors, "tile-size", &params.tile_size, "stroke-size",
                &params.stroke_size, NULL);
  params.batchnorm = IMPASTO_BATCHNORM_AUTO;
  impasto_batchnorm_parse (style->batchnorm, &params.batchnorm);

  gdouble x, y, scale, net_scale;
  gint width, height;
  gboolean reduced;
  if (!preview_region (state, &params, &x, &y, &width, &height, &scale, &net_scale, &reduced))
    {
      g_free (id);
      set_busy (state, FALSE);
      return;
    }

  /* an arbitrary-style pack's preview is computed on the view alone */
  const gboolean pack = g_strcmp0 (style->family, "magenta") == 0 || g_strcmp0 (style->family, "adain") == 0;
  const gboolean exact = !pack && exact_region (state, &params, scale, reduced, &x, &y, &width,
                                                &height);
  gchar *key = exact ? stats_key (state, id, &params) : NULL;
  const ImpastoStats *stats = exact ? g_hash_table_lookup (state->stats, key) : NULL;

  /* A region with the statistics at hand: only the part of it the last preview with the same
   * settings does not cover. */
  gchar *settings = NULL;
  gint part_x = (gint) x, part_y = (gint) y, part_w = width, part_h = height;
  state->part_w = 0;
  if (stats != NULL)
    {
      settings = g_strdup_printf ("%s\n%.9g %d %d %d", key, params.strength,
                                  params.preserve_colors, params.tile_size, params.batchnorm);
      if (state->last.width > 0 && g_strcmp0 (settings, state->last_key) == 0 &&
          uncovered (state, (gint) x, (gint) y, width, height, &part_x, &part_y, &part_w,
                     &part_h))
        {
          state->part_x = (gint) x;
          state->part_y = (gint) y;
          state->part_w = width;
          state->part_h = height;
        }
      if (part_w == 0) /* all of it computed already */
        {
          ImpastoImage view = { 0 };
          if (impasto_image_alloc (&view, width, height, state->last.channels, TRUE))
            {
              copy_pixels (&state->last, (gint) x - state->last_x, (gint) y - state->last_y,
                           &view, 0, 0, width, height);
              before_from_whole (state, (gint) x, (gint) y, width, height);
              g_free (state->note);
              state->note = NULL;
              state->started_us = requested_us;
              show_after (state, &view, x, y, 1.0, TRUE, 0, 0);
              impasto_image_clear (&view);
              g_free (settings);
              g_free (key);
              g_free (id);
              set_busy (state, FALSE);
              return;
            }
          part_x = (gint) x, part_y = (gint) y, part_w = width, part_h = height;
          state->part_w = 0;
        }
    }

  GError *error = NULL;
  ImpastoJob *job = impasto_job_new (style->path, g_hash_table_lookup (state->models, id), part_w,
                                     part_h, impasto_drawable_channels (state->drawable), TRUE,
                                     &params, &error);
  if (job != NULL && !impasto_job_read_style (job, G_OBJECT (state->config), style, &error))
    g_clear_pointer (&job, impasto_job_free); /* the preview says what is missing */
  if (job == NULL)
    {
      set_status (state, error->message);
      g_error_free (error);
      g_free (id);
      g_free (key);
      g_free (settings);
      set_busy (state, FALSE);
      return;
    }
  if (exact)
    {
      x = part_x;
      y = part_y;
    }
  job->x = x;
  job->y = y;
  job->scale = scale;
  job->net_scale = net_scale;
  if (exact)
    {
      job->whole = &state->whole;
      job->scaled = &state->scaled;
      job->net_scale = impasto_net_scale (&params, state->whole_w, state->whole_h);
      job->want_stats = (stats == NULL);
      job->stats = stats;
      job->region_x = (gint) x - state->whole_x;
      job->region_y = (gint) y - state->whole_y;
    }
  /* the pixels in memory already, not a second transfer from GIMP */
  if (exact && job->in.type == state->whole.type)
    copy_from_whole (state, (gint) x, (gint) y, &job->in);
  else
    impasto_read_pixels (state->drawable, x, y, scale, FALSE, &job->in);
  if (state->part_w > 0)
    before_from_whole (state, state->part_x, state->part_y, state->part_w, state->part_h);
  else
    picture_set (&state->before, image_surface (&job->in), x, y, scale);
  gtk_widget_queue_draw (state->area);

  g_free (state->note);
  if (reduced)
    state->note = g_strdup_printf (_("Zoomed out: computed on a copy reduced to %d %%, so the "
                                     "strokes look coarser than in the result."),
                                   (gint) lround (100.0 * scale * net_scale *
                                                  (params.stroke_size > 0 ? params.stroke_size : 1)));
  else if (scale < 1.0)
    state->note = g_strdup_printf (_("Zoomed out to %d %%; the network saw the full-size "
                                     "pixels."), (gint) lround (100.0 * scale));
  else if (!exact && params.strength > 0.0 && fabs (net_scale - 1.0) > 1e-6)
    state->note = g_strdup (_("This stroke size resamples the image: the preview is computed on "
                              "its own and its colours may differ from the result."));
  else
    state->note = NULL;
  if (job->want_stats)
    set_status (state, _("Measuring the whole image once for this style, so that the preview "
                         "matches the result…"));

  job->done_func = preview_job_done;
  job->done_data = state;
  state->running = job;
  state->running_id = id;
  state->running_settings = settings;
  if (job->want_stats)
    state->running_key = key;
  else
    g_free (key);
  state->started_us = requested_us;
  set_busy (state, TRUE);
  if (g_getenv ("IMPASTO_PREVIEW_LOG") != NULL)
    g_printerr ("impasto: preview started (%d x %d, network x%.3f%s%s)\n", width, height, net_scale,
                !exact ? "" : job->want_stats ? ", whole-image statistics first" : ", whole-image statistics",
                job->model != NULL ? ", model cached" : "");
  impasto_job_start (job);
}

/* The view or a setting changed: render again (after the running job has stopped). */
static void
invalidate_preview (PreviewState *state)
{
  /* Nothing to compute before the area has its size (the first size-allocate starts it). */
  if (state->closing || gtk_widget_get_allocated_width (state->area) <= 1)
    return;
  if (state->running != NULL)
    {
      /* The statistics of the style and stroke size still chosen stay worth finishing
       * whatever the view. */
      gchar *id = config_model_id (state);
      ImpastoParams params = { 0 };
      g_object_get (state->config, "stroke-size", &params.stroke_size, NULL);
      gchar *key = stats_key (state, id, &params);
      if (!state->running->want_stats || g_strcmp0 (key, state->running_key) != 0)
        impasto_job_cancel (state->running);
      g_free (id);
      g_free (key);
      state->pending = TRUE;
      return;
    }
  start_preview (state);
}

/* ---------------------------------------------------------------- drawing and dragging */

static void
paint_picture (cairo_t *cr, PreviewState *state, const Picture *picture, gdouble clip_x0,
               gdouble clip_x1)
{
  if (picture->surface == NULL || clip_x1 <= clip_x0)
    return;
  cairo_save (cr);
  cairo_rectangle (cr, clip_x0, 0, clip_x1 - clip_x0, area_height (state));
  cairo_clip (cr);
  const gdouble zoom = state->view_scale / picture->scale;
  cairo_translate (cr, (picture->x - state->view_x) * state->view_scale,
                   (picture->y - state->view_y) * state->view_scale);
  cairo_scale (cr, zoom, zoom);
  cairo_set_source_surface (cr, picture->surface, 0, 0);
  /* Enlarged pixels stay square, so 200 % shows the pixels as they are. */
  cairo_pattern_set_filter (cairo_get_source (cr),
                            zoom >= 1.99 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_restore (cr);
}

static gboolean
area_draw (GtkWidget *area, cairo_t *cr, PreviewState *state)
{
  const gdouble aw = area_width (state);
  cairo_set_source_rgb (cr, 0.25, 0.25, 0.25);
  cairo_paint (cr);
  const gboolean split = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (state->split));
  const gdouble divider = split ? state->divider * aw : 0.0;
  paint_picture (cr, state, &state->before, 0, aw);
  paint_picture (cr, state, &state->after, divider, aw);
  if (split)
    {
      cairo_set_line_width (cr, 2.0);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_move_to (cr, floor (divider) + 0.5, 0);
      cairo_line_to (cr, floor (divider) + 0.5, area_height (state));
      cairo_stroke (cr);
    }
  if (state->busy_timer != 0)
    {
      const gdouble cx = aw - 2 * BUSY_RADIUS, cy = 2 * BUSY_RADIUS;
      const gdouble start = state->busy_phase * G_PI / 6;
      cairo_set_source_rgba (cr, 0, 0, 0, 0.55);
      cairo_arc (cr, cx, cy, BUSY_RADIUS + 4, 0, 2 * G_PI);
      cairo_fill (cr);
      cairo_set_line_width (cr, 2.5);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_arc (cr, cx, cy, BUSY_RADIUS, start, start + 1.4 * G_PI);
      cairo_stroke (cr);
    }
  return FALSE;
}

static gboolean
area_press (GtkWidget *area, GdkEventButton *event, PreviewState *state)
{
  if (event->button != 1)
    return FALSE;
  const gboolean split = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (state->split));
  const gdouble divider = state->divider * area_width (state);
  if (split && fabs (event->x - divider) <= DIVIDER_GRAB)
    state->drag = DRAG_DIVIDER;
  else
    state->drag = DRAG_PAN;
  state->drag_x = event->x;
  state->drag_y = event->y;
  state->drag_view_x = state->view_x;
  state->drag_view_y = state->view_y;
  return TRUE;
}

static gboolean
area_motion (GtkWidget *area, GdkEventMotion *event, PreviewState *state)
{
  if (state->drag == DRAG_DIVIDER)
    state->divider = CLAMP (event->x / area_width (state), 0.0, 1.0);
  else if (state->drag == DRAG_PAN)
    {
      const gdouble s = state->view_scale;
      state->view_x = clamp_axis (state->drag_view_x - (event->x - state->drag_x) / s,
                                  state->layer_w, area_width (state), s);
      state->view_y = clamp_axis (state->drag_view_y - (event->y - state->drag_y) / s,
                                  state->layer_h, area_height (state), s);
    }
  else
    return FALSE;
  gtk_widget_queue_draw (area);
  return TRUE;
}

static gboolean
area_release (GtkWidget *area, GdkEventButton *event, PreviewState *state)
{
  const gboolean panned = state->drag == DRAG_PAN && (state->view_x != state->drag_view_x ||
                                                      state->view_y != state->drag_view_y);
  state->drag = DRAG_NONE;
  if (panned)
    invalidate_preview (state);
  return TRUE;
}

static void
area_resized (GtkWidget *area, GdkRectangle *allocation, PreviewState *state)
{
  /* Any relayout (a new status line) reallocates the area: only a new size changes the view. */
  if (allocation->width == state->area_w && allocation->height == state->area_h)
    return;
  state->area_w = allocation->width;
  state->area_h = allocation->height;
  update_view (state);
  invalidate_preview (state);
}

static void
zoom_changed (GtkComboBox *combo, PreviewState *state)
{
  update_view (state);
  gtk_widget_queue_draw (state->area);
  invalidate_preview (state);
}

static void
split_toggled (GtkToggleButton *toggle, PreviewState *state)
{
  gtk_widget_queue_draw (state->area);
}

/* ---------------------------------------------------------------- style list and settings */

static void
update_style_info (PreviewState *state)
{
  gchar *id = config_model_id (state);
  const ImpastoStyle *style = impasto_style_list_find (state->styles, id);
  g_free (id);

  GdkPixbuf *pixbuf = NULL;
  if (style != NULL && style->thumbnail != NULL)
    pixbuf = gdk_pixbuf_new_from_file_at_scale (style->thumbnail, THUMBNAIL_EDGE, THUMBNAIL_EDGE,
                                                TRUE, NULL);
  gtk_image_set_from_pixbuf (GTK_IMAGE (state->thumbnail), pixbuf);
  g_clear_object (&pixbuf);

  GString *text = g_string_new (NULL);
  if (style != NULL && style->description != NULL)
    g_string_append (text, style->description);
  if (style != NULL && style->author != NULL)
    g_string_append_printf (text, "%s%s", text->len ? "\n" : "", style->author);
  if (style != NULL && style->license != NULL)
    g_string_append_printf (text, "%s%s %s", text->len ? "\n" : "", _("Licence:"), style->license);
  gtk_label_set_text (GTK_LABEL (state->info), text->str);
  g_string_free (text, TRUE);
  gtk_widget_set_visible (state->style_box, style != NULL && (g_strcmp0 (style->family, "magenta") == 0
                                                              || g_strcmp0 (style->family, "adain") == 0));
}

/* OK only with an installed style chosen. */
static void
update_ok_sensitivity (PreviewState *state)
{
  gchar *id = config_model_id (state);
  gtk_dialog_set_response_sensitive (GTK_DIALOG (state->dialog), GTK_RESPONSE_OK,
                                     impasto_style_list_find (state->styles, id) != NULL);
  g_free (id);
}

static void
config_changed (GObject *config, GParamSpec *pspec, PreviewState *state)
{
  if (g_strcmp0 (g_param_spec_get_name (pspec), "model") == 0)
    {
      gchar *id = config_model_id (state);
      if (g_strcmp0 (id, gtk_combo_box_get_active_id (GTK_COMBO_BOX (state->combo))) != 0)
        gtk_combo_box_set_active_id (GTK_COMBO_BOX (state->combo), id);
      g_free (id);
      update_style_info (state);
      update_ok_sensitivity (state);
    }
  invalidate_preview (state);
}

static void
combo_changed (GtkComboBox *combo, PreviewState *state)
{
  const gchar *id = gtk_combo_box_get_active_id (combo);
  gchar *current = config_model_id (state);
  if (id != NULL && g_strcmp0 (id, current) != 0)
    g_object_set (state->config, "model", id, NULL);
  g_free (current);
}

/* First use, or the last model is gone: start with the first style. */
static void
choose_initial_style (PreviewState *state)
{
  gchar *id = config_model_id (state);
  if (impasto_style_list_find (state->styles, id) == NULL)
    g_object_set (state->config, "model",
                  ((const ImpastoStyle *) g_ptr_array_index (state->styles->styles, 0))->id, NULL);
  g_free (id);
}

/* The style list: thumbnail and display name; rows without a thumbnail keep its room so every
 * row has the same height, and the list keeps one width whatever is chosen. */
static void
fill_style_store (PreviewState *state, GtkListStore *store)
{
  gtk_list_store_clear (store);
  GdkPixbuf *blank = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8, LIST_THUMB_EDGE, LIST_THUMB_EDGE);
  gdk_pixbuf_fill (blank, 0);
  for (guint i = 0; i < state->styles->styles->len; i++)
    {
      const ImpastoStyle *style = g_ptr_array_index (state->styles->styles, i);
      GdkPixbuf *thumb = style->thumbnail != NULL
                             ? gdk_pixbuf_new_from_file_at_scale (style->thumbnail, LIST_THUMB_EDGE,
                                                                  LIST_THUMB_EDGE, TRUE, NULL)
                             : NULL;
      GtkTreeIter iter;
      gtk_list_store_append (store, &iter);
      gtk_list_store_set (store, &iter, COL_ID, style->id, COL_LABEL, style->label, COL_THUMB,
                          thumb != NULL ? thumb : blank, -1);
      g_clear_object (&thumb);
    }
  g_object_unref (blank);
}

static GtkWidget *
make_style_combo (PreviewState *state)
{
  GtkListStore *store = gtk_list_store_new (N_COLS, G_TYPE_STRING, G_TYPE_STRING, GDK_TYPE_PIXBUF);
  fill_style_store (state, store);
  GtkWidget *combo = gtk_combo_box_new_with_model (GTK_TREE_MODEL (store));
  g_object_unref (store);
  gtk_combo_box_set_id_column (GTK_COMBO_BOX (combo), COL_ID);
  GtkCellRenderer *cell = gtk_cell_renderer_pixbuf_new ();
  gtk_cell_renderer_set_fixed_size (cell, LIST_THUMB_EDGE + 4, LIST_THUMB_EDGE + 4);
  gtk_cell_layout_pack_start (GTK_CELL_LAYOUT (combo), cell, FALSE);
  gtk_cell_layout_add_attribute (GTK_CELL_LAYOUT (combo), cell, "pixbuf", COL_THUMB);
  cell = gtk_cell_renderer_text_new ();
  g_object_set (cell, "ellipsize", PANGO_ELLIPSIZE_END, "width-chars", 24, NULL);
  gtk_cell_layout_pack_start (GTK_CELL_LAYOUT (combo), cell, TRUE);
  gtk_cell_layout_add_attribute (GTK_CELL_LAYOUT (combo), cell, "text", COL_LABEL);

  gchar *id = config_model_id (state);
  gtk_combo_box_set_active_id (GTK_COMBO_BOX (combo), id);
  g_free (id);
  g_signal_connect (combo, "changed", G_CALLBACK (combo_changed), state);
  return combo;
}

static void fill_dialog (GimpProcedureDialog *dialog, GtkWidget *box, PreviewState *state);

#ifdef IMPASTO_HAVE_MODELS_INSTALL
/* A style was installed from the catalogue window: scan the folders again, rebuild the style list
 * and choose the new style (no restart: the model argument is a plain string). */
static void
style_installed (const gchar *name, gpointer user_data)
{
  PreviewState *state = user_data;
  ImpastoStyleList *fresh = state->rescan ();
  g_ptr_array_add (state->retired, *state->styles_io);
  *state->styles_io = fresh;
  state->styles = fresh;
  /* A model of that name cached from another folder is not the one just installed; a running
   * preview may still borrow it. */
  gpointer key = NULL, old = NULL;
  if (g_hash_table_steal_extended (state->models, name, &key, &old))
    {
      g_ptr_array_add (state->retired_models, old);
      g_free (key);
    }
  /* its statistics at every stroke size (stats_key: the name, a newline, the size) */
  GHashTableIter stats_iter;
  g_hash_table_iter_init (&stats_iter, state->stats);
  while (g_hash_table_iter_next (&stats_iter, &key, &old))
    {
      const gsize n = strlen (name);
      if (strncmp (key, name, n) == 0 && ((const gchar *) key)[n] == '\n')
        {
          g_ptr_array_add (state->retired_stats, old);
          g_hash_table_iter_steal (&stats_iter);
          g_free (key);
        }
    }
  /* and the last 1:1 result, if it was this style's (its settings start like its statistics) */
  if (state->last_key != NULL && strncmp (state->last_key, name, strlen (name)) == 0 &&
      state->last_key[strlen (name)] == '\n')
    g_clear_pointer (&state->last_key, g_free);
  const gboolean found = impasto_style_list_find (fresh, name) != NULL;
  if (!state->filled)
    {
      if (!found)
        return;
      /* the first style: the no-models text gives way to the whole dialog */
      g_object_set (state->config, "model", name, NULL);
      gtk_widget_destroy (state->empty);
      state->empty = NULL;
      fill_dialog (GIMP_PROCEDURE_DIALOG (state->dialog), state->body, state);
    }
  else
    {
      gchar *before = config_model_id (state);
      fill_style_store (state, GTK_LIST_STORE (gtk_combo_box_get_model (GTK_COMBO_BOX (state->combo))));
      if (found)
        g_object_set (state->config, "model", name, NULL);
      gchar *now = config_model_id (state);
      gtk_combo_box_set_active_id (GTK_COMBO_BOX (state->combo), now);
      if (g_strcmp0 (before, now) == 0) /* else config_changed did all this */
        {
          update_style_info (state);
          update_ok_sensitivity (state);
          invalidate_preview (state);
        }
      g_free (before);
      g_free (now);
    }
  if (g_getenv ("IMPASTO_PREVIEW_LOG") != NULL)
    {
      gchar *id = config_model_id (state), *label = NULL;
      const ImpastoStyle *style = impasto_style_list_find (fresh, id);
      GtkTreeIter iter;
      if (gtk_combo_box_get_active_iter (GTK_COMBO_BOX (state->combo), &iter))
        gtk_tree_model_get (gtk_combo_box_get_model (GTK_COMBO_BOX (state->combo)), &iter, COL_LABEL,
                            &label, -1);
      g_printerr ("impasto: style list refreshed (%u styles; chosen %s from %s, listed as \"%s\")\n",
                  fresh->styles->len, id, style != NULL ? style->folder : "nowhere",
                  label != NULL ? label : "");
      g_free (label);
      g_free (id);
    }
}

static void
get_more_styles (GtkButton *button, PreviewState *state)
{
  impasto_catalogue_window_run (GTK_WINDOW (state->dialog), state->install_folder, style_installed,
                                state);
}
#endif

/* "Get more styles…" beside the style list; NULL when the plug-in was built without libcurl. */
static GtkWidget *
make_get_more_button (PreviewState *state)
{
#ifdef IMPASTO_HAVE_MODELS_INSTALL
  if (state->install_folder == NULL || state->rescan == NULL)
    return NULL;
  GtkWidget *button = gtk_button_new_with_mnemonic (_("Ge_t more styles…"));
  gtk_widget_set_tooltip_text (button, _("Download a style from Impasto's catalogue of published "
                                         "networks"));
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  g_signal_connect (button, "clicked", G_CALLBACK (get_more_styles), state);
  return button;
#else
  return NULL;
#endif
}

static GtkWidget *
wide_scale (GimpProcedureDialog *dialog, const gchar *property)
{
  GtkWidget *entry = gimp_procedure_dialog_get_scale_entry (dialog, property, 1.0);
  gtk_widget_set_size_request (gimp_scale_entry_get_range (GIMP_SCALE_ENTRY (entry)), 240, -1);
  return entry;
}

static GtkWidget *
small_label (const gchar *text)
{
  GtkWidget *label = gtk_label_new (text);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_width_chars (GTK_LABEL (label), 44);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 44);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gimp_label_set_attributes (GTK_LABEL (label), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  return label;
}

static GtkWidget *
make_settings (GimpProcedureDialog *dialog, PreviewState *state)
{
  GtkWidget *vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);

  GtkWidget *label = gtk_label_new_with_mnemonic (_("St_yle"));
  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  state->combo = make_style_combo (state);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), state->combo);
  gtk_box_pack_start (GTK_BOX (vbox), label, FALSE, FALSE, 0);
  GtkWidget *combo_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_pack_start (GTK_BOX (combo_row), state->combo, TRUE, TRUE, 0);
  GtkWidget *more = make_get_more_button (state);
  if (more != NULL)
    gtk_box_pack_start (GTK_BOX (combo_row), more, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), combo_row, FALSE, FALSE, 0);

  /* Fixed sizes, so the dialog does not change width with the chosen style. */
  GtkWidget *style_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  state->thumbnail = gtk_image_new ();
  gtk_widget_set_size_request (state->thumbnail, THUMBNAIL_EDGE, THUMBNAIL_EDGE);
  gtk_widget_set_valign (state->thumbnail, GTK_ALIGN_START);
  gtk_box_pack_start (GTK_BOX (style_row), state->thumbnail, FALSE, FALSE, 0);
  state->info = small_label (NULL);
  gtk_label_set_width_chars (GTK_LABEL (state->info), 30);
  gtk_label_set_max_width_chars (GTK_LABEL (state->info), 30);
  gtk_widget_set_valign (state->info, GTK_ALIGN_START);
  gtk_box_pack_start (GTK_BOX (style_row), state->info, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), style_row, FALSE, FALSE, 0);

  /* Arbitrary-style packs (Magenta, AdaIN): any picture is the style, from a layer of an open
   * image (a thumbnail chooser) or a file, and a second one mixed in. */
  state->style_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *heading = gtk_label_new (_("Style image: a layer, or else a file"));
  gtk_label_set_xalign (GTK_LABEL (heading), 0.0f);
  gtk_box_pack_start (GTK_BOX (state->style_box), heading, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (state->style_box),
                      gimp_procedure_dialog_get_widget (dialog, "style-layer", G_TYPE_NONE),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (state->style_box),
                      gimp_procedure_dialog_get_widget (dialog, "style-file", G_TYPE_NONE),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (state->style_box),
                      gimp_procedure_dialog_get_widget (dialog, "style2-file", G_TYPE_NONE),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (state->style_box), wide_scale (dialog, "mix"), FALSE, FALSE, 0);
  gtk_widget_show_all (state->style_box);
  gtk_widget_set_no_show_all (state->style_box, TRUE); /* update_style_info shows it for packs */
  gtk_box_pack_start (GTK_BOX (vbox), state->style_box, FALSE, FALSE, 0);

  gtk_box_pack_start (GTK_BOX (vbox), wide_scale (dialog, "strength"), FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), wide_scale (dialog, "stroke-size"), FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox),
                      gimp_procedure_dialog_get_widget (dialog, "preserve-colors", G_TYPE_NONE),
                      FALSE, FALSE, 0);

  GtkWidget *expander = gtk_expander_new_with_mnemonic (_("_Advanced"));
  GtkWidget *advanced = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_set_margin_top (advanced, 6);
  gtk_box_pack_start (GTK_BOX (advanced),
                      gimp_procedure_dialog_get_widget (dialog, "tile-size", G_TYPE_NONE), FALSE,
                      FALSE, 0);
  gtk_box_pack_start (GTK_BOX (advanced),
                      small_label (_("Big images are worked on in square pieces. Smaller pieces "
                                     "need less memory and take a little longer. -1 chooses for "
                                     "you; 0 works on the whole image at once (fastest, most "
                                     "memory).")),
                      FALSE, FALSE, 0);
  gtk_container_add (GTK_CONTAINER (expander), advanced);
  gtk_box_pack_start (GTK_BOX (vbox), expander, FALSE, FALSE, 0);
  gtk_widget_show_all (vbox);
  return vbox;
}

static GtkWidget *
make_preview (PreviewState *state)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);

  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new_with_mnemonic (_("_Zoom:"));
  state->zoom = gtk_combo_box_text_new ();
  gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (state->zoom), _("Whole image"));
  for (guint i = 1; i < G_N_ELEMENTS (zoom_levels); i++)
    {
      gchar *text = g_strdup_printf (_("%d %%"), (gint) lround (zoom_levels[i] * 100));
      gtk_combo_box_text_append_text (GTK_COMBO_BOX_TEXT (state->zoom), text);
      g_free (text);
    }
  gtk_combo_box_set_active (GTK_COMBO_BOX (state->zoom), 0);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), state->zoom);
  state->split = gtk_check_button_new_with_mnemonic (_("Spl_it view (before | after)"));
  gtk_box_pack_start (GTK_BOX (bar), label, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (bar), state->zoom, FALSE, FALSE, 0);
  gtk_box_pack_end (GTK_BOX (bar), state->split, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), bar, FALSE, FALSE, 0);

  state->area = gtk_drawing_area_new ();
  gtk_widget_set_size_request (state->area, PREVIEW_WIDTH, PREVIEW_HEIGHT);
  gtk_widget_add_events (state->area, GDK_BUTTON_PRESS_MASK | GDK_BUTTON_RELEASE_MASK |
                                          GDK_BUTTON1_MOTION_MASK);
  gtk_box_pack_start (GTK_BOX (box), state->area, TRUE, TRUE, 0);

  state->status = small_label (NULL);
  gtk_label_set_lines (GTK_LABEL (state->status), 2);
  gtk_label_set_ellipsize (GTK_LABEL (state->status), PANGO_ELLIPSIZE_END);
  gtk_box_pack_start (GTK_BOX (box), state->status, FALSE, FALSE, 0);

  g_signal_connect (state->area, "draw", G_CALLBACK (area_draw), state);
  g_signal_connect (state->area, "button-press-event", G_CALLBACK (area_press), state);
  g_signal_connect (state->area, "motion-notify-event", G_CALLBACK (area_motion), state);
  g_signal_connect (state->area, "button-release-event", G_CALLBACK (area_release), state);
  g_signal_connect_after (state->area, "size-allocate", G_CALLBACK (area_resized), state);
  g_signal_connect (state->zoom, "changed", G_CALLBACK (zoom_changed), state);
  g_signal_connect (state->split, "toggled", G_CALLBACK (split_toggled), state);
  return box;
}

/* Dialog body when no model is installed: say where to put them. */
static void
fill_no_models (GimpProcedureDialog *dialog, GtkWidget *box, PreviewState *state)
{
  const ImpastoStyleList *styles = state->styles;
  GString *folders = g_string_new (NULL);
  for (guint i = 0; i < styles->folders->len; i++)
    g_string_append_printf (folders, "\n  %s", (const gchar *) g_ptr_array_index (styles->folders, i));
  gchar *text = g_strdup_printf (_("No style models are installed.\n\n"
                                   "Put style models (NAME.onnx, for example mosaic-9.onnx) into "
                                   "one of these folders:%s\n\n"
                                   "GIMP reads the list of models when it registers the plug-in: "
                                   "afterwards, reinstall or touch the plug-in file and restart "
                                   "GIMP."),
                                 folders->str);
  state->empty = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *label = gtk_label_new (text);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gtk_box_pack_start (GTK_BOX (state->empty), label, FALSE, FALSE, 0);
  GtkWidget *more = make_get_more_button (state);
  if (more != NULL)
    {
      gtk_widget_set_halign (more, GTK_ALIGN_START);
      gtk_box_pack_start (GTK_BOX (state->empty), more, FALSE, FALSE, 0);
    }
  gtk_box_pack_start (GTK_BOX (box), state->empty, FALSE, FALSE, 0);
  gtk_widget_show_all (state->empty);
  /* The text has the focus, not the button: Return stays with the (insensitive) OK instead of
   * opening the catalogue; the button's mnemonic and Tab reach it. */
  gtk_widget_grab_focus (label);
  gtk_label_select_region (GTK_LABEL (label), 0, 0);
  gtk_dialog_set_response_sensitive (GTK_DIALOG (dialog), GTK_RESPONSE_OK, FALSE);
  g_free (text);
  g_string_free (folders, TRUE);
}

static void
fill_dialog (GimpProcedureDialog *dialog, GtkWidget *box, PreviewState *state)
{
  GtkWidget *hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_box_pack_start (GTK_BOX (box), hbox, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (hbox), make_preview (state), TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (hbox), make_settings (dialog, state), FALSE, FALSE, 0);
  gtk_widget_show_all (hbox);
  state->filled = TRUE;
  update_style_info (state);
  update_ok_sensitivity (state);

  g_signal_connect (state->config, "notify", G_CALLBACK (config_changed), state);
}

/* Stop the running preview job and wait until its completion has been handled. */
static void
finish_previews (PreviewState *state)
{
  state->closing = TRUE;
  if (state->running != NULL)
    impasto_job_cancel (state->running);
  while (state->running != NULL)
    g_main_context_iteration (NULL, TRUE);
}

static void
free_model (gpointer model)
{
  impasto_model_free (model);
}

static void
free_stats (gpointer stats)
{
  impasto_stats_free (stats);
}

gboolean
impasto_dialog_run (GimpProcedure *procedure, GimpProcedureConfig *config,
                    GimpDrawable *drawable, ImpastoStyleList **styles,
                    ImpastoRescanFunc rescan, const gchar *install_folder)
{
  PreviewState state = {
    .config = config,
    .drawable = drawable,
    .styles = *styles,
    .styles_io = styles,
    .rescan = rescan,
    .install_folder = install_folder,
    .retired = g_ptr_array_new_with_free_func ((GDestroyNotify) impasto_style_list_free),
    .retired_models = g_ptr_array_new_with_free_func (free_model),
    .retired_stats = g_ptr_array_new_with_free_func (free_stats),
    .layer_w = gimp_drawable_get_width (drawable),
    .layer_h = gimp_drawable_get_height (drawable),
    .divider = 0.5,
    .models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_model),
    .stats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_stats),
    .whole_u8 = impasto_drawable_is_8bit (drawable),
  };
  /* the area impasto_render_layer stylises */
  if (!gimp_drawable_mask_intersect (drawable, &state.whole_x, &state.whole_y, &state.whole_w,
                                     &state.whole_h) || state.whole_w <= 0 || state.whole_h <= 0)
    state.whole_w = state.whole_h = 0;

  if (state.styles->styles->len > 0)
    choose_initial_style (&state);
  GtkWidget *dialog = gimp_procedure_dialog_new (procedure, config, _("Style Transfer"));
  state.dialog = dialog;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))), box, TRUE,
                      TRUE, 0);
  gtk_widget_show (box);
  state.body = box;

  if (state.styles->styles->len == 0)
    fill_no_models (GIMP_PROCEDURE_DIALOG (dialog), box, &state);
  else
    fill_dialog (GIMP_PROCEDURE_DIALOG (dialog), box, &state);

  gtk_widget_show (dialog);
  gboolean ok = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));

  if (state.filled)
    {
      g_signal_handlers_disconnect_by_func (config, config_changed, &state);
      finish_previews (&state);
      set_busy (&state, FALSE);
    }
  gtk_widget_destroy (dialog);
  picture_set (&state.before, NULL, 0, 0, 1);
  picture_set (&state.after, NULL, 0, 0, 1);
  g_free (state.note);
  g_hash_table_unref (state.models);
  g_hash_table_unref (state.stats);
  impasto_image_clear (&state.whole);
  impasto_image_clear (&state.scaled);
  impasto_image_clear (&state.last);
  g_free (state.last_key);
  g_ptr_array_unref (state.retired_models);
  g_ptr_array_unref (state.retired_stats);
  g_ptr_array_unref (state.retired);
  return ok && state.filled;
}
