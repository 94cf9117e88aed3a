/* data_check.h — what a C test does when its data (../shared) is missing: fail naming it, or skip
 * (exit 77) when IMPASTO_ALLOW_MISSING_DATA=1.  The Python tests have the same in tests/tap.py.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_TESTS_DATA_CHECK_H
#define IMPASTO_TESTS_DATA_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exit status for main(). */
static inline int missing_data (const char *what)
{
  const char *allow = getenv ("IMPASTO_ALLOW_MISSING_DATA");
  if (allow && strcmp (allow, "1") == 0) {
    printf ("SKIP: missing test data: %s (IMPASTO_ALLOW_MISSING_DATA=1)\n", what);
    return 77;
  }
  printf ("FAIL: missing test data: %s (see README.md; IMPASTO_ALLOW_MISSING_DATA=1 skips "
          "instead)\n", what);
  return 1;
}

#endif
