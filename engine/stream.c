/* stream.c — the banded executor (see stream.h and docs/tiling.md).
 *
 * Every value of the graph is one of:
 *   INPUT   rows generated on demand from the user's image (never stored whole);
 *   STORED  computed once, band by band, and kept in RAM or in an unlinked scratch file, layout
 *           [H, C, W] so a band of rows is one contiguous read; per-channel sums are gathered
 *           while it is written;
 *   a view  of another value, computed on the fly whenever rows are read: AFFINE (instance norm
 *           with whole-image statistics, batch norm, fused relu), UNARY, RESIZE, PAD, ALIAS.
 * Steps run in graph order.  Convolutions, binary ops and concatenations produce STORED values,
 * band by band, reading their inputs' rows (plus the kernel's halo) through the views.  An
 * instance norm needs its input complete: by then the input is STORED and its sums are known, so
 * the normalisation is exact — the same as running the whole image at once — and costs no pass of
 * its own.  The last step writes straight into the output image. */
#include "stream.h"
#include "half.h"
#include "image.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef enum { SV_NONE, SV_INPUT, SV_STORED, SV_AFFINE, SV_UNARY, SV_RESIZE, SV_PAD, SV_ALIAS } SvKind;

typedef struct {
  SvKind kind;
  int c;
  int64_t h, w;
  int src;            /* views: the value read */
  int last_use;       /* index of the last step that reads it (through views too) */
  /* STORED */
  float *ram;         /* [H, C, W], or NULL when in the scratch file */
  int64_t offset;     /* byte offset in the scratch file */
  size_t bytes;
  double *sum, *sumsq;
  float *center;      /* file only: per-channel offset subtracted before float16 storage */
  /* AFFINE: y = x * mul[c] + add[c], then relu */
  float *mul, *add;
  bool own_affine, relu;
  /* UNARY */
  ImpUnaryOp op;
  float alpha, beta;
  /* RESIZE: source row / column of every output row / column */
  int64_t *row_map, *col_map;
  int32_t *col_map32; /* col_map for a conv's gather (conv_band_gather), made on first use */
  bool cols_double;   /* col_map[x] == x / 2 */
  /* PAD */
  int pt, pl;
  ImpPadMode mode;
  float value;
} SVal;

typedef struct {
  ImpastoModel *m;
  const ImpastoImage *in;
  ImpastoImage *out;
  const ImpastoOptions *o;
  ImpastoError *err;
  ImpPool *pool;
  SVal *v;              /* one per graph value */
  ImpTensor *shapes;    /* one per graph value */
  int64_t ph, pw;       /* model input size */
  int64_t tile_rows;    /* band height in input rows; 0: automatic per step */
  int fd[4];            /* scratch files, -1 until needed: row r of a value lives in file
                           r % n_files, so threads writing different rows never wait for one
                           another's inode lock */
  int n_files;
  int64_t file_end;
  int64_t hole_off[64], hole_len[64];
  int n_holes;
  size_t ram_left;      /* budget for STORED values kept in RAM */
  bool map_reads;       /* scratch rows are read through mmap (see file_rows_mapped) */
  bool gather_resize;   /* convs read resize views through index maps (IMPASTO_NO_GATHER=1: not) */
  ImpBufferCache cache;
  double done, total;
} Stream;

#define BAND_BYTES ((size_t) 24 << 20) /* target size of one band buffer (automatic bands) */

static float *take (Stream *s, size_t count, size_t *cap)
{
  return imp_cache_take (&s->cache, count, cap, s->err);
}

static void give (Stream *s, float *p, size_t cap)
{
  imp_cache_give (&s->cache, p, cap);
}

static ImpastoStatus io_error (Stream *s, const char *what)
{
  return imp_fail (s->err, IMPASTO_E_IO, "scratch file: %s failed: %s", what, strerror (errno));
}

/* ------------------------------------------------------------------------------------------ */
/* Scratch storage.                                                                             */

