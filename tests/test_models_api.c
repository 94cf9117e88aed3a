/* test_models_api.c — impasto_models_install_async as a dialog uses it: a main loop, progress
 * delivered in the main thread, cancellation from the progress callback.  Driven by
 * tests/test_models_install.py, which makes the fixtures.
 *
 *   test_models_api WHAT FOLDER [CATALOGUE] [--cancel-at-download]
 * prints "progress STAGE" lines (one per stage change), then "installed NAME" or "error: MESSAGE";
 * exits 0 on success, 1 on error, 2 if a progress call came on another thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "models_install.h"

#include <stdio.h>
#include <string.h>

static GMainLoop *loop;
static GThread *main_thread;
static gboolean wrong_thread, cancel_at_download;
static gchar *result_text;
static int status = 1;

static gboolean
on_progress (const gchar *stage, const gchar *detail, gint64 done, gint64 total, gpointer user)
{
  static gchar *last;
  if (g_thread_self () != main_thread)
    wrong_thread = TRUE;
  if (g_strcmp0 (last, stage) != 0)
    {
      printf ("progress %s\n", stage);
      g_free (last);
      last = g_strdup (stage);
    }
  return !(cancel_at_download && strcmp (stage, "download") == 0);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user)
{
  GError *error = NULL;
  gchar *name = impasto_models_install_finish (result, &error);
  if (name != NULL)
    {
      result_text = g_strdup_printf ("installed %s", name);
      status = 0;
    }
  else
    result_text = g_strdup_printf ("error: %s", error->message);
  g_free (name);
  g_clear_error (&error);
  g_main_loop_quit (loop);
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "usage: test_models_api WHAT FOLDER [CATALOGUE] [--cancel-at-download]\n");
      return 1;
    }
  ImpastoInstallOptions options = { .progress = on_progress };
  for (int i = 3; i < argc; i++)
    if (strcmp (argv[i], "--cancel-at-download") == 0)
      cancel_at_download = TRUE;
    else
      options.catalogue = argv[i];
  main_thread = g_thread_self ();
  loop = g_main_loop_new (NULL, FALSE);
  impasto_models_install_async (argv[1], argv[2], &options, NULL, on_done, NULL);
  g_main_loop_run (loop);
  g_main_loop_unref (loop);
  /* pending progress posts hold the task: let them run before exiting */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  printf ("%s\n", result_text);
  g_free (result_text);
  return wrong_thread ? 2 : status;
}
