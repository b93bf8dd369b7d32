/* test_hardening_ckpt.c — checkpoints a hostile user or a buggy tool has edited (issue 10, items 1 and 7):
 * every scalar of a fine-tune or pretrain checkpoint is range-checked against the config and the other
 * scalars before use (actor_updates = -1 used to overflow a heap buffer; a pretrain resume took any step
 * count), the header checksum catches edits of the config and the scalars, tensors without their checksum
 * or of another type are refused, weights that do not fit the stored config and invalid normalisers are
 * refused by every command that loads a policy, and a NaN action in any evaluation (eval, the end of
 * pretraining, fine-tuning) is an error. Files are edited with h5py (tests/make_bad_checkpoint.py), the
 * commands run as a user runs them (binary from $RLDT_BIN). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hardening.h"
#include "helpers.h"
#include "rldt/checkpoint.h"
#include "rldt/policy.h"
#include "rldt/rollout.h"

static char dir[256];

static void setup(void) { test_tmpdir(dir, sizeof dir); }
static void teardown(void) { test_rmtree(dir); }

/* Fine-tuning arguments: a small bandit2d run in <dir>/runs/<name>. */
#define FT_ARGS HARDENING_FT_ARGS " run.out_dir=%s/runs run.name=%s"

/* Demos, a pretrained policy and 2 fine-tuning iterations with a checkpoint after each:
 * <dir>/runs/b/{pretrain,finetune_1,finetune}.ckpt. */
static void make_run(void)
{
    hardening_pretrained(dir);
    cr_assert_eq(test_run("%s finetune " FT_ARGS " init=%s/runs/b/pretrain.ckpt finetune.iterations=2 finetune.ckpt_every=1",
                          test_bin(), dir, "b", dir),
                 0, "%s", test_err);
}

/* <dir>/bad.ckpt: a copy of `src` edited by make_bad_checkpoint.py with `edit` ("KIND ARGS..."). */
static const char *edited(const char *src, const char *edit)
{
    static char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    cr_assert_eq(test_run(PYTHON " make_bad_checkpoint.py %s/runs/b/%s %s %s", dir, src, bad, edit), 0, "%s: %s", edit, test_err);
    return bad;
}

/* The last command must have failed with `status` and a message containing each needle. */
static void expect_refused(int rc, int status, const char *what, const char *needle, const char *needle2)
{
    cr_assert_eq(rc, status, "%s: exit %d (want %d): %s", what, rc, status, test_err);
    cr_assert(strstr(test_err, needle), "%s: message lacks '%s': %s", what, needle, test_err);
    if (needle2) cr_assert(strstr(test_err, needle2), "%s: message lacks '%s': %s", what, needle2, test_err);
}

/* Pretraining arguments matching hardening_pretrained's run (append pretrain.steps, run.name, ...). */
#define PRE_ARGS "../configs/bandit2d.yaml data.path=%s/d.h5 run.out_dir=%s/runs run.threads=1 eval.episodes=2"

/* Resumes the pretraining of hardening_pretrained (30 steps) from `ckpt`, to `steps` steps in run r. */
static int resume_pretrain(const char *ckpt, int steps)
{
    return test_run("%s pretrain " PRE_ARGS " run.name=r pretrain.steps=%d pretrain.resume=%s", test_bin(), dir, dir, steps, ckpt);
}

/* Resumes the fine-tune from `ckpt` (one more iteration). */
static int resume(const char *ckpt)
{
    return test_run("%s finetune " FT_ARGS " resume=%s finetune.iterations=2", test_bin(), dir, "r", ckpt);
}

// ---------------------------------------------------------------------------------------------------
// scalars

/* Each scalar edited to a value that does not fit the run, with a valid header checksum: resume refuses it
 * naming the scalar and the value. (actor_updates = -1 overflowed actor_states' buffer under ASan.) */
