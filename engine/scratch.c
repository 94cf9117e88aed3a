/* scratch.c — the banded executor's store (scratch.h).
 *
 * A stored value lives in RAM while the budget lasts, else in unlinked scratch files as float16
 * rows, layout [H, C, W] so a band of rows is one contiguous read.  Per-channel sums are gathered
 * while it is written, so an instance norm of it needs no pass of its own. */
#include "scratch.h"
#include "half.h"
#include "kernels.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static float *take (ImpScratch *s, size_t count, size_t *cap)
{
  return imp_cache_take (s->cache, count, cap, s->err);
}

static void give (ImpScratch *s, float *p, size_t cap)
{
  imp_cache_give (s->cache, p, cap);
}

static ImpastoStatus io_error (ImpScratch *s, const char *what)
{
  return imp_fail (s->err, IMPASTO_E_IO, "scratch file: %s failed: %s", what, strerror (errno));
}

/* ------------------------------------------------------------------------------------------ */
/* Scratch storage.                                                                             */

static ImpastoStatus open_scratch (ImpScratch *s)
{
  if (s->fd[0] >= 0)
    return IMPASTO_OK;
  const char *dir = s->dir;
  if (!dir || !*dir)
    dir = getenv ("TMPDIR");
  if (!dir || !*dir)
    dir = "/var/tmp";
  for (int i = 0; i < s->n_files; i++) {
    char path[4096];
    snprintf (path, sizeof path, "%s/impasto-scratch-XXXXXX", dir);
    s->fd[i] = mkstemp (path);
    if (s->fd[i] < 0) {
      int e = errno;
      for (int k = 0; k < i; k++) {
        close (s->fd[k]);
        s->fd[k] = -1;
      }
      return imp_fail (s->err, IMPASTO_E_IO, "cannot create a scratch file in %s: %s", dir,
                       strerror (e));
    }
    unlink (path); /* gone when we close it, even after a crash or a cancel */
  }
  return IMPASTO_OK;
}

/* Reserve the disk blocks of [off, off + len) in every scratch file before writing them.
 * Measured on ext4: buffered writes that extend a file run at 0.4-0.5 GB/s (delayed allocation
 * per page), into fallocated blocks at 8-9 GB/s; the scratch files of a 24 MP image take 4.7 GB
 * of writes.  It also makes a full disk fail here, up front, with a clear message.  File systems
 * without fallocate just skip it. */
static ImpastoStatus file_reserve (ImpScratch *s, int64_t off, int64_t len)
{
  for (int i = 0; i < s->n_files; i++)
    if (fallocate (s->fd[i], 0, off, len) != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
      return imp_fail (s->err, IMPASTO_E_IO, "scratch file: cannot reserve %.1f MB: %s",
                       (double) len * s->n_files / 1e6, strerror (errno));
    }
  return IMPASTO_OK;
}

/* The free regions ("holes") of the scratch files are kept sorted by offset and merged with
 * their neighbours, so a large value can reuse the space of several freed smaller ones.  Reusing
 * space matters beyond disk use: rewriting pages already in the page cache is cheap, while every
 * new page is a fresh kernel allocation (on the measured VM, buffered writes that extend a file
 * ran at 0.4-0.5 GB/s against 8-15 GB/s for rewrites). */

static void hole_remove (ImpScratch *s, int i)
{
  memmove (s->hole_off + i, s->hole_off + i + 1, (size_t) (s->n_holes - i - 1) * sizeof (int64_t));
  memmove (s->hole_len + i, s->hole_len + i + 1, (size_t) (s->n_holes - i - 1) * sizeof (int64_t));
  s->n_holes--;
}

/* *off = byte offset of a free region of len bytes in the scratch files: the smallest hole that
 * fits, else the last hole if it ends at the end of the files (grown), else the end. */
