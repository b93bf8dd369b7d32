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
/* Plain name=value arguments (commands without a config file): one table row per name. */
typedef enum { RLDT_ARG_TEXT, RLDT_ARG_INTEGER, RLDT_ARG_NUMBER } rldt_arg_kind_t;
typedef struct {
    const char *name;
    rldt_arg_kind_t kind;
    const char *def; /* default as text; NULL: required; "" for numbers: unset (num stays 0, text "") */
    double min, max; /* inclusive bounds of numbers */
    const char *doc;
} rldt_cli_arg_t;
/* Parses argv[first..argc) against the n (<= 64) rows: text[i] = the value given or the default, num[i] = its
 * number for numeric rows. Unknown names, missing required values and bad numbers print a message (and
 * the table) and return RLDT_ERR_USAGE; 0 otherwise. */
int rldt_cli_args(const rldt_cli_arg_t *args, int n, int argc, char **argv, int first, const char **text, double *num);
/* Prints the table to stderr. */
void rldt_cli_print_args(const rldt_cli_arg_t *args, int n);

/* The backend named by run.device (auto, cpu, cuda, cuda-emu) with run.precision applied, its choice logged;
 * NULL with the error message set when it is unavailable. */
struct rldt_backend;
const struct rldt_backend *rldt_cli_backend(const rldt_config_t *cfg);

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
int rldt_cmd_sac(int argc, char **argv);
int rldt_cmd_export(int argc, char **argv);
int rldt_cmd_plot(int argc, char **argv);
int rldt_cmd_envstep(int argc, char **argv);

#endif
