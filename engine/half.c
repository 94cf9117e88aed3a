/* half.c — see half.h.  x86 CPUs with F16C convert 8 values per instruction; others use the
 * bit-level reference below. */
#include "half.h"

#include <string.h>

static uint16_t to_half (float f)
{
  uint32_t x;
  memcpy (&x, &f, sizeof x);
  uint32_t sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) /* inf or nan (keep nan quiet) */
    return (uint16_t) (sign | 0x7c00u | (abs > 0x7f800000u ? 0x0200u | ((abs >> 13) & 0x3ffu) : 0));
  if (abs >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
    return (uint16_t) (sign | 0x7c00u);
  if (abs < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
    if (abs < 0x33000000u) /* < 2^-25: rounds to zero */
      return (uint16_t) sign;
    uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int) (abs >> 23); /* 14 .. 24 */
    uint32_t half = mant >> shift, rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1u)))
      half++;
    return (uint16_t) (sign | half);
  }
  uint32_t half = ((abs - 0x38000000u) >> 13); /* rebias exponent 127 -> 15 */
  uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
    half++;
  return (uint16_t) (sign | half);
}

static float from_half (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
  if (exp == 0x1fu) {
    x = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do {
        mant <<= 1;
        e++;
      } while (!(mant & 0x400u));
      x = sign | ((uint32_t) (112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else {
    x = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  memcpy (&f, &x, sizeof f);
  return f;
}

void imp_f32_to_f16_ref (const float *src, uint16_t *dst, size_t n)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = to_half (src[i]);
}

void imp_f16_to_f32_ref (const uint16_t *src, float *dst, size_t n)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = from_half (src[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__ ((target ("avx,f16c"))) static void to_f16_f16c (const float *src, uint16_t *dst, size_t n)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128 ((__m128i *) (dst + i),
                      _mm256_cvtps_ph (_mm256_loadu_ps (src + i), _MM_FROUND_TO_NEAREST_INT));
  imp_f32_to_f16_ref (src + i, dst + i, n - i);
}

__attribute__ ((target ("avx,f16c"))) static void to_f32_f16c (const uint16_t *src, float *dst, size_t n)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (dst + i, _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) (src + i))));
  imp_f16_to_f32_ref (src + i, dst + i, n - i);
}

static int have_f16c (void)
{
  static int cached = -1;
  if (cached < 0) {
    __builtin_cpu_init ();
    cached = __builtin_cpu_supports ("f16c") && __builtin_cpu_supports ("avx");
  }
  return cached;
}

void imp_f32_to_f16 (const float *src, uint16_t *dst, size_t n)
{
  if (have_f16c ())
    to_f16_f16c (src, dst, n);
  else
    imp_f32_to_f16_ref (src, dst, n);
}

void imp_f16_to_f32 (const uint16_t *src, float *dst, size_t n)
{
  if (have_f16c ())
    to_f32_f16c (src, dst, n);
  else
    imp_f16_to_f32_ref (src, dst, n);
}
#else
void imp_f32_to_f16 (const float *src, uint16_t *dst, size_t n)
{
  imp_f32_to_f16_ref (src, dst, n);
}

void imp_f16_to_f32 (const uint16_t *src, float *dst, size_t n)
{
  imp_f16_to_f32_ref (src, dst, n);
}
#endif
