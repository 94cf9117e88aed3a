/* models_cmd.h — the CLI's side of the model folders: MODEL names, `impasto models`, --help text.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_CLI_MODELS_CMD_H
#define IMPASTO_CLI_MODELS_CMD_H

#include <stdio.h>

/* The model file for MODEL: an existing file, or anything with a '/' or ending in ".onnx", is a
 * path and is returned as it is; otherwise MODEL is the NAME of an installed model, looked up in
 * the folders the plug-in searches.  Returns a malloc'd path, or NULL after printing one
 * "impasto: " line that names the folders searched. */
char *impasto_cli_model_path (const char *model);

/* `impasto models SUBCOMMAND ...` (argv[0] is "models"); returns the exit status. */
int impasto_cli_models_command (int argc, char **argv);

/* The --help paragraph on MODEL names and the folders searched (with their values now). */
void impasto_cli_print_model_help (FILE *f);

#endif
