/* cmd_plot.c — `rldt plot RUN_DIR [out=FILE.png]`: learning curves of a fine-tuning run. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/path.h"
#include "rldt/plot.h"

int rldt_cmd_plot(int argc, char **argv)
{
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
