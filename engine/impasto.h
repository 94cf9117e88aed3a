/* impasto.h — public API of Impasto's embedded CPU inference engine (libimpasto).
 *
 * The engine loads ONNX style-transfer models and runs them on the CPU.  It knows nothing of GIMP,
 * GTK or GEGL.  Errors are reported through ImpastoError; no function exits or aborts the process.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef IMPASTO_H
#define IMPASTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  IMPASTO_OK = 0,
  IMPASTO_E_IO,          /* file missing or unreadable */
  IMPASTO_E_FORMAT,      /* not an ONNX file, truncated, corrupt, inconsistent graph */
  IMPASTO_E_UNSUPPORTED, /* op, attribute or data type we do not run */
  IMPASTO_E_SHAPE,       /* wrong or absurd tensor shapes */
  IMPASTO_E_NOMEM,       /* allocation failed or size arithmetic would overflow */
  IMPASTO_E_ARGUMENT,    /* bad argument from the caller */
  IMPASTO_E_CANCELLED    /* the progress callback asked to stop */
} ImpastoStatus;

#define IMPASTO_ERROR_MAX 512

typedef struct {
  ImpastoStatus code;
  char message[IMPASTO_ERROR_MAX]; /* one line, no trailing newline */
} ImpastoError;

typedef struct ImpastoModel ImpastoModel;

/* Load and prepare an ONNX model.  Returns NULL and fills err on failure. */
ImpastoModel *impasto_model_load (const char *path, ImpastoError *err);
void impasto_model_free (ImpastoModel *model);

/* A value for a named graph input: float32, row-major, dims[0..rank); data NULL gives only the
 * input's shape (impasto_stylize_images). */
typedef struct {
  const char *name;
  int rank;
  int64_t dims[8];
  const float *data;
} ImpastoInput;

/* Load a model with several runtime inputs, binding every input but the image to the values
 * given (copied; e.g. Magenta's [1,100,1,1] style vector).  What depends only on them is computed
 * once here, so the result stylises like a single-image model (whole or banded).  Errors name the
 * input: one that does not exist, a shape that differs from the declared one, or more than one
 * input left unbound. */
ImpastoModel *impasto_model_load_with_inputs (const char *path, int n_inputs,
                                              const ImpastoInput *inputs, ImpastoError *err);

/* Human-readable description (inputs/outputs, opset, op histogram, parameter count, metadata).
 * Returns a malloc'd string; free() it. */
char *impasto_model_describe (const ImpastoModel *model);

/* metadata_props value for key, or NULL. Owned by the model. */
const char *impasto_model_metadata (const ImpastoModel *model, const char *key);

/* Called with fraction in 0..1.  Return false to cancel the run (IMPASTO_E_CANCELLED). */
typedef bool (*ImpastoProgressFunc) (double fraction, void *user_data);

/* Which statistics BatchNormalization normalises with. */
typedef enum {
  IMPASTO_BATCHNORM_AUTO = 0, /* the model's metadata "impasto.batchnorm" decides; else RUNNING */
  IMPASTO_BATCHNORM_RUNNING,  /* the stored running mean and variance (inference mode) */
  IMPASTO_BATCHNORM_IMAGE     /* this image's per-channel mean and variance over the whole image,
                                 as pix2pix's published test mode (BatchNorm left in training mode
                                 with a batch of one); banded runs give the same result */
} ImpastoBatchNorm;

/* "image-statistics" -> IMAGE, "running" -> RUNNING (the sidecar's and metadata's words);
 * false for anything else (*mode untouched). */
bool impasto_batchnorm_parse (const char *text, ImpastoBatchNorm *mode);
struct ImpastoImage;

/* Receives finished rows of the result in order, top to bottom: rows->height rows starting at
 * row y of the image, in the layout of the out image given to impasto_stylize (its width,
 * channels, type and stride), valid only during the call.  Return false to stop the run
 * (impasto_stylize then fails with IMPASTO_E_CANCELLED). */
typedef bool (*ImpastoRowsFunc) (const struct ImpastoImage *rows, int y, void *user_data);

