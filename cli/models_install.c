/* models_install.c — catalogue, download (libcurl), sha256 check (GChecksum), conversion (the Python
 * converters in a subprocess), sidecar + thumbnail, and atomic install / remove of style models.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "models_install.h"

#include "impasto.h"
#include "models.h"
#include "png_write.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef IMPASTO_DATADIR
#define IMPASTO_DATADIR "/usr/local/share/impasto"
#endif

#define THUMB_SIZE 128

G_DEFINE_QUARK (impasto-install-error-quark, impasto_install_error)

/* ---- catalogue ------------------------------------------------------------------------------ */

static void
file_free (gpointer data)
{
  ImpastoCatalogueFile *f = data;
  g_free (f->url);
  g_free (f->sha256);
  g_free (f);
}

static void
entry_free (gpointer data)
{
  ImpastoCatalogueEntry *e = data;
  g_free (e->name);
  g_free (e->display_name);
  g_free (e->family);
  g_free (e->kind);
  g_free (e->direction);
  g_free (e->description);
  g_free (e->author);
  g_free (e->license);
  g_free (e->converter);
  if (e->files != NULL)
    g_ptr_array_unref (e->files);
  g_free (e->sidecar_json);
  g_free (e);
}

static gchar *
member_string (JsonObject *o, const gchar *key)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, key) : NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (n));
}

gint64
impasto_catalogue_entry_size (const ImpastoCatalogueEntry *entry)
{
  gint64 total = 0;
  for (guint i = 0; i < entry->files->len; i++)
    {
      const ImpastoCatalogueFile *f = g_ptr_array_index (entry->files, i);
      if (f->size < 0)
        return -1;
      total += f->size;
    }
  return total;
}

gboolean
impasto_catalogue_entry_pinned (const ImpastoCatalogueEntry *entry)
{
  for (guint i = 0; i < entry->files->len; i++)
    if (((const ImpastoCatalogueFile *) g_ptr_array_index (entry->files, i))->sha256 == NULL)
      return FALSE;
  return entry->files->len > 0;
}

static gboolean
is_sha256_hex (const gchar *s)
{
  if (s == NULL || strlen (s) != 64)
    return FALSE;
  for (const gchar *p = s; *p; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

static ImpastoCatalogueEntry *
parse_entry (JsonObject *o, GError **error)
{
  ImpastoCatalogueEntry *e = g_new0 (ImpastoCatalogueEntry, 1);
  e->name = member_string (o, "name");
  e->display_name = member_string (o, "display_name");
  e->family = member_string (o, "family");
  e->description = member_string (o, "description");
  e->author = member_string (o, "author");
  e->license = member_string (o, "license");
  e->converter = member_string (o, "converter");
  e->files = g_ptr_array_new_with_free_func (file_free);

  JsonObject *sidecar = json_object_has_member (o, "sidecar") ? json_object_get_object_member (o, "sidecar")
                                                              : NULL;
  if (sidecar != NULL)
    {
      e->kind = member_string (sidecar, "kind");
      e->direction = member_string (sidecar, "direction");
      JsonNode *node = json_node_init_object (json_node_alloc (), sidecar);
      e->sidecar_json = json_to_string (node, FALSE);
      json_node_unref (node);
    }
  JsonArray *files = json_object_has_member (o, "files") ? json_object_get_array_member (o, "files") : NULL;
  for (guint i = 0; files != NULL && i < json_array_get_length (files); i++)
    {
      JsonObject *fo = json_array_get_object_element (files, i);
      ImpastoCatalogueFile *f = g_new0 (ImpastoCatalogueFile, 1);
      f->url = member_string (fo, "url");
      f->sha256 = member_string (fo, "sha256");
      JsonNode *size = fo != NULL ? json_object_get_member (fo, "size") : NULL;
      f->size = (size != NULL && JSON_NODE_HOLDS_VALUE (size)) ? json_node_get_int (size) : -1;
      f->verified = fo != NULL && json_object_has_member (fo, "verified") &&
                    json_object_get_boolean_member (fo, "verified");
      g_ptr_array_add (e->files, f);
      if (f->url == NULL || (f->sha256 != NULL && !is_sha256_hex (f->sha256)))
        {
          g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                       "catalogue entry '%s': file %u has no url or a malformed sha256",
                       e->name ? e->name : "?", i + 1);
          entry_free (e);
          return NULL;
        }
      if (f->sha256 != NULL)
        for (gchar *p = f->sha256; *p; p++)
          *p = g_ascii_tolower (*p);
    }
  if (e->name == NULL || e->converter == NULL || e->files->len == 0)
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                   "catalogue entry '%s' lacks a name, converter or files", e->name ? e->name : "?");
      entry_free (e);
      return NULL;
    }
  if (e->display_name == NULL)
    e->display_name = g_strdup (e->name);
  if (e->license == NULL)
    e->license = g_strdup ("no licence stated");
  return e;
}

static gchar *
default_path (const gchar *env, const gchar *installed)
{
  const gchar *v = g_getenv (env);
  return g_strdup (v != NULL && *v != '\0' ? v : installed);
}

GPtrArray *
impasto_catalogue_load (const gchar *path, GError **error)
{
  gchar *file = path != NULL ? g_strdup (path)
                             : default_path ("IMPASTO_CATALOGUE", IMPASTO_DATADIR "/catalogue.json");
  JsonParser *parser = json_parser_new ();
  GPtrArray *entries = NULL;
  GError *local = NULL;

  if (!json_parser_load_from_file (parser, file, &local))
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                   "cannot read the catalogue '%s': %s", file, local->message);
      g_error_free (local);
      goto out;
    }
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *top = (root != NULL && JSON_NODE_HOLDS_OBJECT (root)) ? json_node_get_object (root) : NULL;
  JsonArray *list = (top != NULL && json_object_has_member (top, "entries"))
                        ? json_object_get_array_member (top, "entries") : NULL;
  if (list == NULL)
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                   "the catalogue '%s' has no \"entries\" list", file);
      goto out;
    }
  entries = g_ptr_array_new_with_free_func (entry_free);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *o = json_array_get_object_element (list, i);
      ImpastoCatalogueEntry *e = o != NULL ? parse_entry (o, error) : NULL;
      if (e == NULL)
        {
          if (o == NULL)
            g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                         "the catalogue '%s': entry %u is not an object", file, i + 1);
          g_clear_pointer (&entries, g_ptr_array_unref);
          goto out;
        }
      g_ptr_array_add (entries, e);
    }
