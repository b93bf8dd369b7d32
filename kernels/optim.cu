// optim.cu — flat-buffer optimiser ops: Adam/AdamW step, lerp (EMA/Polyak), scale (the sum of squares for
// global-norm clipping is a deterministic reduction in reduce.cu).
// The per-element Adam math is rldt_adam_elem from rldt/optim.h, the same code the CPU loop runs.
#include "cuda_common.cuh"
#include "rldt/optim.h"

__global__ void adam_kernel(rldt_adam_t o, float lr, float bc1, float bc2, float *p, const float *g, float *m,
                            float *v, size_t n)
{
    GRID_STRIDE(i, n)
        rldt_adam_elem(&o, lr, bc1, bc2, &p[i], g[i], &m[i], &v[i]);
}

static void cuda_adam_step(const rldt_adam_t *o, float lr, long step, float *p, const float *g, float *m, float *v,
                         size_t n)
{
    if (!n) return;
    float bc1, bc2;
    rldt_adam_bias_corrections(o, step, &bc1, &bc2);
    RLDT_LAUNCH(adam_kernel, rldt_grid(n, 256), 256, *o, lr, bc1, bc2, p, g, m, v, n);
    CUDA_CHECK(cudaGetLastError());
}

__global__ void lerp_kernel(float *dst, const float *src, float w, size_t n)
{
    GRID_STRIDE(i, n)
        dst[i] += w * (src[i] - dst[i]);
}

static void cuda_lerp(float *dst, const float *src, float w, size_t n)
{
    if (!n) return;
    RLDT_LAUNCH(lerp_kernel, rldt_grid(n, 256), 256, dst, src, w, n);
    CUDA_CHECK(cudaGetLastError());
}

__global__ void scale_kernel(float *y, float a, size_t n)
{
    GRID_STRIDE(i, n)
        y[i] *= a;
}

static void cuda_scale(float *y, float a, size_t n)
{
    if (!n) return;
    RLDT_LAUNCH(scale_kernel, rldt_grid(n, 256), 256, y, a, n);
    CUDA_CHECK(cudaGetLastError());
}

void rldt_cuda_register_optim(rldt_backend_t *be)
{
    be->adam_step = cuda_adam_step;
    be->lerp = cuda_lerp;
    be->scale = cuda_scale;
}
