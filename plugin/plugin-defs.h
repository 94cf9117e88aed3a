/* plugin-defs.h — names shared by the plug-in adapter and its dialog.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_PLUGIN_DEFS_H
#define IMPASTO_PLUGIN_DEFS_H

#define IMPASTO_PROC     "plug-in-impasto"
#define IMPASTO_BINARY   "plug-in-impasto"
/* The only choice value when no model is installed. */
#define IMPASTO_NO_MODEL "no-models"

#endif
