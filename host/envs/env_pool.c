/* env_pool.c — persistent worker threads behind the vector env (see env_pool.h).
 *
 * One job at a time. The caller publishes (fn, ctx, n) and bumps the atomic `generation`; each worker
 * runs its range, decrements the atomic `pending`, and the caller runs range 0 itself. Both sides first
 * spin for up to SPIN_SECONDS on the atomic, yielding the core on each turn (a hand-off then costs about
 * a microsecond when jobs come back to back, as in env stepping, and a spinner never starves a worker
 * waiting for its core on a busy machine), then sleep on a condition variable. No wake-up is lost: a worker only
 * sleeps after re-checking `generation` under the mutex, and the caller broadcasts under the same mutex
 * after bumping it; `done` is signalled under the mutex the caller re-checks `pending` under. */
#define _POSIX_C_SOURCE 200809L
#include "env_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SPIN_SECONDS 50e-6

struct rldt_env_pool {
    int threads;
    pthread_t *workers; /* threads - 1 of them */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_ulong generation;
    atomic_int pending;
    int sleepers; /* workers waiting on `wake` (under mu) */
    atomic_bool stop;
    rldt_env_pool_fn fn;
    void *ctx;
    int n;
};

typedef struct {
    rldt_env_pool_t *pool;
    int id;
} worker_arg_t;

static void run_range(rldt_env_pool_t *p, int id)
{
    int begin = (int)((long)p->n * id / p->threads);
    int end = (int)((long)p->n * (id + 1) / p->threads);
    if (begin < end) p->fn(p->ctx, id, begin, end);
}

/* Busy-waits up to SPIN_SECONDS for the generation to move past `seen`. */
static bool spin_for_job(rldt_env_pool_t *p, unsigned long seen)
{
    double t0 = rldt_now();
    while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
        if (rldt_now() - t0 > SPIN_SECONDS) return false;
        sched_yield();
    }
    return true;
}

/* Busy-waits up to SPIN_SECONDS for every worker to finish. */
static bool spin_for_done(rldt_env_pool_t *p)
{
    double t0 = rldt_now();
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        if (rldt_now() - t0 > SPIN_SECONDS) return false;
        sched_yield();
    }
    return true;
}

static void *worker_main(void *arg)
{
    worker_arg_t a = *(worker_arg_t *)arg;
    free(arg);
    rldt_env_pool_t *p = a.pool;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_for_job(p, seen)) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while (atomic_load(&p->generation) == seen) pthread_cond_wait(&p->wake, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        run_range(p, a.id);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

rldt_status_t rldt_env_pool_create(rldt_env_pool_t **out, int threads)
{
    rldt_env_pool_t *p = rldt_xcalloc(1, sizeof *p);
    p->threads = threads < 1 ? 1 : threads;
    p->workers = rldt_xcalloc((size_t)p->threads, sizeof *p->workers);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < p->threads; i++) {
        worker_arg_t *arg = rldt_xmalloc(sizeof *arg);
        *arg = (worker_arg_t){p, i};
        int rc = pthread_create(&p->workers[i - 1], NULL, worker_main, arg);
        if (rc) {
            free(arg);
            p->threads = i; /* join the ones that started */
            rldt_env_pool_destroy(p);
            return rldt_error_set(RLDT_ERR, "cannot start env worker thread %d: %s", i, strerror(rc));
        }
    }
    *out = p;
    return RLDT_OK;
}

void rldt_env_pool_destroy(rldt_env_pool_t *p)
{
    if (!p) return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->generation, 1); /* wakes spinners and sleepers alike; they see `stop` */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++) pthread_join(p->workers[i - 1], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
}

int rldt_env_pool_threads(const rldt_env_pool_t *p) { return p->threads; }

void rldt_env_pool_run(rldt_env_pool_t *p, rldt_env_pool_fn fn, void *ctx, int n)
{
    if (p->threads == 1) {
        if (n > 0) fn(ctx, 0, 0, n);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store_explicit(&p->pending, p->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release); /* publishes the job */
    pthread_mutex_lock(&p->mu);
    if (p->sleepers) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_range(p, 0);
    if (!spin_for_done(p)) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
