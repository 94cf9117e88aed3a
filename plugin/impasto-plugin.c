/* impasto-plugin.c — GIMP 3 adapter: registers Filters ▸ Artistic ▸ Style Transfer… (plug-in-impasto)
 * and runs it: arguments, model lookup, dialog, render, return value.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "i18n.h"
#include "impasto-dialog.h"
#include "models.h"
#include "plugin-defs.h"
#include "render.h"

#define IMPASTO_TYPE_PLUG_IN (impasto_plug_in_get_type ())
G_DECLARE_FINAL_TYPE (ImpastoPlugIn, impasto_plug_in, IMPASTO, PLUG_IN, GimpPlugIn)

struct _ImpastoPlugIn {
  GimpPlugIn parent_instance;
};

G_DEFINE_TYPE (ImpastoPlugIn, impasto_plug_in, GIMP_TYPE_PLUG_IN)

/* The folder holding the plug-in executable (DIR/plug-in-impasto). g_free() it. */
static gchar *
plugin_folder (void)
{
  return g_path_get_dirname (gimp_get_progname ());
}

static ImpastoStyleList *
scan_styles (void)
{
  gchar *folder = plugin_folder ();
  gchar *beside = g_build_filename (folder, "models", NULL);
  const gchar *installed[] = { beside, impasto_models_datadir (), NULL };
  GPtrArray *folders = impasto_model_folders (gimp_directory (), installed);
  ImpastoStyleList *list = impasto_style_list_scan (folders);
  g_ptr_array_unref (folders);
  g_free (beside);
  g_free (folder);
  return list;
}

static GList *
impasto_query_procedures (GimpPlugIn *plug_in)
{
  /* The Help button opens help/LANG/ beside the executable (gimp-help.xml maps the procedure's help
   * id to the page). */
  gchar *folder = plugin_folder ();
  gchar *help = g_build_filename (folder, "help", NULL);
  GFile *help_uri = g_file_new_for_path (help);
  gimp_plug_in_set_help_domain (plug_in, IMPASTO_HELP_DOMAIN, help_uri);
  g_object_unref (help_uri);
  g_free (help);
  g_free (folder);
  return g_list_append (NULL, g_strdup (IMPASTO_PROC));
}

static gboolean
impasto_set_i18n (GimpPlugIn *plug_in, const gchar *procedure_name, gchar **gettext_domain,
                  gchar **catalog_dir)
{
  /* Catalogues are installed beside the executable: plug-in-impasto/locale/LANG/LC_MESSAGES/. */
  *gettext_domain = g_strdup (GETTEXT_PACKAGE);
  *catalog_dir = g_strdup ("locale");
  return TRUE;
}

/* The calling error for a model that is not installed: names it, the installed ones and every
 * folder searched.  (The model is a string argument, not a GimpChoice: GIMP would replace an
 * unknown choice value by the default before the plug-in could name it.) */
static GError *
unknown_model_error (const ImpastoStyleList *styles, const gchar *model_id)
{
  gchar *folders = impasto_style_list_folders_text (styles);
  GString *installed = g_string_new (NULL);
  for (guint i = 0; i < styles->styles->len; i++)
    g_string_append_printf (installed, "%s%s", i ? ", " : "",
                            ((const ImpastoStyle *) g_ptr_array_index (styles->styles, i))->id);
  GError *error;
  if (model_id == NULL || model_id[0] == '\0')
    error = g_error_new (IMPASTO_PLUGIN_ERROR, 0,
                         _("No style model was given. Installed models: %s. Folders searched: %s"),
                         installed->len ? installed->str : _("none"), folders);
  else
    error = g_error_new (IMPASTO_PLUGIN_ERROR, 0,
                         _("Unknown style model \"%s\": there is no %s.onnx in the folders "
                           "searched: %s. Installed models: %s"),
                         model_id, model_id, folders, installed->len ? installed->str : _("none"));
  g_string_free (installed, TRUE);
  g_free (folders);
  return error;
}

static GimpValueArray *
run_error (GimpProcedure *procedure, GimpPDBStatusType status, GError *error)
{
  return gimp_procedure_new_return_values (procedure, status, error);
}

