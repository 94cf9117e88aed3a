/* half.h — float32 <-> IEEE float16 conversion (round to nearest even), for feature maps that the
 * banded executor keeps in its scratch file: half the bytes to write and read back. */
#ifndef IMP_HALF_H
#define IMP_HALF_H

#include <stddef.h>
#include <stdint.h>

void imp_f32_to_f16 (const float *src, uint16_t *dst, size_t n);
void imp_f16_to_f32 (const uint16_t *src, float *dst, size_t n);

/* The portable versions (the oracle of the F16C ones in tests/test_half.c). */
void imp_f32_to_f16_ref (const float *src, uint16_t *dst, size_t n);
void imp_f16_to_f32_ref (const uint16_t *src, float *dst, size_t n);

#endif
