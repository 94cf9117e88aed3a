/* plugin-defs.h — names shared by the plug-in adapter and its dialog.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_PLUGIN_DEFS_H
#define IMPASTO_PLUGIN_DEFS_H

#define IMPASTO_PROC     "plug-in-impasto"
#define IMPASTO_BINARY   "plug-in-impasto"
/* GIMP's help domain of the plug-in (help/LANG/gimp-help.xml beside the executable). */
#define IMPASTO_HELP_DOMAIN "impasto-help"

#endif
