/* data_check.h — where a C test finds its data (../shared), and what it does when the data is
 * missing: fail naming it, or skip (exit 77) when IMPASTO_ALLOW_MISSING_DATA=1.  The Python tests have the same in tests/tap.py.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_TESTS_DATA_CHECK_H
#define IMPASTO_TESTS_DATA_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* buf = $IMPASTO_SHARED/rel (meson sets it), else ../shared/rel; returns buf. */
static inline const char *shared_path (char *buf, size_t size, const char *rel)
{
  const char *shared = getenv ("IMPASTO_SHARED");
  snprintf (buf, size, "%s/%s", shared ? shared : "../shared", rel);
  return buf;
}

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