out:
  g_object_unref (parser);
  g_free (file);
  return entries;
}

const ImpastoCatalogueEntry *
impasto_catalogue_find (GPtrArray *entries, const gchar *name)
{
  for (guint i = 0; entries != NULL && i < entries->len; i++)
    {
      const ImpastoCatalogueEntry *e = g_ptr_array_index (entries, i);
      if (g_strcmp0 (e->name, name) == 0)
        return e;
    }
  return NULL;
}

/* ---- folders and names ---------------------------------------------------------------------- */

/* Model names become file names: letters, digits, '.', '_', '-'; no leading '.'. */
static gboolean
check_name (const gchar *name, GError **error)
{
  gsize n = name != NULL ? strlen (name) : 0;
  gboolean ok = n > 0 && n <= 100 && name[0] != '.' && name[0] != '-';
  for (gsize i = 0; ok && i < n; i++)
    ok = g_ascii_isalnum (name[i]) || name[i] == '.' || name[i] == '_' || name[i] == '-';
  if (!ok)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                 "invalid model name '%s': use letters, digits, '.', '_' and '-' (at most 100)",
                 name != NULL ? name : "");
  return ok;
}

/* Name for a URL or file: its base name without query and extension, other characters -> '_'. */
static gchar *
name_from_location (const gchar *what)
{
  const gchar *slash = strrchr (what, '/');
  gchar *base = g_strdup (slash != NULL ? slash + 1 : what);
  base[strcspn (base, "?#")] = '\0';
  gchar *dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';
  for (gchar *p = base; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '.' || *p == '_' || *p == '-'))
      *p = '_';
  while (base[0] == '.' || base[0] == '-')
    memmove (base, base + 1, strlen (base));
  return base;
}

/* Delete a file or a folder tree; errors are ignored (used for clean-up). */
static void
remove_tree (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *dir = g_dir_open (path, 0, NULL);
      const gchar *entry;
      while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
        {
          gchar *child = g_build_filename (path, entry, NULL);
          remove_tree (child);
          g_free (child);
        }
      if (dir != NULL)
        g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* Remove the temporary folders of installs that were killed outright (SIGKILL, power loss) more than
 * a day ago; a younger one may belong to an install still running in another process. */
static void
sweep_stale_installs (const gchar *folder)
{
  GDir *dir = g_dir_open (folder, 0, NULL);
  const gchar *entry;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      GStatBuf st;
      if (entry[0] != '.' || strstr (entry, ".install-") == NULL)
        continue;
      gchar *path = g_build_filename (folder, entry, NULL);
      if (g_stat (path, &st) == 0 && S_ISDIR (st.st_mode) && now - (gint64) st.st_mtime > 24 * 3600)
        remove_tree (path);
      g_free (path);
    }
  if (dir != NULL)
    g_dir_close (dir);
}

/* ---- download ------------------------------------------------------------------------------- */

typedef struct {
  FILE *fp;
  GChecksum *sum;
  gint64 done, expected;
  gboolean too_large, cancelled;
  const ImpastoInstallOptions *options;
  const gchar *label;
} Download;

static size_t
download_write (char *data, size_t size, size_t count, void *user)
{
  Download *d = user;
  size_t len = size * count;
  if (d->expected >= 0 && d->done + (gint64) len > d->expected)
    {
      d->too_large = TRUE;
      return 0;
    }
  if (fwrite (data, 1, len, d->fp) != len)
    return 0;
  g_checksum_update (d->sum, (const guchar *) data, len);
  d->done += len;
  return len;
}

static int
download_progress (void *user, curl_off_t total, curl_off_t now, curl_off_t up_total, curl_off_t up_now)
{
  Download *d = user;
  const ImpastoInstallOptions *o = d->options;
  gint64 expected = d->expected >= 0 ? d->expected : (total > 0 ? (gint64) total : -1);
  if (o != NULL && o->progress != NULL && !o->progress ("download", d->label, (gint64) now, expected,
                                                        o->progress_data))
    {
      d->cancelled = TRUE;
      return 1;
    }
  return 0;
}

