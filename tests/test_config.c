/* test_config.c — the configuration module (host/core/config.c): the key table and its defaults, YAML files,
 * key=value overrides, the JSON round trip, and every class of bad input with the message it gives.
 * Runs from tests/ (see `make test`); YAML files are written under a fresh mkdtemp directory per test. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <ctype.h>
#include <glob.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/config.h"
#include "rldt/env.h"

// ------------------------------------------------------------------------------------------------------
// fixtures and helpers

static char tmpdir_[64];
static char tmpfiles[16][128];
static int n_tmpfiles;

/* The test's scratch directory, made on first use (a skipped test makes none). */
static const char *tmpdir(void)
{
    if (!tmpdir_[0]) {
        test_tmpdir(tmpdir_, sizeof tmpdir_);
    }
    return tmpdir_;
}

static void teardown(void)
{
    for (int i = 0; i < n_tmpfiles; i++) unlink(tmpfiles[i]);
    if (tmpdir_[0]) rmdir(tmpdir_);
}

TestSuite(config, .fini = teardown);

/* Writes `text` to a new file in the test's directory and returns its path. */
static const char *write_yaml(const char *text)
{
    cr_assert_lt(n_tmpfiles, 16);
    char *path = tmpfiles[n_tmpfiles];
    snprintf(path, sizeof tmpfiles[0], "%s/c%d.yaml", tmpdir(), n_tmpfiles);
    n_tmpfiles++;
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Asserts status RLDT_ERR_USAGE and that the message holds every one of the NULL-terminated needles. */
static void expect_error_(rldt_status_t st, const char *const *needles)
{
    const char *msg = rldt_error_message();
    cr_assert_eq(st, RLDT_ERR_USAGE, "expected RLDT_ERR_USAGE, got %d (message '%s')", (int)st, msg);
    for (int i = 0; needles[i]; i++)
        cr_assert_not_null(strstr(msg, needles[i]), "message '%s' lacks '%s'", msg, needles[i]);
}
#define expect_error(st, ...) expect_error_((st), (const char *const[]){__VA_ARGS__, NULL})

/* Loads YAML text into a default config; expects RLDT_ERR_USAGE naming "<file>:<line>: " and the needles. */
#define expect_yaml_error(yaml, line, ...)                                                                             \
    do {                                                                                                               \
        rldt_config_t cfg_;                                                                                            \
        rldt_config_defaults(&cfg_);                                                                                   \
        const char *path_ = write_yaml(yaml);                                                                          \
        char where_[192];                                                                                              \
        snprintf(where_, sizeof where_, "%s:%d: ", path_, (line));                                                     \
        expect_error(rldt_config_load_yaml(&cfg_, path_), where_, __VA_ARGS__);                                        \
    } while (0)

static void *field_of(rldt_config_t *cfg, const rldt_config_key_t *k) { return (char *)cfg + k->offset; }

/* True when key k holds the same value, bit for bit, in a and b. */
static bool same_value(rldt_config_t *a, rldt_config_t *b, const rldt_config_key_t *k)
{
    switch (k->type) {
    case RLDT_CFG_INT: return memcmp(field_of(a, k), field_of(b, k), sizeof(long)) == 0;
    case RLDT_CFG_FLOAT: return memcmp(field_of(a, k), field_of(b, k), sizeof(double)) == 0;
    case RLDT_CFG_BOOL: return *(bool *)field_of(a, k) == *(bool *)field_of(b, k);
    case RLDT_CFG_STR:
    case RLDT_CFG_ENUM: return strcmp(field_of(a, k), field_of(b, k)) == 0;
    }
    return false;
}

// ------------------------------------------------------------------------------------------------------
// the table and the defaults

Test(config, table_is_well_formed)
{
    size_t n;
    const rldt_config_key_t *keys = rldt_config_keys(&n);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        const char *name = keys[i].name;
        cr_assert_eq(rldt_config_find(name), &keys[i], "find(%s)", name);
        cr_assert(strchr(name, '.') && name[0] != '.' && name[strlen(name) - 1] != '.' && !strstr(name, ".."),
                  "%s: want section.key", name);
        for (const char *c = name; *c; c++)
            cr_assert((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.',
                      "%s: not lower_snake", name);
        cr_assert(keys[i].doc && keys[i].doc[0], "%s: no doc", name);
        if (keys[i].type == RLDT_CFG_ENUM) cr_assert_not_null(keys[i].choices, "%s: enum without choices", name);
        if (keys[i].type == RLDT_CFG_INT || keys[i].type == RLDT_CFG_FLOAT)
            cr_assert_leq(keys[i].min, keys[i].max, "%s: empty range", name);
        for (size_t j = 0; j < n; j++) {
            if (i == j) continue;
            cr_assert_str_neq(name, keys[j].name, "%s is declared twice", name);
            size_t len = strlen(name);
            /* a key cannot also be a section: the JSON form nests sections */
            cr_assert(!(strncmp(keys[j].name, name, len) == 0 && keys[j].name[len] == '.'),
                      "%s is both a key and a section of %s", name, keys[j].name);
        }
    }
    cr_assert_null(rldt_config_find("pretrain"));
    cr_assert_null(rldt_config_find("bogus.key"));
}

Test(config, defaults_equal_the_table)
{
    rldt_config_t cfg;
    memset(&cfg, 0xAB, sizeof cfg);
    rldt_config_defaults(&cfg);
    size_t n;
    const rldt_config_key_t *keys = rldt_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const rldt_config_key_t *k = &keys[i];
        void *f = field_of(&cfg, k);
        switch (k->type) {
        case RLDT_CFG_INT: cr_assert_eq(*(long *)f, strtol(k->def, NULL, 10), "%s", k->name); break;
        case RLDT_CFG_FLOAT: cr_assert_eq(*(double *)f, strtod(k->def, NULL), "%s", k->name); break;
        case RLDT_CFG_BOOL: cr_assert_eq(*(bool *)f, strcmp(k->def, "true") == 0, "%s", k->name); break;
        case RLDT_CFG_STR:
        case RLDT_CFG_ENUM: cr_assert_str_eq((char *)f, k->def, "%s", k->name); break;
        }
    }
    cr_assert_eq(cfg.pre_lr, 1e-3);
    cr_assert_str_eq(cfg.run_device, "auto");
    cr_assert_eq(cfg.policy_layernorm, false);
}

