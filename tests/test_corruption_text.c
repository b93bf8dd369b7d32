/* test_corruption_text.c — the text files rldt reads, damaged in a fixed set of ways, given to every command
 * that reads them (issue 10, "Hardening"; the harness, and what REFUSED and SAME assert: corruption.h): the
 * YAML config (every command with a config; `rldt config` and `pretrain` here), a run's metrics.csv (`plot`)
 * and its metrics files when a fine-tune resumes in that run directory. The HDF5 files are damaged in
 * test_corruption.c. The classes:
 *   truncations  inside a key, a value or a row: REFUSED (a YAML config without its last line end: SAME).
 *                Text files cut at a line end are shorter valid files (a YAML config with fewer keys, a
 *                metrics file of fewer iterations: what it looks like while a run writes it); those cuts
 *                are not tested.
 *   bit flips    Text files have no checksum: a flip that turns a digit into another digit is a different
 *                valid file (not tested); flips of bits 4, 6 and 7 (which turn every character these files
 *                use into one they cannot hold), and flips inside names and separators are REFUSED;
 *                flips inside YAML comments are SAME.
 *   edits        fields of metrics.csv replaced, removed or out of range, rows deleted, bytes inserted:
 *                REFUSED.
 * A resume refuses metrics files it cannot keep whole (a damaged row of an iteration before the checkpoint's). */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "corruption.h"

static void setup(void) { corruption_setup(); }
static void teardown(void) { corruption_teardown(); }

// ---------------------------------------------------------------------------------------------------
// text files

/* Copies of `b` with one change, written to `file`. */
static void cut_to(const bytes_t *b, size_t n, const char *file) { spill(file, b->p, n < b->n ? n : b->n); }

/* The offset of the first `needle` in b at or after `from` (asserted to exist). */
static size_t find(const bytes_t *b, const char *needle, size_t from)
{
    size_t n = strlen(needle);
    for (size_t i = from; i + n <= b->n; i++)
        if (!memcmp(b->p + i, needle, n)) return i;
    cr_assert_fail("'%s' not found", needle);
    return 0;
}

/* The YAML fixture: a tiny bandit2d pretraining. */
static const char yaml_text[] = "# corruption fixture: a tiny bandit2d run; comments do not matter\n"
                                "env:\n"
                                "  name: bandit2d\n"
                                "  n_envs: 1\n"
                                "pretrain:\n"
                                "  steps: 2\n"
                                "  batch: 4\n"
                                "  lr: 0.001\n"
                                "policy:\n"
                                "  width: 8\n"
                                "  time_dim: 2\n"
                                "  chunk: 1\n"
                                "  denoise_steps: 2\n"
                                "eval:\n"
                                "  episodes: 1\n"
                                "  deterministic: false   # sampled\n";

Test(corruption, yaml_config, .init = setup, .fini = teardown, .timeout = 600)
{
    make_dataset();
    reader_t readers[] = {
        {"config", "{bin} config {file}", OUT_STDOUT, NULL, 0, 0, 0},
        {"pretrain", "{bin} pretrain {file} data.path={dir}/d.h5 run.out_dir={dir}/out run.name=p " QUIET, OUT_H5,
         "p/pretrain.ckpt", 0, 0, 0},
    };
    PATH(file, "case.yaml");
    bytes_t b = {(uint8_t *)strdup(yaml_text), strlen(yaml_text)};
    spill(file, b.p, b.n);
    reference(readers, 2, file);
    char how[200];

    /* cut inside a key, inside a boolean, after a key's colon: REFUSED. Without its last line end: SAME. */
    struct {
        const char *at;
        size_t plus;
    } cuts[] = {{"pretrain:", 4}, {"n_envs", 3}, {"denoise_steps", 7}, {"deterministic", 5}, {"false", 2}, {"episodes:", 10}};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t n = find(&b, cuts[i].at, 0) + cuts[i].plus;
        cut_to(&b, n, file);
        snprintf(how, sizeof how, "cut to %zu bytes ('%.*s')", n, (int)cuts[i].plus, cuts[i].at);
        expect_all(readers, 2, file, REFUSED, how);
    }
    cut_to(&b, b.n - 1, file);
    expect_all(readers, 2, file, SAME, "last line end cut");

    /* bit 7 anywhere: not UTF-8 (libyaml refuses it, comments included): REFUSED */
    for (size_t at = 3; at < b.n; at += 9) {
        flip_to(&b, at, 7, file);
        snprintf(how, sizeof how, "bit 7 of byte %zu flipped", at);
        expect_all(readers, 2, file, REFUSED, how);
    }
    /* a name of a section or key, a colon, an indentation, a line end: REFUSED */
    static const char *const names[] = {"env:", "name:", "n_envs", "pretrain", "steps", "batch", "lr:", "policy",
                                        "width", "time_dim", "chunk", "denoise_steps", "eval:", "episodes", "deterministic"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t at = find(&b, names[i], 0);
        for (int k = 0; k < 2; k++) {
            flip_to(&b, at + (size_t)k, k ? 0 : 1, file);
            snprintf(how, sizeof how, "bit %d of byte %zu (in '%s') flipped", k ? 0 : 1, at + (size_t)k, names[i]);
            expect_all(readers, 2, file, REFUSED, how);
        }
    }
    size_t colon = find(&b, "steps:", 0) + 5, indent = find(&b, "  batch", 0), eol = find(&b, "\n", find(&b, "lr:", 0));
    size_t seps[] = {colon, indent, eol};
    for (size_t i = 0; i < 3; i++) {
        flip_to(&b, seps[i], 0, file);
        snprintf(how, sizeof how, "bit 0 of byte %zu (a %s) flipped", seps[i], (const char *[]){"colon", "space", "line end"}[i]);
        expect_all(readers, 2, file, REFUSED, how);
    }
    /* inside the comments: SAME (and asserted to be accepted: comments are ignored) */
    for (size_t at = 2; at < 60; at += 7) {
        for (int bit = 0; bit < 3; bit++) {
            flip_to(&b, at, bit, file);
            snprintf(how, sizeof how, "bit %d of byte %zu (a comment) flipped", bit, at);
            expect_all(readers, 2, file, SAME, how);
        }
    }
    size_t comment = find(&b, "# sampled", 0) + 3;
    flip_to(&b, comment, 2, file);
    expect_all(readers, 2, file, SAME, "bit 2 of the trailing comment flipped");
    for (int i = 0; i < 2; i++) cr_assert_gt(readers[i].same, 0, "no comment flip was accepted");
    summary("YAML config", readers, 2);
    free(b.p);
}

