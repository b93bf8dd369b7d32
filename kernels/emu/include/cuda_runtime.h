// cuda_runtime.h for the kernel emulator: the emulated runtime (kernels/emu/cuda_emu.h), found first on the
// include path of the cuda-emu build, so a .cu file that includes the CUDA header directly builds there too.
#pragma once
#include "../cuda_emu.h"