static gpointer
curl_init_once (gpointer unused)
{
  return GINT_TO_POINTER (curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

/* Fetch url into dest, checking the size (when known) and the sha256 (when pinned). */
static gboolean
download (const ImpastoCatalogueFile *file, const gchar *dest, const ImpastoInstallOptions *options,
          gchar **sha256, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  if (!GPOINTER_TO_INT (g_once (&once, curl_init_once, NULL)))
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_DOWNLOAD, "cannot initialise libcurl");
      return FALSE;
    }
  const gchar *slash = strrchr (file->url, '/');
  Download d = { .expected = file->size, .options = options, .label = slash ? slash + 1 : file->url };
  d.fp = g_fopen (dest, "wb");
  if (d.fp == NULL)
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_DOWNLOAD, "cannot write '%s': %s",
                   dest, g_strerror (errno));
      return FALSE;
    }
  d.sum = g_checksum_new (G_CHECKSUM_SHA256);

  CURL *curl = curl_easy_init ();
  char curl_msg[CURL_ERROR_SIZE] = "";
  CURLcode rc = CURLE_FAILED_INIT;
  if (curl != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_URL, file->url);
      curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
      curl_easy_setopt (curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
      curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt (curl, CURLOPT_MAXREDIRS, 10L);
      curl_easy_setopt (curl, CURLOPT_FAILONERROR, 1L);
      curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, 30L);
      /* a stalled transfer (under 1 byte/s for 60 s) fails instead of hanging the dialog */
      curl_easy_setopt (curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt (curl, CURLOPT_LOW_SPEED_TIME, 60L);
      gchar *agent = g_strconcat ("impasto/", impasto_version (), NULL);
      curl_easy_setopt (curl, CURLOPT_USERAGENT, agent);
      curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, curl_msg);
      curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, download_write);
      curl_easy_setopt (curl, CURLOPT_WRITEDATA, &d);
      curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, download_progress);
      curl_easy_setopt (curl, CURLOPT_XFERINFODATA, &d);
      curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
      rc = curl_easy_perform (curl);
      curl_easy_cleanup (curl);
      g_free (agent);
    }
  gboolean closed = fclose (d.fp) == 0;
  gboolean ok = FALSE;
  const gchar *got = g_checksum_get_string (d.sum);

  if (d.cancelled)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_CANCELLED,
                 "download of %s cancelled; nothing was installed", file->url);
  else if (d.too_large)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_DOWNLOAD,
                 "%s is larger than the catalogue's %" G_GINT64_FORMAT " bytes; refused", file->url,
                 file->size);
  else if (rc != CURLE_OK)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_DOWNLOAD,
                 "download of %s failed after %" G_GINT64_FORMAT " bytes: %s", file->url, d.done,
                 curl_msg[0] ? curl_msg : curl_easy_strerror (rc));
  else if (!closed)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_DOWNLOAD, "cannot write '%s': %s",
                 dest, g_strerror (errno));
  else if (file->size >= 0 && d.done != file->size)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_DOWNLOAD,
                 "download of %s is truncated: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " bytes",
                 file->url, d.done, file->size);
  else if (file->sha256 != NULL && g_ascii_strcasecmp (got, file->sha256) != 0)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_CHECKSUM,
                 "checksum mismatch for %s: expected sha256 %s, got %s; refused, nothing was installed",
                 file->url, file->sha256, got);
  else
    ok = TRUE;
  if (ok)
    *sha256 = g_strdup (got);
  g_checksum_free (d.sum);
  return ok;
}

/* ---- conversion, thumbnail, sidecar --------------------------------------------------------- */

static gboolean
run_converter (const gchar *converter, const gchar *out_dir, GPtrArray *inputs, GPtrArray *meta,
               const ImpastoInstallOptions *options, gchar **family, GError **error)
{
  gchar *dir = options->converter_dir != NULL
                   ? g_strdup (options->converter_dir)
                   : default_path ("IMPASTO_CONVERT_DIR", IMPASTO_DATADIR "/convert");
  gchar *script = g_build_filename (dir, "impasto-convert.py", NULL);
  const gchar *python = g_getenv ("IMPASTO_PYTHON");
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) (python != NULL && *python ? python : "python3"));
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, (gpointer) converter);
  g_ptr_array_add (argv, (gpointer) out_dir);
  for (guint i = 0; i < inputs->len; i++)
    g_ptr_array_add (argv, g_ptr_array_index (inputs, i));
  for (guint i = 0; i < meta->len; i++)
    {
      g_ptr_array_add (argv, "--meta");
      g_ptr_array_add (argv, g_ptr_array_index (meta, i));
    }
  g_ptr_array_add (argv, NULL);

  gchar *out_text = NULL, *err_text = NULL;
  gint status = 0;
  GError *local = NULL;
  gboolean ok = FALSE;
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out_text, &err_text,
                     &status, &local))
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_CONVERT,
                   "cannot run the converter %s: %s", script, local->message);
      g_error_free (local);
    }
  else if (!g_spawn_check_wait_status (status, NULL))
    {
      /* the converter's reason is its last stderr line */
      g_strchomp (err_text);
      const gchar *nl = strrchr (err_text, '\n');
      const gchar *line = nl != NULL ? nl + 1 : err_text;
      gboolean unknown = WIFEXITED (status) && WEXITSTATUS (status) == 2;
      g_set_error (error, IMPASTO_INSTALL_ERROR,
                   unknown ? IMPASTO_INSTALL_ERROR_FORMAT : IMPASTO_INSTALL_ERROR_CONVERT,
                   "conversion failed: %s", *line ? line : "the converter exited with an error");
    }
  else
    {
      /* "family FAMILY" when the converter knows it (e.g. what auto recognised) */
      gchar **lines = g_strsplit (out_text, "\n", -1);
      for (gchar **l = lines; *l != NULL; l++)
        if (g_str_has_prefix (*l, "family "))
          {
            g_free (*family);
            *family = g_strstrip (g_strdup (*l + strlen ("family ")));
          }
      g_strfreev (lines);
      ok = TRUE;
    }
  g_free (out_text);
  g_free (err_text);
  g_ptr_array_unref (argv);
  g_free (script);
  g_free (dir);
  return ok;
}

/* Stylise a built-in test pattern into a THUMB_SIZE² PNG with our engine.  FALSE (and a reason) for
 * models the engine does not run, e.g. two-input graphs (AdaIN, Magenta transfer). */
