/* SPDX-License-Identifier: GPL-3.0-or-later */
/* check.h — the pass/fail counter of the C test programs: CHECK (cond, printf-args) counts a pass
 * or prints "FAIL file:line: message" and counts a failure; a program ends by printing
 * the totals and exits non-zero on any failure: return check_summary (). */
#ifndef IMPASTO_TESTS_CHECK_H
#define IMPASTO_TESTS_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      passed++;                                                                                    \
    } else {                                                                                       \
      failed++;                                                                                    \
      printf ("FAIL %s:%d: ", __FILE__, __LINE__);                                                 \
      printf (__VA_ARGS__);                                                                        \
      printf ("\n");                                                                               \
    }                                                                                              \
  } while (0)

/* The end of main: print the totals; the exit status. */
static inline int check_summary (void)
{
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#endif
