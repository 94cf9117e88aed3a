/* test_models.c — model discovery shared by the plug-in and the CLI (plugin/models.c), no GIMP:
 * search order and precedence, the profile folder, sidecars (JSON, INI with localised keys,
 * thumbnails, family / networks / range / multiple / kind / direction, unknown keys and bad values),
 * packs without NAME.onnx, derived names, labels of models sharing a name, broken sidecars, files
 * that are not models; one sidecar read by its path (the CLI's MODEL.json), errors included.
 *
 * Prints "N passed, M failed"; exit status 0 / 1.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
  write_file (env2, ".onnx", "no name");
  write_file (profile_models, "udnie-9.onnx", "x");
  write_file (profile_models, "udnie-13-dynamic.onnx", "x");
  write_file (plugin_models, "candy-9.onnx", "x");
  write_file (plugin_models, "pointilism-9.onnx", "x");

  gchar *env = g_strdup_printf ("%s:%s::%s/does-not-exist", env1, env2, root);
  g_setenv ("IMPASTO_MODEL_PATH", env, TRUE);
  g_setenv ("GIMP3_DIRECTORY", profile, TRUE);
  g_setenv ("LANGUAGE", "de", TRUE);

  gchar *datadir = make_folder (root, "share/impasto/models");
  gchar *profile_guess = impasto_profile_dir ();
  check_str ("profile folder from GIMP3_DIRECTORY", profile_guess, profile);
  g_free (profile_guess);
  /* the folder `impasto models install` installs into is the one searched after IMPASTO_MODEL_PATH */
  gchar *user_models = impasto_user_models_folder (NULL);
  check_str ("user model folder: GIMP3_DIRECTORY/impasto/models", user_models, profile_models);
  g_free (user_models);
  /* The plug-in's folder twice (once through "..") is searched once. */
  gchar *plugin_models_again = g_build_filename (plugin_dir, "..", "plug-in-impasto", "models", NULL);
  const gchar *installed[] = { plugin_models, plugin_models_again, datadir, NULL };
  GPtrArray *folders = impasto_model_folders (profile, installed);
  check ("six folders: 3 from IMPASTO_MODEL_PATH (empty entry skipped), profile, plug-in, datadir",
         folders->len == 6, NULL);
  if (folders->len == 6)
    {
      check_str ("first folder", g_ptr_array_index (folders, 0), env1);
      check_str ("profile folder", g_ptr_array_index (folders, 3), profile_models);
      check_str ("plug-in folder", g_ptr_array_index (folders, 4), plugin_models);
      check_str ("datadir last", g_ptr_array_index (folders, 5), datadir);
    }
  g_free (plugin_models_again);

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
             "broken-9,candy-9,mosaic-9,pointilism-9,udnie-13-dynamic,udnie-9");
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
  folders = impasto_model_folders (profile, NULL);
  check ("without IMPASTO_MODEL_PATH and installed folders: only the profile folder",
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
  g_free (datadir);
}

/* The default profile folder without GIMP3_DIRECTORY: XDG_CONFIG_HOME, else ~/.config. */
static void
test_profile_dir (const gchar *root)
{
  g_unsetenv ("GIMP3_DIRECTORY");
  gchar *want = g_build_filename (g_get_user_config_dir (), "GIMP", "3.0", NULL);
  gchar *got = impasto_profile_dir ();
  check_str ("profile folder: user config dir/GIMP/3.0", got, want);
  g_free (got);
  g_free (want);
  g_setenv ("GIMP3_DIRECTORY", "relative/profile", TRUE);
  want = g_build_filename (g_get_home_dir (), "relative/profile", NULL);
  got = impasto_profile_dir ();
  check_str ("relative GIMP3_DIRECTORY is taken from the home folder", got, want);
  g_free (got);
  g_free (want);
  g_unsetenv ("GIMP3_DIRECTORY");
}

static const ImpastoStyle *
find_checked (const ImpastoStyleList *list, const char *id)
{
  const ImpastoStyle *style = impasto_style_list_find (list, id);
  gchar *what = g_strdup_printf ("%s found", id);
  check (what, style != NULL, NULL);
  g_free (what);
  return style;
}

