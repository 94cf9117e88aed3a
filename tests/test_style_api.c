/* test_style_api.c — the arbitrary-style C API on the shared Magenta and AdaIN packs: progress
 * and cancellation (whole and banded), a style reused over images equal to fresh ones, the mix
 * and strength end points at the API level, the errors of inputs bound by name, and argument
 * errors.  (Exactness against ONNX Runtime: tests/test_style.py.)  Without ../shared: see
 * data_check.h. */
#include "impasto.h"
#include "data_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A textured picture, values 0..1; seed varies it. */
static ImpastoImage make_image (int w, int h, float seed)
{
  ImpastoImage im = { .width = w, .height = h, .channels = 3 };
  im.data = malloc (sizeof (float) * (size_t) w * (size_t) h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        im.data[((size_t) y * (size_t) w + (size_t) x) * 3 + (size_t) c] =
            0.5f + 0.45f * sinf ((float) x * 0.11f * seed + (float) c) * cosf ((float) y * 0.07f / seed);
  return im;
}

static ImpastoImage like (const ImpastoImage *im)
{
  ImpastoImage o = *im;
  o.data = calloc ((size_t) im->width * (size_t) im->height * 3, sizeof (float));
  return o;
}

static bool same (const ImpastoImage *a, const ImpastoImage *b)
{
  return !memcmp (a->data, b->data, sizeof (float) * (size_t) a->width * (size_t) a->height * 3);
}

static int calls;
static double last;
static bool count_progress (double f, void *data)
{
  (void) data;
  calls++;
  last = f;
  return true;
}

static bool cancel_on_second (double f, void *data)
{
  (void) f, (void) data;
  return ++calls < 2;
}

static void test_pack (ImpastoPack *p, const char *name)
{
  ImpastoError err;
  ImpastoImage sa = make_image (300, 260, 1.0f), sb = make_image (280, 300, 2.3f);
  ImpastoImage c1 = make_image (96, 80, 1.7f), c2 = make_image (64, 72, 0.8f);
  ImpastoImage o1 = like (&c1), o1b = like (&c1), o2 = like (&c2), ref = like (&c1);
  ImpastoStyleDesc *a = impasto_style_new_from_image (p, &sa, NULL, &err);
  ImpastoStyleDesc *b = impasto_style_new_from_image (p, &sb, NULL, &err);
  CHECK (a && b, "%s: styles: %s", name, err.message);
  if (!a || !b)
    return;
  size_t n;
  const float *va = impasto_style_values (a, &n);
  CHECK (n == (impasto_pack_family (p) == IMPASTO_FAMILY_MAGENTA ? 100u : 256u),
         "%s: %zu style values", name, n);

  /* a style reused over several images gives what a fresh style gives */
  ImpastoOptions o;
  impasto_options_init (&o);
  o.threads = 2;
  CHECK (!impasto_stylize_with_style (p, a, &c1, &o1, &o, &err), "%s: %s", name, err.message);
  CHECK (!impasto_stylize_with_style (p, a, &c2, &o2, &o, &err), "%s: %s", name, err.message);
  ImpastoStyleDesc *a2 = impasto_style_new_from_image (p, &sa, NULL, &err);
  CHECK (!impasto_stylize_with_style (p, a2, &c1, &o1b, &o, &err) && same (&o1, &o1b),
         "%s: a fresh style differs from the reused one", name);
  CHECK (!memcmp (impasto_style_values (a2, NULL), va, n * sizeof (float)),
         "%s: the same image gives another style", name);

  /* mix end points copy the styles exactly; 0.5 lies between */
  ImpastoStyleDesc *m0 = impasto_style_mix (a, b, 0.0f, &err), *m1 = impasto_style_mix (a, b, 1.0f, &err);
  ImpastoStyleDesc *mh = impasto_style_mix (a, b, 0.5f, &err);
  const float *vb = impasto_style_values (b, NULL), *vh = impasto_style_values (mh, NULL);
  CHECK (!memcmp (impasto_style_values (m0, NULL), va, n * sizeof (float))
         && !memcmp (impasto_style_values (m1, NULL), vb, n * sizeof (float)),
         "%s: mix end points differ from the styles", name);
  bool between = true;
  for (size_t i = 0; i < n; i++)
    between = between && fabsf (vh[i] - 0.5f * (va[i] + vb[i])) <= 1e-6f * (1 + fabsf (va[i]));
  CHECK (between, "%s: mix 0.5 is not the mean", name);
  CHECK (!impasto_style_mix (a, b, 1.5f, &err) && strstr (err.message, "mix weight"),
         "%s: mix 1.5: '%s'", name, err.message);

  /* progress reaches 1; cancelling stops the run (whole, and banded for Magenta) */
  o.progress = count_progress;
  calls = 0;
  CHECK (!impasto_stylize_with_style (p, a, &c1, &ref, &o, &err) && calls >= 2 && last == 1.0,
         "%s: progress called %d times, last %g", name, calls, last);
  CHECK (same (&ref, &o1), "%s: progress changed the result", name);
  for (int tile = 0; tile <= 16; tile += 16) {
    o.progress = cancel_on_second;
    o.tile_size = tile;
    calls = 0;
    ImpastoStatus st = impasto_stylize_with_style (p, a, &c1, &ref, &o, &err);
    CHECK (st == IMPASTO_E_CANCELLED && strstr (err.message, "cancelled") && calls == 2,
           "%s tile %d: cancel gave %d '%s' after %d calls", name, tile, st, err.message, calls);
  }

  /* errors */
  ImpastoImage one = make_image (1, 1, 1.0f);
  CHECK (!impasto_style_new_from_image (p, &one, NULL, &err) && strstr (err.message, "too small: 1 x 1"),
         "%s: 1x1 style: '%s'", name, err.message);
  ImpastoImage huge = { .width = 9000, .height = 9000, .channels = 3, .data = one.data };
  CHECK (!impasto_style_new_from_image (p, &huge, NULL, &err) && strstr (err.message, "too large"),
         "%s: huge style: '%s'", name, err.message);
  impasto_options_init (&o);
  o.style_scale = 9;
  CHECK (!impasto_style_new_from_image (p, &sa, &o, &err) && strstr (err.message, "style scale"),
         "%s: style scale 9: '%s'", name, err.message);
  o.style_scale = 0;
  o.strength = 2;
  CHECK (impasto_stylize_with_style (p, a, &c1, &ref, &o, &err) == IMPASTO_E_ARGUMENT
         && strstr (err.message, "strength"), "%s: strength 2: '%s'", name, err.message);

  impasto_style_free (a), impasto_style_free (a2), impasto_style_free (b);
  impasto_style_free (m0), impasto_style_free (m1), impasto_style_free (mh);
  free (sa.data), free (sb.data), free (c1.data), free (c2.data), free (o1.data), free (o1b.data);
  free (o2.data), free (ref.data), free (one.data);
}

static void test_bound_inputs (const char *transfer)
{
  ImpastoError err;
  float v[100] = { 0 };
  ImpastoInput in = { .name = "no_such_input", .rank = 4, .dims = { 1, 100, 1, 1 }, .data = v };
  CHECK (!impasto_model_load_with_inputs (transfer, 1, &in, &err)
         && strstr (err.message, "no runtime input named 'no_such_input'"), "unknown name: '%s'", err.message);
  in.name = "style_bottleneck";
  in.dims[1] = 64;
  CHECK (!impasto_model_load_with_inputs (transfer, 1, &in, &err)
         && strstr (err.message, "dimension 1 is 100"), "wrong shape: '%s'", err.message);
  in.dims[1] = 100;
  ImpastoModel *m = impasto_model_load_with_inputs (transfer, 1, &in, &err);
  CHECK (m != NULL, "bound: %s", err.message);
  impasto_model_free (m);
  CHECK (!impasto_model_load (transfer, &err) && strstr (err.message, "2 runtime inputs"),
         "unbound: '%s'", err.message);
}

int main (void)
{
  char pred[4096], trans[4096], enc[4096], dec[4096];
  shared_path (pred, sizeof pred, "models-magenta/magenta-style-predict.onnx");
  shared_path (trans, sizeof trans, "models-magenta/magenta-style-transfer.onnx");
  shared_path (enc, sizeof enc, "models-arch/adain-vgg-w16-random-encoder.onnx");
  shared_path (dec, sizeof dec, "models-arch/adain-vgg-w16-random-decoder.onnx");
  ImpastoError err;
  ImpastoPack *mag = impasto_pack_load (IMPASTO_FAMILY_MAGENTA, pred, trans, &err);
  if (!mag)
    return missing_data (err.message);
  ImpastoPack *ada = impasto_pack_load (IMPASTO_FAMILY_ADAIN, enc, dec, &err);
  CHECK (ada != NULL, "adain: %s", err.message);
  test_pack (mag, "magenta");
  if (ada)
    test_pack (ada, "adain");
  /* a style belongs to its pack */
  ImpastoImage s = make_image (64, 64, 1.0f), c = make_image (32, 32, 1.0f), o = like (&c);
  ImpastoStyleDesc *st = impasto_style_new_from_image (mag, &s, NULL, &err);
  CHECK (ada && impasto_stylize_with_style (ada, st, &c, &o, NULL, &err) == IMPASTO_E_ARGUMENT
         && strstr (err.message, "not made with this model pack"), "foreign style: '%s'", err.message);
  CHECK (!impasto_pack_load (IMPASTO_FAMILY_MAGENTA, pred, NULL, &err)
         && strstr (err.message, "has no transfer net"), "half pack: '%s'", err.message);
  CHECK (!impasto_pack_load (IMPASTO_FAMILY_ADAIN, enc, trans, &err)
         && strstr (err.message, "decoder: "), "magenta transfer as a decoder: '%s'", err.message);
  impasto_style_free (st);
  free (s.data), free (c.data), free (o.data);
  test_bound_inputs (trans);
  impasto_pack_free (mag);
  impasto_pack_free (ada);
  return check_summary ();
}
