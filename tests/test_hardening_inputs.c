/* test_hardening_inputs.c — hostile input as a user (or a broken producer) gives it: sizes in files that
 * would exhaust memory if trusted, values that cannot be normalised, outputs that are inputs, paths too
 * long for a buffer, FIFOs, hexadecimal numbers, contradictory keys, absurd network and buffer sizes, a
 * crafted env state. Each must end in a message naming the file, key or value and a non-zero exit (2 for
 * bad input), never a crash, a hang, a truncated path or a destroyed input. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/config.h"
#include "rldt/dataset.h"
#include "rldt/encoder.h"
#include "rldt/env.h"
#include "rldt/export.h"
#include "rldt/memory.h"
#include "rldt/path.h"

static char dir[256];
static void setup(void) { test_tmpdir(dir, sizeof dir); }
static void teardown(void) { test_rmtree(dir); }

/* <dir>/<name> (a small ring of static buffers). */
static const char *in_dir(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* Status 2 and a message holding `needle`, and no sanitizer report. */
static void expect_refused(int status, const char *needle)
{
    cr_assert_eq(status, 2, "exit %d (expected 2): %s%s", status, test_out, test_err);
    cr_assert(strstr(test_err, needle), "message lacks '%s': %s", needle, test_err);
    cr_assert(!strstr(test_err, "Sanitizer") && !strstr(test_err, "runtime error"), "%s", test_err);
}

static bool exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0;
}

/* FNV-1a of a file's bytes (0 if it cannot be read): "nothing was lost" means this did not change. */
static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint64_t h = 1469598103934665603ull;
    for (int c; (c = fgetc(f)) != EOF;) h = (h ^ (uint64_t)c) * 1099511628211ull;
    fclose(f);
    return h;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

#define METRICS "itr,env_steps,eval_return\n0,10,1\n1,20,2\n"

static const char *dataset(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s", in_dir("p.h5"));
    if (!exists(path))
        cr_assert_eq(test_run("%s collect env=pendulum demos=20 seed=1 out=%s", test_bin(), path), 0, "%s", test_err);
    return path;
}

/* A tiny pretrained checkpoint <dir>/bc/pretrain.ckpt of dataset(). */
static const char *checkpoint(void)
{
    static char ckpt[512];
    const char *data = dataset();
    snprintf(ckpt, sizeof ckpt, "%s", in_dir("bc/pretrain.ckpt"));
    cr_assert_eq(test_run("%s pretrain env.name=pendulum data.path=%s run.out_dir=%s run.name=bc pretrain.steps=10 "
                          "pretrain.batch=16 policy.width=16 eval.episodes=1 env.n_envs=2 run.threads=1 log.level=warn",
                          test_bin(), data, dir),
                 0, "%s", test_err);
    return ckpt;
}

static const char *hostile(const char *kind)
{
    const char *out = in_dir(kind);
    cr_assert_eq(test_run(PYTHON " make_hostile_dataset.py %s %s %s", dataset(), out, kind), 0, "%s: %s", kind, test_err);
    return out;
}

// ------------------------------------------------------------------------------------------------------
// item 3: sizes read from a file are checked against the data and the machine before allocation

