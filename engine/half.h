/* half.h — float32 <-> IEEE float16 conversion (round to nearest even), for feature maps that the
 * banded executor keeps in its scratch file: half the bytes to write and read back. */
#ifndef IMP_HALF_H
#define IMP_HALF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fused passes of the scratch file (one sweep over the row instead of three):
 *   centred: dst = half (src - centre); *sum += sum (src - centre), *sumsq += sum (src - centre)^2
 *            (float partial sums over blocks of at most 128 values, added up in double)
 *   affine:  dst = float (src) * mul + add, then max (0, .) when relu */
void imp_f32_to_f16_centred (const float *src, float centre, uint16_t *dst, size_t n,
                             double *sum, double *sumsq);
void imp_f16_to_f32_affine (const uint16_t *src, float *dst, size_t n, float mul, float add,
                            bool relu);

/* The portable versions: the oracle of the vector ones in tests/test_half.c, and their tails. */
void imp_f32_to_f16_ref (const float *src, uint16_t *dst, size_t n);
void imp_f16_to_f32_ref (const uint16_t *src, float *dst, size_t n);
void imp_f32_to_f16_centred_ref (const float *src, float centre, uint16_t *dst, size_t n,
                                 double *sum, double *sumsq);
void imp_f16_to_f32_affine_ref (const uint16_t *src, float *dst, size_t n, float mul, float add,
                                bool relu);

#endif
