/* cmd_envstep.c — `rldt envstep [CONFIG] env.name=NAME [env.model=PATH] [env.max_steps=N]`: drives one env
 * of a task from text on stdin, for debugging and for checks from other languages (tests/check_gym_mujoco.py
 * steps it beside Gymnasium). One command a line, one answer line on stdout each:
 *
 *   reset SEED      -> obs O_1 ... O_obs_dim                  (rldt_env_reset with that seed)
 *   set S_1 ... S_k -> obs O_1 ... O_obs_dim                  (rldt_env_set_state, k = state_dim: MuJoCo
 *                                                              tasks take qpos then qvel)
 *   step A_1 ... A_m -> step REWARD TERMINATED TRUNCATED SUCCESS O_1 ... O_obs_dim   (rldt_env_step)
 *   state           -> state S_1 ... S_k                      (rldt_env_get_state)
 *
 * Floats are printed with 9 significant digits and doubles with 17 (both exact). A malformed line stops the
 * command with exit code 2 and a message naming the line.
 *
 * A Gymnasium env (env.name=gym:<id>) runs as a vector env of one env (one worker): `reset SEED` resets it
 * with that seed, `step` prints the episode's last observation when it ends and the next step starts the
 * next episode (auto-reset, seeded from run.seed), `set` is refused and `state` is empty (state_dim 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/env.h"

#define LINE_MAX_BYTES 65536

/* Reads exactly n numbers from `text`; false if there are fewer, more, or something else. */
static bool parse_numbers(const char *text, double *out, int n)
{
    char *end;
    for (int i = 0; i < n; i++) {
        out[i] = strtod(text, &end);
        if (end == text) return false;
        text = end;
    }
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') text++;
    return *text == '\0';
}

static void print_floats(const float *x, int n)
{
    for (int i = 0; i < n; i++) printf(" %.9g", (double)x[i]);
    printf("\n");
}

int rldt_cmd_envstep(int argc, char **argv)
{
    rldt_config_t cfg;
    int st = rldt_cli_load_config(&cfg, argc, argv, NULL);
    if (st) return st;
    const rldt_env_spec_t *spec = rldt_env_from_config(&cfg);
    if (!spec) return rldt_cli_fail(RLDT_ERR_USAGE);
    rldt_env_t env = {0};
    rldt_vecenv_t *venv = NULL;
    rldt_vec_out_t out = {0};
    if (spec->gym) {
        st = rldt_vecenv_create(&venv, spec, 1, (int)cfg.env_max_steps, (uint64_t)cfg.run_seed, 0, 1);
        if (!st) rldt_vecenv_out_alloc(venv, &out);
    } else {
        st = rldt_env_init(&env, spec, (int)cfg.env_max_steps);
    }
    if (st) return rldt_cli_fail(st);
    int od = spec->obs_dim, ad = spec->act_dim, sd = spec->state_dim;
    float *obs = rldt_xcalloc((size_t)od, sizeof *obs), act[RLDT_ENV_MAX_ACT];
    double *num = rldt_xcalloc((size_t)(sd > ad ? sd : ad), sizeof *num), *state = rldt_xcalloc((size_t)sd, sizeof *state);
    char *line = rldt_xmalloc(LINE_MAX_BYTES);
    long lineno = 0;
    bool bad = false;
    while (!st && fgets(line, LINE_MAX_BYTES, stdin)) {
        lineno++;
        char *args = line + strcspn(line, " \t\n");
        size_t len = (size_t)(args - line);
        if (len == 5 && strncmp(line, "reset", 5) == 0) {
            char *end;
            unsigned long long seed = strtoull(args, &end, 10);
            if (end == args || !parse_numbers(end, num, 0)) bad = true;
            else if (!venv || (st = rldt_vecenv_reset_env(venv, 0, (uint64_t)seed, obs)) == RLDT_OK) {
                if (!venv) rldt_env_reset(&env, (uint64_t)seed, obs);
                printf("obs");
                print_floats(obs, od);
            }
        } else if (len == 3 && strncmp(line, "set", 3) == 0) {
            if (!parse_numbers(args, num, sd)) bad = true;
            else if (venv)
                st = rldt_error_set(RLDT_ERR_USAGE, "%s: a Gymnasium env cannot start from a given state", spec->name);
            else if ((st = rldt_env_set_state(&env, num, obs)) == RLDT_OK) {
                printf("obs");
                print_floats(obs, od);
            }
        } else if (len == 4 && strncmp(line, "step", 4) == 0) {
            if (!parse_numbers(args, num, ad)) bad = true;
            else {
                for (int j = 0; j < ad; j++) act[j] = (float)num[j];
                rldt_step_t s;
                if (venv && (st = rldt_vecenv_step(venv, act, 1, &out)) == RLDT_OK) {
                    s = (rldt_step_t){.reward = out.reward[0], .terminated = out.terminated[0], .truncated = out.truncated[0], .success = out.success[0]};
                    memcpy(obs, s.terminated || s.truncated ? out.final_obs : out.obs, (size_t)od * sizeof *obs);
                } else if (!venv) {
                    s = rldt_env_step(&env, act, obs, NULL);
                }
                if (!st) {
                    printf("step %.9g %d %d %d", (double)s.reward, s.terminated, s.truncated, s.success);
                    print_floats(obs, od);
                }
            }
        } else if (len == 5 && strncmp(line, "state", 5) == 0 && parse_numbers(args, num, 0)) {
            if (!venv) rldt_env_get_state(&env, state);
            printf("state");
            for (int i = 0; i < sd; i++) printf(" %.17g", state[i]);
            printf("\n");
        } else {
            bad = true;
        }
        if (bad)
            st = rldt_error_set(RLDT_ERR_USAGE, "stdin line %ld: expected 'reset SEED', 'set' and %d numbers, 'step' and %d numbers, or 'state'",
                                lineno, sd, ad);
        fflush(stdout);
    }
    free(line), free(num), free(state), free(obs);
    if (!venv) rldt_env_free(&env);
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(venv);
    return st ? rldt_cli_fail(st) : 0;
}
