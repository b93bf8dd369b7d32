/* test_robomimic_io.c — robomimic datasets in and out.
 * In: files written by tests/make_robomimic_files.py in robomimic's layout and dtypes (float64 low-dim keys,
 * uint8 images, int64 dones, robosuite env_args, masks), loaded through rldt_dataset_load_opts (keys
 * concatenated in order, values converted exactly, masks honoured) and through the CLI (`dataset info`,
 * `pretrain data.obs_keys=`); bad inputs are named and exit 2 with nothing written.
 * Out: files rldt collects and exports pass robomimic 0.3's own get_dataset_info.py, load in its
 * SequenceDataset and train with its train.py (tests/check_robomimic_tools.py, in the venv `make deps` makes;
 * skipped without it). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/dataset.h"

#define LIFT_KEYS "robot0_eef_pos,robot0_eef_quat,robot0_gripper_qpos,object"

static const int lowdim_dims[4] = {3, 4, 2, 10};
static const int demo_ids[4] = {0, 1, 2, 5}, demo_len[4] = {5, 3, 4, 6};

/* make_robomimic_files.py's lowdim(k, d, t, j), the same double. */
static double lowdim(int k, int d, int t, int j) { return k * 10.0 + d + t * 0.01 + j * 0.001 + 1.0 / 3.0; }

static const char *make_lift(const char *tag, const char *bad)
{
    const char *path = test_temp_path(tag);
    cr_assert_eq(test_run(PYTHON " make_robomimic_files.py lift %s %s", path, bad ? bad : ""), 0, "%s", test_err);
    return path;
}

/* ------------------------------------------------------------------------------------------------ */

Test(robomimic_io, keys_are_concatenated_in_order_and_float64_converted)
{
    const char *path = make_lift("rm_lift.h5", NULL);
    rldt_dataset_t d;
    rldt_dataset_opts_t o = {LIFT_KEYS, "agentview_image", NULL};
    cr_assert_eq(rldt_dataset_load_opts(&d, path, &o), RLDT_OK, "%s", rldt_error_message());
    const rldt_dataset_meta_t *m = &d.meta;
    cr_assert_str_eq(m->env_name, "Lift");
    cr_assert(!m->rldt_spec && m->env_type == 1 && !m->actions_normalized && m->has_next_obs);
    cr_assert(m->obs_dim == 19 && m->act_dim == 7 && m->state_dim == 9 && m->max_steps == 6, "obs %d act %d state %d max %d",
              m->obs_dim, m->act_dim, m->state_dim, m->max_steps);
    cr_assert(m->n_obs_keys == 4 && m->n_image_keys == 1);
    cr_assert(m->image_keys[0].h == 12 && m->image_keys[0].w == 16 && m->image_keys[0].c == 3);
    cr_assert(d.n_demos == 4 && d.file_demos == 4 && d.n_samples == 18 && d.n_train == 3 && d.n_valid == 1);
    for (int e = 0; e < 4; e++) {
        int id = demo_ids[e], T = demo_len[e];
        size_t at = d.ep_start[e];
        cr_assert(d.demo_ids[e] == id && d.ep_start[e + 1] - at == (size_t)T);
        cr_assert_eq(d.ep_success[e], id != 1, "demo_%d: success from its rewards", id);
        for (int t = 0; t < T; t++) {
            for (int k = 0, col = 0; k < 4; col += lowdim_dims[k++])
                for (int j = 0; j < lowdim_dims[k]; j++) {
                    cr_assert_eq(d.obs[(at + t) * 19 + col + j], (float)lowdim(k, id, t, j), "demo_%d t %d key %d dim %d", id, t, k, j);
                    cr_assert_eq(d.next_obs[(at + t) * 19 + col + j], (float)lowdim(k, id, t + 1, j));
                }
            for (int j = 0; j < 7; j++) cr_assert_eq(d.actions[(at + t) * 7 + j], (float)sin((double)(id + t + j)));
            for (int i = 0; i < 12 * 16 * 3; i++) {
                cr_assert_eq(d.images[0][(at + t) * 576 + i], (uint8_t)((i + 7 * id + t) % 256));
                cr_assert_eq(d.next_images[0][(at + t) * 576 + i], (uint8_t)((i + 7 * id + t + 1) % 256));
            }
            cr_assert_eq(d.dones[at + t], t == T - 1);
            cr_assert_eq(d.states[(at + t) * 9], (double)(t * 9 + id));
        }
    }
    rldt_dataset_free(&d);

    /* another order, a subset, and the masks */
    rldt_dataset_opts_t sub = {" object , robot0_eef_pos", NULL, "train"};
    cr_assert_eq(rldt_dataset_load_opts(&d, path, &sub), RLDT_OK, "%s", rldt_error_message());
    cr_assert(d.meta.obs_dim == 13 && d.meta.n_image_keys == 0 && !d.images[0]);
    cr_assert(d.n_demos == 3 && d.demo_ids[0] == 0 && d.demo_ids[1] == 2 && d.demo_ids[2] == 5);
    cr_assert_eq(d.obs[0], (float)lowdim(3, 0, 0, 0), "object comes first");
    cr_assert_eq(d.obs[10], (float)lowdim(0, 0, 0, 0), "then robot0_eef_pos");
    rldt_dataset_free(&d);
    sub.mask = "valid";
    cr_assert_eq(rldt_dataset_load_opts(&d, path, &sub), RLDT_OK, "%s", rldt_error_message());
    cr_assert(d.n_demos == 1 && d.demo_ids[0] == 1);
    rldt_dataset_free(&d);
    remove(path);
}

