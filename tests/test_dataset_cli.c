/* test_dataset_cli.c — `rldt collect` and `rldt dataset info` as a user runs them (binary from $RLDT_BIN):
 * files h5py reads the way robomimic does, and bad input (arguments, missing, truncated, wrong-shape or
 * inconsistent files) giving a message that names the problem and exit status 2. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static void collect(const char *env, int demos, const char *path)
{
    cr_assert_eq(test_run("%s collect env=%s demos=%d seed=1 out=%s", test_bin(), env, demos, path), 0, "collect %s: %s", env, test_err);
}

/* `rldt dataset info` must reject `path` with exit status 2 and a message containing `needle`. */
static void expect_rejected(const char *path, const char *needle)
{
    cr_assert_eq(test_run("%s dataset info %s", test_bin(), path), 2, "accepted %s: %s%s", path, test_out, test_err);
    cr_assert(strstr(test_err, needle), "message lacks '%s': %s", needle, test_err);
}

/* ------------------------------------------------------------------------------------------------ */

Test(dataset_cli, collect_then_info_and_robomimic_reader)
{
    const char *path = test_temp_path("cli_pendulum.h5");
    collect("pendulum", 20, path);
    cr_assert(strstr(test_err, "wrote 20 demos"), "%s", test_err);
    cr_assert_eq(test_run("%s dataset info %s", test_bin(), path), 0, "%s", test_err);
    cr_assert(strstr(test_out, "pendulum") && strstr(test_out, "demos         20 (mask train 18, valid 2)") &&
                  strstr(test_out, "samples       4000"),
              "%s", test_out);
    cr_assert_eq(test_run(PYTHON " check_robomimic.py %s 20", path), 0, "%s", test_err);
    remove(path);
}

Test(dataset_cli, robomimic_reader_accepts_every_task)
{
    const char *tasks[] = {"bandit2d", "reach2d"};
    for (int i = 0; i < 2; i++) {
        const char *path = test_temp_path(tasks[i]);
        collect(tasks[i], 30, path);
        cr_assert_eq(test_run(PYTHON " check_robomimic.py %s 30", path), 0, "%s: %s", tasks[i], test_err);
        cr_assert_eq(test_run("%s dataset info %s", test_bin(), path), 0, "%s", test_err);
        remove(path);
    }
}

Test(dataset_cli, missing_and_truncated_files_are_rejected)
{
    expect_rejected("/tmp/rldt-no-such-file.h5", "cannot read dataset '/tmp/rldt-no-such-file.h5'");
    const char *path = test_temp_path("cli_full.h5"), *half = test_temp_path("cli_half.h5");
    collect("pendulum", 16, path);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    f = fopen(half, "wb");
    fwrite(buf, 1, (size_t)size / 2, f);
    fclose(f);
    free(buf);
    expect_rejected(half, half);
    cr_assert(strstr(test_err, "truncated") || strstr(test_err, "cannot read"), "%s", test_err);
    remove(path);
    remove(half);
}

Test(dataset_cli, inconsistent_files_are_rejected_with_the_object_named)
{
    const char *good = test_temp_path("cli_good.h5"), *bad = test_temp_path("cli_bad.h5");
    collect("reach2d", 20, good);
    struct {
        const char *kind, *needle;
    } cases[] = {
        {"shape", "/data/demo_0/actions has shape [" /* T, 3], expected [T, 2] */},
        {"total", "/data total is"},
        {"mask", "/mask/valid names demo_999"},
        {"nan", "/data/demo_0/obs/state has a non-finite value"},
        {"missing", "/data/demo_0/rewards is missing"},
        {"samples", "/data/demo_0/obs/state has shape"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(test_run(PYTHON " make_bad_dataset.py %s %s %s", good, bad, cases[i].kind), 0, "%s", test_err);
        expect_rejected(bad, cases[i].needle);
        cr_assert(strstr(test_err, bad), "the message names the file: %s", test_err);
        if (strcmp(cases[i].kind, "shape") == 0) cr_assert(strstr(test_err, ", 3], expected ["), "%s", test_err);
    }
    remove(good);
    remove(bad);
}

Test(dataset_cli, collect_rejects_bad_arguments)
{
    const char *path = test_temp_path("cli_args.h5");
    struct {
        const char *args, *needle;
    } cases[] = {
        {"env=pendulum out=%s colour=red", "unknown argument 'colour=red'"},
        {"env=pendulum out=%s demos", "unknown argument 'demos'"},
        {"env=pendulum out=%s demos=abc", "demos='abc'"},
        {"env=pendulum out=%s demos=0", "demos='0'"},
        {"env=pendulum out=%s noise=-1", "noise='-1'"},
        {"env=pendulum out=%s seed=1.5", "seed='1.5'"},
        {"env=cartpole out=%s", "unknown env 'cartpole'"},
        {"env=hopper out=%s demos=2", "task hopper has no scripted expert"}, /* it would record zero actions */
        {"env=pendulum", "missing argument out="},
        {"out=%s", "missing argument env="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, cases[i].args, path);
        cr_assert_eq(test_run("%s collect %s", test_bin(), args), 2, "'%s' accepted: %s", args, test_err);
        cr_assert(strstr(test_err, cases[i].needle), "'%s': %s", args, test_err);
    }
    cr_assert_neq(access(path, F_OK), 0, "no file written");
}

/* env.model reaches the training commands: a model file for a task without one is refused by name. */
Test(dataset_cli, training_commands_read_env_model)
{
    cr_assert_eq(test_run("%s pretrain ../configs/bandit2d.yaml env.model=no_such_model.xml", test_bin()), 2, "%s", test_err);
    cr_assert(strstr(test_err, "env.model=no_such_model.xml: task bandit2d has no model file"), "%s", test_err);
    cr_assert_eq(test_run("%s finetune ../configs/bandit2d.yaml init=x.ckpt env.model=no_such_model.xml", test_bin()), 2, "%s",
                 test_err);
    cr_assert(strstr(test_err, "task bandit2d has no model file"), "%s", test_err);
}

Test(dataset_cli, collect_to_an_unwritable_place_leaves_nothing)
{
    cr_assert_eq(test_run("%s collect env=bandit2d demos=5 out=/dev/null/b.h5", test_bin()), 1);
    cr_assert(strstr(test_err, "/dev/null/b.h5"), "%s", test_err);
    cr_assert_eq(test_run("%s dataset", test_bin()), 2);
    cr_assert(strstr(test_err, "usage: rldt dataset info FILE.h5"), "%s", test_err);
}
