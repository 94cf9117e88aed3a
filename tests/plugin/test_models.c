/* test_models.c — model discovery of the plug-in (plugin/models.c) without GIMP running:
 * search order and precedence, sidecars (JSON, INI with localised keys, thumbnails), derived names,
 * labels of models sharing a name, broken sidecars, files that are not models.
 *
 * Prints "N passed, M failed"; exit status 0 / 1.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

static int passed, failed;

static void
check (const char *what, gboolean ok, const char *detail)
{
  if (ok)
    passed++;
  else
    failed++;
  printf ("%s - %s%s%s\n", ok ? "ok  " : "FAIL", what, ok || !detail ? "" : ": ",
          ok || !detail ? "" : detail);
}

static void
check_str (const char *what, const char *got, const char *want)
{
  gchar *detail = g_strdup_printf ("got \"%s\", want \"%s\"", got ? got : "(null)",
                                   want ? want : "(null)");
  check (what, g_strcmp0 (got, want) == 0, detail);
  g_free (detail);
}

static void
write_file (const gchar *folder, const gchar *name, const gchar *text)
{
  gchar *path = g_build_filename (folder, name, NULL);
  g_file_set_contents (path, text, -1, NULL);
  g_free (path);
}

static gchar *
make_folder (const gchar *root, const gchar *name)
{
  gchar *path = g_build_filename (root, name, NULL);
  g_mkdir_with_parents (path, 0755);
  return path;
}

static void
test_names (void)
{
  const char *cases[][2] = {
    {"mosaic-9", "Mosaic"},
    {"mosaic-13-dynamic", "Mosaic"},
    {"rain_princess-9", "Rain Princess"},
    {"starry-night", "Starry Night"},
    {"x", "X"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gchar *name = impasto_style_name_from_id (cases[i][0]);
      gchar *what = g_strdup_printf ("name from id %s", cases[i][0]);
      check_str (what, name, cases[i][1]);
      g_free (what);
      g_free (name);
    }
}

static void
test_scan (const gchar *root)
{
  gchar *env1 = make_folder (root, "env1");
  gchar *env2 = make_folder (root, "env2");
  gchar *profile = make_folder (root, "profile");
  gchar *plugin_dir = make_folder (root, "plug-in-impasto");
  gchar *profile_models = make_folder (profile, "impasto/models");
  gchar *plugin_models = make_folder (plugin_dir, "models");

  /* env1 wins over env2, the profile and the plug-in folder for the same id. */
  write_file (env1, "mosaic-9.onnx", "x");
  write_file (env1, "mosaic-9.json",
              "{\"name\": \"Mosaic tiles\", \"description\": \"Roman mosaic\", "
              "\"license\": \"BSD-3-Clause\", \"author\": \"someone\", "
              "\"thumbnail\": \"mosaic.png\"}");
  write_file (env1, "mosaic.png", "not really a png, but a file");
  write_file (env2, "mosaic-9.onnx", "x");
  write_file (env2, "candy-9.onnx", "x");
  write_file (env2, "candy-9.ini",
              "[style]\nname=Candy\nname[de]=Bonbon\ndescription=Sweet\nlicence=MIT\n"
              "thumbnail=missing.png\n");
  write_file (env2, "broken-9.onnx", "x");
  write_file (env2, "broken-9.json", "{ not json");
  write_file (env2, "notes.txt", "not a model");
  write_file (env2, "monet.onnx", "x");
  write_file (env2, "monet.json",
              "{\"name\": \"Monet\", \"kind\": \"translation\", "
              "\"direction\": \"photo \u2192 Monet\", \"batchnorm\": \"image-statistics\"}");
  write_file (env2, "facades.onnx", "x");
  write_file (env2, "facades.ini",
              "[style]\nname=Facades\nkind=translation\ndirection=labels \u2192 facade\n"
              "direction[de]=Beschriftung \u2192 Fassade\n");
  write_file (env2, "zebra.onnx", "x");
  write_file (env2, "zebra.json", "{\"name\": \"Zebra\", \"direction\": \"horse \u2192 zebra\"}");
  write_file (env2, ".onnx", "no name");
  write_file (profile_models, "udnie-9.onnx", "x");
  write_file (profile_models, "udnie-13-dynamic.onnx", "x");
  write_file (plugin_models, "candy-9.onnx", "x");
  write_file (plugin_models, "pointilism-9.onnx", "x");

  gchar *env = g_strdup_printf ("%s:%s::%s/does-not-exist", env1, env2, root);
  g_setenv ("IMPASTO_MODEL_PATH", env, TRUE);
  g_setenv ("GIMP3_DIRECTORY", profile, TRUE);
  g_setenv ("LANGUAGE", "de", TRUE);

  GPtrArray *folders = impasto_model_folders (plugin_dir);
  check ("five folders: 3 from IMPASTO_MODEL_PATH (empty entry skipped), profile, plug-in",
         folders->len == 5, NULL);
  if (folders->len == 5)
    {
      check_str ("first folder", g_ptr_array_index (folders, 0), env1);
      check_str ("profile folder", g_ptr_array_index (folders, 3), profile_models);
      check_str ("plug-in folder", g_ptr_array_index (folders, 4), plugin_models);
    }

  ImpastoStyleList *list = impasto_style_list_scan (folders);
  gchar *ids = g_strdup ("");
  for (guint i = 0; i < list->styles->len; i++)
    {
      const ImpastoStyle *s = g_ptr_array_index (list->styles, i);
      gchar *more = g_strconcat (ids, i ? "," : "", s->id, NULL);
      g_free (ids);
      ids = more;
    }
  check_str ("models found, sorted, each id once", ids,
             "broken-9,candy-9,facades,monet,mosaic-9,pointilism-9,udnie-13-dynamic,udnie-9,zebra");
  g_free (ids);

  const ImpastoStyle *mosaic = impasto_style_list_find (list, "mosaic-9");
  gchar *mosaic_path = g_build_filename (env1, "mosaic-9.onnx", NULL);
  gchar *thumb_path = g_build_filename (env1, "mosaic.png", NULL);
  check ("mosaic-9 found", mosaic != NULL, NULL);
  if (mosaic != NULL)
    {
      check_str ("mosaic-9 from the first folder", mosaic->path, mosaic_path);
      check_str ("JSON name", mosaic->name, "Mosaic tiles");
      check_str ("JSON name is the label", mosaic->label, "Mosaic tiles");
      check_str ("JSON description", mosaic->description, "Roman mosaic");
      check_str ("JSON license", mosaic->license, "BSD-3-Clause");
      check_str ("JSON author", mosaic->author, "someone");
      check_str ("JSON thumbnail, relative to the model", mosaic->thumbnail, thumb_path);
    }
  g_free (mosaic_path);
  g_free (thumb_path);

  const ImpastoStyle *candy = impasto_style_list_find (list, "candy-9");
  if (candy != NULL)
    {
      gchar *candy_path = g_build_filename (env2, "candy-9.onnx", NULL);
      check_str ("candy-9 from IMPASTO_MODEL_PATH, not the plug-in folder", candy->path,
                 candy_path);
      g_free (candy_path);
      check_str ("INI name, localised for LANGUAGE=de", candy->name, "Bonbon");
      check_str ("INI licence", candy->license, "MIT");
      check ("INI thumbnail that does not exist is dropped", candy->thumbnail == NULL, NULL);
    }
  else
    check ("candy-9 found", FALSE, NULL);

  const ImpastoStyle *broken = impasto_style_list_find (list, "broken-9");
  if (broken != NULL)
    {
      check_str ("broken sidecar: name from the id", broken->name, "Broken");
      check ("broken sidecar: no description", broken->description == NULL, NULL);
    }
  else
    check ("broken-9 found", FALSE, NULL);

  const ImpastoStyle *u9 = impasto_style_list_find (list, "udnie-9");
  const ImpastoStyle *u13 = impasto_style_list_find (list, "udnie-13-dynamic");
  if (u9 != NULL && u13 != NULL)
    {
      check_str ("shared name: both named Udnie", u9->name, "Udnie");
      check_str ("shared name: label tells them apart (9)", u9->label, "Udnie (udnie-9)");
      check_str ("shared name: label tells them apart (13)", u13->label,
                 "Udnie (udnie-13-dynamic)");
    }
  else
    check ("udnie-9 and udnie-13-dynamic found", FALSE, NULL);

  const ImpastoStyle *monet = impasto_style_list_find (list, "monet");
  const ImpastoStyle *facades = impasto_style_list_find (list, "facades");
  const ImpastoStyle *zebra = impasto_style_list_find (list, "zebra");
  if (monet != NULL && facades != NULL && zebra != NULL)
    {
      check_str ("translation: kind", monet->kind, "translation");
      check_str ("translation: listed by its direction", monet->label, "photo \u2192 Monet");
      check_str ("translation: name kept for the layer", monet->name, "Monet");
      check_str ("translation: batchnorm", monet->batchnorm, "image-statistics");
      check_str ("INI translation: direction localised for LANGUAGE=de", facades->label,
                 "Beschriftung \u2192 Fassade");
      check ("no batchnorm in the sidecar: the model decides", facades->batchnorm == NULL, NULL);
      check_str ("a direction without kind translation: listed by name", zebra->label, "Zebra");
    }
  else
    check ("monet, facades and zebra found", FALSE, NULL);

  check ("unknown id not found", impasto_style_list_find (list, "nope") == NULL, NULL);
  gchar *text = impasto_style_list_folders_text (list);
  check ("folder text names every folder searched",
         strstr (text, env1) && strstr (text, env2) && strstr (text, profile_models) &&
             strstr (text, plugin_models),
         text);
  g_free (text);

  impasto_style_list_free (list);
  g_ptr_array_unref (folders);

  g_unsetenv ("IMPASTO_MODEL_PATH");
  folders = impasto_model_folders (NULL);
  check ("without IMPASTO_MODEL_PATH and plug-in folder: only the profile folder",
         folders->len == 1, NULL);
  list = impasto_style_list_scan (folders);
  check ("two models in the profile", list->styles->len == 2, NULL);
  impasto_style_list_free (list);
  g_ptr_array_unref (folders);

  g_free (env);
  g_free (env1);
  g_free (env2);
  g_free (profile);
  g_free (plugin_dir);
  g_free (profile_models);
  g_free (plugin_models);
}

int
main (void)
{
  gchar *root = g_dir_make_tmp ("impasto-models-XXXXXX", NULL);
  if (root == NULL)
    {
      printf ("FAIL - cannot make a temporary folder\n");
      return 1;
    }
  test_names ();
  test_scan (root);
  gchar *cmd = g_strdup_printf ("rm -rf '%s'", root);
  if (system (cmd) != 0)
    printf ("# could not remove %s\n", root);
  g_free (cmd);
  g_free (root);
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
