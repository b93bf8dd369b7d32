/* cmd_plot.c — `rldt plot RUN_DIR [out=FILE.png]`: learning curves of a fine-tuning run;
 * `rldt plot compare out=FILE.png [metric=..] [x=..] [band=..] LABEL=RUN_DIR[,RUN_DIR...] ...`: labelled
 * groups of runs (one per algorithm, say, each a list of seeds) overlaid. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/path.h"
#include "rldt/plot.h"

/* LABEL=RUN_DIR[,RUN_DIR...] into s, split in place (the '=' and commas become NULs; s->runs is malloc'd). */
static int split_runs(char *arg, char *eq, rldt_plot_series_t *s)
{
    const char **runs = rldt_xcalloc(strlen(eq + 1) + 1, sizeof *runs);
    *s = (rldt_plot_series_t){arg, runs, 0};
    *eq = '\0';
    for (char *run = eq + 1, *next; run; run = next) {
        next = strchr(run, ',');
        if (next) *next++ = '\0';
        if (!*run)
            return rldt_error_set(RLDT_ERR_USAGE, "%s=: an empty run directory in its list (expected %s=RUN_DIR[,RUN_DIR...])", arg, arg);
        runs[s->n_runs++] = run;
    }
    return 0;
}

static int plot_compare(int argc, char **argv)
{
    static const char *const names[] = {"out", "metric", "x", "band"};
    const char *opt[4] = {NULL};
    rldt_plot_series_t *series = rldt_xcalloc((size_t)argc, sizeof *series);
    int n = 0, st = 0;
    for (int a = 2; !st && a < argc; a++) {
        char *eq = strchr(argv[a], '=');
        size_t len = eq ? (size_t)(eq - argv[a]) : 0;
        int o = 0;
        while (o < 4 && !(strlen(names[o]) == len && strncmp(names[o], argv[a], len) == 0)) o++;
        if (!eq) st = rldt_error_set(RLDT_ERR_USAGE, "'%s': expected LABEL=RUN_DIR[,RUN_DIR...] or out=, metric=, x=, band=", argv[a]);
        else if (o < 4 && opt[o]) st = rldt_error_set(RLDT_ERR_USAGE, "%s= is given twice", names[o]);
        else if (o < 4) opt[o] = eq + 1;
        else st = split_runs(argv[a], eq, &series[n++]);
    }
    if (!st && !opt[0]) st = rldt_error_set(RLDT_ERR_USAGE, "out=FILE.png is required");
    if (!st && n > 0) st = rldt_plot_compare(series, n, opt[1], opt[2], opt[3], opt[0]);
    if (!st && n > 0) printf("wrote %s and its numbers beside it (.csv)\n", opt[0]);
    for (int i = 0; i < n; i++) free((void *)series[i].runs);
    free(series);
    return st ? rldt_cli_fail(st) : n == 0 ? rldt_cli_usage("plot") : 0;
}

int rldt_cmd_plot(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "compare") == 0) return argc < 3 ? rldt_cli_usage("plot") : plot_compare(argc, argv);
    if (argc < 2 || argc > 3) return rldt_cli_usage("plot");
    if (argc == 3 && strncmp(argv[2], "out=", 4) != 0) {
        rldt_error_set(RLDT_ERR_USAGE, "unknown argument '%s' (expected out=FILE.png)", argv[2]);
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    char *out = argc == 3 ? strdup(argv[2] + 4) : rldt_path_join(argv[1], "curves.png");
    if (!out) return rldt_cli_fail(RLDT_ERR_USAGE);
    int st = rldt_plot_run(argv[1], out);
    if (!st) printf("wrote %s\n", out);
    free(out);
    return st ? rldt_cli_fail(st) : 0;
}
