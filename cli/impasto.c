/* impasto.c — the `impasto` command: stylise an image file with an ONNX style model.
 *
 *   impasto stylize MODEL INPUT OUTPUT [--strength S] [--preserve-colors] [--threads N]
 *                                      [--tile-size PX] [--max-pixels N]
 *                                      [--region X,Y,W,H] [--stats-pixels N]
 *   impasto stylize MODEL INPUT OUTPUT --style STYLE (--style-predictor P | --style-encoder E)
 *                                      [--style2 B --mix W] [--style-scale X]
 *   impasto stylize MODEL --style STYLE ... -o OUTDIR INPUT...
 *   impasto info MODEL
 *   impasto models list
 *
 * MODEL is a file or an installed model's name (models_cmd.c).
 * Uses only the engine's public API (impasto.h).  Images are read with gdk-pixbuf (after a cheap
 * check of the file's claimed size); PNG results are written by png_write.c from rows the engine
 * hands over as it finishes them (ImpastoOptions.rows), JPEG results by gdk-pixbuf.
 * On failure the command prints exactly one line starting with "impasto: " on stderr, exits with
 * a nonzero status and leaves no output file behind (the result is written to a temporary file in
 * the output's folder and renamed into place only when complete).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "impasto.h"
#include "models.h"
#include "models_cmd.h"
#include "png_write.h"

#include <errno.h>
#include <fcntl.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
  EXIT_RUNTIME = 1,     /* the run failed: model, image, engine or output error */
  EXIT_USAGE = 2,       /* bad command line */
  EXIT_INTERRUPTED = 130,
};

/* ---- error reporting ------------------------------------------------------------------------ */

/* True once a progress bar is on the terminal line: an error must start on a fresh line. */
static bool progress_line_open;

/* Print "impasto: MESSAGE" as exactly one line on stderr (newlines in MESSAGE become spaces). */
__attribute__ ((format (printf, 1, 2)))
static void report (const char *fmt, ...)
{
  char line[2048];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  for (char *p = line; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  if (progress_line_open) {
    fputc ('\n', stderr);
    progress_line_open = false;
  }
  fprintf (stderr, "impasto: %s\n", line);
}

/* Report an engine error; prefix it with the file it is about unless the message names it. */
static void report_engine (const char *path, const ImpastoError *err)
{
  const char *msg = err->message[0] ? err->message : "unknown error";
  if (path && !strstr (msg, path))
    report ("%s: %s", path, msg);
  else
    report ("%s", msg);
}

/* ---- temporary output file and signals ------------------------------------------------------ */

/* Path of the temporary output file while it exists, for the signal handler to remove.  Written
 * only before the handlers are armed for it (temp_path_set) and cleared before unlinking. */
static char temp_path[4096];
static volatile sig_atomic_t temp_path_set;

/* The thread that owns temp_path.  A process-directed signal may land on any thread that does
 * not block it (OpenBLAS starts its workers before main), even while the main thread has it
 * blocked to update temp_path; such a thread hands the signal on to the main thread, which takes
 * it once temp_path is consistent again. */
static pthread_t main_thread;

static void on_fatal_signal (int sig)
{
  static const char msg[] = "\nimpasto: interrupted\n";
  if (!pthread_equal (pthread_self (), main_thread)) {
    pthread_kill (main_thread, sig); /* async-signal-safe */
    return;
  }
  if (temp_path_set)
    unlink (temp_path); /* async-signal-safe */
  ssize_t ignored = write (STDERR_FILENO, msg, sizeof msg - 1);
  (void) ignored;
  /* Die by the same signal so the parent shell sees what happened. */
  signal (sig, SIG_DFL);
  sigset_t set;
  sigemptyset (&set);
  sigaddset (&set, sig);
  sigprocmask (SIG_UNBLOCK, &set, NULL); /* the handler runs with sig blocked */
  raise (sig);
  _exit (EXIT_INTERRUPTED);
}

static void install_signal_handlers (void)
{
  struct sigaction sa;
  main_thread = pthread_self ();
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
}

/* Block the fatal signals while temp_path is being changed, so the handler never sees a half-
 * written path. */
static void block_fatal_signals (bool block, sigset_t *saved)
{
  if (block) {
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &set, saved);
  } else {
    pthread_sigmask (SIG_SETMASK, saved, NULL);
  }
}

/* Create an empty temporary file next to output (same folder, so rename() is atomic).
 * Returns an open fd, or -1 after reporting the error. */
static int temp_file_create (const char *output)
{
  const char *slash = strrchr (output, '/');
  int dir_len = slash ? (int) (slash - output) + 1 : 0;
  const char *base = slash ? slash + 1 : output;
  sigset_t saved;
  block_fatal_signals (true, &saved);
  int n = snprintf (temp_path, sizeof temp_path, "%.*s.%s.impasto-XXXXXX", dir_len, output, base);
  int fd = -1;
  if (n < 0 || (size_t) n >= sizeof temp_path)
    errno = ENAMETOOLONG;
  else
    fd = mkstemp (temp_path);
  int saved_errno = errno;
  if (fd >= 0)
    temp_path_set = 1;
  block_fatal_signals (false, &saved);
  if (fd < 0)
    report ("cannot write '%s': %s", output, strerror (saved_errno));
  return fd;
}

/* Remove the temporary file (after a failure). */
static void temp_file_discard (void)
{
  sigset_t saved;
  block_fatal_signals (true, &saved);
  if (temp_path_set) {
    temp_path_set = 0;
    unlink (temp_path);
  }
  block_fatal_signals (false, &saved);
}

/* Give the temporary file the permissions a freshly created file would get (mkstemp makes it
 * 0600), then rename it to output.  Returns false after reporting the error. */
static bool temp_file_commit (int fd, const char *output)
{
  mode_t mask = umask (0);
  umask (mask);
  if (fchmod (fd, 0666 & ~mask) != 0 || fsync (fd) != 0) {
    report ("cannot write '%s': %s", output, strerror (errno));
    return false;
  }
  sigset_t saved;
  block_fatal_signals (true, &saved);
  bool ok = rename (temp_path, output) == 0;
  int saved_errno = errno;
  if (ok)
    temp_path_set = 0;
  block_fatal_signals (false, &saved);
  if (!ok)
    report ("cannot write '%s': %s", output, strerror (saved_errno));
  return ok;
}

/* ---- progress bar --------------------------------------------------------------------------- */