Test(hardening_inputs, dataset_sizes_are_checked_before_allocation, .init = setup, .fini = teardown, .timeout = 120)
{
    struct {
        const char *kind, *needle;
    } cases[] = {
        {"samples_huge", "/data/demo_0/obs/state has shape [200, 3], expected [549755813888, 3]"},
        {"chunked_huge", "needs 29 TB of memory"},
        {"image_64k", "env_kwargs.image_shape[0] is 65536"},
        {"image_4k", "of memory, but only"},
        {"mask_huge", "/mask/train has 549755813888 entries but /data holds 20 demos"},
        {"mask_wide", "/mask/train holds strings of 1048576 bytes"},
        {"total_2e62", "/data total is 4611686018427387904"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = hostile(cases[i].kind);
        expect_refused(test_run("%s dataset info %s", test_bin(), path), cases[i].needle);
        cr_assert(strstr(test_err, path), "%s: the file is not named: %s", cases[i].kind, test_err);
    }
    /* a consistent file that does not fit the memory at hand (RLDT_MEM_AVAILABLE caps what is available) */
    expect_refused(test_run("RLDT_MEM_AVAILABLE=100000 %s dataset info %s", test_bin(), dataset()),
                   "loading 4000 samples of 20 demos needs 212 kB of memory, but only 100 kB is available");
}

Test(hardening_inputs, names_that_break_parsers_are_refused, .init = setup, .fini = teardown, .timeout = 60)
{
    /* bad_first: the first link under /data is not a demo (this reached qsort(NULL, 0)) */
    expect_refused(test_run("%s dataset info %s", test_bin(), hostile("bad_first")), "/data/a_not_a_demo is not named demo_<i>");
    expect_refused(test_run("%s dataset info %s", test_bin(), hostile("name_overflow")), "/data/demo_99999999999 is not named");
}

// ------------------------------------------------------------------------------------------------------
// item 6: values that cannot be normalised, and pretraining that only skips

Test(hardening_inputs, values_that_cannot_be_normalised_are_refused, .init = setup, .fini = teardown, .timeout = 60)
{
    const char *bad = hostile("actions_1e30");
    expect_refused(test_run("%s dataset info %s", test_bin(), bad),
                   "/data/demo_0/actions element 0 (step 0, dim 0) is 1e+30, outside the action range [-1, 1] of normalised actions");
    /* pretraining on it stops before training: no checkpoint */
    expect_refused(test_run("%s pretrain env.name=pendulum data.path=%s run.out_dir=%s run.name=x", test_bin(), bad, dir), "1e+30");
    cr_assert(!exists(in_dir("x/pretrain.ckpt")));
    expect_refused(test_run("%s dataset info %s", test_bin(), hostile("obs_1e31")), "/data/demo_0/obs/state at step 0, dim 0 is 1e+31");
    expect_refused(test_run("%s dataset info %s", test_bin(), hostile("act_range")), "env_kwargs.act_low[0] = -2 is not below act_high[0]");
}

Test(hardening_inputs, pretraining_stops_after_max_skips, .init = setup, .fini = teardown, .timeout = 120)
{
    /* a learning rate of 10 blows the network up within a few steps: every later update is non-finite */
    int st = test_run("%s pretrain env.name=pendulum data.path=%s run.out_dir=%s run.name=x pretrain.lr=10 pretrain.lr_final=10 "
                      "pretrain.warmup=0 policy.blocks=4 pretrain.batch=32 pretrain.steps=300 pretrain.max_skips=3 run.threads=1",
                      test_bin(), dataset(), dir);
    cr_assert_eq(st, 1, "exit %d: %s", st, test_err);
    cr_assert(strstr(test_err, "3 consecutive non-finite updates (pretrain.max_skips)") && strstr(test_err, "pretrain_stopped.ckpt"),
              "%s", test_err);
    cr_assert(exists(in_dir("x/pretrain_stopped.ckpt")) && !exists(in_dir("x/pretrain.ckpt")));
    expect_refused(test_run("%s config pretrain.max_skips=0", test_bin()), "pretrain.max_skips");
}

// ------------------------------------------------------------------------------------------------------
// item 4: an output that is the same file as an input is refused, and the input survives

Test(hardening_inputs, outputs_never_replace_inputs, .init = setup, .fini = teardown, .timeout = 120)
{
    const char *ckpt = checkpoint(), *data = dataset();
    uint64_t ckpt_hash = file_hash(ckpt), data_hash = file_hash(data);
    const char *bin = test_bin();
    expect_refused(test_run("%s export %s out=%s", bin, ckpt, ckpt), "is the same file as the checkpoint");
    expect_refused(test_run("%s export %s out=%s/bc/../bc/./pretrain.ckpt", bin, ckpt, dir), "is the same file as the checkpoint");
    cr_assert_eq(link(ckpt, in_dir("hard.ckpt")), 0);
    expect_refused(test_run("%s export %s out=%s", bin, ckpt, in_dir("hard.ckpt")), "is the same file as the checkpoint");
    /* written through <out>.tmp: an input of that name is refused too */
    cr_assert_eq(link(ckpt, in_dir("e.tmp")), 0);
    expect_refused(test_run("%s export %s out=%s", bin, in_dir("e.tmp"), in_dir("e")), "which is the checkpoint");
    expect_refused(test_run("%s export %s out=%s", bin, ckpt, dir), "is a directory");
    expect_refused(test_run("%s eval %s episodes=1 export=%s", bin, ckpt, ckpt), "is the same file as the checkpoint");
    expect_refused(test_run("%s eval %s episodes=1 export=%s", bin, ckpt, data), "is the same file as the dataset (data.path)");
    /* plot: the metrics it reads */
    cr_assert_eq(mkdir(in_dir("run"), 0700), 0);
    write_file(in_dir("run/metrics.csv"), METRICS);
    uint64_t metrics_hash = file_hash(in_dir("run/metrics.csv"));
    expect_refused(test_run("%s plot %s/run out=%s/run/metrics.csv", bin, dir, dir), "is the same file as the metrics file");
    cr_assert_eq(file_hash(in_dir("run/metrics.csv")), metrics_hash);
    /* pretrain whose dataset is where its checkpoint goes; finetune whose init is where its checkpoint goes */
    cr_assert_eq(test_run("mkdir -p %s/own && cp %s %s/own/pretrain.ckpt && cp %s %s/ft_init.ckpt", dir, data, dir, ckpt, dir), 0);
    expect_refused(test_run("%s pretrain env.name=pendulum data.path=%s/own/pretrain.ckpt run.out_dir=%s run.name=own", bin, dir, dir),
                   "is the same file as the dataset (data.path)");
    cr_assert_eq(file_hash(in_dir("own/pretrain.ckpt")), data_hash);
    cr_assert_eq(test_run("mkdir -p %s/ft && cp %s %s/ft/finetune.ckpt", dir, ckpt, dir), 0);
    expect_refused(test_run("%s finetune init=%s/ft/finetune.ckpt env.name=pendulum run.out_dir=%s run.name=ft", bin, dir, dir),
                   "is the same file as the checkpoint (finetune.init)");
    cr_assert_eq(file_hash(in_dir("ft/finetune.ckpt")), ckpt_hash);
    cr_assert_eq(file_hash(ckpt), ckpt_hash);
    cr_assert_eq(file_hash(data), data_hash);
    /* and a legitimate output still works */
    cr_assert_eq(test_run("%s export %s out=%s", bin, ckpt, in_dir("policy.safetensors")), 0, "%s", test_err);
}

Test(hardening_inputs, path_helpers)
{
    char buf[16];
    cr_assert_eq(rldt_path_format(buf, sizeof buf, "%s/%s", "abc", "def"), RLDT_OK);
    cr_assert_str_eq(buf, "abc/def");
    cr_assert_eq(rldt_path_format(buf, sizeof buf, "%s/%s", "abcdefgh", "ijklmnop"), RLDT_ERR_USAGE);
    cr_assert_str_eq(buf, "", "a path that does not fit leaves nothing usable behind");
    cr_assert(strstr(rldt_error_message(), "path too long") && strstr(rldt_error_message(), "17 bytes"), "%s", rldt_error_message());
    char *long_name = malloc(RLDT_PATH_MAX + 2);
    memset(long_name, 'a', RLDT_PATH_MAX + 1);
    long_name[RLDT_PATH_MAX + 1] = '\0';
    cr_assert_null(rldt_path_join("/tmp", long_name));
    cr_assert_eq(rldt_path_check_output(long_name, "out=", NULL, 0, true), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "path longer than"), "%s", rldt_error_message());
    cr_assert_eq(rldt_path_check_input(long_name, "dataset"), RLDT_ERR_USAGE);
    free(long_name);
    cr_assert_eq(rldt_path_check_input("/tmp", "dataset"), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "is a directory, not a regular file"), "%s", rldt_error_message());
}

