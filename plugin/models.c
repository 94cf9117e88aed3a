/* models.c — find style models in the model folders and read their sidecar descriptions.
 *
 * A model is a file NAME.onnx.  Next to it may lie NAME.json (an object) or NAME.ini (GKeyFile with a
 * [style] group); both know the keys name, description, license (or licence), author and thumbnail
 * (a PNG path, relative to the model's folder).  In NAME.ini the keys may be localised (name[de]=…).
 * Also: kind ("translation" for CycleGAN/pix2pix generators), direction (a translation's label,
 * "photo → Monet") and batchnorm ("image-statistics": normalise with the image's statistics, as
 * pix2pix's test mode).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "models.h"

#include <json-glib/json-glib.h>
#include <libgimpbase/gimpbase.h>
#include <string.h>

#define SIDECAR_GROUP "style"

static void
style_free (gpointer data)
{
  ImpastoStyle *style = data;
  g_free (style->id);
  g_free (style->path);
  g_free (style->name);
  g_free (style->label);
  g_free (style->description);
  g_free (style->license);
  g_free (style->author);
  g_free (style->thumbnail);
  g_free (style->kind);
  g_free (style->direction);
  g_free (style->batchnorm);
  g_free (style);
}

GPtrArray *
impasto_model_folders (const gchar *plugin_dir)
{
  GPtrArray *folders = g_ptr_array_new_with_free_func (g_free);
  const gchar *env = g_getenv ("IMPASTO_MODEL_PATH");

  if (env != NULL)
    {
      gchar **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (gchar **p = parts; *p != NULL; p++)
        if (**p != '\0')
          g_ptr_array_add (folders, g_canonicalize_filename (*p, NULL));
      g_strfreev (parts);
    }
  g_ptr_array_add (folders, g_build_filename (gimp_directory (), "impasto", "models", NULL));
  if (plugin_dir != NULL)
    g_ptr_array_add (folders, g_build_filename (plugin_dir, "models", NULL));
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

static gchar *
json_string_member (JsonObject *object, const gchar *key)
{
  JsonNode *node = json_object_get_member (object, key);
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (node));
}

static gboolean
read_json_sidecar (ImpastoStyle *style, const gchar *file, gchar **thumbnail)
{
  JsonParser *parser = json_parser_new ();
  gboolean ok = FALSE;

  if (json_parser_load_from_file (parser, file, NULL))
    {
      JsonNode *root = json_parser_get_root (parser);
      if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
        {
          JsonObject *object = json_node_get_object (root);
          set_field (&style->name, json_string_member (object, "name"));
          set_field (&style->description, json_string_member (object, "description"));
          set_field (&style->license, json_string_member (object, "licence"));
          set_field (&style->license, json_string_member (object, "license"));
          set_field (&style->author, json_string_member (object, "author"));
          set_field (thumbnail, json_string_member (object, "thumbnail"));
          set_field (&style->kind, json_string_member (object, "kind"));
          set_field (&style->direction, json_string_member (object, "direction"));
          set_field (&style->batchnorm, json_string_member (object, "batchnorm"));
          ok = TRUE;
        }
    }
  g_object_unref (parser);
  return ok;
}

static gboolean
read_ini_sidecar (ImpastoStyle *style, const gchar *file, gchar **thumbnail)
{
  GKeyFile *key_file = g_key_file_new ();
  gboolean ok = g_key_file_load_from_file (key_file, file, G_KEY_FILE_NONE, NULL) &&
                g_key_file_has_group (key_file, SIDECAR_GROUP);
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
      set_field (&style->kind, g_key_file_get_string (key_file, g, "kind", NULL));
      set_field (&style->direction,
                 g_key_file_get_locale_string (key_file, g, "direction", NULL, NULL));
      set_field (&style->batchnorm, g_key_file_get_string (key_file, g, "batchnorm", NULL));
    }
  g_key_file_free (key_file);
  return ok;
}

static void
read_sidecar (ImpastoStyle *style, const gchar *folder)
{
  gchar *thumbnail = NULL;
  gchar *base = g_build_filename (folder, style->id, NULL);
  gchar *json = g_strconcat (base, ".json", NULL);
  gchar *ini = g_strconcat (base, ".ini", NULL);

  if (!(g_file_test (json, G_FILE_TEST_IS_REGULAR) && read_json_sidecar (style, json, &thumbnail)) &&
      g_file_test (ini, G_FILE_TEST_IS_REGULAR))
    read_ini_sidecar (style, ini, &thumbnail);

  if (thumbnail != NULL)
    {
      gchar *path = g_path_is_absolute (thumbnail) ? g_strdup (thumbnail)
                                                   : g_build_filename (folder, thumbnail, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        style->thumbnail = path;
      else
        g_free (path);
    }
  g_free (thumbnail);
  g_free (ini);
  g_free (json);
  g_free (base);
}

static void
scan_folder (GPtrArray *styles, GHashTable *seen, const gchar *folder)
{
  GDir *dir = g_dir_open (folder, 0, NULL);
  if (dir == NULL)
    return;

  const gchar *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      if (!g_str_has_suffix (entry, ".onnx") || strlen (entry) <= strlen (".onnx"))
        continue;
      gchar *id = g_strndup (entry, strlen (entry) - strlen (".onnx"));
      gchar *path = g_build_filename (folder, entry, NULL);
      if (g_hash_table_contains (seen, id) || !g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          g_free (id);
          g_free (path);
          continue;
        }
      ImpastoStyle *style = g_new0 (ImpastoStyle, 1);
      style->id = id;
      style->path = path;
      style->name = impasto_style_name_from_id (id);
      read_sidecar (style, folder);
      g_hash_table_add (seen, g_strdup (id));
      g_ptr_array_add (styles, style);
    }
  g_dir_close (dir);
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
