/* cli.h — shared pieces of the `rldt` command-line client: the command table and argument helpers.
 * Each command lives in its own host/main/cmd_<name>.c and returns a process exit code (rldt_status_t). */
#ifndef RLDT_CLI_H
#define RLDT_CLI_H

#include "rldt/config.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *usage;                 /* arguments, e.g. "CONFIG [key=value ...]" */
    const char *summary;               /* one line for `rldt help` */
} rldt_cli_command_t;

/* Loads defaults, then an optional YAML file (the first argument without '='), then key=value overrides.
 * On error prints the message and returns its status (2 for bad input). */
int rldt_cli_load_config(rldt_config_t *cfg, int argc, char **argv, const char **config_path);
/* Prints "rldt: error: <rldt_error_message()>" to stderr and returns `status`. */
int rldt_cli_fail(int status);
/* Prints the usage line of the named command and returns RLDT_ERR_USAGE. */
int rldt_cli_usage(const char *command);

int rldt_cmd_help(int argc, char **argv);
int rldt_cmd_version(int argc, char **argv);
int rldt_cmd_info(int argc, char **argv);
int rldt_cmd_config(int argc, char **argv);
int rldt_cmd_collect(int argc, char **argv);
int rldt_cmd_dataset(int argc, char **argv);
int rldt_cmd_pretrain(int argc, char **argv);
int rldt_cmd_eval(int argc, char **argv);
int rldt_cmd_finetune(int argc, char **argv);
int rldt_cmd_export(int argc, char **argv);
int rldt_cmd_plot(int argc, char **argv);

#endif
