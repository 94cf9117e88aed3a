/* test_engine.c — the public API end to end on a real model (../shared/models):
 * tiny and thin images, alpha and gray, strength and colour preservation, banded (streamed)
 * runs against whole-image runs, the scratch-file path, cancellation and argument errors, regions
 * with whole-image statistics against crops of the whole result.
 * Fails when ../shared is absent (skips with IMPASTO_ALLOW_MISSING_DATA=1: tests/data_check.h). */
#include "impasto.h"
#include "data_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static uint32_t rng = 12345;
static float frand (void)
{
  rng = rng * 1664525u + 1013904223u;
  return (float) (rng >> 8) / (float) (1u << 24);
}

/* A smooth test picture with some texture: gradients plus noise, values 0..1. */
static ImpastoImage make_image (int w, int h, int channels)
{
  ImpastoImage im = { .width = w, .height = h, .channels = channels };
  im.data = malloc (sizeof (float) * (size_t) w * (size_t) h * (size_t) channels);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < channels; c++) {
        float v = 0.5f + 0.4f * sinf ((float) x * 0.07f + (float) c) * cosf ((float) y * 0.05f)
                  + 0.1f * (frand () - 0.5f);
        im.data[((size_t) y * (size_t) w + (size_t) x) * (size_t) channels + (size_t) c] = v;
      }
  return im;
}

static ImpastoImage like (const ImpastoImage *im)
{
  ImpastoImage o = *im;
  o.data = calloc ((size_t) im->width * (size_t) im->height * (size_t) im->channels, sizeof (float));
  return o;
}

static float max_diff (const ImpastoImage *a, const ImpastoImage *b)
{
  size_t n = (size_t) a->width * (size_t) a->height * (size_t) a->channels;
  float m = 0;
  for (size_t i = 0; i < n; i++)
    m = fmaxf (m, fabsf (a->data[i] - b->data[i]));
  return m;
}

/* ram_mb and scratch_dir as in ImpastoOptions */
static ImpastoStatus run_banded (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out,
                                 int tile, int ram_mb, const char *scratch_dir, ImpastoError *err)
{
  ImpastoOptions o;
  impasto_options_init (&o);
  o.tile_size = tile;
  o.stream_ram_mb = ram_mb;
  o.scratch_dir = scratch_dir;
  return impasto_stylize (m, in, out, &o, err);
}

static ImpastoStatus run (ImpastoModel *m, const ImpastoImage *in, ImpastoImage *out, int tile,
                          float strength, bool preserve, ImpastoError *err)
{
  ImpastoOptions o;
  impasto_options_init (&o);
  o.tile_size = tile;
  o.strength = strength;
  o.preserve_colors = preserve;
  return impasto_stylize (m, in, out, &o, err);
}

static void test_sizes (ImpastoModel *m)
{
  static const int sizes[][2] = { { 1, 1 }, { 3, 3 }, { 2000, 12 }, { 12, 700 }, { 17, 5 } };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    ImpastoImage in = make_image (sizes[i][0], sizes[i][1], 3), out = like (&in);
    ImpastoError err;
    ImpastoStatus st = run (m, &in, &out, -1, 1.0f, false, &err);
    CHECK (st == IMPASTO_OK, "%dx%d: %s", in.width, in.height, err.message);
    CHECK (max_diff (&in, &out) > 0.01f, "%dx%d: output equals input", in.width, in.height);
    free (in.data);
    free (out.data);
  }
}

