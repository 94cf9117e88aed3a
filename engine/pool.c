/* pool.c — persistent pthread pool; see pool.h. */
#include "pool.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct ImpPool {
  int n_threads;              /* including the calling thread */
  pthread_t *workers;         /* n_threads - 1 */
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  uint64_t generation;        /* bumped for every job */
  bool quit;
  /* the current job */
  ImpTaskFunc fn;
  void *ctx;
  int64_t n_tasks;
  atomic_int_fast64_t next;
  int busy;                   /* workers still inside the current job */
};

typedef struct {
  ImpPool *pool;
  int index;
} WorkerArg;

static void run_tasks (ImpPool *pool, int thread)
{
  for (;;) {
    int64_t t = atomic_fetch_add (&pool->next, 1);
    if (t >= pool->n_tasks)
      break;
    pool->fn (pool->ctx, t, thread);
  }
}

static void *worker_main (void *p)
{
  WorkerArg arg = *(WorkerArg *) p;
  free (p);
  ImpPool *pool = arg.pool;
  uint64_t seen = 0;
  pthread_mutex_lock (&pool->lock);
  for (;;) {
    while (!pool->quit && pool->generation == seen)
      pthread_cond_wait (&pool->wake, &pool->lock);
    if (pool->quit)
      break;
    seen = pool->generation;
    pthread_mutex_unlock (&pool->lock);
    run_tasks (pool, arg.index);
    pthread_mutex_lock (&pool->lock);
    if (--pool->busy == 0)
      pthread_cond_signal (&pool->done);
  }
  pthread_mutex_unlock (&pool->lock);
  return NULL;
}

ImpPool *imp_pool_new (int threads)
{
  if (threads <= 0)
    threads = imp_cpu_count ();
  ImpPool *pool = calloc (1, sizeof *pool);
  if (!pool)
    return NULL;
  pool->n_threads = 1;
  pthread_mutex_init (&pool->lock, NULL);
  pthread_cond_init (&pool->wake, NULL);
  pthread_cond_init (&pool->done, NULL);
  pool->workers = calloc ((size_t) threads, sizeof *pool->workers);
  if (!pool->workers) {
    imp_pool_free (pool);
    return NULL;
  }
  for (int i = 1; i < threads; i++) {
    WorkerArg *arg = malloc (sizeof *arg);
    if (!arg)
      break;
    arg->pool = pool;
    arg->index = i;
    if (pthread_create (&pool->workers[i - 1], NULL, worker_main, arg) != 0) {
      free (arg);
      break; /* run with the threads we got */
    }
    pool->n_threads++;
  }
  return pool;
}

void imp_pool_free (ImpPool *pool)
{
  if (!pool)
    return;
  pthread_mutex_lock (&pool->lock);
  pool->quit = true;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);
  for (int i = 0; i < pool->n_threads - 1; i++)
    pthread_join (pool->workers[i], NULL);
  free (pool->workers);
  pthread_mutex_destroy (&pool->lock);
  pthread_cond_destroy (&pool->wake);
  pthread_cond_destroy (&pool->done);
  free (pool);
}

int imp_pool_threads (const ImpPool *pool)
{
  return pool ? pool->n_threads : 1;
}

void imp_pool_run (ImpPool *pool, int64_t n_tasks, ImpTaskFunc fn, void *ctx)
{
  if (n_tasks <= 0)
    return;
  if (!pool || pool->n_threads == 1 || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; t++)
      fn (ctx, t, 0);
    return;
  }
  pthread_mutex_lock (&pool->lock);
  pool->fn = fn;
  pool->ctx = ctx;
  pool->n_tasks = n_tasks;
  atomic_store (&pool->next, 0);
  pool->busy = pool->n_threads - 1;
  pool->generation++;
  pthread_cond_broadcast (&pool->wake);
  pthread_mutex_unlock (&pool->lock);

  run_tasks (pool, 0);

  pthread_mutex_lock (&pool->lock);
  while (pool->busy > 0)
    pthread_cond_wait (&pool->done, &pool->lock);
  pthread_mutex_unlock (&pool->lock);
}