/* The keys that say what a model is (issue 9), packs, and values that must be ignored. */
static void
test_kinds (const gchar *root)
{
  gchar *folder = make_folder (root, "kinds");
  write_file (folder, "monet.onnx", "x");
  write_file (folder, "monet.json",
              "{\"name\": \"Monet\", \"family\": \"cyclegan\", \"kind\": \"translation\", "
              "\"direction\": \"photo \u2192 Monet\", \"range\": [-1, 1], \"multiple\": 4, "
              "\"future_key\": {\"nested\": [1, 2]}, \"license\": \"BSD-2-Clause\", "
              "\"batchnorm\": \"image-statistics\"}");
  write_file (folder, "magenta.json",
              "{\"name\": \"Any picture\", \"family\": \"magenta\", \"range\": [0, 1],"
              " \"multiple\": 8, \"networks\": {\"predictor\": \"magenta-style-predict.onnx\","
              " \"transfer\": \"sub/magenta-style-transfer.onnx\"}}");
  write_file (folder, "adain.ini",
              "[style]\nname=AdaIN\nfamily=adain\nrange=0;255\nmultiple=8\nunknown=1\n"
              "[networks]\nencoder=adain-encoder.onnx\ndecoder=/abs/adain-decoder.onnx\n");
  write_file (folder, "bad-values.onnx", "x");
  write_file (folder, "bad-values.json",
              "{\"family\": \"gan\", \"kind\": \"sculpture\", \"range\": [0, 2], "
              "\"multiple\": -4, \"networks\": [\"a.onnx\"], \"name\": 7}");
  write_file (folder, "stray.json", "{\"name\": \"no networks, no onnx\"}");
  write_file (folder, "empty-pack.ini", "[style]\nname=Nothing\n[networks]\n");

  GPtrArray *folders = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (folders, g_strdup (folder));
  ImpastoStyleList *list = impasto_style_list_scan (folders);
  check ("four models: two files, two packs; sidecars without networks ignored",
         list->styles->len == 4, NULL);

  const ImpastoStyle *monet = find_checked (list, "monet");
  if (monet != NULL)
    {
      check_str ("family", monet->family, "cyclegan");
      check_str ("kind", monet->kind, "translation");
      check_str ("direction", monet->direction, "photo \u2192 Monet");
      check ("range [-1, 1]", monet->has_range && monet->range_min == -1 && monet->range_max == 1,
             NULL);
      check ("multiple 4", monet->multiple == 4, NULL);
      check ("a file model is no pack", !monet->is_pack && monet->networks->len == 0, NULL);
      check_str ("unknown keys ignored, the rest read", monet->license, "BSD-2-Clause");
      check_str ("a translation is listed by its direction", monet->label, "photo \u2192 Monet");
      check_str ("name kept (the new layer's name)", monet->name, "Monet");
      check_str ("batchnorm", monet->batchnorm, "image-statistics");
    }

  const ImpastoStyle *magenta = find_checked (list, "magenta");
  if (magenta != NULL)
    {
      gchar *json = g_build_filename (folder, "magenta.json", NULL);
      gchar *predictor = g_build_filename (folder, "magenta-style-predict.onnx", NULL);
      gchar *transfer = g_build_filename (folder, "sub", "magenta-style-transfer.onnx", NULL);
      check ("JSON pack", magenta->is_pack, NULL);
      check_str ("pack: path is its sidecar", magenta->path, json);
      check_str ("pack: sidecar", magenta->sidecar, json);
      check_str ("pack family", magenta->family, "magenta");
      check_str ("kind defaults to style", magenta->kind, "style");
      check_str ("a style is listed by its name", magenta->label, "Any picture");
      check ("no batchnorm: the model decides", magenta->batchnorm == NULL, NULL);
      check ("range [0, 1]", magenta->has_range && magenta->range_min == 0 &&
                                 magenta->range_max == 1, NULL);
      check ("multiple 8", magenta->multiple == 8, NULL);
      check ("two networks", magenta->networks->len == 2, NULL);
      check_str ("predictor relative to the sidecar", impasto_style_network (magenta, "predictor"),
                 predictor);
      check_str ("transfer in a subfolder", impasto_style_network (magenta, "transfer"), transfer);
      check ("no such role", impasto_style_network (magenta, "encoder") == NULL, NULL);
      if (magenta->networks->len == 2)
        check_str ("networks keep the file's order",
                   ((ImpastoNetwork *) g_ptr_array_index (magenta->networks, 0))->role,
                   "predictor");
      g_free (json);
      g_free (predictor);
      g_free (transfer);
    }

  const ImpastoStyle *adain = find_checked (list, "adain");
  if (adain != NULL)
    {
      gchar *encoder = g_build_filename (folder, "adain-encoder.onnx", NULL);
      check ("INI pack", adain->is_pack, NULL);
      check_str ("INI family", adain->family, "adain");
      check ("INI range 0;255", adain->has_range && adain->range_min == 0 &&
                                    adain->range_max == 255, NULL);
      check ("INI multiple", adain->multiple == 8, NULL);
      check_str ("INI encoder", impasto_style_network (adain, "encoder"), encoder);
      check_str ("INI absolute decoder kept", impasto_style_network (adain, "decoder"),
                 "/abs/adain-decoder.onnx");
      g_free (encoder);
    }

  const ImpastoStyle *bad = find_checked (list, "bad-values");
  if (bad != NULL)
    {
      check_str ("unknown family ignored: a bare .onnx is fast", bad->family, "fast");
      check_str ("unknown kind ignored", bad->kind, "style");
      check ("range outside the three ignored", !bad->has_range, NULL);
      check ("negative multiple ignored", bad->multiple == 0, NULL);
      check ("networks that are not an object ignored", bad->networks->len == 0, NULL);
      check_str ("a name that is not a string ignored", bad->name, "Bad Values");
    }

  impasto_style_list_free (list);
  g_ptr_array_unref (folders);
  g_free (folder);
}