static GimpValueArray *
impasto_run (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
             GimpDrawable **drawables, GimpProcedureConfig *config, gpointer run_data)
{
  if (gimp_core_object_array_get_length ((GObject **) drawables) != 1)
    return run_error (procedure, GIMP_PDB_CALLING_ERROR,
                      g_error_new (IMPASTO_PLUGIN_ERROR, 0,
                                   _("Procedure '%s' works with one layer."), IMPASTO_PROC));
  GimpDrawable *drawable = drawables[0];
  if (!GIMP_IS_LAYER (drawable) || GIMP_IS_LAYER_MASK (drawable))
    return run_error (procedure, GIMP_PDB_CALLING_ERROR,
                      g_error_new (IMPASTO_PLUGIN_ERROR, 0,
                                   _("Style Transfer works on layers, not on channels or masks.")));
  gchar *refusal = impasto_drawable_refusal (drawable);
  if (refusal != NULL)
    {
      GError *error = g_error_new_literal (IMPASTO_PLUGIN_ERROR, 0, refusal);
      g_free (refusal);
      return run_error (procedure, GIMP_PDB_CALLING_ERROR, error);
    }

  /* libgimp sets up GEGL's buffers but not its operations, which the stroke size's resampling
   * needs (without this they are missing, and a scaled gegl_buffer_get returns zeros). */
  gegl_init (NULL, NULL);

  ImpastoStyleList *styles = scan_styles ();

  if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      gimp_ui_init (IMPASTO_BINARY);
      /* "Get more styles…" installs where the plug-in and `impasto models install` look */
      gchar *user_models = impasto_user_models_folder (gimp_directory ());
      const gboolean ok = impasto_dialog_run (procedure, config, drawable, &styles, scan_styles,
                                              user_models);
      g_free (user_models);
      if (!ok)
        {
          impasto_style_list_free (styles);
          return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);
        }
    }

  gchar *model_id = NULL;
  ImpastoParams params = { 0 };
  g_object_get (config, "model", &model_id, "strength", &params.strength, "preserve-colors",
                &params.preserve_colors, "tile-size", &params.tile_size, "stroke-size",
                &params.stroke_size, NULL);

  const ImpastoStyle *style = impasto_style_list_find (styles, model_id);
  if (style == NULL)
    {
      GError *error = unknown_model_error (styles, model_id);
      g_free (model_id);
      impasto_style_list_free (styles);
      return run_error (procedure, GIMP_PDB_CALLING_ERROR, error);
    }

  params.batchnorm = IMPASTO_BATCHNORM_AUTO;
  impasto_batchnorm_parse (style->batchnorm, &params.batchnorm);
  gchar *title = g_strdup_printf (_("Style transfer: %s"), style->name);
  gimp_progress_init (title);
  gchar *layer_name = g_strdup_printf (_("%s (Impasto)"), style->name);
  GError *error = NULL;
  GimpLayer *layer = impasto_render_layer (image, GIMP_LAYER (drawable), style->path, layer_name,
                                           title, &params, G_OBJECT (config), style, &error);
  g_free (layer_name);
  g_free (title);
  g_free (model_id);
  impasto_style_list_free (styles);
  if (layer == NULL)
    return run_error (procedure, GIMP_PDB_EXECUTION_ERROR, error);

  if (run_mode != GIMP_RUN_NONINTERACTIVE)
    gimp_displays_flush ();

  GimpValueArray *values = gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
  GIMP_VALUES_SET_LAYER (values, 1, layer);
  return values;
}