static void test_alpha_gray_strength (ImpastoModel *m)
{
  ImpastoError err;
  ImpastoImage in = make_image (64, 48, 4), out = like (&in);
  CHECK (run (m, &in, &out, 0, 1.0f, false, &err) == IMPASTO_OK, "rgba: %s", err.message);
  bool alpha_same = true;
  for (size_t i = 3; i < (size_t) 64 * 48 * 4; i += 4)
    alpha_same &= in.data[i] == out.data[i];
  CHECK (alpha_same, "alpha must pass through unchanged");

  CHECK (run (m, &in, &out, 0, 0.0f, false, &err) == IMPASTO_OK, "strength 0: %s", err.message);
  CHECK (max_diff (&in, &out) == 0.0f, "strength 0 must return the original, diff %g",
         max_diff (&in, &out));

  /* strength 0.5 is the average of the original and the full stylisation */
  ImpastoImage full = like (&in), half = like (&in);
  run (m, &in, &full, 0, 1.0f, false, &err);
  run (m, &in, &half, 0, 0.5f, false, &err);
  float worst = 0;
  for (size_t i = 0; i < (size_t) 64 * 48 * 4; i++)
    worst = fmaxf (worst, fabsf (half.data[i] - 0.5f * (in.data[i] + full.data[i])));
  CHECK (worst < 1e-5f, "strength 0.5 is not the average (off by %g)", worst);

  /* preserve colours: chroma (Cb, Cr) of the original wherever nothing clipped */
  ImpastoImage pc = like (&in);
  CHECK (run (m, &in, &pc, 0, 1.0f, true, &err) == IMPASTO_OK, "preserve: %s", err.message);
  float chroma_err = 0, luma_err = 0;
  for (size_t p = 0; p < (size_t) 64 * 48; p++) {
    const float *a = in.data + p * 4, *b = pc.data + p * 4, *f = full.data + p * 4;
    bool clipped = false;
    for (int c = 0; c < 3; c++)
      clipped |= b[c] <= 0.0f || b[c] >= 1.0f;
    if (clipped)
      continue;
    float ya = 0.299f * a[0] + 0.587f * a[1] + 0.114f * a[2];
    float yb = 0.299f * b[0] + 0.587f * b[1] + 0.114f * b[2];
    float yf = 0.299f * f[0] + 0.587f * f[1] + 0.114f * f[2];
    chroma_err = fmaxf (chroma_err, fabsf ((b[2] - yb) - (a[2] - ya)));
    chroma_err = fmaxf (chroma_err, fabsf ((b[0] - yb) - (a[0] - ya)));
    luma_err = fmaxf (luma_err, fabsf (yb - yf));
  }
  CHECK (chroma_err < 1e-4f && luma_err < 1e-4f, "preserve colours: chroma off %g, luma off %g",
         chroma_err, luma_err);

  /* gray: one channel in, one channel out, the luma of the RGB run on the same values */
  ImpastoImage g = make_image (40, 30, 1), gout = like (&g);
  ImpastoImage rgb = { .width = 40, .height = 30, .channels = 3 }, rgbout;
  rgb.data = malloc (sizeof (float) * 40 * 30 * 3);
  for (size_t i = 0; i < 40 * 30; i++)
    rgb.data[3 * i] = rgb.data[3 * i + 1] = rgb.data[3 * i + 2] = g.data[i];
  rgbout = like (&rgb);
  CHECK (run (m, &g, &gout, 0, 1.0f, false, &err) == IMPASTO_OK, "gray: %s", err.message);
  run (m, &rgb, &rgbout, 0, 1.0f, false, &err);
  float gworst = 0;
  for (size_t i = 0; i < 40 * 30; i++) {
    const float *q = rgbout.data + 3 * i;
    gworst = fmaxf (gworst, fabsf (gout.data[i] - (0.299f * q[0] + 0.587f * q[1] + 0.114f * q[2])));
  }
  CHECK (gworst < 1e-5f, "gray output is not the luma of the RGB result (off by %g)", gworst);
  free (g.data), free (gout.data), free (rgb.data), free (rgbout.data);
  free (in.data), free (out.data), free (full.data), free (half.data), free (pc.data);
}