// ------------------------------------------------------------------------------------------------------
// item 5: overlong paths are errors, never truncations

/* A directory path under <dir> of about `len` bytes (components of 200 bytes), created. */
static char *deep_dir(size_t len)
{
    char *p = calloc(len + 256, 1);
    strcpy(p, dir);
    while (strlen(p) < len) {
        size_t n = strlen(p);
        p[n] = '/';
        memset(p + n + 1, 'd', 200);
    }
    cr_assert_eq(rldt_mkdirs(p), RLDT_OK, "%s", rldt_error_message());
    struct stat s;
    cr_assert(stat(p, &s) == 0 && S_ISDIR(s.st_mode), "rldt_mkdirs made the whole path (%zu bytes)", strlen(p));
    return p;
}

Test(hardening_inputs, long_paths_are_errors_not_truncations, .init = setup, .fini = teardown, .timeout = 120)
{
    /* a run directory whose checkpoint path does not fit: refused before anything is written (it used to
     * save the checkpoint as "pretrain." and exit 0) */
    char out_dir[256], name[256];
    snprintf(out_dir, sizeof out_dir, "%s/", dir);
    memset(out_dir + strlen(out_dir), 'o', 250 - strlen(out_dir));
    out_dir[250] = '\0';
    memset(name, 'n', 250);
    name[250] = '\0';
    expect_refused(test_run("%s pretrain env.name=pendulum data.path=%s run.out_dir=%s run.name=%s", test_bin(), dataset(), out_dir, name),
                   "path too long");
    cr_assert_eq(test_run("find %s -name 'pretrain*' | grep -q .", dir), 1, "something named pretrain* was written");

    /* export to a path of ~1,200 bytes: the temporary file is <out>.tmp in full (it used to be cut at 1,099
     * bytes, which here is the name of an unrelated file that the rename then moved over the output) */
    const char *ckpt = checkpoint();
    char *deep = deep_dir(1000);
    size_t n = strlen(deep);
    char decoy[1200], out[1300];
    snprintf(decoy, sizeof decoy, "%s/", deep);
    memset(decoy + n + 1, 'x', 1099 - n - 1);
    decoy[1099] = '\0';
    write_file(decoy, "precious\n");
    uint64_t decoy_hash = file_hash(decoy);
    snprintf(out, sizeof out, "%s_policy.safetensors", decoy);
    cr_assert_eq(test_run("%s export %s out=%s", test_bin(), ckpt, out), 0, "%s", test_err);
    cr_assert(exists(out) && file_hash(decoy) == decoy_hash, "the unrelated file was replaced");

    /* plot into a run directory of ~1,200 bytes: curves.png lands there, not at a cut path */
    char *run = deep_dir(1150), cmd_out[1400];
    snprintf(cmd_out, sizeof cmd_out, "%s/metrics.csv", run);
    write_file(cmd_out, METRICS);
    cr_assert_eq(test_run("%s plot %s", test_bin(), run), 0, "%s", test_err + (strlen(test_err) > 300 ? strlen(test_err) - 300 : 0));
    snprintf(cmd_out, sizeof cmd_out, "%s/curves.png", run);
    cr_assert(exists(cmd_out));
    free(deep);
    free(run);
}

