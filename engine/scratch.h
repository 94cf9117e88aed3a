/* scratch.h — where the banded executor keeps stored values: in RAM up to a budget, else in
 * unlinked scratch files as float16 rows (see scratch.c).  Knows no graph types. */
#ifndef IMP_SCRATCH_H
#define IMP_SCRATCH_H

#include "pool.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMP_SCRATCH_MAX_FILES 4

typedef struct {
  int fd[IMP_SCRATCH_MAX_FILES]; /* -1 until needed: row r of a value lives in file r % n_files,
                                    so threads writing different rows never wait for one
                                    another's inode lock */
  int n_files;
  int64_t file_end;
  int64_t hole_off[64], hole_len[64];
  int n_holes;
  size_t ram_left;       /* budget for values kept in RAM */
  bool map_reads;        /* file rows are read through mmap (see file_rows_mapped) */
  const char *dir;       /* where the files go */
  ImpPool *pool;
  ImpBufferCache *cache; /* staging buffers */
  ImpastoError *err;
} ImpScratch;

/* One stored value [C, H, W], written and read in bands of rows [C, n, W]. */
typedef struct {
  int c;
  int64_t h, w;
  float *ram;         /* planar [C, H, W], or NULL when in the scratch files */
  int64_t offset;     /* byte offset of its region in every scratch file */
  size_t bytes;
  double *sum, *sumsq; /* per channel, gathered while written (of x - center in the files) */
  float *center;      /* files only: per-channel offset subtracted before float16 storage */
} ImpStored;

/* dir: NULL or "" for $TMPDIR, else /var/tmp.  ram_bytes: RAM budget for stored values. */
void imp_scratch_init (ImpScratch *sc, const char *dir, size_t ram_bytes, int n_files,
                       bool map_reads, ImpPool *pool, ImpBufferCache *cache, ImpastoError *err);
void imp_scratch_close (ImpScratch *sc);

/* st->c, h, w set: reserve its room (RAM when it fits the budget, else the files). */
ImpastoStatus imp_stored_create (ImpScratch *sc, ImpStored *st);
void imp_stored_free (ImpScratch *sc, ImpStored *st);
/* Rows [r0, r0 + n) from band [C, n, W]; accumulates the channel sums. */
ImpastoStatus imp_stored_write (ImpScratch *sc, ImpStored *st, int64_t r0, int64_t n,
                                const float *band);
/* Rows [r0, r0 + n) into band [C, n, W], mapped per channel by y = x * mul + add (then relu)
 * when mul is given: a norm view read straight from its stored input in one pass. */
ImpastoStatus imp_stored_read (ImpScratch *sc, const ImpStored *st, int64_t r0, int64_t n,
                               float *band, const float *mul, const float *add, bool relu);
/* Per-channel mean of a stored value, from its sums. */
double imp_stored_mean (const ImpStored *st, int ch, double *var);

#endif
