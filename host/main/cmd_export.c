/* cmd_export.c — `rldt export CKPT [format=safetensors] out=FILE`: the policy's weights for PyTorch users. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rldt/export.h"

int rldt_cmd_export(int argc, char **argv)
{
    if (argc < 3) return rldt_cli_usage("export");
    const char *out = NULL, *format = "safetensors";
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "out=", 4))
            out = argv[i] + 4;
        else if (!strncmp(argv[i], "format=", 7))
            format = argv[i] + 7;
        else {
            rldt_error_set(RLDT_ERR_USAGE, "unknown argument '%s' (expected out=FILE, format=safetensors)", argv[i]);
            return rldt_cli_fail(RLDT_ERR_USAGE);
        }
    }
    if (strcmp(format, "safetensors") != 0) {
        rldt_error_set(RLDT_ERR_USAGE, "format=%s: only safetensors is supported", format);
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    if (!out || !out[0]) {
        rldt_error_set(RLDT_ERR_USAGE, "missing out=FILE");
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    int st = rldt_export_safetensors(argv[1], out);
    if (st) return rldt_cli_fail(st);
    printf("wrote %s\n", out);
    return 0;
}
