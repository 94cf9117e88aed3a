/* impasto-dialog.c — the Style Transfer dialog: style picker with thumbnail, strength slider,
 * preserve-colours toggle, tile size, and a live preview computed off the GTK main thread.
 *
 * The preview runs the same worker as the final render (impasto_job_run) in a thread.  At most one
 * preview job runs at a time: a parameter change or scroll cancels the running job (its progress
 * callback then returns false) and queues a new one, started when the old one has finished.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "impasto-dialog.h"

#include <libgimp/gimpui.h>

#include "i18n.h"
#include "plugin-defs.h"
#include "render.h"

#define PREVIEW_MAX_EDGE 320 /* preview area edge in pixels (1:1 crop of the layer) */
#define THUMBNAIL_EDGE   96

typedef struct {
  GimpProcedureConfig    *config;
  GtkWidget              *dialog;
  GimpDrawable           *drawable;
  const ImpastoStyleList *styles;
  GtkWidget              *preview;
  GtkWidget              *status;    /* one line under the preview */
  GtkWidget              *thumbnail;
  GtkWidget              *info;      /* description, author, licence of the chosen style */
  GHashTable             *models;    /* style id -> ImpastoModel*, loaded by earlier previews */
  ImpastoJob             *running;   /* the preview job in its thread, or NULL */
  gchar                  *running_id;
  gboolean                pending;   /* parameters changed while a job ran: render again */
  gboolean                closing;
  gint64                  started_us; /* when the running job started (for the test log) */
} PreviewState;

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

/* Draw the result: the preview takes 8-bit pixels in the drawable's own layout (the preview
 * always works on 8-bit pixels, whatever the image's precision). */
static void
draw_result (PreviewState *state, const ImpastoImage *image)
{
  gimp_preview_draw_buffer (GIMP_PREVIEW (state->preview), image->data_u8,
                            (gint) image->stride);
}

static void
preview_job_done (ImpastoJob *job, gpointer user_data)
{
  PreviewState *state = user_data;
  const gboolean cancelled = g_atomic_int_get (&job->cancelled) != 0;

  state->running = NULL;
  if (job->owns_model && state->running_id != NULL)
    g_hash_table_replace (state->models, g_strdup (state->running_id),
                          impasto_job_steal_model (job));
  g_clear_pointer (&state->running_id, g_free);

  if (!state->closing && !cancelled && !state->pending)
    {
      if (job->status == IMPASTO_OK)
        {
          draw_result (state, &job->out);
          set_status (state, NULL);
          /* For the dialog test, which waits for the first preview before its screenshot. */
          if (g_getenv ("IMPASTO_PREVIEW_LOG") != NULL)
            g_printerr ("impasto: preview drawn (%d x %d, %.0f ms)\n", job->out.width,
                        job->out.height, (g_get_monotonic_time () - state->started_us) / 1000.0);
        }
      else
        {
          gchar *text = g_strdup_printf (_("Preview failed: %s"), job->error.message);
          set_status (state, text);
          g_free (text);
        }
    }
  impasto_job_free (job);

  if (state->pending && !state->closing)
    {
      state->pending = FALSE;
      start_preview (state);
    }
}

