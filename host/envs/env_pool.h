/* env_pool.h — the vector env's persistent worker pool (private to host/envs/env_vec.c).
 *
 * `threads` workers (the calling thread is worker 0) wait on a condition variable; rldt_env_pool_run hands
 * each worker one contiguous range of [0, n) and returns when all ranges are done. No thread is created per
 * call. With one thread the work runs inline. Which thread runs which range never changes the results of
 * work whose items are independent (each env owns its RNG streams). */
#ifndef RLDT_ENV_POOL_H
#define RLDT_ENV_POOL_H

#include "rldt/common.h"

typedef struct rldt_env_pool rldt_env_pool_t;

/* The work: items [begin, end) of one call, run by thread `worker` (0 .. threads - 1; 0 is the caller; a
 * worker always runs the same range of a job, and each worker is always the same thread). */
typedef void (*rldt_env_pool_fn)(void *ctx, int worker, int begin, int end);

/* Starts threads - 1 workers (threads >= 1). RLDT_ERR if a thread cannot be created. */
rldt_status_t rldt_env_pool_create(rldt_env_pool_t **out, int threads);
/* Stops and joins the workers. NULL is a no-op. */
void rldt_env_pool_destroy(rldt_env_pool_t *p);
/* Threads in the pool, the caller included. */
int rldt_env_pool_threads(const rldt_env_pool_t *p);
/* Runs fn over [0, n) split into one contiguous range per thread; returns when every range is done. */
void rldt_env_pool_run(rldt_env_pool_t *p, rldt_env_pool_fn fn, void *ctx, int n);

#endif