/* Bands of any height must give the whole-image result: the norms use whole-image statistics. */
static void test_streaming (ImpastoModel *m, const char *name)
{
  ImpastoError err;
  ImpastoImage in = make_image (203, 157, 3), whole = like (&in), banded = like (&in);
  CHECK (run (m, &in, &whole, 0, 1.0f, false, &err) == IMPASTO_OK, "%s whole: %s", name, err.message);
  static const int tiles[] = { 1, 8, 8, 33, 64, 1000, 1 };
  for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
    /* tile 8, and 1 the second time (bands of one row: fewer rows than scratch files), also go
     * through the scratch file: no RAM for stored values; read back through mappings, then (tile 8
     * the second time) with pread */
    bool file = tiles[i] == 8 || i == 6;
    if (i == 2)
      setenv ("IMPASTO_SCRATCH_NO_MMAP", "1", 1);
    else
      unsetenv ("IMPASTO_SCRATCH_NO_MMAP");
    memset (banded.data, 0, sizeof (float) * 203 * 157 * 3);
    /* ram_mb -1: no RAM for stored values */
    ImpastoStatus st = run_banded (m, &in, &banded, tiles[i], file ? -1 : 384, NULL, &err);
    CHECK (st == IMPASTO_OK, "%s tile %d: %s", name, tiles[i], err.message);
    /* float32 in RAM: rounding only; the scratch file holds float16 (relative step 2^-11), which
     * may move a pixel by up to about 1/255 */
    float d = max_diff (&whole, &banded), tol = file ? 4e-3f : 2e-4f;
    CHECK (d < tol, "%s tile %d differs from the whole-image run by %g", name, tiles[i], d);
  }
  /* a scratch folder that does not exist: a clear I/O error, nothing else */
  ImpastoStatus st = run_banded (m, &in, &banded, 16, -1, "/nonexistent/impasto", &err);
  CHECK (st == IMPASTO_E_IO && strstr (err.message, "scratch file")
             && strstr (err.message, "/nonexistent/impasto"),
         "%s: missing scratch folder gave %d '%s'", name, st, err.message);
  free (in.data), free (whole.data), free (banded.data);
}

/* Gathers the rows the engine hands over (ImpastoOptions.rows) into a whole image, noting
 * whether they came in order, and stops the run at call stop_after. */
typedef struct {
  ImpastoImage *dst;
  int next, calls, stop_after;
  bool in_order;
} RowsSink;

static bool collect_rows (const ImpastoImage *rows, int y, void *data)
{
  RowsSink *c = data;
  size_t row = (size_t) rows->width * (size_t) rows->channels;
  c->in_order &= y == c->next && rows->width == c->dst->width && rows->channels == c->dst->channels
                 && rows->height >= 1 && y + rows->height <= c->dst->height;
  for (int r = 0; c->in_order && r < rows->height; r++)
    memcpy (c->dst->data + (size_t) (y + r) * row, rows->data + (size_t) r * row,
            row * sizeof (float));
  c->next = y + rows->height;
  return ++c->calls != c->stop_after;
}

/* The result handed over in rows through a small buffer is the whole-image result, bit for bit,
 * for any buffer height, whole-image and banded runs, RGB, RGBA and gray, and a tall narrow image
 * (which impasto_stylize runs transposed); the callback can stop the run. */
