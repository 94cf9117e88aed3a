/* util.h — error reporting, checked size arithmetic and aligned allocation for the engine. */
#ifndef IMP_UTIL_H
#define IMP_UTIL_H

#include "impasto.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Fill err (may be NULL) with code and a printf-style one-line message; returns code. */
ImpastoStatus imp_fail (ImpastoError *err, ImpastoStatus code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Clear err to IMPASTO_OK. */
void imp_error_clear (ImpastoError *err);

/* a * b into *out; false on overflow. */
static inline bool imp_mul_size (size_t a, size_t b, size_t *out)
{
  return !__builtin_mul_overflow (a, b, out);
}

/* The instruction sets the vector kernels come in. */
typedef enum { IMP_ISA_C = 0, IMP_ISA_AVX2 = 1, IMP_ISA_AVX512 = 2 } ImpIsa;

/* The widest this CPU runs (AVX2 means AVX2 + FMA + F16C; AVX-512 means AVX-512F on top), capped
 * by the environment variable cap_env (may be NULL) or IMPASTO_ISA (every kernel) when it says
 * "c" or "avx2": the tests use the caps to check every flavour of a kernel on one machine, and
 * to run whole models as on a CPU without AVX-512. */
ImpIsa imp_isa (const char *cap_env);

/* Product of dims (each must be >= 0) into *out; false on a negative dim or overflow. */
bool imp_dims_count (const int64_t *dims, int rank, size_t *out);

/* 64-byte aligned allocation of count * elem_size bytes, checked for overflow.  On failure sets
 * IMPASTO_E_NOMEM in err (naming what) and returns NULL.  Free with imp_free. */
void *imp_alloc (size_t count, size_t elem_size, const char *what, ImpastoError *err);
/* Same, zero-filled. */
void *imp_alloc0 (size_t count, size_t elem_size, const char *what, ImpastoError *err);
void imp_free (void *p);

/* Number of online CPUs (>= 1). */
int imp_cpu_count (void);

/* Milliseconds from *a to *b (IMPASTO_PROFILE). */
static inline double imp_ms_between (const struct timespec *a, const struct timespec *b)
{
  return (double) (b->tv_sec - a->tv_sec) * 1e3 + (double) (b->tv_nsec - a->tv_nsec) * 1e-6;
}

/* A few freed buffers kept for reuse, so that large activations are not mmap'ed, faulted in and
 * unmapped again for every layer. */
typedef struct {
  float *data[16];
  size_t capacity[16];
  int n;
  size_t held;   /* floats held */
  size_t limit;  /* at most this many floats are kept (0: 256 MiB worth) */
} ImpBufferCache;

/* A buffer of at least count floats (the smallest cached one that fits, or a new one). */
float *imp_cache_take (ImpBufferCache *cache, size_t count, size_t *capacity, ImpastoError *err);
void imp_cache_give (ImpBufferCache *cache, float *data, size_t capacity);
void imp_cache_clear (ImpBufferCache *cache);

#define IMP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define IMP_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