Test(config, get_text)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    char buf[64];
    cr_assert_eq(rldt_config_get_text(&cfg, "policy.width", buf, sizeof buf), RLDT_OK);
    cr_assert_str_eq(buf, "256");
    cr_assert_eq(rldt_config_get_text(&cfg, "pretrain.ema", buf, sizeof buf), RLDT_OK);
    cr_assert_eq(strtod(buf, NULL), 0.995, "%s", buf);
    cr_assert_eq(rldt_config_get_text(&cfg, "policy.layernorm", buf, sizeof buf), RLDT_OK);
    cr_assert_str_eq(buf, "false");
    cr_assert_eq(rldt_config_get_text(&cfg, "run.device", buf, sizeof buf), RLDT_OK);
    cr_assert_str_eq(buf, "auto");
    cr_assert_eq(rldt_config_get_text(&cfg, "data.path", buf, 4), RLDT_ERR);
    expect_error(rldt_config_get_text(&cfg, "pretrain.lrr", buf, sizeof buf), "unknown key 'pretrain.lrr'");
}

// ------------------------------------------------------------------------------------------------------
// YAML files and overrides

Test(config, yaml_nesting_maps_to_dotted_keys)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    const char *path = write_yaml("# a comment\n"
                                  "run:\n"
                                  "  name: \"my run\"\n"
                                  "  seed: 4294967295\n"
                                  "policy: {width: 64, layernorm: yes, activation: silu}\n"
                                  "pretrain.lr: 3e-4\n"
                                  "pretrain:\n"
                                  "  steps: 10\n"
                                  "  ema: 0.5\n"
                                  "env:\n"
                                  "  # every key of a section commented out\n"
                                  "data:\n"
                                  "  path: 'a b/c.h5'\n");
    cr_assert_eq(rldt_config_load_yaml(&cfg, path), RLDT_OK, "%s", rldt_error_message());
    cr_assert_str_eq(cfg.run_name, "my run");
    cr_assert_eq(cfg.run_seed, 4294967295L);
    cr_assert_eq(cfg.policy_width, 64);
    cr_assert_eq(cfg.policy_layernorm, true);
    cr_assert_str_eq(cfg.policy_act, "silu");
    cr_assert_eq(cfg.pre_lr, 3e-4);
    cr_assert_eq(cfg.pre_steps, 10);
    cr_assert_eq(cfg.pre_ema, 0.5);
    cr_assert_str_eq(cfg.data_path, "a b/c.h5");
    cr_assert_str_eq(cfg.env_name, "pendulum", "untouched keys keep their defaults");
    cr_assert_eq(cfg.pre_batch, 256);
}

