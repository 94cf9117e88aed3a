/* SPDX-License-Identifier: GPL-3.0-or-later */
/* winograd.c — Winograd F(4x4, 3x3) convolution; see winograd.h.
 *
 * Matrices (Lavin & Gray 2015, F(4x4, 3x3)):
 *   B^T = [ 4  0 -5  0  1  0 ]   G = [  1/4     0     0  ]   A^T = [ 1  1  1  1  1  0 ]
 *         [ 0 -4 -4  1  1  0 ]       [ -1/6  -1/6  -1/6 ]         [ 0  1 -1  2 -2  0 ]
 *         [ 0  4 -4 -1  1  0 ]       [ -1/6   1/6  -1/6 ]         [ 0  1  1  4  4  0 ]
 *         [ 0 -2 -1  2  1  0 ]       [  1/24  1/12  1/6 ]         [ 0  1 -1  8 -8  1 ]
 *         [ 0  2 -1 -2  1  0 ]       [  1/24 -1/12  1/6 ]
 *         [ 0  4  0 -5  0  1 ]       [   0     0     1  ]
 *
 * Data layout of one block of N tiles (per thread, reused for every block it runs):
 *   V [36, in_c, N]   transformed input       (xi = 6 * i + j, i along rows, j along columns)
 *   M [36, out_c, N]  M[xi] = U[xi] V[xi]     (U [36, out_c, in_c], packed at _new)
 * The transforms run over the N tiles of a tile row as the innermost, contiguous loop so that the
 * compiler vectorises them; they are compiled for AVX-512 / AVX2 / baseline and picked at load
 * time (target_clones), which keeps the build portable. */
#include "winograd.h"
#include "util.h"

#include <cblas.h>
#include <string.h>

#define WG_IN 6   /* input tile edge */
#define WG_OUT 4  /* output tile edge */
#define WG_XI 36  /* elements of a transformed tile */

/* Tiles per block: the block's V and M together are budgeted to about this many bytes so that
 * they stay in the 1-2 MiB L2 of current x86 cores; clamped to [WG_MIN_TILES, WG_MAX_TILES]. */
#define WG_BLOCK_BYTES (768 * 1024)
#define WG_MIN_TILES 16
#define WG_MAX_TILES 256

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define WG_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#else
#define WG_CLONES
#endif

struct ImpWinograd {
  ImpConvShape shape;
  float *u;    /* [36, out_c, in_c] transformed weights */
  float *bias; /* [out_c], zeros when the conv has none */
};

bool imp_winograd_eligible (const ImpConvShape *s)
{
  if (!s || s->kh != 3 || s->kw != 3 || s->stride_h != 1 || s->stride_w != 1 || s->dil_h != 1
      || s->dil_w != 1 || s->group != 1 || s->in_c < 1 || s->out_c < 1)
    return false;
  const int pads[4] = { s->pad_t, s->pad_l, s->pad_b, s->pad_r };
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0 || pads[i] > 2)
      return false;
  return s->pad_mode == IMP_PAD_CONSTANT || s->pad_mode == IMP_PAD_REFLECT
         || s->pad_mode == IMP_PAD_EDGE;
}

/* ------------------------------------------------------------------------------------------- */
/* Weight transform U = G g G^T, in double.                                                    */