/* impasto_style_read_sidecar: the keys as the folder scan reads them; errors for what is no
 * sidecar (a FIFO refused before it is opened: opening one would wait for a writer). */
static void
test_read_sidecar (const gchar *root)
{
  gchar *folder = make_folder (root, "one");
  write_file (folder, "pack.json",
              "{\"family\": \"adain\", \"range\": [0, 255], \"multiple\": 8,"
              " \"networks\": {\"encoder\": \"enc.onnx\", \"decoder\": \"/abs/dec.onnx\"}}");
  write_file (folder, "pack2.ini", "[style]\nfamily=magenta\n[networks]\npredictor=p.onnx\n");
  write_file (folder, "array.json", "[1, 2]");
  write_file (folder, "nogroup.ini", "[other]\nname=x\n");
  gchar *json = g_build_filename (folder, "pack.json", NULL);
  gchar *ini = g_build_filename (folder, "pack2.ini", NULL);
  gchar *encoder = g_build_filename (folder, "enc.onnx", NULL);
  gchar *predictor = g_build_filename (folder, "p.onnx", NULL);
  GError *error = NULL;

  ImpastoStyle *style = impasto_style_read_sidecar (json, &error);
  check ("read sidecar: JSON read", style != NULL, error ? error->message : NULL);
  if (style != NULL)
    {
      check_str ("read sidecar: id", style->id, "pack");
      check_str ("read sidecar: sidecar path", style->sidecar, json);
      check_str ("read sidecar: family", style->family, "adain");
      check ("read sidecar: pack, range, multiple", style->is_pack && style->has_range &&
             style->range_max == 255 && style->multiple == 8, NULL);
      check_str ("read sidecar: network beside it", impasto_style_network (style, "encoder"),
                 encoder);
      check_str ("read sidecar: absolute network", impasto_style_network (style, "decoder"),
                 "/abs/dec.onnx");
    }
  impasto_style_entry_free (style);
  g_clear_error (&error);

  style = impasto_style_read_sidecar (ini, &error);
  check ("read sidecar: INI read", style != NULL, error ? error->message : NULL);
  if (style != NULL)
    {
      check_str ("read sidecar: INI family", style->family, "magenta");
      check_str ("read sidecar: INI network", impasto_style_network (style, "predictor"),
                 predictor);
    }
  impasto_style_entry_free (style);
  g_clear_error (&error);

  const struct { const char *file, *message; } bad[] = {
    { "array.json", "not a JSON object" },
    { "nogroup.ini", "no [style] group" },
    { "missing.json", "missing.json" },
    { "fifo.json", "not a regular file" },
  };
  gchar *fifo = g_build_filename (folder, "fifo.json", NULL);
  check ("read sidecar: mkfifo", mkfifo (fifo, 0644) == 0, g_strerror (errno));
  alarm (30); /* a FIFO opened blocking would hang: SIGALRM ends (and fails) the test instead */
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gchar *path = g_build_filename (folder, bad[i].file, NULL);
      style = impasto_style_read_sidecar (path, &error);
      gchar *what = g_strdup_printf ("read sidecar: %s refused with \"%s\"", bad[i].file,
                                     bad[i].message);
      check (what, style == NULL && error != NULL && strstr (error->message, bad[i].message),
             error ? error->message : "no error");
      impasto_style_entry_free (style);
      g_clear_error (&error);
      g_free (what);
      g_free (path);
    }
  alarm (0);
  g_free (fifo);
  g_free (predictor);
  g_free (encoder);
  g_free (ini);
  g_free (json);
  g_free (folder);
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
  test_profile_dir (root);
  test_kinds (root);
  test_read_sidecar (root);
  gchar *cmd = g_strdup_printf ("rm -rf '%s'", root);
  if (system (cmd) != 0)
    printf ("# could not remove %s\n", root);
  g_free (cmd);
  g_free (root);
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
