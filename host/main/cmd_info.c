/* cmd_info.c — `rldt info`: what this build can do and which backend a run would use. */
#include <stdio.h>

#include "cli.h"
#include "rldt/backend.h"
#include "rldt/env.h"

int rldt_cmd_info(int argc, char **argv)
{
    printf("rldt %s\n", RLDT_VERSION);
    printf("build: C11 CPU backend (OpenBLAS), CUDA plugin %s\n", RLDT_BUILD_CUDA ? "built" : "not built");
    printf("CPU: %s\n", rldt_backend_cpu()->device);
    char why[256];
    const rldt_backend_t *cu = rldt_backend_cuda(why, sizeof why);
    if (cu)
        printf("CUDA: %s\n", cu->device);
    else
        printf("CUDA: unavailable (%s) — using CPU\n", why);
    const char *missing = cu ? rldt_backend_missing_op(cu) : NULL;
    if (missing)
        printf("backend (run.device=auto): cpu (the CUDA backend has no %s kernel yet)\n", missing);
    else
        printf("backend (run.device=auto): %s\n", cu ? "cuda" : "cpu");
    const rldt_backend_t *emu = rldt_backend_cuda_emu(why, sizeof why);
    printf("kernel emulator (run.device=cuda-emu, for tests): %s\n", emu ? "available" : why);
    printf("tasks:\n");
    for (int i = 0; i < rldt_env_count(); i++) printf("  %-16s %s\n", rldt_env_spec_at(i)->name, rldt_env_spec_at(i)->summary);
    printf("  %-16s %s\n", "gym:<id>", "any Gymnasium env with Box actions, in Python worker processes (env.kwargs, env.python, env.workers, env.obs_keys)");
    printf("  %-16s %s\n", "robosuite:<Task>", "robosuite 1.5's tasks through the same workers (Lift and Can have scripted experts)");
    return 0;
}
