/* pool.h — a small persistent pthread pool for data-parallel loops.
 *
 * OpenBLAS is used single-threaded (openblas_set_num_threads(1)); all parallelism, inside GEMM
 * phases and outside them, comes from this pool so that both cores work in every phase and no
 * two thread pools spin against each other. */
#ifndef IMP_POOL_H
#define IMP_POOL_H

#include <stdint.h>

typedef struct ImpPool ImpPool;

/* Body of a parallel loop: called once for every task index in [0, n_tasks), on some thread
 * (thread in [0, imp_pool_threads(pool))). */
typedef void (*ImpTaskFunc) (void *ctx, int64_t task, int thread);

/* threads <= 0: number of online CPUs.  Returns NULL on failure (then run serially). */
ImpPool *imp_pool_new (int threads);
void imp_pool_free (ImpPool *pool);

/* Number of threads that may run tasks (1 for a NULL pool). */
int imp_pool_threads (const ImpPool *pool);

/* Run fn for all tasks and wait.  pool may be NULL: then the tasks run serially on the caller.
 * Tasks are handed out dynamically (atomic counter), the calling thread takes part. Not reentrant:
 * a task must not call imp_pool_run on the same pool. */
void imp_pool_run (ImpPool *pool, int64_t n_tasks, ImpTaskFunc fn, void *ctx);

#endif
