/* SPDX-License-Identifier: GPL-3.0-or-later */
/* replay.c — runs every file of the given folders through the fuzz target's function, built with
 * the ordinary compiler (so the sanitizer builds of the suite check it too).
 *
 * A file named ok-* must load and stylise; bad-* must be refused with a message; any other file
 * (fuzzer finds, crashes/) may do either, but a refusal must carry a message.  NAME.expect next
 * to NAME.onnx holds a text that NAME's message must contain.  A crash, a
 * sanitizer report or a hang fails the test. */
#include "fuzz_model.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static uint8_t *slurp (const char *path, size_t *n)
{
  FILE *f = fopen (path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = malloc (cap);
  for (size_t r; buf && (r = fread (buf + len, 1, cap - len, f)) > 0;) {
    len += r;
    if (len == cap) {
      uint8_t *b = realloc (buf, cap *= 2);
      if (!b)
        free (buf);
      buf = b;
    }
  }
  fclose (f);
  *n = len;
  return buf;
}

/* The first line of PATH-without-extension.expect (a text the refusal must contain), if any. */
static bool expected_message (const char *path, char *buf, size_t size)
{
  char expect_path[4200];
  const char *dot = strrchr (path, '.');
  int stem = dot && !strchr (dot, '/') ? (int) (dot - path) : (int) strlen (path);
  snprintf (expect_path, sizeof expect_path, "%.*s.expect", stem, path);
  FILE *f = fopen (expect_path, "r");
  if (!f)
    return false;
  bool ok = fgets (buf, (int) size, f) != NULL;
  fclose (f);
  if (ok)
    buf[strcspn (buf, "\n")] = '\0';
  return ok;
}

static const char *outcome_name (FuzzOutcome o)
{
  static const char *const names[] = { "refused", "ran", "run refused", "too costly to run" };
  return names[o];
}

int main (int argc, char **argv)
{
  int files = 0, failed = 0, counts[4] = { 0 };
  for (int a = 1; a < argc; a++) {
    struct dirent **list;
    int n = scandir (argv[a], &list, NULL, alphasort);
    if (n < 0) {
      printf ("FAIL cannot read folder %s\n", argv[a]);
      failed++;
      continue;
    }
    for (int i = 0; i < n; i++) {
      const char *name = list[i]->d_name;
      char path[4096];
      snprintf (path, sizeof path, "%s/%s", argv[a], name);
      size_t size;
      const char *dot = strrchr (name, '.');
      bool skip = name[0] == '.' || (dot && !strcmp (dot, ".expect"));
      uint8_t *data = skip ? NULL : slurp (path, &size);
      if (data) {
        ImpastoError err = { 0 };
        FuzzOutcome o = fuzz_model_bytes (data, size, &err);
        bool refused = o == FUZZ_REFUSED || o == FUZZ_RUN_REFUSED;
        const char *why = NULL;
        if (!strncmp (name, "ok-", 3) && o != FUZZ_RAN)
          why = "a valid model did not run";
        else if (!strncmp (name, "bad-", 4) && !refused)
          why = "a broken model was not refused";
        else if (refused && (err.code == IMPASTO_OK || !err.message[0]))
          why = "refused without an error message";
        char expect[512];
        if (!why && expected_message (path, expect, sizeof expect) && !strstr (err.message, expect))
          why = "the message lacks the text of its .expect file";
        if (why) {
          printf ("FAIL %s: %s (%s: %s)\n", path, why, outcome_name (o), err.message);
          failed++;
        } else if (getenv ("FUZZ_REPLAY_VERBOSE")) {
          printf ("%s: %s%s%s\n", path, outcome_name (o), refused ? ": " : "",
                  refused ? err.message : "");
        }
        counts[o]++;
        files++;
        free (data);
      }
      free (list[i]);
    }
    free (list);
  }
  printf ("%d inputs: %d ran, %d refused at load, %d refused at run, %d too costly to run; %d failed\n",
          files, counts[FUZZ_RAN], counts[FUZZ_REFUSED], counts[FUZZ_RUN_REFUSED],
          counts[FUZZ_TOO_COSTLY], failed);
  if (files == 0)
    printf ("FAIL no inputs found\n");
  return failed || files == 0;
}