// ------------------------------------------------------------------------------------------------------
// item 9: absurd sizes are refused with the estimate

Test(hardening_inputs, absurd_sizes_are_refused_with_an_estimate, .init = setup, .fini = teardown, .timeout = 120)
{
    const char *bin = test_bin(), *ckpt = checkpoint();
    char base[1024];
    snprintf(base, sizeof base, "env.name=pendulum data.path=%s run.out_dir=%s run.name=big", dataset(), dir);
    /* petabytes: beyond any machine */
    expect_refused(test_run("%s pretrain %s policy.width=8192 policy.blocks=64 pretrain.batch=1000000", bin, base), "MemAvailable");
    cr_assert(strstr(test_err, "pretrain needs about") && strstr(test_err, "policy (weights"), "%s", test_err);
    cr_assert(strstr(test_err, "pretrain memory estimate:"), "the estimate is in the run header: %s", test_err);
    expect_refused(test_run("%s finetune %s init=%s critic.width=8192 critic.depth=64 critic.members=16", bin, base, ckpt),
                   "critic ensemble");
    expect_refused(test_run("%s finetune %s init=%s finetune.buffer_segments=100000000 finetune.n_steps=1000", bin, base, ckpt),
                   "replay buffer");
    expect_refused(test_run("%s finetune %s init=%s env.n_envs=1024 finetune.n_steps=1000000", bin, base, ckpt), "replay buffer");
    cr_assert(!exists(in_dir("big/finetune.ckpt")) && !exists(in_dir("big/metrics.csv")), "nothing is written");
}

