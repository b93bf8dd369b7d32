// index.cuh — flat-index helpers of the row-wise kernels (elementwise.cu, transport.cu).
#pragma once
#include "cuda_common.cuh"

// Row and column of flat index e in rows of w elements. A 64-bit division is a long software routine on the
// GPU (it dominated the row-wise elementwise kernels), a 32-bit one a few instructions: the 32-bit path
// serves every index below 2^32, with the same result.
__device__ inline void rldt_divmod(size_t e, unsigned w, size_t *row, size_t *col)
{
    if (e <= 0xffffffffu) {
        unsigned q = (unsigned)e / w;
        *row = q;
        *col = (unsigned)e - q * w;
    } else {
        *row = e / w;
        *col = e - *row * w;
    }
}

// Row of flat index e in rows of w elements (see rldt_divmod).
__device__ inline size_t rldt_row(size_t e, unsigned w) { return e <= 0xffffffffu ? (size_t)((unsigned)e / w) : e / w; }