static ImpastoStatus open_scratch (Stream *s)
{
  if (s->fd[0] >= 0)
    return IMPASTO_OK;
  const char *dir = getenv ("IMPASTO_SCRATCH_DIR");
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
static ImpastoStatus file_reserve (Stream *s, int64_t off, int64_t len)
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

static void hole_remove (Stream *s, int i)
{
  memmove (s->hole_off + i, s->hole_off + i + 1, (size_t) (s->n_holes - i - 1) * sizeof (int64_t));
  memmove (s->hole_len + i, s->hole_len + i + 1, (size_t) (s->n_holes - i - 1) * sizeof (int64_t));
  s->n_holes--;
}

/* *off = byte offset of a free region of len bytes in the scratch files: the smallest hole that
 * fits, else the last hole if it ends at the end of the files (grown), else the end. */
static ImpastoStatus file_region (Stream *s, int64_t len, int64_t *off)
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

static void file_release (Stream *s, int64_t off, int64_t len)
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

static ImpastoStatus store_create (Stream *s, int v)
{
  SVal *sv = &s->v[v];
  size_t count = (size_t) sv->c * (size_t) sv->h * (size_t) sv->w;
  sv->kind = SV_STORED;
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

static void store_free (Stream *s, SVal *sv)
{
  if (sv->kind != SV_STORED)
    return;
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
  sv->kind = SV_NONE;
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
static ImpastoStatus file_rows (Stream *s, FileJob *j)
{
  size_t row = (size_t) j->c * (size_t) j->w, cap;
  uint16_t *tmp = (uint16_t *) take (s, ((size_t) j->n * row + 1) / 2, &cap); /* [n, C, W] half */
  if (!tmp)
    return IMPASTO_E_NOMEM;
  int failed[4] = { 0 };
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
static ImpastoStatus store_write (Stream *s, int v, int64_t r0, int64_t n, const float *band)
{
  SVal *sv = &s->v[v];
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
static ImpastoStatus store_read (Stream *s, int v, int64_t r0, int64_t n, float *band,
                                 const float *mul, const float *add, bool relu)
{
  SVal *sv = &s->v[v];
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

/* ------------------------------------------------------------------------------------------ */
/* Reading rows of any value.                                                                   */

static ImpastoStatus read_rows (Stream *s, int v, int64_t r0, int64_t r1, float *dst);

typedef struct {
  const float *src; /* [C, span, w]: rows lo .. lo + span - 1 */
  float *dst;       /* [C, b - a, w] */
  int64_t a, b, lo, span, h, w;
  ImpPadMode mode;
  float value;
} PadRowsJob;

static void pad_rows_channel (void *ctx, int64_t ch, int thread)
{
  const PadRowsJob *j = ctx;
  size_t w = (size_t) j->w, n = (size_t) (j->b - j->a);
  for (int64_t r = j->a; r < j->b; r++) {
    float *d = j->dst + ((size_t) ch * n + (size_t) (r - j->a)) * w;
    int64_t i = imp_pad_index (r, j->h, j->mode);
    if (i < 0) {
      for (size_t x = 0; x < w; x++)
        d[x] = j->value;
    } else {
      memcpy (d, j->src + ((size_t) ch * (size_t) j->span + (size_t) (i - j->lo)) * w,
              w * sizeof (float));
    }
  }
}

/* Rows [a, b) of v, where rows outside [0, h) follow the padding mode; dst [C, b - a, W]. */
static ImpastoStatus read_rows_padded (Stream *s, int v, int64_t a, int64_t b, ImpPadMode mode,
                                       float value, float *dst)
{
  SVal *sv = &s->v[v];
  if (a >= 0 && b <= sv->h)
    return read_rows (s, v, a, b, dst);
  int64_t lo = INT64_MAX, hi = -1;
  for (int64_t r = a; r < b; r++) {
    int64_t i = imp_pad_index (r, sv->h, mode);
    if (i >= 0) {
      lo = IMP_MIN (lo, i);
      hi = IMP_MAX (hi, i);
    }
  }
  size_t cap = 0, w = (size_t) sv->w;
  float *tmp = NULL;
  if (hi >= 0) {
    tmp = take (s, (size_t) sv->c * (size_t) (hi - lo + 1) * w, &cap);
    ImpastoStatus st = tmp ? read_rows (s, v, lo, hi + 1, tmp) : IMPASTO_E_NOMEM;
    if (st) {
      give (s, tmp, cap);
      return st;
    }
  }
  PadRowsJob j = { tmp, dst, a, b, lo, (int64_t) (hi - lo + 1), sv->h, (int64_t) w, mode, value };
  imp_pool_run (s->pool, sv->c, pad_rows_channel, &j);
  give (s, tmp, cap);
  return IMPASTO_OK;
}

typedef struct {
  const SVal *sv;
  const float *src; /* [C, span, sw] rows lo..hi of the source */
  float *dst;       /* [C, n, w] */
  int64_t r0, n, lo, span, sw;
} ResizeJob;

static void resize_channel (void *ctx, int64_t ch, int thread)
{
  const ResizeJob *j = ctx;
  const SVal *sv = j->sv;
  size_t w = (size_t) sv->w;
  for (int64_t r = 0; r < j->n; r++) {
    const float *srow = j->src + ((size_t) ch * (size_t) j->span
                                  + (size_t) (sv->row_map[j->r0 + r] - j->lo)) * (size_t) j->sw;
    float *d = j->dst + ((size_t) ch * (size_t) j->n + (size_t) r) * w;
    if (sv->cols_double) { /* nearest x2: every source pixel twice */
      imp_duplicate2 (srow, d, w / 2);
      if (w & 1)
        d[w - 1] = srow[sv->col_map[w - 1]];
    } else {
      for (size_t x = 0; x < w; x++)
        d[x] = srow[sv->col_map[x]];
    }
  }
}

static ImpastoStatus read_resized (Stream *s, SVal *sv, int64_t r0, int64_t r1, float *dst)
{
  int64_t lo = INT64_MAX, hi = -1;
  for (int64_t r = r0; r < r1; r++) {
    lo = IMP_MIN (lo, sv->row_map[r]);
    hi = IMP_MAX (hi, sv->row_map[r]);
  }
  const SVal *src = &s->v[sv->src];
  size_t cap, span = (size_t) (hi - lo + 1), sw = (size_t) src->w;
  float *tmp = take (s, (size_t) sv->c * span * sw, &cap); /* [C, span, sw] */
  if (!tmp)
    return IMPASTO_E_NOMEM;
  ImpastoStatus st = read_rows (s, sv->src, lo, hi + 1, tmp);
  if (!st) {
    ResizeJob j = { sv, tmp, dst, r0, r1 - r0, lo, (int64_t) span, (int64_t) sw };
    imp_pool_run (s->pool, sv->c, resize_channel, &j);
  }
  give (s, tmp, cap);
  return st;
}

static ImpastoStatus read_padded_view (Stream *s, SVal *sv, int64_t r0, int64_t r1, float *dst)
{
  const SVal *src = &s->v[sv->src];
  size_t cap, n = (size_t) (r1 - r0), sw = (size_t) src->w, w = (size_t) sv->w;
  float *tmp = take (s, (size_t) sv->c * n * sw, &cap); /* [C, n, sw] */
  if (!tmp)
    return IMPASTO_E_NOMEM;
  ImpastoStatus st = read_rows_padded (s, sv->src, r0 - sv->pt, r1 - sv->pt, sv->mode, sv->value, tmp);
  for (int ch = 0; !st && ch < sv->c; ch++)
    for (size_t r = 0; r < n; r++) {
      const float *srow = tmp + ((size_t) ch * n + r) * sw;
      float *d = dst + ((size_t) ch * n + r) * w;
      for (size_t x = 0; x < w; x++) {
        int64_t i = imp_pad_index ((int64_t) x - sv->pl, (int64_t) sw, sv->mode);
        d[x] = i < 0 ? sv->value : srow[i];
      }
    }
  give (s, tmp, cap);
  return st;
}

/* Rows [r0, r1) (0 <= r0 < r1 <= h) of value v into dst [C, r1 - r0, W]. */
static ImpastoStatus read_rows (Stream *s, int v, int64_t r0, int64_t r1, float *dst)
{
  SVal *sv = &s->v[v];
  size_t n = (size_t) (r1 - r0) * (size_t) sv->w;
  ImpastoStatus st;
  switch (sv->kind) {
  case SV_INPUT:
    imp_image_input_rows (s->m, s->in, r0, r1, sv->w, dst, s->pool);
    return IMPASTO_OK;
  case SV_STORED:
    return store_read (s, v, r0, r1 - r0, dst, NULL, NULL, false);
  case SV_ALIAS:
    return read_rows (s, sv->src, r0, r1, dst);
  case SV_AFFINE:
    if (s->v[sv->src].kind == SV_STORED) /* one pass: read and map */
      return store_read (s, sv->src, r0, r1 - r0, dst, sv->mul, sv->add, sv->relu);
    if ((st = read_rows (s, sv->src, r0, r1, dst)))
      return st;
    imp_channel_affine (sv->c, n, dst, sv->mul, sv->add, sv->relu, dst, s->pool);
    return IMPASTO_OK;
  case SV_UNARY:
    if ((st = read_rows (s, sv->src, r0, r1, dst)))
      return st;
    imp_unary (sv->op, sv->alpha, sv->beta, n * (size_t) sv->c, dst, dst, s->pool);
    return IMPASTO_OK;
  case SV_RESIZE:
    return read_resized (s, sv, r0, r1, dst);
  case SV_PAD:
    return read_padded_view (s, sv, r0, r1, dst);
  case SV_NONE:
    break;
  }
  return imp_fail (s->err, IMPASTO_E_ARGUMENT, "internal error: value %d read before it exists", v);
}

/* ------------------------------------------------------------------------------------------ */
/* Steps that become views.                                                                     */

static void view_of (Stream *s, const ImpStep *st, SvKind kind)
{
  SVal *out = &s->v[st->output];
  out->kind = kind;
  out->src = st->inputs[0];
}

static ImpastoStatus channel_stats (Stream *s, int v, double *sum, double *sumsq);

static ImpastoStatus make_instnorm (Stream *s, const ImpStep *st)
{
  SVal *out = &s->v[st->output];
  int c = out->c;
  double *sum = NULL, *sumsq = NULL;
  SVal *in = &s->v[st->inputs[0]];
  ImpastoStatus rc = IMPASTO_OK;
  if (in->kind == SV_STORED) {
    sum = in->sum;
    sumsq = in->sumsq;
  } else { /* rare: norm of a view; one pass to gather the sums */
    sum = imp_alloc0 ((size_t) c, sizeof (double), "channel sums", s->err);
    sumsq = imp_alloc0 ((size_t) c, sizeof (double), "channel sums", s->err);
    rc = sum && sumsq ? channel_stats (s, st->inputs[0], sum, sumsq) : IMPASTO_E_NOMEM;
  }
  out->mul = imp_alloc ((size_t) c, sizeof (float), "norm", s->err);
  out->add = imp_alloc ((size_t) c, sizeof (float), "norm", s->err);
  out->own_affine = true;
  if (!rc && (!out->mul || !out->add))
    rc = IMPASTO_E_NOMEM;
  double count = (double) in->h * (double) in->w;
  for (int ch = 0; !rc && ch < c; ch++) { /* y = scale (x - mean) / sqrt(var + eps) + bias */
    /* the sums are of x - centre for a value in the scratch file (see store_write) */
    double shift = in->kind == SV_STORED && in->center ? in->center[ch] : 0.0;
    double d = sum[ch] / count, var = sumsq[ch] / count - d * d, mean = shift + d;
    double k = st->u.instnorm.scale[ch] / sqrt ((var > 0 ? var : 0) + st->u.instnorm.eps);
    out->mul[ch] = (float) k;
    out->add[ch] = (float) (st->u.instnorm.bias[ch] - mean * k);
  }
  if (in->kind != SV_STORED) {
    imp_free (sum);
    imp_free (sumsq);
  }
  out->relu = st->u.instnorm.relu;
  view_of (s, st, SV_AFFINE);
  return rc;
}

static ImpastoStatus make_unary (Stream *s, const ImpStep *st)
{
  SVal *in = &s->v[st->inputs[0]], *out = &s->v[st->output];
  if (st->u.unary.op == IMP_UNARY_RELU && in->kind == SV_AFFINE && !in->relu) {
    /* relu after a norm: the same view with relu on (shares the coefficients) */
    out->mul = in->mul;
    out->add = in->add;
    out->relu = true;
    out->kind = SV_AFFINE;
    out->src = in->src;
    return IMPASTO_OK;
  }
  out->op = st->u.unary.op;
  out->alpha = st->u.unary.alpha;
  out->beta = st->u.unary.beta;
  view_of (s, st, SV_UNARY);
  return IMPASTO_OK;
}

static ImpastoStatus make_resize (Stream *s, const ImpStep *st)
{
  SVal *in = &s->v[st->inputs[0]], *out = &s->v[st->output];
  out->row_map = imp_alloc ((size_t) out->h, sizeof (int64_t), "resize map", s->err);
  out->col_map = imp_alloc ((size_t) out->w, sizeof (int64_t), "resize map", s->err);
  if (!out->row_map || !out->col_map)
    return IMPASTO_E_NOMEM;
  /* Let the kernel itself say which source pixel each output pixel takes: resize an image of
   * indices.  One row / one column at a time keeps this exact and cheap. */
  float sh = st->u.resize.scale_h, sw = st->u.resize.scale_w;
  if (st->u.resize.size_h > 0) {
    sh = (float) out->h / (float) in->h;
    sw = (float) out->w / (float) in->w;
  }
  size_t cap1, cap2;
  int64_t n = IMP_MAX (IMP_MAX (in->h, in->w), IMP_MAX (out->h, out->w));
  float *idx = take (s, (size_t) n, &cap1), *res = take (s, (size_t) n, &cap2);
  if (!idx || !res) {
    give (s, idx, cap1);
    give (s, res, cap2);
    return IMPASTO_E_NOMEM;
  }
  for (int64_t i = 0; i < n; i++)
    idx[i] = (float) i; /* exact for i < 2^24 */
  imp_resize_nearest (1, (int) in->h, 1, idx, (int) out->h, 1, sh, 1.0f, st->u.resize.coord,
                      st->u.resize.nearest, res, NULL);
  for (int64_t i = 0; i < out->h; i++)
    out->row_map[i] = (int64_t) res[i];
  imp_resize_nearest (1, 1, (int) in->w, idx, 1, (int) out->w, 1.0f, sw, st->u.resize.coord,
                      st->u.resize.nearest, res, NULL);
  out->cols_double = true;
  for (int64_t i = 0; i < out->w; i++) {
    out->col_map[i] = (int64_t) res[i];
    out->cols_double &= out->col_map[i] == i / 2;
  }
  give (s, idx, cap1);
  give (s, res, cap2);
  view_of (s, st, SV_RESIZE);
  return IMPASTO_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Steps that produce stored values, band by band.                                              */

/* Rows per band of value out, whose rows cost row_bytes of buffers each (automatic bands). */
static int64_t band_rows (const Stream *s, const SVal *out, size_t row_bytes)
{
  int64_t rows;
  if (s->tile_rows > 0) /* the user's tile size, scaled to this value's resolution */
    rows = (s->tile_rows * out->h + s->ph - 1) / s->ph;
  else
    rows = (int64_t) (BAND_BYTES / (row_bytes ? row_bytes : 1));
  return IMP_MAX (1, IMP_MIN (rows, out->h));
}

static size_t value_row_bytes (const SVal *sv)
{
  return (size_t) sv->c * (size_t) sv->w * sizeof (float);
}

/* Bytes of band buffer one output row of step st needs: its own row or the input rows it reads,
 * whichever is larger.  (A 32 -> 3 conv reads 10x more than it writes: sizing its bands by the
 * output alone made 260 MB input bands.) */
static size_t step_row_bytes (const Stream *s, const ImpStep *st)
{
  size_t bytes = value_row_bytes (&s->v[st->output]);
  for (int i = 0; i < st->n_inputs; i++) {
    if (s->m->graph->values[st->inputs[i]].is_const)
      continue;
    const SVal *iv = &s->v[st->inputs[i]];
    size_t in = value_row_bytes (iv);
    if (st->kind == STEP_CONV && iv->kind == SV_RESIZE && s->gather_resize && iv->h > 0) {
      /* read through the resize's maps: only its source rows are buffered */
      const SVal *src = &s->v[iv->src];
      in = (size_t) ((double) value_row_bytes (src) * (double) src->h / (double) iv->h) + 1;
    }
    if (st->kind == STEP_CONV)
      in *= (size_t) st->u.conv.shape.stride_h;
    bytes = IMP_MAX (bytes, in);
  }
  return bytes;
}

/* conv_band for a conv whose input is a nearest-resize view: the conv reads the source rows
 * through index maps (ImpGather), so the resized band is never written out.
 * IMPASTO_E_UNSUPPORTED when the conv has no gather path (the caller then materialises). */
static ImpastoStatus conv_band_gather (Stream *s, ImpStep *st, int64_t a, int64_t b, float *dst)
{
  const ImpConvShape *cs = &st->u.conv.shape;
  SVal *in = &s->v[st->inputs[0]];
  const SVal *src = &s->v[in->src];
  if (!in->col_map32) { /* the column map as the conv wants it, once per value */
    in->col_map32 = imp_alloc ((size_t) in->w, sizeof (int32_t), "resize map", s->err);
    if (!in->col_map32)
      return IMPASTO_E_NOMEM;
    for (int64_t x = 0; x < in->w; x++)
      in->col_map32[x] = (int32_t) in->col_map[x];
  }
  int32_t *rmap = imp_alloc ((size_t) (b - a), sizeof (int32_t), "resize map", s->err);
  if (!rmap)
    return IMPASTO_E_NOMEM;
  int64_t lo = INT64_MAX, hi = -1;
  for (int64_t r = a; r < b; r++) {
    int64_t pr = imp_pad_index (r, in->h, cs->pad_mode);
    rmap[r - a] = pr < 0 ? -1 : (int32_t) in->row_map[pr];
    if (pr >= 0) {
      lo = IMP_MIN (lo, in->row_map[pr]);
      hi = IMP_MAX (hi, in->row_map[pr]);
    }
  }
  size_t cap = 0, span = hi >= 0 ? (size_t) (hi - lo + 1) : 1;
  float *tmp = take (s, (size_t) src->c * span * (size_t) src->w, &cap); /* [C, span, sw] */
  ImpastoStatus rc = tmp ? IMPASTO_OK : IMPASTO_E_NOMEM;
  if (!rc && hi >= 0)
    rc = read_rows (s, in->src, lo, hi + 1, tmp);
  else if (!rc)
    memset (tmp, 0, (size_t) src->c * (size_t) src->w * sizeof (float));
  for (int64_t i = 0; !rc && i < b - a; i++)
    if (rmap[i] >= 0)
      rmap[i] -= (int32_t) lo;
  if (!rc) {
    ImpGather g = { tmp, (int) span, (int) src->w, rmap, in->col_map32, in->cols_double };
    rc = imp_conv_run_gather (st->u.conv.band_conv, (int) (b - a), (int) in->w, &g, dst, s->pool,
                              s->err);
  }
  give (s, tmp, cap);
  imp_free (rmap);
  return rc;
}

static ImpastoStatus conv_band (Stream *s, ImpStep *st, int64_t o0, int64_t o1, float *dst)
{
  const ImpConvShape *cs = &st->u.conv.shape;
  if (!st->u.conv.band_conv) {
    ImpConvShape band = *cs;
    band.pad_t = band.pad_b = 0; /* rows come padded from read_rows_padded */
    st->u.conv.band_conv = imp_conv_new (&band, st->u.conv.weight, st->u.conv.bias, s->err);
    if (!st->u.conv.band_conv)
      return s->err->code ? s->err->code : IMPASTO_E_NOMEM;
  }
  const SVal *in = &s->v[st->inputs[0]];
  int64_t a = o0 * cs->stride_h - cs->pad_t;
  int64_t b = (o1 - 1) * cs->stride_h - cs->pad_t + (int64_t) cs->dil_h * (cs->kh - 1) + 1;
  if (in->kind == SV_RESIZE && s->gather_resize) {
    ImpastoStatus rc = conv_band_gather (s, st, a, b, dst);
    if (rc != IMPASTO_E_UNSUPPORTED)
      return rc;
  }
  size_t cap;
  float *band = take (s, (size_t) in->c * (size_t) (b - a) * (size_t) in->w, &cap); /* [C, b-a, W] */
  if (!band)
    return IMPASTO_E_NOMEM;
  ImpastoStatus rc = read_rows_padded (s, st->inputs[0], a, b, cs->pad_mode, 0.0f, band);
  if (!rc)
    rc = imp_conv_run (st->u.conv.band_conv, (int) (b - a), (int) in->w, band, dst, s->pool, s->err);
  give (s, band, cap);
  return rc;
}

/* One operand of a binary op for rows [r0, r1): a runtime value read into a buffer, or a
 * constant (broadcast over rows, so its H must be 1). */
static ImpastoStatus binary_operand (Stream *s, int v, int64_t r0, int64_t r1, float **data,
                                     int64_t dims[4], size_t *cap)
{
  const ImpValue *gv = &s->m->graph->values[v];
  *cap = 0;
  if (gv->is_const) {
    int rank = gv->t.rank;
    for (int d = 0; d < 4; d++)
      dims[d] = d - (4 - rank) >= 0 ? gv->t.dims[d - (4 - rank)] : 1;
    *data = gv->t.data;
    return IMPASTO_OK;
  }
  const SVal *sv = &s->v[v];
  dims[0] = 1, dims[1] = sv->c, dims[2] = r1 - r0, dims[3] = sv->w;
  *data = take (s, (size_t) sv->c * (size_t) (r1 - r0) * (size_t) sv->w, cap);
  return *data ? read_rows (s, v, r0, r1, *data) : IMPASTO_E_NOMEM;
}

static ImpastoStatus binary_band (Stream *s, const ImpStep *st, int64_t r0, int64_t r1, float *dst)
{
  float *a, *b;
  int64_t ad[4], bd[4];
  size_t ca, cb;
  ImpastoStatus rc = binary_operand (s, st->inputs[0], r0, r1, &a, ad, &ca);
  if (rc) {
    give (s, ca ? a : NULL, ca);
    return rc;
  }
  rc = binary_operand (s, st->inputs[1], r0, r1, &b, bd, &cb);
  if (!rc) {
    const SVal *out = &s->v[st->output];
    int64_t od[4] = { 1, out->c, r1 - r0, out->w };
    imp_binary (st->u.binary.op, 4, od, a, ad, b, bd, dst, s->pool);
  }
  give (s, ca ? a : NULL, ca);
  give (s, cb ? b : NULL, cb);
  return rc;
}

static ImpastoStatus concat_band (Stream *s, const ImpStep *st, int64_t r0, int64_t r1, float *dst)
{
  size_t plane = (size_t) (r1 - r0) * (size_t) s->v[st->output].w;
  for (int i = 0; i < st->n_inputs; i++) {
    ImpastoStatus rc = read_rows (s, st->inputs[i], r0, r1, dst);
    if (rc)
      return rc;
    dst += (size_t) s->v[st->inputs[i]].c * plane; /* [C_i, n, W] slices one after another */
  }
  return IMPASTO_OK;
}

static bool report (Stream *s, double amount)
{
  s->done += amount;
  const ImpastoOptions *o = s->o;
  return !o->progress || o->progress (IMP_MIN (s->done / s->total, 1.0), o->progress_data);
}

/* Produce value st->output band by band; into the output image when it is the model's output. */
static ImpastoStatus materialise (Stream *s, ImpStep *st)
{
  SVal *out = &s->v[st->output];
  bool final = st->output == s->m->output;
  ImpastoStatus rc = final ? IMPASTO_OK : store_create (s, st->output);
  int64_t rows = band_rows (s, out, step_row_bytes (s, st));
  size_t cap = 0;
  float *band = rc ? NULL : take (s, (size_t) out->c * (size_t) rows * (size_t) out->w, &cap);
  if (!rc && !band)
    rc = IMPASTO_E_NOMEM;
  double per_row = st->cost * (double) out->c * (double) out->w;
  for (int64_t r0 = 0; !rc && r0 < out->h; r0 += rows) {
    int64_t r1 = IMP_MIN (r0 + rows, out->h);
    if (st->kind == STEP_CONV)
      rc = conv_band (s, st, r0, r1, band);
    else if (st->kind == STEP_BINARY)
      rc = binary_band (s, st, r0, r1, band);
    else
      rc = concat_band (s, st, r0, r1, band);
    if (rc)
      break;
    if (final)
      rc = imp_image_compose_rows (s->m, s->in, band, r0, r1, out->w, s->o, s->out, s->pool,
                                   s->err);
    else
      rc = store_write (s, st->output, r0, r1 - r0, band);
    if (!rc && !report (s, per_row * (double) (r1 - r0)))
      rc = imp_fail (s->err, IMPASTO_E_CANCELLED, "cancelled");
  }
  give (s, band, cap);
  return rc;
}

/* Reads all rows of value v band by band and hands each band to fn, which may stop the walk. */
typedef ImpastoStatus (*BandSink) (Stream *s, const SVal *sv, int64_t r0, int64_t r1,
                                   float *band, void *ctx);

static ImpastoStatus for_each_band (Stream *s, int v, BandSink fn, void *ctx)
{
  SVal *sv = &s->v[v];
  int64_t rows = band_rows (s, sv, value_row_bytes (sv));
  size_t cap;
  float *band = take (s, (size_t) sv->c * (size_t) rows * (size_t) sv->w, &cap);
  if (!band)
    return IMPASTO_E_NOMEM;
  ImpastoStatus rc = IMPASTO_OK;
  for (int64_t r0 = 0; !rc && r0 < sv->h; r0 += rows) {
    int64_t r1 = IMP_MIN (r0 + rows, sv->h);
    rc = read_rows (s, v, r0, r1, band);
    if (!rc)
      rc = fn (s, sv, r0, r1, band, ctx);
  }
  give (s, band, cap);
  return rc;
}

static ImpastoStatus sum_band (Stream *s, const SVal *sv, int64_t r0, int64_t r1, float *band,
                               void *ctx)
{
  double **sums = ctx;
  imp_channel_sums (sv->c, (size_t) (r1 - r0) * (size_t) sv->w, band, sums[0], sums[1], s->pool);
  return IMPASTO_OK;
}

/* Sums over all rows of any value (for a norm whose input is a view). */
static ImpastoStatus channel_stats (Stream *s, int v, double *sum, double *sumsq)
{
  double *sums[2] = { sum, sumsq };
  return for_each_band (s, v, sum_band, sums);
}

static ImpastoStatus compose_band (Stream *s, const SVal *sv, int64_t r0, int64_t r1, float *band,
                                   void *ctx)
{
  return imp_image_compose_rows (s->m, s->in, band, r0, r1, sv->w, s->o, s->out, s->pool, s->err);
}

/* The model's output is a view (e.g. a final Tanh): read it band by band into the image. */
static ImpastoStatus drain_output (Stream *s)
{
  return for_each_band (s, s->m->output, compose_band, NULL);
}

/* ------------------------------------------------------------------------------------------ */

static bool step_is_view (const ImpStep *st)
{
  switch (st->kind) {
  case STEP_PAD:
  case STEP_INSTNORM:
  case STEP_BATCHNORM:
  case STEP_UNARY:
  case STEP_RESIZE:
  case STEP_IDENTITY:
    return true;
  default:
    return false;
  }
}

static bool streamable (const ImpastoModel *m)
{
  for (int i = 0; i < m->n_steps; i++) {
    const ImpStep *st = &m->steps[i];
    if (st->kind == STEP_CONVT || st->kind == STEP_GLOBAL_AVGPOOL)
      return false;
    if (st->kind == STEP_BINARY)
      for (int k = 0; k < 2; k++) {
        const ImpValue *gv = &m->graph->values[st->inputs[k]];
        if (gv->is_const && gv->t.rank >= 2 && gv->t.dims[gv->t.rank - 2] != 1)
          return false; /* a constant with rows of its own cannot be broadcast band by band */
      }
  }
  return true;
}

bool imp_stream_wanted (ImpastoModel *m, int64_t ph, int64_t pw, int tile_size)
{
  if (tile_size == 0 || !streamable (m))
    return false;
  if (tile_size > 0)
    return true;
  /* automatic: stream when the whole-image run would hold more than about 1 GiB */
  ImpTensor *shapes = imp_alloc ((size_t) m->graph->n_values, sizeof (ImpTensor), "shapes", NULL);
  if (!shapes)
    return true;
  int64_t dims[4] = { 1, 3, ph, pw };
  size_t largest = 0;
  ImpastoError err;
  if (imp_model_shapes (m, dims, shapes, &err) == IMPASTO_OK) {
    for (int i = 0; i < m->n_steps; i++)
      largest = IMP_MAX (largest, imp_tensor_count (&shapes[m->steps[i].output]));
  } else {
    largest = SIZE_MAX / 16;
  }
  imp_free (shapes);
  return largest > ((size_t) 1 << 30) / sizeof (float) / 3;
}

static void compute_last_uses (Stream *s)
{
  ImpastoModel *m = s->m;
  for (int v = 0; v < m->graph->n_values; v++)
    s->v[v].last_use = -1;
  for (int i = 0; i < m->n_steps; i++)
    for (int k = 0; k < m->steps[i].n_inputs; k++)
      s->v[m->steps[i].inputs[k]].last_use = i;
  s->v[m->output].last_use = m->n_steps; /* read by the final drain */
  for (int i = m->n_steps - 1; i >= 0; i--) { /* a view keeps its source alive */
    const ImpStep *st = &m->steps[i];
    if (step_is_view (st)) {
      SVal *src = &s->v[st->inputs[0]];
      src->last_use = IMP_MAX (src->last_use, s->v[st->output].last_use);
    }
  }
}

static ImpastoStatus run_step (Stream *s, ImpStep *st)
{
  switch (st->kind) {
  case STEP_INSTNORM: return make_instnorm (s, st);
  case STEP_BATCHNORM: {
    SVal *out = &s->v[st->output];
    out->mul = st->u.batchnorm.mul;
    out->add = st->u.batchnorm.add;
    out->relu = st->u.batchnorm.relu;
    view_of (s, st, SV_AFFINE);
    return IMPASTO_OK;
  }
  case STEP_UNARY: return make_unary (s, st);
  case STEP_RESIZE: return make_resize (s, st);
  case STEP_IDENTITY: view_of (s, st, SV_ALIAS); return IMPASTO_OK;
  case STEP_PAD: {
    SVal *out = &s->v[st->output];
    out->pt = st->u.pad.t;
    out->pl = st->u.pad.l;
    out->mode = st->u.pad.mode;
    out->value = st->u.pad.value;
    view_of (s, st, SV_PAD);
    return IMPASTO_OK;
  }
  default: return materialise (s, st);
  }
}

static void stream_cleanup (Stream *s)
{
  const ImpGraph *g = s->m->graph;
  for (int v = 0; s->v && v < g->n_values; v++) {
    SVal *sv = &s->v[v];
    store_free (s, sv);
    if (sv->own_affine) {
      imp_free (sv->mul);
      imp_free (sv->add);
    }
    imp_free (sv->row_map);
    imp_free (sv->col_map);
    imp_free (sv->col_map32);
  }
  imp_free (s->v);
  imp_free (s->shapes);
  imp_cache_clear (&s->cache);
  for (int i = 0; i < s->n_files; i++)
    if (s->fd[i] >= 0)
      close (s->fd[i]);
}

static size_t ram_budget (void)
{
  const char *env = getenv ("IMPASTO_STREAM_RAM_MB");
  if (env && *env)
    return (size_t) strtoull (env, NULL, 10) << 20;
  return (size_t) 384 << 20;
}

ImpastoStatus imp_stream_run (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                              const ImpastoOptions *o, int64_t ph, int64_t pw, ImpastoError *err)
{
  const ImpGraph *g = m->graph;
  Stream s = { .m = m, .in = in, .out = out, .o = o, .err = err, .pool = m->pool, .ph = ph,
               .pw = pw, .tile_rows = o->tile_size > 0 ? o->tile_size : 0,
               .fd = { -1, -1, -1, -1 }, .n_files = IMP_MAX (1, IMP_MIN (4, imp_pool_threads (m->pool))),
               .ram_left = ram_budget (), .map_reads = !getenv ("IMPASTO_SCRATCH_NO_MMAP"),
               .gather_resize = !getenv ("IMPASTO_NO_GATHER") };
  s.cache.limit = ((size_t) 96 << 20) / sizeof (float);
  bool profile = getenv ("IMPASTO_PROFILE") != NULL; /* per-step wall times on stderr */
  s.v = imp_alloc0 ((size_t) g->n_values, sizeof (SVal), "stream values", err);
  s.shapes = imp_alloc0 ((size_t) g->n_values, sizeof (ImpTensor), "shapes", err);
  int64_t dims[4] = { 1, 3, ph, pw };
  ImpastoStatus rc = !s.v || !s.shapes ? IMPASTO_E_NOMEM : imp_model_shapes (m, dims, s.shapes, err);
  const ImpTensor *res = rc ? NULL : &s.shapes[m->output];
  if (!rc && (res->rank != 4 || res->dims[1] != 3 || res->dims[2] < in->height || res->dims[3] < in->width))
    rc = imp_fail (err, IMPASTO_E_SHAPE, "the model's output is not an RGB image of the input's size");
  for (int v = 0; !rc && v < g->n_values; v++) {
    const ImpTensor *t = &s.shapes[v];
    if (t->rank == 4) { /* [1, C, H, W] */
      s.v[v].c = (int) t->dims[1];
      s.v[v].h = t->dims[2];
      s.v[v].w = t->dims[3];
    }
  }
  if (!rc) {
    s.v[m->input].kind = SV_INPUT;
    compute_last_uses (&s);
    for (int i = 0; i < m->n_steps; i++)
      s.total += m->steps[i].cost * (double) imp_tensor_count (&s.shapes[m->steps[i].output]) + 1;
  }
  for (int i = 0; !rc && i < m->n_steps; i++) {
    ImpStep *st = &m->steps[i];
    struct timespec t0, t1;
    if (profile)
      clock_gettime (CLOCK_MONOTONIC, &t0);
    rc = run_step (&s, st);
    if (profile) {
      clock_gettime (CLOCK_MONOTONIC, &t1);
      const SVal *ov = &s.v[st->output];
      fprintf (stderr, "impasto profile: band step %2d %-22s -> [%d, %lld, %lld] %s %8.2f ms\n", i,
               g->nodes[st->node].op_type, ov->c, (long long) ov->h, (long long) ov->w,
               ov->kind == SV_STORED ? (ov->ram ? "ram " : "file") : "view",
               (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6);
    }
    for (int v = 0; !rc && v < g->n_values; v++) /* drop what no later step reads */
      if (s.v[v].last_use == i)
        store_free (&s, &s.v[v]);
  }
  if (!rc && s.v[m->output].kind != SV_NONE)
    rc = drain_output (&s);
  stream_cleanup (&s);
  return rc;
}