static gboolean
write_thumbnail (const gchar *model_path, const gchar *png_path, gchar **reason)
{
  ImpastoError err;
  ImpastoModel *model = impasto_model_load (model_path, &err);
  if (model == NULL)
    {
      *reason = g_strdup (err.message);
      return FALSE;
    }
  const int n = THUMB_SIZE;
  uint8_t *in = g_malloc ((gsize) n * n * 3), *out = g_malloc0 ((gsize) n * n * 3);
  /* gradients plus concentric rings: colour and edges for the style to act on */
  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++)
      {
        double r = hypot (y - n / 2.0, x - n / 2.0);
        uint8_t *p = in + ((gsize) y * n + x) * 3;
        p[0] = (uint8_t) (255.0 * x / (n - 1));
        p[1] = (uint8_t) (255.0 * y / (n - 1));
        p[2] = (uint8_t) (127.5 + 127.0 * sin (r / 4.0));
      }
  ImpastoImage src = { .width = n, .height = n, .channels = 3, .type = IMPASTO_PIXEL_U8, .data_u8 = in };
  ImpastoImage dst = src;
  dst.data_u8 = out;
  ImpastoOptions opt;
  impasto_options_init (&opt);
  opt.threads = 2;
  gboolean ok = impasto_stylize (model, &src, &dst, &opt, &err) == IMPASTO_OK;
  if (!ok)
    *reason = g_strdup (err.message);
  impasto_model_free (model);
  if (ok)
    {
      int fd = g_open (png_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      GError *local = NULL;
      ok = fd >= 0 && imp_png_write (fd, out, n, n, (size_t) n * 3, 3, 1, &local);
      if (fd >= 0)
        close (fd);
      if (!ok)
        *reason = g_strdup (local != NULL ? local->message : g_strerror (errno));
      g_clear_error (&local);
    }
  g_free (in);
  g_free (out);
  return ok;
}

/* NAME.json in the format plugin/models.c reads: the catalogue's "sidecar" values (kind, direction,
 * range, multiple) and name, description, license, author, family, thumbnail, and for a pack
 * (roles not empty) "networks": ROLE -> NAME.d/ROLE.onnx.  "catalogue" and "sources" (with the
 * sha256 of the bytes installed) record the provenance; the model module ignores them. */
static gboolean
write_sidecar (const ImpastoCatalogueEntry *e, const gchar *family, GPtrArray *hashes, const gchar *path,
               gboolean thumbnail, GPtrArray *roles, GError **error)
{
  JsonObject *o = NULL;
  if (e->sidecar_json != NULL)
    {
      JsonNode *node = json_from_string (e->sidecar_json, NULL);
      if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
        o = json_object_ref (json_node_get_object (node));
      if (node != NULL)
        json_node_unref (node);
    }
  if (o == NULL)
    o = json_object_new ();
  json_object_set_string_member (o, "name", e->display_name);
  if (e->description != NULL)
    json_object_set_string_member (o, "description", e->description);
  json_object_set_string_member (o, "license", e->license);
  if (e->author != NULL)
    json_object_set_string_member (o, "author", e->author);
  if (family != NULL)
    json_object_set_string_member (o, "family", family);
  json_object_set_string_member (o, "catalogue", e->name);
  JsonArray *sources = json_array_new ();
  for (guint i = 0; i < e->files->len; i++)
    {
      const ImpastoCatalogueFile *f = g_ptr_array_index (e->files, i);
      JsonObject *s = json_object_new ();
      json_object_set_string_member (s, "url", f->url);
      /* the hash of the bytes actually installed (equal to the pinned one where there is one) */
      json_object_set_string_member (s, "sha256", g_ptr_array_index (hashes, i));
      json_array_add_object_element (sources, s);
    }
  json_object_set_array_member (o, "sources", sources);
  if (thumbnail)
    {
      gchar *t = g_strconcat (e->name, ".png", NULL);
      json_object_set_string_member (o, "thumbnail", t);
      g_free (t);
    }
  if (roles->len > 0)
    {
      JsonObject *networks = json_object_new ();
      for (guint i = 0; i < roles->len; i++)
        {
          const gchar *role = g_ptr_array_index (roles, i);
          gchar *file = g_strdup_printf ("%s.d/%s.onnx", e->name, role);
          json_object_set_string_member (networks, role, file);
          g_free (file);
        }
      json_object_set_object_member (o, "networks", networks);
    }
  JsonNode *root = json_node_init_object (json_node_alloc (), o);
  JsonGenerator *gen = json_generator_new ();
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  gboolean ok = json_generator_to_file (gen, path, error);
  g_object_unref (gen);
  json_node_unref (root);
  json_object_unref (o);
  return ok;
}

/* ---- install / remove ----------------------------------------------------------------------- */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

static gboolean
progress (const ImpastoInstallOptions *o, const gchar *stage, const gchar *detail)
{
  return o->progress == NULL || o->progress (stage, detail, 0, 0, o->progress_data);
}

static gboolean
cancelled (GError **error)
{
  g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_CANCELLED, "cancelled; nothing was installed");
  return FALSE;
}

/* An entry for a URL or local file outside the catalogue. */
static ImpastoCatalogueEntry *
adhoc_entry (const gchar *what, const ImpastoInstallOptions *o, GError **error)
{
  gboolean is_url = strstr (what, "://") != NULL;
  gchar *url = NULL;
  if (is_url)
    url = g_strdup (what);
  else
    {
      gchar *abs = g_canonicalize_filename (what, NULL);
      url = g_filename_to_uri (abs, NULL, error);
      g_free (abs);
      if (url == NULL)
        return NULL;
    }
  ImpastoCatalogueEntry *e = g_new0 (ImpastoCatalogueEntry, 1);
  e->name = o->name != NULL ? g_strdup (o->name) : name_from_location (what);
  e->display_name = g_strdup (e->name);
  e->license = g_strdup (is_url ? "unknown (installed from a URL)" : "unknown (installed from a file)");
  e->converter = g_strdup ("auto");
  e->files = g_ptr_array_new_with_free_func (file_free);
  ImpastoCatalogueFile *f = g_new0 (ImpastoCatalogueFile, 1);
  f->url = url;
  f->size = -1;
  f->sha256 = o->sha256 != NULL ? g_ascii_strdown (o->sha256, -1) : NULL;
  g_ptr_array_add (e->files, f);
  if (o->sha256 != NULL && !is_sha256_hex (o->sha256))
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                   "'%s' is not a sha256 (64 hexadecimal digits)", o->sha256);
      entry_free (e);
      return NULL;
    }
  return e;
}