static void test_rows (ImpastoModel *m)
{
  static const int channels[] = { 3, 4, 1 }, heights[] = { 1, 7, 61, 100 }, tiles[] = { 0, 16 };
  static const int sizes[][2] = { { 97, 61 }, { 9, 200 } }; /* width, height */
  ImpastoError err;
  for (size_t si = 0; si < 2; si++)
    for (size_t ci = 0; ci < 3; ci++) {
      int w = sizes[si][0], h = sizes[si][1];
      size_t n = (size_t) w * (size_t) h * (size_t) channels[ci];
      ImpastoImage in = make_image (w, h, channels[ci]), whole = like (&in), got = like (&in);
      for (size_t ti = 0; ti < 2; ti++) {
        CHECK (run (m, &in, &whole, tiles[ti], 0.8f, false, &err) == IMPASTO_OK, "%s", err.message);
        for (size_t hi = 0; hi < 4; hi++) {
          ImpastoImage buf = in;
          buf.height = heights[hi];
          buf.data = malloc (sizeof (float) * (size_t) w * (size_t) buf.height
                             * (size_t) buf.channels);
          memset (got.data, 0, sizeof (float) * n);
          RowsSink sink = { .dst = &got, .in_order = true };
          ImpastoOptions o;
          impasto_options_init (&o);
          o.tile_size = tiles[ti];
          o.strength = 0.8f;
          o.rows = collect_rows;
          o.rows_data = &sink;
          ImpastoStatus st = impasto_stylize (m, &in, &buf, &o, &err);
          CHECK (st == IMPASTO_OK, "rows %dx%d %d ch, tile %d, buffer %d: %s", w, h, in.channels,
                 tiles[ti], heights[hi], err.message);
          int want_calls = (h + heights[hi] - 1) / heights[hi];
          CHECK (sink.in_order && sink.next == h && sink.calls == want_calls,
                 "rows %dx%d %d ch, tile %d, buffer %d: %d calls, ended at row %d, in order %d", w,
                 h, in.channels, tiles[ti], heights[hi], sink.calls, sink.next, sink.in_order);
          CHECK (memcmp (got.data, whole.data, sizeof (float) * n) == 0,
                 "rows %dx%d %d ch, tile %d, buffer %d: not the whole-image result (max diff %g)",
                 w, h, in.channels, tiles[ti], heights[hi], max_diff (&got, &whole));
          if (hi == 1) { /* stop at the second call */
            sink = (RowsSink) { .dst = &got, .in_order = true, .stop_after = 2 };
            st = impasto_stylize (m, &in, &buf, &o, &err);
            CHECK (st == IMPASTO_E_CANCELLED && strstr (err.message, "rows") && sink.calls == 2,
                   "rows %dx%d stopped by the callback: %d '%s' after %d calls", w, h, st,
                   err.message, sink.calls);
          }
          free (buf.data);
        }
      }
      free (in.data), free (whole.data), free (got.data);
    }
}

static int calls;
static bool cancel_on_third (double fraction, void *data)
{
  (void) fraction, (void) data;
  return ++calls < 3;
}

