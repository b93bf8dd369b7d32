/* fuzz_config.c — libFuzzer target: the YAML config loader and key=value overrides.
 * Input: YAML text, optionally followed by a NUL byte and newline-separated overrides ("key=value").
 * Whatever the bytes, loading either succeeds or fails with a message; an accepted config then survives
 * validation and the JSON round trip a checkpoint makes of it. */
#include <string.h>

#include "fuzz_common.h"
#include "rldt/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t yaml_len = nul ? (size_t)(nul - data) : size;
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    if (rldt_config_load_yaml(&cfg, fuzz_file(data, yaml_len))) return 0;
    if (nul) {
        /* the overrides: one argument per line (NUL bytes end an argument early, as in argv) */
        size_t n = size - yaml_len - 1;
        char *text = malloc(n + 1), *args[64];
        memcpy(text, nul + 1, n);
        text[n] = '\0';
        int argc = 0;
        for (char *line = strtok(text, "\n"); line && argc < 64; line = strtok(NULL, "\n")) args[argc++] = line;
        rldt_status_t st = rldt_config_apply_overrides(&cfg, argc, args);
        free(text);
        if (st) return 0;
    }
    if (rldt_config_validate(&cfg, "fuzz")) return 0;
    char *json = rldt_config_to_json(&cfg);
    rldt_config_t back;
    rldt_config_defaults(&back);
    if (rldt_config_from_json(&back, json, "fuzz.json") || memcmp(&back, &cfg, sizeof cfg) != 0) {
        fprintf(stderr, "an accepted config does not survive its JSON round trip: %s\n%s\n", rldt_error_message(), json);
        abort();
    }
    free(json);
    return 0;
}