static ImpastoStatus file_region (ImpScratch *s, int64_t len, int64_t *off)
{
  int best = -1;
  for (int i = 0; i < s->n_holes; i++)
    if (s->hole_len[i] >= len && (best < 0 || s->hole_len[i] < s->hole_len[best]))
      best = i;
  if (best >= 0) {
    *off = s->hole_off[best];
    s->hole_off[best] += len;
    s->hole_len[best] -= len;
    if (s->hole_len[best] == 0)
      hole_remove (s, best);
    return IMPASTO_OK;
  }
  int last = s->n_holes - 1;
  int64_t start = s->file_end;
  if (last >= 0 && s->hole_off[last] + s->hole_len[last] == s->file_end)
    start = s->hole_off[last];
  ImpastoStatus st = file_reserve (s, s->file_end, start + len - s->file_end);
  if (st)
    return st;
  if (start < s->file_end)
    hole_remove (s, last);
  *off = start;
  s->file_end = start + len;
  return IMPASTO_OK;
}

static void file_release (ImpScratch *s, int64_t off, int64_t len)
{
  if (len <= 0)
    return;
  int i = 0;
  while (i < s->n_holes && s->hole_off[i] < off)
    i++;
  bool joins_prev = i > 0 && s->hole_off[i - 1] + s->hole_len[i - 1] == off;
  bool joins_next = i < s->n_holes && off + len == s->hole_off[i];
  if (joins_prev && joins_next) {
    s->hole_len[i - 1] += len + s->hole_len[i];
    hole_remove (s, i);
  } else if (joins_prev) {
    s->hole_len[i - 1] += len;
  } else if (joins_next) {
    s->hole_off[i] = off;
    s->hole_len[i] += len;
  } else if (s->n_holes < (int) (sizeof s->hole_off / sizeof s->hole_off[0])) {
    memmove (s->hole_off + i + 1, s->hole_off + i, (size_t) (s->n_holes - i) * sizeof (int64_t));
    memmove (s->hole_len + i + 1, s->hole_len + i, (size_t) (s->n_holes - i) * sizeof (int64_t));
    s->hole_off[i] = off;
    s->hole_len[i] = len;
    s->n_holes++;
  } /* else: the region is lost to reuse (the files only grow); never happens with 64 holes */
}

ImpastoStatus imp_stored_create (ImpScratch *s, ImpStored *sv)
{
  size_t count = (size_t) sv->c * (size_t) sv->h * (size_t) sv->w;
  sv->bytes = count * sizeof (float);
  sv->sum = imp_alloc0 ((size_t) sv->c, sizeof (double), "channel sums", s->err);
  sv->sumsq = imp_alloc0 ((size_t) sv->c, sizeof (double), "channel sums", s->err);
  if (!sv->sum || !sv->sumsq)
    return IMPASTO_E_NOMEM;
  if (sv->bytes <= s->ram_left) {
    sv->ram = imp_alloc (count, sizeof (float), "stored activation", s->err);
    if (sv->ram) {
      s->ram_left -= sv->bytes;
      return IMPASTO_OK;
    }
    imp_error_clear (s->err); /* fall back to the file */
  }
  ImpastoStatus st = open_scratch (s);
  if (st)
    return st;
  /* float16; the same region in every file, each holding every n_files-th row */
  int64_t rows_per_file = (sv->h + s->n_files - 1) / s->n_files;
  sv->bytes = (size_t) rows_per_file * (size_t) sv->c * (size_t) sv->w * sizeof (uint16_t);
  st = file_region (s, (int64_t) sv->bytes, &sv->offset);
  if (st)
    sv->bytes = 0; /* nothing to release */
  return st;
}

void imp_stored_free (ImpScratch *s, ImpStored *sv)
{
  if (!sv->sum)
    return; /* never created */
  if (sv->ram) {
    imp_free (sv->ram);
    s->ram_left += sv->bytes;
  } else {
    file_release (s, sv->offset, (int64_t) sv->bytes);
  }
  imp_free (sv->sum);
  imp_free (sv->sumsq);
  imp_free (sv->center);
  sv->ram = NULL;
  sv->center = NULL;
  sv->sum = sv->sumsq = NULL;
}

/* Strided copy of c channels x n rows of w floats, one pool task per channel.  Bands are
 * [C, n, W]; RAM storage is planar [C, H, W]; file storage is row-major [H, C, W]. */
