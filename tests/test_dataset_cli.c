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

#define PYTHON "/usr/bin/python3" /* the one with h5py */

static char out_text[16384], err_text[16384];

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
    remove(path);
}

/* Runs a shell command line, captures stdout/stderr into out_text/err_text, returns the exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048], o[128], e[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof o, "/tmp/rldt_test_cli_%d.out", (int)getpid());
    snprintf(e, sizeof e, "/tmp/rldt_test_cli_%d.err", (int)getpid());
    snprintf(cmd + n, sizeof cmd - (size_t)n, " >%s 2>%s", o, e);
    int status = system(cmd);
    slurp(o, out_text, sizeof out_text);
    slurp(e, err_text, sizeof err_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *bin(void)
{
    const char *b = getenv("RLDT_BIN");
    cr_assert_not_null(b, "RLDT_BIN is not set (run through `make test`)");
    return b;
}

static char *temp_path(const char *tag)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/rldt_test_cli_%d_%s.h5", (int)getpid(), tag);
    return p;
}

static void collect(const char *env, int demos, const char *path)
{
    cr_assert_eq(run("%s collect env=%s demos=%d seed=1 out=%s", bin(), env, demos, path), 0, "collect %s: %s", env, err_text);
}

/* `rldt dataset info` must reject `path` with exit status 2 and a message containing `needle`. */
static void expect_rejected(const char *path, const char *needle)
{
    cr_assert_eq(run("%s dataset info %s", bin(), path), 2, "accepted %s: %s%s", path, out_text, err_text);
    cr_assert(strstr(err_text, needle), "message lacks '%s': %s", needle, err_text);
}

/* ------------------------------------------------------------------------------------------------ */

Test(dataset_cli, collect_then_info_and_robomimic_reader)
{
    const char *path = temp_path("pendulum");
    collect("pendulum", 20, path);
    cr_assert(strstr(err_text, "wrote 20 demos"), "%s", err_text);
    cr_assert_eq(run("%s dataset info %s", bin(), path), 0, "%s", err_text);
    cr_assert(strstr(out_text, "pendulum") && strstr(out_text, "demos         20 (mask train 18, valid 2)") &&
                  strstr(out_text, "samples       4000"),
              "%s", out_text);
    cr_assert_eq(run(PYTHON " check_robomimic.py %s 20", path), 0, "%s", err_text);
    remove(path);
}

Test(dataset_cli, robomimic_reader_accepts_every_task)
{
    const char *tasks[] = {"bandit2d", "reach2d"};
    for (int i = 0; i < 2; i++) {
        const char *path = temp_path(tasks[i]);
        collect(tasks[i], 30, path);
        cr_assert_eq(run(PYTHON " check_robomimic.py %s 30", path), 0, "%s: %s", tasks[i], err_text);
        cr_assert_eq(run("%s dataset info %s", bin(), path), 0, "%s", err_text);
        remove(path);
    }
}

Test(dataset_cli, missing_and_truncated_files_are_rejected)
{
    expect_rejected("/tmp/rldt-no-such-file.h5", "cannot read dataset '/tmp/rldt-no-such-file.h5'");
    const char *path = temp_path("full"), *half = temp_path("half");
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
    cr_assert(strstr(err_text, "truncated") || strstr(err_text, "cannot read"), "%s", err_text);
    remove(path);
    remove(half);
}

Test(dataset_cli, inconsistent_files_are_rejected_with_the_object_named)
{
    const char *good = temp_path("good"), *bad = temp_path("bad");
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
        cr_assert_eq(run(PYTHON " make_bad_dataset.py %s %s %s", good, bad, cases[i].kind), 0, "%s", err_text);
        expect_rejected(bad, cases[i].needle);
        cr_assert(strstr(err_text, bad), "the message names the file: %s", err_text);
        if (strcmp(cases[i].kind, "shape") == 0) cr_assert(strstr(err_text, ", 3], expected ["), "%s", err_text);
    }
    remove(good);
    remove(bad);
}

Test(dataset_cli, collect_rejects_bad_arguments)
{
    const char *path = temp_path("args");
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
        {"env=pendulum", "missing argument out="},
        {"out=%s", "missing argument env="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, cases[i].args, path);
        cr_assert_eq(run("%s collect %s", bin(), args), 2, "'%s' accepted: %s", args, err_text);
        cr_assert(strstr(err_text, cases[i].needle), "'%s': %s", args, err_text);
    }
    cr_assert_neq(access(path, F_OK), 0, "no file written");
}

Test(dataset_cli, collect_to_an_unwritable_place_leaves_nothing)
{
    cr_assert_eq(run("%s collect env=bandit2d demos=5 out=/dev/null/b.h5", bin()), 1);
    cr_assert(strstr(err_text, "/dev/null/b.h5"), "%s", err_text);
    cr_assert_eq(run("%s dataset", bin()), 2);
    cr_assert(strstr(err_text, "usage: rldt dataset info FILE.h5"), "%s", err_text);
}
