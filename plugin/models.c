/* models.c — find style models in the model folders and read their sidecar descriptions.
 *
 * A model is a file NAME.onnx, or a sidecar that names the networks of a pack.  Next to it may lie
 * NAME.json (an object) or NAME.ini (GKeyFile with a [style] group and, for a pack, a [networks]
 * group of role=file lines).  Keys: name, description, license (or licence), author, thumbnail (a
 * PNG relative to the sidecar), family ("fast", "magenta", "adain", "cyclegan", "pix2pix"), kind
 * ("style", "translation"), direction (e.g. "photo → Monet"), networks (role → file relative to the
 * sidecar), range ([0, 1], [0, 255] or [-1, 1]; INI: "0;255"), multiple (the spatial multiple) and
 * batchnorm ("image-statistics": BatchNorm with the image's statistics, pix2pix's test mode).
 * In NAME.ini the text keys may be localised (name[de]=…).  Unknown keys are ignored, and so is a
 * known key with a value of the wrong type or outside its set, so that newer sidecars still load.
 *
 * GIMP-free: the plug-in passes gimp_directory(), the CLI impasto_profile_dir().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "models.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#define SIDECAR_GROUP "style"
#define NETWORKS_GROUP "networks"
#define MULTIPLE_MAX 4096

#ifndef IMPASTO_MODELS_DATADIR
#error "IMPASTO_MODELS_DATADIR ($prefix/share/impasto/models) must be defined by the build"
#endif

static const gchar *const families[] = { "fast", "magenta", "adain", "cyclegan", "pix2pix", NULL };
static const gchar *const kinds[] = { "style", "translation", NULL };
static const gdouble ranges[][2] = { { 0, 1 }, { 0, 255 }, { -1, 1 } };

static void
network_free (gpointer data)
{
  ImpastoNetwork *network = data;
  g_free (network->role);
  g_free (network->path);
  g_free (network);
}

static void
style_free (gpointer data)
{
  ImpastoStyle *style = data;
  g_free (style->id);
  g_free (style->path);
  g_free (style->sidecar);
  g_free (style->folder);
  g_free (style->name);
  g_free (style->label);
  g_free (style->description);
  g_free (style->license);
  g_free (style->author);
  g_free (style->thumbnail);
  g_free (style->family);
  g_free (style->kind);
  g_free (style->direction);
  g_free (style->batchnorm);
  g_ptr_array_unref (style->networks);
  g_free (style);
}

gchar *
impasto_profile_dir (void)
{
  /* The same order as GIMP's gimp_directory(), which the plug-in uses. */
  const gchar *env = g_getenv ("GIMP3_DIRECTORY");
  if (env != NULL && *env != '\0')
    return g_path_is_absolute (env) ? g_strdup (env)
                                    : g_build_filename (g_get_home_dir (), env, NULL);
  return g_build_filename (g_get_user_config_dir (), "GIMP", "3.0", NULL);
}

gchar *
impasto_user_models_folder (const gchar *profile_dir)
{
  gchar *profile = profile_dir == NULL ? impasto_profile_dir () : NULL;
  gchar *folder = g_build_filename (profile_dir != NULL ? profile_dir : profile, "impasto", "models", NULL);
  g_free (profile);
  return folder;
}

const gchar *
impasto_models_datadir (void)
{
  return IMPASTO_MODELS_DATADIR;
}

static void
add_folder (GPtrArray *folders, gchar *folder)
{
  for (guint i = 0; i < folders->len; i++)
    if (strcmp (g_ptr_array_index (folders, i), folder) == 0)
      {
        g_free (folder);
        return;
      }
  g_ptr_array_add (folders, folder);
}

GPtrArray *
impasto_model_folders (const gchar *profile_dir, const gchar *const *installed)
{
  GPtrArray *folders = g_ptr_array_new_with_free_func (g_free);
  const gchar *env = g_getenv ("IMPASTO_MODEL_PATH");

  if (env != NULL)
    {
      gchar **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (gchar **p = parts; *p != NULL; p++)
        if (**p != '\0')
          add_folder (folders, g_canonicalize_filename (*p, NULL));
      g_strfreev (parts);
    }
  if (profile_dir != NULL)
    add_folder (folders, impasto_user_models_folder (profile_dir));
  for (const gchar *const *p = installed; p != NULL && *p != NULL; p++)
    add_folder (folders, g_canonicalize_filename (*p, NULL));
  return folders;
}

