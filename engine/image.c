/* image.c — see image.h.  Colour preservation takes the luma (BT.601 Y') of the stylised pixel and
 * the chroma of the original: in Y'CbCr, keeping Cb and Cr while replacing Y' is the same as adding
 * the luma difference to R', G' and B'.  Strength blends the result with the original. */
#include "image.h"
#include "util.h"

static size_t row_stride (const ImpastoImage *im)
{
  return im->stride ? im->stride : (size_t) im->width * (size_t) im->channels;
}

static float get (const ImpastoImage *im, int64_t x, int64_t y, int c)
{
  size_t i = (size_t) y * row_stride (im) + (size_t) x * (size_t) im->channels + (size_t) c;
  return im->type == IMPASTO_PIXEL_U8 ? im->data_u8[i] * (1.0f / 255.0f) : im->data[i];
}

static float clamp01 (float v)
{
  return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static void set (ImpastoImage *im, int64_t x, int64_t y, int c, float v)
{
  size_t i = (size_t) y * row_stride (im) + (size_t) x * (size_t) im->channels + (size_t) c;
  if (im->type == IMPASTO_PIXEL_U8)
    im->data_u8[i] = (uint8_t) (clamp01 (v) * 255.0f + 0.5f);
  else
    im->data[i] = v;
}

static void get_rgb (const ImpastoImage *im, int64_t x, int64_t y, float rgb[3])
{
  if (im->channels >= 3) {
    for (int c = 0; c < 3; c++)
      rgb[c] = get (im, x, y, c);
  } else {
    rgb[0] = rgb[1] = rgb[2] = get (im, x, y, 0);
  }
}

void imp_image_get_rgb (const ImpastoImage *im, int64_t x, int64_t y, float rgb[3])
{
  get_rgb (im, x, y, rgb);
}

static float luma (const float rgb[3])
{
  return 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
}

static bool has_data (const ImpastoImage *im)
{
  return im->type == IMPASTO_PIXEL_U8 ? im->data_u8 != NULL
       : im->type == IMPASTO_PIXEL_FLOAT ? im->data != NULL : false;
}

ImpastoStatus imp_image_check (const ImpastoImage *in, const ImpastoImage *out,
                               const ImpastoOptions *o, ImpastoError *err)
{
  if (!in || !out || !o || !has_data (in) || !has_data (out))
    return imp_fail (err, IMPASTO_E_ARGUMENT, "missing image data or options");
  if (in->width < 1 || in->height < 1 || in->channels < 1 || in->channels > 4)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "invalid image: %d x %d with %d channels",
                     in->width, in->height, in->channels);
  if (o->rows ? out->width != in->width || out->height < 1
              : out->width != in->width || out->height != in->height)
    return imp_fail (err, IMPASTO_E_ARGUMENT, o->rows
                     ? "the output row buffer must have the input's width and at least one row"
                     : "the output image must have the input's size and channels");
  if (out->channels != in->channels)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "the output image must have the input's channels");
  if (row_stride (in) < (size_t) in->width * (size_t) in->channels
      || row_stride (out) < (size_t) out->width * (size_t) out->channels)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "image stride is smaller than a row");
  if (in->width > (1 << 20) || in->height > (1 << 20))
    return imp_fail (err, IMPASTO_E_ARGUMENT, "image too large: %d x %d", in->width, in->height);
  if (!(o->strength >= 0.0f && o->strength <= 1.0f))
    return imp_fail (err, IMPASTO_E_ARGUMENT, "strength must be between 0 and 1 (got %g)",
                     o->strength);
  if (o->tile_size < -1)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "tile size must be -1 (automatic), 0 or positive");
  if (o->batchnorm != IMPASTO_BATCHNORM_AUTO && o->batchnorm != IMPASTO_BATCHNORM_RUNNING
      && o->batchnorm != IMPASTO_BATCHNORM_IMAGE)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "unknown batch norm mode %d", (int) o->batchnorm);
  return IMPASTO_OK;
}

/* Mirror coordinate i (>= 0) into [0, n): reflection without repeating the edge pixel, repeated
 * as often as needed. */
static int64_t mirror (int64_t i, int64_t n)
{
  if (n == 1)
    return 0;
  int64_t period = 2 * (n - 1), r = i % period;
  return r < n ? r : period - r;
}

typedef struct {
  const ImpastoModel *m;
  const ImpastoImage *in;
  ImpastoImage *out;
  const ImpastoOptions *o;
  const float *styled;
  float *dst;
  int64_t r0, n, width; /* band start, band rows, planar row width */
  int64_t first;        /* compose_row: band row of job row 0 */
  int64_t out_y0;       /* compose_row: image row held in out's row 0 */
} RowJob;