static void test_cancel_and_errors (ImpastoModel *m)
{
  ImpastoError err;
  ImpastoImage in = make_image (64, 64, 3), out = like (&in);
  for (int tile = 0; tile <= 16; tile += 16) {
    ImpastoOptions o;
    impasto_options_init (&o);
    o.tile_size = tile;
    o.progress = cancel_on_third;
    calls = 0;
    ImpastoStatus st = impasto_stylize (m, &in, &out, &o, &err);
    CHECK (st == IMPASTO_E_CANCELLED && strstr (err.message, "cancelled"),
           "tile %d: cancel gave %d '%s'", tile, st, err.message);
    CHECK (calls == 3, "tile %d: progress called %d times after cancelling", tile, calls);
  }
  CHECK (run (m, &in, &out, 0, 2.0f, false, &err) == IMPASTO_E_ARGUMENT
         && strstr (err.message, "strength"), "strength 2: '%s'", err.message);
  ImpastoOptions bad;
  impasto_options_init (&bad);
  bad.batchnorm = (ImpastoBatchNorm) 7;
  CHECK (impasto_stylize (m, &in, &out, &bad, &err) == IMPASTO_E_ARGUMENT
         && strstr (err.message, "batch norm mode 7"), "batchnorm 7: '%s'", err.message);
  ImpastoBatchNorm mode = IMPASTO_BATCHNORM_AUTO;
  CHECK (impasto_batchnorm_parse ("image-statistics", &mode) && mode == IMPASTO_BATCHNORM_IMAGE
         && impasto_batchnorm_parse ("running", &mode) && mode == IMPASTO_BATCHNORM_RUNNING
         && !impasto_batchnorm_parse ("batch", &mode) && !impasto_batchnorm_parse (NULL, &mode)
         && mode == IMPASTO_BATCHNORM_RUNNING, "impasto_batchnorm_parse");
  ImpastoImage small = make_image (10, 10, 3);
  CHECK (run (m, &in, &small, 0, 1.0f, false, &err) == IMPASTO_E_ARGUMENT
         && strstr (err.message, "size"), "size mismatch: '%s'", err.message);
  ImpastoImage five = in;
  five.channels = 5;
  CHECK (run (m, &five, &out, 0, 1.0f, false, &err) == IMPASTO_E_ARGUMENT
         && strstr (err.message, "channels"), "5 channels: '%s'", err.message);
  /* 8-bit pixels give the float result, rounded */
  ImpastoImage in8 = { .width = 64, .height = 64, .channels = 3, .type = IMPASTO_PIXEL_U8 };
  ImpastoImage out8 = in8;
  in8.data_u8 = malloc (64 * 64 * 3);
  out8.data_u8 = malloc (64 * 64 * 3);
  for (size_t i = 0; i < 64 * 64 * 3; i++) {
    in8.data_u8[i] = (uint8_t) (in.data[i] < 0 ? 0 : in.data[i] > 1 ? 255 : in.data[i] * 255 + 0.5f);
    in.data[i] = in8.data_u8[i] / 255.0f;
  }
  CHECK (run (m, &in8, &out8, 0, 1.0f, false, &err) == IMPASTO_OK, "u8: %s", err.message);
  run (m, &in, &out, 0, 1.0f, false, &err);
  int worst = 0;
  for (size_t i = 0; i < 64 * 64 * 3; i++)
    worst = abs (worst) > abs ((int) out8.data_u8[i] - (int) lroundf (out.data[i] * 255)) ? worst
          : (int) out8.data_u8[i] - (int) lroundf (out.data[i] * 255);
  CHECK (abs (worst) <= 1, "u8 and float results differ by %d/255", worst);
  free (in8.data_u8), free (out8.data_u8);
  free (in.data), free (out.data), free (small.data);
}

/* Rows [y, y + h) and columns [x, x + w) of im into a new image. */
static ImpastoImage crop_of (const ImpastoImage *im, int x, int y, int w, int h)
{
  ImpastoImage c = { .width = w, .height = h, .channels = im->channels };
  c.data = malloc (sizeof (float) * (size_t) w * (size_t) h * (size_t) im->channels);
  for (int r = 0; r < h; r++)
    memcpy (c.data + (size_t) r * (size_t) w * (size_t) im->channels,
            im->data + ((size_t) (y + r) * (size_t) im->width + (size_t) x) * (size_t) im->channels,
            sizeof (float) * (size_t) w * (size_t) im->channels);
  return c;
}

/* impasto_stats_compute + impasto_stylize_region against crops of impasto_stylize (float, RGB and
 * gray, statistics from a whole and from a banded run), and their errors. */
