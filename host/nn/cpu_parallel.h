/* cpu_parallel.h — the CPU backend's threads (private to host/nn/backend_cpu*.c).
 *
 * One set of threads does all of the backend's work: GEMMs and elementwise loops alike. OpenBLAS runs
 * single-threaded inside them (its own workers would otherwise spin beside ours after every GEMM), and the
 * threads are a persistent pool (the vector env's: a worker spins for at most 50 µs after a job, then
 * sleeps), started on the first op that splits. The thread count is rldt_backend_cpu_threads' (run.blas_threads),
 * by default OpenBLAS's own (its OPENBLAS_NUM_THREADS or the core count). */
#ifndef RLDT_CPU_PARALLEL_H
#define RLDT_CPU_PARALLEL_H

#include <stddef.h>

/* Most threads a backend op splits over (partial sums of reductions live on the stack). */
#define RLDT_CPU_MAX_THREADS 256

/* The backend's thread count (>= 1). */
int rldt_cpu_threads(void);

/* Runs fn(ctx, part, parts) for part = 0 .. parts-1, one part per thread, the calling thread taking part 0,
 * and returns when all are done; parts is capped at rldt_cpu_threads() (1 runs inline). Returns the parts
 * it ran. */
typedef void (*rldt_cpu_part_fn)(void *ctx, int part, int parts);
int rldt_cpu_parallel(rldt_cpu_part_fn fn, void *ctx, int parts);

/* Start of part p of n items split into `parts` ranges that begin on a multiple of `align` items. */
static inline size_t rldt_cpu_split(size_t n, int p, int parts, size_t align)
{
    return p >= parts ? n : n * (size_t)p / (size_t)parts / align * align;
}

/* An elementwise loop body over items [begin, end) of an op's arguments. */
typedef void (*rldt_cpu_range_fn)(const void *args, size_t begin, size_t end, int part);
/* Runs body over [0, n): inline below a size where splitting pays, else one cache-line-aligned range per
 * thread. Returns the number of parts (the `part` arguments were 0 .. parts-1). */
int rldt_cpu_range(rldt_cpu_range_fn body, const void *args, size_t n);

#endif
