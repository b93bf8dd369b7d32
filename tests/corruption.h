/* corruption.h — the harness of the corruption tests (issue 10, "Hardening"): every kind of file rldt reads,
 * damaged in a fixed set of ways, given to every command that reads it. test_corruption.c damages the HDF5
 * files (datasets, pretraining and fine-tuning checkpoints), test_corruption_text.c the text files (the YAML
 * config, a run's metrics files).
 *
 * Each damaged file is run through each reader, as a user runs it (the CLI from $RLDT_BIN, under a timeout)
 * and one of two things is asserted of every run:
 *   REFUSED   exit 1 or 2 with "rldt: error: ..." on stderr. Never a signal, a sanitizer report, a hang
 *             (killed after TIMEOUT_S, corruption.c) or exit 0.
 *   SAME      for damage to bytes that provably do not matter, the refusal above or exit 0 with an
 *             output identical to the undamaged file's: stdout (timings cut), the bytes of an output
 *             file, or every dataset and attribute of an output HDF5 file (a digest of its contents).
 * Which one each case asserts is written next to it.
 *
 * Every test runs in its own directory (corruption_setup), where the fixtures and the damaged files are
 * written and the readers write their outputs (<dir>/out). */
#ifndef RLDT_TEST_CORRUPTION_H
#define RLDT_TEST_CORRUPTION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FLIPS 24 /* evenly spread bit flips per HDF5 file */

/* A fresh directory for the test, and in it the LeakSanitizer suppressions the readers run with under `make
 * test SANITIZE=1`: libhdf5 1.10 loses memory of its own on the error paths of damaged files (rldt's own
 * leaks are still reported). */
void corruption_setup(void);
/* Removes the test's directory. */
void corruption_teardown(void);

/* <dir>/<name> (a small ring of static buffers: for a path used at once) */
const char *in_dir(const char *name);

/* char var[512] = <dir>/<name> (for a path used for longer) */
#define PATH(var, name)                                                                                                \
    char var[512];                                                                                                     \
    snprintf(var, sizeof var, "%s", in_dir(name))

// ---------------------------------------------------------------------------------------------------
// files as bytes

typedef struct {
    uint8_t *p;
    size_t n;
} bytes_t;

/* The whole file at `path` (malloc'ed; fails the test when it cannot be read). */
bytes_t slurp(const char *path);
/* Writes n bytes from p to `path`. */
void spill(const char *path, const void *p, size_t n);
/* Copies the file `from` to `to`. */
void copy_file(const char *from, const char *to);
/* `to` = `from` with bit `bit` of byte `at` flipped. */
void flip_to(const bytes_t *from, size_t at, int bit, const char *to);

// ---------------------------------------------------------------------------------------------------
// readers: a command that reads the damaged file, and what "the same output" compares

typedef enum {
    OUT_STDOUT, /* stdout, with " in 0.0s"-style timings cut from the end of its lines */
    OUT_FILE,   /* the bytes of <dir>/out/<out> */
    OUT_H5,     /* the contents of the HDF5 file <dir>/out/<out> (h5_digest) */
    OUT_METRICS /* the first <out> rows of <dir>/run/metrics.csv and .jsonl (the rows a resume keeps) */
} out_kind_t;

typedef struct {
    const char *name; /* in messages */
    const char *cmd;  /* {bin}: the CLI, {file}: the damaged file, {dir}: the test's directory */
    out_kind_t kind;
    const char *out;
    uint64_t ref;          /* the digest of the undamaged file's output */
    int refused, same;     /* outcomes so far */
} reader_t;

/* The undamaged file: every reader accepts it; its outputs are the references. */
void reference(reader_t *readers, int n, const char *file);

typedef enum { REFUSED, SAME } expect_t;

/* Runs reader r on the damaged `file` (made by `how`) and asserts `e` (see the top of this file). */
void expect(reader_t *r, const char *file, expect_t e, const char *how);
/* expect() for each of the n readers. */
void expect_all(reader_t *readers, int n, const char *file, expect_t e, const char *how);
/* Logs how many damaged files each reader refused and accepted. */
void summary(const char *what, const reader_t *readers, int n);

// ---------------------------------------------------------------------------------------------------
// HDF5 files: truncations, bit flips, edits

/* An object of an HDF5 file, and the readers that read it (bit i: reader i). */
typedef struct {
    const char *path;
    unsigned readers;
} h5_target_t;

#define ALL 0xffu

/* Truncations and bit flips of the HDF5 file `clean` (written by rldt), given to every reader at `file`.
 * `targets`: objects whose object headers and (for datasets) first chunks are flipped too, which the
 * readers that read them must refuse. */
void h5_damage(const char *clean, const char *file, reader_t *readers, int nr, const h5_target_t *targets, int nt);

/* An edit of an HDF5 file made by corrupt_h5.py, and what each reader must do with it. */
typedef struct {
    const char *edit;    /* OP:ARGS (see corrupt_h5.py) */
    unsigned refused;    /* bit i: reader i must refuse it; the others: SAME */
    unsigned skip;       /* bit i: reader i does not run it (a legitimate file for that reader) */
} h5_edit_t;

/* Makes every edit of `clean` in one call of corrupt_h5.py, then runs each reader on each result at `file`
 * (the readers' references must be set). */
void h5_edits(const char *clean, const char *file, reader_t *readers, int nr, const h5_edit_t *edits, int ne);

// ---------------------------------------------------------------------------------------------------
// fixtures: a tiny bandit2d run, made with the CLI

#define QUIET "run.threads=1 run.blas_threads=1 log.level=error"
#define TINY_POLICY "policy.width=8 policy.time_dim=2 policy.chunk=1 policy.denoise_steps=2"
#define TINY_FT                                                                                                        \
    "env.name=bandit2d env.n_envs=2 finetune.n_steps=1 finetune.q_repeat=1 finetune.critic_steps=1 "                  \
    "finetune.actor_steps=1 finetune.val_freq=0 actor.states=1 critic.width=4 critic.depth=1 critic.batch=2 "         \
    "eval.episodes=1 " QUIET

/* <dir>/d.h5: 12 demos (so that /mask/valid names one). */
void make_dataset(void);
/* <dir>/runs/p/pretrain{_2,}.ckpt: 4 pretraining steps, a checkpoint after 2. */
void make_pretrained(void);
/* <dir>/runs/f/finetune{_1,_2,}.ckpt and metrics: 3 fine-tuning iterations, a checkpoint after each. */
void make_finetuned(void);

#endif
