/* i18n.h — gettext for the plug-in's own domain (GETTEXT_PACKAGE, set by meson).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_PLUGIN_I18N_H
#define IMPASTO_PLUGIN_I18N_H

#include <glib/gi18n-lib.h>

#endif
