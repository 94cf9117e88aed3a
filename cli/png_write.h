/* SPDX-License-Identifier: GPL-3.0-or-later */
/* png_write.h — write an 8-bit RGB / RGBA image as PNG, compressing row blocks on several threads.
 *
 * gdk-pixbuf's PNG saver runs on one core and took 3 s of a 30 s 24-megapixel run.  Here each
 * thread filters (Paeth) and deflates (zlib) its own block of rows into a raw deflate stream; the
 * blocks are joined the way pigz joins them (every block but the last ends with a sync flush, so
 * it ends on a byte boundary with no final-block bit) into one zlib stream, whose Adler-32 is
 * combined from the blocks' (adler32_combine).  Any PNG reader sees an ordinary file. */
#ifndef IMPASTO_PNG_WRITE_H
#define IMPASTO_PNG_WRITE_H

#include <glib.h>
#include <stdint.h>

/* pixels: height rows of width * channels bytes (channels 3 = RGB, 4 = RGBA), rowstride apart.
 * Writes the whole file to fd.  threads >= 1.  FALSE with error set on failure. */
gboolean impasto_png_write (int fd, const uint8_t *pixels, int width, int height, int rowstride,
                            int channels, int threads, GError **error);

#endif