Test(hardening_ckpt, scalars_are_range_checked_on_resume, .init = setup, .fini = teardown, .timeout = 120)
{
    make_run();
    struct {
        const char *edit, *needle;
    } cases[] = {
        {"scalar actor_updates -1", "scalar 'actor_updates' is -1"},
        {"scalar actor_updates 1000000", "scalar 'actor_updates' is 1000000"},
        {"scalar itr -3", "scalar 'itr' is -3"},
        {"scalar itr 99", "scalar 'itr' is 99"},
        {"scalar replay_pushed -8", "scalar 'replay_pushed' is -8"},
        {"scalar replay_pushed 7", "scalar 'replay_pushed' is 7"},
        {"scalar replay_count 100000", "scalar 'replay_count' is 100000"},
        {"scalar actor_adam_step 5", "scalar 'actor_adam_step' is 5"},
        {"scalar critic_adam_step -1", "scalar 'critic_adam_step' is -1"},
        {"scalar env_steps -1", "scalar 'env_steps' is -1"},
        {"scalar reward_updates 7", "scalar 'reward_updates' is 7"},
        {"scalar skipped -2", "scalar 'skipped' is -2"},
        {"scalar actor_skips_in_a_row 1", "skips in a row, more than"},
        {"scalar reward_mean_abs_bits -1", "reward_mean_abs_bits"},
        {"scalar obs_dim 1099511627776", "scalar 'obs_dim' is 1099511627776"},
        {"scalar act_dim 0", "scalar 'act_dim' is 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *bad = edited("finetune_1.ckpt", cases[i].edit);
        expect_refused(resume(bad), 2, cases[i].edit, cases[i].needle, "bad.ckpt");
    }
    /* the untouched file resumes (the refusals are not vacuous) */
    char good[300];
    snprintf(good, sizeof good, "%s/runs/b/finetune_1.ckpt", dir);
    cr_assert_eq(resume(good), 0, "%s", test_err);
}

/* The dimensions, and the weights' length against the stored config's network, are checked before anything
 * is sized by them, by every command that loads a policy (rldt_policy_from_ckpt). */
Test(hardening_ckpt, policy_shape_must_match_the_checkpoint, .init = setup, .fini = teardown, .timeout = 120)
{
    make_run();
    struct {
        const char *edit, *needle;
    } cases[] = {
        {"scalar obs_dim 1000000000", "scalar 'obs_dim' is 1000000000"},
        {"config policy.width 64", "tensor 'policy/weights' does not hold the"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *bad = edited("pretrain.ckpt", cases[i].edit);
        expect_refused(test_run("%s eval %s episodes=2", test_bin(), bad), 2, "eval", cases[i].needle, NULL);
        expect_refused(test_run("%s export %s out=%s/p.safetensors", test_bin(), bad, dir), 2, "export", cases[i].needle, NULL);
        expect_refused(test_run("%s finetune " FT_ARGS " init=%s finetune.iterations=1", test_bin(), dir, "i", bad), 2, "init=",
                       cases[i].needle, NULL);
    }
}

/* A pretrain checkpoint's counters, edited with a valid header checksum, are refused on resume naming the
 * scalar and its value: the step must lie within pretrain.steps, the skip counts within the steps, and the
 * Adam step must count the updates that went through (step - skipped). Nothing is written. */
Test(hardening_ckpt, pretrain_counters_are_range_checked_on_resume, .init = setup, .fini = teardown, .timeout = 120)
{
    hardening_pretrained(dir); /* runs/b/pretrain.ckpt: step 30, nothing skipped */
    struct {
        const char *edit, *needle;
    } cases[] = {
        {"scalar step -1", "scalar 'step' is -1"},
        {"scalar step 31", "scalar 'step' is 31, outside [0, 30]"},
        {"scalar adam_step 29", "scalar 'adam_step' is 29, outside [30, 30]"},
        {"scalar adam_step -1", "scalar 'adam_step' is -1"},
        {"scalar skipped -1", "scalar 'skipped' is -1"},
        {"scalar skipped 31", "scalar 'skipped' is 31, outside [0, 30]"},
        {"scalar skipped 2", "scalar 'adam_step' is 30, outside [28, 28]"},
        {"scalar skips_in_a_row 1", "scalar 'skips_in_a_row' is 1, outside [0, 0]"},
        {"scalar skips_in_a_row -4", "scalar 'skips_in_a_row' is -4"},
        {"scalar obs_dim 3", "scalar 'obs_dim' is 3"},
        {"scalar act_dim 0", "scalar 'act_dim' is 0"},
        {"no_scalar skipped", "scalar 'skipped' is missing"},
    };
    char path[400];
    snprintf(path, sizeof path, "%s/runs/r", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *bad = edited("pretrain.ckpt", cases[i].edit);
        expect_refused(resume_pretrain(bad, 30), 2, cases[i].edit, cases[i].needle, "bad.ckpt");
        cr_assert(access(path, F_OK) != 0, "%s: a refused resume wrote %s", cases[i].edit, path);
    }
    /* the untouched file: refused when pretrain.steps is below its step, resumed when not */
    snprintf(path, sizeof path, "%s/runs/b/pretrain.ckpt", dir);
    expect_refused(resume_pretrain(path, 20), 2, "pretrain.steps=20", "scalar 'step' is 30, outside [0, 20]", NULL);
    cr_assert_eq(resume_pretrain(path, 40), 0, "%s", test_err);
    cr_assert(strstr(test_err, "at step 30"), "%s", test_err);
}

/* Scalar `name` of the pretrain checkpoint <dir>/runs/<run>/pretrain_stopped.ckpt. */
static int64_t stopped_scalar(const char *run, const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/runs/%s/pretrain_stopped.ckpt", dir, run);
    rldt_ckpt_t *c;
    int64_t v = 0;
    cr_assert_eq(rldt_ckpt_open(&c, path, "pretrain"), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_ckpt_scalar(c, name, &v), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_close(c);
    return v;
}

/* The skip counts are part of a pretrain checkpoint, so a resumed run continues them. A learning rate of 10
 * blows the network up at once and every later update is non-finite: stopped after 3 skips in a row
 * (pretrain.max_skips=3) and resumed with max_skips=5, the run stops 2 steps later, not 5. */
Test(hardening_ckpt, pretrain_skip_counts_survive_a_resume, .init = setup, .fini = teardown, .timeout = 120)
{
#define BLOW_UP                                                                                                      \
    "%s pretrain " PRE_ARGS " pretrain.lr=10 pretrain.lr_final=10 pretrain.warmup=0 policy.blocks=4 pretrain.batch=32 " \
    "pretrain.steps=300"
    cr_assert_eq(test_run("%s collect env=bandit2d demos=40 seed=1 out=%s/d.h5", test_bin(), dir), 0, "%s", test_err);
    expect_refused(test_run(BLOW_UP " run.name=x pretrain.max_skips=3", test_bin(), dir, dir), 1, "max_skips=3",
                   "3 consecutive non-finite updates (pretrain.max_skips)", NULL);
    int64_t step = stopped_scalar("x", "step"), skipped = stopped_scalar("x", "skipped");
    cr_assert_eq(stopped_scalar("x", "skips_in_a_row"), 3);
    cr_assert(skipped >= 3 && skipped < step, "%lld skipped of %lld steps", (long long)skipped, (long long)step);
    cr_assert_eq(stopped_scalar("x", "adam_step"), step - skipped, "one Adam step per update that went through");

    char from[400], want[128];
    snprintf(from, sizeof from, "%s/runs/x/pretrain_stopped.ckpt", dir);
    snprintf(want, sizeof want, "5 consecutive non-finite updates (pretrain.max_skips): stopped at step %lld", (long long)step + 2);
    expect_refused(test_run(BLOW_UP " run.name=y pretrain.max_skips=5 pretrain.resume=%s", test_bin(), dir, dir, from), 1,
                   "resumed with max_skips=5", want, NULL);
    cr_assert_eq(stopped_scalar("y", "skipped"), skipped + 2);
    cr_assert_eq(stopped_scalar("y", "skips_in_a_row"), 5);
    cr_assert_eq(stopped_scalar("y", "adam_step"), step - skipped);
#undef BLOW_UP
}

/* Edits that skip re-signing the header (what a bit flip in an attribute amounts to) fail the checksum. */
Test(hardening_ckpt, header_checksum_covers_config_and_scalars, .init = setup, .fini = teardown, .timeout = 120)
{
    make_run();
    const char *edits[] = {"scalar_nosign actor_updates 1", "extra_scalar zzz 1", "config_nosign eval.episodes 3",
                           "config_nosign env.name '\"pendulum\"'"};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        const char *bad = edited("finetune_1.ckpt", edits[i]);
        expect_refused(resume(bad), 2, edits[i], "header checksum mismatch", "bad.ckpt");
        expect_refused(test_run("%s eval %s episodes=2", test_bin(), bad), 2, edits[i], "header checksum mismatch", NULL);
    }
    expect_refused(resume(edited("finetune_1.ckpt", "version 3")), 2, "version 3", "format version 3", NULL);
}

// ---------------------------------------------------------------------------------------------------
// tensors

Test(hardening_ckpt, tensors_need_their_type_and_checksum, .init = setup, .fini = teardown, .timeout = 120)
{
    make_run();
    struct {
        const char *edit, *needle;
    } cases[] = {
        {"no_checksum policy/weights", "tensor 'policy/weights' carries no Fletcher-32 checksum"},
        {"float64 policy/weights", "tensor 'policy/weights' is not float32"},
        {"flip policy/weights", "tensor 'policy/weights' failed its checksum"},
        {"no_checksum replay/mask", "tensor 'replay/mask' carries no Fletcher-32 checksum"},
        {"tensor critic/online 0 nan", "tensor 'critic/online' holds a non-finite value at 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refused(resume(edited("finetune_1.ckpt", cases[i].edit)), 2, cases[i].edit, cases[i].needle, NULL);
}

// ---------------------------------------------------------------------------------------------------
// normalisers and NaN actions

/* obs_std <= 0 and act_low >= act_high (finite, with valid checksums) used to run and print plausible
 * numbers: now eval, export, finetune init= and resume= all refuse them, naming the tensor. */
Test(hardening_ckpt, invalid_normalisers_are_refused_everywhere, .init = setup, .fini = teardown, .timeout = 180)
{
    make_run();
    struct {
        const char *edit, *needle;
    } cases[] = {
        {"tensor norm/obs_std 0 0", "tensor 'norm/obs_std' holds 0 at 0"},
        {"tensor norm/obs_std 1 -1", "tensor 'norm/obs_std' holds -1 at 1"},
        {"tensor norm/act_low 0 1", "'norm/act_low' and 'norm/act_high' hold [1, 1] at 0"},
        {"tensor norm/act_high 1 -2", "'norm/act_low' and 'norm/act_high' hold [-1, -2] at 1"},
        {"tensor norm/act_high 0 inf", "'norm/act_high' holds a non-finite value at 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *bad = edited("finetune_1.ckpt", cases[i].edit);
        expect_refused(test_run("%s eval %s episodes=2", test_bin(), bad), 2, "eval", cases[i].needle, NULL);
        expect_refused(test_run("%s export %s out=%s/p.safetensors", test_bin(), bad, dir), 2, "export", cases[i].needle, NULL);
        expect_refused(test_run("%s finetune " FT_ARGS " init=%s finetune.iterations=1", test_bin(), dir, "i", bad), 2, "init=",
                       cases[i].needle, NULL);
        expect_refused(resume(bad), 2, "resume=", cases[i].needle, NULL);
    }
}

/* Finite but absurd weights make the policy's actions NaN: evaluation stops with an error instead of
 * executing the action midpoint. */
Test(hardening_ckpt, a_nan_action_in_eval_is_an_error, .init = setup, .fini = teardown, .timeout = 120)
{
    make_run();
    const char *bad = edited("finetune.ckpt", "fill policy/weights 3e38");
    expect_refused(test_run("%s eval %s episodes=4", test_bin(), bad), 1, "eval", "non-finite action", NULL);
}

/* The evaluations at the end of pretraining and during fine-tuning go through the same check: a resumed
 * pretraining with nothing left to train evaluates the absurd EMA weights, a fine-tune whose first
 * iteration evaluates (finetune.val_freq=1) acts with them before any rollout. */
Test(hardening_ckpt, a_nan_action_in_training_evals_is_an_error, .init = setup, .fini = teardown, .timeout = 120)
{
    hardening_pretrained(dir);
    const char *bad = edited("pretrain.ckpt", "fill policy/weights 3e38");
    expect_refused(resume_pretrain(bad, 30), 1, "pretrain", "non-finite action", NULL);
    expect_refused(test_run("%s finetune " FT_ARGS " init=%s finetune.iterations=1 finetune.val_freq=1", test_bin(), dir, "e", bad),
                   1, "finetune", "non-finite action", NULL);
}

/* A checkpoint's export under a file-size limit: an error naming the cause, no .tmp left and no output
 * (SIGXFSZ used to kill `rldt export` with its half-written .tmp beside the target). */
Test(hardening_ckpt, export_under_a_file_size_limit_is_an_error, .init = setup, .fini = teardown, .timeout = 120)
{
    hardening_pretrained(dir);
    expect_refused(test_run("ulimit -f 10; %s export %s/runs/b/pretrain.ckpt out=%s/p.safetensors", test_bin(), dir, dir), 1,
                   "export", "File too large", "nothing was written there");
    char path[300];
    snprintf(path, sizeof path, "%s/p.safetensors.tmp", dir);
    cr_assert(access(path, F_OK) != 0, "%s left behind", path);
    path[strlen(path) - 4] = '\0';
    cr_assert(access(path, F_OK) != 0, "%s written", path);
    cr_assert_eq(test_run("%s export %s/runs/b/pretrain.ckpt out=%s", test_bin(), dir, path), 0, "%s", test_err);
}

/* The same through the library: a policy whose parameters are NaN. */
Test(hardening_ckpt, rldt_evaluate_refuses_nan_actions)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_width = 16;
    const rldt_env_spec_t *spec = rldt_env_find("bandit2d");
    rldt_policy_spec_t ps;
    rldt_policy_t p;
    cr_assert_eq(rldt_policy_spec_from_config(&cfg, spec->obs_dim, spec->act_dim, &ps), RLDT_OK);
    cr_assert_eq(rldt_policy_init(&p, &ps, 8, rldt_backend_cpu()), RLDT_OK);
    float *w = malloc(sizeof(float) * p.nparams);
    for (size_t i = 0; i < p.nparams; i++) w[i] = NAN;
    rldt_eval_opts_t o = {4, 4, 1, true, 1, 0, NULL, NULL};
    rldt_eval_result_t res;
    cr_assert_eq(rldt_evaluate(&p, NULL, w, spec, &o, &res), RLDT_ERR);
    cr_assert(strstr(rldt_error_message(), "non-finite action"), "%s", rldt_error_message());
    free(w);
    rldt_policy_free(&p);
}
