/* half.c — see half.h.  x86 CPUs with F16C convert 8 values per instruction; others use the
 * bit-level reference below. */
#include "half.h"
#include "util.h"

#include <stdlib.h>
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

/* The oracle: double sums, plain loops. */
void imp_f32_to_f16_centred_ref (const float *src, float centre, uint16_t *dst, size_t n,
                                 double *sum, double *sumsq)
{
  double s = 0, q = 0;
  for (size_t i = 0; i < n; i++) {
    float d = src[i] - centre;
    dst[i] = to_half (d);
    s += d;
    q += (double) d * d;
  }
  *sum += s;
  *sumsq += q;
}

void imp_f16_to_f32_affine_ref (const uint16_t *src, float *dst, size_t n, float mul, float add,
                                bool relu)
{
  for (size_t i = 0; i < n; i++) {
    float v = from_half (src[i]) * mul + add;
    dst[i] = relu && !(v > 0.0f) ? 0.0f : v;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The fused passes, vectorised: one template per instruction set.  L lanes per vector of type V
 * (with H the integer vector holding L halves); OP(name) and HOP(name) spell the intrinsics.
 *   centred: float partial sums over blocks of <= 128 values, then into double;
 *   affine:  multiply then add (no FMA), as the reference rounds. */
#define HALF_FUSED(SUFFIX, TARGET, V, H, L, OP, TO_HALF, FROM_HALF, STORE_H, LOAD_H, HSUM)         \
  __attribute__ ((target (TARGET))) static void to_f16_centred_##SUFFIX (                          \
    const float *src, float centre, uint16_t *dst, size_t n, double *sum, double *sumsq)          \
  {                                                                                                \
    const V c = OP (set1_ps) (centre);                                                             \
    double s = 0, q = 0;                                                                           \
    size_t i = 0;                                                                                  \
    while (i + (L) <= n) {                                                                         \
      V bs = OP (setzero_ps) (), bq = OP (setzero_ps) ();                                          \
      size_t end = i + 128 <= n ? i + 128 : n - (n - i) % (L);                                     \
      for (; i < end; i += (L)) {                                                                  \
        V d = OP (sub_ps) (OP (loadu_ps) (src + i), c);                                            \
        STORE_H ((H *) (dst + i), TO_HALF (d, _MM_FROUND_TO_NEAREST_INT));                         \
        bs = OP (add_ps) (bs, d);                                                                  \
        bq = OP (fmadd_ps) (d, d, bq);                                                             \
      }                                                                                            \
      s += HSUM (bs);                                                                              \
      q += HSUM (bq);                                                                              \
    }                                                                                              \
    *sum += s;                                                                                     \
    *sumsq += q;                                                                                   \
    imp_f32_to_f16_centred_ref (src + i, centre, dst + i, n - i, sum, sumsq);                      \
  }                                                                                                \
                                                                                                   \
  __attribute__ ((target (TARGET))) static void to_f32_affine_##SUFFIX (                           \
    const uint16_t *src, float *dst, size_t n, float mul, float add, bool relu)                    \
  {                                                                                                \
    const V m = OP (set1_ps) (mul), a = OP (set1_ps) (add), zero = OP (setzero_ps) ();             \
    size_t i = 0;                                                                                  \
    for (; i + (L) <= n; i += (L)) {                                                               \
      V y = OP (add_ps) (OP (mul_ps) (FROM_HALF (LOAD_H ((const H *) (src + i))), m), a);          \
      OP (storeu_ps) (dst + i, relu ? OP (max_ps) (y, zero) : y);                                  \
    }                                                                                              \
    imp_f16_to_f32_affine_ref (src + i, dst + i, n - i, mul, add, relu);                           \
  }

/* The lanes of a float vector added up in double.  In registers: a lane array on the stack was
 * stored with an aligned 64-byte move, which faults in AddressSanitizer's fake stack frames. */
__attribute__ ((target ("avx"))) static inline double hsum_256 (__m256 v)
{
  __m256d d = _mm256_add_pd (_mm256_cvtps_pd (_mm256_castps256_ps128 (v)),
                             _mm256_cvtps_pd (_mm256_extractf128_ps (v, 1)));
  __m128d t = _mm_add_pd (_mm256_castpd256_pd128 (d), _mm256_extractf128_pd (d, 1));
  return _mm_cvtsd_f64 (_mm_add_sd (t, _mm_unpackhi_pd (t, t)));
}

__attribute__ ((target ("avx512f"))) static inline double hsum_512 (__m512 v)
{
  __m512d lo = _mm512_cvtps_pd (_mm512_castps512_ps256 (v));
  __m512d hi = _mm512_cvtps_pd (_mm256_castpd_ps (_mm512_extractf64x4_pd (_mm512_castps_pd (v), 1)));
  return _mm512_reduce_add_pd (_mm512_add_pd (lo, hi));
}

#define HALF_OP256(name) _mm256_##name
#define HALF_OP512(name) _mm512_##name
HALF_FUSED (f16c, "avx,fma,f16c", __m256, __m128i, 8, HALF_OP256, _mm256_cvtps_ph, _mm256_cvtph_ps,
            _mm_storeu_si128, _mm_loadu_si128, hsum_256)
HALF_FUSED (avx512, "avx512f", __m512, __m256i, 16, HALF_OP512, _mm512_cvtps_ph, _mm512_cvtph_ps,
            _mm256_storeu_si256, _mm256_loadu_si256, hsum_512)

/* The flavour of every conversion here, chosen once (IMPASTO_HALF_ISA=c or =avx2 caps it). */
static ImpIsa half_isa (void)
{
  static int cached = -1;
  if (cached < 0)
    cached = (int) imp_isa ("IMPASTO_HALF_ISA");
  return (ImpIsa) cached;
}

void imp_f32_to_f16_centred (const float *src, float centre, uint16_t *dst, size_t n,
                             double *sum, double *sumsq)
{
  switch (half_isa ()) {
  case IMP_ISA_AVX512: to_f16_centred_avx512 (src, centre, dst, n, sum, sumsq); break;
  case IMP_ISA_AVX2: to_f16_centred_f16c (src, centre, dst, n, sum, sumsq); break;
  default: imp_f32_to_f16_centred_ref (src, centre, dst, n, sum, sumsq);
  }
}

void imp_f16_to_f32_affine (const uint16_t *src, float *dst, size_t n, float mul, float add,
                            bool relu)
{
  switch (half_isa ()) {
  case IMP_ISA_AVX512: to_f32_affine_avx512 (src, dst, n, mul, add, relu); break;
  case IMP_ISA_AVX2: to_f32_affine_f16c (src, dst, n, mul, add, relu); break;
  default: imp_f16_to_f32_affine_ref (src, dst, n, mul, add, relu);
  }
}
#else
void imp_f32_to_f16_centred (const float *src, float centre, uint16_t *dst, size_t n,
                             double *sum, double *sumsq)
{
  imp_f32_to_f16_centred_ref (src, centre, dst, n, sum, sumsq);
}

void imp_f16_to_f32_affine (const uint16_t *src, float *dst, size_t n, float mul, float add,
                            bool relu)
{
  imp_f16_to_f32_affine_ref (src, dst, n, mul, add, relu);
}
#endif