Test(config, empty_yaml_is_valid)
{
    static const char *const texts[] = {"", "# only a comment\n", "---\n", "\n\n"};
    for (int i = 0; i < 4; i++) {
        rldt_config_t cfg, def;
        rldt_config_defaults(&cfg);
        rldt_config_defaults(&def);
        cr_assert_eq(rldt_config_load_yaml(&cfg, write_yaml(texts[i])), RLDT_OK, "'%s': %s", texts[i],
                     rldt_error_message());
        cr_assert_eq(memcmp(&cfg, &def, sizeof cfg), 0);
    }
}

Test(config, overrides_win_over_the_file)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    const char *path = write_yaml("policy:\n  width: 64\n  chunk: 2\npretrain:\n  lr: 1e-2\n");
    cr_assert_eq(rldt_config_load_yaml(&cfg, path), RLDT_OK, "%s", rldt_error_message());
    char *args[] = {"policy.width=128", "--pretrain.lr=5e-5", "data.path=x=y.h5", "policy.width=512"};
    cr_assert_eq(rldt_config_apply_overrides(&cfg, 4, args), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(cfg.policy_width, 512, "the last override wins");
    cr_assert_eq(cfg.policy_chunk, 2, "the file's value stays where no override is given");
    cr_assert_eq(cfg.pre_lr, 5e-5);
    cr_assert_str_eq(cfg.data_path, "x=y.h5", "the value is everything after the first '='");
    cr_assert_eq(rldt_config_apply_overrides(&cfg, 0, NULL), RLDT_OK);
}

/* Every shipped config loads, names a known task (or a robosuite one: opening it would start a worker) and
 * reads its data from data/<task>.h5 (robosuite:Lift: data/lift.h5). */
Test(config, shipped_configs_load)
{
    glob_t g;
    cr_assert_eq(glob("../configs/*.yaml", 0, NULL, &g), 0);
    cr_assert_geq(g.gl_pathc, 2);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        rldt_config_t cfg;
        rldt_config_defaults(&cfg);
        cr_assert_eq(rldt_config_load_yaml(&cfg, g.gl_pathv[i]), RLDT_OK, "%s", rldt_error_message());
        char task[sizeof cfg.env_name];
        snprintf(task, sizeof task, "%s", cfg.env_name);
        if (strncmp(cfg.env_name, "robosuite:", 10) == 0) {
            snprintf(task, sizeof task, "%s", cfg.env_name + 10);
            for (char *c = task; *c; c++) *c = (char)tolower((unsigned char)*c);
        } else {
            cr_assert_not_null(rldt_env_find(cfg.env_name), "%s: unknown task %s", g.gl_pathv[i], cfg.env_name);
        }
        char expect[300];
        snprintf(expect, sizeof expect, "data/%s.h5", task);
        cr_assert_str_eq(cfg.data_path, expect, "%s", g.gl_pathv[i]);
    }
    globfree(&g);
}

// ------------------------------------------------------------------------------------------------------
// bad values: each class, through rldt_config_set and through a YAML file