static double gpu_free_200gb(void) { return 200e9; }
static double gpu_free_100gb(void) { return 100e9; }

Test(hardening_inputs, memory_estimates_and_the_check)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_width = 8192;
    cfg.policy_blocks = 64;
    rldt_mem_estimate_t e;
    rldt_mem_estimate_pretrain(&e, &cfg, 3, 1, 4000, 49, 0, 0, 0);
    /* 64 blocks of two 8192^2 layers: 8.6e9 parameters, 34 GB a copy, five copies on the backend */
    cr_assert(rldt_mem_device_total(&e) > 5 * 34e9 && rldt_mem_device_total(&e) < 6 * 36e9, "%g", rldt_mem_device_total(&e));
    const rldt_backend_t *cpu = rldt_backend_cpu();
    cr_assert_eq(rldt_mem_check_against(&e, "pretrain", cpu, 256e9, -1), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "pretrain needs about") && strstr(rldt_error_message(), "256 GB is available"), "%s",
              rldt_error_message());
    cr_assert_eq(rldt_mem_check_against(&e, "pretrain", cpu, 1e15, 1e15), RLDT_OK);
    cr_assert_eq(rldt_mem_check_against(&e, "pretrain", cpu, 1e15, 1e9), RLDT_OK, "a checkpoint beyond the free disk is a warning");
    /* on a backend with memory of its own the host part (the checkpoint copies) is checked against host
     * memory and the backend part against the backend's free memory */
    rldt_backend_t gpu = *cpu;
    gpu.name = "cuda";
    gpu.mem_free = gpu_free_200gb;
    cr_assert_eq(rldt_mem_check_against(&e, "pretrain", &gpu, 256e9, -1), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_mem_check_against(&e, "pretrain", &gpu, 128e9, -1), RLDT_ERR_USAGE);
    gpu.mem_free = gpu_free_100gb;
    cr_assert_eq(rldt_mem_check_against(&e, "pretrain", &gpu, 256e9, -1), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "of GPU memory but 100 GB is free"), "%s", rldt_error_message());
    /* the default pendulum run is small */
    rldt_config_defaults(&cfg);
    rldt_mem_estimate_pretrain(&e, &cfg, 3, 1, 4000, 49, 0, 0, 0);
    cr_assert(rldt_mem_host_total(&e) + rldt_mem_device_total(&e) < 100e6, "%g", rldt_mem_host_total(&e) + rldt_mem_device_total(&e));
    /* a pixel policy on 84 x 84 x 3 images: the encoder's workspace and the batches' images are counted */
    double plain = rldt_mem_device_total(&e);
    snprintf(cfg.policy_encoder, sizeof cfg.policy_encoder, "drq");
    rldt_mem_estimate_pretrain(&e, &cfg, 3, 1, 4000, 49 + 2 * 84 * 84 * 3, 84, 84, 3);
    rldt_encoder_spec_t es = rldt_encoder_drq(84, 84, 3);
    int maxb = cfg.pre_batch > 1024 ? (int)cfg.pre_batch : 1024;
    double enc = (double)rldt_encoder_ws_floats(&es, maxb) * sizeof(float);
    cr_assert_gt(enc, 0);
    cr_assert(rldt_mem_device_total(&e) - plain > enc, "pixel %g vs low-dim %g: the encoder's %g not counted", rldt_mem_device_total(&e),
              plain, enc);
    rldt_mem_estimate_pretrain(&e, &cfg, 3, 1, 4000, 49, 0, 0, 0); /* no images: nothing to encode */
    cr_assert_eq(rldt_mem_device_total(&e), plain);
    snprintf(cfg.policy_encoder, sizeof cfg.policy_encoder, "none");
    rldt_config_t policy = cfg;
    rldt_mem_estimate_finetune(&e, &cfg, &policy, rldt_env_find("pendulum"), NULL);
    cr_assert(rldt_mem_host_total(&e) + rldt_mem_device_total(&e) < 300e6, "%g", rldt_mem_host_total(&e) + rldt_mem_device_total(&e));
    char b[32];
    cr_assert_str_eq(rldt_mem_format(3.14e9, b, sizeof b), "3.1 GB");
    cr_assert_str_eq(rldt_mem_format(812e6, b, sizeof b), "812 MB");
    cr_assert(rldt_mem_available() > 0 && rldt_disk_available("/tmp/no/such/dir/file") > 0);
    /* collect demos=1e7 of pendulum (always 200 steps): about 300 GB, said before anything is written */
    rldt_mem_estimate_collect(&e, rldt_env_find("pendulum"), 1e7);
    cr_assert(e.disk > 250e9 && e.disk < 350e9, "%g", e.disk);
}

