/* models.h — discovery of installed style models (NAME.onnx and/or a NAME.json / NAME.ini sidecar),
 * shared by the GIMP plug-in and the impasto CLI (GLib + json-glib only, no GIMP).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_PLUGIN_MODELS_H
#define IMPASTO_PLUGIN_MODELS_H

#include <glib.h>

G_BEGIN_DECLS

/* One network of a model pack: a role ("predictor", "transfer", "encoder", "decoder", ...) and its
 * file, made absolute against the sidecar's folder. */
typedef struct {
  gchar *role;
  gchar *path;
} ImpastoNetwork;

typedef struct {
  gchar *id;          /* the sidecar's / .onnx file's stem, e.g. "mosaic-9": the choice nick */
  gchar *path;        /* absolute path of NAME.onnx; for a pack without one, of its sidecar */
  gchar *sidecar;     /* absolute path of NAME.json / NAME.ini, or NULL */
  gchar *folder;      /* the model folder it was found in */
  gchar *name;        /* style name, e.g. "Mosaic" (sidecar "name" or derived from id) */
  gchar *label;       /* choice label: name, or "name (variant)" when two models share a name */
  gchar *description; /* may be NULL */
  gchar *license;     /* may be NULL */
  gchar *author;      /* may be NULL */
  gchar *thumbnail;   /* absolute path of a PNG, or NULL */
  gchar *family;      /* "fast", "magenta", "adain", "cyclegan" or "pix2pix" ("fast" for a bare
                       * NAME.onnx; NULL for a pack whose sidecar names none) */
  gchar *kind;        /* "style" or "translation" (default "style") */
  gchar *direction;   /* e.g. "photo → Monet", or NULL; a translation is listed by it */
  gchar *batchnorm;   /* "image-statistics" or "running" (pix2pix's test mode uses the image's
                         statistics), or NULL: the model decides (impasto_batchnorm_parse) */
  GPtrArray *networks;  /* ImpastoNetwork*, in sidecar order; empty for a single-file model */
  gboolean has_range;   /* range_min/range_max come from the sidecar */
  gdouble range_min, range_max; /* pixel range the networks expect: [0,1], [0,255] or [-1,1] */
  gint multiple;        /* spatial multiple the input is padded to; 0 when not given */
  gboolean is_pack;     /* described by the sidecar's networks alone (no NAME.onnx) */
} ImpastoStyle;

typedef struct {
  GPtrArray *styles;  /* ImpastoStyle*, sorted by id; ids are unique (first folder wins) */
  GPtrArray *folders; /* gchar*: every folder searched, in search order */
} ImpastoStyleList;

/* The user's GIMP 3 profile folder as GIMP finds it, for callers outside GIMP (inside GIMP use
 * gimp_directory()): $GIMP3_DIRECTORY, else $XDG_CONFIG_HOME/GIMP/3.0, else ~/.config/GIMP/3.0.
 * g_free() it. */
gchar *impasto_profile_dir (void);

/* profile_dir/impasto/models (profile_dir NULL: impasto_profile_dir ()): the user's model folder,
 * searched after IMPASTO_MODEL_PATH and the one `impasto models install` installs into. g_free() it. */
gchar *impasto_user_models_folder (const gchar *profile_dir);

/* $prefix/share/impasto/models of this build. */
const gchar *impasto_models_datadir (void);

/* The folders searched, in order, without duplicates: each entry of IMPASTO_MODEL_PATH
 * (colon-separated), profile_dir/impasto/models (profile_dir may be NULL), then each of installed
 * (NULL-terminated; may be NULL) — the plug-in's models/ folder and impasto_models_datadir(). */
GPtrArray *impasto_model_folders (const gchar *profile_dir, const gchar *const *installed);

/* The model that one sidecar file describes (NAME.json, or NAME.ini by its name; the keys as in
 * a model folder; networks relative to its folder), as the CLI reads a sidecar given as MODEL.
 * NULL with error when it is not a regular file, cannot be read or is not a sidecar.  Free with
 * impasto_style_entry_free (). */
ImpastoStyle *impasto_style_read_sidecar (const gchar *file, GError **error);
void impasto_style_entry_free (ImpastoStyle *style);

/* Scan the given folders.  Never fails: unreadable folders and broken sidecars are skipped. */
ImpastoStyleList *impasto_style_list_scan (GPtrArray *folders);
void impasto_style_list_free (ImpastoStyleList *list);

const ImpastoStyle *impasto_style_list_find (const ImpastoStyleList *list, const gchar *id);

/* The file of a pack's network with this role, or NULL. */
const gchar *impasto_style_network (const ImpastoStyle *style, const gchar *role);

/* The searched folders joined with ", " (for messages).  g_free() it. */
gchar *impasto_style_list_folders_text (const ImpastoStyleList *list);

/* Style name derived from a model id: "rain_princess-9" -> "Rain Princess". g_free() it. */
gchar *impasto_style_name_from_id (const gchar *id);

G_END_DECLS

#endif