Test(config, unknown_key_suggests_the_closest)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    expect_error(rldt_config_set(&cfg, "pretrain.lrr", "1", "<command line>", 0),
                 "<command line>: unknown key 'pretrain.lrr'; did you mean 'pretrain.lr'?");
    expect_error(rldt_config_set(&cfg, "pretrian.steps", "1", "<command line>", 0), "did you mean 'pretrain.steps'?");
    expect_error(rldt_config_set(&cfg, "ema", "1", "<command line>", 0), "did you mean 'pretrain.ema'?");
    expect_error(rldt_config_set(&cfg, "policy.denoise", "1", "<command line>", 0),
                 "did you mean 'policy.denoise_steps'?");
    expect_error(rldt_config_set(&cfg, "bogus.key", "1", "<command line>", 0),
                 "<command line>: unknown key 'bogus.key'");
    cr_assert_null(strstr(rldt_error_message(), "did you mean"), "%s", rldt_error_message());
    expect_error(rldt_config_set(&cfg, "pretrain", "1", "<command line>", 0), "'pretrain' is a section");
    expect_yaml_error("pretrain:\n  lr: 1e-3\n  lrr: 1e-3\n", 3,
                      "unknown key 'pretrain.lrr'; did you mean 'pretrain.lr'?");
    expect_yaml_error("run:\n  seed: 1\npretrian:\n  lr: 1e-3\n", 3,
                      "unknown section 'pretrian'; did you mean 'pretrain'?");
    expect_yaml_error("bogus:\n  key: 1\n", 1, "unknown section 'bogus'");
    expect_yaml_error("pretrain:\n  lr:\n    value: 1\n", 2, "pretrain.lr: takes a single value");
    expect_yaml_error("pretrain: 5\n", 1, "'pretrain' is a section");
}

Test(config, bad_int)
{
    static const char *const bad[] = {"abc", "1e3", "12abc", "", " 5", "5 ", "0x10", "1.0", "--5", "+", "5k"};
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "run.threads: value '%s' is not an integer", bad[i]);
        expect_error(rldt_config_set(&cfg, "run.threads", bad[i], "x.yaml", 7), "x.yaml:7: ", want);
    }
    cr_assert_eq(cfg.run_threads, 0, "a rejected value is not stored");
    cr_assert_eq(rldt_config_set(&cfg, "run.threads", "+7", "x", 1), RLDT_OK);
    cr_assert_eq(cfg.run_threads, 7);
    expect_yaml_error("run:\n  seed: 1\npolicy:\n  width: 64.5\n", 4, "policy.width: value '64.5' is not an integer");
}

Test(config, bad_float)
{
    static const char *const bad[] = {"abc", "", "1e-3x", " 1", "0.1.2", "--1", "1,5", "e5", "."};
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "pretrain.lr: value '%s' is not a number", bad[i]);
        expect_error(rldt_config_set(&cfg, "pretrain.lr", bad[i], "x.yaml", 3), "x.yaml:3: ", want);
    }
    static const char *const good[] = {"3e-4", ".5", "+1", "0", "1E-2", "10"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cr_assert_eq(rldt_config_set(&cfg, "pretrain.lr", good[i], "x", 1), RLDT_OK, "%s", rldt_error_message());
        cr_assert_eq(cfg.pre_lr, strtod(good[i], NULL));
    }
    expect_yaml_error("pretrain:\n  lr: fast\n", 2, "pretrain.lr: value 'fast' is not a number");
}

Test(config, non_finite_float)
{
    static const char *const bad[] = {"nan", "inf", "-inf", "1e999", "Infinity", "NAN"};
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "pretrain.grad_clip: value '%s' is not a finite number", bad[i]);
        expect_error(rldt_config_set(&cfg, "pretrain.grad_clip", bad[i], "x.yaml", 5), "x.yaml:5: ", want);
    }
    expect_yaml_error("pretrain:\n  grad_clip: .inf\n", 2, "pretrain.grad_clip", "not a");
    expect_yaml_error("pretrain:\n  grad_clip: nan\n", 2, "pretrain.grad_clip: value 'nan' is not a finite number");
}

Test(config, out_of_range)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    expect_error(rldt_config_set(&cfg, "policy.chunk", "0", "x.yaml", 2),
                 "x.yaml:2: policy.chunk: value '0' is out of range [1, 256]");
    expect_error(rldt_config_set(&cfg, "policy.chunk", "257", "x.yaml", 2), "out of range [1, 256]");
    expect_error(rldt_config_set(&cfg, "run.seed", "4294967296", "x", 1), "run.seed", "[0, 4294967295]");
    expect_error(rldt_config_set(&cfg, "run.seed", "-1", "x", 1), "run.seed", "out of range");
    expect_error(rldt_config_set(&cfg, "run.seed", "99999999999999999999", "x", 1), "run.seed", "out of range");
    expect_error(rldt_config_set(&cfg, "pretrain.lr", "-1e-9", "x", 1),
                 "pretrain.lr: value '-1e-9' is out of range [0, 10]");
    expect_error(rldt_config_set(&cfg, "pretrain.lr", "10.000001", "x", 1), "out of range [0, 10]");
    cr_assert_eq(rldt_config_set(&cfg, "run.seed", "4294967295", "x", 1), RLDT_OK);
    cr_assert_eq(rldt_config_set(&cfg, "pretrain.lr", "10", "x", 1), RLDT_OK, "bounds are inclusive");
    cr_assert_eq(rldt_config_set(&cfg, "policy.chunk", "1", "x", 1), RLDT_OK);
    expect_yaml_error("policy:\n  chunk: 4\n  width: 2\n", 3, "policy.width: value '2' is out of range [4, 8192]");
    expect_yaml_error("pretrain:\n  ema: 1.5\n", 2, "pretrain.ema: value '1.5' is out of range [0, 1]");
}

