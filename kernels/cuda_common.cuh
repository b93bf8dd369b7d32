// cuda_common.cuh — shared by the .cu files of the CUDA backend plugin: the runtime (the real CUDA runtime
// under nvcc, the CPU emulator of kernels/emu/ when built with RLDT_CUDA_EMU), error checking, the launch
// macro, launch geometry and each op family's registration function (called by backend_cuda.cu).
#pragma once
#ifdef RLDT_CUDA_EMU
#include "emu/cuda_emu.h"
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rldt/backend.h"

// Every launch goes through this macro: nvcc sees <<<grid, block>>>, the emulator runs the kernel's threads
// as fibers (kernels/emu/cuda_emu.h).
#ifdef RLDT_CUDA_EMU
#define RLDT_LAUNCH(kernel, grid, block, ...) rldt_emu_launch(#kernel, (grid), (block), [=] { kernel(__VA_ARGS__); })
#else
#define RLDT_LAUNCH(kernel, grid, block, ...) kernel<<<(grid), (block)>>>(__VA_ARGS__)
#endif

// Dynamic shared memory: RLDT_DYNAMIC_SHARED(type, name) declares it inside a kernel, and a kernel that uses
// it is launched with RLDT_LAUNCH_SHMEM(kernel, grid, block, bytes, args...). The emulator's versions are in
// kernels/emu/cuda_emu.h.
#ifndef RLDT_CUDA_EMU
#define RLDT_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#define RLDT_LAUNCH_SHMEM(kernel, grid, block, bytes, ...) kernel<<<(grid), (block), (bytes)>>>(__VA_ARGS__)
#endif

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

// A grid-stride loop over the flat indices 0..n−1: each thread takes every (grid · block)-th index.
#define GRID_STRIDE(i, n)                                                                                   \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

// Whether p may be read and written as float4 (16-byte aligned). cudaMalloc's blocks are; views into
// them at other offsets need not be.
static inline bool rldt_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

// Threads per block of the grid-stride (elementwise) kernels: 256, or $RLDT_CUDA_BLOCK (a power of two from
// 32 to 1024) so that bench/bench_kernels can sweep block sizes without a rebuild. Read at each launch: a
// getenv costs far less than the launch itself.
static inline unsigned rldt_block(void)
{
    const char *s = getenv("RLDT_CUDA_BLOCK");
    unsigned b = s ? (unsigned)atoi(s) : 0;
    return b >= 32 && b <= 1024 && (b & (b - 1)) == 0 ? b : 256;
}

// ---------------------------------------------------------------------------------------------------
// op families: each .cu fills its entries of the backend table

void rldt_cuda_register_rng(rldt_backend_t *be);         // rng.cu: fill_normal, fill_uniform
void rldt_cuda_register_optim(rldt_backend_t *be);       // optim.cu: adam_step, lerp, scale
void rldt_cuda_register_elementwise(rldt_backend_t *be); // elementwise.cu: axpy, axpy_cols, minimum, fill,
                                                         // copy_cols, flow_pair, chain_select, expected_target,
                                                         // time_features
void rldt_cuda_register_reduce(rldt_backend_t *be);      // reduce.cu: sumsq, mse
void rldt_cuda_register_transport(rldt_backend_t *be);   // transport.cu: svgd_field, actor_grad
void rldt_cuda_register_nn(rldt_backend_t *be);          // nn.cu: linear_forward, linear_backward,
                                                         // act_forward, act_backward, layernorm_forward,
                                                         // layernorm_backward (appends the GEMM precision
                                                         // to be->device)
void rldt_cuda_register_conv(rldt_backend_t *be);        // conv.cu: im2col, col2im, image_shift
void rldt_cuda_register_nccl(rldt_backend_t *be);        // nccl.cu: collectives (not in the emulator)
// nn.cu: the GEMM precision of the process, "fp32" (NULL or "" too), "tf32" or "bf16"; false with the
// reason in why for any other name. The plugin sets it from $RLDT_PRECISION when it opens.
bool rldt_cuda_nn_set_precision(const char *name, char *why, size_t len);