typedef struct {
  pthread_mutex_t lock; /* the engine may report from worker threads */
  bool enabled;         /* stderr is a terminal */
  struct timespec start;
  int shown_percent;    /* last percentage drawn, -1 when nothing drawn yet */
} Progress;

#define PROGRESS_DELAY_S 0.5
#define PROGRESS_WIDTH 30

static double seconds_since (const struct timespec *start)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) (now.tv_sec - start->tv_sec) + 1e-9 * (double) (now.tv_nsec - start->tv_nsec);
}

static void progress_draw (int percent)
{
  char bar[PROGRESS_WIDTH + 1];
  int filled = percent * PROGRESS_WIDTH / 100;
  for (int i = 0; i < PROGRESS_WIDTH; i++)
    bar[i] = i < filled ? '#' : ' ';
  bar[PROGRESS_WIDTH] = '\0';
  fprintf (stderr, "\r[%s] %3d%%", bar, percent);
  fflush (stderr);
  progress_line_open = true;
}

/* ImpastoProgressFunc: draws the bar once the run has taken longer than PROGRESS_DELAY_S. */
static bool progress_cb (double fraction, void *user_data)
{
  Progress *p = user_data;
  if (!p->enabled)
    return true;
  if (!(fraction >= 0))
    fraction = 0;
  if (fraction > 1)
    fraction = 1;
  int percent = (int) (fraction * 100.0);
  pthread_mutex_lock (&p->lock);
  if (percent != p->shown_percent && seconds_since (&p->start) >= PROGRESS_DELAY_S) {
    progress_draw (percent);
    p->shown_percent = percent;
  }
  pthread_mutex_unlock (&p->lock);
  return true;
}

static void progress_finish (Progress *p, bool success)
{
  if (p->shown_percent >= 0 && progress_line_open) {
    if (success && p->shown_percent != 100)
      progress_draw (100);
    fputc ('\n', stderr);
    progress_line_open = false;
  }
}

/* ---- images ---------------------------------------------------------------------------------- */

/* Refuse before decoding what cannot be a real image: more than max_pixels pixels, or a PNG whose
 * header claims far more pixels than its compressed data can hold (a truncated or hostile file
 * would otherwise cost the whole image's memory and decoding time before failing).  Deflate
 * expands at most 1032:1 (a 258-byte match in 2 bits), so a PNG needs at least 1/1032 of its raw
 * pixel bytes as IDAT data.  false after reporting. */
#define DEFLATE_MAX_RATIO 1032.0

static uint32_t be32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static bool png_check_data (const char *path, FILE *f, int64_t max_pixels)
{
  struct stat st;
  uint8_t head[8 + 8 + 13];
  if (fstat (fileno (f), &st) != 0 || fseeko (f, 0, SEEK_SET) != 0
      || fread (head, 1, sizeof head, f) != sizeof head
      || memcmp (head + 12, "IHDR", 4) != 0)
    return true; /* gdk-pixbuf names the problem */
  uint32_t w = be32 (head + 16), h = be32 (head + 20);
  static const int samples[7] = { 1, 0, 3, 1, 2, 0, 4 }; /* per colour type; 0: invalid */
  int depth = head[24], ctype = head[25];
  int bits = ctype <= 6 ? samples[ctype] * depth : 0;
  double pixels = (double) w * (double) h;
  /* IDAT bytes present in the file: chunk lengths, cut at the end of a truncated file */
  double idat = 0;
  off_t pos = 8 + 8 + 13 + 4;
  uint8_t chunk[8];
  while (pos + 8 <= st.st_size && fseeko (f, pos, SEEK_SET) == 0 && fread (chunk, 1, 8, f) == 8) {
    uint32_t len = be32 (chunk);
    if (memcmp (chunk + 4, "IDAT", 4) == 0)
      idat += (double) MIN ((off_t) len, st.st_size - pos - 8);
    if (memcmp (chunk + 4, "IEND", 4) == 0)
      break;
    pos += 12 + (off_t) len;
  }
  double raw = pixels * bits / 8.0;
  if (raw > DEFLATE_MAX_RATIO * (idat + 64)) {
    report ("cannot read image '%s': its header claims %u x %u pixels, but it holds only %.0f "
            "bytes of compressed pixel data (truncated or corrupt file)", path, w, h, idat);
    return false;
  }
  if (pixels > (double) max_pixels) {
    report ("cannot read image '%s': %u x %u pixels is more than the limit of %lld "
            "(--max-pixels)", path, w, h, (long long) max_pixels);
    return false;
  }
  return true;
}

/* The same for a Huffman-coded JPEG: every 8x8 block of every component costs at least one bit
 * (its DC code), so the file must hold at least one byte per 8 blocks.  (Arithmetic coding has
 * no such floor and is not checked.)  Reads markers up to the frame header only. */
static bool jpeg_check_data (const char *path, FILE *f)
{
  struct stat st;
  if (fstat (fileno (f), &st) != 0 || fseeko (f, 2, SEEK_SET) != 0)
    return true;
  for (;;) {
    int c = getc (f), m;
    if (c != 0xff)
      return true; /* not a marker where one belongs: gdk-pixbuf names the problem */
    while ((m = getc (f)) == 0xff) /* fill bytes */
      ;
    if (m == EOF || m == 0xda /* start of scan: no frame header before it */)
      return true;
    if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) /* markers without a length */
      continue;
    uint8_t seg[2 + 6];
    if (fread (seg, 1, 2, f) != 2)
      return true;
    unsigned len = (unsigned) seg[0] << 8 | seg[1];
    bool sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
    if (!sof) {
      if (len < 2 || fseeko (f, (off_t) len - 2, SEEK_CUR) != 0)
        return true;
      continue;
    }
    if (m >= 0xc9 || fread (seg + 2, 1, 6, f) != 6)
      return true; /* arithmetic coding (SOF9..SOF15) or a cut header */
    unsigned h = (unsigned) seg[3] << 8 | seg[4], w = (unsigned) seg[5] << 8 | seg[6];
    int n = seg[7], hs[4], vs[4], hmax = 1, vmax = 1;
    if (n < 1 || n > 4 || h == 0 || w == 0)
      return true;
    for (int i = 0; i < n; i++) {
      uint8_t comp[3];
      if (fread (comp, 1, 3, f) != 3)
        return true;
      hs[i] = MAX (comp[1] >> 4, 1), vs[i] = MAX (comp[1] & 15, 1);
      hmax = MAX (hmax, hs[i]), vmax = MAX (vmax, vs[i]);
    }
    double blocks = 0; /* a component's size is the image's scaled by its sampling factors */
    for (int i = 0; i < n; i++)
      blocks += ceil (ceil ((double) w * hs[i] / hmax) / 8)
                * ceil (ceil ((double) h * vs[i] / vmax) / 8);
    if ((double) st.st_size < blocks / 8) {
      report ("cannot read image '%s': its header claims %u x %u pixels, but the file holds only "
              "%lld bytes (truncated or corrupt file)", path, w, h, (long long) st.st_size);
      return false;
    }
    return true;
  }
}