gchar *
impasto_style_name_from_id (const gchar *id)
{
  /* The style is the part before the first "-<digit>" (mosaic-9, mosaic-13-dynamic -> mosaic). */
  const gchar *end = id + strlen (id);
  for (const gchar *p = id; *p != '\0'; p++)
    if (*p == '-' && g_ascii_isdigit (p[1]))
      {
        end = p;
        break;
      }
  if (end == id)
    end = id + strlen (id);

  GString *name = g_string_new (NULL);
  gboolean word_start = TRUE;
  for (const gchar *p = id; p < end; p++)
    {
      gchar c = *p;
      if (c == '_' || c == '-' || c == ' ')
        {
          g_string_append_c (name, ' ');
          word_start = TRUE;
          continue;
        }
      g_string_append_c (name, word_start ? g_ascii_toupper (c) : c);
      word_start = FALSE;
    }
  return g_string_free (name, FALSE);
}

/* Replace *field with a non-empty value (takes ownership of value). */
static void
set_field (gchar **field, gchar *value)
{
  if (value == NULL)
    return;
  g_strstrip (value);
  if (*value == '\0')
    {
      g_free (value);
      return;
    }
  g_free (*field);
  *field = value;
}

/* set_field for a value that must be one of allowed. */
static void
set_choice (gchar **field, gchar *value, const gchar *const *allowed)
{
  if (value != NULL && g_strv_contains (allowed, g_strstrip (value)))
    set_field (field, value);
  else
    g_free (value);
}

static void
set_range (ImpastoStyle *style, gdouble lo, gdouble hi)
{
  for (gsize i = 0; i < G_N_ELEMENTS (ranges); i++)
    if (lo == ranges[i][0] && hi == ranges[i][1])
      {
        style->range_min = lo;
        style->range_max = hi;
        style->has_range = TRUE;
      }
}

static void
set_multiple (ImpastoStyle *style, gint64 multiple)
{
  if (multiple >= 1 && multiple <= MULTIPLE_MAX)
    style->multiple = (gint) multiple;
}

/* A network file: absolute, or relative to the sidecar's folder. */
static void
add_network (ImpastoStyle *style, const gchar *role, const gchar *file)
{
  if (*role == '\0' || file == NULL || *file == '\0' || impasto_style_network (style, role))
    return;
  ImpastoNetwork *network = g_new0 (ImpastoNetwork, 1);
  network->role = g_strdup (role);
  network->path = g_path_is_absolute (file) ? g_strdup (file)
                                            : g_build_filename (style->folder, file, NULL);
  g_ptr_array_add (style->networks, network);
}

static gchar *
json_string_member (JsonObject *object, const gchar *key)
{
  JsonNode *node = json_object_get_member (object, key);
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

/* A JSON number (integer or not) as a double; FALSE for anything else. */
static gboolean
json_number (JsonNode *node, gdouble *out)
{
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE)
    return FALSE;
  GType type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *out = (gdouble) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return TRUE;
}

static void
read_json_keys (ImpastoStyle *style, JsonObject *object, gchar **thumbnail)
{
  set_field (&style->name, json_string_member (object, "name"));
  set_field (&style->description, json_string_member (object, "description"));
  set_field (&style->license, json_string_member (object, "licence"));
  set_field (&style->license, json_string_member (object, "license"));
  set_field (&style->author, json_string_member (object, "author"));
  set_field (thumbnail, json_string_member (object, "thumbnail"));
  set_choice (&style->family, json_string_member (object, "family"), families);
  set_choice (&style->kind, json_string_member (object, "kind"), kinds);
  set_field (&style->direction, json_string_member (object, "direction"));
  set_field (&style->batchnorm, json_string_member (object, "batchnorm"));

  JsonNode *range = json_object_get_member (object, "range");
  if (range != NULL && JSON_NODE_HOLDS_ARRAY (range))
    {
      JsonArray *array = json_node_get_array (range);
      gdouble lo, hi;
      if (json_array_get_length (array) == 2 &&
          json_number (json_array_get_element (array, 0), &lo) &&
          json_number (json_array_get_element (array, 1), &hi))
        set_range (style, lo, hi);
    }

  JsonNode *multiple = json_object_get_member (object, "multiple");
  if (multiple != NULL && JSON_NODE_TYPE (multiple) == JSON_NODE_VALUE &&
      json_node_get_value_type (multiple) == G_TYPE_INT64)
    set_multiple (style, json_node_get_int (multiple));

  JsonNode *networks = json_object_get_member (object, "networks");
  if (networks != NULL && JSON_NODE_HOLDS_OBJECT (networks))
    {
      JsonObject *roles = json_node_get_object (networks);
      GList *members = json_object_get_members (roles); /* in file order */
      for (GList *m = members; m != NULL; m = m->next)
        {
          gchar *file = json_string_member (roles, m->data);
          add_network (style, m->data, file);
          g_free (file);
        }
      g_list_free (members);
    }
}

