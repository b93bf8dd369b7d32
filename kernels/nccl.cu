// nccl.cu — the GPU plugin's collectives (rldt_backend_collectives_t): NCCL between the ranks' devices, one
// communicator per process. comm.c (in the host library) makes the id on rank 0, broadcasts it over MPI and
// calls join; this file links NCCL so that the host library never does. Not built into the emulator plugin.
//
// Every call is non-blocking (ncclConfig_t.blocking = 0) and then polled: while the device works, the host
// asks ncclCommGetAsyncError (a peer that died or a network error shows there) and the stream, and gives up
// after timeout_s seconds. A failure aborts the communicator (ncclCommAbort) and returns the reason, so the
// caller ends the job instead of waiting forever for a rank that is gone.
#include <nccl.h>
#include <string.h>
#include <time.h>

#include "cuda_common.cuh"

static ncclComm_t comm;
static cudaStream_t stream;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Aborts the communicator after `what` failed; the reason into why. Returns 1 (the calls' failure value).
static int fail(const char *what, const char *detail, char *why, size_t len)
{
    const char *last = comm ? ncclGetLastError(comm) : "";
    snprintf(why, len, "NCCL %s: %s%s%s", what, detail, last && last[0] ? ": " : "", last ? last : "");
    if (comm) ncclCommAbort(comm);
    comm = NULL;
    return 1;
}

// Waits until the communicator's pending work is issued (not ncclInProgress) and, when `on_stream`, done on
// the stream; checks the asynchronous error all the while.
static int wait_done(const char *what, bool on_stream, double timeout_s, char *why, size_t len)
{
    double t0 = now();
    struct timespec pause = {0, 20000}; // 20 µs between polls: small beside an all-reduce's own latency
    for (;;) {
        ncclResult_t st;
        ncclResult_t r = ncclCommGetAsyncError(comm, &st);
        if (r != ncclSuccess) return fail(what, ncclGetErrorString(r), why, len);
        if (st != ncclSuccess && st != ncclInProgress) return fail(what, ncclGetErrorString(st), why, len);
        if (st == ncclSuccess) {
            cudaError_t e = on_stream ? cudaStreamQuery(stream) : cudaSuccess;
            if (e == cudaSuccess) return 0;
            if (e != cudaErrorNotReady) return fail(what, cudaGetErrorString(e), why, len);
        }
        if (now() - t0 > timeout_s) {
            char detail[96];
            snprintf(detail, sizeof detail, "not done after %.0f s (a rank stopped or is unreachable)", timeout_s);
            return fail(what, detail, why, len);
        }
        nanosleep(&pause, NULL);
    }
}

static int nccl_make_id(void *id, char *why, size_t len)
{
    ncclResult_t r = ncclGetUniqueId((ncclUniqueId *)id);
    if (r != ncclSuccess) return fail("ncclGetUniqueId", ncclGetErrorString(r), why, len);
    return 0;
}

static int nccl_join(const void *id, int rank, int size, double timeout_s, char *why, size_t len)
{
    if (!stream) {
        cudaError_t e = cudaStreamCreate(&stream); // a blocking stream: it waits for the kernels before it
        if (e != cudaSuccess) return fail("stream", cudaGetErrorString(e), why, len);
    }
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclUniqueId uid;
    memcpy(&uid, id, sizeof uid);
    ncclResult_t r = ncclCommInitRankConfig(&comm, size, uid, rank, &config);
    if (r != ncclSuccess && r != ncclInProgress) return fail("ncclCommInitRankConfig", ncclGetErrorString(r), why, len);
    return wait_done("ncclCommInitRankConfig", false, timeout_s, why, len);
}

// ncclAvg: each rank's values times 1/size, summed (NCCL's pre-multiplied sum for floats)
static int nccl_average(float *buf, size_t n, double timeout_s, char *why, size_t len)
{
    if (!comm) return fail("ncclAllReduce", "no communicator (join failed or was not called)", why, len);
    ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat, ncclAvg, comm, stream);
    if (r != ncclSuccess && r != ncclInProgress) return fail("ncclAllReduce", ncclGetErrorString(r), why, len);
    return wait_done("ncclAllReduce", true, timeout_s, why, len);
}

static void nccl_leave(void)
{
    if (!comm) return;
    char why[256];
    ncclResult_t r = ncclCommFinalize(comm); // flushes what is in flight; then the resources go
    if (r != ncclSuccess && r != ncclInProgress)
        fail("ncclCommFinalize", ncclGetErrorString(r), why, sizeof why);
    else if (wait_done("ncclCommFinalize", false, 60.0, why, sizeof why) == 0)
        ncclCommDestroy(comm);
    comm = NULL;
}

static const rldt_backend_collectives_t nccl_collectives = {
    "nccl", sizeof(ncclUniqueId), nccl_make_id, nccl_join, nccl_average, nccl_leave,
};

void rldt_cuda_register_nccl(rldt_backend_t *be) { be->collectives = &nccl_collectives; }