/* The normalisation statistics of one image through one model: each instance norm's per-channel
 * mean and variance (impasto_stats_compute).  A region normalised with them equals the same region
 * of the whole image's result. */
typedef struct ImpastoStats ImpastoStats;

typedef struct {
  float strength;        /* 0..1: blend of stylised over original; default 1 */
  bool preserve_colors;  /* keep the original colours, take lightness from the stylised image */
  int threads;           /* worker threads; 0 = number of online CPUs */
  int tile_size;         /* -1 automatic, 0 whole image in one piece, > 0 tile edge in pixels */
  ImpastoProgressFunc progress;
  void *progress_data;
  /* Banded runs (large images): RAM in MiB for intermediate values before they go to scratch
   * files (0: automatic, 384; < 0: none, every stored value goes to the files), and the folder
   * of those files (NULL or "": $TMPDIR, else /var/tmp). */
  int stream_ram_mb;
  const char *scratch_dir;
  /* Style packs (impasto_style_new_from_image): the style image's size relative to its usual
   * one (Magenta: short side 256 then a 256x256 centre crop; AdaIN: short side at most 512);
   * larger gives larger brush strokes.  0.25..4; 0 means 1. */
  float style_scale;
  ImpastoBatchNorm batchnorm;
  /* Optional: hand the result over in rows instead of holding it whole (a huge image's result
   * never exists in memory at once).  out is then a row buffer of any height >= 1: the engine
   * fills it from its top with consecutive rows and passes the filled part to rows() whenever it
   * is full, and at the end. */
  ImpastoRowsFunc rows;
  void *rows_data;
  /* NULL: every instance norm uses the statistics of what it is given (the whole image for
   * impasto_stylize).  Else these (made by impasto_stats_compute for this model): required by
   * impasto_stylize_region, honoured by impasto_stylize too. */
  const ImpastoStats *stats;
  /* impasto_stats_compute only: 0 (the default) runs the whole image (exact statistics); > 0
   * runs full-resolution tiles sampled from an image larger than this many pixels instead: an
   * estimate, much cheaper, but measured 6-35/255 off (docs/tiling.md): for measurements only. */
  int64_t stats_pixels;
} ImpastoOptions;

void impasto_options_init (ImpastoOptions *options);

typedef enum {
  IMPASTO_PIXEL_FLOAT = 0, /* float, 0..1, in data */
  IMPASTO_PIXEL_U8 = 1,    /* uint8_t, 0..255, in data_u8 */
} ImpastoPixelType;

/* An interleaved image with gamma-encoded sRGB values (as stored in files).
 * channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.  stride counts elements (floats or bytes) per
 * row; 0 means width * channels.  type selects data (float 0..1) or data_u8 (0..255). */
typedef struct ImpastoImage {
  int width;
  int height;
  int channels;
  size_t stride;
  float *data;
  ImpastoPixelType type;
  uint8_t *data_u8;
} ImpastoImage;

/* Stylise in into out (same width, height and channels, allocated by the caller; may not alias;
 * with options->rows, out is a row buffer of any height).  Alpha is copied unchanged; gray input
 * is stylised as RGB and converted back to gray. */
ImpastoStatus impasto_stylize (ImpastoModel *model, const ImpastoImage *in, ImpastoImage *out,
                               const ImpastoOptions *options, ImpastoError *err);

/* A model with several image inputs (e.g. AdaIN as one graph with `content` and `style`):
 * images[k] feeds the input names[k] (names NULL: the model's inputs in order).  images[0] is
 * the content: reflected on the bottom and right to a multiple of `multiple` (0: none), the
 * result cropped back into out; the others go in at their own size.  The model is loaded and
 * prepared for these sizes on each call (its shape arithmetic folds then).  Pixel values 0..1
 * map to range_lo..range_hi in the model (equal: from its metadata or last op, as
 * impasto_model_load).  Runs whole. */
ImpastoStatus impasto_stylize_images (const char *path, int n, const char *const *names,
                                      const ImpastoImage *const *images, float range_lo,
                                      float range_hi, int multiple, ImpastoImage *out,
                                      const ImpastoOptions *options, ImpastoError *err);