/* The models of one folder as the plug-in and `impasto models list` see them (plugin/models.c):
 * NAME.onnx files, and packs (a sidecar with networks, no NAME.onnx). */
static ImpastoStyleList *
scan_one_folder (const gchar *folder)
{
  GPtrArray *folders = g_ptr_array_new ();
  g_ptr_array_add (folders, (gpointer) folder);
  ImpastoStyleList *list = impasto_style_list_scan (folders);
  g_ptr_array_unref (folders);
  return list;
}

static gboolean
model_in_folder (const gchar *folder, const gchar *name)
{
  ImpastoStyleList *list = scan_one_folder (folder);
  gboolean found = impasto_style_list_find (list, name) != NULL;
  impasto_style_list_free (list);
  return found;
}

/* The roles of a pack the converter wrote as ROLE.onnx files, sorted. */
static GPtrArray *
pack_roles (const gchar *out_dir)
{
  GPtrArray *roles = g_ptr_array_new_with_free_func (g_free);
  GDir *dir = g_dir_open (out_dir, 0, NULL);
  const gchar *entry;
  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (entry, ".onnx") && strlen (entry) > strlen (".onnx"))
      g_ptr_array_add (roles, g_strndup (entry, strlen (entry) - strlen (".onnx")));
  if (dir != NULL)
    g_dir_close (dir);
  g_ptr_array_sort (roles, compare_strings);
  return roles;
}

/* The ONNX metadata the engine reads (engine/model.c) from the catalogue's sidecar values:
 * "range": [lo, hi] -> impasto.input_range=lo,hi; "multiple": n -> impasto.size_multiple=n. */
static void
add_sidecar_meta (GPtrArray *meta, const gchar *sidecar_json)
{
  JsonNode *node = sidecar_json != NULL ? json_from_string (sidecar_json, NULL) : NULL;
  JsonObject *sc = node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *range = sc != NULL ? json_object_get_member (sc, "range") : NULL;
  JsonArray *pair = range != NULL && JSON_NODE_HOLDS_ARRAY (range) ? json_node_get_array (range) : NULL;
  if (pair != NULL && json_array_get_length (pair) == 2)
    {
      gchar lo[G_ASCII_DTOSTR_BUF_SIZE], hi[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (lo, sizeof lo, "%g", json_array_get_double_element (pair, 0));
      g_ascii_formatd (hi, sizeof hi, "%g", json_array_get_double_element (pair, 1));
      g_ptr_array_add (meta, g_strdup_printf ("impasto.input_range=%s,%s", lo, hi));
    }
  JsonNode *multiple = sc != NULL ? json_object_get_member (sc, "multiple") : NULL;
  if (multiple != NULL && JSON_NODE_HOLDS_VALUE (multiple) &&
      json_node_get_value_type (multiple) == G_TYPE_INT64)
    g_ptr_array_add (meta, g_strdup_printf ("impasto.size_multiple=%" G_GINT64_FORMAT,
                                            json_node_get_int (multiple)));
  if (node != NULL)
    json_node_unref (node);
}

static gboolean
install_entry (const ImpastoCatalogueEntry *e, const gchar *folder, gboolean local_file,
               const ImpastoInstallOptions *o, GError **error)
{
  if (!check_name (e->name, error))
    return FALSE;
  if (!o->trust_unverified && !local_file)
    for (guint i = 0; i < e->files->len; i++)
      {
        const ImpastoCatalogueFile *f = g_ptr_array_index (e->files, i);
        if (f->sha256 == NULL)
          {
            g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_UNVERIFIED,
                         "%s: no pinned sha256 for %s, so it cannot be verified; give its --sha256, or "
                         "install it unchecked with --trust-unverified", e->name, f->url);
            return FALSE;
          }
      }

  gchar *final_onnx = g_strdup_printf ("%s/%s.onnx", folder, e->name);
  gchar *final_json = g_strdup_printf ("%s/%s.json", folder, e->name);
  gchar *final_png = g_strdup_printf ("%s/%s.png", folder, e->name);
  gchar *final_parts = g_strdup_printf ("%s/%s.d", folder, e->name);
  gchar *tmp = NULL, *out_dir = NULL, *converted_family = NULL;
  GPtrArray *inputs = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *meta = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *hashes = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = FALSE;

  if (model_in_folder (folder, e->name))
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_EXISTS,
                   "'%s' is already installed in %s (remove it first: impasto models remove %s)", e->name,
                   folder, e->name);
      goto out;
    }
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT, "cannot create %s: %s",
                   folder, g_strerror (errno));
      goto out;
    }
  sweep_stale_installs (folder);
  /* Hidden, inside the destination: the final renames stay on one file system, and the model
   * scanner (NAME.onnx files at the top level only) never sees a half-built model. */
  tmp = g_strdup_printf ("%s/.%s.install-XXXXXX", folder, e->name);
  if (g_mkdtemp (tmp) == NULL)
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                   "cannot create a temporary folder in %s: %s", folder, g_strerror (errno));
      g_clear_pointer (&tmp, g_free);
      goto out;
    }
  for (guint i = 0; i < e->files->len; i++)
    {
      const ImpastoCatalogueFile *f = g_ptr_array_index (e->files, i);
      const gchar *slash = strrchr (f->url, '/');
      gchar *base = name_from_location (slash != NULL ? slash + 1 : f->url);
      const gchar *ext = strrchr (slash != NULL ? slash + 1 : f->url, '.');
      gchar *dest = g_strdup_printf ("%s/src%u-%s%s", tmp, i, base,
                                     ext != NULL && strlen (ext) <= 8 ? ext : "");
      g_free (base);
      g_ptr_array_add (inputs, dest);
      gchar *hash = NULL;
      if (!download (f, dest, o, &hash, error))
        goto out;
      g_ptr_array_add (hashes, hash);
    }

  if (!progress (o, "convert", e->converter))
    {
      cancelled (error);
      goto out;
    }
  add_sidecar_meta (meta, e->sidecar_json);
  g_ptr_array_add (meta, g_strconcat ("impasto.licence=", e->license, NULL));
  out_dir = g_build_filename (tmp, "out", NULL);
  if (!run_converter (e->converter, out_dir, inputs, meta, o, &converted_family, error))
    goto out;
  /* the catalogue's family, else the converter's (a URL or file outside the catalogue) */
  const gchar *family = e->family != NULL ? e->family : converted_family;

  /* out_dir holds model.onnx, or one ROLE.onnx per network of a pack (see impasto-convert.py) */
  gchar *model = g_build_filename (out_dir, "model.onnx", NULL);
  gchar *tmp_png = g_build_filename (tmp, "thumbnail.png", NULL);
  gchar *tmp_json = g_build_filename (tmp, "sidecar.json", NULL);
  gboolean single = g_file_test (model, G_FILE_TEST_IS_REGULAR);
  GPtrArray *roles = single ? g_ptr_array_new_with_free_func (g_free) : pack_roles (out_dir);
  gboolean thumb = FALSE;
  if (!single && roles->len == 0)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_CONVERT,
                 "conversion failed: the converter wrote no model.onnx and no networks");
  else if (!progress (o, "thumbnail", NULL))
    cancelled (error);
  else
    {
      gchar *reason = NULL;
      thumb = single && write_thumbnail (model, tmp_png, &reason);
      if (!single)
        reason = g_strdup_printf ("a %s pack of %u networks", family != NULL ? family : "model",
                                  roles->len);
      if (!thumb)
        progress (o, "thumbnail", reason); /* not fatal: models the engine cannot run yet */
      g_free (reason);
      ok = write_sidecar (e, family, hashes, tmp_json, thumb, roles, error) &&
           (progress (o, "install", e->name) || cancelled (error));
    }
  if (ok)
    {
      /* Renames into place, the file that makes the model visible last: NAME.onnx, or a pack's
       * NAME.json (the model module lists a sidecar without NAME.onnx only when it has networks). */
      remove_tree (final_parts); /* orphans of an interrupted install */
      if (!thumb)
        g_unlink (final_png);
      gboolean moved = (single || g_rename (out_dir, final_parts) == 0) &&
                       (!thumb || g_rename (tmp_png, final_png) == 0) &&
                       g_rename (tmp_json, final_json) == 0 && (!single || g_rename (model, final_onnx) == 0);
      if (!moved)
        {
          g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT,
                       "cannot move the model into %s: %s", folder, g_strerror (errno));
          g_unlink (final_json);
          remove_tree (final_parts);
          g_unlink (final_png);
          ok = FALSE;
        }
    }
  g_ptr_array_unref (roles);
  g_free (tmp_json);
  g_free (tmp_png);
  g_free (model);