Test(robomimic_io, bad_keys_and_lists_are_named)
{
    const char *path = make_lift("rm_keys.h5", NULL);
    static const struct {
        const char *obs_keys, *image_keys, *needle;
    } cases[] = {
        {NULL, NULL, "name the low-dim observation keys to use with data.obs_keys (/data/demo_0/obs holds agentview_image, object"},
        {"robot0_eef_pos,nope", NULL, "/data/demo_0/obs/nope is missing (data.obs_keys; obs/ holds"},
        {"agentview_image", NULL, "/data/demo_0/obs/agentview_image is not floating point"},
        {"object,,robot0_eef_pos", NULL, "has an empty key name"},
        {"object,object", NULL, "names 'object' twice"},
        {"object", "robot0_eef_pos", "/data/demo_0/obs/robot0_eef_pos is not an image"},
        {"object", "frontview_image", "/data/demo_0/obs/frontview_image is missing (image keys"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rldt_dataset_t d;
        rldt_dataset_opts_t o = {cases[i].obs_keys, cases[i].image_keys, NULL};
        cr_assert_eq(rldt_dataset_load_opts(&d, path, &o), RLDT_ERR_USAGE, "case %zu accepted", i);
        cr_assert(strstr(rldt_error_message(), cases[i].needle), "case %zu: %s", i, rldt_error_message());
        cr_assert(!d.obs && !d.demo_ids, "a failed load leaves nothing");
    }
    remove(path);
}

Test(robomimic_io, bad_files_are_named_and_exit_2, .timeout = 120)
{
    static const struct {
        const char *bad, *needle;
    } cases[] = {
        {"nan", "/data/demo_2/obs/robot0_eef_pos has a non-finite value at step 1, dim 2"},
        {"ragged", "/data/demo_1/obs/object has shape [2, 10], expected [3, 10]"},
        {"wrong_dims", "/data/demo_0/obs/robot0_eef_quat has 3 dimensions"},
        {"mask_ghost", "/mask/train names demo_9, which is not in /data"},
        {"image_dims", "/data/demo_0/obs/agentview_image is not an image"},
        {"image_dtype", "/data/demo_0/obs/agentview_image is not an image"},
        {"actions", "/data/demo_5/actions element 17 (step 2, dim 3) is 1.5, outside the action range [-1, 1]"},
    };
    char dir[256];
    test_tmpdir(dir, sizeof dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = make_lift("rm_bad.h5", cases[i].bad);
        cr_assert_eq(test_run("%s dataset info %s obs_keys=" LIFT_KEYS " image_keys=agentview_image", test_bin(), path), 2,
                     "%s accepted: %s", cases[i].bad, test_out);
        cr_assert(strstr(test_err, cases[i].needle), "%s: message lacks '%s': %s", cases[i].bad, cases[i].needle, test_err);
        /* pretraining refuses it the same way and writes nothing */
        cr_assert_eq(test_run("%s pretrain ../configs/pendulum.yaml data.path=%s data.obs_keys=" LIFT_KEYS " run.out_dir=%s "
                              "pretrain.steps=2",
                              test_bin(), path, dir),
                     2, "%s: pretrain accepted it", cases[i].bad);
        cr_assert(strstr(test_err, "rldt: error:"), "%s", test_err);
        cr_assert_eq(test_run("find %s -type f | wc -l", dir), 0);
        cr_assert_eq(atoi(test_out), 0, "%s: pretrain wrote files", cases[i].bad);
        remove(path);
    }
    test_rmtree(dir);
}

/* Pretraining on a pendulum file rewritten as robomimic writes one: keys split in two, float64, no rldt spec. */
Test(robomimic_io, pretrain_reads_obs_keys_and_honours_masks, .timeout = 180)
{
    char dir[256];
    test_tmpdir(dir, sizeof dir);
    const char *rldt_file = test_temp_path("rm_pend.h5"), *rm = test_temp_path("rm_pend_rm.h5"), *nomask = test_temp_path("rm_pend_nm.h5");
    cr_assert_eq(test_run("%s collect env=pendulum demos=20 seed=1 out=%s", test_bin(), rldt_file), 0, "%s", test_err);
    cr_assert_eq(test_run(PYTHON " make_robomimic_files.py from-rldt %s %s", rldt_file, rm), 0, "%s", test_err);
    cr_assert_eq(test_run(PYTHON " make_robomimic_files.py from-rldt %s %s --no-masks", rldt_file, nomask), 0, "%s", test_err);
    const char *args = "pretrain.steps=4 pretrain.batch=32 pretrain.log_every=2 eval.episodes=1 env.n_envs=1 policy.width=32";

    /* the same observations as rldt's own file: the keys in order make obs/state again */
    rldt_dataset_t a, b;
    rldt_dataset_opts_t o = {"cos_sin,theta_dot", NULL, NULL};
    cr_assert_eq(rldt_dataset_load(&a, rldt_file, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_dataset_load_opts(&b, rm, &o), RLDT_OK, "%s", rldt_error_message());
    cr_assert(a.n_samples == b.n_samples && b.meta.obs_dim == 3);
    cr_assert(memcmp(a.obs, b.obs, a.n_samples * 3 * sizeof(float)) == 0);
    for (size_t i = 0; i < a.n_samples; i++) cr_assert_float_eq(b.actions[i], a.actions[i] / 2.0f, 1e-6f, "pendulum's [-2, 2] as [-1, 1]");
    rldt_dataset_free(&a);
    rldt_dataset_free(&b);

    cr_assert_eq(test_run("%s pretrain ../configs/pendulum.yaml data.path=%s run.out_dir=%s %s", test_bin(), rm, dir, args), 2);
    cr_assert(strstr(test_err, "data.obs_keys"), "%s", test_err);
    cr_assert_eq(test_run("%s pretrain ../configs/pendulum.yaml data.path=%s data.obs_keys=cos_sin,theta_dot run.out_dir=%s run.name=m %s",
                          test_bin(), rm, dir, args),
                 0, "%s", test_err);
    cr_assert(strstr(test_err, "train samples in 18 demos"), "the train mask: %s", test_err);
    cr_assert_eq(test_run("%s pretrain ../configs/pendulum.yaml data.path=%s data.obs_keys=cos_sin,theta_dot run.out_dir=%s run.name=n %s",
                          test_bin(), nomask, dir, args),
                 0, "%s", test_err);
    cr_assert(strstr(test_err, "train samples in 20 demos"), "no masks: every demo: %s", test_err);
    remove(rldt_file), remove(rm), remove(nomask);
    test_rmtree(dir);
}

/* ------------------------------------------------------------------------------------------------ */
/* robomimic's own scripts on the files rldt writes (the venv of scripts/install-robomimic.sh). */

static const char *robomimic_python(void)
{
    const char *python = getenv("RLDT_ROBOMIMIC_PYTHON");
    if (!python || access(python, X_OK) != 0)
        cr_skip_test("skipped: no robomimic venv at %s (run make deps)", python ? python : "(unset)");
    return python;
}

static void robomimic_accepts(const char *python, const char *path, const char *dir, bool train)
{
    cr_assert_eq(test_run("'%s' check_robomimic_tools.py %s %s%s", python, path, dir, train ? " --train" : ""), 0, "%s: %s%s", path,
                 test_out, test_err);
    cr_assert(strstr(test_out, "check_robomimic_tools:") && strstr(test_out, " ok"), "%s", test_out);
}

Test(robomimic_tools, collected_files_pass_get_dataset_info_sequence_dataset_and_train, .timeout = 300)
{
    const char *python = robomimic_python();
    char dir[256];
    test_tmpdir(dir, sizeof dir);
    static const struct {
        const char *env;
        int demos;
        bool train;
    } cases[] = {{"pendulum", 20, true}, {"reach2d", 3, false}, {"bandit2d", 1, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = test_temp_path(cases[i].env);
        cr_assert_eq(test_run("%s collect env=%s demos=%d seed=1 out=%s", test_bin(), cases[i].env, cases[i].demos, path), 0, "%s",
                     test_err);
        robomimic_accepts(python, path, dir, cases[i].train);
        remove(path);
    }
    test_rmtree(dir);
}

Test(robomimic_tools, eval_exports_of_a_few_episodes_pass_robomimic, .timeout = 300)
{
    const char *python = robomimic_python();
    char dir[256], ckpt[512], out[512];
    test_tmpdir(dir, sizeof dir);
    const char *data = test_temp_path("rm_eval_data.h5");
    cr_assert_eq(test_run("%s collect env=pendulum demos=10 seed=1 out=%s", test_bin(), data), 0, "%s", test_err);
    cr_assert_eq(test_run("%s pretrain ../configs/pendulum.yaml data.path=%s run.out_dir=%s run.name=p pretrain.steps=4 "
                          "pretrain.batch=32 eval.episodes=1 env.n_envs=1 policy.width=32",
                          test_bin(), data, dir),
                 0, "%s", test_err);
    snprintf(ckpt, sizeof ckpt, "%s/p/pretrain.ckpt", dir);
    snprintf(out, sizeof out, "%s/rollouts.h5", dir);
    cr_assert_eq(test_run("%s eval %s episodes=3 n_envs=3 export=%s", test_bin(), ckpt, out), 0, "%s", test_err);
    robomimic_accepts(python, out, dir, true);
    /* rldt reads its export back in the task's units: the normalised actions map back into [-2, 2] */
    rldt_dataset_t d;
    cr_assert_eq(rldt_dataset_load(&d, out, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert(d.n_demos == 3 && d.n_valid == 1 && d.meta.actions_normalized);
    for (size_t i = 0; i < d.n_samples; i++) cr_assert(d.actions[i] >= -2.0f && d.actions[i] <= 2.0f);
    rldt_dataset_free(&d);
    remove(data);
    test_rmtree(dir);
}
