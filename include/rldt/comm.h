/* rldt/comm.h — data parallelism over ranks launched by mpirun or srun (DESIGN.md: comm/).
 *
 * Every rank steps its own envs and samples its own batches; after each backward the ranks average their
 * gradients, so every rank takes the same optimiser step and the parameters stay identical. The world is
 * process-wide: rldt_comm_init once at start (the CLI does it), rldt_comm_finalize at exit.
 *
 * Engines:
 *   single  one process that no launcher started: no MPI call at all;
 *   mpi     MPI between the ranks: in place on backends that compute in host memory (cpu, and cuda-emu, which
 *           has no NCCL: its "device" memory is the host's);
 *   nccl    ranks on the cuda backend (rldt_comm_use): the gradient average is NCCL's all-reduce of device
 *           memory (ncclAvg), on a communicator whose id rank 0 broadcasts over MPI; the device is local rank
 *           modulo the visible devices (rldt_backend_open_fn). Everything else (sums of metrics, parameter
 *           broadcasts and checksums) stays on MPI, through host copies.
 * On MPI the average is a sum reduced to rank 0 in MPI's fixed order for the world size, divided by the size
 * and broadcast: every rank receives the same bits, so the ranks cannot drift apart by rounding. NCCL's ring
 * and tree all-reduces also reduce each element once and copy the result to every rank; the parameter
 * checksum of the trainers (rldt_comm_agree) stops a run whose ranks differ all the same.
 * A device collective that does not complete within $RLDT_COMM_TIMEOUT seconds (default 600), or that NCCL
 * reports failed (a rank died, a network error), ends the job on every rank with the reason (MPI_Abort). */
#ifndef RLDT_COMM_H
#define RLDT_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rldt/backend.h"
#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RLDT_COMM_SINGLE = 0, RLDT_COMM_MPI = 1, RLDT_COMM_NCCL = 2 } rldt_comm_engine_t;

typedef struct {
    rldt_comm_engine_t engine;
    int rank, size;             /* this process's rank in the world, the world size */
    int local_rank, local_size; /* the same within this node */
} rldt_comm_t;

/* Whether a launcher started this process as one rank of several (the environment variables of Open MPI,
 * PMIx/PMI or Slurm say so). */
bool rldt_comm_launched(void);
/* Joins the world: MPI_Init when launched as a rank, nothing otherwise. Idempotent. RLDT_ERR when MPI is
 * needed but unusable (the message says why). */
rldt_status_t rldt_comm_init(void);
/* The world (single, rank 0 of 1, before rldt_comm_init). */
const rldt_comm_t *rldt_comm_world(void);
/* The world in words for run headers: "1 rank (single)", "4 ranks, 2 per node (mpi)", "8 ranks, 8 per node (nccl)". */
const char *rldt_comm_describe(void);
/* Hands the world the run's backend (every rank calls it, after rldt_comm_init): on ranks of a launcher whose
 * backend has device collectives (cuda), joins them and makes the engine nccl; otherwise nothing. RLDT_ERR
 * when the ranks' backends differ (some have a GPU, some not) or NCCL cannot start (the message says why);
 * RLDT_ERR_USAGE for a bad $RLDT_COMM_TIMEOUT. */
rldt_status_t rldt_comm_use(const rldt_backend_t *be);
/* Leaves the world (MPI_Finalize when it was joined). */
void rldt_comm_finalize(void);
/* Ends every rank of the job with `code` after printing `why` on this one (MPI_Abort; exit on a single
 * process): a failing rank must not leave the others waiting in a collective. */
_Noreturn void rldt_comm_abort(int code, const char *why);

/* The seed of this rank's own random streams (its batches, its envs' episodes): `seed` itself on rank 0, so
 * a one-rank run is the run without data parallelism; distinct on every other rank. Streams that must agree
 * across ranks (initial weights) keep `seed`. */
uint64_t rldt_comm_seed(uint64_t seed);

/* buf[0..n) (memory of backend be) <- the mean over ranks of buf, the same bits on every rank. A no-op on
 * one rank of mpi or single; on nccl it runs the all-reduce even on one rank. A failed or timed-out device
 * collective ends the job (rldt_comm_abort). */
void rldt_comm_average(const rldt_backend_t *be, float *buf, size_t n);
/* v[0..n) <- the sums over ranks (metrics, counts), the same bits on every rank. */
void rldt_comm_sum(double *v, int n);
/* v[0..n) <- the maxima over ranks, the same bits on every rank. */
void rldt_comm_max(double *v, int n);
/* Rank 0 receives every rank's `bytes` bytes of host memory `mine` into all[0 .. size * bytes), in rank
 * order; `all` is unused on the other ranks (NULL there is fine). A plain copy on one rank. */
void rldt_comm_gather(const void *mine, void *all, size_t bytes);
/* Copies rank 0's n floats (memory of backend be) to every rank. */
void rldt_comm_broadcast(const rldt_backend_t *be, float *buf, size_t n);
/* Whether buf[0..n) (memory of backend be) holds the same bits on every rank: a 64-bit hash of rank 0's
 * copy against each rank's. Every rank gets the same answer. */
bool rldt_comm_agree(const rldt_backend_t *be, const float *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
