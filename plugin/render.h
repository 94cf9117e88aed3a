/* render.h — the one worker that stylises pixels (for the dialog's preview and the final render),
 * and the GEGL reading/writing around it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_PLUGIN_RENDER_H
#define IMPASTO_PLUGIN_RENDER_H

#include <libgimp/gimp.h>

#include "impasto.h"

G_BEGIN_DECLS

#define IMPASTO_PLUGIN_ERROR (impasto_plugin_error_quark ())
GQuark impasto_plugin_error_quark (void);

typedef struct {
  gdouble  strength;
  gboolean preserve_colors;
  gint     tile_size;
  ImpastoBatchNorm batchnorm; /* from the style's sidecar (AUTO: the model decides) */
} ImpastoParams;

typedef struct ImpastoJob ImpastoJob;

/* Called in the GTK/GLib main loop (idle) when a job started with a done callback finishes. */
typedef void (*ImpastoJobDone) (ImpastoJob *job, gpointer user_data);

struct ImpastoJob {
  /* Inputs; set before impasto_job_start, then read-only until the job is done. */
  gchar        *model_path;
  ImpastoModel *model;       /* NULL: the worker loads model_path (the job then owns it) */
  gboolean      owns_model;
  ImpastoImage  in;          /* owned pixels */
  ImpastoImage  out;         /* owned pixels, same shape as in */
  ImpastoParams params;
  ImpastoJobDone done_func;  /* NULL: nobody is called; poll impasto_job_is_done */
  gpointer      done_data;
  gpointer      tag;         /* free for the caller (e.g. the preview's position) */
  gint          x, y;        /* where in the drawable in comes from */

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

/* Number of channels of drawable's pixels as the engine sees them (gray or RGB, alpha or not). */
gint impasto_drawable_channels (GimpDrawable *drawable);
/* TRUE when drawable stores 8 bits per component: its pixels then travel as bytes (exact, and a
 * quarter of the memory); deeper images travel as floats. */
gboolean impasto_drawable_is_8bit (GimpDrawable *drawable);
/* The babl format for reading/writing drawable's pixels (gamma-encoded, in its colour space). */
const Babl *impasto_drawable_format (GimpDrawable *drawable, gboolean with_alpha, gboolean u8);

/* Read drawable's pixels in [x, y, width, height] (drawable coordinates) into image (whose size,
 * channels and type must match impasto_drawable_channels / _is_8bit).  Main thread only. */
void impasto_read_pixels (GimpDrawable *drawable, gint x, gint y, const ImpastoImage *image);

/* Stylise source's selected area with the model and add the result as a new layer above it, in one
 * undo group.  The image is touched only at the end, after the stylisation succeeded. */
GimpLayer *impasto_render_layer (GimpImage *image, GimpLayer *source, const gchar *model_path,
                                 const gchar *layer_name, const ImpastoParams *params,
                                 GError **error);

G_END_DECLS

#endif
