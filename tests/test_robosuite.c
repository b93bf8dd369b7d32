/* test_robosuite.c — robosuite's tasks through the Gymnasium bridge (env.name=robosuite:<Task>,
 * host/envs/bridge/robosuite_env.py): Lift's spec row as the worker reports it (sizes of the default
 * observation keys, sparse reward, a scripted expert, robomimic's env_args), refusals naming what is wrong,
 * and the smoke run of the issue: `rldt collect` of a few scripted demos (all successful, robomimic's
 * env_args type 1 in the file), pretraining a few steps on them, one fine-tune iteration; and camera
 * observations (agentview_image in env.obs_keys) collected into obs/agentview_image, rows top to bottom. Every test skips
 * without the robosuite venv (scripts/install-robosuite.sh, run by make deps). Slow: about half a minute of
 * worker start-ups (importing robosuite and making its envs) on a shared two-core machine. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/backend.h"
#include "rldt/env.h"
#include "rldt/finetune.h"
#include "rldt/pretrain.h"
#include "training.h"

/* The robosuite venv's interpreter; skips the test when it or its robosuite is missing. */
static const char *need_robosuite(void)
{
    const char *python = getenv("RLDT_ROBOSUITE_PYTHON");
    if (!python || access(python, X_OK) != 0)
        cr_skip_test("skipped: no robosuite venv at %s (run make deps or scripts/install-robosuite.sh)", python ? python : "(unset)");
    if (test_run("'%s' -c 'import robosuite, gymnasium'", python) != 0)
        cr_skip_test("skipped: %s cannot import robosuite and gymnasium (run scripts/install-robosuite.sh)", python);
    return python;
}

static rldt_config_t lift_config(const char *python, const char *data, const char *name)
{
    rldt_config_t cfg = training_config("robosuite:Lift", data, name);
    snprintf(cfg.env_python, sizeof cfg.env_python, "%s", python);
    cfg.env_workers = 1;
    cfg.env_max_steps = 30;
    return cfg;
}

/* The spec row of robosuite:Lift with the default observation keys (eef pos 3, eef quat 4, gripper qpos 2,
 * object-state 10) and controller (OSC_POSE deltas and the gripper: 7 actions in [-1, 1]); bad names and
 * kwargs are refused naming them. */
Test(robosuite, lift_spec_and_refusals, .timeout = 120)
{
    const char *python = need_robosuite();
    rldt_config_t cfg = lift_config(python, "", "spec");
    const rldt_env_spec_t *sp = rldt_env_from_config(&cfg);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    cr_assert_eq(sp->obs_dim, 19);
    cr_assert_eq(sp->act_dim, 7);
    for (int j = 0; j < 7; j++) cr_assert(sp->act_low[j] == -1.0f && sp->act_high[j] == 1.0f);
    cr_assert_eq(sp->max_steps, 400, "robosuite's horizon, 400 by default");
    cr_assert_eq(sp->reward_kind, RLDT_REWARD_SPARSE);
    cr_assert(sp->worker_expert);
    cr_assert_not_null(sp->robomimic_env);
    cr_assert(strstr(sp->robomimic_env, "\"env_name\":\"Lift\"") && strstr(sp->robomimic_env, "\"type\":1") &&
              strstr(sp->robomimic_env, "\"OSC_POSE\""), "%s", sp->robomimic_env);

    const char *bin = test_bin();
    static const struct {
        const char *args, *want;
    } bad[] = {
        {"env.name=robosuite:NoSuchTask", "NoSuchTask"},
        {"env.name=robosuite:", "names no task"},
        {"env.name=robosuite:Lift 'env.kwargs={\"has_offscreen_renderer\": true}'", "the bridge sets has_offscreen_renderer=False"},
        {"env.name=robosuite:Lift env.obs_keys=robot0_eef_pos,no_such_key", "no key 'no_such_key'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = test_run("'%s' envstep %s env.python='%s' </dev/null", bin, bad[i].args, python);
        cr_assert_eq(rc, 2, "%s: exit %d\n%s", bad[i].args, rc, test_err);
        cr_assert(strstr(test_err, bad[i].want), "%s: want '%s' in:\n%s", bad[i].args, bad[i].want, test_err);
    }
}

/* `rldt collect` of 4 scripted Lift demos (2 envs in one worker, an 80-step limit: the expert lifts the cube
 * in about 50 steps), pretraining 20 steps on them (evaluated on one 30-step episode), one fine-tune
 * iteration. */
Test(robosuite, lift_collect_pretrain_finetune, .init = training_setup, .fini = training_teardown, .timeout = 300)
{
    const char *python = need_robosuite();
    char data[512];
    snprintf(data, sizeof data, "%s/lift.h5", training_dir);
    double t0 = rldt_now();
    int rc = test_run("'%s' collect env.name=robosuite:Lift env.python='%s' env.workers=1 env.max_steps=80 envs=2 demos=4 out='%s'",
                      test_bin(), python, data);
    cr_assert_eq(rc, 0, "%s", test_err);
    rc = test_run("'%s' dataset info '%s'", test_bin(), data);
    cr_assert_eq(rc, 0, "%s", test_err);
    cr_assert(strstr(test_out, "robosuite:Lift (sparse reward, max 80 steps)"), "%s", test_out);
    cr_assert(strstr(test_out, "success       4/4"), "%s", test_out);
    /* robomimic's robosuite env_args, from which robosuite.make (what robomimic's EnvRobosuite calls) recreates Lift */
    char args_json[512];
    snprintf(args_json, sizeof args_json, "%s/env_args.json", training_dir);
    rc = test_run(PYTHON " -c \"import h5py, sys; open(sys.argv[2], 'wb').write(bytes(h5py.File(sys.argv[1])['data'].attrs['env_args']))\" "
                  "'%s' '%s'", data, args_json);
    cr_assert_eq(rc, 0, "%s", test_err);
    rc = test_run("'%s' -c \"import json, sys, robosuite; a = json.load(open(sys.argv[1])); k = a['env_kwargs']; "
                  "assert (a['env_name'], a['type'], k['robots'], k['controller_configs']['type']) == ('Lift', 1, 'Panda', 'BASIC'), a; "
                  "e = robosuite.make(a['env_name'], **k); e.reset(); assert e.action_dim == 7\" '%s'", python, args_json);
    cr_assert_eq(rc, 0, "robosuite cannot recreate Lift from the file's env_args:\n%s", test_err);
    double t_collect = rldt_now() - t0;

    rldt_config_t cfg = lift_config(python, data, "bc");
    cfg.env_n_envs = 2;
    cfg.policy_width = 32;
    cfg.policy_chunk = 2;
    cfg.pre_steps = 20;
    cfg.pre_log_every = 20;
    cfg.eval_episodes = 1;
    rldt_pretrain_result_t pres;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &pres), RLDT_OK, "%s", rldt_error_message());
    double t_pretrain = rldt_now() - t0 - t_collect;

    snprintf(cfg.ft_init, sizeof cfg.ft_init, "%s", pres.ckpt_path);
    snprintf(cfg.run_name, sizeof cfg.run_name, "ft");
    cfg.ft_iterations = 1;
    cfg.ft_n_steps = 10;
    cfg.ft_q_repeat = 2;
    cfg.ft_critic_steps = 4;
    cfg.ft_critic_warmup = 1;
    cfg.ft_val_freq = 0;
    cfg.critic_batch = 32;
    cfg.critic_width = 32;
    cfg.critic_depth = 2;
    cfg.actor_states = 8;
    cfg.svgd_particles = 4;
    const rldt_env_spec_t *sp = rldt_env_from_config(&cfg);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, sp, rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    cr_assert_gt(res.env_steps, 0);
    printf("robosuite Lift smoke run: collect %.1f s, pretrain %.1f s, fine-tune %.1f s\n", t_collect, t_pretrain,
           rldt_now() - t0 - t_collect - t_pretrain);
}