static bool image_check_header (const char *path, int64_t max_pixels)
{
  static const uint8_t png_signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  FILE *f = fopen (path, "rb");
  if (!f)
    return true; /* gdk-pixbuf reports it */
  uint8_t sig[8];
  size_t got = fread (sig, 1, 8, f);
  bool ok = true, png = got == 8 && memcmp (sig, png_signature, 8) == 0;
  if (png)
    ok = png_check_data (path, f, max_pixels);
  else if (got >= 2 && sig[0] == 0xff && sig[1] == 0xd8)
    ok = jpeg_check_data (path, f);
  fclose (f);
  int w, h;
  if (ok && !png && gdk_pixbuf_get_file_info (path, &w, &h) && (double) w * h > (double) max_pixels) {
    report ("cannot read image '%s': %d x %d pixels is more than the limit of %lld "
            "(--max-pixels)", path, w, h, (long long) max_pixels);
    ok = false;
  }
  return ok;
}

/* False after reporting when path is not a regular file: gdk-pixbuf would block opening a FIFO
 * (the open waits for a writer) or read a device without end.  Opened O_NONBLOCK to tell; a path
 * that cannot be opened is left to gdk-pixbuf to report. */
static bool image_is_regular (const char *path)
{
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return true;
  struct stat st;
  bool regular = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);
  close (fd);
  if (!regular)
    report ("cannot read image '%s': not a regular file", path);
  return regular;
}

/* Load INPUT as 8-bit RGB or RGBA, upright (EXIF orientation applied), after image_check_header
 * when max_pixels > 0.  NULL after reporting. */
static GdkPixbuf *image_load (const char *path, int64_t max_pixels)
{
  if (!image_is_regular (path) || (max_pixels > 0 && !image_check_header (path, max_pixels)))
    return NULL;
  GError *gerr = NULL;
  GdkPixbuf *raw = gdk_pixbuf_new_from_file (path, &gerr);
  if (!raw) {
    report ("cannot read image '%s': %s", path, gerr ? gerr->message : "unknown error");
    g_clear_error (&gerr);
    return NULL;
  }
  GdkPixbuf *pixbuf = gdk_pixbuf_apply_embedded_orientation (raw);
  g_object_unref (raw);
  if (!pixbuf) {
    report ("cannot read image '%s': out of memory", path);
    return NULL;
  }
  int nch = gdk_pixbuf_get_n_channels (pixbuf);
  if (gdk_pixbuf_get_colorspace (pixbuf) != GDK_COLORSPACE_RGB
      || gdk_pixbuf_get_bits_per_sample (pixbuf) != 8
      || nch != (gdk_pixbuf_get_has_alpha (pixbuf) ? 4 : 3)) {
    report ("cannot read image '%s': unsupported pixel layout", path);
    g_object_unref (pixbuf);
    return NULL;
  }
  return pixbuf;
}

/* True when every pixel has R == G == B (gdk-pixbuf loads gray files as RGB). */
static bool pixbuf_is_gray (const GdkPixbuf *pixbuf)
{
  int w = gdk_pixbuf_get_width (pixbuf), h = gdk_pixbuf_get_height (pixbuf);
  int nch = gdk_pixbuf_get_n_channels (pixbuf);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
  for (int y = 0; y < h; y++) {
    const guint8 *px = pixels + (size_t) y * (size_t) rowstride;
    for (int x = 0; x < w; x++, px += nch)
      if (px[0] != px[1] || px[0] != px[2])
        return false;
  }
  return true;
}

/* Allocate an 8-bit image of w x h x channels; false after reporting if too large. */
static bool image_alloc (ImpastoImage *img, int w, int h, int channels)
{
  size_t count;
  *img = (ImpastoImage) { .width = w, .height = h, .channels = channels,
                          .stride = (size_t) w * (size_t) channels, .type = IMPASTO_PIXEL_U8 };
  if (__builtin_mul_overflow (img->stride, (size_t) h, &count)
      || !(img->data_u8 = malloc (count ? count : 1))) {
    report ("image of %dx%d is too large for the available memory", w, h);
    return false;
  }
  return true;
}

/* The engine reads 8-bit pixels directly: an RGB(A) pixbuf is used as it is, with no copy (a
 * 24-megapixel photo stays 72 MB).  Gray input (R = G = B) becomes a 1- or 2-channel copy. */
static bool pixbuf_to_image (const GdkPixbuf *pixbuf, bool gray, ImpastoImage *img, bool *owned)
{
  int w = gdk_pixbuf_get_width (pixbuf), h = gdk_pixbuf_get_height (pixbuf);
  int nch = gdk_pixbuf_get_n_channels (pixbuf);
  bool alpha = gdk_pixbuf_get_has_alpha (pixbuf);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
  *owned = gray;
  if (!gray) {
    *img = (ImpastoImage) { .width = w, .height = h, .channels = nch, .stride = (size_t) rowstride,
                            .type = IMPASTO_PIXEL_U8, .data_u8 = (uint8_t *) pixels };
    return true;
  }
  if (!image_alloc (img, w, h, alpha ? 2 : 1))
    return false;
  for (int y = 0; y < h; y++) {
    const guint8 *src = pixels + (size_t) y * (size_t) rowstride;
    uint8_t *dst = img->data_u8 + (size_t) y * img->stride;
    for (int x = 0; x < w; x++, src += nch, dst += img->channels) {
      dst[0] = src[0];
      if (alpha)
        dst[1] = src[3];
    }
  }
  return true;
}

typedef enum { FORMAT_NONE, FORMAT_PNG, FORMAT_JPEG } OutputFormat;

static OutputFormat format_from_name (const char *path)
{
  const char *slash = strrchr (path, '/');
  const char *dot = strrchr (slash ? slash : path, '.');
  if (!dot)
    return FORMAT_NONE;
  if (strcasecmp (dot, ".png") == 0)
    return FORMAT_PNG;
  if (strcasecmp (dot, ".jpg") == 0 || strcasecmp (dot, ".jpeg") == 0
      || strcasecmp (dot, ".jpe") == 0)
    return FORMAT_JPEG;
  return FORMAT_NONE;
}