Test(config, bool_values)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "True", "YES"}, *const no[] = {"false", "no", "off",
                                                                                               "0", "Off"};
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        cfg.policy_layernorm = false;
        cr_assert_eq(rldt_config_set(&cfg, "policy.layernorm", yes[i], "x", 1), RLDT_OK, "%s", yes[i]);
        cr_assert(cfg.policy_layernorm, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        cfg.policy_layernorm = true;
        cr_assert_eq(rldt_config_set(&cfg, "policy.layernorm", no[i], "x", 1), RLDT_OK, "%s", no[i]);
        cr_assert(!cfg.policy_layernorm, "%s", no[i]);
    }
    expect_error(rldt_config_set(&cfg, "policy.layernorm", "maybe", "x.yaml", 9),
                 "x.yaml:9: policy.layernorm: value 'maybe' is not a boolean");
    expect_error(rldt_config_set(&cfg, "policy.layernorm", "2", "x", 1), "not a boolean");
    expect_error(rldt_config_set(&cfg, "policy.layernorm", "", "x", 1), "not a boolean");
    expect_yaml_error("policy:\n  layernorm: sometimes\n", 2, "policy.layernorm: value 'sometimes' is not a boolean");
}

Test(config, bad_enum_choice)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    expect_error(rldt_config_set(&cfg, "run.device", "gpu", "x.yaml", 4),
                 "x.yaml:4: run.device: value 'gpu' is not one of auto|cpu|cuda");
    expect_error(rldt_config_set(&cfg, "run.device", "CUDA", "x", 1), "not one of");
    expect_error(rldt_config_set(&cfg, "run.device", "cud", "x", 1), "not one of");
    expect_error(rldt_config_set(&cfg, "run.device", "auto|cpu", "x", 1), "not one of");
    expect_error(rldt_config_set(&cfg, "run.device", "", "x", 1), "not one of");
    cr_assert_str_eq(cfg.run_device, "auto");
    cr_assert_eq(rldt_config_set(&cfg, "run.device", "cuda", "x", 1), RLDT_OK);
    cr_assert_str_eq(cfg.run_device, "cuda");
    expect_yaml_error("log:\n  level: loud\n", 2, "log.level: value 'loud' is not one of debug|info|warn|error");
}

Test(config, string_too_long)
{
    char text[RLDT_CFG_STR_MAX + 1];
    memset(text, 'a', sizeof text - 1);
    text[RLDT_CFG_STR_MAX - 1] = '\0';
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cr_assert_eq(rldt_config_set(&cfg, "run.name", text, "x", 1), RLDT_OK, "255 bytes fit");
    cr_assert_str_eq(cfg.run_name, text);
    text[RLDT_CFG_STR_MAX - 1] = 'a';
    text[RLDT_CFG_STR_MAX] = '\0';
    expect_error(rldt_config_set(&cfg, "run.name", text, "x.yaml", 6), "x.yaml:6: run.name: value is 256 bytes long");
    char yaml[RLDT_CFG_STR_MAX + 32];
    snprintf(yaml, sizeof yaml, "data:\n  path: %s\n", text);
    expect_yaml_error(yaml, 2, "data.path: value is 256 bytes long");
}

// ------------------------------------------------------------------------------------------------------
// bad YAML

