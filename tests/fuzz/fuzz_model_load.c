/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_model_load.c — libFuzzer target for the model loader (docs/fuzzing.md).
 *
 * The bytes go through the public loader (impasto_model_load, from a memfd: no engine entry point
 * exists only for the fuzzer), then describe, then a 16x16 stylise on one thread when the model's
 * planned work is small.  The same function serves tests/fuzz/replay.c, which the test suite
 * builds with the ordinary compiler and runs over corpus/ and crashes/. */
#include "fuzz_model.h"
#include "model.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Multiply-adds a fuzz iteration may spend on the run: a fuzzer must not stall on a model that is
 * merely big (a 1024-channel conv is valid, and slow, not a bug). */
#define FUZZ_MAX_WORK 2e7
/* Floats in any one tensor of the run (64 MiB). */
#define FUZZ_MAX_ELEMS ((size_t) 1 << 24)

/* The memfd, made once and rewritten per input. */
static int model_fd = -1;

static ImpastoModel *load (const uint8_t *data, size_t size, ImpastoError *err)
{
  if (model_fd < 0 && (model_fd = memfd_create ("fuzz-model.onnx", MFD_CLOEXEC)) < 0) {
    perror ("memfd_create");
    exit (2); /* the harness itself is broken: stop the fuzzer */
  }
  size_t done = 0;
  if (ftruncate (model_fd, 0) != 0)
    exit (2);
  while (done < size) {
    ssize_t w = pwrite (model_fd, data + done, size - done, (off_t) done);
    if (w <= 0)
      exit (2);
    done += (size_t) w;
  }
  char path[64];
  snprintf (path, sizeof path, "/proc/self/fd/%d", model_fd);
  return impasto_model_load (path, err);
}

/* The run's work on a [1, 3, h, w] input, from the engine's own shape plan; < 0 if refused. */
static double planned_work (ImpastoModel *m, int64_t h, int64_t w, ImpastoError *err)
{
  ImpTensor *shapes = calloc ((size_t) m->graph->n_values, sizeof *shapes);
  if (!shapes)
    return -1;
  int64_t dims[4] = { 1, 3, h, w };
  double work = -1;
  /* not whole: the per-tensor cap is the run's to apply (banded or not); FUZZ_MAX_ELEMS below
   * bounds every tensor of this plan */
  if (imp_model_shapes (m, dims, false, shapes, err) == IMPASTO_OK) {
    work = 0;
    for (int i = 0; i < m->n_steps; i++) {
      size_t count = imp_tensor_count (&shapes[m->steps[i].output]);
      work += m->steps[i].cost * (double) count;
      if (count > FUZZ_MAX_ELEMS)
        work = INFINITY;
    }
  }
  free (shapes);
  return work;
}

FuzzOutcome fuzz_model_bytes (const uint8_t *data, size_t size, ImpastoError *err)
{
  ImpastoModel *m = load (data, size, err);
  if (!m)
    return FUZZ_REFUSED;
  free (impasto_model_describe (m));
  (void) impasto_model_metadata (m, "impasto.input_range");

  enum { SIDE = 16 };
  int64_t ph = IMP_MAX (((SIDE + m->size_multiple - 1) / m->size_multiple) * m->size_multiple,
                        m->min_size);
  FuzzOutcome outcome = FUZZ_RUN_REFUSED;
  double work = planned_work (m, ph, ph, err);
  if (work > FUZZ_MAX_WORK)
    outcome = FUZZ_TOO_COSTLY;
  if (work >= 0 && work <= FUZZ_MAX_WORK) {
    static float in_px[SIDE * SIDE * 4], out_px[SIDE * SIDE * 4];
    for (int i = 0; i < SIDE * SIDE * 4; i++)
      in_px[i] = (float) ((i * 37) % 101) / 100.0f;
    ImpastoImage in = { .width = SIDE, .height = SIDE, .channels = 4, .data = in_px };
    ImpastoImage out = in;
    out.data = out_px;
    ImpastoOptions o;
    impasto_options_init (&o);
    o.threads = 1;
    o.tile_size = 0;
    o.strength = 0.5f;
    outcome = impasto_stylize (m, &in, &out, &o, err) == IMPASTO_OK ? FUZZ_RAN : FUZZ_RUN_REFUSED;
  }
  impasto_model_free (m);
  return outcome;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  ImpastoError err = { 0 };
  fuzz_model_bytes (data, size, &err);
  return 0;
}
