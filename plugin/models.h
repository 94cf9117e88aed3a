/* models.h — discovery of installed style models (NAME.onnx + optional NAME.json / NAME.ini sidecar).
 * A translation (CycleGAN, pix2pix: sidecar "kind": "translation") is listed by its "direction".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_PLUGIN_MODELS_H
#define IMPASTO_PLUGIN_MODELS_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gchar *id;          /* file base name without ".onnx", e.g. "mosaic-9": the choice nick */
  gchar *path;        /* absolute path of the .onnx file */
  gchar *name;        /* style name, e.g. "Mosaic" (sidecar "name" or derived from id) */
  gchar *label;       /* choice label: name, or "name (variant)" when two models share a name */
  gchar *description; /* may be NULL */
  gchar *license;     /* may be NULL */
  gchar *author;      /* may be NULL */
  gchar *thumbnail;   /* absolute path of a PNG, or NULL */
  gchar *kind;        /* sidecar "kind": "style" (or NULL), "translation", ... */
  gchar *direction;   /* a translation's "photo → Monet": its label in the lists; may be NULL */
  gchar *batchnorm;   /* sidecar "batchnorm" ("image-statistics", "running"), or NULL: the model
                         decides (impasto_batchnorm_parse) */
} ImpastoStyle;

typedef struct {
  GPtrArray *styles;  /* ImpastoStyle*, sorted by id; ids are unique (first folder wins) */
  GPtrArray *folders; /* gchar*: every folder searched, in search order */
} ImpastoStyleList;

/* The folders searched, in order: each entry of IMPASTO_MODEL_PATH (colon-separated), the user's
 * profile folder gimp_directory()/impasto/models, then plugin_dir/models (plugin_dir: the folder
 * holding the plug-in executable; may be NULL). */
GPtrArray *impasto_model_folders (const gchar *plugin_dir);

/* Scan the given folders.  Never fails: unreadable folders and broken sidecars are skipped. */
ImpastoStyleList *impasto_style_list_scan (GPtrArray *folders);
void impasto_style_list_free (ImpastoStyleList *list);

const ImpastoStyle *impasto_style_list_find (const ImpastoStyleList *list, const gchar *id);

/* The searched folders joined with ", " (for messages).  g_free() it. */
gchar *impasto_style_list_folders_text (const ImpastoStyleList *list);

/* Style name derived from a model id: "rain_princess-9" -> "Rain Princess". g_free() it. */
gchar *impasto_style_name_from_id (const gchar *id);

G_END_DECLS

#endif