/* ---- arbitrary style: any image is the style ------------------------------------------------ */

typedef enum {
  IMPASTO_FAMILY_MAGENTA = 1, /* style predictor + transfer net conditioned on a style vector */
  IMPASTO_FAMILY_ADAIN = 2,   /* VGG encoder + decoder, AdaIN between them (computed here) */
} ImpastoFamily;

/* Two networks used as one model. */
typedef struct ImpastoPack ImpastoPack;
/* A style computed once from an image (Magenta: the predictor's vector; AdaIN: the per-channel
 * mean and standard deviation of the encoder's features), applied to any number of images. */
typedef struct ImpastoStyleDesc ImpastoStyleDesc;

/* Magenta: first = style predictor, second = transfer net.  AdaIN: first = encoder, second =
 * decoder.  Both are loaded and checked against each other here. */
ImpastoPack *impasto_pack_load (ImpastoFamily family, const char *first, const char *second,
                                ImpastoError *err);
void impasto_pack_free (ImpastoPack *pack);
ImpastoFamily impasto_pack_family (const ImpastoPack *pack);

/* The style of image (any size from 8x8; gray, RGB, alpha ignored), pre-processed as the family
 * wants (options->style_scale; threads).  options may be NULL. */
ImpastoStyleDesc *impasto_style_new_from_image (ImpastoPack *pack, const ImpastoImage *image,
                                            const ImpastoOptions *options, ImpastoError *err);
/* (1 - weight) * a + weight * b, both from the same pack; weight 0 and 1 give a and b exactly. */
ImpastoStyleDesc *impasto_style_mix (const ImpastoStyleDesc *a, const ImpastoStyleDesc *b, float weight,
                                 ImpastoError *err);
void impasto_style_free (ImpastoStyleDesc *style);
/* The descriptor's values (owned by style) and their count. */
const float *impasto_style_values (const ImpastoStyleDesc *style, size_t *count);

/* Stylise content with style.  options->strength works in feature space: Magenta blends the
 * style vector with the content's own (s * style + (1 - s) * own), AdaIN blends the features
 * (s * AdaIN(c, style) + (1 - s) * c); 0 gives the content back through the network.  The other
 * options as for impasto_stylize (Magenta runs banded for large images). */
ImpastoStatus impasto_stylize_with_style (ImpastoPack *pack, const ImpastoStyleDesc *style,
                                          const ImpastoImage *content, ImpastoImage *out,
                                          const ImpastoOptions *options, ImpastoError *err);
/* Run the model over the whole of in (reduced first when options->stats_pixels asks for it) and
 * record each instance norm's statistics into *stats (free with impasto_stats_free).  Costs one
 * stylisation of that image; options->progress reports it. */
ImpastoStatus impasto_stats_compute (ImpastoModel *model, const ImpastoImage *in,
                                     const ImpastoOptions *options, ImpastoStats **stats,
                                     ImpastoError *err);
void impasto_stats_free (ImpastoStats *stats);

/* Stylise the region of in at (x, y) whose size is out's (out: width x height, in's channels and
 * any pixel type) as it appears in the stylised whole image: the network runs on the region plus
 * the margin its receptive field needs, with options->stats (of in, from impasto_stats_compute;
 * may be NULL only for a model without instance norms).  Refused (IMPASTO_E_UNSUPPORTED) for a
 * model with an op that mixes the whole image in other ways (GlobalAveragePool).  options->rows
 * must be NULL (a region is small: it is returned whole).  The model keeps the region's working
 * buffers for the next region (a preview's next view costs no fresh memory); they are freed with
 * the model or by its next impasto_stylize. */
ImpastoStatus impasto_stylize_region (ImpastoModel *model, const ImpastoImage *in, int x, int y,
                                      ImpastoImage *out, const ImpastoOptions *options,
                                      ImpastoError *err);

/* Library version string, e.g. "0.1.0". */
const char *impasto_version (void);

#ifdef __cplusplus
}
#endif
#endif
