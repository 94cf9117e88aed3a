/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz_model.h — one model file's bytes through the whole engine: load, prepare, describe, run. */
#ifndef FUZZ_MODEL_H
#define FUZZ_MODEL_H

#include "impasto.h"
#include <stddef.h>
#include <stdint.h>

typedef enum {
  FUZZ_REFUSED, /* load refused it (err holds why) */
  FUZZ_RAN,     /* loaded and stylised the tiny image */
  FUZZ_RUN_REFUSED, /* loaded; the run refused the tiny image (err holds why) */
  FUZZ_TOO_COSTLY,  /* loaded; the run would cost more than a fuzz iteration may take */
} FuzzOutcome;

/* err receives the load or run error. */
FuzzOutcome fuzz_model_bytes (const uint8_t *data, size_t size, ImpastoError *err);

#endif
