/* SPDX-License-Identifier: GPL-3.0-or-later */
/* png_write.c — see png_write.h.  PNG layout (ISO/IEC 15948): signature, IHDR, IDAT chunks holding
 * one zlib stream of the filtered rows (each row: filter byte + bytes), IEND; every chunk ends with
 * the CRC-32 of its type and data. */
#include "png_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define PNG_LEVEL 3                /* zlib level: 3 compresses within ~2 % of 6 at twice the speed */
#define PNG_IDAT_MAX (1u << 20)    /* bytes of zlib stream per IDAT chunk */
#define PNG_ROWS_PER_FEED 16       /* rows filtered per deflate call */

typedef struct {
  const uint8_t *pixels; /* the block's first row */
  const uint8_t *up;     /* the row above it, NULL at the top of the image */
  size_t rowstride, row_bytes;
  int bpp, rows;
  gboolean last;         /* the block that ends the stream */
  GByteArray *out;       /* raw deflate data */
  uLong adler;           /* Adler-32 of the block's filtered bytes */
  uLong length;          /* and their count */
  int zerr;              /* Z_OK or the zlib error */
} PngBlock;

static inline uint8_t paeth (uint8_t a, uint8_t b, uint8_t c)
{
  int p = (int) a + b - c, pa = abs (p - a), pb = abs (p - b), pc = abs (p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Filter row (above it: up, or nothing) with the Paeth predictor into dst: filter byte 4, then
 * the bytes. */
static void filter_row (const uint8_t *row, const uint8_t *up, size_t n, size_t bpp, uint8_t *dst)
{
  dst[0] = 4;
  dst++;
  for (size_t x = 0; x < n; x++) {
    uint8_t left = x >= bpp ? row[x - bpp] : 0, above = up ? up[x] : 0;
    uint8_t corner = up && x >= bpp ? up[x - bpp] : 0;
    dst[x] = (uint8_t) (row[x] - paeth (left, above, corner));
  }
}

/* Deflate avail_in bytes from zs->next_in into b->out with the given flush mode. */
static int deflate_into (PngBlock *b, z_stream *zs, int flush)
{
  uint8_t chunk[1 << 16];
  int rc;
  do {
    zs->next_out = chunk;
    zs->avail_out = sizeof chunk;
    rc = deflate (zs, flush);
    if (rc == Z_STREAM_ERROR)
      return rc;
    g_byte_array_append (b->out, chunk, (guint) (sizeof chunk - zs->avail_out));
  } while (zs->avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  return Z_OK;
}

static gpointer block_run (gpointer data)
{
  PngBlock *b = data;
  const size_t fbytes = 1 + b->row_bytes; /* a filtered row */
  uint8_t *buf = g_malloc (fbytes * PNG_ROWS_PER_FEED);
  z_stream zs;
  memset (&zs, 0, sizeof zs);
  b->zerr = deflateInit2 (&zs, PNG_LEVEL, Z_DEFLATED, -15 /* raw */, 8, Z_DEFAULT_STRATEGY);
  b->adler = adler32 (0, NULL, 0);
  for (int y = 0; b->zerr == Z_OK && y < b->rows; y += PNG_ROWS_PER_FEED) {
    int n = MIN (PNG_ROWS_PER_FEED, b->rows - y);
    for (int i = 0; i < n; i++) {
      const uint8_t *row = b->pixels + (size_t) (y + i) * b->rowstride;
      filter_row (row, y + i > 0 ? row - b->rowstride : b->up, b->row_bytes, (size_t) b->bpp,
                  buf + (size_t) i * fbytes);
    }
    b->adler = adler32 (b->adler, buf, (uInt) (fbytes * (size_t) n));
    b->length += (uLong) (fbytes * (size_t) n);
    zs.next_in = buf;
    zs.avail_in = (uInt) (fbytes * (size_t) n);
    b->zerr = deflate_into (b, &zs, Z_NO_FLUSH);
  }
  if (b->zerr == Z_OK) /* sync flush: the block ends byte-aligned and the next one may follow */
    b->zerr = deflate_into (b, &zs, b->last ? Z_FINISH : Z_SYNC_FLUSH);
  deflateEnd (&zs);
  g_free (buf);
  return NULL;
}

static gboolean write_all (int fd, const void *data, size_t len, GError **error)
{
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s", g_strerror (e));
      return FALSE;
    }
    p += n;
    len -= (size_t) n;
  }
  return TRUE;
}

static void put_be32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24), p[1] = (uint8_t) (v >> 16), p[2] = (uint8_t) (v >> 8), p[3] = (uint8_t) v;
}

