/* render.h — the one worker that stylises pixels (for the dialog's preview and the final render),
 * and the GEGL reading/writing around it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_PLUGIN_RENDER_H
#define IMPASTO_PLUGIN_RENDER_H

#include <libgimp/gimp.h>

#include "impasto.h"
#include "models.h"

G_BEGIN_DECLS

#define IMPASTO_PLUGIN_ERROR (impasto_plugin_error_quark ())
GQuark impasto_plugin_error_quark (void);

typedef struct {
  gdouble  strength;
  gboolean preserve_colors;
  gint     tile_size;
  ImpastoBatchNorm batchnorm; /* from the style's sidecar (AUTO: the model decides) */
  gdouble  stroke_size; /* 1: the network sees the pixels as they are; 2: at half size (strokes
                         * twice as big); 0.5: at double size */
  /* Arbitrary-style packs (family set): the other network, the style image(s) and the mix
   * weight of the second (borrowed for the job's life); strength then works on the features. */
  gint                family;    /* ImpastoFamily, 0: a fast net */
  const gchar        *style_net;
  const ImpastoImage *style;
  const ImpastoImage *style2;    /* or NULL */
  gdouble             mix;
} ImpastoParams;

/* Network pixels per image pixel for a stroke size, clamped so that the network never sees fewer
 * than 16 pixels along an edge (tiny layers). */
gdouble impasto_net_scale (const ImpastoParams *params, gint width, gint height);

typedef struct ImpastoJob ImpastoJob;

/* Called in the GTK/GLib main loop (idle) when a job started with a done callback finishes. */
typedef void (*ImpastoJobDone) (ImpastoJob *job, gpointer user_data);

struct ImpastoJob {
  /* Inputs; set before impasto_job_start, then read-only until the job is done. */
  gchar        *model_path;
  ImpastoModel *model;       /* NULL: the worker loads model_path (the job then owns it) */
  gboolean      owns_model;
  ImpastoPack      *pack;   /* arbitrary style (params.family): made by the worker, owned */
  ImpastoImage      style_image[2]; /* what params.style / style2 point at, owned */
  ImpastoStyleDesc *style;
  ImpastoImage  in;          /* owned pixels */
  ImpastoImage  out;         /* owned pixels, same shape as in */
  ImpastoParams params;
  gdouble       net_scale;   /* network pixels per pixel of in (1: run on in as it is; else in
                              * is resampled for the network and the result resampled back) */
  ImpastoJobDone done_func;  /* NULL: nobody is called; poll impasto_job_is_done */
  gpointer      done_data;
  gdouble       x, y;        /* where in the drawable in comes from (layer pixels) */
  gdouble       scale;       /* pixels of in per layer pixel (the preview reads reduced copies) */
  /* The 1:1 preview (issue 12).  With whole set (borrowed: the pixels the final render
   * stylises, as it reads them), the worker either, with want_stats, computes the normalisation
   * statistics of what the network sees of whole into stats_out, or writes into out the region of
   * the final result at (region_x, region_y) of whole (in: the same region of whole), normalised
   * with stats (borrowed).  With a stroke size (net_scale != 1) the network sees whole resampled
   * as the final render resamples it: scaled (borrowed, the caller's cache; the worker makes it
   * when its size is not whole's times net_scale). */
  const ImpastoImage *whole;
  ImpastoImage *scaled;
  gboolean      want_stats;
  ImpastoStats *stats_out;
  const ImpastoStats *stats;
  gint          region_x, region_y;

  /* Shared with the worker thread (atomics). */
  gint          cancelled;
  gint          done;
  gint          fraction_ppm; /* progress in millionths */

  /* Results, valid once done. */
  ImpastoStatus status;
  ImpastoError  error;

  GThread      *thread;
};

/* A job for width x height pixels with channels (1..4) interleaved values: bytes when u8, else
 * floats.  NULL (and error set) if too big. */