static gboolean
read_json_sidecar (ImpastoStyle *style, const gchar *file, gchar **thumbnail, GError **error)
{
  JsonParser *parser = json_parser_new ();
  gboolean ok = FALSE;

  if (json_parser_load_from_file (parser, file, error))
    {
      JsonNode *root = json_parser_get_root (parser);
      if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
        {
          read_json_keys (style, json_node_get_object (root), thumbnail);
          ok = TRUE;
        }
      else
        g_set_error_literal (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                             "not a JSON object");
    }
  g_object_unref (parser);
  return ok;
}

static gboolean
read_ini_sidecar (ImpastoStyle *style, const gchar *file, gchar **thumbnail, GError **error)
{
  GKeyFile *key_file = g_key_file_new ();
  gboolean ok = g_key_file_load_from_file (key_file, file, G_KEY_FILE_NONE, error);
  if (ok && !g_key_file_has_group (key_file, SIDECAR_GROUP))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND, "no [%s] group",
                   SIDECAR_GROUP);
      ok = FALSE;
    }
  if (ok)
    {
      const gchar *g = SIDECAR_GROUP;
      set_field (&style->name, g_key_file_get_locale_string (key_file, g, "name", NULL, NULL));
      set_field (&style->description,
                 g_key_file_get_locale_string (key_file, g, "description", NULL, NULL));
      set_field (&style->license, g_key_file_get_string (key_file, g, "licence", NULL));
      set_field (&style->license, g_key_file_get_string (key_file, g, "license", NULL));
      set_field (&style->author, g_key_file_get_string (key_file, g, "author", NULL));
      set_field (thumbnail, g_key_file_get_string (key_file, g, "thumbnail", NULL));
      set_choice (&style->family, g_key_file_get_string (key_file, g, "family", NULL), families);
      set_choice (&style->kind, g_key_file_get_string (key_file, g, "kind", NULL), kinds);
      set_field (&style->direction,
                 g_key_file_get_locale_string (key_file, g, "direction", NULL, NULL));
      set_field (&style->batchnorm, g_key_file_get_string (key_file, g, "batchnorm", NULL));

      gsize n = 0;
      gdouble *range = g_key_file_get_double_list (key_file, g, "range", &n, NULL);
      if (range != NULL && n == 2)
        set_range (style, range[0], range[1]);
      g_free (range);

      GError *bad = NULL;
      gint64 multiple = g_key_file_get_int64 (key_file, g, "multiple", &bad);
      if (bad == NULL)
        set_multiple (style, multiple);
      g_clear_error (&bad);

      gchar **roles = g_key_file_get_keys (key_file, NETWORKS_GROUP, NULL, NULL);
      for (gchar **role = roles; role != NULL && *role != NULL; role++)
        {
          gchar *value = g_key_file_get_string (key_file, NETWORKS_GROUP, *role, NULL);
          add_network (style, *role, value ? g_strstrip (value) : NULL);
          g_free (value);
        }
      g_strfreev (roles);
    }
  g_key_file_free (key_file);
  return ok;
}

/* Read sidecar file (NAME.json, or NAME.ini by its name) into style and set style->sidecar to it;
 * FALSE with error when it cannot be read or is not a sidecar. */
