/* SPDX-License-Identifier: GPL-3.0-or-later */
/* png_write.h — write an 8-bit PNG row by row as the rows are produced, compressing each batch of
 * rows on several threads.
 *
 * gdk-pixbuf's PNG saver runs on one core and needs the whole image in memory (a 144-megapixel
 * result is 432 MB).  Here every batch of rows handed over is split into one block per thread;
 * each thread filters (Paeth) and deflates (zlib) its block into a raw deflate stream, and the
 * blocks are appended to the file as IDAT chunks right away.  The blocks are joined the way pigz
 * joins them (every block but the image's last ends with a sync flush, so it ends on a byte
 * boundary with no final-block bit) into one zlib stream, whose Adler-32 is combined from the
 * blocks' (adler32_combine).  Any PNG reader sees an ordinary file. */
#ifndef IMPASTO_PNG_WRITE_H
#define IMPASTO_PNG_WRITE_H

#include <glib.h>
#include <stdint.h>

typedef struct ImpPngWriter ImpPngWriter;

/* More threads than this compress no faster. */
#define IMP_PNG_MAX_THREADS 16

/* Starts a PNG of width x height on fd (writes the signature and header).  channels: 1 gray,
 * 2 gray + alpha, 3 RGB, 4 RGBA.  threads >= 1 (at most IMP_PNG_MAX_THREADS are used).  NULL
 * with error set on failure. */
ImpPngWriter *imp_png_writer_new (int fd, int width, int height, int channels, int threads,
                                  GError **error);

/* Appends the next n rows (width * channels bytes each, rowstride apart), compressed and written
 * before it returns.  FALSE with error set on failure. */
gboolean imp_png_writer_rows (ImpPngWriter *w, const uint8_t *pixels, size_t rowstride, int n,
                              GError **error);

/* Ends the file once all rows are written.  FALSE with error set on failure (also when rows are
 * missing). */
gboolean imp_png_writer_finish (ImpPngWriter *w, GError **error);

void imp_png_writer_free (ImpPngWriter *w);

/* A whole image at once (new + rows + finish).  FALSE with error set on failure. */
gboolean imp_png_write (int fd, const uint8_t *pixels, int width, int height, size_t rowstride,
                        int channels, int threads, GError **error);

#endif