static void input_row (void *ctx, int64_t i, int thread)
{
  const RowJob *j = ctx;
  size_t plane = (size_t) j->n * (size_t) j->width;
  int64_t y = mirror (j->r0 + i, j->in->height);
  float scale = j->m->in_scale, offset = j->m->in_offset;
  for (int64_t x = 0; x < j->width; x++) {
    float rgb[3];
    get_rgb (j->in, mirror (x, j->in->width), y, rgb);
    for (int c = 0; c < 3; c++) /* [3, n, width] */
      j->dst[(size_t) c * plane + (size_t) i * (size_t) j->width + (size_t) x] = rgb[c] * scale + offset;
  }
}

void imp_image_input_rows (const ImpastoModel *m, const ImpastoImage *in, int64_t r0, int64_t r1,
                           int64_t pw, float *dst, ImpPool *pool)
{
  RowJob j = { .m = m, .in = in, .dst = dst, .r0 = r0, .n = r1 - r0, .width = pw };
  imp_pool_run (pool, r1 - r0, input_row, &j);
}

static void compose_row (void *ctx, int64_t i, int thread)
{
  const RowJob *j = ctx;
  const ImpastoImage *in = j->in;
  i += j->first;
  int64_t y = j->r0 + i, oy = y - j->out_y0;
  size_t plane = (size_t) j->n * (size_t) j->width;
  const float *s = j->styled + (size_t) i * (size_t) j->width;
  float k = j->o->strength, scale = j->m->out_scale, offset = j->m->out_offset;
  for (int64_t x = 0; x < in->width; x++) {
    float orig[3], st[3], res[3];
    get_rgb (in, x, y, orig);
    for (int c = 0; c < 3; c++)
      st[c] = clamp01 ((s[(size_t) c * plane + (size_t) x] - offset) / scale);
    if (j->o->preserve_colors) {
      float dy = luma (st) - luma (orig);
      for (int c = 0; c < 3; c++)
        st[c] = clamp01 (orig[c] + dy);
    }
    for (int c = 0; c < 3; c++)
      res[c] = k == 1.0f ? st[c] : orig[c] + k * (st[c] - orig[c]);
    if (in->channels >= 3) {
      for (int c = 0; c < 3; c++)
        set (j->out, x, oy, c, res[c]);
    } else {
      set (j->out, x, oy, 0, clamp01 (luma (res)));
    }
    if (in->channels == 2 || in->channels == 4) /* alpha passes through */
      set (j->out, x, oy, in->channels - 1, get (in, x, y, in->channels - 1));
  }
}

ImpastoStatus imp_image_compose_rows (const ImpastoModel *m, const ImpastoImage *in,
                                      const float *styled, int64_t r0, int64_t r1, int64_t tw,
                                      const ImpastoOptions *o, ImpastoImage *out, ImpPool *pool,
                                      ImpastoError *err)
{
  RowJob j = { .m = m, .in = in, .out = out, .o = o, .styled = styled, .r0 = r0, .n = r1 - r0,
               .width = tw };
  r1 = IMP_MIN (r1, (int64_t) in->height); /* padding rows are dropped */
  if (r1 <= r0)
    return IMPASTO_OK;
  if (!o->rows) {
    imp_pool_run (pool, r1 - r0, compose_row, &j);
    return IMPASTO_OK;
  }
  /* Row y sits in buffer row y mod height: rows arrive in order, so which rows the buffer holds
   * and when it is full follow from y alone, with no state kept between bands. */
  int64_t bh = out->height;
  for (int64_t a = r0; a < r1;) {
    int64_t start = a - a % bh, b = IMP_MIN (r1, start + bh);
    j.first = a - r0;
    j.out_y0 = start;
    imp_pool_run (pool, b - a, compose_row, &j);
    if (b == start + bh || b == in->height) {
      ImpastoImage rows = *out;
      rows.height = (int) (b - start);
      ImpastoStatus st = imp_image_hand_rows (o, &rows, (int) start, err);
      if (st)
        return st;
    }
    a = b;
  }
  return IMPASTO_OK;
}

ImpastoStatus imp_image_hand_rows (const ImpastoOptions *o, const ImpastoImage *rows, int y,
                                   ImpastoError *err)
{
  if (!o->rows (rows, y, o->rows_data))
    return imp_fail (err, IMPASTO_E_CANCELLED, "stopped by the output rows callback");
  return IMPASTO_OK;
}
