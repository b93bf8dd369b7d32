/* comm.c — the process-wide world of data-parallel ranks (see rldt/comm.h): the single-process engine
 * (no MPI call at all), the MPI engine, and the NCCL engine: MPI bootstraps the backend's device collectives
 * (the GPU plugin's NCCL, kernels/nccl.cu), which then average the gradients in device memory. */
#define _POSIX_C_SOURCE 200809L
#include "rldt/comm.h"
#include "rldt/log.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rldt_comm_t world = {RLDT_COMM_SINGLE, 0, 1, 0, 1};
static bool joined;
static const rldt_backend_t *device_be; /* the backend whose collectives the NCCL engine uses */
static double timeout_s;                /* of a device collective */

bool rldt_comm_launched(void)
{
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE")) return true;
    return getenv("SLURM_STEP_ID") && getenv("SLURM_PROCID"); /* a task of srun (not a batch script's shell) */
}

rldt_status_t rldt_comm_init(void)
{
    if (joined || !rldt_comm_launched()) return RLDT_OK;
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return rldt_error_set(RLDT_ERR, "launched as an MPI rank, but MPI_Init failed");
    MPI_Comm node;
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &world.local_rank);
    MPI_Comm_size(node, &world.local_size);
    MPI_Comm_free(&node);
    world.engine = RLDT_COMM_MPI;
    joined = true;
    rldt_log_set_rank(world.rank, world.size);
    return RLDT_OK;
}

const rldt_comm_t *rldt_comm_world(void) { return &world; }

const char *rldt_comm_describe(void)
{
    static char text[96];
    const char *engine = world.engine == RLDT_COMM_NCCL ? device_be->collectives->name
                         : world.engine == RLDT_COMM_MPI ? "mpi"
                                                         : "single";
    if (world.size == 1)
        snprintf(text, sizeof text, "1 rank (%s)", engine);
    else
        snprintf(text, sizeof text, "%d ranks, %d per node (%s)", world.size, world.local_size, engine);
    return text;
}

