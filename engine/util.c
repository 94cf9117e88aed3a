/* util.c — error reporting, checked sizes, aligned allocation. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

/* Which register states the OS saves (XCR0): a CPU feature is usable only when they are. */
static uint64_t xgetbv0 (void)
{
  uint32_t lo, hi;
  __asm__ volatile ("xgetbv" : "=a" (lo), "=d" (hi) : "c" (0));
  return ((uint64_t) hi << 32) | lo;
}
#endif

/* cpuid directly rather than __builtin_cpu_supports: clang 15 does not know "f16c" there. */
static ImpIsa cpu_isa (void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  unsigned a, b, c, d;
  if (!__get_cpuid (1, &a, &b, &c, &d))
    return IMP_ISA_C;
  bool fma = c & bit_FMA, osxsave = c & bit_OSXSAVE, avx = c & bit_AVX, f16c = c & bit_F16C;
  if (!(fma && osxsave && avx && f16c))
    return IMP_ISA_C;
  uint64_t xcr0 = xgetbv0 ();
  if ((xcr0 & 0x6) != 0x6) /* XMM and YMM state */
    return IMP_ISA_C;
  if (!__get_cpuid_count (7, 0, &a, &b, &c, &d) || !(b & bit_AVX2))
    return IMP_ISA_C;
  bool avx512 = (b & bit_AVX512F) && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15, ZMM16-31 state */
  return avx512 ? IMP_ISA_AVX512 : IMP_ISA_AVX2;
#else
  return IMP_ISA_C;
#endif
}

ImpIsa imp_isa (const char *cap_env)
{
  /* cpuid traps to the hypervisor in a VM (microseconds): ask once */
  static _Atomic int detected = -1;
  int d = detected;
  if (d < 0)
    detected = d = (int) cpu_isa ();
  ImpIsa isa = (ImpIsa) d;
  const char *caps[2] = { getenv ("IMPASTO_ISA"), cap_env ? getenv (cap_env) : NULL };
  for (int i = 0; i < 2; i++) {
    if (caps[i] && strcmp (caps[i], "c") == 0)
      isa = IMP_ISA_C;
    if (caps[i] && strcmp (caps[i], "avx2") == 0 && isa > IMP_ISA_AVX2)
      isa = IMP_ISA_AVX2;
  }
  return isa;
}

ImpastoStatus imp_fail (ImpastoError *err, ImpastoStatus code, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->message, sizeof err->message, fmt, ap);
    va_end (ap);
    err->code = code;
  }
  return code;
}

void imp_error_clear (ImpastoError *err)
{
  if (err) {
    err->code = IMPASTO_OK;
    err->message[0] = '\0';
  }
}

bool imp_dims_count (const int64_t *dims, int rank, size_t *out)
{
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0 || !imp_mul_size (n, (size_t) dims[i], &n))
      return false;
  }
  *out = n;
  return true;
}

#if defined(__linux__) && defined(MADV_HUGEPAGE)
/* Activations, packed weights and scratch are tens to hundreds of MB, first touched right after
 * they are allocated: with 4 KiB pages that is one page fault per 4 KiB, and faults are dear on
 * this project's VM (~13 us each).  Where transparent huge pages are "madvise" (Debian's
 * default) they must be asked for; the 2 MiB-aligned inside of the block is.  CycleGAN ngf 64
 * at 1024 x 1024 went from 217,000 faults and 12.2 s of CPU time (2.6-2.9 s of it system) to
 * 62,000 and 8.5 s (1.4-1.7 s system).  Advisory only: an error changes nothing. */
#define HUGE_MIN_BYTES ((size_t) 4 << 20)
#define HUGE_PAGE ((uintptr_t) 2 << 20)
static void advise_huge (void *p, size_t bytes)
{
  uintptr_t a = ((uintptr_t) p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  uintptr_t b = ((uintptr_t) p + bytes) & ~(HUGE_PAGE - 1);
  if (b > a)
    (void) madvise ((void *) a, b - a, MADV_HUGEPAGE);
}
#endif

void *imp_alloc (size_t count, size_t elem_size, const char *what, ImpastoError *err)
{
  size_t bytes;
  if (!imp_mul_size (count, elem_size, &bytes) || bytes > SIZE_MAX - 64) {
    imp_fail (err, IMPASTO_E_NOMEM, "%s: size %zu x %zu overflows", what, count, elem_size);
    return NULL;
  }
  bytes = (bytes + 63) & ~(size_t) 63; /* aligned_alloc wants a multiple of the alignment */
  if (bytes == 0)
    bytes = 64;
  void *p = aligned_alloc (64, bytes);
  if (!p)
    imp_fail (err, IMPASTO_E_NOMEM, "%s: out of memory allocating %zu bytes", what, bytes);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  else if (bytes >= HUGE_MIN_BYTES)
    advise_huge (p, bytes);
#endif
  return p;
}

void *imp_alloc0 (size_t count, size_t elem_size, const char *what, ImpastoError *err)
{
  void *p = imp_alloc (count, elem_size, what, err);
  if (p)
    memset (p, 0, count * elem_size);
  return p;
}

void imp_free (void *p)
{
  free (p);
}

int imp_cpu_count (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > 256 ? 256 : (int) n);
}

float *imp_cache_take (ImpBufferCache *cache, size_t count, size_t *capacity, ImpastoError *err)
{
  int best = -1;
  for (int i = 0; i < cache->n; i++)
    if (cache->capacity[i] >= count && (best < 0 || cache->capacity[i] < cache->capacity[best]))
      best = i;
  if (best >= 0) {
    float *p = cache->data[best];
    *capacity = cache->capacity[best];
    cache->held -= *capacity;
    cache->n--;
    cache->data[best] = cache->data[cache->n];
    cache->capacity[best] = cache->capacity[cache->n];
    return p;
  }
  *capacity = count;
  return imp_alloc (count ? count : 1, sizeof (float), "activation", err);
}

/* Drop cached buffer i. */
static void cache_drop (ImpBufferCache *cache, int i)
{
  imp_free (cache->data[i]);
  cache->held -= cache->capacity[i];
  cache->n--;
  cache->data[i] = cache->data[cache->n];
  cache->capacity[i] = cache->capacity[cache->n];
}

void imp_cache_give (ImpBufferCache *cache, float *data, size_t capacity)
{
  if (!data)
    return;
  size_t limit = cache->limit ? cache->limit : ((size_t) 256 << 20) / sizeof (float);
  if (capacity > limit) {
    imp_free (data);
    return;
  }
  /* make room: drop the smallest buffers first (the large ones are the costly ones to fault in) */
  while (cache->n > 0 && (cache->n == (int) (sizeof cache->data / sizeof cache->data[0])
                          || cache->held + capacity > limit)) {
    int smallest = 0;
    for (int i = 1; i < cache->n; i++)
      if (cache->capacity[i] < cache->capacity[smallest])
        smallest = i;
    cache_drop (cache, smallest);
  }
  cache->data[cache->n] = data;
  cache->capacity[cache->n++] = capacity;
  cache->held += capacity;
}

void imp_cache_clear (ImpBufferCache *cache)
{
  while (cache->n > 0)
    cache_drop (cache, cache->n - 1);
}
