/* cmd_plot.c — `rldt plot RUN_DIR [out=FILE.png]`: learning curves of a fine-tuning run. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rldt/plot.h"

int rldt_cmd_plot(int argc, char **argv)
{
    if (argc < 2 || argc > 3) return rldt_cli_usage("plot");
    char out[1100];
    snprintf(out, sizeof out, "%s/curves.png", argv[1]);
    if (argc == 3) {
        if (strncmp(argv[2], "out=", 4) != 0) {
            rldt_error_set(RLDT_ERR_USAGE, "unknown argument '%s' (expected out=FILE.png)", argv[2]);
            return rldt_cli_fail(RLDT_ERR_USAGE);
        }
        snprintf(out, sizeof out, "%s", argv[2] + 4);
    }
    int st = rldt_plot_run(argv[1], out);
    if (st) return rldt_cli_fail(st);
    printf("wrote %s\n", out);
    return 0;
}