/* `b` with field `col` (0-based) of line `line` (0 = the header) replaced by `value` (NULL: removed with its
 * comma), written to `file`. */
static void csv_set(const bytes_t *b, int line, int col, const char *value, const char *file)
{
    size_t start = 0;
    for (int l = 0; l < line; l++) start = find(b, "\n", start) + 1;
    size_t end = find(b, "\n", start), from = start;
    for (int c = 0; c < col; c++) from = find(b, ",", from) + 1;
    cr_assert_lt(from, end, "line %d has no column %d", line, col);
    size_t to = from;
    while (to < end && b->p[to] != ',') to++;
    if (!value) { /* the field and one comma */
        if (to < end) to++;
        else if (from > start) from--;
    }
    size_t vn = value ? strlen(value) : 0, n = b->n - (to - from) + vn;
    uint8_t *p = malloc(n);
    memcpy(p, b->p, from);
    memcpy(p + from, value ? value : "", vn);
    memcpy(p + from + vn, b->p + to, b->n - to);
    spill(file, p, n);
    free(p);
}

/* `b` with `text` inserted at `at`, written to `file`. */
static void insert_at(const bytes_t *b, size_t at, const char *text, size_t tn, const char *file)
{
    uint8_t *p = malloc(b->n + tn);
    memcpy(p, b->p, at);
    memcpy(p + at, text, tn);
    memcpy(p + at + tn, b->p + at, b->n - at);
    spill(file, p, b->n + tn);
    free(p);
}