/* Where the result's rows go as the engine finishes them: straight into the PNG file, or (JPEG,
 * which gdk-pixbuf encodes only whole) into an RGB pixbuf. */
typedef struct {
  ImpPngWriter *png;
  GdkPixbuf *jpeg;
  GError *error; /* why the sink stopped the run */
} OutputSink;

/* ImpastoRowsFunc: rows in the engine's layout (the input's channels).  JPEG has no alpha and
 * gdk-pixbuf saves no gray: gray expands to R = G = B, alpha is dropped. */
static bool sink_rows (const ImpastoImage *rows, int y, void *data)
{
  OutputSink *sink = data;
  if (sink->png)
    return imp_png_writer_rows (sink->png, rows->data_u8, rows->stride, rows->height, &sink->error);
  int stride = gdk_pixbuf_get_rowstride (sink->jpeg);
  guint8 *pixels = gdk_pixbuf_get_pixels (sink->jpeg);
  bool gray = rows->channels <= 2;
  for (int r = 0; r < rows->height; r++) {
    const uint8_t *src = rows->data_u8 + (size_t) r * rows->stride;
    guint8 *dst = pixels + (size_t) (y + r) * (size_t) stride;
    for (int x = 0; x < rows->width; x++, src += rows->channels, dst += 3)
      for (int c = 0; c < 3; c++)
        dst[c] = src[gray ? 0 : c];
  }
  return true;
}

/* gdk_pixbuf_save_to_callback sink: write everything to the fd in *data. */
static gboolean write_to_fd (const gchar *buf, gsize count, GError **error, gpointer data)
{
  int fd = *(int *) data;
  while (count > 0) {
    ssize_t n = write (fd, buf, count);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s",
                   n < 0 ? g_strerror (errno) : "short write");
      return FALSE;
    }
    buf += n;
    count -= (gsize) n;
  }
  return TRUE;
}

/* Bytes of result rows per PNG thread that the engine hands over at a time: each thread
 * compresses a block of about this size (a fresh deflate stream, so not much smaller), and the
 * batch stays small beside the image. */
#define OUTPUT_BLOCK_BYTES ((size_t) 1 << 20)

/* The sink for a w x h result in format and the engine's row buffer (the whole result when
 * whole or IMPASTO_WHOLE_OUTPUT is set: it is then composed whole and written at the end, for
 * comparison).  false after reporting. */
static bool output_open (const ImpastoImage *in, int w, int h, bool whole, OutputFormat format,
                         int fd, const char *output, int png_threads, OutputSink *sink,
                         ImpastoImage *buf)
{
  size_t row_bytes = (size_t) w * (size_t) in->channels;
  png_threads = CLAMP (png_threads, 1, IMP_PNG_MAX_THREADS);
  size_t batch = (size_t) png_threads * MAX (OUTPUT_BLOCK_BYTES / row_bytes, 16);
  int rows = (int) MIN ((size_t) h, batch);
  if (whole || getenv ("IMPASTO_WHOLE_OUTPUT"))
    rows = h;
  if (format == FORMAT_JPEG) {
    if (!(sink->jpeg = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, w, h))) {
      report ("image of %dx%d is too large for the available memory", w, h);
      return false;
    }
  } else if (!(sink->png = imp_png_writer_new (fd, w, h, in->channels, png_threads,
                                                &sink->error))) {
    report ("cannot write '%s': %s", output, sink->error->message);
    return false;
  }
  return image_alloc (buf, w, rows, in->channels);
}

/* Complete the file: the rows of a whole-image buffer, then the PNG trailer or the JPEG. */
static bool output_close (OutputSink *sink, const ImpastoImage *buf, bool whole, int fd,
                          const char *output)
{
  bool ok = !whole || sink_rows (buf, 0, sink);
  if (ok && sink->png)
    ok = imp_png_writer_finish (sink->png, &sink->error);
  else if (ok)
    ok = gdk_pixbuf_save_to_callback (sink->jpeg, write_to_fd, &fd, "jpeg", &sink->error,
                                      "quality", "95", NULL);
  if (!ok)
    report ("cannot write '%s': %s", output, sink->error ? sink->error->message : "unknown error");
  return ok;
}

static void output_clear (OutputSink *sink)
{
  imp_png_writer_free (sink->png);
  if (sink->jpeg)
    g_object_unref (sink->jpeg);
  g_clear_error (&sink->error);
}

/* ---- command line --------------------------------------------------------------------------- */

static void print_usage (FILE *f)
{
  fputs ("Usage:\n"
         "  impasto stylize MODEL INPUT OUTPUT [OPTIONS]   stylise INPUT into OUTPUT (.png, .jpg)\n"
         "  impasto info MODEL                             describe an ONNX style model\n"
         "  impasto models list                            list the installed models\n"
         "  impasto models catalogue|install|remove ...    get more styles (impasto models --help)\n"
         "  impasto --help | --version\n"
         "\n"
         "Options for stylize:\n"
         "  -s, --strength S      blend of the stylised image over the original, 0..1 (default 1)\n"
         "  -p, --preserve-colors keep the original colours, take lightness from the style\n"
         "  -t, --threads N       worker threads; 0 = all CPUs (default 0)\n"
         "      --tile-size PX    tile edge in pixels; -1 automatic (default), 0 whole image\n"
         "      --batchnorm MODE  batch norm statistics: image-statistics (this image's, as\n"
         "                        pix2pix's test mode) or running (stored); default: the\n"
         "                        model's metadata impasto.batchnorm, else running\n"
         "      --max-pixels N    refuse larger input images (default 300000000)\n"
         "      --region X,Y,W,H  write only that region, as it is in the whole result (the\n"
         "                        dialog's preview path: whole-image statistics, then the region)\n"
         "      --stats-pixels N  with --region: estimate the statistics from full-size tiles\n"
         "                        of at most N pixels in all (inexact); 0 = exact, the default\n"
         "\n"
         "Any image as the style (arbitrary style models, two networks):\n"
         "  impasto stylize TRANSFER.onnx INPUT OUTPUT --style STYLE --style-predictor PREDICT.onnx\n"
         "  impasto stylize DECODER.onnx INPUT OUTPUT --style STYLE --style-encoder ENCODER.onnx\n"
         "  impasto stylize MODEL --style STYLE [...] -o OUTDIR INPUT...   many inputs, one style\n"
         "      --style FILE      the style image (Magenta: short side 256, centre crop; AdaIN:\n"
         "                        short side at most 512)\n"
         "      --style-predictor P  Magenta: MODEL is the transfer net, P the style predictor\n"
         "      --style-encoder E    AdaIN: MODEL is the decoder, E the VGG encoder\n"
         "      --style2 FILE --mix W  mix a second style in with weight W (0: only --style)\n"
         "      --style-scale X   style image size factor, 0.25..4 (larger: larger strokes)\n"
         "  impasto stylize MODEL INPUT OUTPUT --style STYLE [--range LO,HI] [--multiple N]\n"
         "                        a model with two image inputs (AdaIN as one graph: content,\n"
         "                        style): STYLE goes to the second at its own size\n"
         "      --range LO,HI     the model's values for black and white (default: from the model)\n"
         "      --multiple N      pad INPUT by reflection to a multiple of N (default: from the\n"
         "                        model's strides)\n"
         "  -o, --output-dir DIR  write OUTDIR/NAME.png for each INPUT (the style is computed once)\n"
         "  With a style, --strength works on the network's features (0: the content through the\n"
         "  network), not as a blend of pixels.\n"
         "\n"
         "Inputs are any format gdk-pixbuf reads (PNG, JPEG, ...); the output format follows\n"
         "OUTPUT's extension (PNG, or JPEG at quality 95).  Alpha passes through unchanged\n"
         "(JPEG output has no alpha: it is dropped) and gray images give gray results.\n"
         "PNG results are written row by row as they are computed.\n",
         f);
  impasto_cli_print_model_help (f);
}