typedef struct {
  const float *src;
  float *dst;
  size_t src_cs, src_rs, dst_cs, dst_rs; /* channel and row strides, in floats */
  int64_t n, w;
} CopyJob;

static void copy_channel (void *ctx, int64_t ch, int thread)
{
  const CopyJob *j = ctx;
  const float *src = j->src + (size_t) ch * j->src_cs;
  float *dst = j->dst + (size_t) ch * j->dst_cs;
  for (int64_t r = 0; r < j->n; r++)
    memcpy (dst + (size_t) r * j->dst_rs, src + (size_t) r * j->src_rs, (size_t) j->w * sizeof (float));
}

static void copy_strided (ImpPool *pool, int c, int64_t n, int64_t w, const float *src,
                          size_t src_cs, size_t src_rs, float *dst, size_t dst_cs, size_t dst_rs)
{
  CopyJob j = { src, dst, src_cs, src_rs, dst_cs, dst_rs, n, w };
  imp_pool_run (pool, c, copy_channel, &j);
}

/* Band [C, n, W] float <-> file rows [C, W] float16.  One pool task per scratch file: task t
 * converts and writes (or reads and converts) the band's rows that live in file t, so every
 * thread copies through the kernel at once without contending for one file's lock.
 * Writing narrows x - centre and sums it (into part, per file, per channel); reading widens with a
 * per-channel affine map (the centre added back, and any norm view's map folded in). */
typedef struct {
  const int *fd;
  int n_files;
  float *band;
  uint16_t *rows;   /* [n, C, W] staging */
  int c;
  int64_t r0, n, w;
  int64_t offset;   /* the value's region, in every file */
  const float *center;      /* write: per channel, subtracted before narrowing */
  double *part;             /* write: [n_files][2][C] sums of x - centre and of its square */
  const float *mul, *add;   /* read: per channel y = half * mul + add ... */
  bool relu;                /* ... then max (0, y) */
  bool map_reads;           /* read through mappings (else pread; IMPASTO_SCRATCH_NO_MMAP=1) */
  bool write;
  int *failed_errno; /* per task: 0, or the errno of a failed read/write */
} FileJob;

static int transfer (int fd, char *p, size_t len, int64_t off, bool write)
{
  while (len > 0) {
    ssize_t k = write ? pwrite (fd, p, len, off) : pread (fd, p, len, off);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return k < 0 ? errno : EIO;
    p += k, len -= (size_t) k, off += k;
  }
  return 0;
}

/* Row i of the band <-> its float16 row half [C, W] (file task t). */
static void convert_row (const FileJob *j, int64_t i, int t, const uint16_t *half)
{
  size_t w = (size_t) j->w;
  for (int ch = 0; ch < j->c; ch++) {
    float *b = j->band + ((size_t) ch * (size_t) j->n + (size_t) i) * w;
    uint16_t *h = (uint16_t *) half + (size_t) ch * w;
    if (j->write) {
      double *part = j->part + (size_t) t * 2 * (size_t) j->c;
      imp_f32_to_f16_centred (b, j->center[ch], h, w, &part[ch], &part[j->c + ch]);
    } else {
      imp_f16_to_f32_affine (h, b, w, j->mul[ch], j->add[ch], j->relu);
    }
  }
}

/* Reading file task t's rows through a read-only mapping of their region instead of pread:
 * the rows are widened straight from the page cache, without the kernel's copy into the staging
 * buffer (measured: that copy was ~3 % of a 24 MP run).  MAP_POPULATE maps the whole region in
 * one call.  False when the mapping cannot be made: the caller then uses pread. */