Test(config, yaml_sequences_and_aliases_are_rejected)
{
    expect_yaml_error("policy:\n  width: [64, 64]\n", 2, "policy.width: lists are not supported");
    expect_yaml_error("policy:\n  chunk: 4\n  width:\n    - 64\n", 4, "policy.width: lists are not supported");
    expect_yaml_error("- a\n- b\n", 1, "got a list");
    expect_yaml_error("policy:\n  width: &w 64\n  time_dim: *w\n", 3, "policy.time_dim: aliases");
    expect_yaml_error("policy:\n  ? [a, b]\n  : 1\n", 2, "policy: mapping keys must be plain names");
}

Test(config, yaml_duplicate_key)
{
    expect_yaml_error("pretrain:\n  lr: 1e-3\n  lr: 2e-3\n", 3, "pretrain.lr: given twice (first on line 2)");
    expect_yaml_error("pretrain:\n  lr: 1e-3\npolicy:\n  width: 64\npretrain:\n  steps: 5\n", 5,
                      "pretrain: given twice (first on line 1)");
    expect_yaml_error("pretrain.lr: 1e-3\npretrain:\n  lr: 2e-3\n", 3, "pretrain.lr: given twice (first on line 1)");
    expect_yaml_error("pretrain: {lr: 1, lr: 2}\n", 1, "pretrain.lr: given twice");
}

Test(config, yaml_malformed)
{
    expect_yaml_error("pretrain:\n\tlr: 1e-3\n", 2, "malformed YAML", "cannot start any token");
    expect_yaml_error("pretrain:\n  lr: 1e-3\n  steps: 5\n bad: 1\n", 4, "malformed YAML", "did not find expected key");
    expect_yaml_error("pretrain:\n  lr: 'unterminated\n", 3, "malformed YAML", "end of stream");
    expect_yaml_error("pretrain: {lr: 1e-3\n", 2, "malformed YAML");
    expect_yaml_error("hello\n", 1, "expected 'key: value' lines");
    expect_yaml_error("pretrain:\n  lr: 1e-3\n---\npretrain:\n  lr: 2e-3\n", 3, "more than one YAML document");
}

Test(config, yaml_unreadable_file)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    char path[128];
    snprintf(path, sizeof path, "%s/missing.yaml", tmpdir());
    char want[160];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    expect_error(rldt_config_load_yaml(&cfg, path), want);
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", tmpdir());
    expect_error(rldt_config_load_yaml(&cfg, tmpdir()), want);
}

Test(config, errors_leave_the_config_unchanged)
{
    rldt_config_t cfg, before;
    rldt_config_defaults(&cfg);
    before = cfg;
    expect_yaml_error("policy:\n  width: 64\n  chunk: 0\n", 3, "policy.chunk");
    cr_assert_eq(rldt_config_load_yaml(&cfg, tmpfiles[n_tmpfiles - 1]), RLDT_ERR_USAGE);
    cr_assert_eq(memcmp(&cfg, &before, sizeof cfg), 0, "a file that fails half way sets nothing");
    char *args[] = {"policy.width=64", "policy.chunk=0"};
    cr_assert_eq(rldt_config_apply_overrides(&cfg, 2, args), RLDT_ERR_USAGE);
    cr_assert_eq(memcmp(&cfg, &before, sizeof cfg), 0, "overrides that fail half way set nothing");
    cr_assert_eq(rldt_config_from_json(&cfg, "{\"policy\": {\"width\": 64, \"chunk\": 0}}", "j"), RLDT_ERR_USAGE);
    cr_assert_eq(memcmp(&cfg, &before, sizeof cfg), 0, "JSON that fails half way sets nothing");
}

Test(config, override_without_equals)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    char *args[] = {"policy.width=64", "policy.width"};
    expect_error(rldt_config_apply_overrides(&cfg, 2, args), "<command line>: expected key=value, got 'policy.width'");
    char *keys_flag[] = {"--keys"};
    expect_error(rldt_config_apply_overrides(&cfg, 1, keys_flag), "expected key=value, got '--keys'");
    char *empty_key[] = {"=5"};
    expect_error(rldt_config_apply_overrides(&cfg, 1, empty_key), "<command line>: unknown key ''");
    char *bad[] = {"--bogus.key=1"};
    expect_error(rldt_config_apply_overrides(&cfg, 1, bad), "<command line>: unknown key 'bogus.key'");
}

