/* rldt.c — the `rldt` command-line client: a thin dispatcher over the library. One row per command. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rldt/comm.h"
#include "rldt/log.h"

static const rldt_cli_command_t commands[] = {
    {"help", rldt_cmd_help, "[COMMAND]", "show commands, or one command's usage"},
    {"version", rldt_cmd_version, "", "print the version"},
    {"info", rldt_cmd_info, "", "build features, devices and the backend that would be used"},
    {"config", rldt_cmd_config, "[CONFIG.yaml] [key=value ...] [--keys]", "print the resolved config as JSON (--keys: the key table)"},
    {"collect", rldt_cmd_collect, "env=NAME | policy=CKPT out=FILE.h5 [demos=100] [noise=0.05|0] [seed=0] [threads=0]", "record scripted-expert or policy demos (robomimic HDF5)"},
    {"dataset", rldt_cmd_dataset, "info FILE.h5 [obs_keys=K1,K2,...] [image_keys=K,...] [mask=NAME]",
     "validate a demonstration file (rldt's or robomimic's) and summarize it"},
    {"pretrain", rldt_cmd_pretrain, "CONFIG [key=value ...]", "behaviour-cloning pretraining of a flow policy from demos"},
    {"finetune", rldt_cmd_finetune, "CONFIG init=CKPT [key=value ...]", "RLDT online fine-tuning of a pretrained policy"},
    {"sac", rldt_cmd_sac, "CONFIG [key=value ...]", "Soft Actor-Critic from scratch (the baseline and dataset policy)"},
    {"plot", rldt_cmd_plot, "RUN_DIR [out=FILE.png]\n       rldt plot compare out=FILE.png [metric=eval_return|eval_success] [x=env_steps|itr] [band=minmax|std] LABEL=RUN_DIR[,RUN_DIR...] ...",
     "draw a run's learning curves (metrics.csv) to PNG, or overlay labelled groups of runs (mean, band over seeds)"},
    {"export", rldt_cmd_export, "CKPT out=FILE.safetensors [format=safetensors]", "write the policy's weights as safetensors (for PyTorch)"},
    {"eval", rldt_cmd_eval, "CKPT [episodes=N] [export=FILE.h5] [frames=DIR] [deterministic=0|1] [seed=S] [n_envs=N]", "evaluate a checkpoint's policy; optionally export the episodes"},
    {"envstep", rldt_cmd_envstep, "[CONFIG] env.name=NAME [env.model=PATH] [env.max_steps=N] <COMMANDS", "drive one env from stdin: reset SEED | set STATE... | step ACTION... | state (debugging, parity checks)"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

int rldt_cli_usage(const char *command)
{
    for (int i = 0; i < n_commands; i++)
        if (strcmp(commands[i].name, command) == 0) {
            fprintf(stderr, "usage: rldt %s %s\n  %s\n", commands[i].name, commands[i].usage, commands[i].summary);
            return RLDT_ERR_USAGE;
        }
    fprintf(stderr, "rldt: unknown command '%s' (try 'rldt help')\n", command);
    return RLDT_ERR_USAGE;
}

int rldt_cli_fail(int status)
{
    fprintf(stderr, "rldt: error: %s\n", rldt_error_message());
    return status;
}

int rldt_cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        rldt_cli_usage(argv[1]);
        return 0;
    }
    printf("rldt %s — flow-matching policies fine-tuned with RL by density transport\n\n"
           "usage: rldt COMMAND [ARGS]\n\ncommands:\n",
           RLDT_VERSION);
    for (int i = 0; i < n_commands; i++) printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    printf("\nConfig values are set as dotted key=value arguments (pretrain.lr=3e-4); "
           "'rldt config --keys' lists them.\n");
    return 0;
}

int rldt_cmd_version(int argc, char **argv)
{
    printf("rldt %s\n", RLDT_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        rldt_cmd_help(1, argv);
        return RLDT_ERR_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) return rldt_cmd_help(1, argv);
    if (strcmp(name, "--version") == 0) return rldt_cmd_version(1, argv);
    for (int i = 0; i < n_commands; i++)
        if (strcmp(commands[i].name, name) == 0) {
            /* under mpirun or srun every rank runs the command; one that fails ends them all */
            if (rldt_comm_init()) {
                fprintf(stderr, "rldt: %s\n", rldt_error_message());
                return RLDT_ERR;
            }
            int status = commands[i].run(argc - 1, argv + 1);
            if (status && rldt_comm_world()->size > 1) rldt_comm_abort(status, "the command failed on this rank: ending the job");
            rldt_comm_finalize();
            return status;
        }
    fprintf(stderr, "rldt: unknown command '%s'\n", name);
    rldt_cmd_help(1, argv);
    return RLDT_ERR_USAGE;
}