static gboolean
read_sidecar_file (ImpastoStyle *style, const gchar *file, GError **error)
{
  gchar *thumbnail = NULL;
  gboolean ok = g_str_has_suffix (file, ".ini")
                  ? read_ini_sidecar (style, file, &thumbnail, error)
                  : read_json_sidecar (style, file, &thumbnail, error);
  if (ok)
    style->sidecar = g_strdup (file);
  if (thumbnail != NULL)
    {
      gchar *path = g_path_is_absolute (thumbnail) ? g_strdup (thumbnail)
                                                   : g_build_filename (style->folder, thumbnail, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        style->thumbnail = path;
      else
        g_free (path);
    }
  if (style->kind == NULL)
    style->kind = g_strdup ("style");
  g_free (thumbnail);
  return ok;
}

/* Read NAME.json, else NAME.ini, beside the model. */
static void
read_sidecar (ImpastoStyle *style)
{
  gchar *base = g_build_filename (style->folder, style->id, NULL);
  gchar *json = g_strconcat (base, ".json", NULL);
  gchar *ini = g_strconcat (base, ".ini", NULL);

  if (!(g_file_test (json, G_FILE_TEST_IS_REGULAR) && read_sidecar_file (style, json, NULL)) &&
      g_file_test (ini, G_FILE_TEST_IS_REGULAR))
    read_sidecar_file (style, ini, NULL);
  g_free (ini);
  g_free (json);
  g_free (base);
}

static ImpastoStyle *
style_new (const gchar *folder, const gchar *id)
{
  ImpastoStyle *style = g_new0 (ImpastoStyle, 1);
  style->id = g_strdup (id);
  style->folder = g_strdup (folder);
  style->name = impasto_style_name_from_id (id);
  style->networks = g_ptr_array_new_with_free_func (network_free);
  return style;
}

/* The stem of a file named STEM.suffix, or NULL. */
static gchar *
stem_of (const gchar *entry, const gchar *suffix)
{
  gsize n = strlen (entry), k = strlen (suffix);
  return n > k && g_str_has_suffix (entry, suffix) ? g_strndup (entry, n - k) : NULL;
}

static void
scan_folder (GPtrArray *styles, GHashTable *seen, const gchar *folder)
{
  GDir *dir = g_dir_open (folder, 0, NULL);
  if (dir == NULL)
    return;

  /* Stems of NAME.onnx (models) and of sidecars without one (candidate packs). */
  GPtrArray *onnx = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *sidecars = g_ptr_array_new_with_free_func (g_free);
  const gchar *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      gchar *path = g_build_filename (folder, entry, NULL);
      gboolean regular = g_file_test (path, G_FILE_TEST_IS_REGULAR);
      g_free (path);
      if (!regular)
        continue;
      gchar *stem = stem_of (entry, ".onnx");
      if (stem != NULL)
        g_ptr_array_add (onnx, stem);
      else if ((stem = stem_of (entry, ".json")) != NULL || (stem = stem_of (entry, ".ini")) != NULL)
        g_ptr_array_add (sidecars, stem);
    }
  g_dir_close (dir);

  for (guint i = 0; i < onnx->len; i++)
    {
      const gchar *id = g_ptr_array_index (onnx, i);
      if (g_hash_table_contains (seen, id))
        continue;
      ImpastoStyle *style = style_new (folder, id);
      gchar *file = g_strconcat (id, ".onnx", NULL);
      style->path = g_build_filename (folder, file, NULL);
      g_free (file);
      read_sidecar (style);
      if (style->family == NULL && style->networks->len == 0)
        style->family = g_strdup ("fast"); /* what a bare NAME.onnx has always been */
      g_hash_table_add (seen, g_strdup (id));
      g_ptr_array_add (styles, style);
    }

  for (guint i = 0; i < sidecars->len; i++)
    {
      const gchar *id = g_ptr_array_index (sidecars, i);
      if (g_hash_table_contains (seen, id)) /* NAME.onnx's own sidecar, a .json+.ini pair, ... */
        continue;
      ImpastoStyle *style = style_new (folder, id);
      read_sidecar (style);
      if (style->sidecar == NULL || style->networks->len == 0)
        {
          style_free (style); /* a stray .json / .ini that describes no model */
          continue;
        }
      style->is_pack = TRUE;
      style->path = g_strdup (style->sidecar);
      g_hash_table_add (seen, g_strdup (id));
      g_ptr_array_add (styles, style);
    }
  g_ptr_array_unref (sidecars);
  g_ptr_array_unref (onnx);
}