out:
  if (tmp != NULL)
    remove_tree (tmp);
  g_free (tmp);
  g_free (out_dir);
  g_free (converted_family);
  g_ptr_array_unref (inputs);
  g_ptr_array_unref (meta);
  g_ptr_array_unref (hashes);
  g_free (final_onnx);
  g_free (final_json);
  g_free (final_png);
  g_free (final_parts);
  return ok;
}

gboolean
impasto_models_install (const gchar *what, const gchar *dest_folder, const ImpastoInstallOptions *options,
                        gchar **installed_name, GError **error)
{
  static const ImpastoInstallOptions defaults = { 0 };
  const ImpastoInstallOptions *o = options != NULL ? options : &defaults;
  gchar *folder = dest_folder != NULL ? g_strdup (dest_folder) : impasto_user_models_folder (NULL);
  ImpastoCatalogueEntry *adhoc = NULL;
  GPtrArray *catalogue = NULL;
  const ImpastoCatalogueEntry *e = NULL;
  gboolean local_file = FALSE, ok = FALSE;

  if (what == NULL || *what == '\0')
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT, "nothing to install");
  else if (strstr (what, "://") != NULL || g_file_test (what, G_FILE_TEST_EXISTS))
    {
      local_file = strstr (what, "://") == NULL;
      e = adhoc = adhoc_entry (what, o, error);
    }
  else if ((catalogue = impasto_catalogue_load (o->catalogue, error)) != NULL)
    {
      e = impasto_catalogue_find (catalogue, what);
      if (e == NULL)
        g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_NOT_FOUND,
                     "'%s' is neither a catalogue entry (see impasto models catalogue), a URL nor a file", what);
    }
  if (e != NULL)
    ok = install_entry (e, folder, local_file, o, error);
  if (ok && installed_name != NULL)
    *installed_name = g_strdup (e->name);
  if (adhoc != NULL)
    entry_free (adhoc);
  if (catalogue != NULL)
    g_ptr_array_unref (catalogue);
  g_free (folder);
  return ok;
}

/* ---- asynchronous install ------------------------------------------------------------------ */

typedef struct {
  gchar *what, *folder, *catalogue, *converter_dir, *name, *sha256;
  ImpastoInstallOptions options;   /* as given: progress / progress_data run in the caller's context */
  GMainContext *context;
  GCancellable *cancellable;
  GTask *task;                     /* not a reference: each progress post holds one */
  gint64 last_post;                /* monotonic µs of the last progress posted (worker thread only) */
  gchar *last_stage;
} AsyncInstall;

typedef struct {
  GTask *task; /* keeps job (its task data) alive until the post is delivered */
  AsyncInstall *job;
  gchar *stage, *detail;
  gint64 done, total;
} ProgressPost;

static void
async_install_free (gpointer data)
{
  AsyncInstall *a = data;
  g_free (a->what);
  g_free (a->folder);
  g_free (a->catalogue);
  g_free (a->converter_dir);
  g_free (a->name);
  g_free (a->sha256);
  g_free (a->last_stage);
  g_main_context_unref (a->context);
  g_clear_object (&a->cancellable);
  g_free (a);
}