static gboolean write_chunk (int fd, const char type[4], const uint8_t *data, uint32_t len,
                             GError **error)
{
  uint8_t head[8], tail[4];
  put_be32 (head, len);
  memcpy (head + 4, type, 4);
  uLong crc = crc32 (0, (const Bytef *) type, 4);
  if (len)
    crc = crc32 (crc, data, len);
  put_be32 (tail, (uint32_t) crc);
  return write_all (fd, head, 8, error) && (len == 0 || write_all (fd, data, len, error))
         && write_all (fd, tail, 4, error);
}

struct ImpPngWriter {
  int fd, width, height, channels, threads;
  size_t row_bytes;
  int rows_done;
  uint8_t *last_row;  /* the previous batch's last row (Paeth reads the row above) */
  uLong adler;        /* of all filtered bytes so far */
  uint8_t *idat;      /* the IDAT chunk being filled */
  size_t idat_len;
};

/* IDAT chunks of PNG_IDAT_MAX bytes from any sequence of appended pieces of the zlib stream. */
static gboolean idat_append (ImpPngWriter *w, const uint8_t *data, size_t len, GError **error)
{
  while (len > 0) {
    size_t k = MIN (len, PNG_IDAT_MAX - w->idat_len);
    memcpy (w->idat + w->idat_len, data, k);
    w->idat_len += k, data += k, len -= k;
    if (w->idat_len == PNG_IDAT_MAX) {
      if (!write_chunk (w->fd, "IDAT", w->idat, (uint32_t) w->idat_len, error))
        return FALSE;
      w->idat_len = 0;
    }
  }
  return TRUE;
}

ImpPngWriter *imp_png_writer_new (int fd, int width, int height, int channels, int threads,
                                  GError **error)
{
  g_return_val_if_fail (width > 0 && height > 0 && channels >= 1 && channels <= 4, NULL);
  /* PNG's own limit on either side (ISO/IEC 15948, 4.1.1 IHDR) */
  if (width > 0x7fffffff / 4 || height > 0x7fffffff) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC, "image of %d x %d too large for PNG",
                 width, height);
    return NULL;
  }
  ImpPngWriter *w = g_new0 (ImpPngWriter, 1);
  *w = (ImpPngWriter) { .fd = fd, .width = width, .height = height, .channels = channels,
                        .threads = CLAMP (threads, 1, IMP_PNG_MAX_THREADS),
                        .row_bytes = (size_t) width * (size_t) channels,
                        .adler = adler32 (0, NULL, 0) };
  w->last_row = g_malloc (w->row_bytes);
  w->idat = g_malloc (PNG_IDAT_MAX);

  static const uint8_t signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  static const uint8_t colour_type[5] = { 0, 0 /* gray */, 4 /* gray + alpha */, 2 /* RGB */,
                                          6 /* RGBA */ };
  uint8_t ihdr[13];
  put_be32 (ihdr, (uint32_t) width);
  put_be32 (ihdr + 4, (uint32_t) height);
  ihdr[8] = 8; /* bits per sample */
  ihdr[9] = colour_type[channels];
  ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
  /* the zlib stream's header: deflate, 32 KiB window, "fast" level */
  static const uint8_t zhead[2] = { 0x78, 0x5e };
  if (!write_all (fd, signature, 8, error) || !write_chunk (fd, "IHDR", ihdr, 13, error)
      || !idat_append (w, zhead, 2, error)) {
    imp_png_writer_free (w);
    return NULL;
  }
  return w;
}