// ------------------------------------------------------------------------------------------------------
// item 10: the smaller ones

Test(hardening_inputs, fifo_inputs_are_refused, .init = setup, .fini = teardown, .timeout = 120)
{
    const char *fifo = in_dir("fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *bin = test_bin();
    /* `timeout` turns a hang into a failure instead of a stuck test run */
    expect_refused(test_run("timeout 20 %s dataset info %s", bin, fifo), "is a FIFO (named pipe), not a regular file");
    expect_refused(test_run("timeout 20 %s eval %s", bin, fifo), "is a FIFO");
    expect_refused(test_run("timeout 20 %s config %s", bin, fifo), "is a FIFO");
    expect_refused(test_run("timeout 20 %s export %s out=%s", bin, fifo, in_dir("x.safetensors")), "is a FIFO");
    expect_refused(test_run("timeout 20 %s pretrain env.name=pendulum data.path=%s run.out_dir=%s", bin, fifo, dir), "is a FIFO");
    expect_refused(test_run("timeout 20 %s finetune env.name=pendulum init=%s run.out_dir=%s", bin, fifo, dir), "is a FIFO");
    cr_assert_eq(mkdir(in_dir("run"), 0700), 0);
    cr_assert_eq(mkfifo(in_dir("run/metrics.csv"), 0600), 0);
    expect_refused(test_run("timeout 20 %s plot %s", bin, in_dir("run")), "is a FIFO");
}

Test(hardening_inputs, numbers_are_decimal_only)
{
    const char *bin = test_bin();
    expect_refused(test_run("%s collect env=pendulum demos=0x10 out=/tmp/rldt_never.h5", bin), "demos='0x10' is not an integer");
    expect_refused(test_run("%s collect env=pendulum demos=1e3 out=/tmp/rldt_never.h5", bin), "demos='1e3' is not an integer");
    expect_refused(test_run("%s collect env=pendulum noise=0x1p-3 out=/tmp/rldt_never.h5", bin), "noise='0x1p-3' is not a number");
    expect_refused(test_run("%s collect env=pendulum 'seed= 5' out=/tmp/rldt_never.h5", bin), "is not an integer");
    expect_refused(test_run("%s config pretrain.lr=0x1p-3", bin), "pretrain.lr: value '0x1p-3' is not a number");
    cr_assert_eq(test_run("%s config pretrain.lr=1e-3 critic.q_min=-.5", bin), 0, "%s", test_err);
}

Test(hardening_inputs, contradictory_keys_are_refused)
{
    const char *bin = test_bin();
    expect_refused(test_run("%s config critic.q_min=5 critic.q_max=1", bin), "critic.q_min (5) must be less than critic.q_max (1)");
    expect_refused(test_run("%s config critic.q_min=1 critic.q_max=1", bin), "critic.q_min (1) must be less than critic.q_max (1)");
    const char *yaml = test_temp_path("q.yaml");
    FILE *f = fopen(yaml, "w");
    fputs("critic:\n  q_min: 2\n  q_max: 1\n", f);
    fclose(f);
    expect_refused(test_run("%s config %s", bin, yaml), yaml);
    cr_assert_eq(test_run("%s config %s critic.q_max=3", bin, yaml), 0, "overrides are applied before the check: %s", test_err);
    remove(yaml);
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.critic_q_min = 1, cfg.critic_q_max = 0;
    cr_assert_eq(rldt_config_validate(&cfg, "f.yaml"), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "f.yaml: critic.q_min"), "%s", rldt_error_message());
}