static gboolean
deliver_progress (gpointer data)
{
  ProgressPost *p = data;
  const ImpastoInstallOptions *o = &p->job->options;
  if (!o->progress (p->stage, p->detail, p->done, p->total, o->progress_data) && p->job->cancellable != NULL)
    g_cancellable_cancel (p->job->cancellable);
  return G_SOURCE_REMOVE;
}

static void
progress_post_free (gpointer data)
{
  ProgressPost *p = data;
  g_free (p->stage);
  g_free (p->detail);
  g_object_unref (p->task);
  g_free (p);
}

static gboolean
worker_progress (const gchar *stage, const gchar *detail, gint64 done, gint64 total, gpointer user)
{
  AsyncInstall *a = user;
  if (g_cancellable_is_cancelled (a->cancellable))
    return FALSE;
  gint64 now = g_get_monotonic_time ();
  gboolean new_stage = g_strcmp0 (stage, a->last_stage) != 0 || g_strcmp0 (stage, "download") != 0;
  if (a->options.progress != NULL && (new_stage || now - a->last_post >= G_USEC_PER_SEC / 10 ||
                                      (total > 0 && done == total)))
    {
      ProgressPost *p = g_new0 (ProgressPost, 1);
      p->task = g_object_ref (a->task);
      p->job = a;
      p->stage = g_strdup (stage);
      p->detail = g_strdup (detail);
      p->done = done;
      p->total = total;
      /* an idle source, not g_main_context_invoke: that one runs the callback right here when no
       * thread holds the context at this moment (e.g. before the caller's main loop starts) */
      GSource *source = g_idle_source_new ();
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, deliver_progress, p, progress_post_free);
      g_source_attach (source, a->context);
      g_source_unref (source);
      a->last_post = now;
      g_free (a->last_stage);
      a->last_stage = g_strdup (stage);
    }
  return TRUE;
}

static void
install_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  AsyncInstall *a = data;
  ImpastoInstallOptions o = a->options;
  o.progress = worker_progress;
  o.progress_data = a;
  gchar *name = NULL;
  GError *error = NULL;
  if (impasto_models_install (a->what, a->folder, &o, &name, &error))
    g_task_return_pointer (task, name, g_free);
  else
    g_task_return_error (task, error);
}

void
impasto_models_install_async (const gchar *what, const gchar *dest_folder, const ImpastoInstallOptions *options,
                              GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  AsyncInstall *a = g_new0 (AsyncInstall, 1);
  if (options != NULL)
    a->options = *options;
  a->what = g_strdup (what);
  a->folder = g_strdup (dest_folder);
  a->options.catalogue = a->catalogue = g_strdup (a->options.catalogue);
  a->options.converter_dir = a->converter_dir = g_strdup (a->options.converter_dir);
  a->options.name = a->name = g_strdup (a->options.name);
  a->options.sha256 = a->sha256 = g_strdup (a->options.sha256);
  a->context = g_main_context_ref_thread_default ();
  /* a cancellable of our own when none is given: the progress callback's FALSE must stop the worker */
  a->cancellable = cancellable != NULL ? g_object_ref (cancellable) : g_cancellable_new ();
  GTask *task = g_task_new (NULL, a->cancellable, callback, user_data);
  g_task_set_source_tag (task, impasto_models_install_async);
  /* the worker's own outcome, not GIO's "Operation was cancelled": a cancel that came too late has
   * still installed the model, and an early one says that nothing was installed */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, a, async_install_free);
  a->task = task;
  g_task_run_in_thread (task, install_thread);
  g_object_unref (task);
}

gchar *
impasto_models_install_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
impasto_models_remove (const gchar *name, const gchar *dest_folder, GError **error)
{
  if (!check_name (name, error))
    return FALSE;
  gchar *folder = dest_folder != NULL ? g_strdup (dest_folder) : impasto_user_models_folder (NULL);
  ImpastoStyleList *list = scan_one_folder (folder);
  const ImpastoStyle *style = impasto_style_list_find (list, name);
  gboolean ok = style != NULL;
  if (!ok)
    g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_NOT_FOUND, "no model '%s' in %s", name,
                 folder);
  else if (g_unlink (style->path) != 0) /* first: the model disappears from every list at once */
    {
      g_set_error (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_ARGUMENT, "cannot remove %s: %s",
                   style->path, g_strerror (errno));
      ok = FALSE;
    }
  else
    {
      static const gchar *const rest[] = { ".json", ".ini", ".png", ".d" };
      for (gsize i = 0; i < G_N_ELEMENTS (rest); i++)
        {
          gchar *p = g_strdup_printf ("%s/%s%s", folder, name, rest[i]);
          remove_tree (p);
          g_free (p);
        }
    }
  impasto_style_list_free (list);
  g_free (folder);
  return ok;
}

