/* test_half.c — float16 conversion: the reference against exact properties (round trip of every
 * half, rounding to nearest even, overflow, subnormals, NaN), and the scratch file's fused passes
 * in every flavour (portable, AVX2, AVX-512) against the reference: every half widened, 100003
 * random floats narrowed bit for bit, sums and the affine map. */
#include "half.h"

#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) passed++;                                                                            \
    else { failed++; printf ("FAIL line %d: ", __LINE__); printf (__VA_ARGS__); printf ("\n"); }   \
  } while (0)

static uint32_t rng = 7;
static uint32_t next (void)
{
  rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
  return rng;
}

/* The fused passes of the scratch file against their plain references (odd lengths: the tails). */
static void check_fused (void)
{
  /* every half widens as the reference does (x * 1 + -0 is x, signed zeros included) */
  static uint16_t all[65536];
  static float f[65536], g[65536];
  for (int i = 0; i < 65536; i++)
    all[i] = (uint16_t) i;
  imp_f16_to_f32_ref (all, f, 65536);
  imp_f16_to_f32_affine (all, g, 65536, 1.0f, -0.0f, false);
  int bad = 0;
  for (int i = 0; i < 65536; i++)
    bad += !(memcmp (&f[i], &g[i], sizeof f[i]) == 0 || (isnan (f[i]) && isnan (g[i])));
  CHECK (bad == 0, "widening differs from the reference for %d values", bad);

  /* random floats (any bit pattern) narrow as the reference does, bit for bit (centre 0) */
  static float r[100003];
  static uint16_t a[100003], b[100003];
  for (int i = 0; i < 100003; i++) {
    uint32_t bits = next ();
    memcpy (&r[i], &bits, sizeof bits);
    if (i % 3 == 0)
      r[i] = (float) ((double) (next () % 2000000) / 1000.0 - 1000.0);
  }
  double s0 = 0, q0 = 0;
  imp_f32_to_f16_ref (r, a, 100003);
  imp_f32_to_f16_centred (r, 0.0f, b, 100003, &s0, &q0);
  bad = 0;
  for (int i = 0; i < 100003; i++)
    bad += a[i] != b[i] && !(isnan (r[i]));
  CHECK (bad == 0, "narrowing differs from the reference for %d values", bad);
  for (size_t len = 0; len < 300; len += (len < 20 ? 1 : 37)) {
    static float src[300], y1[300], y2[300];
    static uint16_t h1[300], h2[300];
    float centre = 1000.0f;
    for (size_t i = 0; i < len; i++) /* mean far from zero, spread ~3: what centring is for */
      src[i] = centre + 0.25f + (float) ((int) (next () % 6001) - 3000) / 1000.0f;
    double s1 = 1.0, q1 = 2.0, s2 = 1.0, q2 = 2.0; /* sums add to what is there */
    imp_f32_to_f16_centred_ref (src, centre, h1, len, &s1, &q1);
    imp_f32_to_f16_centred (src, centre, h2, len, &s2, &q2);
    CHECK (memcmp (h1, h2, len * sizeof (uint16_t)) == 0, "centred halves differ (n = %zu)", len);
    CHECK (fabs (s1 - s2) <= 1e-5 * (1.0 + fabs (s1)) && fabs (q1 - q2) <= 1e-5 * q1,
           "centred sums %.9g %.9g vs %.9g %.9g (n = %zu)", s2, q2, s1, q1, len);
    double ws = 1.0, wq = 2.0; /* the exact sums, from the definition */
    for (size_t i = 0; i < len; i++) {
      double d = (double) src[i] - centre;
      ws += d, wq += d * d;
    }
    CHECK (fabs (s2 - ws) <= 1e-4 * (1.0 + fabs (ws)) && fabs (q2 - wq) <= 1e-5 * wq,
           "centred sums %.9g %.9g, exact %.9g %.9g (n = %zu)", s2, q2, ws, wq, len);
    for (int relu = 0; relu < 2; relu++) {
      imp_f16_to_f32_affine_ref (h1, y1, len, 0.37f, -0.1f, relu);
      imp_f16_to_f32_affine (h1, y2, len, 0.37f, -0.1f, relu);
      CHECK (memcmp (y1, y2, len * sizeof (float)) == 0, "affine widening differs (n = %zu)", len);
      bad = 0;
      for (size_t i = 0; i < len; i++) {
        float x;
        imp_f16_to_f32_ref (h1 + i, &x, 1);
        float want = x * 0.37f - 0.1f;
        bad += y2[i] != (relu && want < 0 ? 0.0f : want);
      }
      CHECK (bad == 0, "affine widening: %d values off (n = %zu, relu %d)", bad, len, relu);
    }
  }
}

int main (void)
{
  /* every half value converts to float and back unchanged (NaNs stay NaN) */
  static uint16_t all[65536], back[65536];
  static float f[65536];
  for (int i = 0; i < 65536; i++)
    all[i] = (uint16_t) i;
  imp_f16_to_f32_ref (all, f, 65536);
  imp_f32_to_f16_ref (f, back, 65536);
  int bad = 0;
  for (int i = 0; i < 65536; i++)
    bad += isnan (f[i]) ? !((back[i] & 0x7c00) == 0x7c00 && (back[i] & 0x3ff)) : back[i] != all[i];
  CHECK (bad == 0, "%d half values do not round-trip", bad);

  /* exact cases */
  const float cases[] = { 0.0f, -0.0f, 1.0f, 65504.0f, 65520.0f, 1e10f, -1e10f, 5.960464e-8f,
                          2.98e-8f, 1.0009765625f, 1.00048828125f, 1.00146484375f, INFINITY };
  const uint16_t want[] = { 0x0000, 0x8000, 0x3c00, 0x7bff, 0x7c00, 0x7c00, 0xfc00, 0x0001,
                            0x0000, 0x3c01, 0x3c00, 0x3c02, 0x7c00 };
  uint16_t got[13];
  imp_f32_to_f16_ref (cases, got, 13);
  for (int i = 0; i < 13; i++)
    CHECK (got[i] == want[i], "%.10g -> %04x, want %04x", cases[i], got[i], want[i]);

  /* the fused passes, once per flavour this CPU runs (each in a child: the choice is made once
   * per process) */
  const char *isas[3] = { "c", "avx2", NULL };
  for (int k = 0; k < 3; k++) {
    fflush (stdout);
    pid_t pid = fork ();
    if (pid == 0) {
      if (isas[k])
        setenv ("IMPASTO_HALF_ISA", isas[k], 1);
      passed = failed = 0;
      check_fused ();
      printf ("fused passes (%s): %d passed, %d failed\n", isas[k] ? isas[k] : "widest", passed,
              failed);
      fflush (stdout);
      _exit (failed ? 1 : 0);
    }
    int status = 0;
    CHECK (pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status)
           && WEXITSTATUS (status) == 0, "fused passes failed with IMPASTO_HALF_ISA=%s",
           isas[k] ? isas[k] : "(unset)");
  }
  printf ("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
