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
 * The 36 products M[xi] = U[xi] V[xi] (xi = 6 * i + j) are small GEMMs: [out_c, in_c] x
 * [in_c, tiles of a block].  Calling a BLAS per product costs a repacking of V on every call
 * (measured: ~30% of the time with OpenBLAS), so the transforms write and read the layouts a
 * register-blocked micro-kernel consumes directly:
 *   U [36, out_c / 8, in_c, 8]       weights, 8 output channels interleaved (zero-padded), at _new
 *   V [36, panels, in_c, 16]         transformed input, 16 tiles per panel
 *   M [36, panels, out_c8, 16]       products (out_c8 = out_c rounded up to 8)
 * One block = a band of tile rows x a segment of tile columns; every tile row of the block starts
 * a new panel (tail tiles of a row are zero).  The block's V and M stay in the core's L2.
 *
 * The micro-kernel comes in AVX-512, AVX2+FMA and portable C flavours chosen at run time with
 * imp_isa (cpuid); the transforms are compiled for AVX-512 / AVX2 / baseline with
 * target_clones.  No -march flags are needed, so the build stays portable. */
#include "winograd.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define WG_X86 1
#include <immintrin.h>
#define WG_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#else
#define WG_X86 0
#define WG_CLONES
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define WG_IVDEP _Pragma ("GCC ivdep")
#else
#define WG_IVDEP
#endif

#define WG_IN 6     /* input tile edge */
#define WG_OUT 4    /* output tile edge */
#define WG_XI 36    /* elements of a transformed tile */
#define WG_PANEL 16 /* tiles per panel (one AVX-512 vector) */
#define WG_OCB 8    /* output channels per micro-kernel block */
#define WG_SKEW 16  /* floats of padding after each xi slice of V and M */

/* Tiles per block: the block's V and M together are budgeted to about this many bytes.  Small
 * blocks keep V and M in L2 but re-stream all of U (36 * in_c * out_c floats, 2.4 MB at 128x128)
 * from L3 for every block; measured best on a Zen 4 (1 MB L2) was about 2 MB, i.e. 64 tiles
 * at 128 -> 128 channels. */
#define WG_BLOCK_BYTES (2048 * 1024)
#define WG_MAX_TILES 256

/* M[xi] for one xi: u [n_ob, ic, 8], v [n_panels, ic, 16] -> m [n_panels, n_ob * 8, 16] */
typedef void (*WgGemmFunc) (const float *u, const float *v, float *m, int ic, int n_ob,
                            int n_panels);

struct ImpWinograd {
  ImpConvShape shape;
  int out_c8;      /* out_c rounded up to WG_OCB */
  float *u;        /* [36, out_c8 / 8, in_c, 8] transformed weights */
  float *bias;     /* [out_c], zeros when the conv has none */
  WgGemmFunc gemm;
  bool avx2;       /* use the AVX2 row transforms (which order the tiles of 8-groups as
                      0 2 4 6 1 3 5 7 in V and M; see bt_row_avx2) */
};

static bool pick_avx2_transforms (void);

bool imp_winograd_eligible (const ImpConvShape *s)
{
  return imp_conv_fast_shape (s, 3, 1, 2);
}

/* ------------------------------------------------------------------------------------------- */
/* Micro-kernels.                                                                               */

static void gemm_generic (const float *u, const float *v, float *m, int ic, int n_ob,
                          int n_panels)
{
  const size_t v_panel = (size_t) ic * WG_PANEL, m_panel = (size_t) n_ob * WG_OCB * WG_PANEL;
  for (int p = 0; p < n_panels; p++) {
    const float *vp = v + p * v_panel;
    for (int ob = 0; ob < n_ob; ob++) {
      const float *ub = u + (size_t) ob * ic * WG_OCB;
      float acc[WG_OCB][WG_PANEL] = { { 0 } };
      for (int c = 0; c < ic; c++)
        for (int i = 0; i < WG_OCB; i++)
          for (int n = 0; n < WG_PANEL; n++)
            acc[i][n] += ub[c * WG_OCB + i] * vp[c * WG_PANEL + n];
      memcpy (m + p * m_panel + (size_t) ob * WG_OCB * WG_PANEL, acc, sizeof acc);
    }
  }
}