static void test_regions (ImpastoModel *m, const char *other_path)
{
  /* one after another on the same model, as a preview pans: each region reuses the last one's
   * buffers (model.h, kept), also across the narrow ones at the left edge, which run transposed
   * (twice: the second reuses what the first kept) */
  static const int boxes[][4] = { { 37, 21, 101, 77 }, { 0, 0, 300, 200 }, { 250, 150, 50, 50 },
                                  { 133, 0, 1, 200 }, { 0, 0, 20, 200 }, { 0, 0, 20, 200 },
                                  { 37, 21, 101, 77 } };
  for (int channels = 1; channels <= 3; channels += 2)
    for (int tile = 0; tile <= 32; tile += 32) {
      ImpastoImage in = make_image (300, 200, channels), whole = like (&in);
      ImpastoError err;
      ImpastoOptions o;
      impasto_options_init (&o);
      o.tile_size = tile;
      CHECK (impasto_stylize (m, &in, &whole, &o, &err) == IMPASTO_OK, "%s", err.message);
      ImpastoStats *stats = NULL;
      CHECK (impasto_stats_compute (m, &in, &o, &stats, &err) == IMPASTO_OK && stats,
             "stats: %s", err.message);
      o.stats = stats;
      o.tile_size = -1;
      for (size_t b = 0; stats && b < sizeof boxes / sizeof boxes[0]; b++) {
        const int *bx = boxes[b];
        ImpastoImage want = crop_of (&whole, bx[0], bx[1], bx[2], bx[3]), got = like (&want);
        ImpastoStatus st = impasto_stylize_region (m, &in, bx[0], bx[1], &got, &o, &err);
        float d = st ? 1.0f : max_diff (&want, &got);
        /* banded statistics: float16 scratch rounding, as in test_streaming */
        CHECK (d < (tile ? 2.0f / 255 : 1e-4f), "%d ch, tile %d: region %d,%d %dx%d off by %g (%s)",
               channels, tile, bx[0], bx[1], bx[2], bx[3], d, st ? err.message : "");
        free (want.data);
        free (got.data);
      }
      impasto_stats_free (stats);
      free (in.data);
      free (whole.data);
    }

  ImpastoImage in = make_image (64, 48, 3), out = make_image (16, 16, 3);
  ImpastoError err;
  ImpastoOptions o;
  impasto_options_init (&o);
  ImpastoStatus st = impasto_stylize_region (m, &in, 8, 8, &out, &o, &err);
  CHECK (st == IMPASTO_E_ARGUMENT && strstr (err.message, "statistics"), "no statistics: %s",
         err.message);
  ImpastoModel *other = impasto_model_load (other_path, &err);
  CHECK (other != NULL, "%s: %s", other_path, err.message);
  ImpastoStats *foreign = NULL;
  if (other && impasto_stats_compute (other, &in, &o, &foreign, &err) == IMPASTO_OK) {
    o.stats = foreign; /* the same architecture, channel for channel: refused all the same */
    st = impasto_stylize_region (m, &in, 8, 8, &out, &o, &err);
    CHECK (st == IMPASTO_E_ARGUMENT && strstr (err.message, "another model"),
           "another model's statistics: %s", err.message);
    st = impasto_stylize (m, &in, &in, &o, &err);
    CHECK (st == IMPASTO_E_ARGUMENT && strstr (err.message, "another model"),
           "another model's statistics in impasto_stylize: %s", err.message);
  }
  impasto_stats_free (foreign);
  impasto_model_free (other);
  ImpastoStats *stats = NULL;
  CHECK (impasto_stats_compute (m, &in, &o, &stats, &err) == IMPASTO_OK, "%s", err.message);
  o.stats = stats;
  st = impasto_stylize_region (m, &in, 50, 8, &out, &o, &err);
  CHECK (st == IMPASTO_E_ARGUMENT && strstr (err.message, "not inside"), "outside: %s",
         err.message);
  o.rows = collect_rows;
  st = impasto_stylize_region (m, &in, 8, 8, &out, &o, &err);
  CHECK (st == IMPASTO_E_ARGUMENT && strstr (err.message, "rows"), "rows: %s", err.message);
  impasto_stats_free (stats);
  free (in.data);
  free (out.data);
}

int main (void)
{
  char path[4096];
  shared_path (path, sizeof path, "models/mosaic-9.onnx");
  ImpastoError err;
  ImpastoModel *m = impasto_model_load (path, &err);
  if (!m)
    return missing_data (err.message);
  test_sizes (m);
  test_alpha_gray_strength (m);
  test_streaming (m, "mosaic-9");
  test_rows (m);
  test_cancel_and_errors (m);
  test_regions (m, shared_path (path, sizeof path, "models/candy-9.onnx"));
  impasto_model_free (m);

  m = impasto_model_load (shared_path (path, sizeof path, "models/udnie-13-dynamic.onnx"), &err);
  CHECK (m != NULL, "udnie-13-dynamic: %s", err.message);
  if (m) {
    test_streaming (m, "udnie-13-dynamic");
    impasto_model_free (m);
  }
  return check_summary ();
}
