/* cli.h — shared pieces of the `rldt` command-line client: the command table and argument helpers.
 * Each command lives in its own host/main/cmd_<name>.c and returns a process exit code (rldt_status_t). */
#ifndef RLDT_CLI_H
#define RLDT_CLI_H

#include "rldt/config.h"
#include "rldt/rollout.h"
#include "rldt/sac.h"

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

/* The backend named by run.device (auto, cpu, cuda, cuda-emu) with run.precision applied, its choice logged
 * and handed to the ranks' world (rldt_comm_use: NCCL on the GPU); NULL with the error message set when it
 * is unavailable or NCCL cannot start. */
struct rldt_backend;
const struct rldt_backend *rldt_cli_backend(const rldt_config_t *cfg);

/* A checkpoint's acting policy (eval, collect): a flow policy (pretrain and finetune checkpoints) or a SAC
 * actor (kind "sac"), as one agent. */
typedef struct {
    const struct rldt_backend *be;
    bool is_sac, has_sac, has_pol;
    rldt_sac_t sac;
    rldt_sac_agent_t sac_agent;
    rldt_policy_t pol;
    rldt_pixels_t pixels; /* a pixel policy's image encoder (enc.ws NULL: none) */
    float *params;
    rldt_flow_agent_t flow;
    rldt_agent_t agent; /* what acts */
} rldt_cli_policy_t;
/* The config stored in checkpoint `path` (any kind, checked to be a readable checkpoint) and whether it is a
 * SAC checkpoint. */
rldt_status_t rldt_cli_policy_config(const char *path, rldt_config_t *cfg, bool *is_sac);
/* Loads the policy of checkpoint `path` for episodes of `spec` with options o (o->n_envs bounds its batch,
 * o->seed seeds its sampling) on `be`. Call rldt_cli_policy_close after a failure too. */
rldt_status_t rldt_cli_policy_open(rldt_cli_policy_t *p, const char *path, const rldt_env_spec_t *spec, const rldt_eval_opts_t *o,
                                  const struct rldt_backend *be);
void rldt_cli_policy_close(rldt_cli_policy_t *p);
/* rldt_evaluate_agent, writing the episodes to a new dataset at export_path (NULL: none) with `collect_args`
 * (JSON) stored in it and the train/valid split drawn from o->seed; on failure the dataset is abandoned. */
rldt_status_t rldt_cli_run_episodes(const rldt_agent_t *ag, const rldt_env_spec_t *spec, rldt_eval_opts_t *o, const char *export_path,
                                    const char *collect_args, rldt_eval_result_t *res);

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
