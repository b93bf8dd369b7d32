// backend_cuda.cu — the CUDA backend plugin's entry point: probes the device and hands the host the op
// table (rldt_backend_t). Loaded with dlopen by host/nn/backend.c; self-contained (no librldt symbols).
#include <string.h>

#include "cuda_common.cuh"

static void *cuda_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) return NULL;
    if (cudaMemset(p, 0, bytes) != cudaSuccess) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

static void cuda_free(void *p) { CUDA_CHECK(cudaFree(p)); }
static void cuda_upload(void *dst, const void *src, size_t bytes)
{
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
static void cuda_download(void *dst, const void *src, size_t bytes)
{
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
static void cuda_copy(void *dst, const void *src, size_t bytes)
{
    CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}
static void cuda_sync(void) { CUDA_CHECK(cudaDeviceSynchronize()); }

// Free device memory; the emulator's device memory is host memory, which the host check already counts.
static double cuda_mem_free(void)
{
#ifdef RLDT_CUDA_EMU
    return -1.0;
#else
    size_t free_bytes = 0, total = 0;
    return cudaMemGetInfo(&free_bytes, &total) == cudaSuccess ? (double)free_bytes : -1.0;
#endif
}

static rldt_backend_t cuda_backend;

extern "C" __attribute__((visibility("default"))) const rldt_backend_t *rldt_cuda_backend_open(int local_rank, char *why,
                                                                                               size_t len)
{
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err == cudaErrorInsufficientDriver) {
        snprintf(why, len, "insufficient driver");
        return NULL;
    }
    if (err == cudaErrorNoDevice || (err == cudaSuccess && n == 0)) {
        snprintf(why, len, "no device");
        return NULL;
    }
    if (err != cudaSuccess) {
        snprintf(why, len, "%s", cudaGetErrorString(err));
        return NULL;
    }
    if (!rldt_cuda_nn_set_precision(getenv("RLDT_PRECISION"), why, len)) return NULL;
    int dev = local_rank % n; // one GPU per rank of a node
    err = cudaSetDevice(dev);
    if (err != cudaSuccess) {
        snprintf(why, len, "device %d: %s", dev, cudaGetErrorString(err));
        return NULL;
    }
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    cuda_backend.abi = RLDT_BACKEND_ABI;
#ifdef RLDT_CUDA_EMU
    cuda_backend.name = "cuda-emu"; // the same kernels run on the CPU by kernels/emu/
    snprintf(cuda_backend.device, sizeof cuda_backend.device, "%s", prop.name);
#else
    cuda_backend.name = "cuda";
    snprintf(cuda_backend.device, sizeof cuda_backend.device, "%s (sm_%d%d, %.0f GiB, device %d of %d)", prop.name,
             prop.major, prop.minor, prop.totalGlobalMem / 1073741824.0, dev, n);
    rldt_cuda_register_nccl(&cuda_backend); // the emulator has no NCCL: its ranks average over MPI
#endif
    cuda_backend.alloc = cuda_alloc;
    cuda_backend.free = cuda_free;
    cuda_backend.upload = cuda_upload;
    cuda_backend.download = cuda_download;
    cuda_backend.sync = cuda_sync;
    cuda_backend.copy = cuda_copy;
    cuda_backend.mem_free = cuda_mem_free;
    rldt_cuda_register_rng(&cuda_backend);
    rldt_cuda_register_optim(&cuda_backend);
    rldt_cuda_register_elementwise(&cuda_backend);
    rldt_cuda_register_reduce(&cuda_backend);
    rldt_cuda_register_transport(&cuda_backend);
    rldt_cuda_register_nn(&cuda_backend);
    rldt_cuda_register_conv(&cuda_backend);
    return &cuda_backend;
}
