/* cli_backend.c — the backend of a command: run.device picks it, run.precision sets its GEMM precision, and
 * the ranks' gradient averages go through its collectives when it has them (NCCL on the GPU). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/backend.h"
#include "rldt/comm.h"
#include "rldt/log.h"

const rldt_backend_t *rldt_cli_backend(const rldt_config_t *cfg)
{
    /* the CUDA plugin reads its precision when it is opened, which the selection below does */
    setenv("RLDT_PRECISION", cfg->run_precision, 1);
    char note[512];
    const rldt_backend_t *be = rldt_backend_select(cfg->run_device, note, sizeof note);
    if (!be || rldt_comm_use(be)) return NULL; /* ranks on the GPU average over NCCL */
    rldt_info("%s", note);
    if (strcmp(be->name, "cpu") == 0) rldt_cpu_blas_check();
    if (strcmp(cfg->run_precision, "fp32") != 0 && strcmp(be->name, "cpu") == 0)
        rldt_warn("run.precision=%s applies to the GPU backend; the CPU backend computes in fp32", cfg->run_precision);
    return be;
}
