/* cmd_collect.c — `rldt collect env=NAME demos=N noise=X seed=S out=FILE.h5 [threads=T]`: scripted-expert
 * demonstrations in the robomimic HDF5 layout. Takes plain key=value arguments (not dotted config keys),
 * each checked against the table below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/dataset.h"
#include "rldt/memory.h"
#include "rldt/path.h"

enum { ARG_ENV, ARG_DEMOS, ARG_NOISE, ARG_SEED, ARG_OUT, ARG_THREADS, N_ARGS };
static const rldt_cli_arg_t args[N_ARGS] = {
    [ARG_ENV] = {"env", RLDT_ARG_TEXT, NULL, 0, 0, "task name"},
    [ARG_DEMOS] = {"demos", RLDT_ARG_INTEGER, "100", 1, 1e7, "episodes to record"},
    [ARG_NOISE] = {"noise", RLDT_ARG_NUMBER, "0.05", 0, 100, "std of the Gaussian noise added to the expert's actions"},
    [ARG_SEED] = {"seed", RLDT_ARG_INTEGER, "0", 0, 4294967295.0, "seed of the episodes, the noise and the train/valid split"},
    [ARG_OUT] = {"out", RLDT_ARG_TEXT, NULL, 0, 0, "output HDF5 file (written to OUT.tmp, then renamed)"},
    [ARG_THREADS] = {"threads", RLDT_ARG_INTEGER, "0", 0, 1024, "env threads (0 = one per core)"},
};

int rldt_cmd_collect(int argc, char **argv)
{
    const char *text[N_ARGS];
    double num[N_ARGS];
    int bad = rldt_cli_args(args, N_ARGS, argc, argv, 1, text, num);
    if (bad) return bad;
    const rldt_env_spec_t *spec = rldt_env_find(text[ARG_ENV]);
    if (!spec) {
        rldt_cli_fail(RLDT_ERR_USAGE);
        fprintf(stderr, "tasks:\n");
        for (int i = 0; i < rldt_env_count(); i++) fprintf(stderr, "  %-10s %s\n", rldt_env_spec_at(i)->name, rldt_env_spec_at(i)->summary);
        return RLDT_ERR_USAGE;
    }
    rldt_mem_estimate_t e;
    rldt_mem_estimate_collect(&e, spec, num[ARG_DEMOS]);
    rldt_status_t checked = rldt_path_check_output(text[ARG_OUT], "out=", NULL, 0, true);
    if (!checked) checked = rldt_mem_check(&e, "collect", NULL, text[ARG_OUT]);
    if (checked) return rldt_cli_fail(checked);
    rldt_collect_opts_t o = {
        .spec = spec,
        .demos = (int)num[ARG_DEMOS],
        .noise = num[ARG_NOISE],
        .seed = (uint64_t)num[ARG_SEED],
        .threads = (int)num[ARG_THREADS],
        .path = text[ARG_OUT],
    };
    rldt_status_t st = rldt_dataset_collect(&o);
    return st ? rldt_cli_fail(st) : 0;
}
