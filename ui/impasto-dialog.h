/* impasto-dialog.h — the Style Transfer dialog with its live preview.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_DIALOG_H
#define IMPASTO_DIALOG_H

#include <libgimp/gimp.h>

#include "models.h"

G_BEGIN_DECLS

/* The model folders scanned again (the plug-in's search order). */
typedef ImpastoStyleList *(*ImpastoRescanFunc) (void);

/* Show the dialog for drawable; TRUE when the user pressed OK (config then holds the choices).
 * *styles is the style list; a style installed from the dialog ("Get more styles…", into
 * install_folder; NULL: no such button) replaces it by rescan()'s list, which the caller then owns
 * (the dialog frees the lists it replaced). */
gboolean impasto_dialog_run (GimpProcedure *procedure, GimpProcedureConfig *config,
                             GimpDrawable *drawable, ImpastoStyleList **styles,
                             ImpastoRescanFunc rescan, const gchar *install_folder);

G_END_DECLS

#endif