#if WG_X86
/* 8 output channels x 2 panels (32 tiles) = 16 zmm accumulators; a single panel for the tail. */
__attribute__ ((target ("avx512f"))) static void
gemm_avx512 (const float *u, const float *v, float *m, int ic, int n_ob, int n_panels)
{
  const size_t v_panel = (size_t) ic * WG_PANEL, m_panel = (size_t) n_ob * WG_OCB * WG_PANEL;
  int p = 0;
  for (; p + 2 <= n_panels; p += 2) {
    const float *v0 = v + p * v_panel, *v1 = v0 + v_panel;
    for (int ob = 0; ob < n_ob; ob++) {
      const float *w = u + (size_t) ob * ic * WG_OCB;
      __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
      __m512 a7 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
      for (int c = 0; c < ic; c++, w += WG_OCB) {
        const __m512 x0 = _mm512_loadu_ps (v0 + c * WG_PANEL);
        const __m512 x1 = _mm512_loadu_ps (v1 + c * WG_PANEL);
        __m512 k;
#define WG_STEP(i)                                                                              \
  k = _mm512_set1_ps (w[i]);                                                                    \
  a##i = _mm512_fmadd_ps (k, x0, a##i);                                                         \
  b##i = _mm512_fmadd_ps (k, x1, b##i);
        WG_STEP (0) WG_STEP (1) WG_STEP (2) WG_STEP (3)
        WG_STEP (4) WG_STEP (5) WG_STEP (6) WG_STEP (7)
#undef WG_STEP
      }
      float *m0 = m + p * m_panel + (size_t) ob * WG_OCB * WG_PANEL, *m1 = m0 + m_panel;
#define WG_STORE(i)                                                                             \
  _mm512_storeu_ps (m0 + i * WG_PANEL, a##i);                                                   \
  _mm512_storeu_ps (m1 + i * WG_PANEL, b##i);
      WG_STORE (0) WG_STORE (1) WG_STORE (2) WG_STORE (3)
      WG_STORE (4) WG_STORE (5) WG_STORE (6) WG_STORE (7)
#undef WG_STORE
    }
  }
  for (; p < n_panels; p++) {
    const float *v0 = v + p * v_panel;
    for (int ob = 0; ob < n_ob; ob++) {
      const float *w = u + (size_t) ob * ic * WG_OCB;
      __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0;
      __m512 a7 = a0;
      for (int c = 0; c < ic; c++, w += WG_OCB) {
        const __m512 x0 = _mm512_loadu_ps (v0 + c * WG_PANEL);
#define WG_STEP(i) a##i = _mm512_fmadd_ps (_mm512_set1_ps (w[i]), x0, a##i);
        WG_STEP (0) WG_STEP (1) WG_STEP (2) WG_STEP (3)
        WG_STEP (4) WG_STEP (5) WG_STEP (6) WG_STEP (7)
#undef WG_STEP
      }
      float *m0 = m + p * m_panel + (size_t) ob * WG_OCB * WG_PANEL;
#define WG_STORE(i) _mm512_storeu_ps (m0 + i * WG_PANEL, a##i);
      WG_STORE (0) WG_STORE (1) WG_STORE (2) WG_STORE (3)
      WG_STORE (4) WG_STORE (5) WG_STORE (6) WG_STORE (7)
#undef WG_STORE
    }
  }
}

/* 8 output channels x 8 tiles (half a panel) = 8 ymm accumulators. */
__attribute__ ((target ("avx2,fma"))) static void
gemm_avx2 (const float *u, const float *v, float *m, int ic, int n_ob, int n_panels)
{
  const size_t v_panel = (size_t) ic * WG_PANEL, m_panel = (size_t) n_ob * WG_OCB * WG_PANEL;
  for (int p = 0; p < n_panels; p++)
    for (int ob = 0; ob < n_ob; ob++)
      for (int half = 0; half < WG_PANEL; half += 8) {
        const float *w = u + (size_t) ob * ic * WG_OCB, *x = v + p * v_panel + half;
        __m256 a0 = _mm256_setzero_ps (), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        __m256 a6 = a0, a7 = a0;
        for (int c = 0; c < ic; c++, w += WG_OCB) {
          const __m256 x0 = _mm256_loadu_ps (x + c * WG_PANEL);
#define WG_STEP(i) a##i = _mm256_fmadd_ps (_mm256_broadcast_ss (w + i), x0, a##i);
          WG_STEP (0) WG_STEP (1) WG_STEP (2) WG_STEP (3)
          WG_STEP (4) WG_STEP (5) WG_STEP (6) WG_STEP (7)
#undef WG_STEP
        }
        float *m0 = m + p * m_panel + (size_t) ob * WG_OCB * WG_PANEL + half;
#define WG_STORE(i) _mm256_storeu_ps (m0 + i * WG_PANEL, a##i);
        WG_STORE (0) WG_STORE (1) WG_STORE (2) WG_STORE (3)
        WG_STORE (4) WG_STORE (5) WG_STORE (6) WG_STORE (7)
#undef WG_STORE
      }
}
#endif

/* The best micro-kernel the CPU runs.  IMPASTO_WINOGRAD_ISA=c|avx2 caps the choice (the tests
 * use it to check every flavour on one machine). */
static WgGemmFunc pick_gemm (void)
{
  switch (imp_isa ("IMPASTO_WINOGRAD_ISA")) {
#if WG_X86
  case IMP_ISA_AVX512: return gemm_avx512;
  case IMP_ISA_AVX2: return gemm_avx2;
#endif
  default: return gemm_generic;
  }
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

/* U = G g G^T for the kernels g = weight[o0 + l, c] of WG_OCB output channels side by side
 * (lanes l >= n_o: zeros), written to u[xi * stride + l]: one 8-float group of the packed layout
 * per xi.  Vectorised over the lanes (the load of a ResNet generator at ngf 64 made 1.2 million
 * transforms: 0.3 s one at a time); in double, the same arithmetic as one kernel at a time. */
WG_CLONES
static void transform_kernels (const float *weight, size_t ic, size_t c, size_t o0, int n_o,
                               float *u, size_t stride)
{
  double g[9][WG_OCB];
  for (int k = 0; k < 9; k++)
    for (int l = 0; l < WG_OCB; l++)
      g[k][l] = l < n_o ? weight[((o0 + (size_t) l) * ic + c) * 9 + (size_t) k] : 0.0;
  double t[WG_IN][3][WG_OCB]; /* G g */
  for (int i = 0; i < WG_IN; i++)
    for (int col = 0; col < 3; col++)
      for (int l = 0; l < WG_OCB; l++)
        t[i][col][l] = wg_g[i][0] * g[col][l] + wg_g[i][1] * g[3 + col][l]
                       + wg_g[i][2] * g[6 + col][l];
  for (int i = 0; i < WG_IN; i++)
    for (int j = 0; j < WG_IN; j++) {
      float *dst = u + (size_t) (i * WG_IN + j) * stride;
      for (int l = 0; l < WG_OCB; l++)
        dst[l] = (float) (t[i][0][l] * wg_g[j][0] + t[i][1][l] * wg_g[j][1]
                          + t[i][2][l] * wg_g[j][2]);
    }
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
  wg->gemm = pick_gemm ();
  wg->avx2 = pick_avx2_transforms ();
  const size_t oc = (size_t) s->out_c, ic = (size_t) s->in_c;
  const size_t oc8 = (oc + WG_OCB - 1) / WG_OCB * WG_OCB;
  wg->out_c8 = (int) oc8;
  size_t plane; /* one xi: oc8 * ic */
  if (!imp_mul_size (oc8, ic, &plane)) {
    imp_fail (err, IMPASTO_E_NOMEM, "winograd: %zu x %zu weights overflow", oc, ic);
    imp_winograd_free (wg);
    return NULL;
  }
  wg->u = imp_alloc (plane, WG_XI * sizeof (float), "winograd weights", err); /* all written */
  wg->bias = imp_alloc0 (oc, sizeof (float), "winograd bias", err);
  if (!wg->u || !wg->bias) {
    imp_winograd_free (wg);
    return NULL;
  }
  /* U[xi][o / 8][c][o % 8]; the output channels past oc get zeros */
  for (size_t o0 = 0; o0 < oc8; o0 += WG_OCB)
    for (size_t c = 0; c < ic; c++)
      transform_kernels (weight, ic, c, o0, (int) IMP_MIN ((size_t) WG_OCB, oc - IMP_MIN (oc, o0)),
                         wg->u + o0 * ic + c * WG_OCB, plane);
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
/* Transforms of one tile row segment, vectorised over its tiles.                               */

/* The 1-D transforms, on n tiles side by side.  Each takes its operands as restrict parameters
 * (gcc only trusts restrict reliably there), and ivdep tells it that the 6 output lines do not
 * overlap (it would otherwise need more run-time alias checks than it is willing to emit), so
 * that the loops over the tiles vectorise. */

/* out[i * os + x] = (B^T in)[i] for the 6 inputs in[k * is + x], x < n */
static inline void bt_lines (const float *restrict in, size_t is, float *restrict out, size_t os,
                             int n)
{
  WG_IVDEP for (int x = 0; x < n; x++) {
    const float d0 = in[x], d1 = in[is + x], d2 = in[2 * is + x], d3 = in[3 * is + x];
    const float d4 = in[4 * is + x], d5 = in[5 * is + x];
    out[x] = 4.0f * d0 - 5.0f * d2 + d4;
    out[os + x] = d3 + d4 - 4.0f * (d1 + d2);
    out[2 * os + x] = d4 - d3 + 4.0f * (d1 - d2);
    out[3 * os + x] = d4 - d2 + 2.0f * (d3 - d1);
    out[4 * os + x] = d4 - d2 - 2.0f * (d3 - d1);
    out[5 * os + x] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}

/* out[j * os + x] = (B^T d_x)[j] where d_x = row[4x .. 4x + 5], x < n (tiles along a row) */
static inline void bt_row (const float *restrict row, float *restrict out, size_t os, int n)
{
  WG_IVDEP for (int x = 0; x < n; x++) {
    const float d0 = row[4 * x], d1 = row[4 * x + 1], d2 = row[4 * x + 2];
    const float d3 = row[4 * x + 3], d4 = row[4 * x + 4], d5 = row[4 * x + 5];
    out[x] = 4.0f * d0 - 5.0f * d2 + d4;
    out[os + x] = d3 + d4 - 4.0f * (d1 + d2);
    out[2 * os + x] = d4 - d3 + 4.0f * (d1 - d2);
    out[3 * os + x] = d4 - d2 + 2.0f * (d3 - d1);
    out[4 * os + x] = d4 - d2 - 2.0f * (d3 - d1);
    out[5 * os + x] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}

/* out[r * os + x] = (A^T in)[r] for the 6 inputs in[i * is + x], x < n */
static inline void at_lines (const float *restrict in, size_t is, float *restrict out, size_t os,
                             int n)
{
  WG_IVDEP for (int x = 0; x < n; x++) {
    const float m0 = in[x], m1 = in[is + x], m2 = in[2 * is + x], m3 = in[3 * is + x];
    const float m4 = in[4 * is + x], m5 = in[5 * is + x];
    const float a1 = m1 + m2, b1 = m1 - m2, a2 = m3 + m4, b2 = m3 - m4;
    out[x] = m0 + a1 + a2;
    out[os + x] = b1 + 2.0f * b2;
    out[2 * os + x] = a1 + 4.0f * a2;
    out[3 * os + x] = b1 + 8.0f * b2 + m5;
  }
}

/* row[4x + c] = (A^T s)[c] + bias for the 6 inputs s[i * is + x], c < 4, x < n */
static inline void at_row (const float *restrict in, size_t is, float bias, float *restrict row,
                           int n)
{
  WG_IVDEP for (int x = 0; x < n; x++) {
    const float m0 = in[x], m1 = in[is + x], m2 = in[2 * is + x], m3 = in[3 * is + x];
    const float m4 = in[4 * is + x], m5 = in[5 * is + x];
    const float a1 = m1 + m2, b1 = m1 - m2, a2 = m3 + m4, b2 = m3 - m4;
    row[4 * x] = m0 + a1 + a2 + bias;
    row[4 * x + 1] = b1 + 2.0f * b2 + bias;
    row[4 * x + 2] = a1 + 4.0f * a2 + bias;
    row[4 * x + 3] = b1 + 8.0f * b2 + m5 + bias;
  }
}

#if WG_X86
/* bt_row for groups of 8 tiles, AVX2.  Loads the 32 floats of 8 tiles (and the same shifted by a
 * tile for elements 4 and 5) and transposes them in-lane: the lanes then hold the tiles in the
 * order 0 2 4 6 1 3 5 7.  The column pass and the GEMM do not care about the order of the tiles;
 * at_row_avx2 undoes it for free (its in-lane interleave yields natural order from exactly this
 * permutation).  Reads row[0 .. 4 * n8 + 3] where n8 = n rounded down to 8; returns n8. */
__attribute__ ((target ("avx2,fma"))) static int
bt_row_avx2 (const float *restrict row, float *restrict out, size_t os, int n)
{
  const __m256 four = _mm256_set1_ps (4.0f), five = _mm256_set1_ps (5.0f);
  const __m256 two = _mm256_set1_ps (2.0f);
  int x = 0;
  for (; x + 8 <= n; x += 8) {
    const float *r = row + 4 * x;
    const __m256 a = _mm256_loadu_ps (r), b = _mm256_loadu_ps (r + 8);
    const __m256 c = _mm256_loadu_ps (r + 16), d = _mm256_loadu_ps (r + 24);
    const __m256 a4 = _mm256_loadu_ps (r + 4), b4 = _mm256_loadu_ps (r + 12);
    const __m256 c4 = _mm256_loadu_ps (r + 20), d4 = _mm256_loadu_ps (r + 28);
    const __m256 ab_lo = _mm256_unpacklo_ps (a, b), ab_hi = _mm256_unpackhi_ps (a, b);
    const __m256 cd_lo = _mm256_unpacklo_ps (c, d), cd_hi = _mm256_unpackhi_ps (c, d);
    const __m256 ab4 = _mm256_unpacklo_ps (a4, b4), cd4 = _mm256_unpacklo_ps (c4, d4);
    const __m256 e0 = _mm256_shuffle_ps (ab_lo, cd_lo, 0x44), e1 = _mm256_shuffle_ps (ab_lo, cd_lo, 0xEE);
    const __m256 e2 = _mm256_shuffle_ps (ab_hi, cd_hi, 0x44), e3 = _mm256_shuffle_ps (ab_hi, cd_hi, 0xEE);
    const __m256 e4 = _mm256_shuffle_ps (ab4, cd4, 0x44), e5 = _mm256_shuffle_ps (ab4, cd4, 0xEE);
    const __m256 s12 = _mm256_add_ps (e1, e2), d12 = _mm256_sub_ps (e1, e2);
    const __m256 d31 = _mm256_sub_ps (e3, e1), e42 = _mm256_sub_ps (e4, e2);
    _mm256_storeu_ps (out + x, _mm256_add_ps (_mm256_fnmadd_ps (five, e2, _mm256_mul_ps (four, e0)), e4));
    _mm256_storeu_ps (out + os + x, _mm256_fnmadd_ps (four, s12, _mm256_add_ps (e3, e4)));
    _mm256_storeu_ps (out + 2 * os + x, _mm256_fmadd_ps (four, d12, _mm256_sub_ps (e4, e3)));
    _mm256_storeu_ps (out + 3 * os + x, _mm256_fmadd_ps (two, d31, e42));
    _mm256_storeu_ps (out + 4 * os + x, _mm256_fnmadd_ps (two, d31, e42));
    _mm256_storeu_ps (out + 5 * os + x, _mm256_add_ps (_mm256_fnmadd_ps (five, e3, _mm256_mul_ps (four, e1)), e5));
  }
  return x;
}

/* at_row for groups of 8 tiles whose lanes hold the tiles as 0 2 4 6 1 3 5 7 (bt_row_avx2):
 * the in-lane 4x4 interleave then writes the 32 outputs in natural order.  Returns n8. */
__attribute__ ((target ("avx2,fma"))) static int
at_row_avx2 (const float *restrict in, size_t is, float bias, float *restrict row, int n)
{
  const __m256 bv = _mm256_set1_ps (bias), two = _mm256_set1_ps (2.0f);
  const __m256 four = _mm256_set1_ps (4.0f), eight = _mm256_set1_ps (8.0f);
  int x = 0;
  for (; x + 8 <= n; x += 8) {
    const __m256 m0 = _mm256_loadu_ps (in + x), m1 = _mm256_loadu_ps (in + is + x);
    const __m256 m2 = _mm256_loadu_ps (in + 2 * is + x), m3 = _mm256_loadu_ps (in + 3 * is + x);
    const __m256 m4 = _mm256_loadu_ps (in + 4 * is + x), m5 = _mm256_loadu_ps (in + 5 * is + x);
    const __m256 a1 = _mm256_add_ps (m1, m2), b1 = _mm256_sub_ps (m1, m2);
    const __m256 a2 = _mm256_add_ps (m3, m4), b2 = _mm256_sub_ps (m3, m4);
    const __m256 o0 = _mm256_add_ps (_mm256_add_ps (m0, a1), _mm256_add_ps (a2, bv));
    const __m256 o1 = _mm256_add_ps (_mm256_fmadd_ps (two, b2, b1), bv);
    const __m256 o2 = _mm256_add_ps (_mm256_fmadd_ps (four, a2, a1), bv);
    const __m256 o3 = _mm256_add_ps (_mm256_fmadd_ps (eight, b2, b1), _mm256_add_ps (m5, bv));
    const __m256 lo01 = _mm256_unpacklo_ps (o0, o1), hi01 = _mm256_unpackhi_ps (o0, o1);
    const __m256 lo23 = _mm256_unpacklo_ps (o2, o3), hi23 = _mm256_unpackhi_ps (o2, o3);
    float *r = row + 4 * x;
    _mm256_storeu_ps (r, _mm256_shuffle_ps (lo01, lo23, 0x44));
    _mm256_storeu_ps (r + 8, _mm256_shuffle_ps (lo01, lo23, 0xEE));
    _mm256_storeu_ps (r + 16, _mm256_shuffle_ps (hi01, hi23, 0x44));
    _mm256_storeu_ps (r + 24, _mm256_shuffle_ps (hi01, hi23, 0xEE));
  }
  return x;
}
#endif

/* AVX2 row transforms when the CPU has them (IMPASTO_WINOGRAD_ISA=c turns them off). */
static bool pick_avx2_transforms (void)
{
  return WG_X86 && imp_isa ("IMPASTO_WINOGRAD_ISA") >= IMP_ISA_AVX2;
}

/* rows[k] (k < 6): the 6 input rows of the tile row, already padded: rows[k][4 * n + m] is element
 * (k, m) of tile n's 6x6 patch (4 * cols + 4 floats readable; the last 2 are
 * loaded by bt_row_avx2 but not used).  Tile n of the row goes to
 * v[xi * xi_stride + (n / 16) * panel_stride + n % 16]; tiles cols .. cols_pad - 1 get zeros.
 * tmp: 36 * cols_pad floats. */
WG_CLONES
static void input_tile_row (const float *const *rows, int cols, int cols_pad, float *v,
                            size_t xi_stride, size_t panel_stride, float *tmp, bool avx2)
{
  /* along the rows of the patches: tmp[(j * 6 + k) * cols_pad + n] = (d B)[k][j] */
  const size_t cp = (size_t) cols_pad;
  for (int k = 0; k < WG_IN; k++) {
    int done = 0;
#if WG_X86
    if (avx2)
      done = bt_row_avx2 (rows[k], tmp + k * cp, WG_IN * cp, cols);
#endif
    bt_row (rows[k] + 4 * done, tmp + k * cp + done, WG_IN * cp, cols - done);
    for (int j = 0; j < WG_IN; j++)
      memset (tmp + (j * WG_IN + k) * cp + cols, 0, (cp - (size_t) cols) * sizeof (float));
  }
  /* down the columns: V[i * 6 + j] = (B^T (d B))[i][j], one panel of 16 tiles at a time */
  for (int j = 0; j < WG_IN; j++)
    for (int q = 0; q < cols_pad; q += WG_PANEL)
      bt_lines (tmp + j * WG_IN * cp + q, cp,
                v + (size_t) j * xi_stride + (size_t) (q / WG_PANEL) * panel_stride,
                WG_IN * xi_stride, WG_PANEL);
}

/* m[xi * xi_stride + (n / 16) * panel_stride + n % 16]: the products of tile n of the row.
 * Writes out[r][4 * n + c] = (A^T m A)[r][c] + bias for r, c < 4 and n < cols (4 rows of
 * 4 * cols floats).  tmp: 24 * cols_pad floats. */
WG_CLONES
static void output_tile_row (const float *m, size_t xi_stride, size_t panel_stride, int cols,
                             int cols_pad, float bias, float *const *out, float *tmp, bool avx2)
{
  /* down the columns: tmp[(r * 6 + j) * cols_pad + n] = (A^T m)[r][j] */
  const size_t cp = (size_t) cols_pad;
  for (int j = 0; j < WG_IN; j++)
    for (int q = 0; q < cols_pad; q += WG_PANEL)
      at_lines (m + (size_t) j * xi_stride + (size_t) (q / WG_PANEL) * panel_stride,
                WG_IN * xi_stride, tmp + j * cp + q, WG_IN * cp, WG_PANEL);
  /* along the rows, interleaving the 4 columns of every tile into the output rows */
  for (int r = 0; r < WG_OUT; r++) {
    int done = 0;
#if WG_X86
    if (avx2)
      done = at_row_avx2 (tmp + r * WG_IN * cp, cp, bias, out[r], cols);
#endif
    at_row (tmp + r * WG_IN * cp + done, cp, bias, out[r] + 4 * done, cols - done);
  }
}

/* ------------------------------------------------------------------------------------------- */
/* Blocked driver.                                                                              */

typedef struct {
  const ImpWinograd *wg;
  const ImpGather *g;      /* NULL: x is the input itself */
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
  double *part;            /* NULL, or per task [2, out_c]: channel sums, sums of squares of y */
} WgRun;

/* Per-thread scratch (floats), each part a multiple of 16 floats (64 bytes). */
typedef struct {
  size_t v_xi, m_xi; /* floats from one xi slice of V / M to the next */
  size_t v, m, rowbuf, zero, tmp, orow, total;
} WgScratch;

static size_t round16 (size_t n)
{
  return (n + 15) & ~(size_t) 15;
}

static bool scratch_layout (int in_c, int out_c8, int band_rows, int seg_cols, WgScratch *sc)
{
  size_t seg_pad = round16 ((size_t) seg_cols), row = 4 * seg_pad + 4, n_tiles;
  if (!imp_mul_size ((size_t) band_rows, seg_pad, &n_tiles)
      || !imp_mul_size (n_tiles, (size_t) in_c, &sc->v_xi)
      || !imp_mul_size (n_tiles, (size_t) out_c8, &sc->m_xi)
      || sc->v_xi > SIZE_MAX / 2 || sc->m_xi > SIZE_MAX / 2)
    return false;
  /* skew the 36 slices by a cache line so that they do not all map to the same cache sets */
  sc->v_xi += WG_SKEW;
  sc->m_xi += WG_SKEW;
  if (!imp_mul_size (sc->v_xi, WG_XI, &sc->v) || !imp_mul_size (sc->m_xi, WG_XI, &sc->m))
    return false;
  sc->rowbuf = round16 (WG_IN * row);
  sc->zero = round16 (row);
  sc->tmp = round16 (WG_XI * seg_pad);
  sc->orow = round16 (WG_OUT * row);
  sc->total = sc->v + sc->m + sc->rowbuf + sc->zero + sc->tmp + sc->orow;
  return sc->total >= sc->v + sc->m; /* the small parts cannot overflow once v, m fit */
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

/* One padded input row of the span into dst: columns [j0, j1) lie inside the image and are
 * copied as a block (or duplicated, for a x2 upsampling gather); the others go through colmap
 * (-1: zero). */
static void gather_row (const float *src, int x0, int span, int j0, int j1, const int *colmap,
                        const ImpGather *g, float *dst)
{
  for (int j = 0; j < j0; j++)
    dst[j] = colmap[j] < 0 ? 0.0f : src[colmap[j]];
  if (!g) {
    memcpy (dst + j0, src + x0 + j0, (size_t) (j1 - j0) * sizeof (float));
  } else if (g->cols_double) {
    int j = j0;
    if (j < j1 && ((x0 + j) & 1)) /* start on an even image column */
      dst[j] = src[(x0 + j) / 2], j++;
    int pairs = (j1 - j) / 2;
    imp_duplicate2 (src + (x0 + j) / 2, dst + j, (size_t) pairs);
    for (j += 2 * pairs; j < j1; j++)
      dst[j] = src[(x0 + j) / 2];
  } else {
    for (int j = j0; j < j1; j++)
      dst[j] = src[colmap[j]];
  }
  for (int j = j1; j < span; j++)
    dst[j] = colmap[j] < 0 ? 0.0f : src[colmap[j]];
  dst[span] = dst[span + 1] = 0.0f; /* loaded, never used (bt_row_avx2) */
}

/* *s += sum of row[0 .. n), *q += sum of squares, accumulated in double (8 lanes: vectorises). */
WG_CLONES
static void row_sums (const float *row, int n, double *s, double *q)
{
  double as[8] = { 0 }, aq[8] = { 0 };
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) {
      const double v = row[i + l];
      as[l] += v;
      aq[l] += v * v;
    }
  for (; i < n; i++) {
    const double v = row[i];
    as[0] += v;
    aq[0] += v * v;
  }
  *s += ((as[0] + as[1]) + (as[2] + as[3])) + ((as[4] + as[5]) + (as[6] + as[7]));
  *q += ((aq[0] + aq[1]) + (aq[2] + aq[3])) + ((aq[4] + aq[5]) + (aq[6] + aq[7]));
}

static void wg_task (void *ctx, int64_t task, int thread)
{
  const WgRun *run = ctx;
  const ImpWinograd *wg = run->wg;
  const ImpConvShape *s = &wg->shape;
  const int ic = s->in_c, oc = s->out_c, oc8 = wg->out_c8;
  const int seg = (int) (task % run->n_segs), band = (int) (task / run->n_segs);
  const int ty0 = band * run->band_rows, tx0 = seg * run->seg_cols;
  const int rows = IMP_MIN (run->band_rows, run->tiles_y - ty0);
  const int cols = IMP_MIN (run->seg_cols, run->tiles_x - tx0);
  const int cols_pad = (int) round16 ((size_t) cols);
  const int row_panels = cols_pad / WG_PANEL, n_panels = rows * row_panels;

  WgScratch sc = { 0 };
  scratch_layout (ic, oc8, run->band_rows, run->seg_cols, &sc); /* checked in _run */
  float *v = run->scratch + (size_t) thread * run->scratch_floats; /* [36, panels, ic, 16] */
  float *m = v + sc.v;                                              /* [36, panels, oc8, 16] */
  float *rowbuf = m + sc.m, *zero = rowbuf + sc.rowbuf, *tmp = zero + sc.zero;
  float *orow = tmp + sc.tmp;
  int *colmap = run->colmaps + (size_t) thread * run->colmap_ints;
  const size_t row_len = 4 * round16 ((size_t) run->seg_cols) + 4;

  /* input columns of the segment: x0 .. x0 + span - 1 in padded coordinates */
  const int x0 = tx0 * WG_OUT - s->pad_l, span = WG_OUT * cols + 2;
  const ImpGather *g = run->g;
  /* bt_row_avx2 may read 2 floats beyond the span */
  const bool interior_cols = !g && x0 >= 0 && x0 + span + 2 <= run->w;
  /* columns [j0, j1) of the span lie inside the image: copied as a block when gathering */
  const int j0 = IMP_MIN (IMP_MAX (0, -x0), span), j1 = IMP_MAX (j0, IMP_MIN (span, run->w - x0));
  if (!interior_cols)
    for (int j = 0; j < span; j++) {
      colmap[j] = pad_map (x0 + j, run->w, s->pad_l, s->pad_r, s->pad_mode);
      if (g && colmap[j] >= 0)
        colmap[j] = g->cols[colmap[j]];
    }
  memset (zero, 0, row_len * sizeof (float));

  /* 1. input transform -> V */
  const int src_h = g ? g->src_h : run->h, src_w = g ? g->src_w : run->w;
  const size_t plane = (size_t) src_h * (size_t) src_w;
  const size_t v_panel = (size_t) ic * WG_PANEL, v_xi = sc.v_xi;
  for (int c = 0; c < ic; c++) {
    const float *xc = (g ? g->x : run->x) + (size_t) c * plane;
    for (int r = 0; r < rows; r++) {
      const float *in_rows[WG_IN];
      for (int k = 0; k < WG_IN; k++) {
        int yi = pad_map ((ty0 + r) * WG_OUT - s->pad_t + k, run->h, s->pad_t, s->pad_b,
                          s->pad_mode);
        if (yi >= 0 && g)
          yi = g->rows[yi];
        if (yi < 0) {
          in_rows[k] = zero;
        } else if (interior_cols) {
          in_rows[k] = xc + (size_t) yi * run->w + x0;
        } else {
          float *dst = rowbuf + (size_t) k * row_len;
          gather_row (xc + (size_t) yi * src_w, x0, span, j0, j1, colmap, g, dst);
          in_rows[k] = dst;
        }
      }
      input_tile_row (in_rows, cols, cols_pad,
                      v + (size_t) r * row_panels * v_panel + (size_t) c * WG_PANEL, v_xi,
                      v_panel, tmp, wg->avx2);
    }
  }

  /* 2. M[xi] = U[xi] V[xi] */
  const size_t u_xi = (size_t) oc8 * (size_t) ic;
  const size_t m_panel = (size_t) oc8 * WG_PANEL, m_xi = sc.m_xi;
  for (int xi = 0; xi < WG_XI; xi++)
    wg->gemm (wg->u + xi * u_xi, v + xi * v_xi, m + xi * m_xi, ic, oc8 / WG_OCB, n_panels);

  /* 3. output transform + bias -> y; with run->part, the block's channel sums while its rows
   * are in cache (an instance norm that follows needs no pass of its own to gather them) */
  const size_t oplane = (size_t) run->oh * (size_t) run->ow;
  const int ox0 = tx0 * WG_OUT, valid_cols = IMP_MIN (WG_OUT * cols, run->ow - ox0);
  double *part = run->part ? run->part + (size_t) task * 2 * (size_t) oc : NULL;
  for (int o = 0; o < oc; o++) {
    float *yo = run->y + (size_t) o * oplane;
    double sum = 0.0, sumsq = 0.0;
    for (int r = 0; r < rows; r++) {
      const int oy0 = (ty0 + r) * WG_OUT;
      const bool direct = oy0 + WG_OUT <= run->oh && valid_cols == WG_OUT * cols;
      float *out_rows[WG_OUT];
      for (int k = 0; k < WG_OUT; k++)
        out_rows[k] = direct ? yo + (size_t) (oy0 + k) * run->ow + ox0 : orow + k * row_len;
      output_tile_row (m + (size_t) r * row_panels * m_panel + (size_t) o * WG_PANEL, m_xi,
                       m_panel, cols, cols_pad, wg->bias[o], out_rows, tmp, wg->avx2);
      if (!direct)
        for (int k = 0; k < WG_OUT && oy0 + k < run->oh; k++)
          memcpy (yo + (size_t) (oy0 + k) * run->ow + ox0, out_rows[k],
                  (size_t) valid_cols * sizeof (float));
      for (int k = 0; part && k < WG_OUT && oy0 + k < run->oh; k++)
        row_sums (out_rows[k], valid_cols, &sum, &sumsq);
    }
    if (part) {
      part[o] = sum;
      part[oc + o] = sumsq;
    }
  }
}

/* Choose the block shape: about WG_BLOCK_BYTES of V + M, segments a multiple of a panel wide,
 * whole tile rows when they fit, and enough blocks to keep every thread busy. */
static void plan_blocks (WgRun *run, int in_c, int out_c8, int threads)
{
  size_t per_tile = (size_t) WG_XI * ((size_t) in_c + (size_t) out_c8) * sizeof (float);
  size_t target = WG_BLOCK_BYTES / per_tile;
  target = IMP_MAX (target, (size_t) WG_PANEL);
  target = IMP_MIN (target, (size_t) WG_MAX_TILES);
  if ((size_t) run->tiles_x <= target) {
    run->seg_cols = run->tiles_x;
  } else {
    int n = (int) ((run->tiles_x + target - 1) / target);
    run->seg_cols = (int) round16 ((size_t) ((run->tiles_x + n - 1) / n));
  }
  run->n_segs = (run->tiles_x + run->seg_cols - 1) / run->seg_cols;
  size_t seg_pad = round16 ((size_t) run->seg_cols);
  int band = (int) IMP_MAX ((size_t) 1, target / seg_pad);
  band = IMP_MIN (band, run->tiles_y);
  /* at least ~4 blocks per thread for load balance when the image allows it */
  while (band > 1
         && (int64_t) ((run->tiles_y + band - 1) / band) * run->n_segs < 4 * (int64_t) threads)
    band = (band + 1) / 2;
  run->band_rows = band;
}

/* One scratch buffer is kept between runs (process-wide, the largest so far): a fresh multi-MB
 * allocation per call goes back to the kernel on free and is page-faulted in again on the next
 * call, which showed as a few percent of a whole-network run.  Concurrent runs simply allocate. */
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static float *scratch_cached;
static size_t scratch_cached_bytes;

static float *scratch_take (size_t bytes, ImpastoError *err)
{
  float *p = NULL;
  pthread_mutex_lock (&scratch_lock);
  if (scratch_cached && scratch_cached_bytes >= bytes) {
    p = scratch_cached;
    scratch_cached = NULL;
  }
  pthread_mutex_unlock (&scratch_lock);
  return p ? p : imp_alloc (bytes, 1, "winograd scratch", err);
}

static void scratch_give (float *p, size_t bytes)
{
  pthread_mutex_lock (&scratch_lock);
  if (!scratch_cached || scratch_cached_bytes < bytes) {
    float *old = scratch_cached;
    scratch_cached = p;
    scratch_cached_bytes = bytes;
    p = old;
  }
  pthread_mutex_unlock (&scratch_lock);
  imp_free (p);
}

static ImpastoStatus winograd_run (const ImpWinograd *wg, int h, int w, const float *x,
                                   const ImpGather *g, float *y, double *sums, ImpPool *pool,
                                   ImpastoError *err);

ImpastoStatus imp_winograd_run (const ImpWinograd *wg, int h, int w, const float *x, float *y,
                                ImpPool *pool, ImpastoError *err)
{
  if (!x)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "winograd: NULL argument");
  return winograd_run (wg, h, w, x, NULL, y, NULL, pool, err);
}

ImpastoStatus imp_winograd_run_sums (const ImpWinograd *wg, int h, int w, const float *x, float *y,
                                     double *sums, ImpPool *pool, ImpastoError *err)
{
  if (!x || !sums)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "winograd: NULL argument");
  return winograd_run (wg, h, w, x, NULL, y, sums, pool, err);
}

ImpastoStatus imp_winograd_run_gather (const ImpWinograd *wg, int h, int w, const ImpGather *g,
                                       float *y, ImpPool *pool, ImpastoError *err)
{
  if (!g || !g->x || !g->rows || !g->cols || g->src_h < 1 || g->src_w < 1)
    return imp_fail (err, IMPASTO_E_ARGUMENT, "winograd: bad gather");
  return winograd_run (wg, h, w, g->x, g, y, NULL, pool, err);
}

static ImpastoStatus winograd_run (const ImpWinograd *wg, int h, int w, const float *x,
                                   const ImpGather *g, float *y, double *sums, ImpPool *pool,
                                   ImpastoError *err)
{
  WgRun run = { .wg = wg, .g = g, .h = h, .w = w, .x = x, .y = y };
  ImpastoStatus st = imp_conv_fast_check ("winograd", wg ? &wg->shape : NULL, wg && x && y, h, w,
                                          &run.oh, &run.ow, err);
  if (st)
    return st;
  const ImpConvShape *s = &wg->shape;
  run.tiles_y = (run.oh + WG_OUT - 1) / WG_OUT;
  run.tiles_x = (run.ow + WG_OUT - 1) / WG_OUT;
  const int threads = imp_pool_threads (pool);
  plan_blocks (&run, s->in_c, wg->out_c8, threads);

  WgScratch sc;
  size_t all_floats;
  if (!scratch_layout (s->in_c, wg->out_c8, run.band_rows, run.seg_cols, &sc)
      || !imp_mul_size ((size_t) threads, sc.total, &all_floats))
    return imp_fail (err, IMPASTO_E_NOMEM, "winograd: scratch size overflows");
  run.scratch_floats = sc.total;
  run.colmap_ints = round16 (4 * (size_t) run.seg_cols + 4);
  size_t colmap_all, bytes;
  if (!imp_mul_size ((size_t) threads, run.colmap_ints, &colmap_all)
      || all_floats > SIZE_MAX / sizeof (float) - colmap_all
      || !imp_mul_size (all_floats + colmap_all, sizeof (float), &bytes))
    return imp_fail (err, IMPASTO_E_NOMEM, "winograd: scratch size overflows");
  run.scratch = scratch_take (bytes, err);
  if (!run.scratch)
    return err ? err->code : IMPASTO_E_NOMEM;
  run.colmaps = (int *) (run.scratch + all_floats); /* int and float are both 4 bytes */
  int64_t n_tasks = (int64_t) ((run.tiles_y + run.band_rows - 1) / run.band_rows) * run.n_segs;
  if (sums) { /* per-task partial sums, reduced in task order: the same result on any thread count */
    run.part = imp_alloc ((size_t) n_tasks, 2 * (size_t) s->out_c * sizeof (double),
                          "winograd channel sums", err);
    if (!run.part) {
      scratch_give (run.scratch, bytes);
      return err ? err->code : IMPASTO_E_NOMEM;
    }
  }
  imp_pool_run (pool, n_tasks, wg_task, &run);
  scratch_give (run.scratch, bytes);
  if (sums) {
    const size_t n2 = 2 * (size_t) s->out_c;
    for (size_t i = 0; i < n2; i++)
      sums[i] = 0.0;
    for (int64_t t = 0; t < n_tasks; t++)
      for (size_t i = 0; i < n2; i++)
        sums[i] += run.part[(size_t) t * n2 + i];
    imp_free (run.part);
  }
  return IMPASTO_OK;
}
