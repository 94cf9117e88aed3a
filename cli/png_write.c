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
  const uint8_t *pixels;
  int width, rowstride, channels;
  int row0, row1;     /* rows of this block */
  gboolean last;      /* the block that ends the stream */
  GByteArray *out;    /* raw deflate data */
  uLong adler;        /* Adler-32 of the block's filtered bytes */
  uLong length;       /* and their count */
  int zerr;           /* Z_OK or the zlib error */
} PngBlock;

static inline uint8_t paeth (uint8_t a, uint8_t b, uint8_t c)
{
  int p = (int) a + b - c, pa = abs (p - a), pb = abs (p - b), pc = abs (p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Filter row y with the Paeth predictor into dst (filter byte 4, then the bytes). */
static void filter_row (const PngBlock *b, int y, uint8_t *dst)
{
  const size_t n = (size_t) b->width * (size_t) b->channels, bpp = (size_t) b->channels;
  const uint8_t *row = b->pixels + (size_t) y * (size_t) b->rowstride;
  const uint8_t *up = y > 0 ? row - b->rowstride : NULL;
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
  const size_t row_bytes = 1 + (size_t) b->width * (size_t) b->channels;
  uint8_t *buf = g_malloc (row_bytes * PNG_ROWS_PER_FEED);
  z_stream zs;
  memset (&zs, 0, sizeof zs);
  b->zerr = deflateInit2 (&zs, PNG_LEVEL, Z_DEFLATED, -15 /* raw */, 8, Z_DEFAULT_STRATEGY);
  b->adler = adler32 (0, NULL, 0);
  for (int y = b->row0; b->zerr == Z_OK && y < b->row1; y += PNG_ROWS_PER_FEED) {
    int n = MIN (PNG_ROWS_PER_FEED, b->row1 - y);
    for (int i = 0; i < n; i++)
      filter_row (b, y + i, buf + (size_t) i * row_bytes);
    b->adler = adler32 (b->adler, buf, (uInt) (row_bytes * (size_t) n));
    b->length += (uLong) (row_bytes * (size_t) n);
    zs.next_in = buf;
    zs.avail_in = (uInt) (row_bytes * (size_t) n);
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

/* IDAT chunks of PNG_IDAT_MAX bytes from any sequence of appended pieces of the zlib stream. */
typedef struct {
  int fd;
  uint8_t *buf;
  size_t len;
} IdatWriter;

static gboolean idat_append (IdatWriter *w, const uint8_t *data, size_t len, GError **error)
{
  while (len > 0) {
    size_t k = MIN (len, PNG_IDAT_MAX - w->len);
    memcpy (w->buf + w->len, data, k);
    w->len += k, data += k, len -= k;
    if (w->len == PNG_IDAT_MAX) {
      if (!write_chunk (w->fd, "IDAT", w->buf, (uint32_t) w->len, error))
        return FALSE;
      w->len = 0;
    }
  }
  return TRUE;
}

gboolean impasto_png_write (int fd, const uint8_t *pixels, int width, int height, int rowstride,
                            int channels, int threads, GError **error)
{
  g_return_val_if_fail (pixels && width > 0 && height > 0 && (channels == 3 || channels == 4),
                        FALSE);
  int n_blocks = MIN (CLAMP (threads, 1, 16), height);
  /* each block's deflate output sits in a GByteArray (at most 4 GiB) */
  if ((double) height * (1.0 + (double) width * channels) / n_blocks > (double) (G_MAXUINT / 2)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOSPC, "image of %d x %d too large for PNG",
                 width, height);
    return FALSE;
  }
  PngBlock blocks[16];
  GThread *workers[16] = { NULL };
  for (int i = 0; i < n_blocks; i++) {
    blocks[i] = (PngBlock) { pixels, width, rowstride, channels,
                             (int) ((int64_t) height * i / n_blocks),
                             (int) ((int64_t) height * (i + 1) / n_blocks), i == n_blocks - 1,
                             g_byte_array_new (), 0, 0, Z_OK };
    if (i > 0) /* block 0 runs on this thread */
      workers[i] = g_thread_new ("png", block_run, &blocks[i]);
  }
  block_run (&blocks[0]);
  uLong adler = blocks[0].adler;
  gboolean ok = blocks[0].zerr == Z_OK;
  for (int i = 1; i < n_blocks; i++) {
    g_thread_join (workers[i]);
    ok = ok && blocks[i].zerr == Z_OK;
    adler = adler32_combine (adler, blocks[i].adler, (z_off_t) blocks[i].length);
  }
  if (!ok)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "PNG compression failed (zlib)");

  static const uint8_t signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  uint8_t ihdr[13];
  put_be32 (ihdr, (uint32_t) width);
  put_be32 (ihdr + 4, (uint32_t) height);
  ihdr[8] = 8;                        /* bits per sample */
  ihdr[9] = channels == 4 ? 6 : 2;    /* RGBA : RGB */
  ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
  ok = ok && write_all (fd, signature, 8, error) && write_chunk (fd, "IHDR", ihdr, 13, error);

  /* one zlib stream: header (deflate, 32 KiB window, "fast" level), the blocks, Adler-32 */
  IdatWriter w = { fd, g_malloc (PNG_IDAT_MAX), 0 };
  static const uint8_t zhead[2] = { 0x78, 0x5e };
  uint8_t trailer[4];
  put_be32 (trailer, (uint32_t) adler);
  ok = ok && idat_append (&w, zhead, 2, error);
  for (int i = 0; i < n_blocks; i++) {
    ok = ok && idat_append (&w, blocks[i].out->data, blocks[i].out->len, error);
    g_byte_array_unref (blocks[i].out);
  }
  ok = ok && idat_append (&w, trailer, 4, error);
  ok = ok && (w.len == 0 || write_chunk (fd, "IDAT", w.buf, (uint32_t) w.len, error));
  ok = ok && write_chunk (fd, "IEND", NULL, 0, error);
  g_free (w.buf);
  return ok;
}