static bool file_rows_mapped (const FileJob *j, int t, int64_t first, size_t row_bytes)
{
  if (first >= j->r0 + j->n)
    return true; /* no rows of the band in this file (a band of fewer rows than files) */
  int64_t last = first + (j->r0 + j->n - 1 - first) / j->n_files * j->n_files;
  int64_t start = j->offset + (first / j->n_files) * (int64_t) row_bytes;
  int64_t end = j->offset + (last / j->n_files + 1) * (int64_t) row_bytes;
  static long page;
  if (page <= 0)
    page = sysconf (_SC_PAGESIZE);
  int64_t map_off = start / page * page;
  void *map = mmap (NULL, (size_t) (end - map_off), PROT_READ, MAP_SHARED | MAP_POPULATE,
                    j->fd[t], (off_t) map_off);
  if (map == MAP_FAILED)
    return false;
  const uint16_t *base = (const uint16_t *) ((const char *) map + (start - map_off));
  for (int64_t r = first; r <= last; r += j->n_files)
    convert_row (j, r - j->r0, t, base + (size_t) ((r - first) / j->n_files) * (row_bytes / 2));
  munmap (map, (size_t) (end - map_off));
  return true;
}

static void file_rows_task (void *ctx, int64_t task, int thread)
{
  const FileJob *j = ctx;
  size_t row_bytes = (size_t) j->c * (size_t) j->w * sizeof (uint16_t);
  int64_t first = j->r0 + ((task - j->r0 % j->n_files) % j->n_files + j->n_files) % j->n_files;
  if (!j->write && j->map_reads && file_rows_mapped (j, (int) task, first, row_bytes))
    return;
  for (int64_t r = first; r < j->r0 + j->n; r += j->n_files) { /* rows r with r % n_files == task */
    int64_t i = r - j->r0;
    char *bytes = (char *) (j->rows + (size_t) i * (size_t) j->c * (size_t) j->w);
    int64_t off = j->offset + (r / j->n_files) * (int64_t) row_bytes;
    if (j->write)
      convert_row (j, i, (int) task, (const uint16_t *) bytes);
    int e = transfer (j->fd[task], bytes, row_bytes, off, j->write);
    if (e) {
      j->failed_errno[task] = e;
      return;
    }
    if (!j->write)
      convert_row (j, i, (int) task, (const uint16_t *) bytes);
  }
}

/* Rows [r0, r0 + n) of a file-backed value from / into band [C, n, W]; see FileJob. */
static ImpastoStatus file_rows (ImpScratch *s, FileJob *j)
{
  size_t row = (size_t) j->c * (size_t) j->w, cap;
  uint16_t *tmp = (uint16_t *) take (s, ((size_t) j->n * row + 1) / 2, &cap); /* [n, C, W] half */
  if (!tmp)
    return IMPASTO_E_NOMEM;
  int failed[IMP_SCRATCH_MAX_FILES] = { 0 };
  j->fd = s->fd;
  j->n_files = s->n_files;
  j->rows = tmp;
  j->failed_errno = failed;
  imp_pool_run (s->pool, s->n_files, file_rows_task, j);
  give (s, (float *) tmp, cap);
  for (int t = 0; t < s->n_files; t++)
    if (failed[t]) {
      errno = failed[t];
      return io_error (s, j->write ? "write" : "read");
    }
  return IMPASTO_OK;
}

/* Write rows [r0, r0 + n) of a STORED value from band [C, n, W]; accumulate channel sums (of
 * x in RAM, of x - centre for the file). */