// ------------------------------------------------------------------------------------------------------
// JSON

static uint64_t rng_state;
static uint64_t next_random(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Fills every key with a random value of its type and range (strings with characters JSON escapes). */
static void randomize(rldt_config_t *cfg)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "é", "→", "{", "'"};
    size_t n;
    const rldt_config_key_t *keys = rldt_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const rldt_config_key_t *k = &keys[i];
        void *f = field_of(cfg, k);
        uint64_t r = next_random();
        switch (k->type) {
        case RLDT_CFG_INT: *(long *)f = (long)k->min + (long)(r % (uint64_t)(k->max - k->min + 1)); break;
        case RLDT_CFG_FLOAT: {
            double u = (double)(r >> 11) * 0x1p-53, v = k->min + u * (k->max - k->min);
            switch (r & 7) { /* sometimes an edge: a bound, the smallest subnormal, negative zero */
            case 0: v = k->min; break;
            case 1: v = k->max; break;
            case 2: v = k->min == 0 ? 0x1p-1074 : v; break;
            case 3: v = k->min == 0 ? -0.0 : v; break;
            }
            *(double *)f = v;
            break;
        }
        case RLDT_CFG_BOOL: *(bool *)f = r & 1; break;
        case RLDT_CFG_STR: {
            char *s = f;
            size_t len = 0, want = r % RLDT_CFG_STR_MAX;
            s[0] = '\0';
            while (len < want) {
                const char *p = pieces[next_random() % (sizeof pieces / sizeof pieces[0])];
                if (len + strlen(p) >= RLDT_CFG_STR_MAX) break;
                strcpy(s + len, p);
                len += strlen(p);
            }
            break;
        }
        case RLDT_CFG_ENUM: {
            size_t count = 1, pick;
            for (const char *c = k->choices; *c; c++) count += *c == '|';
            pick = r % count;
            const char *c = k->choices;
            while (pick--) c = strchr(c, '|') + 1;
            size_t len = strchr(c, '|') ? (size_t)(strchr(c, '|') - c) : strlen(c);
            memcpy(f, c, len);
            ((char *)f)[len] = '\0';
            break;
        }
        }
    }
}

Test(config, json_round_trip_is_exact)
{
    size_t n;
    const rldt_config_key_t *keys = rldt_config_keys(&n);
    rng_state = 12345;
    for (int iter = 0; iter < 200; iter++) {
        rldt_config_t a, b;
        rldt_config_defaults(&a);
        randomize(&a);
        char *json = rldt_config_to_json(&a);
        rldt_config_defaults(&b);
        cr_assert_eq(rldt_config_from_json(&b, json, "roundtrip.json"), RLDT_OK, "%s\n%s", rldt_error_message(), json);
        for (size_t i = 0; i < n; i++) {
            char ta[RLDT_CFG_STR_MAX], tb[RLDT_CFG_STR_MAX];
            cr_assert_eq(rldt_config_get_text(&a, keys[i].name, ta, sizeof ta), RLDT_OK);
            cr_assert_eq(rldt_config_get_text(&b, keys[i].name, tb, sizeof tb), RLDT_OK);
            cr_assert(same_value(&a, &b, &keys[i]), "%s: %s became %s", keys[i].name, ta, tb);
            cr_assert_str_eq(ta, tb, "%s", keys[i].name);
        }
        free(json);
    }
}

/* A config's bytes depend only on its values: a short string set over a longer one leaves no stale bytes
 * behind its terminator (the fuzzer's JSON round trip compares configs with memcmp). */
Test(config, shorter_string_leaves_no_stale_bytes)
{
    rldt_config_t a, b;
    rldt_config_defaults(&a);
    rldt_config_defaults(&b);
    char *over[] = {"env.name=bandit2d", "env.name=reach"}, *direct[] = {"env.name=reach"};
    cr_assert_eq(rldt_config_apply_overrides(&a, 2, over), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_config_apply_overrides(&b, 1, direct), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
}

Test(config, json_is_nested_and_readable)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.pre_lr = 0.1 + 0.2; /* 0.30000000000000004: cJSON's own printer would write 0.3 */
    char *json = rldt_config_to_json(&cfg);
    cr_assert_not_null(strstr(json, "\"pretrain\""), "%s", json);
    cr_assert_not_null(strstr(json, "\"lr\":\t0.30000000000000004"), "%s", json);
    cr_assert_not_null(strstr(json, "\"ema\":\t0.995"), "shortest exact form: %s", json);
    cr_assert_not_null(strstr(json, "\"seed\":\t0"), "%s", json);
    cr_assert_not_null(strstr(json, "\"layernorm\":\tfalse"), "%s", json);
    cr_assert_not_null(strstr(json, "\"device\":\t\"auto\""), "%s", json);
    cr_assert_null(strstr(json, "pretrain.lr"), "keys are nested, not dotted: %s", json);
    free(json);
}

