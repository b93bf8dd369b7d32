/* cmd_config.c — `rldt config`: resolve a config (file + overrides) and print it as JSON, or list keys;
 * plus the config loading shared by every command that takes CONFIG [key=value ...]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/log.h"

int rldt_cli_load_config(rldt_config_t *cfg, int argc, char **argv, const char **config_path)
{
    rldt_config_defaults(cfg);
    int first = 1;
    if (config_path) *config_path = NULL;
    if (argc > 1 && !strchr(argv[1], '=') && strncmp(argv[1], "--", 2) != 0) {
        if (config_path) *config_path = argv[1];
        if (rldt_config_load_yaml(cfg, argv[1])) return rldt_cli_fail(RLDT_ERR_USAGE);
        first = 2;
    }
    rldt_status_t st = rldt_config_apply_overrides(cfg, argc - first, argv + first);
    if (!st) st = rldt_config_validate(cfg, first == 2 ? argv[1] : "<command line>");
    if (st) return rldt_cli_fail(st);
    rldt_log_set_level((rldt_log_level_t)rldt_log_parse_level(cfg->log_level));
    return 0;
}

static void print_keys(void)
{
    size_t n;
    const rldt_config_key_t *k = rldt_config_keys(&n);
    static const char *const type_names[] = {"int", "float", "bool", "string", "enum"};
    for (size_t i = 0; i < n; i++) {
        printf("%-28s %-6s default %-18s", k[i].name, type_names[k[i].type], k[i].def);
        if (k[i].type == RLDT_CFG_INT || k[i].type == RLDT_CFG_FLOAT) printf(" [%g, %g]", k[i].min, k[i].max);
        if (k[i].choices) printf(" {%s}", k[i].choices);
        printf("\n    %s\n", k[i].doc);
    }
}

int rldt_cmd_config(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--keys") == 0) {
        print_keys();
        return 0;
    }
    rldt_config_t cfg;
    int st = rldt_cli_load_config(&cfg, argc, argv, NULL);
    if (st) return st;
    char *json = rldt_config_to_json(&cfg);
    puts(json);
    free(json);
    return 0;
}