static void
start_preview (PreviewState *state)
{
  gchar *id = config_model_id (state);
  const ImpastoStyle *style = impasto_style_list_find (state->styles, id);
  if (style == NULL)
    {
      set_status (state, _("No style chosen."));
      g_free (id);
      return;
    }

  ImpastoParams params;
  g_object_get (state->config, "strength", &params.strength, "preserve-colors",
                &params.preserve_colors, "tile-size", &params.tile_size, NULL);
  params.batchnorm = IMPASTO_BATCHNORM_AUTO;
  impasto_batchnorm_parse (style->batchnorm, &params.batchnorm);

  gint x, y, width, height;
  GimpPreview *preview = GIMP_PREVIEW (state->preview);
  gimp_preview_get_position (preview, &x, &y);
  gimp_preview_get_size (preview, &width, &height);
  width = MIN (width, gimp_drawable_get_width (state->drawable) - x);
  height = MIN (height, gimp_drawable_get_height (state->drawable) - y);

  GError *error = NULL;
  ImpastoJob *job = impasto_job_new (style->path, g_hash_table_lookup (state->models, id), width,
                                     height, impasto_drawable_channels (state->drawable), TRUE,
                                     &params, &error);
  if (job == NULL)
    {
      set_status (state, error->message);
      g_error_free (error);
      g_free (id);
      return;
    }
  impasto_read_pixels (state->drawable, x, y, &job->in);
  job->done_func = preview_job_done;
  job->done_data = state;
  state->running = job;
  state->running_id = id;
  state->started_us = g_get_monotonic_time ();
  set_status (state, _("Rendering preview…"));
  if (g_getenv ("IMPASTO_PREVIEW_LOG") != NULL)
    g_printerr ("impasto: preview started (%d x %d)\n", width, height);
  impasto_job_start (job);
}

/* The preview asks for new pixels (scrolled, toggled, or a parameter changed). */
static void
preview_invalidated (GimpPreview *preview, PreviewState *state)
{
  if (state->closing)
    return;
  if (state->running != NULL)
    {
      impasto_job_cancel (state->running);
      state->pending = TRUE;
      return;
    }
  start_preview (state);
}

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
  gtk_widget_set_visible (state->thumbnail, pixbuf != NULL);
  g_clear_object (&pixbuf);

  GString *text = g_string_new (NULL);
  if (style != NULL && style->description != NULL)
    g_string_append (text, style->description);
  if (style != NULL && style->author != NULL)
    g_string_append_printf (text, "%s%s", text->len ? "\n" : "", style->author);
  if (style != NULL && style->license != NULL)
    g_string_append_printf (text, "%s%s %s", text->len ? "\n" : "", _("Licence:"), style->license);
  gtk_label_set_text (GTK_LABEL (state->info), text->str);
  gtk_widget_set_visible (state->info, text->len > 0);
  g_string_free (text, TRUE);
}

/* OK only with an installed style chosen (not the "no style chosen" placeholder). */
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
      update_style_info (state);
      update_ok_sensitivity (state);
    }
  gimp_preview_invalidate (GIMP_PREVIEW (state->preview));
}

/* First use (or the last model is gone): start with mosaic-9 if installed, else the first model. */
static void
choose_initial_style (PreviewState *state)
{
  gchar *id = config_model_id (state);
  if (impasto_style_list_find (state->styles, id) == NULL)
    {
      const ImpastoStyle *style = impasto_style_list_find (state->styles, "mosaic-9");
      if (style == NULL)
        style = g_ptr_array_index (state->styles->styles, 0);
      g_object_set (state->config, "model", style->id, NULL);
    }
  g_free (id);
}

/* Dialog body when no model is installed: say where to put them. */
static void
fill_no_models (GimpProcedureDialog *dialog, GtkWidget *box, const ImpastoStyleList *styles)
{
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
  GtkWidget *label = gtk_label_new (text);
  gtk_label_set_line_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  gtk_box_pack_start (GTK_BOX (box), label, FALSE, FALSE, 0);
  gtk_widget_show (label);
  gtk_dialog_set_response_sensitive (GTK_DIALOG (dialog), GTK_RESPONSE_OK, FALSE);
  g_free (text);
  g_string_free (folders, TRUE);
}

/* GimpPreview sets its size from its style when it is styled, so enlarge it once it is. */
static void
enlarge_preview (GtkWidget *preview, PreviewState *state)
{
  gimp_preview_set_size (GIMP_PREVIEW (preview),
                         MIN (PREVIEW_MAX_EDGE, gimp_drawable_get_width (state->drawable)),
                         MIN (PREVIEW_MAX_EDGE, gimp_drawable_get_height (state->drawable)));
}