ImpastoJob *impasto_job_new (const gchar *model_path, ImpastoModel *model, gint width, gint height,
                             gint channels, gboolean u8, const ImpastoParams *params,
                             GError **error);
/* Joins the thread if there is one, frees the pixels and, if the job owns it, the model. */
void impasto_job_free (ImpastoJob *job);

/* Run the worker in a new thread. */
void impasto_job_start (ImpastoJob *job);
/* Ask a running worker to stop (its progress callback then returns false). */
void impasto_job_cancel (ImpastoJob *job);
gboolean impasto_job_is_done (ImpastoJob *job);
gdouble impasto_job_fraction (ImpastoJob *job);
/* Hand the model over to the caller (the job no longer frees it). */
ImpastoModel *impasto_job_steal_model (ImpastoJob *job);

/* The worker itself: load the model if needed and stylise in into out.  Runs in any thread. */
void impasto_job_run (ImpastoJob *job);

/* The size of the copy of a width x height image the network sees at net_scale (as the final
 * render resamples it). */
void impasto_net_size (gint width, gint height, gdouble net_scale, gint *net_width,
                       gint *net_height);

/* Pixels for width x height x channels (bytes when u8, else floats); FALSE when too big. */
gboolean impasto_image_alloc (ImpastoImage *image, gint width, gint height, gint channels,
                              gboolean u8);
void impasto_image_clear (ImpastoImage *image);

/* The babl format of an engine image's pixels (gamma-encoded sRGB, its channels and type). */
const Babl *impasto_image_format (const ImpastoImage *image);

/* Number of channels of drawable's pixels as the engine sees them (gray or RGB, alpha or not). */
gint impasto_drawable_channels (GimpDrawable *drawable);
/* TRUE when drawable stores 8 bits per component: its pixels then travel as bytes (exact, and a
 * quarter of the memory); deeper images travel as floats. */
gboolean impasto_drawable_is_8bit (GimpDrawable *drawable);
/* The babl format pixels travel in between drawable and engine: gamma-encoded sRGB (the space the
 * networks were trained in; babl converts from and to the image's own profile), or with native the
 * drawable's own space (exact copies). */
const Babl *impasto_drawable_format (GimpDrawable *drawable, gboolean with_alpha, gboolean u8,
                                     gboolean native);

/* Read drawable's pixels into image (whose channels and type must match impasto_drawable_channels /
 * _is_8bit): the layer region starting at (x, y) (layer pixels) reduced by scale (<= 1; the image's
 * size is that of the reduced region).  Main thread only. */
void impasto_read_pixels (GimpDrawable *drawable, gdouble x, gdouble y, gdouble scale,
                          gboolean native, const ImpastoImage *image);

/* The style images a procedure config names ("style-layer", else "style-file"; "style2-file" and
 * "mix"), 8-bit (data_u8: g_free), into job->style_image[0..1], and params.family, style_net,
 * style, style2 and mix set from them and the chosen style's sidecar (a fast net, family NULL:
 * nothing is read).  FALSE with error set when an image cannot be read or a
 * pack has none. */
gboolean impasto_job_read_style (ImpastoJob *job, GObject *config, const ImpastoStyle *style,
                                 GError **error);

/* Why a drawable cannot be stylised (INDEXED images), or NULL.  g_free() it. */
gchar *impasto_drawable_refusal (GimpDrawable *drawable);

/* Stylise source's selected area with the model and add the result as a new layer above it, in one
 * undo group.  The image is touched only at the end, after the stylisation succeeded.  Strength 0
 * copies the pixels without running the network (model_path may then be NULL).  title names the
 * run in GIMP's progress bar. */
GimpLayer *impasto_render_layer (GimpImage *image, GimpLayer *source, const gchar *model_path,
                                 const gchar *layer_name, const gchar *title,
                                 const ImpastoParams *params, GObject *config,
                                 const ImpastoStyle *style, GError **error);

G_END_DECLS

#endif
