/* maxpool.c — 2-D max pooling (ONNX MaxPool, ceil_mode included), for the VGG encoders of AdaIN.
 * The pooled layers are small next to the convs around them: a plain loop is enough. */
#include "kernels.h"

#include <float.h>

static int64_t pooled (int64_t in, int k, int s, int p0, int p1, bool ceil_mode)
{
  int64_t span = in + p0 + p1 - k;
  if (span < 0)
    return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  /* ONNX (and PyTorch): the last window must start inside the input or the leading padding */
  if (ceil_mode && (out - 1) * s >= in + p0)
    out--;
  return out;
}

bool imp_maxpool_out_size (const ImpPoolShape *p, int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
  *oh = pooled (h, p->kh, p->sh, p->pt, p->pb, p->ceil_mode);
  *ow = pooled (w, p->kw, p->sw, p->pl, p->pr, p->ceil_mode);
  return *oh > 0 && *ow > 0;
}

void imp_maxpool_ref (const ImpPoolShape *p, int c, int64_t h, int64_t w, const float *x, float *y)
{
  int64_t oh, ow;
  if (!imp_maxpool_out_size (p, h, w, &oh, &ow))
    return;
  for (int ch = 0; ch < c; ch++) {
    const float *xp = x + (size_t) ch * (size_t) h * (size_t) w; /* [h, w] */
    for (int64_t oy = 0; oy < oh; oy++) {
      int64_t y0 = oy * p->sh - p->pt, y1 = y0 + p->kh;
      y0 = y0 < 0 ? 0 : y0;
      y1 = y1 > h ? h : y1;
      for (int64_t ox = 0; ox < ow; ox++) {
        int64_t x0 = ox * p->sw - p->pl, x1 = x0 + p->kw;
        x0 = x0 < 0 ? 0 : x0;
        x1 = x1 > w ? w : x1;
        float m = -FLT_MAX;
        for (int64_t yy = y0; yy < y1; yy++)
          for (int64_t xx = x0; xx < x1; xx++)
            m = xp[yy * w + xx] > m ? xp[yy * w + xx] : m;
        *y++ = m;
      }
    }
  }
}
