// cuda_common.cuh — shared by the .cu files of the CUDA backend plugin: error checking, launch geometry
// and the declarations of each op family's host entry points (assembled into the table in backend_cuda.cu).
#pragma once
#include <cuda_runtime.h>
#include <stdio.h>

#include "rldt/backend.h"

// A failing CUDA call inside an op is a bug or a lost device: report where and abort (ops return void).
#define CUDA_CHECK(call)                                                                                 \
    do {                                                                                                 \
        cudaError_t err_ = (call);                                                                       \
        if (err_ != cudaSuccess) {                                                                       \
            fprintf(stderr, "rldt cuda: %s failed at %s:%d: %s\n", #call, __FILE__, __LINE__,           \
                    cudaGetErrorString(err_));                                                           \
            abort();                                                                                     \
        }                                                                                                \
    } while (0)

static inline unsigned rldt_grid(size_t n, unsigned block)
{
    size_t g = (n + block - 1) / block;
    return (unsigned)(g < 65535u * 16u ? (g ? g : 1) : 65535u * 16u);
}

// ---------------------------------------------------------------------------------------------------
// op families (one .cu each)
void rldt_cuda_fill_normal(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter);
void rldt_cuda_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter);
void rldt_cuda_adam_step(const rldt_adam_t *o, float lr, long step, float *p, const float *g, float *m, float *v,
                         size_t n);
void rldt_cuda_lerp(float *dst, const float *src, float w, size_t n);
void rldt_cuda_scale(float *y, float a, size_t n);
double rldt_cuda_sumsq(const float *x, size_t n);
