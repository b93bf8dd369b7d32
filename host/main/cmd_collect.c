/* cmd_collect.c — `rldt collect env=NAME demos=N noise=X seed=S out=FILE.h5 [threads=T]`: scripted-expert
 * demonstrations in the robomimic HDF5 layout. Takes plain key=value arguments (not dotted config keys),
 * each checked against the table below. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/dataset.h"

typedef enum { TEXT, INTEGER, NUMBER } arg_kind_t;

typedef struct {
    const char *name;
    arg_kind_t kind;
    const char *def; /* default as text, NULL: required */
    double min, max; /* inclusive bounds of INTEGER and NUMBER values */
    const char *doc;
} arg_t;

enum { ARG_ENV, ARG_DEMOS, ARG_NOISE, ARG_SEED, ARG_OUT, ARG_THREADS, N_ARGS };
static const arg_t args[N_ARGS] = {
    [ARG_ENV] = {"env", TEXT, NULL, 0, 0, "task name"},
    [ARG_DEMOS] = {"demos", INTEGER, "100", 1, 1e7, "episodes to record"},
    [ARG_NOISE] = {"noise", NUMBER, "0.05", 0, 100, "std of the Gaussian noise added to the expert's actions"},
    [ARG_SEED] = {"seed", INTEGER, "0", 0, 4294967295.0, "seed of the episodes, the noise and the train/valid split"},
    [ARG_OUT] = {"out", TEXT, NULL, 0, 0, "output HDF5 file (written to OUT.tmp, then renamed)"},
    [ARG_THREADS] = {"threads", INTEGER, "0", 0, 1024, "env threads (0 = one per core)"},
};

/* Checks a numeric value against its row. */
static rldt_status_t parse_number(const arg_t *a, const char *text, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(x) || x < a->min || x > a->max || (a->kind == INTEGER && x != floor(x)))
        return rldt_error_set(RLDT_ERR_USAGE, "%s='%s' is not %s in [%g, %g] (%s)", a->name, text,
                              a->kind == INTEGER ? "an integer" : "a number", a->min, a->max, a->doc);
    *out = x;
    return RLDT_OK;
}

/* Prints the error message, then the arguments and tasks; returns RLDT_ERR_USAGE. */
static int fail_with_usage(void)
{
    rldt_cli_fail(RLDT_ERR_USAGE);
    fprintf(stderr, "arguments:\n");
    for (int i = 0; i < N_ARGS; i++)
        fprintf(stderr, "  %-8s %s (%s%s)\n", args[i].name, args[i].doc, args[i].def ? "default " : "required",
                args[i].def ? args[i].def : "");
    fprintf(stderr, "tasks:\n");
    for (int i = 0; i < rldt_env_count(); i++) fprintf(stderr, "  %-10s %s\n", rldt_env_spec_at(i)->name, rldt_env_spec_at(i)->summary);
    return RLDT_ERR_USAGE;
}

int rldt_cmd_collect(int argc, char **argv)
{
    const char *text[N_ARGS];
    for (int i = 0; i < N_ARGS; i++) text[i] = args[i].def;
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        int k = N_ARGS;
        for (int j = 0; eq && j < N_ARGS; j++)
            if ((size_t)(eq - argv[i]) == strlen(args[j].name) && strncmp(argv[i], args[j].name, strlen(args[j].name)) == 0) k = j;
        if (k == N_ARGS) {
            rldt_error_set(RLDT_ERR_USAGE, "unknown argument '%s' (expected key=value, keys below)", argv[i]);
            return fail_with_usage();
        }
        text[k] = eq + 1;
    }
    double num[N_ARGS] = {0};
    for (int k = 0; k < N_ARGS; k++) {
        if (!text[k] || !*text[k]) {
            rldt_error_set(RLDT_ERR_USAGE, "missing argument %s=... (%s)", args[k].name, args[k].doc);
            return fail_with_usage();
        }
        if (args[k].kind != TEXT && parse_number(&args[k], text[k], &num[k])) return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    const rldt_env_spec_t *spec = rldt_env_find(text[ARG_ENV]);
    if (!spec) return fail_with_usage();
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
