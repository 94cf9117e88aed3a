/* impasto-catalogue.h — the "Get more styles…" window: Impasto's catalogue of published style
 * networks, each installed with a progress bar into the user's model folder (issue #13).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_CATALOGUE_WINDOW_H
#define IMPASTO_CATALOGUE_WINDOW_H

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Called in the main thread after the style name was installed. */
typedef void (*ImpastoCatalogueInstalled) (const gchar *name, gpointer user_data);

/* Shows the catalogue (impasto_catalogue_load: $IMPASTO_CATALOGUE or the installed one) over parent,
 * modal, and returns when the user closes it; a running install is cancelled first (nothing of it
 * is left).  Styles are installed into folder; installed is called after each install. */
void impasto_catalogue_window_run (GtkWindow *parent, const gchar *folder,
                                   ImpastoCatalogueInstalled installed, gpointer user_data);

G_END_DECLS

#endif