/* env.obs_keys=robot0_eef_pos,agentview_image turns on robosuite's agentview camera (84 x 84 by default): `rldt
 * collect` of one 3-step demo writes obs/agentview_image [3, 84, 84, 3], whose first frame is exactly what
 * robosuite's renderer draws, in another process, for the episode's reset seed, flipped to rows top to bottom
 * (robosuite's own sim.render gives OpenGL's bottom-up rows; over 20% of the pixels differ from those). The
 * file's env_args ask robomimic for the same camera. */
Test(robosuite, lift_camera_observation, .init = training_setup, .fini = training_teardown, .timeout = 180)
{
    const char *python = need_robosuite();
    char data[512], frame[512];
    snprintf(data, sizeof data, "%s/lift_rgb.h5", training_dir);
    snprintf(frame, sizeof frame, "%s/frame0.raw", training_dir);
    const uint64_t seed = 5;
    int rc = test_run("'%s' collect env.name=robosuite:Lift env.obs_keys=robot0_eef_pos,agentview_image env.python='%s' env.workers=1 "
                      "env.max_steps=3 envs=1 demos=1 seed=%llu out='%s'", test_bin(), python, (unsigned long long)seed, data);
    cr_assert_eq(rc, 0, "%s", test_err);
    rc = test_run("'%s' dataset info '%s'", test_bin(), data);
    cr_assert_eq(rc, 0, "%s", test_err);
    cr_assert(strstr(test_out, "image         obs/agentview_image uint8 [T, 84, 84, 3] (and next_obs)"), "%s", test_out);
    rc = test_run(PYTHON " -c \"import h5py, json, sys; f = h5py.File(sys.argv[1]); d = f['data/demo_0']; "
                  "assert d['obs/agentview_image'].shape == (3, 84, 84, 3) and d['obs/state'].shape == (3, 3); "
                  "k = json.loads(f['data'].attrs['env_args'])['env_kwargs']; "
                  "assert k['camera_names'] == ['agentview'] and k['use_camera_obs'] and k['camera_heights'] == 84, k; "
                  "d['obs/agentview_image'][0].tofile(sys.argv[2])\" '%s' '%s'", data, frame);
    cr_assert_eq(rc, 0, "%s", test_err);
    rc = test_run("'%s' -c \"import sys, numpy as np; sys.path.insert(0, '../host/envs/bridge'); import robosuite_env; "
                  "e = robosuite_env.make('Lift', {}, 0, ['robot0_eef_pos', 'agentview_image']); e.reset(seed=int(sys.argv[1])); "
                  "raw = e.unwrapped.env.sim.render(camera_name='agentview', width=84, height=84); "
                  "got = np.fromfile(sys.argv[2], np.uint8).reshape(84, 84, 3); "
                  "off = lambda x: (got != x).any(axis=2).mean(); assert off(raw[::-1]) == 0 and off(raw) > 0.2, (off(raw[::-1]), off(raw))\" "
                  "%llu '%s'",
                  python, (unsigned long long)rldt_env_episode_seed(seed, 0, 0, 0), frame);
    cr_assert_eq(rc, 0, "%s", test_err);
}