rldt_status_t rldt_comm_use(const rldt_backend_t *be)
{
    if (!joined || world.engine == RLDT_COMM_NCCL) return RLDT_OK;
    /* every rank must take the same path (a rank that fell back to the CPU would miss the broadcast below) */
    int has = be->collectives != NULL, all, any;
    MPI_Allreduce(&has, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&has, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (all != any)
        return rldt_error_set(RLDT_ERR, "the ranks' backends differ (this rank's is %s; some ranks have a GPU, some not): "
                                        "set run.device for all", be->name);
    if (!has) return RLDT_OK;
    const char *t = getenv("RLDT_COMM_TIMEOUT");
    char *end = NULL;
    timeout_s = t && t[0] ? strtod(t, &end) : 600.0;
    if (end && (*end || !(timeout_s > 0)))
        return rldt_error_set(RLDT_ERR_USAGE, "RLDT_COMM_TIMEOUT='%s' is not a positive number of seconds", t);
    const rldt_backend_collectives_t *c = be->collectives;
    char why[512] = "", id[1024];
    if (c->id_bytes > sizeof id) return rldt_error_set(RLDT_ERR, "%s: communicator id of %zu bytes", c->name, c->id_bytes);
    int failed = world.rank == 0 && c->make_id(id, why, sizeof why);
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (failed) return rldt_error_set(RLDT_ERR, "%s on rank 0", world.rank == 0 ? why : "making the communicator id failed");
    MPI_Bcast(id, (int)c->id_bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (c->join(id, world.rank, world.size, timeout_s, why, sizeof why)) return rldt_error_set(RLDT_ERR, "%s", why);
    device_be = be;
    world.engine = RLDT_COMM_NCCL;
    return RLDT_OK;
}

uint64_t rldt_comm_seed(uint64_t seed) { return seed + (uint64_t)world.rank * 0x9E3779B97F4A7C15ull; }

void rldt_comm_finalize(void)
{
    if (!joined) return;
    if (world.engine == RLDT_COMM_NCCL) device_be->collectives->leave();
    device_be = NULL;
    MPI_Finalize();
    joined = false;
    world = (rldt_comm_t){RLDT_COMM_SINGLE, 0, 1, 0, 1};
}

_Noreturn void rldt_comm_abort(int code, const char *why)
{
    fprintf(stderr, "rldt: rank %d of %d: %s\n", world.rank, world.size, why);
    fflush(stderr);
    if (joined) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

// ---------------------------------------------------------------------------------------------------
// collectives: counts beyond INT_MAX go in pieces

#define PIECE ((size_t)1 << 30)

/* x[0..n) <- the sum (or op) over ranks, reduced to rank 0 (in MPI's fixed order for this world size) and broadcast,
 * so every rank holds the same bits; `scale` then multiplies it (floats) on rank 0 before the broadcast. */
static void reduce_broadcast(void *x, size_t n, MPI_Datatype type, MPI_Op op, size_t elem, float scale)
{
    for (size_t at = 0; at < n; at += PIECE) {
        int k = (int)(n - at < PIECE ? n - at : PIECE);
        char *p = (char *)x + at * elem;
        MPI_Reduce(world.rank == 0 ? MPI_IN_PLACE : p, p, k, type, op, 0, MPI_COMM_WORLD);
        if (world.rank == 0 && scale != 1.0f)
            for (int i = 0; i < k; i++) ((float *)p)[i] *= scale;
        MPI_Bcast(p, k, type, 0, MPI_COMM_WORLD);
    }
}

/* A host view of n floats of backend memory: the buffer itself where the backend computes in host memory
 * (mem_free < 0), else a downloaded copy (`copy` says which, for put_host). */
static float *get_host(const rldt_backend_t *be, const float *buf, size_t n, bool *copy)
{
    *copy = be->mem_free() >= 0;
    if (!*copy) return (float *)buf;
    float *h = rldt_xmalloc(sizeof(float) * (n ? n : 1));
    be->download(h, buf, sizeof(float) * n);
    return h;
}

static void put_host(const rldt_backend_t *be, float *buf, float *h, size_t n, bool copy, bool write)
{
    if (!copy) return;
    if (write) be->upload(buf, h, sizeof(float) * n);
    free(h);
}

void rldt_comm_average(const rldt_backend_t *be, float *buf, size_t n)
{
    if (world.engine == RLDT_COMM_NCCL && be == device_be) {
        char why[512];
        if (be->collectives->average(buf, n, timeout_s, why, sizeof why)) rldt_comm_abort(RLDT_ERR, why);
        return;
    }
    if (world.size == 1) return;
    bool copy;
    float *h = get_host(be, buf, n, &copy);
    reduce_broadcast(h, n, MPI_FLOAT, MPI_SUM, sizeof(float), 1.0f / (float)world.size);
    put_host(be, buf, h, n, copy, true);
}

void rldt_comm_sum(double *v, int n)
{
    if (world.size > 1) reduce_broadcast(v, (size_t)n, MPI_DOUBLE, MPI_SUM, sizeof(double), 1.0f);
}

void rldt_comm_max(double *v, int n)
{
    if (world.size > 1) reduce_broadcast(v, (size_t)n, MPI_DOUBLE, MPI_MAX, sizeof(double), 1.0f);
}

void rldt_comm_gather(const void *mine, void *all, size_t bytes)
{
    if (world.rank == 0) memcpy(all, mine, bytes);
    if (world.size == 1) return;
    /* point to point in pieces: the offsets in `all` may pass INT_MAX, which MPI_Gatherv's cannot */
    for (size_t at = 0; at < bytes; at += PIECE) {
        int k = (int)(bytes - at < PIECE ? bytes - at : PIECE);
        if (world.rank != 0)
            MPI_Send((const char *)mine + at, k, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        else
            for (int r = 1; r < world.size; r++)
                MPI_Recv((char *)all + (size_t)r * bytes + at, k, MPI_BYTE, r, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
}

void rldt_comm_broadcast(const rldt_backend_t *be, float *buf, size_t n)
{
    if (world.size == 1) return;
    bool copy;
    float *h = get_host(be, buf, n, &copy);
    for (size_t at = 0; at < n; at += PIECE) MPI_Bcast(h + at, (int)(n - at < PIECE ? n - at : PIECE), MPI_FLOAT, 0, MPI_COMM_WORLD);
    put_host(be, buf, h, n, copy, true);
}

bool rldt_comm_agree(const rldt_backend_t *be, const float *buf, size_t n)
{
    if (world.size == 1) return true;
    bool copy;
    float *h = get_host(be, buf, n, &copy);
    uint64_t hash = 1469598103934665603ull, mine; /* FNV-1a over the bytes */
    const unsigned char *b = (const unsigned char *)h;
    for (size_t i = 0; i < n * sizeof(float); i++) hash = (hash ^ b[i]) * 1099511628211ull;
    put_host(be, (float *)buf, h, n, copy, false);
    mine = hash;
    MPI_Bcast(&hash, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    int differ = hash != mine, any = 0;
    MPI_Allreduce(&differ, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return !any;
}