ImpastoStatus imp_stored_write (ImpScratch *s, ImpStored *sv, int64_t r0, int64_t n,
                                const float *band)
{
  size_t w = (size_t) sv->w, plane = (size_t) sv->h * w;
  if (sv->ram) {
    imp_channel_sums (sv->c, (size_t) n * w, band, sv->sum, sv->sumsq, s->pool);
    copy_strided (s->pool, sv->c, n, sv->w, band, (size_t) n * w, w, sv->ram + (size_t) r0 * w,
                  plane, w);
    return IMPASTO_OK;
  }
  if (!sv->center) {
    /* Pre-norm feature maps can sit far from zero (mean 1000, spread 1): float16 would round
     * away the spread.  Store the difference to this first band's channel means instead. */
    sv->center = imp_alloc ((size_t) sv->c, sizeof (float), "channel centres", s->err);
    if (!sv->center)
      return IMPASTO_E_NOMEM;
    for (int ch = 0; ch < sv->c; ch++) {
      double acc = 0;
      const float *b = band + (size_t) ch * (size_t) n * w;
      for (size_t i = 0; i < (size_t) n * w; i++)
        acc += b[i];
      sv->center[ch] = (float) (acc / ((double) n * (double) w));
    }
  }
  double *part = imp_alloc0 ((size_t) s->n_files * 2, (size_t) sv->c * sizeof (double),
                             "channel sums", s->err);
  if (!part)
    return IMPASTO_E_NOMEM;
  FileJob j = { .band = (float *) band, .c = sv->c, .r0 = r0, .n = n, .w = sv->w,
                .offset = sv->offset, .center = sv->center, .part = part, .write = true };
  ImpastoStatus st = file_rows (s, &j);
  for (int t = 0; t < s->n_files; t++) /* in file order: the same sums for every run */
    for (int ch = 0; ch < sv->c; ch++) {
      sv->sum[ch] += part[(size_t) t * 2 * sv->c + ch];
      sv->sumsq[ch] += part[(size_t) t * 2 * sv->c + sv->c + ch];
    }
  imp_free (part);
  return st;
}

/* Rows [r0, r0 + n) of a STORED value into band [C, n, W], mapped per channel by y = x * mul + add
 * (then relu) when mul is given: a norm view read straight from its stored input. */
ImpastoStatus imp_stored_read (ImpScratch *s, const ImpStored *sv, int64_t r0, int64_t n,
                               float *band, const float *mul, const float *add, bool relu)
{
  size_t w = (size_t) sv->w, plane = (size_t) sv->h * w;
  if (sv->ram) {
    copy_strided (s->pool, sv->c, n, sv->w, sv->ram + (size_t) r0 * w, plane, w, band,
                  (size_t) n * w, w);
    if (mul)
      imp_channel_affine (sv->c, (size_t) n * w, band, mul, add, relu, band, s->pool);
    return IMPASTO_OK;
  }
  /* x = half + centre, so x * mul + add = half * mul + (centre * mul + add) */
  float *map = imp_alloc ((size_t) sv->c * 2, sizeof (float), "channel map", s->err);
  if (!map)
    return IMPASTO_E_NOMEM;
  for (int ch = 0; ch < sv->c; ch++) {
    double m = mul ? mul[ch] : 1.0, a = add ? add[ch] : 0.0;
    map[ch] = (float) m;
    map[sv->c + ch] = (float) ((double) sv->center[ch] * m + a);
  }
  FileJob j = { .band = band, .c = sv->c, .r0 = r0, .n = n, .w = sv->w, .offset = sv->offset,
                .mul = map, .add = map + sv->c, .relu = mul && relu, .map_reads = s->map_reads,
                .write = false };
  ImpastoStatus st = file_rows (s, &j);
  imp_free (map);
  return st;
}

double imp_stored_mean (const ImpStored *sv, int ch, double *var)
{
  /* the sums are of x - centre for a value in the scratch files (see imp_stored_write) */
  double count = (double) sv->h * (double) sv->w;
  double shift = sv->center ? sv->center[ch] : 0.0;
  double d = sv->sum[ch] / count, v = sv->sumsq[ch] / count - d * d;
  *var = v > 0 ? v : 0;
  return shift + d;
}

void imp_scratch_init (ImpScratch *s, const char *dir, size_t ram_bytes, int n_files,
                       bool map_reads, ImpPool *pool, ImpBufferCache *cache, ImpastoError *err)
{
  memset (s, 0, sizeof *s);
  for (int i = 0; i < IMP_SCRATCH_MAX_FILES; i++)
    s->fd[i] = -1;
  s->n_files = IMP_MAX (1, IMP_MIN (IMP_SCRATCH_MAX_FILES, n_files));
  s->dir = dir;
  s->ram_left = ram_bytes;
  s->map_reads = map_reads;
  s->pool = pool;
  s->cache = cache;
  s->err = err;
}

void imp_scratch_close (ImpScratch *s)
{
  for (int i = 0; i < s->n_files; i++)
    if (s->fd[i] >= 0) {
      close (s->fd[i]);
      s->fd[i] = -1;
    }
}