Test(config, from_json_checks_its_input)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cr_assert_eq(rldt_config_from_json(&cfg, "{\"policy\": {\"width\": 64}}", "ckpt"), RLDT_OK, "%s",
                 rldt_error_message());
    cr_assert_eq(cfg.policy_width, 64, "a partial object sets what it holds");
    expect_error(rldt_config_from_json(&cfg, "{\"pretrain\": {\"bogus\": 1}}", "ckpt"),
                 "ckpt: unknown key 'pretrain.bogus'");
    expect_error(rldt_config_from_json(&cfg, "{\"pretrain\": {\"lrr\": 1}}", "ckpt"), "did you mean 'pretrain.lr'?");
    expect_error(rldt_config_from_json(&cfg, "{\"bogus\": {\"key\": 1}}", "ckpt"), "ckpt: unknown section 'bogus'");
    expect_error(rldt_config_from_json(&cfg, "{\"pretrain.lr\": 0.5, \"x\": 1}", "ckpt"), "unknown key 'x'");
    expect_error(rldt_config_from_json(&cfg, "{\"pretrain\": {\"lr\": \"0.1\"}}", "ckpt"),
                 "pretrain.lr: expected a JSON number");
    expect_error(rldt_config_from_json(&cfg, "{\"policy\": {\"width\": 64.5}}", "ckpt"),
                 "policy.width: value 64.5 is not an integer");
    expect_error(rldt_config_from_json(&cfg, "{\"policy\": {\"width\": 1}}", "ckpt"), "policy.width", "out of range");
    expect_error(rldt_config_from_json(&cfg, "{\"policy\": {\"layernorm\": 1}}", "ckpt"), "expected true or false");
    expect_error(rldt_config_from_json(&cfg, "{\"run\": {\"device\": \"gpu\"}}", "ckpt"), "run.device", "not one of");
    expect_error(rldt_config_from_json(&cfg, "{\"policy\": {\"width\": 64, \"width\": 65}}", "ckpt"),
                 "policy.width: given twice");
    expect_error(rldt_config_from_json(&cfg, "{\"pretrain\": 5}", "ckpt"), "'pretrain' is a section");
    expect_error(rldt_config_from_json(&cfg, "[1, 2]", "ckpt"), "ckpt: expected a JSON object");
    expect_error(rldt_config_from_json(&cfg, "{\"policy\":\n {\"width\": }", "ckpt"), "ckpt:2: malformed JSON");
    cr_assert_eq(cfg.policy_width, 64);
}

// ------------------------------------------------------------------------------------------------------
// the CLI (`rldt config`), when make test names the binary

Test(config, cli_rejects_an_unknown_key)
{
    int status = test_run("'%s' config ../configs/pendulum.yaml bogus.key=1", test_bin());
    cr_assert_eq(status, 2, "exit status %d, output: %s", status, test_err);
    cr_assert_not_null(strstr(test_err, "bogus.key"), "%s", test_err);
}

Test(config, cli_prints_the_resolved_config)
{
    int status = test_run("'%s' config ../configs/bandit2d.yaml policy.width=128 --pretrain.lr=2e-4", test_bin());
    cr_assert_eq(status, 0, "exit status %d, output: %s", status, test_err);
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cr_assert_eq(rldt_config_from_json(&cfg, test_out, "rldt config"), RLDT_OK, "%s\n%s", rldt_error_message(), test_out);
    cr_assert_str_eq(cfg.env_name, "bandit2d");
    cr_assert_eq(cfg.policy_chunk, 1);
    cr_assert_eq(cfg.policy_width, 128);
    cr_assert_eq(cfg.pre_lr, 2e-4);
}