ImpastoStyle *
impasto_style_read_sidecar (const gchar *file, GError **error)
{
  /* Opening a FIFO would wait for a writer; anything but a regular file is no sidecar.  A path
   * that cannot be stat'ed is left to the reader, whose error names the cause. */
  GStatBuf st;
  if (g_stat (file, &st) == 0 && !S_ISREG (st.st_mode))
    {
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a regular file");
      return NULL;
    }
  gchar *name = g_path_get_basename (file), *folder = g_path_get_dirname (file);
  gchar *id = stem_of (name, g_str_has_suffix (name, ".ini") ? ".ini" : ".json");
  ImpastoStyle *style = style_new (folder, id != NULL ? id : name);
  g_free (id);
  g_free (folder);
  g_free (name);
  if (!read_sidecar_file (style, file, error))
    {
      style_free (style);
      return NULL;
    }
  style->path = g_strdup (file);
  style->is_pack = style->networks->len > 0;
  return style;
}

void
impasto_style_entry_free (ImpastoStyle *style)
{
  if (style != NULL)
    style_free (style);
}

static gint
compare_styles (gconstpointer a, gconstpointer b)
{
  const ImpastoStyle *sa = *(ImpastoStyle *const *) a;
  const ImpastoStyle *sb = *(ImpastoStyle *const *) b;
  return strcmp (sa->id, sb->id);
}

/* What a model is listed as: a translation by its direction, anything else by its name. */
static const gchar *
list_name (const ImpastoStyle *style)
{
  if (g_strcmp0 (style->kind, "translation") == 0 && style->direction != NULL &&
      style->direction[0] != '\0')
    return style->direction;
  return style->name;
}

/* Label = list name, unless another model has the same one: then "name (id)" for both. */
static void
assign_labels (GPtrArray *styles)
{
  for (guint i = 0; i < styles->len; i++)
    {
      ImpastoStyle *style = g_ptr_array_index (styles, i);
      gboolean shared = FALSE;
      for (guint j = 0; j < styles->len && !shared; j++)
        {
          const ImpastoStyle *other = g_ptr_array_index (styles, j);
          shared = (j != i && g_strcmp0 (list_name (other), list_name (style)) == 0);
        }
      style->label = shared ? g_strdup_printf ("%s (%s)", list_name (style), style->id)
                            : g_strdup (list_name (style));
    }
}

ImpastoStyleList *
impasto_style_list_scan (GPtrArray *folders)
{
  ImpastoStyleList *list = g_new0 (ImpastoStyleList, 1);
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  list->styles = g_ptr_array_new_with_free_func (style_free);
  list->folders = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < folders->len; i++)
    {
      const gchar *folder = g_ptr_array_index (folders, i);
      g_ptr_array_add (list->folders, g_strdup (folder));
      scan_folder (list->styles, seen, folder);
    }
  g_ptr_array_sort (list->styles, compare_styles);
  assign_labels (list->styles);
  g_hash_table_unref (seen);
  return list;
}

void
impasto_style_list_free (ImpastoStyleList *list)
{
  if (list == NULL)
    return;
  g_ptr_array_unref (list->styles);
  g_ptr_array_unref (list->folders);
  g_free (list);
}

const gchar *
impasto_style_network (const ImpastoStyle *style, const gchar *role)
{
  for (guint i = 0; i < style->networks->len; i++)
    {
      const ImpastoNetwork *network = g_ptr_array_index (style->networks, i);
      if (strcmp (network->role, role) == 0)
        return network->path;
    }
  return NULL;
}

const ImpastoStyle *
impasto_style_list_find (const ImpastoStyleList *list, const gchar *id)
{
  if (id == NULL)
    return NULL;
  for (guint i = 0; i < list->styles->len; i++)
    {
      const ImpastoStyle *style = g_ptr_array_index (list->styles, i);
      if (strcmp (style->id, id) == 0)
        return style;
    }
  return NULL;
}

gchar *
impasto_style_list_folders_text (const ImpastoStyleList *list)
{
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < list->folders->len; i++)
    {
      if (i > 0)
        g_string_append (text, ", ");
      g_string_append (text, (const gchar *) g_ptr_array_index (list->folders, i));
    }
  return g_string_free (text, FALSE);
}
