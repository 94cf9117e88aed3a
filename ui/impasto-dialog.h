/* impasto-dialog.h — the Style Transfer dialog with its live preview.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_DIALOG_H
#define IMPASTO_DIALOG_H

#include <libgimp/gimp.h>

#include "models.h"

G_BEGIN_DECLS

/* Show the dialog for drawable; TRUE when the user pressed OK (config then holds the choices). */
gboolean impasto_dialog_run (GimpProcedure *procedure, GimpProcedureConfig *config,
                             GimpDrawable *drawable, const ImpastoStyleList *styles);

G_END_DECLS

#endif
