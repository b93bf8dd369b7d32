/* cmd_export.c — `rldt export CKPT [format=safetensors] out=FILE`: the policy's weights for PyTorch users. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rldt/export.h"

enum { ARG_OUT, ARG_FORMAT, N_ARGS };
static const rldt_cli_arg_t args[N_ARGS] = {
    [ARG_OUT] = {"out", RLDT_ARG_TEXT, NULL, 0, 0, "output file"},
    [ARG_FORMAT] = {"format", RLDT_ARG_TEXT, "safetensors", 0, 0, "file format (safetensors)"},
};

int rldt_cmd_export(int argc, char **argv)
{
    if (argc < 3) return rldt_cli_usage("export");
    const char *text[N_ARGS];
    double num[N_ARGS];
    int bad = rldt_cli_args(args, N_ARGS, argc, argv, 2, text, num);
    if (bad) return bad;
    if (strcmp(text[ARG_FORMAT], "safetensors") != 0) {
        rldt_error_set(RLDT_ERR_USAGE, "format=%s: only safetensors is supported", text[ARG_FORMAT]);
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    int st = rldt_export_safetensors(argv[1], text[ARG_OUT]);
    if (st) return rldt_cli_fail(st);
    printf("wrote %s\n", text[ARG_OUT]);
    return 0;
}