/* ---- the command line ----------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void
on_signal (int sig)
{
  interrupted = 1;
}

static gboolean
print_progress (const gchar *stage, const gchar *detail, gint64 done, gint64 total, gpointer user)
{
  gboolean tty = isatty (2);
  static gchar *last_stage;
  if (g_strcmp0 (stage, "download") == 0)
    {
      if (tty)
        {
          if (total > 0)
            fprintf (stderr, "\rdownloading %s: %3d%% (%.1f of %.1f MB)", detail,
                     (int) (100.0 * done / total), done / 1e6, total / 1e6);
          else
            fprintf (stderr, "\rdownloading %s: %.1f MB", detail, done / 1e6);
        }
      else if (g_strcmp0 (last_stage, detail) != 0)
        fprintf (stderr, "downloading %s\n", detail);
      g_free (last_stage);
      last_stage = g_strdup (detail);
    }
  else
    {
      if (tty && g_strcmp0 (last_stage, "") != 0)
        fputc ('\n', stderr);
      if (g_strcmp0 (stage, "thumbnail") == 0 && detail != NULL)
        fprintf (stderr, "no thumbnail: %s\n", detail);
      else if (g_strcmp0 (stage, "thumbnail") != 0)
        fprintf (stderr, "%s%s%s\n", stage, detail ? " " : "", detail ? detail : "");
      g_free (last_stage);
      last_stage = g_strdup ("");
    }
  return !interrupted;
}

static void
describe_entry (FILE *f, const ImpastoCatalogueEntry *e)
{
  gint64 size = impasto_catalogue_entry_size (e);
  gchar *size_text = size >= 0 ? g_strdup_printf ("%.1f MB", size / 1e6) : g_strdup ("size unknown");
  fprintf (f, "%-26s %-18s %-11s %-13s %s%s\n", e->name, e->family ? e->family : "", e->kind ? e->kind : "",
           size_text, e->license, impasto_catalogue_entry_pinned (e) ? "" : "  [no pinned sha256]");
  g_free (size_text);
}

static int
models_usage (const gchar *problem)
{
  if (problem != NULL)
    fprintf (stderr, "impasto: %s\n", problem);
  fputs ("Usage:\n"
         "  impasto models catalogue                      styles that can be installed\n"
         "  impasto models install [OPTIONS] NAME|URL|FILE download, verify, convert and install a style\n"
         "  impasto models remove [--folder DIR] NAME     remove an installed style\n"
         "Options for install:\n"
         "  --trust-unverified  install files the catalogue has no sha256 for\n"
         "  --sha256 HEX        expected sha256 of a URL or FILE\n"
         "  --name NAME         install a URL or FILE under this name\n"
         "  --folder DIR        model folder (default: the GIMP profile's impasto/models)\n"
         "  --catalogue FILE    catalogue to read (default: the installed catalogue.json)\n",
         problem != NULL ? stderr : stdout);
  return problem != NULL ? 2 : 0;
}

int
impasto_models_command (int argc, char **argv)
{
  if (argc < 2)
    return models_usage ("impasto models needs a subcommand");
  const gchar *sub = argv[1];
  ImpastoInstallOptions o = { .progress = print_progress };
  const gchar *folder = NULL, *what = NULL;
  for (int i = 2; i < argc; i++)
    {
      const gchar *a = argv[i];
      const gchar **value = g_str_equal (a, "--sha256") ? &o.sha256 : g_str_equal (a, "--name") ? &o.name
                            : g_str_equal (a, "--folder") ? &folder : g_str_equal (a, "--catalogue") ? &o.catalogue
                            : NULL;
      if (value != NULL)
        {
          if (++i >= argc)
            return models_usage ("an option needs a value");
          *value = argv[i];
        }
      else if (g_str_equal (a, "--trust-unverified"))
        o.trust_unverified = TRUE;
      else if (a[0] == '-' && a[1] != '\0')
        return models_usage ("unknown option (see impasto models --help)");
      else if (what == NULL)
        what = a;
      else
        return models_usage ("too many arguments");
    }
  GError *error = NULL;
  if (g_str_equal (sub, "--help") || g_str_equal (sub, "-h"))
    return models_usage (NULL);
  if (g_str_equal (sub, "catalogue") || g_str_equal (sub, "catalog"))
    {
      GPtrArray *c = impasto_catalogue_load (o.catalogue, &error);
      if (c == NULL)
        {
          fprintf (stderr, "impasto: %s\n", error->message);
          g_error_free (error);
          return 1;
        }
      for (guint i = 0; i < c->len; i++)
        describe_entry (stdout, g_ptr_array_index (c, i));
      g_ptr_array_unref (c);
      return 0;
    }
  if (g_str_equal (sub, "remove"))
    {
      if (what == NULL)
        return models_usage ("usage: impasto models remove NAME");
      if (!impasto_models_remove (what, folder, &error))
        {
          fprintf (stderr, "impasto: %s\n", error->message);
          g_error_free (error);
          return 1;
        }
      printf ("removed %s\n", what);
      return 0;
    }
  if (!g_str_equal (sub, "install"))
    return models_usage ("unknown models subcommand");
  if (what == NULL)
    return models_usage ("usage: impasto models install NAME|URL|FILE");

  /* Show what will be downloaded, with its licence, before downloading it. */
  if (strstr (what, "://") == NULL && !g_file_test (what, G_FILE_TEST_EXISTS))
    {
      GPtrArray *c = impasto_catalogue_load (o.catalogue, NULL);
      const ImpastoCatalogueEntry *e = impasto_catalogue_find (c, what);
      if (e != NULL)
        {
          fprintf (stderr, "%s: %s (%s)\n  licence: %s\n", e->name, e->display_name,
                   e->family != NULL ? e->family : "model", e->license);
          for (guint i = 0; i < e->files->len; i++)
            {
              const ImpastoCatalogueFile *f = g_ptr_array_index (e->files, i);
              fprintf (stderr, "  %s  sha256 %s\n", f->url, f->sha256 ? f->sha256 : "unknown");
            }
        }
      if (c != NULL)
        g_ptr_array_unref (c);
    }
  struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, &old_int);
  sigaction (SIGTERM, &sa, &old_term);
  gchar *name = NULL;
  gchar *dest = folder != NULL ? g_strdup (folder) : impasto_user_models_folder (NULL);
  gboolean ok = impasto_models_install (what, dest, &o, &name, &error);
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  int status = 0;
  if (ok)
    printf ("installed %s in %s\n", name, dest);
  else
    {
      fprintf (stderr, "impasto: %s\n", error->message);
      status = g_error_matches (error, IMPASTO_INSTALL_ERROR, IMPASTO_INSTALL_ERROR_CANCELLED) ? 130 : 1;
      g_error_free (error);
    }
  g_free (name);
  g_free (dest);
  return status;
}