Test(corruption, metrics_csv, .init = setup, .fini = teardown, .timeout = 600)
{
    make_finetuned();
    reader_t plot = {"plot", "{bin} plot {dir}/run out={dir}/out/c.png", OUT_FILE, "c.png", 0, 0, 0};
    cr_assert_eq(mkdir(in_dir("run"), 0700), 0);
    PATH(file, "run/metrics.csv");
    copy_file(in_dir("runs/f/metrics.csv"), file);
    reference(&plot, 1, file);
    bytes_t b = slurp(file);
    size_t header = find(&b, "\n", 0) + 1, row1 = find(&b, "\n", header) + 1, row2 = find(&b, "\n", row1) + 1;
    char how[200];

    /* cuts: an empty file, inside the header, a header without its line end, a header alone (no iteration),
     * inside a row, a last row without its line end: REFUSED */
    size_t cuts[] = {0, 10, header - 1, header, header + 5, row1 + 17, b.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        cut_to(&b, cuts[i], file);
        snprintf(how, sizeof how, "cut to %zu of %zu bytes", cuts[i], b.n);
        expect(&plot, file, REFUSED, how);
    }
    /* bits 4, 6 and 7 turn each character of this file (digits, letters, '.', ',', '-', '_', line ends) into
     * one it cannot hold there: REFUSED */
    for (int i = 0; i < 3 * FLIPS; i++) {
        size_t at = (size_t)i * b.n / (3 * FLIPS) + 5;
        int bit = (int[]){4, 6, 7}[i % 3];
        flip_to(&b, at, bit, file);
        snprintf(how, sizeof how, "bit %d of byte %zu flipped", bit, at);
        expect(&plot, file, REFUSED, how);
    }
    /* bit 0 of a column name, a comma, a line end, an iteration number: REFUSED */
    size_t at0[] = {find(&b, "critic_loss", 0) + 2, find(&b, "eval_return", 0), find(&b, ",", header),
                    row1 - 1, row1, row2};
    for (size_t i = 0; i < sizeof at0 / sizeof at0[0]; i++) {
        flip_to(&b, at0[i], 0, file);
        snprintf(how, sizeof how, "bit 0 of byte %zu flipped", at0[i]);
        expect(&plot, file, REFUSED, how);
    }
    /* nan spelt Nan: the same number, SAME */
    flip_to(&b, find(&b, "nan", header), 5, file);
    expect(&plot, file, SAME, "bit 5 of an 'n' of 'nan' flipped");
    cr_assert_eq(plot.same, 1, "'Nan' was refused");

    /* edits: a text where a number goes, a field too many or too few, a header short of a column, a
     * misspelt or repeated column, a missing iteration, values out of range: REFUSED */
    struct {
        int line, col;
        const char *value;
    } edits[] = {
        {2, 1, "abc"},  {2, 14, "0,0"}, {2, 14, NULL}, {0, 3, NULL},   {0, 7, "critic_los5"}, {0, 8, "critic_loss"},
        {1, 5, "1.5"},  {1, 1, "-4"},   {3, 1, "3"},   {2, 0, "1.5"},  {1, 0, "-1"},          {3, 0, "7"},
        {1, 14, "-1"},  {1, 4, "2.5"},  {2, 1, "inf"}, {1, 1, " 2"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        csv_set(&b, edits[i].line, edits[i].col, edits[i].value, file);
        snprintf(how, sizeof how, "line %d, column %d %s%s", edits[i].line + 1, edits[i].col + 1,
                 edits[i].value ? "set to " : "removed", edits[i].value ? edits[i].value : "");
        expect(&plot, file, REFUSED, how);
    }
    /* a row deleted from the middle (a file that starts at iteration 1 is what a resume into a fresh run
     * directory writes, and one that ends early is one being written: not damage that shows) */
    uint8_t *gap = malloc(b.n);
    memcpy(gap, b.p, row1), memcpy(gap + row1, b.p + row2, b.n - row2);
    spill(file, gap, row1 + b.n - row2);
    free(gap);
    expect(&plot, file, REFUSED, "the row of iteration 1 deleted");
    insert_at(&b, header + 2, "\0", 1, file);
    expect(&plot, file, REFUSED, "a NUL byte inserted");
    char *wide = malloc(5001);
    memset(wide, '1', 5000), wide[5000] = '\0';
    insert_at(&b, header + 1, wide, 5000, file);
    free(wide);
    expect(&plot, file, REFUSED, "a line of 5000 bytes");
    free(b.p);
    summary("metrics.csv", &plot, 1);
}

/* A fine-tune that resumes in a run directory reads its metrics files to cut them back to the checkpoint's
 * iteration. Damage there must be refused, or leave the rows before that iteration as they were. */
Test(corruption, metrics_on_resume, .init = setup, .fini = teardown, .timeout = 600)
{
    make_finetuned();
    reader_t resume = {"finetune resume=",
                       "{bin} finetune resume={dir}/runs/f/finetune_2.ckpt run.out_dir={dir} run.name=run finetune.iterations=3 " TINY_FT,
                       OUT_METRICS, "2", 0, 0, 0};
    PATH(csv, "run/metrics.csv");
    PATH(jsonl, "run/metrics.jsonl");
    cr_assert_eq(mkdir(in_dir("run"), 0700), 0);
    bytes_t c = slurp(in_dir("runs/f/metrics.csv")), j = slurp(in_dir("runs/f/metrics.jsonl"));
    spill(csv, c.p, c.n), spill(jsonl, j.p, j.n);
    reference(&resume, 1, csv);
    size_t row1 = find(&c, "\n", find(&c, "\n", 0) + 1) + 1, jrow1 = find(&j, "\n", 0) + 1;
    struct {
        const char *how;
        bool csv; /* else jsonl */
        int kind; /* 0: cut at `at`, 1: flip bit 7 at `at`, 2: flip bit 0 at `at` */
        size_t at;
        expect_t e;
    } cases[] = {
        {"metrics.csv: bit 7 of the header flipped", true, 1, 4, REFUSED},
        {"metrics.csv: bit 0 of the header flipped", true, 2, 4, REFUSED},
        {"metrics.csv: bit 7 of iteration 0's number flipped", true, 1, find(&c, "\n", 0) + 1, SAME},
        {"metrics.csv: bit 7 of iteration 1's number flipped", true, 1, row1, SAME},
        {"metrics.csv: cut inside iteration 1's row", true, 0, row1 + 9, SAME},
        {"metrics.jsonl: bit 7 of iteration 0's row flipped", false, 1, 3, SAME},
        {"metrics.jsonl: cut inside iteration 1's row", false, 0, jrow1 + 9, SAME},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes_t *b = cases[i].csv ? &c : &j;
        const char *path = cases[i].csv ? csv : jsonl;
        spill(csv, c.p, c.n), spill(jsonl, j.p, j.n);
        if (cases[i].kind == 0) cut_to(b, cases[i].at, path);
        else flip_to(b, cases[i].at, cases[i].kind == 1 ? 7 : 0, path);
        expect(&resume, csv, cases[i].e, cases[i].how);
    }
    free(c.p), free(j.p);
}