/* Parse a whole-string number; false if S is not a finite number. */
static bool parse_double (const char *s, double *out)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (end == s || *end != '\0' || errno != 0 || !isfinite (v))
    return false;
  *out = v;
  return true;
}

static bool parse_int (const char *s, int lo, int hi, int *out)
{
  char *end;
  errno = 0;
  long v = strtol (s, &end, 10);
  if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
    return false;
  *out = (int) v;
  return true;
}

enum { OPT_TILE_SIZE = 1000, OPT_MAX_PIXELS, OPT_REGION, OPT_STATS_PIXELS, OPT_STYLE, OPT_STYLE2,
       OPT_MIX, OPT_PREDICTOR, OPT_ENCODER, OPT_STYLE_SCALE, OPT_RANGE, OPT_MULTIPLE, OPT_BATCHNORM };

/* The arbitrary-style options. */
typedef struct {
  const char *style, *style2, *predictor, *encoder, *output_dir;
  double mix;
  bool mix_set;
  float range_lo, range_hi; /* equal: the model's */
  int multiple;
} StyleArgs;

/* --region X,Y,W,H (w == 0: none) */
typedef struct {
  int x, y, w, h;
} Region;

static bool parse_region (const char *s, Region *r)
{
  int n = -1;
  if (sscanf (s, "%d,%d,%d,%d%n", &r->x, &r->y, &r->w, &r->h, &n) != 4 || s[n] != '\0'
      || r->x < 0 || r->y < 0 || r->w < 1 || r->h < 1)
    return false;
  return true;
}

/* A 144-megapixel photo must pass; a 20000 x 20000 claim (1.2 GB decoded) needs the option. */
#define DEFAULT_MAX_PIXELS 300000000LL

/* Parse stylize's options into options and *max_pixels; positional arguments are left in
 * argv[optind..].  Returns false after reporting a bad option. */