static GtkWidget *
make_preview (PreviewState *state)
{
  GtkWidget *preview = gimp_drawable_preview_new_from_drawable (state->drawable);
  g_signal_connect (preview, "realize", G_CALLBACK (enlarge_preview), state);
  g_signal_connect (preview, "invalidated", G_CALLBACK (preview_invalidated), state);
  return preview;
}

static GtkWidget *
make_settings (GimpProcedureDialog *dialog, PreviewState *state)
{
  GtkWidget *vbox = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);

  GtkWidget *style_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  state->thumbnail = gtk_image_new ();
  gtk_widget_set_valign (state->thumbnail, GTK_ALIGN_START);
  gtk_box_pack_start (GTK_BOX (style_row), state->thumbnail, FALSE, FALSE, 0);
  GtkWidget *style_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_box_pack_start (GTK_BOX (style_box),
                      gimp_procedure_dialog_get_widget (dialog, "model", G_TYPE_NONE), FALSE,
                      FALSE, 0);
  state->info = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (state->info), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (state->info), 40);
  gtk_label_set_xalign (GTK_LABEL (state->info), 0.0f);
  gimp_label_set_attributes (GTK_LABEL (state->info), PANGO_ATTR_SCALE, PANGO_SCALE_SMALL, -1);
  gtk_box_pack_start (GTK_BOX (style_box), state->info, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (style_row), style_box, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (vbox), style_row, FALSE, FALSE, 0);

  gtk_box_pack_start (GTK_BOX (vbox),
                      gimp_procedure_dialog_get_scale_entry (dialog, "strength", 1.0), FALSE,
                      FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox),
                      gimp_procedure_dialog_get_widget (dialog, "preserve-colors", G_TYPE_NONE),
                      FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (vbox),
                      gimp_procedure_dialog_get_widget (dialog, "tile-size", G_TYPE_NONE), FALSE,
                      FALSE, 0);
  gtk_widget_show_all (vbox);
  return vbox;
}

static void
fill_dialog (GimpProcedureDialog *dialog, GtkWidget *box, PreviewState *state)
{
  GtkWidget *hbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_box_pack_start (GTK_BOX (box), hbox, TRUE, TRUE, 0);

  GtkWidget *preview_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  state->preview = make_preview (state);
  gtk_box_pack_start (GTK_BOX (preview_box), state->preview, TRUE, TRUE, 0);
  state->status = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (state->status), 0.0f);
  gtk_label_set_ellipsize (GTK_LABEL (state->status), PANGO_ELLIPSIZE_END);
  gtk_box_pack_start (GTK_BOX (preview_box), state->status, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (hbox), preview_box, TRUE, TRUE, 0);

  gtk_box_pack_start (GTK_BOX (hbox), make_settings (dialog, state), FALSE, FALSE, 0);
  gtk_widget_show_all (hbox);
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

gboolean
impasto_dialog_run (GimpProcedure *procedure, GimpProcedureConfig *config,
                    GimpDrawable *drawable, const ImpastoStyleList *styles)
{
  PreviewState state = {
    .config = config,
    .drawable = drawable,
    .styles = styles,
    .models = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_model),
  };

  if (styles->styles->len > 0)
    choose_initial_style (&state);
  GtkWidget *dialog = gimp_procedure_dialog_new (procedure, config, _("Style Transfer"));
  state.dialog = dialog;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))), box, TRUE,
                      TRUE, 0);
  gtk_widget_show (box);

  if (styles->styles->len == 0)
    fill_no_models (GIMP_PROCEDURE_DIALOG (dialog), box, styles);
  else
    fill_dialog (GIMP_PROCEDURE_DIALOG (dialog), box, &state);

  gtk_widget_show (dialog);
  gboolean ok = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));

  if (styles->styles->len > 0)
    {
      g_signal_handlers_disconnect_by_func (config, config_changed, &state);
      finish_previews (&state);
    }
  gtk_widget_destroy (dialog);
  g_hash_table_unref (state.models);
  return ok && styles->styles->len > 0;
}