static GimpProcedure *
impasto_create_procedure (GimpPlugIn *plug_in, const gchar *name)
{
  if (g_strcmp0 (name, IMPASTO_PROC) != 0)
    return NULL;

  GimpProcedure *procedure = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN,
                                                       impasto_run, NULL, NULL);
  gimp_procedure_set_image_types (procedure, "RGB*, GRAY*");
  gimp_procedure_set_sensitivity_mask (procedure, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
  gimp_procedure_set_menu_label (procedure, _("Style _Transfer…"));
  gimp_procedure_add_menu_path (procedure, "<Image>/Filters/Artistic");
  gimp_procedure_set_documentation (
      procedure, _("Repaint the layer in the style of a painting"),
      _("Runs a neural style-transfer model (ONNX, fast-neural-style) on the layer, or on the "
        "selected part of it, and adds the result as a new layer directly above it. The layer "
        "itself is not changed. Models are NAME.onnx files in the plug-in's models folder, in "
        "impasto/models in the GIMP profile, or in the folders listed in IMPASTO_MODEL_PATH."),
      name);
  gimp_procedure_set_attribution (procedure, "Impasto contributors", "Impasto contributors",
                                  "2026");

  /* Factory default: the first installed style, so "Reset to factory defaults" picks a real one. */
  ImpastoStyleList *styles = scan_styles ();
  const ImpastoStyle *first =
      styles->styles->len > 0 ? g_ptr_array_index (styles->styles, 0) : NULL;
  gimp_procedure_add_string_argument (procedure, "model", _("St_yle"),
                                      _("Style model: the model file's name without .onnx, e.g. "
                                        "mosaic-9"),
                                      first != NULL ? first->id : "", G_PARAM_READWRITE);
  impasto_style_list_free (styles);

  gimp_procedure_add_double_argument (procedure, "strength", _("Stre_ngth"),
                                      _("How much of the style to apply (0: none, 1: full)"), 0.0,
                                      1.0, 1.0, G_PARAM_READWRITE);
  gimp_procedure_add_boolean_argument (procedure, "preserve-colors", _("Pr_eserve colours"),
                                       _("Keep the layer's colours; take only light and texture "
                                         "from the style"),
                                       FALSE, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (procedure, "tile-size", _("Work in _pieces of (pixels)"),
                                   _("Edge of the square pieces the image is worked on, in "
                                     "pixels: smaller pieces need less memory (-1: chosen "
                                     "automatically, 0: the whole image at once)"),
                                   -1, 16384, -1, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "stroke-size", _("Stro_ke size"),
                                      _("Size of the brush strokes: the network works on the "
                                        "image scaled by 1 / stroke size (1: as the style was "
                                        "trained, 2: strokes twice as big, 0.5: half as big)"),
                                      0.25, 4.0, 1.0, G_PARAM_READWRITE);
  gimp_procedure_add_file_argument (procedure, "style-file", _("Style ima_ge"),
                                    _("Arbitrary-style models (Magenta, AdaIN): the picture whose "
                                      "style is applied"),
                                    GIMP_FILE_CHOOSER_ACTION_OPEN, TRUE, NULL, G_PARAM_READWRITE);
  gimp_procedure_add_drawable_argument (procedure, "style-layer", _("Layer _with the style"),
                                        _("Arbitrary-style models: a layer (of any open image) "
                                          "whose picture is the style; takes precedence over "
                                          "style-file"),
                                        TRUE, G_PARAM_READWRITE);
  gimp_procedure_add_file_argument (procedure, "style2-file", _("Secon_d style image"),
                                    _("Arbitrary-style models: a second style mixed in"),
                                    GIMP_FILE_CHOOSER_ACTION_OPEN, TRUE, NULL, G_PARAM_READWRITE);
  gimp_procedure_add_double_argument (procedure, "mix", _("_Mix"),
                                      _("Weight of the second style (0: only the first, 1: only "
                                        "the second)"),
                                      0.0, 1.0, 0.0, G_PARAM_READWRITE);
  gimp_procedure_add_layer_return_value (procedure, "layer", _("Layer"),
                                         _("The new layer with the stylised pixels"), FALSE,
                                         G_PARAM_READWRITE);
  return procedure;
}

static void
impasto_plug_in_class_init (ImpastoPlugInClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);
  plug_in_class->query_procedures = impasto_query_procedures;
  plug_in_class->create_procedure = impasto_create_procedure;
  plug_in_class->set_i18n = impasto_set_i18n;
}

static void
impasto_plug_in_init (ImpastoPlugIn *self)
{
}

GIMP_MAIN (IMPASTO_TYPE_PLUG_IN)