Test(hardening_inputs, messages_do_not_repeat_themselves)
{
    rldt_error_set(RLDT_ERR_USAGE, "unknown env 'nosuch'");
    rldt_error_set(RLDT_ERR_USAGE, "env.name: %s", rldt_error_message());
    cr_assert_str_eq(rldt_error_message(), "env.name: unknown env 'nosuch'");
    const char *bin = test_bin();
    expect_refused(test_run("%s finetune env.name=nosuch init=x", bin), "rldt: error: env.name: unknown env 'nosuch'");
    cr_assert(!strstr(test_err, "env.name: env.name"), "%s", test_err);
    expect_refused(test_run("%s pretrain env.name=nosuch", bin), "rldt: error: env.name: unknown env 'nosuch'");
    cr_assert(!strstr(test_err, "env.name: env.name"), "%s", test_err);
}

Test(hardening_inputs, crafted_env_state_cannot_overflow)
{
    const rldt_env_spec_t *spec = rldt_env_find("pendulum");
    rldt_env_t env;
    rldt_env_init(&env, spec, 0);
    float obs[8], a[1] = {0};
    rldt_env_reset(&env, 1, obs);
    env.t = INT_MAX; /* a restored snapshot may say anything */
    rldt_step_t s = rldt_env_step(&env, a, obs, NULL);
    cr_assert(s.truncated && env.t == env.max_steps, "t %d", env.t);
    env.t = -5;
    s = rldt_env_step(&env, a, obs, NULL);
    cr_assert(s.truncated, "a negative step count must not make an endless episode");
    rldt_env_free(&env);
    /* a damaged RNG buffer count starts a fresh block instead of reading past the buffer */
    const int damaged[2] = {1000, -3};
    for (int i = 0; i < 2; i++) {
        rldt_rng_t r, fresh;
        rldt_rng_init(&r, 7, 3);
        rldt_rng_init(&fresh, 7, 3);
        r.nbuf = damaged[i];
        cr_assert_eq(rldt_rng_u32(&r), rldt_rng_u32(&fresh), "nbuf %d", damaged[i]);
    }
}

Test(hardening_inputs, write_errors_say_what_errno_says, .init = setup, .fini = teardown, .timeout = 60)
{
    const char *ckpt = checkpoint();
    int st = test_run("%s export %s out=%s/no/such/dir/x.safetensors", test_bin(), ckpt, dir);
    cr_assert_eq(st, 1, "%s", test_err);
    cr_assert(strstr(test_err, "No such file or directory"), "%s", test_err);
    cr_assert_eq(rldt_export_safetensors(ckpt, "/proc/rldt_cannot_write_here"), RLDT_ERR);
    cr_assert(strstr(rldt_error_message(), "/proc/rldt_cannot_write_here"), "%s", rldt_error_message());
}