static bool parse_stylize_options (int argc, char **argv, ImpastoOptions *options,
                                   int64_t *max_pixels, Region *region, StyleArgs *sa)
{
  static const struct option longopts[] = {
    { "strength", required_argument, NULL, 's' },
    { "preserve-colors", no_argument, NULL, 'p' },
    { "preserve-colours", no_argument, NULL, 'p' },
    { "threads", required_argument, NULL, 't' },
    { "tile-size", required_argument, NULL, OPT_TILE_SIZE },
    { "style", required_argument, NULL, OPT_STYLE },
    { "style2", required_argument, NULL, OPT_STYLE2 },
    { "mix", required_argument, NULL, OPT_MIX },
    { "style-predictor", required_argument, NULL, OPT_PREDICTOR },
    { "style-encoder", required_argument, NULL, OPT_ENCODER },
    { "style-scale", required_argument, NULL, OPT_STYLE_SCALE },
    { "output-dir", required_argument, NULL, 'o' },
    { "range", required_argument, NULL, OPT_RANGE },
    { "multiple", required_argument, NULL, OPT_MULTIPLE },
    { "batchnorm", required_argument, NULL, OPT_BATCHNORM },
    { "max-pixels", required_argument, NULL, OPT_MAX_PIXELS },
    { "region", required_argument, NULL, OPT_REGION },
    { "stats-pixels", required_argument, NULL, OPT_STATS_PIXELS },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  opterr = 0; /* we report errors ourselves, on one line */
  optind = 1;
  int c;
  double d;
  while ((c = getopt_long (argc, argv, ":s:pt:o:h", longopts, NULL)) != -1) {
    switch (c) {
    case 's':
      if (!parse_double (optarg, &d) || d < 0.0 || d > 1.0) {
        report ("invalid --strength '%s': expected a number from 0 to 1", optarg);
        return false;
      }
      options->strength = (float) d;
      break;
    case 'p':
      options->preserve_colors = true;
      break;
    case 't':
      if (!parse_int (optarg, 0, 1024, &options->threads)) {
        report ("invalid --threads '%s': expected a whole number from 0 to 1024", optarg);
        return false;
      }
      break;
    case OPT_TILE_SIZE:
      if (!parse_int (optarg, -1, 1 << 20, &options->tile_size)) {
        report ("invalid --tile-size '%s': expected -1 (automatic), 0 (whole image) or a "
                "positive number of pixels", optarg);
        return false;
      }
      break;
    case OPT_STYLE: sa->style = optarg; break;
    case OPT_STYLE2: sa->style2 = optarg; break;
    case OPT_PREDICTOR: sa->predictor = optarg; break;
    case OPT_ENCODER: sa->encoder = optarg; break;
    case 'o': sa->output_dir = optarg; break;
    case OPT_MIX:
      if (!parse_double (optarg, &sa->mix) || sa->mix < 0.0 || sa->mix > 1.0) {
        report ("invalid --mix '%s': expected a number from 0 to 1", optarg);
        return false;
      }
      sa->mix_set = true;
      break;
    case OPT_RANGE: {
      float lo, hi;
      char tail;
      if (sscanf (optarg, "%f,%f%c", &lo, &hi, &tail) != 2 || !(hi > lo) || !isfinite (lo) || !isfinite (hi)) {
        report ("invalid --range '%s': expected LO,HI with LO < HI (e.g. 0,1)", optarg);
        return false;
      }
      sa->range_lo = lo;
      sa->range_hi = hi;
      break;
    }
    case OPT_MULTIPLE:
      if (!parse_int (optarg, 1, 1024, &sa->multiple)) {
        report ("invalid --multiple '%s': expected a whole number from 1 to 1024", optarg);
        return false;
      }
      break;
    case OPT_STYLE_SCALE:
      if (!parse_double (optarg, &d) || d < 0.25 || d > 4.0) {
        report ("invalid --style-scale '%s': expected a number from 0.25 to 4", optarg);
        return false;
      }
      options->style_scale = (float) d;
      break;
    case OPT_BATCHNORM:
      if (!impasto_batchnorm_parse (optarg, &options->batchnorm)) {
        report ("invalid --batchnorm '%s': expected image-statistics or running", optarg);
        return false;
      }
      break;
    case OPT_MAX_PIXELS: {
      char *end;
      errno = 0;
      long long v = strtoll (optarg, &end, 10);
      if (end == optarg || *end != '\0' || errno != 0 || v < 1) {
        report ("invalid --max-pixels '%s': expected a positive whole number", optarg);
        return false;
      }
      *max_pixels = v;
      break;
    }
    case OPT_REGION:
      if (!parse_region (optarg, region)) {
        report ("invalid --region '%s': expected X,Y,W,H (X, Y >= 0; W, H >= 1)", optarg);
        return false;
      }
      break;
    case OPT_STATS_PIXELS: {
      int px;
      if (!parse_int (optarg, 0, INT32_MAX, &px)) {
        report ("invalid --stats-pixels '%s': expected 0 (exact) or a number of pixels", optarg);
        return false;
      }
      options->stats_pixels = px;
      break;
    }
    case 'h':
      print_usage (stdout);
      exit (EXIT_SUCCESS);
    case ':':
      report ("option '%s' needs a value", argv[optind - 1]);
      return false;
    default:
      report ("unknown option '%s' (see impasto --help)", argv[optind - 1]);
      return false;
    }
  }
  return true;
}

/* ---- commands ------------------------------------------------------------------------------- */

static int cmd_info (int argc, char **argv)
{
  if (argc != 2) {
    report ("usage: impasto info MODEL");
    return EXIT_USAGE;
  }
  char *path = impasto_cli_model_path (argv[1]);
  if (!path)
    return EXIT_RUNTIME;
  ImpastoError err = { 0 };
  ImpastoModel *model = impasto_model_load (path, &err);
  if (!model) {
    report_engine (path, &err);
    free (path);
    return EXIT_RUNTIME;
  }
  free (path);
  char *text = impasto_model_describe (model);
  impasto_model_free (model);
  if (!text) {
    report ("%s: cannot describe the model", argv[1]);
    return EXIT_RUNTIME;
  }
  size_t len = strlen (text);
  fputs (text, stdout);
  if (len == 0 || text[len - 1] != '\n')
    fputc ('\n', stdout);
  free (text);
  if (fflush (stdout) != 0 || ferror (stdout)) {
    report ("cannot write to standard output: %s", strerror (errno));
    return EXIT_RUNTIME;
  }
  return EXIT_SUCCESS;
}

/* Everything a stylize run holds, so one cleanup path frees it all. */
typedef struct {
  ImpastoModel *model;
  GdkPixbuf *input;
  ImpastoImage in;
  ImpastoImage out; /* the engine's row buffer */
  bool in_owned;    /* in owns its pixels (else they are the pixbuf's) */
  OutputSink sink;
  int fd;
} StylizeRun;

static void stylize_run_clear (StylizeRun *run)
{
  output_clear (&run->sink);
  if (run->fd >= 0)
    close (run->fd);
  run->fd = -1;
  if (run->model)
    impasto_model_free (run->model);
  if (run->input)
    g_object_unref (run->input);
  if (run->in_owned)
    free (run->in.data_u8);
  free (run->out.data_u8);
}

/* IMPASTO_PROFILE=1: the wall time of each phase of a run on stderr (the engine adds its steps). */
static void profile_phase (const char *phase)
{
  static int enabled = -1;
  static struct timespec last;
  if (enabled < 0) {
    enabled = getenv ("IMPASTO_PROFILE") != NULL;
    clock_gettime (CLOCK_MONOTONIC, &last);
  }
  if (!enabled)
    return;
  fprintf (stderr, "impasto profile: cli %-26s %8.2f ms\n", phase, seconds_since (&last) * 1e3);
  clock_gettime (CLOCK_MONOTONIC, &last);
}

/* An arbitrary-style pack and the style it applies (both NULL for an ordinary model). */
typedef struct {
  ImpastoPack *pack;
  ImpastoStyleDesc *style;
  /* a model with two image inputs: the style image as is */
  const char *generic_model;
  GdkPixbuf *style_pixbuf;
  ImpastoImage style_image;
  bool style_owned;
  const StyleArgs *args;
} Styler;

/* The steps of a stylize run; false after reporting an error. */
static bool stylize_steps (StylizeRun *run, const Styler *styler, const char *model_path,
                           const char *input_path, const char *output_path, OutputFormat format,
                           int64_t max_pixels, ImpastoOptions *options, const Region *region)
{
  ImpastoError err = { 0 };
  profile_phase ("start");

  /* Cheap checks first, so a typo does not cost a model load. */
  if (!(run->input = image_load (input_path, max_pixels)))
    return false;
  profile_phase ("read image");
  bool gray = pixbuf_is_gray (run->input);
  if (!pixbuf_to_image (run->input, gray, &run->in, &run->in_owned))
    return false;
  if (run->in_owned) { /* the gray copy is all that is needed */
    g_object_unref (run->input);
    run->input = NULL;
  }
  if ((run->fd = temp_file_create (output_path)) < 0)
    return false;
  if (!styler->pack && !styler->generic_model && !(run->model = impasto_model_load (model_path, &err))) {
    report_engine (model_path, &err);
    return false;
  }
  profile_phase ("load model");

  /* a region is small: composed whole, then written */
  Region all = { 0, 0, run->in.width, run->in.height };
  const Region *r = region->w ? region : &all;
  if (r->x > all.w - r->w || r->y > all.h - r->h) {
    report ("the region %d,%d,%d,%d is not inside the %dx%d image", r->x, r->y, r->w, r->h,
            all.w, all.h);
    return false;
  }
  int threads = options->threads > 0 ? options->threads : (int) g_get_num_processors ();
  /* a style pack or a two-input model composes its result whole */
  bool whole_out = region->w > 0 || styler->pack || styler->generic_model;
  if (!output_open (&run->in, r->w, r->h, whole_out, format, run->fd, output_path, threads,
                    &run->sink, &run->out))
    return false;
  bool whole = run->out.height == r->h;
  profile_phase ("prepare images");
  Progress progress = { .enabled = isatty (STDERR_FILENO), .shown_percent = -1 };
  pthread_mutex_init (&progress.lock, NULL);
  clock_gettime (CLOCK_MONOTONIC, &progress.start);
  options->progress = progress_cb;
  options->progress_data = &progress;
  if (!whole) {
    options->rows = sink_rows;
    options->rows_data = &run->sink;
  }
  ImpastoStatus status;
  const ImpastoImage *images[2] = { &run->in, &styler->style_image };
  if (styler->pack) {
    status = impasto_stylize_with_style (styler->pack, styler->style, &run->in, &run->out, options, &err);
  } else if (styler->generic_model) {
    status = impasto_stylize_images (styler->generic_model, 2, NULL, images, styler->args->range_lo,
                                     styler->args->range_hi, styler->args->multiple, &run->out,
                                     options, &err);
  } else if (region->w) {
    ImpastoStats *stats = NULL;
    status = impasto_stats_compute (run->model, &run->in, options, &stats, &err);
    profile_phase ("statistics");
    options->stats = stats;
    if (status == IMPASTO_OK)
      status = impasto_stylize_region (run->model, &run->in, r->x, r->y, &run->out, options, &err);
    options->stats = NULL;
    impasto_stats_free (stats);
  } else {
    status = impasto_stylize (run->model, &run->in, &run->out, options, &err);
  }
  progress_finish (&progress, status == IMPASTO_OK);
  pthread_mutex_destroy (&progress.lock);
  if (status != IMPASTO_OK && run->sink.error) {
    report ("cannot write '%s': %s", output_path, run->sink.error->message);
    return false;
  }
  if (status != IMPASTO_OK) {
    if (!err.message[0])
      snprintf (err.message, sizeof err.message, "stylisation failed (status %d)", (int) status);
    report_engine (NULL, &err);
    return false;
  }

  profile_phase (region->w ? "region" : "stylize");
  if (!output_close (&run->sink, &run->out, whole, run->fd, output_path))
    return false;
  profile_phase ("write image");
  if (!temp_file_commit (run->fd, output_path))
    return false;
  profile_phase ("commit");
  return true;
}

/* The style of the image at path; NULL after reporting. */
static ImpastoStyleDesc *style_load (ImpastoPack *pack, const char *path, const ImpastoOptions *options)
{
  GdkPixbuf *pixbuf = image_load (path, 0);
  if (!pixbuf)
    return NULL;
  ImpastoImage img;
  bool owned = false;
  ImpastoStyleDesc *style = NULL;
  if (pixbuf_to_image (pixbuf, false, &img, &owned)) {
    ImpastoError err = { 0 };
    if (!(style = impasto_style_new_from_image (pack, &img, options, &err)))
      report_engine (path, &err);
  }
  if (owned)
    free (img.data_u8);
  g_object_unref (pixbuf);
  return style;
}

/* Pack and style (mixed with --style2) for the --style options; false after reporting. */
static bool styler_open (Styler *st, const char *model_path, const StyleArgs *sa,
                         const ImpastoOptions *options)
{
  ImpastoError err = { 0 };
  st->args = sa;
  if (!sa->predictor && !sa->encoder) { /* one graph with a style input */
    st->generic_model = model_path;
    return (st->style_pixbuf = image_load (sa->style, 0))
        && pixbuf_to_image (st->style_pixbuf, false, &st->style_image, &st->style_owned);
  }
  bool magenta = sa->predictor != NULL;
  if (!(st->pack = impasto_pack_load (magenta ? IMPASTO_FAMILY_MAGENTA : IMPASTO_FAMILY_ADAIN,
                                      magenta ? sa->predictor : sa->encoder, model_path, &err))) {
    report_engine (NULL, &err);
    return false;
  }
  if (!(st->style = style_load (st->pack, sa->style, options)))
    return false;
  if (sa->style2) {
    ImpastoStyleDesc *b = style_load (st->pack, sa->style2, options), *mixed = NULL;
    if (b && !(mixed = impasto_style_mix (st->style, b, (float) sa->mix, &err)))
      report_engine (NULL, &err);
    impasto_style_free (b);
    if (!mixed)
      return false;
    impasto_style_free (st->style);
    st->style = mixed;
  }
  return true;
}

/* OUTDIR/NAME.png for input path INPUT (NAME: its base name without the extension). */
static char *batch_output (const char *dir, const char *input)
{
  char *base = g_path_get_basename (input);
  char *dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  char *name = g_strconcat (base, ".png", NULL);
  char *path = g_build_filename (dir, name, NULL);
  g_free (base);
  g_free (name);
  return path;
}

static int stylize_command (int argc, char **argv, ImpastoOptions *o, StyleArgs *sap,
                            const char *model, int64_t max_pixels, const Region *region);

/* The networks of a pack sidecar NAME.json, paths made relative to its folder. */
typedef struct {
  char *model, *predictor, *encoder; /* g_free */
} PackFiles;

/* The sidecar's network for role (absolute); NULL after reporting when it names none. */
static char *pack_network (const ImpastoStyle *pack, const char *role, const char *path)
{
  const char *file = impasto_style_network (pack, role);
  if (!file)
    report ("%s: the pack has no \"%s\" network (\"networks\": {\"%s\": FILE.onnx, ...})", path,
            role, role);
  return g_strdup (file);
}

/* MODEL given as a NAME.json pack (read by the plug-in's model module, plugin/models.c): "family"
 * magenta (networks predictor + transfer) or adain (encoder + decoder, or one graph "model" with
 * "range" and "multiple").  False after reporting. */
static bool pack_read (const char *path, StyleArgs *sa, PackFiles *pf)
{
  GError *gerr = NULL;
  ImpastoStyle *pack = impasto_style_read_sidecar (path, &gerr);
  if (!pack) {
    report ("%s: not a model sidecar: %s", path, gerr->message);
    g_clear_error (&gerr);
    return false;
  }
  if (pack->has_range) {
    sa->range_lo = (float) pack->range_min;
    sa->range_hi = (float) pack->range_max;
  }
  if (pack->multiple >= 1 && pack->multiple <= 1024) /* as --multiple */
    sa->multiple = pack->multiple;
  const char *family = pack->family ? pack->family : "fast";
  bool ok;
  if (!strcmp (family, "magenta")) {
    ok = (pf->predictor = pack_network (pack, "predictor", path))
      && (pf->model = pack_network (pack, "transfer", path));
    sa->predictor = pf->predictor;
  } else if (!strcmp (family, "adain") && impasto_style_network (pack, "model")) {
    ok = (pf->model = pack_network (pack, "model", path)) != NULL;
  } else if (!strcmp (family, "adain")) {
    ok = (pf->encoder = pack_network (pack, "encoder", path))
      && (pf->model = pack_network (pack, "decoder", path));
    sa->encoder = pf->encoder;
  } else {
    ok = (pf->model = pack_network (pack, "model", path)) != NULL;
  }
  impasto_style_entry_free (pack);
  return ok;
}

static int cmd_stylize (int argc, char **argv)
{
  ImpastoOptions options;
  impasto_options_init (&options);
  /* The engine takes these as options; the command keeps honouring the environment
   * (IMPASTO_STREAM_RAM_MB=0: no RAM for stored values, as before). */
  const char *ram_mb = getenv ("IMPASTO_STREAM_RAM_MB");
  if (ram_mb && *ram_mb)
    options.stream_ram_mb = atoi (ram_mb) > 0 ? atoi (ram_mb) : -1;
  options.scratch_dir = getenv ("IMPASTO_SCRATCH_DIR");
  StyleArgs sa = { 0 };
  int64_t max_pixels = DEFAULT_MAX_PIXELS;
  Region region = { 0 };
  if (!parse_stylize_options (argc, argv, &options, &max_pixels, &region, &sa))
    return EXIT_USAGE;
  PackFiles pf = { 0 };
  if (optind < argc && g_str_has_suffix (argv[optind], ".json")) {
    if (sa.predictor || sa.encoder) {
      report ("a pack sidecar names its networks: drop --style-predictor / --style-encoder");
      return EXIT_USAGE;
    }
    if (!pack_read (argv[optind], &sa, &pf)) {
      g_free (pf.model), g_free (pf.predictor), g_free (pf.encoder);
      return EXIT_RUNTIME;
    }
  }
  int status = stylize_command (argc, argv, &options, &sa, pf.model, max_pixels, &region);
  g_free (pf.model);
  g_free (pf.predictor);
  g_free (pf.encoder);
  return status;
}

/* cmd_stylize once options and a pack sidecar are read; model: the sidecar's network or NULL. */
static int stylize_command (int argc, char **argv, ImpastoOptions *o, StyleArgs *sap,
                            const char *model, int64_t max_pixels, const Region *regionp)
{
  Region region = *regionp;
  ImpastoOptions options = *o;
  StyleArgs sa = *sap;
  bool styled = sa.style || sa.style2 || sa.predictor || sa.encoder || sa.mix_set;
  if (styled && (!sa.style || (sa.predictor && sa.encoder))) {
    report ("a style needs --style and at most one of --style-predictor (Magenta) or "
            "--style-encoder (AdaIN)");
    return EXIT_USAGE;
  }
  if (styled && region.w) {
    report ("--region does not go with a style");
    return EXIT_USAGE;
  }
  if (sa.style2 && !sa.predictor && !sa.encoder) {
    report ("--style2 needs a style pack (--style-predictor or --style-encoder)");
    return EXIT_USAGE;
  }
  if (!sa.style2 != !sa.mix_set) {
    report ("--style2 and --mix go together");
    return EXIT_USAGE;
  }
  if (sa.output_dir ? argc - optind < 2 : argc - optind != 3) {
    report ("usage: impasto stylize MODEL INPUT OUTPUT [OPTIONS], or MODEL -o OUTDIR INPUT... "
            "(see impasto --help)");
    return EXIT_USAGE;
  }
  const char *model_path = model ? model : argv[optind];
  int n_inputs = sa.output_dir ? argc - optind - 1 : 1;
  char **inputs = argv + optind + 1;
  if (!sa.output_dir && format_from_name (argv[optind + 2]) == FORMAT_NONE) {
    report ("cannot tell the format of '%s': use a .png, .jpg or .jpeg name", argv[optind + 2]);
    return EXIT_USAGE;
  }

  char *model_file = impasto_cli_model_path (model_path);
  if (!model_file)
    return EXIT_RUNTIME;
  install_signal_handlers ();
  Styler styler = { 0 };
  bool ok = !styled || styler_open (&styler, model_file, &sa, &options);
  for (int i = 0; ok && i < n_inputs; i++) {
    char *output_path = sa.output_dir ? batch_output (sa.output_dir, inputs[i]) : g_strdup (argv[optind + 2]);
    StylizeRun run = { .fd = -1 };
    ok = stylize_steps (&run, &styler, model_file, inputs[i], output_path,
                        format_from_name (output_path), max_pixels, &options, &region);
    stylize_run_clear (&run);
    if (!ok)
      temp_file_discard ();
    g_free (output_path);
  }
  impasto_style_free (styler.style);
  impasto_pack_free (styler.pack);
  if (styler.style_owned)
    free (styler.style_image.data_u8);
  if (styler.style_pixbuf)
    g_object_unref (styler.style_pixbuf);
  free (model_file);
  return ok ? EXIT_SUCCESS : EXIT_RUNTIME;
}

int main (int argc, char **argv)
{
  if (argc < 2) {
    print_usage (stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0 || strcmp (cmd, "help") == 0) {
    print_usage (stdout);
    return EXIT_SUCCESS;
  }
  if (strcmp (cmd, "--version") == 0 || strcmp (cmd, "-V") == 0) {
    printf ("impasto %s\n", impasto_version ());
    return EXIT_SUCCESS;
  }
  /* Subcommands see their own argv, with the subcommand name as argv[0]. */
  if (strcmp (cmd, "stylize") == 0 || strcmp (cmd, "stylise") == 0)
    return cmd_stylize (argc - 1, argv + 1);
  if (strcmp (cmd, "info") == 0)
    return cmd_info (argc - 1, argv + 1);
  if (strcmp (cmd, "models") == 0)
    return impasto_cli_models_command (argc - 1, argv + 1);
  report ("unknown command '%s' (see impasto --help)", cmd);
  return EXIT_USAGE;
}
