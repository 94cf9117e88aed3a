/* models_install.h — the catalogue of published style networks and installing / removing them
 * into the user's model folder (issue #13).  GIMP-free: the CLI links it, and so can the plug-in's
 * "Get more styles…" dialog.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_MODELS_INSTALL_H
#define IMPASTO_MODELS_INSTALL_H

#include <gio/gio.h>

G_BEGIN_DECLS

#define IMPASTO_INSTALL_ERROR (impasto_install_error_quark ())
GQuark impasto_install_error_quark (void);

typedef enum {
  IMPASTO_INSTALL_ERROR_NOT_FOUND,   /* no such catalogue entry or installed model */
  IMPASTO_INSTALL_ERROR_UNVERIFIED,  /* no pinned sha256 and trust_unverified not set */
  IMPASTO_INSTALL_ERROR_DOWNLOAD,    /* transfer failed, truncated or interrupted */
  IMPASTO_INSTALL_ERROR_CHECKSUM,    /* sha256 differs from the pinned one */
  IMPASTO_INSTALL_ERROR_FORMAT,      /* the converter does not know the file */
  IMPASTO_INSTALL_ERROR_CONVERT,     /* the converter failed otherwise */
  IMPASTO_INSTALL_ERROR_EXISTS,      /* a model of that name is already installed */
  IMPASTO_INSTALL_ERROR_ARGUMENT,    /* bad name, unreadable catalogue, ... */
  IMPASTO_INSTALL_ERROR_CANCELLED,
} ImpastoInstallError;

typedef struct {
  gchar *url;
  gint64 size;     /* -1: unknown */
  gchar *sha256;   /* lower-case hex, or NULL when unknown */
  gboolean verified; /* TRUE: the hash was computed by the catalogue's authors from a copy */
} ImpastoCatalogueFile;

typedef struct {
  gchar *name;         /* install name, e.g. "udnie-9" */
  gchar *display_name;
  gchar *family;       /* the sidecar's family: fast, magenta, adain, cyclegan, pix2pix */
  gchar *kind;         /* style, translation */
  gchar *direction;    /* translations: "horse → zebra"; else NULL */
  gchar *description;
  gchar *author;
  gchar *license;      /* "no licence stated" where the publisher gives none */
  gchar *converter;    /* tools/convert/impasto-convert.py CONVERTER */
  GPtrArray *files;    /* ImpastoCatalogueFile* */
  gchar *sidecar_json; /* the entry's "sidecar" object (kind, direction, range, multiple), serialised */
} ImpastoCatalogueEntry;

/* Total download size in bytes, -1 when a size is unknown. */
gint64 impasto_catalogue_entry_size (const ImpastoCatalogueEntry *entry);
/* TRUE when every file has a pinned sha256 (installable without trust_unverified). */
gboolean impasto_catalogue_entry_pinned (const ImpastoCatalogueEntry *entry);

/* The catalogue: path, or NULL for $IMPASTO_CATALOGUE or the installed catalogue.json.
 * Returns a GPtrArray of ImpastoCatalogueEntry* (free with g_ptr_array_unref) or NULL. */
GPtrArray *impasto_catalogue_load (const gchar *path, GError **error);
const ImpastoCatalogueEntry *impasto_catalogue_find (GPtrArray *entries, const gchar *name);

/* stage: "download", "convert", "thumbnail", "install"; done/total in bytes for downloads (total -1
 * when unknown), else 0/0.  Return FALSE to cancel.  Called on the installing thread. */
typedef gboolean (*ImpastoInstallProgress) (const gchar *stage, const gchar *detail, gint64 done,
                                            gint64 total, gpointer user_data);

typedef struct {
  const gchar *catalogue;     /* NULL: default (see impasto_catalogue_load) */
  const gchar *converter_dir; /* NULL: $IMPASTO_CONVERT_DIR or $prefix/share/impasto/convert */
  const gchar *name;          /* install name for a URL or FILE; NULL: from its file name */
  const gchar *sha256;        /* expected sha256 of a URL or FILE (optional) */
  gboolean trust_unverified;  /* install files that have no pinned sha256 */
  ImpastoInstallProgress progress;
  gpointer progress_data;
} ImpastoInstallOptions;

/* Install WHAT (a catalogue name, a URL or a local file) into dest_folder (NULL:
 * impasto_user_models_folder (NULL)): download, check sha256, convert, write NAME.onnx + NAME.json
 * (+ NAME.png thumbnail), or for a pack of several networks NAME.d/ROLE.onnx + NAME.json naming them
 * in "networks".  The sidecar is in plugin/models.c's format.  Everything is built in a hidden
 * temporary folder inside dest_folder and renamed into place, NAME.onnx (a pack: NAME.json) last:
 * an interrupted install leaves no model behind.  installed_name (may be NULL) receives the name
 * installed. */
gboolean impasto_models_install (const gchar *what, const gchar *dest_folder,
                                 const ImpastoInstallOptions *options, gchar **installed_name,
                                 GError **error);

/* The same in a worker thread, for a dialog: options (and its strings) are copied; options->progress
 * is called in the caller's thread-default main context (throttled to ~10 per second per stage), and
 * cancellable stops the download or the install between stages.  The callback runs in that context
 * too; impasto_models_install_finish returns the installed name (g_free it) or NULL with error set. */
void impasto_models_install_async (const gchar *what, const gchar *dest_folder,
                                   const ImpastoInstallOptions *options, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
gchar *impasto_models_install_finish (GAsyncResult *result, GError **error);

/* Remove the model NAME from dest_folder (NULL: impasto_user_models_folder (NULL)): NAME.onnx or a
 * pack's sidecar first, then its sidecar, thumbnail and NAME.d/. */
gboolean impasto_models_remove (const gchar *name, const gchar *dest_folder, GError **error);

/* `impasto models install|remove|catalogue ...` (argv[0] = "models"); returns the exit status. */
int impasto_models_command (int argc, char **argv);

G_END_DECLS

#endif
