/* models_cmd.c — MODEL names for the impasto command, through the same folders and sidecars as the
 * GIMP plug-in (plugin/models.c), and `impasto models list`.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "models_cmd.h"

#include "models.h"
#ifdef IMPASTO_HAVE_MODELS_INSTALL
#include "models_install.h"
#endif

#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Same exit statuses as impasto.c. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* The installed folders, after IMPASTO_MODEL_PATH and the profile: the plug-in's models/ (when
 * this build has a plug-in folder), then $prefix/share/impasto/models. */
static GPtrArray *cli_model_folders (void)
{
  const gchar *installed[3] = { NULL, NULL, NULL };
  int n = 0;
#ifdef IMPASTO_PLUGIN_MODELS_DIR
  installed[n++] = IMPASTO_PLUGIN_MODELS_DIR;
#endif
  installed[n++] = impasto_models_datadir ();
  gchar *profile = impasto_profile_dir ();
  GPtrArray *folders = impasto_model_folders (profile, installed);
  g_free (profile);
  return folders;
}

static ImpastoStyleList *cli_scan (void)
{
  GPtrArray *folders = cli_model_folders ();
  ImpastoStyleList *list = impasto_style_list_scan (folders);
  g_ptr_array_unref (folders);
  return list;
}

/* Print "impasto: MESSAGE" on one line (like impasto.c's report; used before any progress bar). */
G_GNUC_PRINTF (1, 2)
static void report (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *line = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_strdelimit (line, "\r\n", ' ');
  fprintf (stderr, "impasto: %s\n", line);
  g_free (line);
}

char *impasto_cli_model_path (const char *model)
{
  if (g_file_test (model, G_FILE_TEST_IS_REGULAR) || strchr (model, '/')
      || g_str_has_suffix (model, ".onnx") || *model == '\0') {
    char *path = strdup (model);
    if (!path)
      report ("out of memory");
    return path;
  }

  ImpastoStyleList *list = cli_scan ();
  const ImpastoStyle *style = impasto_style_list_find (list, model);
  char *path = NULL;
  if (!style) {
    gchar *folders = impasto_style_list_folders_text (list);
    report ("no model '%s': not a file, and no %s.onnx or %s.json/.ini in the folders searched: %s",
            model, model, model, folders);
    g_free (folders);
  } else if (style->is_pack) {
    report ("model '%s' (%s) is a %s pack of %u networks: this impasto runs single-file models "
            "only", model, style->sidecar, style->family ? style->family : "model",
            style->networks->len);
  } else if (!(path = strdup (style->path))) {
    report ("out of memory");
  }
  impasto_style_list_free (list);
  return path;
}

static const char *or_dash (const char *s)
{
  return s && *s ? s : "-";
}

static int models_list (int argc, char **argv)
{
  if (argc != 1) {
    report ("usage: impasto models list");
    return EXIT_USAGE;
  }
  ImpastoStyleList *list = cli_scan ();
  if (list->styles->len == 0) {
    gchar *folders = impasto_style_list_folders_text (list);
    printf ("No models installed. Folders searched: %s\n", folders);
    g_free (folders);
  } else {
    /* Columns as wide as their longest entry (bytes; the folder, last, is never padded). */
    static const char *const heads[] = { "NAME", "DISPLAY NAME", "FAMILY", "LICENCE" };
    int width[4];
    for (int c = 0; c < 4; c++)
      width[c] = (int) strlen (heads[c]);
    for (guint i = 0; i < list->styles->len; i++) {
      const ImpastoStyle *s = g_ptr_array_index (list->styles, i);
      const char *cells[4] = { s->id, s->label, or_dash (s->family), or_dash (s->license) };
      for (int c = 0; c < 4; c++)
        width[c] = MAX (width[c], (int) strlen (cells[c]));
    }
    printf ("%-*s  %-*s  %-*s  %-*s  FOLDER\n", width[0], heads[0], width[1], heads[1], width[2],
            heads[2], width[3], heads[3]);
    for (guint i = 0; i < list->styles->len; i++) {
      const ImpastoStyle *s = g_ptr_array_index (list->styles, i);
      printf ("%-*s  %-*s  %-*s  %-*s  %s\n", width[0], s->id, width[1], s->label, width[2],
              or_dash (s->family), width[3], or_dash (s->license), s->folder);
    }
  }
  impasto_style_list_free (list);
  if (fflush (stdout) != 0 || ferror (stdout)) {
    report ("cannot write to standard output");
    return EXIT_RUNTIME;
  }
  return EXIT_SUCCESS;
}

#ifdef IMPASTO_HAVE_MODELS_INSTALL
/* catalogue / install / remove (cli/models_install.c) take the whole "models SUB ..." line. */
static int models_get (int argc, char **argv)
{
  return impasto_models_command (argc + 1, argv - 1);
}
#endif

/* The subcommands of `impasto models`. */
static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
} subcommands[] = {
  { "list", models_list },
#ifdef IMPASTO_HAVE_MODELS_INSTALL
  { "catalogue", models_get },
  { "install", models_get },
  { "remove", models_get },
#endif
};

int impasto_cli_models_command (int argc, char **argv)
{
  if (argc >= 2)
    for (size_t i = 0; i < G_N_ELEMENTS (subcommands); i++)
      if (strcmp (argv[1], subcommands[i].name) == 0)
        return subcommands[i].run (argc - 1, argv + 1);
  if (argc < 2)
    report ("usage: impasto models list|catalogue|install|remove (see impasto --help)");
  else
    report ("unknown command 'models %s' (see impasto --help)", argv[1]);
  return EXIT_USAGE;
}

void impasto_cli_print_model_help (FILE *f)
{
  fputs ("\n"
         "MODEL is a model file (.onnx) or the NAME of an installed model: NAME.onnx, or a\n"
         "NAME.json / NAME.ini sidecar, in the first of these folders that has it (the GIMP\n"
         "plug-in searches the same folders):\n"
         "  1. each folder in $IMPASTO_MODEL_PATH (separated by ':')\n"
         "  2. impasto/models in the GIMP profile ($GIMP3_DIRECTORY, else\n"
         "     $XDG_CONFIG_HOME/GIMP/3.0, else ~/.config/GIMP/3.0)\n"
         "  3. the installed models: the plug-in's models/ folder and share/impasto/models\n"
         "Now, in order:\n", f);
  GPtrArray *folders = cli_model_folders ();
  for (guint i = 0; i < folders->len; i++)
    fprintf (f, "  %s\n", (const char *) g_ptr_array_index (folders, i));
  g_ptr_array_unref (folders);
}