static const double wg_g[WG_IN][3] = {
  { 1.0 / 4, 0, 0 },
  { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
  { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
  { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
  { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
  { 0, 0, 1 },
};

/* g [3, 3] -> u[xi * stride] for xi in 0..35 */
static void transform_kernel (const float *g, float *u, size_t stride)
{
  double t[WG_IN][3]; /* G g */
  for (int i = 0; i < WG_IN; i++)
    for (int c = 0; c < 3; c++)
      t[i][c] = wg_g[i][0] * g[c] + wg_g[i][1] * g[3 + c] + wg_g[i][2] * g[6 + c];
  for (int i = 0; i < WG_IN; i++)
    for (int j = 0; j < WG_IN; j++)
      u[(size_t) (i * WG_IN + j) * stride]
          = (float) (t[i][0] * wg_g[j][0] + t[i][1] * wg_g[j][1] + t[i][2] * wg_g[j][2]);
}

ImpWinograd *imp_winograd_new (const ImpConvShape *s, const float *weight, const float *bias,
                               ImpastoError *err)
{
  if (!imp_winograd_eligible (s)) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "winograd: conv shape is not a 3x3 stride-1 group-1 conv "
              "with pads 0..2");
    return NULL;
  }
  if (!weight) {
    imp_fail (err, IMPASTO_E_ARGUMENT, "winograd: no weights");
    return NULL;
  }
  ImpWinograd *wg = imp_alloc0 (1, sizeof *wg, "winograd", err);
  if (!wg)
    return NULL;
  wg->shape = *s;
  const size_t oc = (size_t) s->out_c, ic = (size_t) s->in_c;
  size_t plane;
  if (!imp_mul_size (oc, ic, &plane)) {
    imp_fail (err, IMPASTO_E_NOMEM, "winograd: %zu x %zu weights overflow", oc, ic);
    imp_winograd_free (wg);
    return NULL;
  }
  wg->u = imp_alloc (plane, WG_XI * sizeof (float), "winograd weights", err);
  wg->bias = imp_alloc0 (oc, sizeof (float), "winograd bias", err);
  if (!wg->u || !wg->bias) {
    imp_winograd_free (wg);
    return NULL;
  }
  for (size_t o = 0; o < oc; o++)
    for (size_t c = 0; c < ic; c++)
      transform_kernel (weight + (o * ic + c) * 9, wg->u + o * ic + c, plane);
  if (bias)
    memcpy (wg->bias, bias, oc * sizeof (float));
  return wg;
}

void imp_winograd_free (ImpWinograd *wg)
{
  if (!wg)
    return;
  imp_free (wg->u);
  imp_free (wg->bias);
  imp_free (wg);
}

/* ------------------------------------------------------------------------------------------- */
/* Transforms of one tile row segment (cols tiles), vectorised over the tiles.                  */

/* rows[k] (k < 6): the 6 input rows of the tile row, already padded: rows[k][4 * n + m] is element
 * (k, m) of tile n's 6x6 patch (4 * cols + 2 floats readable).  Writes V[xi * vstride + n].
 * tmp: 36 * cols floats. */
WG_CLONES
static void input_tile_row (const float *const *rows, int cols, float *v, size_t vstride,
                            float *tmp)
{
  /* along the columns: tmp[(k * 6 + j) * cols + n] = (d B)[k][j] */
  for (int k = 0; k < WG_IN; k++) {
    const float *restrict r = rows[k];
    float *restrict t0 = tmp + (size_t) (k * WG_IN) * cols;
    float *restrict t1 = t0 + cols, *restrict t2 = t1 + cols, *restrict t3 = t2 + cols;
    float *restrict t4 = t3 + cols, *restrict t5 = t4 + cols;
    for (int n = 0; n < cols; n++) {
      const float d0 = r[4 * n], d1 = r[4 * n + 1], d2 = r[4 * n + 2], d3 = r[4 * n + 3];
      const float d4 = r[4 * n + 4], d5 = r[4 * n + 5];
      t0[n] = 4.0f * d0 - 5.0f * d2 + d4;
      t1[n] = d3 + d4 - 4.0f * (d1 + d2);
      t2[n] = d4 - d3 + 4.0f * (d1 - d2);
      t3[n] = d4 - d2 + 2.0f * (d3 - d1);
      t4[n] = d4 - d2 - 2.0f * (d3 - d1);
      t5[n] = 4.0f * d1 - 5.0f * d3 + d5;
    }
  }
  /* along the rows: V[(i * 6 + j)] = (B^T (d B))[i][j] */
  for (int j = 0; j < WG_IN; j++) {
    const float *restrict s0 = tmp + (size_t) j * cols;
    const float *restrict s1 = s0 + 6 * (size_t) cols, *restrict s2 = s1 + 6 * (size_t) cols;
    const float *restrict s3 = s2 + 6 * (size_t) cols, *restrict s4 = s3 + 6 * (size_t) cols;
    const float *restrict s5 = s4 + 6 * (size_t) cols;
    float *restrict v0 = v + (size_t) j * vstride;
    float *restrict v1 = v0 + 6 * vstride, *restrict v2 = v1 + 6 * vstride;
    float *restrict v3 = v2 + 6 * vstride, *restrict v4 = v3 + 6 * vstride;
    float *restrict v5 = v4 + 6 * vstride;
    for (int n = 0; n < cols; n++) {
      const float d0 = s0[n], d1 = s1[n], d2 = s2[n], d3 = s3[n], d4 = s4[n], d5 = s5[n];
      v0[n] = 4.0f * d0 - 5.0f * d2 + d4;
      v1[n] = d3 + d4 - 4.0f * (d1 + d2);
      v2[n] = d4 - d3 + 4.0f * (d1 - d2);
      v3[n] = d4 - d2 + 2.0f * (d3 - d1);
      v4[n] = d4 - d2 - 2.0f * (d3 - d1);
      v5[n] = 4.0f * d1 - 5.0f * d3 + d5;
    }
  }
}

/* m[xi * mstride + n]: the GEMM result of tile n.  Writes out[r][4 * n + c] = (A^T m A)[r][c] +
 * bias for r, c < 4 (4 rows of 4 * cols floats).  tmp: 24 * cols floats. */
WG_CLONES
static void output_tile_row (const float *m, size_t mstride, int cols, float bias,
                             float *const *out, float *tmp)
{
  /* along the columns: tmp[(i * 4 + c) * cols + n] = (m A)[i][c] */
  for (int i = 0; i < WG_IN; i++) {
    const float *restrict m0 = m + (size_t) (i * WG_IN) * mstride;
    const float *restrict m1 = m0 + mstride, *restrict m2 = m1 + mstride;
    const float *restrict m3 = m2 + mstride, *restrict m4 = m3 + mstride;
    const float *restrict m5 = m4 + mstride;
    float *restrict t0 = tmp + (size_t) (i * WG_OUT) * cols;
    float *restrict t1 = t0 + cols, *restrict t2 = t1 + cols, *restrict t3 = t2 + cols;
    for (int n = 0; n < cols; n++) {
      const float a1 = m1[n] + m2[n], b1 = m1[n] - m2[n];
      const float a2 = m3[n] + m4[n], b2 = m3[n] - m4[n];
      t0[n] = m0[n] + a1 + a2;
      t1[n] = b1 + 2.0f * b2;
      t2[n] = a1 + 4.0f * a2;
      t3[n] = b1 + 8.0f * b2 + m5[n];
    }
  }
  /* along the rows, then interleave the 4 columns of every tile into the output rows */
  float *restrict o0 = out[0], *restrict o1 = out[1], *restrict o2 = out[2],
                  *restrict o3 = out[3];
  const size_t step = (size_t) WG_OUT * cols; /* tmp rows i -> i + 1 */
  for (int c = 0; c < WG_OUT; c++) {
    const float *restrict s0 = tmp + (size_t) c * cols;
    const float *restrict s1 = s0 + step, *restrict s2 = s1 + step, *restrict s3 = s2 + step;
    const float *restrict s4 = s3 + step, *restrict s5 = s4 + step;
    for (int n = 0; n < cols; n++) {
      const float a1 = s1[n] + s2[n], b1 = s1[n] - s2[n];
      const float a2 = s3[n] + s4[n], b2 = s3[n] - s4[n];
      o0[4 * n + c] = s0[n] + a1 + a2 + bias;
      o1[4 * n + c] = b1 + 2.0f * b2 + bias;
      o2[4 * n + c] = a1 + 4.0f * a2 + bias;
      o3[4 * n + c] = b1 + 8.0f * b2 + s5[n] + bias;
    }
  }
}

/* ------------------------------------------------------------------------------------------- */
/* Blocked driver.                                                                              */

typedef struct {
  const ImpWinograd *wg;
  int h, w, oh, ow;
  int tiles_y, tiles_x;
  int band_rows, seg_cols; /* block = band_rows tile rows x seg_cols tile columns */
  int n_segs;
  const float *x;
  float *y;
  float *scratch;          /* per thread: scratch_floats */
  size_t scratch_floats;
  int *colmaps;            /* per thread: colmap_ints */
  size_t colmap_ints;
} WgRun;

/* Per-thread scratch (floats), each part rounded to 16 floats (64 bytes). */
typedef struct {
  size_t v, m, rowbuf, zero, tmp, orow, total;
} WgScratch;

static size_t round16 (size_t n)
{
  return (n + 15) & ~(size_t) 15;
}

static bool scratch_layout (int in_c, int out_c, int band_rows, int seg_cols, WgScratch *sc)
{
  size_t n_tiles = (size_t) band_rows * (size_t) seg_cols, row = 4 * (size_t) seg_cols + 4;
  if (!imp_mul_size (n_tiles, (size_t) WG_XI * (size_t) in_c, &sc->v)
      || !imp_mul_size (n_tiles, (size_t) WG_XI * (size_t) out_c, &sc->m))
    return false;
  sc->v = round16 (sc->v);
  sc->m = round16 (sc->m);
  sc->rowbuf = round16 (WG_IN * row);
  sc->zero = round16 (row);
  sc->tmp = round16 (WG_XI * (size_t) seg_cols);
  sc->orow = round16 (WG_OUT * row);
  sc->total = sc->v + sc->m + sc->rowbuf + sc->zero + sc->tmp + sc->orow;
  return sc->total >= sc->v + sc->m; /* sizes are far from SIZE_MAX once v, m fit */
}

/* Index in [0, n) of padded coordinate i of a dimension with pads lo, hi, or -1 for zero: constant
 * padding, or beyond the padded extent (only read by partial edge tiles, whose extra outputs are
 * discarded). */
static int pad_map (int i, int n, int lo, int hi, ImpPadMode mode)
{
  if (i < -lo || i >= n + hi)
    return -1;
  return (int) imp_pad_index (i, n, mode);
}

static void wg_task (void *ctx, int64_t task, int thread)
{
  const WgRun *run = ctx;
  const ImpWinograd *wg = run->wg;
  const ImpConvShape *s = &wg->shape;
  const int ic = s->in_c, oc = s->out_c;
  const int seg = (int) (task % run->n_segs), band = (int) (task / run->n_segs);
  const int ty0 = band * run->band_rows, tx0 = seg * run->seg_cols;
  const int rows = IMP_MIN (run->band_rows, run->tiles_y - ty0);
  const int cols = IMP_MIN (run->seg_cols, run->tiles_x - tx0);
  const size_t n_tiles = (size_t) rows * (size_t) cols;

  WgScratch sc = { 0 };
  scratch_layout (ic, oc, run->band_rows, run->seg_cols, &sc); /* checked in imp_winograd_run */
  float *v = run->scratch + (size_t) thread * run->scratch_floats; /* [36, ic, n_tiles] */
  float *m = v + sc.v;                                              /* [36, oc, n_tiles] */
  float *rowbuf = m + sc.m, *zero = rowbuf + sc.rowbuf, *tmp = zero + sc.zero;
  float *orow = tmp + sc.tmp;
  int *colmap = run->colmaps + (size_t) thread * run->colmap_ints;
  const size_t row_len = 4 * (size_t) run->seg_cols + 4;

  /* input columns of the segment: x0 .. x0 + span - 1 in padded coordinates */
  const int x0 = tx0 * WG_OUT - s->pad_l, span = WG_OUT * cols + 2;
  const bool interior_cols = x0 >= 0 && x0 + span <= run->w;
  if (!interior_cols)
    for (int j = 0; j < span; j++)
      colmap[j] = pad_map (x0 + j, run->w, s->pad_l, s->pad_r, s->pad_mode);
  memset (zero, 0, row_len * sizeof (float));

  /* 1. input transform -> V */
  const size_t plane = (size_t) run->h * (size_t) run->w;
  const size_t vstride = (size_t) ic * n_tiles;
  for (int c = 0; c < ic; c++) {
    const float *xc = run->x + (size_t) c * plane;
    for (int r = 0; r < rows; r++) {
      const float *in_rows[WG_IN];
      for (int k = 0; k < WG_IN; k++) {
        int yi = pad_map ((ty0 + r) * WG_OUT - s->pad_t + k, run->h, s->pad_t, s->pad_b,
                          s->pad_mode);
        if (yi < 0) {
          in_rows[k] = zero;
        } else if (interior_cols) {
          in_rows[k] = xc + (size_t) yi * run->w + x0;
        } else {
          const float *src = xc + (size_t) yi * run->w;
          float *dst = rowbuf + (size_t) k * row_len;
          for (int j = 0; j < span; j++)
            dst[j] = colmap[j] < 0 ? 0.0f : src[colmap[j]];
          in_rows[k] = dst;
        }
      }
      input_tile_row (in_rows, cols, v + (size_t) c * n_tiles + (size_t) r * cols, vstride, tmp);
    }
  }

  /* 2. M[xi] = U[xi] V[xi]: [oc, ic] x [ic, n_tiles] */
  const size_t uplane = (size_t) oc * (size_t) ic, mstride = (size_t) oc * n_tiles;
  for (int xi = 0; xi < WG_XI; xi++)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, oc, (int) n_tiles, ic, 1.0f,
                 wg->u + xi * uplane, ic, v + xi * vstride, (int) n_tiles, 0.0f, m + xi * mstride,
                 (int) n_tiles);

  /* 3. output transform + bias -> y */
  const size_t oplane = (size_t) run->oh * (size_t) run->ow;
  const int ox0 = tx0 * WG_OUT, valid_cols = IMP_MIN (WG_OUT * cols, run->ow - ox0);
  for (int o = 0; o < oc; o++) {
    float *yo = run->y + (size_t) o * oplane;
    for (int r = 0; r < rows; r++) {
      const int oy0 = (ty0 + r) * WG_OUT;
      const bool direct = oy0 + WG_OUT <= run->oh && valid_cols == WG_OUT * cols;
      float *out_rows[WG_OUT];
      for (int k = 0; k < WG_OUT; k++)
        out_rows[k] = direct ? yo + (size_t) (oy0 + k) * run->ow + ox0 : orow + k * row_len;
      output_tile_row (m + (size_t) o * n_tiles + (size_t) r * cols, mstride, cols, wg->bias[o],
                       out_rows, tmp);
      if (!direct)
        for (int k = 0; k < WG_OUT && oy0 + k < run->oh; k++)
          memcpy (yo + (size_t) (oy0 + k) * run->ow + ox0, out_rows[k],
                  (size_t) valid_cols * sizeof (float));
    }
  }
}

/* Choose the block shape: about WG_BLOCK_BYTES of V + M, whole tile rows when they fit, and
 * enough blocks to keep every thread busy. */
static void plan_blocks (WgRun *run, int in_c, int out_c, int threads)
{
  size_t per_tile = (size_t) WG_XI * ((size_t) in_c + (size_t) out_c) * sizeof (float);
  size_t target = WG_BLOCK_BYTES / per_tile;
  target = IMP_MAX (target, (size_t) WG_MIN_TILES);
  target = IMP_MIN (target, (size_t) WG_MAX_TILES);
  int seg = (int) IMP_MIN ((size_t) run->tiles_x, target);
  run->n_segs = (run->tiles_x + seg - 1) / seg;
  run->seg_cols = (run->tiles_x + run->n_segs - 1) / run->n_segs; /* balance the segments */
  int band = (int) IMP_MAX ((size_t) 1, target / (size_t) run->seg_cols);
  band = IMP_MIN (band, run->tiles_y);
  /* at least ~4 blocks per thread for load balance when the image allows it */
  while (band > 1
         && (int64_t) ((run->tiles_y + band - 1) / band) * run->n_segs < 4 * (int64_t) threads)
    band = (band + 1) / 2;
  run->band_rows = band;
}

ImpastoStatus imp_winograd_run (const ImpWinograd *wg, int h, int w, const float *x, float *y,
                                ImpPool *pool, ImpastoError *err)
{
  if (!wg || !x || !y)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "winograd: NULL argument");
  const ImpConvShape *s = &wg->shape;
  if (h < 1 || w < 1)
    return imp_fail (err, IMPASTO_E_SHAPE, "winograd: empty input %d x %d", h, w);
  if (s->pad_mode == IMP_PAD_REFLECT
      && (s->pad_t >= h || s->pad_b >= h || s->pad_l >= w || s->pad_r >= w))
    return imp_fail (err, IMPASTO_E_SHAPE, "winograd: reflect pads must be smaller than the "
                     "input %d x %d", h, w);
  WgRun run = { .wg = wg, .h = h, .w = w, .x = x, .y = y };
  run.oh = h + s->pad_t + s->pad_b - 2;
  run.ow = w + s->pad_l + s->pad_r - 2;
  if (run.oh < 1 || run.ow < 1)
    return imp_fail (err, IMPASTO_E_SHAPE, "winograd: input %d x %d gives an empty output", h, w);
  run.tiles_y = (run.oh + WG_OUT - 1) / WG_OUT;
  run.tiles_x = (run.ow + WG_OUT - 1) / WG_OUT;
  const int threads = imp_pool_threads (pool);
  plan_blocks (&run, s->in_c, s->out_c, threads);

  WgScratch sc;
  if (!scratch_layout (s->in_c, s->out_c, run.band_rows, run.seg_cols, &sc))
    return imp_fail (err, IMPASTO_E_NOMEM, "winograd: scratch size overflows");
  run.scratch_floats = sc.total;
  run.colmap_ints = round16 (4 * (size_t) run.seg_cols + 4);
  size_t all_floats;
  if (!imp_mul_size ((size_t) threads, sc.total, &all_floats))
    return imp_fail (err, IMPASTO_E_NOMEM, "winograd: scratch size overflows");
  run.scratch = imp_alloc (all_floats, sizeof (float), "winograd scratch", err);
  if (!run.scratch)
    return err ? err->code : IMPASTO_E_NOMEM;
  run.colmaps = imp_alloc ((size_t) threads * run.colmap_ints, sizeof (int), "winograd colmap",
                           err);
  if (!run.colmaps) {
    imp_free (run.scratch);
    return err ? err->code : IMPASTO_E_NOMEM;
  }
  int64_t n_tasks = (int64_t) ((run.tiles_y + run.band_rows - 1) / run.band_rows) * run.n_segs;
  imp_pool_run (pool, n_tasks, wg_task, &run);
  imp_free (run.scratch);
  imp_free (run.colmaps);
  return IMPASTO_OK;
}