gboolean imp_png_writer_rows (ImpPngWriter *w, const uint8_t *pixels, size_t rowstride, int n,
                              GError **error)
{
  g_return_val_if_fail (pixels && n > 0, FALSE);
  if (n > w->height - w->rows_done) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                 "PNG writer: more rows than the image has");
    return FALSE;
  }
  /* one block per thread, but no block under PNG_ROWS_PER_FEED rows */
  int n_blocks = CLAMP (n / PNG_ROWS_PER_FEED, 1, w->threads);
  /* each block's deflate output sits in a GByteArray (at most 4 GiB) */
  if ((double) n * (1.0 + (double) w->row_bytes) / n_blocks > (double) (G_MAXUINT / 2)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC,
                 "PNG writer: %d rows of %zu bytes at once", n, w->row_bytes);
    return FALSE;
  }
  PngBlock blocks[IMP_PNG_MAX_THREADS];
  GThread *workers[IMP_PNG_MAX_THREADS] = { NULL };
  for (int i = 0; i < n_blocks; i++) {
    int r0 = (int) ((int64_t) n * i / n_blocks), r1 = (int) ((int64_t) n * (i + 1) / n_blocks);
    const uint8_t *first = pixels + (size_t) r0 * rowstride;
    const uint8_t *up = r0 > 0 ? first - rowstride : w->rows_done > 0 ? w->last_row : NULL;
    blocks[i] = (PngBlock) { .pixels = first, .rowstride = rowstride, .row_bytes = w->row_bytes,
                             .bpp = w->channels, .rows = r1 - r0,
                             .up = up,
                             .last = w->rows_done + r1 == w->height, .out = g_byte_array_new (),
                             .zerr = Z_OK };
    if (i > 0) /* block 0 runs on this thread */
      workers[i] = g_thread_new ("png", block_run, &blocks[i]);
  }
  block_run (&blocks[0]);
  gboolean ok = TRUE;
  for (int i = 0; i < n_blocks; i++) {
    if (i > 0)
      g_thread_join (workers[i]);
    ok = ok && blocks[i].zerr == Z_OK;
  }
  if (!ok)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "PNG compression failed (zlib)");
  for (int i = 0; i < n_blocks; i++) {
    w->adler = adler32_combine (w->adler, blocks[i].adler, (z_off_t) blocks[i].length);
    ok = ok && idat_append (w, blocks[i].out->data, blocks[i].out->len, error);
    g_byte_array_unref (blocks[i].out);
  }
  memcpy (w->last_row, pixels + (size_t) (n - 1) * rowstride, w->row_bytes);
  w->rows_done += n;
  return ok;
}

gboolean imp_png_writer_finish (ImpPngWriter *w, GError **error)
{
  if (w->rows_done != w->height) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "PNG writer: %d of %d rows written",
                 w->rows_done, w->height);
    return FALSE;
  }
  uint8_t trailer[4];
  put_be32 (trailer, (uint32_t) w->adler);
  return idat_append (w, trailer, 4, error)
         && (w->idat_len == 0
             || write_chunk (w->fd, "IDAT", w->idat, (uint32_t) w->idat_len, error))
         && write_chunk (w->fd, "IEND", NULL, 0, error);
}

void imp_png_writer_free (ImpPngWriter *w)
{
  if (!w)
    return;
  g_free (w->last_row);
  g_free (w->idat);
  g_free (w);
}

gboolean imp_png_write (int fd, const uint8_t *pixels, int width, int height, size_t rowstride,
                        int channels, int threads, GError **error)
{
  ImpPngWriter *w = imp_png_writer_new (fd, width, height, channels, threads, error);
  gboolean ok = w && imp_png_writer_rows (w, pixels, rowstride, height, error)
                && imp_png_writer_finish (w, error);
  imp_png_writer_free (w);
  return ok;
}
