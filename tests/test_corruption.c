/* test_corruption.c — every kind of file rldt reads, damaged in a fixed set of ways, given to every command
 * that reads it (issue 10, "Hardening"). The files: the YAML config (every command with a config; `rldt
 * config` here), datasets written by `rldt collect` (`dataset info`, `pretrain data.path=`), pretraining
 * checkpoints (`eval`, `export`, `finetune init=`, `pretrain pretrain.resume=`), fine-tuning checkpoints
 * (`eval`, `export`, `finetune resume=`), a run's metrics.csv (`plot`) and its metrics files when a
 * fine-tune resumes in that run directory.
 *
 * Each damaged file is run through each reader, as a user runs it (the CLI from $RLDT_BIN, under a timeout)
 * and one of two things is asserted of every run:
 *   REFUSED   exit 1 or 2 with "rldt: error: ..." on stderr. Never a signal, a sanitizer report, a hang
 *             (killed after TIMEOUT_S) or exit 0.
 *   SAME      for damage to bytes that provably do not matter, the refusal above or exit 0 with an
 *             output identical to the undamaged file's: stdout (timings cut), the bytes of an output
 *             file, or every dataset and attribute of an output HDF5 file (a digest of its contents).
 * Which one each case asserts is written next to it. The classes:
 *   truncations  at fixed offsets (fractions of the size, inside the first structures, one byte short):
 *                REFUSED by every reader. HDF5 records the end of the file in the superblock.
 *   bit flips    HDF5 files rldt writes use the 1.10 format, where every piece of metadata carries a
 *                checksum libhdf5 verifies before parsing, and every dataset carries Fletcher-32: a flip
 *                in a structure a reader reads is REFUSED (asserted for the superblock and the object
 *                headers and chunks of objects every reader reads, located with h5py). A flip at each
 *                of FLIPS evenly spread offsets is SAME: it lands either in a checksummed structure
 *                (refused) or in bytes nothing refers to (free space, the tail of a metadata block; the
 *                output is then identical), or in a structure that reader does not read (identical).
 *                Text files have no checksum: a flip that turns a digit into another digit is a different
 *                valid file (not tested); flips of bits 4, 6 and 7 (which turn every character these files
 *                use into one they cannot hold), and flips inside names and separators are REFUSED;
 *                flips inside YAML comments are SAME.
 *   edits        deleted, renamed, retyped and reshaped HDF5 objects, attributes and JSON fields out of
 *                range, values out of range, made with h5py (tests/corrupt_h5.py): REFUSED by the readers
 *                that read the object, SAME for the others (e.g. `eval` does not read optimiser moments).
 * Text files cut at a line end are shorter valid files (a YAML config with fewer keys, a metrics file of
 * fewer iterations: what it looks like while a run writes it); those cuts are not tested.
 * A resume refuses metrics files it cannot keep whole (a damaged row of an iteration before the checkpoint's). */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hardening.h"
#include "helpers.h"

#define TIMEOUT_S 60 /* a reader still running after this long hangs */
#define FLIPS 24     /* evenly spread bit flips per HDF5 file */

static char dir[256];
static void teardown(void) { test_rmtree(dir); }

/* The test's directory, and in it the LeakSanitizer suppressions the readers run with under `make test
 * SANITIZE=1`: libhdf5 1.10 loses memory of its own on the error paths of damaged files (rldt's own
 * leaks are still reported). */
static void setup(void)
{
    test_tmpdir(dir, sizeof dir);
    char path[300];
    snprintf(path, sizeof path, "%s/lsan.supp", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("leak:libhdf5\n", f);
    cr_assert_eq(fclose(f), 0);
}

/* <dir>/<name> (a small ring of static buffers: for a path used at once) */
static const char *in_dir(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* char var[512] = <dir>/<name> (for a path used for longer) */
#define PATH(var, name)                                                                                                \
    char var[512];                                                                                                     \
    snprintf(var, sizeof var, "%s/%s", dir, name)

// ---------------------------------------------------------------------------------------------------
// files as bytes

typedef struct {
    uint8_t *p;
    size_t n;
} bytes_t;

static bytes_t slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    bytes_t b = {NULL, 0};
    fseek(f, 0, SEEK_END);
    b.n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(b.n ? b.n : 1);
    cr_assert_eq(fread(b.p, 1, b.n, f), b.n);
    fclose(f);
    return b;
}

static void spill(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    bytes_t b = slurp(from);
    spill(to, b.p, b.n);
    free(b.p);
}

/* `to` = `from` with bit `bit` of byte `at` flipped. */
static void flip_to(const bytes_t *from, size_t at, int bit, const char *to)
{
    cr_assert_lt(at, from->n, "flip at %zu of a %zu-byte file", at, from->n);
    from->p[at] ^= (uint8_t)(1u << bit);
    spill(to, from->p, from->n);
    from->p[at] ^= (uint8_t)(1u << bit);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
#define FNV0 1469598103934665603ull

// ---------------------------------------------------------------------------------------------------
// the contents of an HDF5 file, as a digest: every object's name, and every dataset's and attribute's
// type class, shape and values, in name order (what a checkpoint holds, without HDF5's timestamps)

static uint64_t digest_values(uint64_t h, hid_t type, hid_t space, bool attr, hid_t id)
{
    hssize_t n = H5Sget_simple_extent_npoints(space);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[8] = {0};
    if (rank > 0 && rank <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
    H5T_class_t cls = H5Tget_class(type);
    h = fnv(h, &cls, sizeof cls);
    h = fnv(h, dims, sizeof dims);
    if (n <= 0) return h;
    if (cls == H5T_STRING && H5Tis_variable_str(type) > 0) { /* what h5py writes for a str */
        char **v = calloc((size_t)n, sizeof *v);
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        herr_t rc = attr ? H5Aread(id, mem, v) : H5Dread(id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        cr_assert_geq(rc, 0, "cannot read a string");
        for (hssize_t i = 0; i < n; i++) h = fnv(h, v[i], strlen(v[i]) + 1), H5free_memory(v[i]);
        H5Tclose(mem);
        free(v);
        return h;
    }
    hid_t mem = cls == H5T_STRING ? H5Tcopy(type) : H5Tget_native_type(type, H5T_DIR_ASCEND);
    size_t bytes = (size_t)n * H5Tget_size(mem);
    void *buf = calloc(1, bytes);
    herr_t rc = attr ? H5Aread(id, mem, buf) : H5Dread(id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    cr_assert_geq(rc, 0, "cannot read values");
    h = fnv(h, buf, bytes);
    free(buf);
    H5Tclose(mem);
    return h;
}

static herr_t digest_attr(hid_t obj, const char *name, const H5A_info_t *info, void *op)
{
    uint64_t *h = op;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), type = H5Aget_type(a), space = H5Aget_space(a);
    *h = digest_values(fnv(*h, name, strlen(name) + 1), type, space, true, a);
    H5Sclose(space), H5Tclose(type), H5Aclose(a);
    return 0;
}

static herr_t digest_link(hid_t root, const char *name, const H5L_info_t *info, void *op)
{
    uint64_t *h = op;
    *h = fnv(*h, name, strlen(name) + 1);
    hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
    cr_assert_geq(obj, 0, "cannot open %s", name);
    hsize_t at = 0;
    H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &at, digest_attr, h);
    if (H5Iget_type(obj) == H5I_DATASET) {
        hid_t type = H5Dget_type(obj), space = H5Dget_space(obj);
        *h = digest_values(*h, type, space, false, obj);
        H5Sclose(space), H5Tclose(type);
    }
    H5Oclose(obj);
    return 0;
}

/* 0 when the file is missing. */
static uint64_t h5_digest(const char *path)
{
    if (access(path, F_OK) != 0) return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "cannot open %s", path);
    uint64_t h = FNV0;
    hsize_t at = 0;
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &at, digest_attr, &h);
    H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, digest_link, &h);
    H5Fclose(f);
    return h;
}

// ---------------------------------------------------------------------------------------------------
// readers: a command that reads the damaged file, and what "the same output" compares

typedef enum {
    OUT_STDOUT, /* stdout, with " in 0.0s"-style timings cut from the end of its lines */
    OUT_FILE,   /* the bytes of <dir>/out/<out> */
    OUT_H5,     /* the contents of the HDF5 file <dir>/out/<out> (h5_digest) */
    OUT_METRICS /* the first <out> lines of <dir>/<metrics>.csv and .jsonl (the rows a resume keeps) */
} out_kind_t;

typedef struct {
    const char *name; /* in messages */
    const char *cmd;  /* {bin}: the CLI, {file}: the damaged file, {dir}: the test's directory */
    out_kind_t kind;
    const char *out;
    uint64_t ref;          /* the digest of the undamaged file's output */
    int refused, same;     /* outcomes so far */
} reader_t;

/* cmd with {bin}, {file} and {dir} replaced, into buf. */
static void expand(char *buf, size_t len, const char *cmd, const char *file)
{
    size_t n = 0;
    for (const char *p = cmd; *p;) {
        const char *with = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{bin}", 5)) with = test_bin(), skip = 5;
        else if (!strncmp(p, "{file}", 6)) with = file, skip = 6;
        else if (!strncmp(p, "{dir}", 5)) with = dir, skip = 5;
        if (with) {
            n += (size_t)snprintf(buf + n, len - n, "%s", with);
            p += skip;
        } else {
            if (n + 1 < len) buf[n++] = *p;
            p++;
        }
        cr_assert_lt(n, len - 1, "command too long");
        buf[n] = '\0';
    }
}

static uint64_t stdout_digest(void)
{
    uint64_t h = FNV0;
    for (const char *line = test_out; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        /* cut a trailing " in <number>s" (how long the command took) */
        for (size_t i = n; i-- > 0;)
            if (!strncmp(line + i, " in ", 4) && line[n - 1] == 's') {
                n = i;
                break;
            }
        h = fnv(fnv(h, line, n), "\n", 1);
        line += end ? (size_t)(end - line) + 1 : strlen(line);
    }
    return h;
}

/* The first `lines` lines of a text file. */
static uint64_t head_digest(const char *path, int lines)
{
    if (access(path, F_OK) != 0) return 0;
    bytes_t b = slurp(path);
    size_t n = 0;
    for (int k = 0; k < lines && n < b.n; n++)
        if (b.p[n] == '\n') k++;
    uint64_t h = fnv(FNV0, b.p, n);
    free(b.p);
    return h;
}

static uint64_t output_digest(const reader_t *r)
{
    char path[600];
    switch (r->kind) {
    case OUT_STDOUT: return stdout_digest();
    case OUT_FILE: {
        snprintf(path, sizeof path, "%s/out/%s", dir, r->out);
        if (access(path, F_OK) != 0) return 0;
        bytes_t b = slurp(path);
        uint64_t h = fnv(FNV0, b.p, b.n);
        free(b.p);
        return h;
    }
    case OUT_H5: snprintf(path, sizeof path, "%s/out/%s", dir, r->out); return h5_digest(path);
    case OUT_METRICS: {
        int rows = atoi(r->out);
        snprintf(path, sizeof path, "%s/run/metrics.csv", dir);
        uint64_t h = head_digest(path, rows + 1);
        snprintf(path, sizeof path, "%s/run/metrics.jsonl", dir);
        return fnv(h, (uint64_t[]){head_digest(path, rows)}, 8);
    }
    }
    return 0;
}

/* Runs reader r on `file`, in a fresh <dir>/out; returns its exit status (124: timed out, > 128: signal). */
static int run_reader(const reader_t *r, const char *file)
{
    char cmd[3000];
    expand(cmd, sizeof cmd, r->cmd, file);
    PATH(out, "out");
    test_rmtree(out);
    cr_assert_eq(mkdir(out, 0700), 0);
    return test_run("LSAN_OPTIONS=suppressions=%s/lsan.supp timeout -k 5 %d %s", dir, TIMEOUT_S, cmd);
}

/* The undamaged file: every reader accepts it; its outputs are the references. */
static void reference(reader_t *readers, int n, const char *file)
{
    for (int i = 0; i < n; i++) {
        int rc = run_reader(&readers[i], file);
        cr_assert_eq(rc, 0, "%s refuses the undamaged file (exit %d): %s", readers[i].name, rc, test_err);
        readers[i].ref = output_digest(&readers[i]);
        cr_assert_neq(readers[i].ref, 0, "%s wrote no output", readers[i].name);
        /* and again: an output that differs from run to run could not tell a damaged file from a good one */
        cr_assert_eq(run_reader(&readers[i], file), 0);
        cr_assert_eq(output_digest(&readers[i]), readers[i].ref, "%s: two runs on the same file differ", readers[i].name);
    }
}

typedef enum { REFUSED, SAME } expect_t;

/* Runs reader r on the damaged `file` (made by `how`) and asserts `e` (see the top of this file). */
static void expect(reader_t *r, const char *file, expect_t e, const char *how)
{
    int rc = run_reader(r, file);
    cr_assert(rc != 124 && rc != 137, "%s: %s hung (killed after %d s)", how, r->name, TIMEOUT_S);
    cr_assert(rc >= 0 && rc < 124, "%s: %s crashed (exit %d): %s", how, r->name, rc, test_err);
    cr_assert(!strstr(test_err, "Sanitizer") && !strstr(test_err, "runtime error:"), "%s: %s: %s", how, r->name, test_err);
    if (rc == 0) {
        cr_assert(e == SAME, "%s: %s accepted it: %s%s", how, r->name, test_out, test_err);
        cr_assert_eq(output_digest(r), r->ref, "%s: %s accepted it with a different output: %s", how, r->name, test_out);
        r->same++;
        return;
    }
    cr_assert(rc == 1 || rc == 2, "%s: %s exit %d: %s", how, r->name, rc, test_err);
    cr_assert(strstr(test_err, "rldt: error: "), "%s: %s exit %d without an error message: '%s'", how, r->name, rc, test_err);
    r->refused++;
}

static void expect_all(reader_t *readers, int n, const char *file, expect_t e, const char *how)
{
    for (int i = 0; i < n; i++) expect(&readers[i], file, e, how);
}

static void summary(const char *what, const reader_t *readers, int n)
{
    for (int i = 0; i < n; i++)
        cr_log_info("%s, %s: %d refused, %d accepted with the same output", what, readers[i].name, readers[i].refused,
                    readers[i].same);
}

// ---------------------------------------------------------------------------------------------------
// HDF5 files: truncations, bit flips, edits

/* Whether the listing of `corrupt_h5.py SRC offsets` (see there) has a structure `kind` ("ohdr" or
 * "chunk") of `path`; its first one's byte offset into *at and (chunks) size into *size. */
static bool structure_at(const char *listing, const char *kind, const char *path, size_t *at, size_t *size)
{
    char key[300];
    snprintf(key, sizeof key, "%s %s ", kind, path);
    for (const char *p = listing; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, key, strlen(key))) {
            unsigned long long a = 0, n = 0;
            cr_assert_geq(sscanf(p + strlen(key), "%llu %llu", &a, &n), 1, "%s", p);
            *at = (size_t)a, *size = (size_t)n;
            return true;
        }
    return false;
}

/* An object of an HDF5 file, and the readers that read it (bit i: reader i). */
typedef struct {
    const char *path;
    unsigned readers;
} h5_target_t;

#define ALL 0xffu

/* Runs every reader on `file`: those in mask `refused` must refuse it, the others SAME. */
static void expect_some(reader_t *readers, int n, const char *file, unsigned refused, const char *how)
{
    for (int i = 0; i < n; i++) expect(&readers[i], file, refused >> i & 1 ? REFUSED : SAME, how);
}

/* Truncations and bit flips of the HDF5 file `clean` (written by rldt), given to every reader at `file`.
 * `targets`: objects whose object headers and (for datasets) first chunks are flipped too, which the
 * readers that read them must refuse. */
static void h5_damage(const char *clean, const char *file, reader_t *readers, int nr, const h5_target_t *targets, int nt)
{
    copy_file(clean, file);
    reference(readers, nr, file);
    bytes_t b = slurp(clean);
    char how[200];

    /* truncations: REFUSED (the superblock holds the end of the file) */
    size_t cuts[] = {0, 8, 40, 200, b.n / 4, b.n / 2, 3 * b.n / 4, b.n - 4096, b.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        if (cuts[i] >= b.n) continue;
        spill(file, b.p, cuts[i]);
        snprintf(how, sizeof how, "cut to %zu of %zu bytes", cuts[i], b.n);
        expect_all(readers, nr, file, REFUSED, how);
    }

    /* flips in checksummed structures: REFUSED by the readers that read them. The superblock (version 3,
     * as rldt writes it: one with a checksum): its signature, version, base address, end-of-file address,
     * root group address and checksum. */
    cr_assert(b.n > 48 && !memcmp(b.p, "\211HDF\r\n\032\n", 8) && b.p[8] == 3, "%s: not an HDF5 file with a version 3 superblock",
              clean);
    size_t super[] = {1, 8, 13, 29, 37, 45};
    for (size_t i = 0; i < sizeof super / sizeof super[0]; i++) {
        flip_to(&b, super[i], (int)i % 8, file);
        snprintf(how, sizeof how, "bit %d of superblock byte %zu flipped", (int)i % 8, super[i]);
        expect_all(readers, nr, file, REFUSED, how);
    }
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, PYTHON " corrupt_h5.py %s offsets", clean);
    for (int t = 0; t < nt; t++) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s", targets[t].path);
    cr_assert_eq(test_run("%s", cmd), 0, "%s", test_err);
    char *listing = strdup(test_out);
    for (int t = 0; t < nt; t++) {
        /* an object header (version 2, with a checksum): its signature "OHDR", its flags, its messages */
        const char *path = targets[t].path;
        size_t at = 0, size = 0;
        cr_assert(structure_at(listing, "ohdr", path, &at, &size), "no object header of %s: %s", path, listing);
        cr_assert(at + 32 < b.n && !memcmp(b.p + at, "OHDR", 4), "%s: the object header of %s is not of version 2", clean, path);
        for (int k = 0; k < 3; k++) {
            size_t off = at + (size_t[]){1, 5, 24}[k];
            flip_to(&b, off, k + 2, file);
            snprintf(how, sizeof how, "bit %d of byte %zu (object header of %s) flipped", k + 2, off, path);
            expect_some(readers, nr, file, targets[t].readers, how);
        }
        /* a chunk: a data byte, and the Fletcher-32 checksum at its end */
        size_t chunk = 0;
        size = 0;
        if (structure_at(listing, "chunk", path, &chunk, &size)) cr_assert(size > 4 && chunk + size <= b.n, "%s", path);
        for (int k = 0; size && k < 2; k++) {
            size_t off = chunk + (k ? size - 1 : size / 3);
            flip_to(&b, off, 3 * k + 1, file);
            snprintf(how, sizeof how, "bit %d of byte %zu (%s of a chunk of %s) flipped", 3 * k + 1, off, k ? "checksum" : "data",
                     path);
            expect_some(readers, nr, file, targets[t].readers, how);
        }
    }
    free(listing);

    /* flips at evenly spread offsets: SAME (refused; or identical output, where the flip lands in bytes
     * nothing refers to or in objects that reader does not read) */
    for (int i = 0; i < FLIPS; i++) {
        size_t off = (size_t)i * b.n / FLIPS + 11;
        if (off >= b.n) continue;
        flip_to(&b, off, i % 8, file);
        snprintf(how, sizeof how, "bit %d of byte %zu of %zu flipped", i % 8, off, b.n);
        expect_all(readers, nr, file, SAME, how);
    }
    free(b.p);
}

/* An edit of an HDF5 file made by corrupt_h5.py, and what each reader must do with it. */
typedef struct {
    const char *edit;    /* OP:ARGS (see corrupt_h5.py) */
    unsigned refused;    /* bit i: reader i must refuse it; the others: SAME */
    unsigned skip;       /* bit i: reader i does not run it (a legitimate file for that reader) */
} h5_edit_t;

/* Makes every edit of `clean` in one call of corrupt_h5.py, then runs each reader on each result at `file`
 * (the readers' references must be set). */
static void h5_edits(const char *clean, const char *file, reader_t *readers, int nr, const h5_edit_t *edits, int ne)
{
    cr_assert_eq(mkdir(in_dir("edits"), 0700), 0);
    FILE *list = fopen(in_dir("edits.txt"), "w");
    cr_assert_not_null(list);
    for (int e = 0; e < ne; e++) fprintf(list, "e%d:%s\n", e, edits[e].edit);
    fclose(list);
    cr_assert_eq(test_run(PYTHON " corrupt_h5.py %s %s @%s", clean, in_dir("edits"), in_dir("edits.txt")), 0, "%s", test_err);
    for (int e = 0; e < ne; e++) {
        char made[64];
        snprintf(made, sizeof made, "edits/e%d", e);
        copy_file(in_dir(made), file);
        for (int i = 0; i < nr; i++)
            if (!(edits[e].skip >> i & 1)) expect(&readers[i], file, edits[e].refused >> i & 1 ? REFUSED : SAME, edits[e].edit);
    }
    test_rmtree(in_dir("edits"));
}

// ---------------------------------------------------------------------------------------------------
// fixtures: a tiny bandit2d run, made with the CLI

#define QUIET "run.threads=1 run.blas_threads=1 log.level=error"
#define TINY_POLICY "policy.width=8 policy.time_dim=2 policy.chunk=1 policy.denoise_steps=2"
#define TINY_FT                                                                                                        \
    "env.name=bandit2d env.n_envs=2 finetune.n_steps=1 finetune.q_repeat=1 finetune.critic_steps=1 "                  \
    "finetune.actor_steps=1 finetune.val_freq=0 actor.states=1 critic.width=4 critic.depth=1 critic.batch=2 "         \
    "eval.episodes=1 " QUIET

/* <dir>/d.h5: 12 demos (so that /mask/valid names one). */
static void make_dataset(void)
{
    cr_assert_eq(test_run("%s collect env=bandit2d demos=12 seed=1 out=%s", test_bin(), in_dir("d.h5")), 0, "%s", test_err);
}

/* <dir>/runs/p/pretrain{_2,}.ckpt: 4 pretraining steps, a checkpoint after 2. */
static void make_pretrained(void)
{
    make_dataset();
    cr_assert_eq(test_run("%s pretrain env.name=bandit2d data.path=%s run.out_dir=%s/runs run.name=p pretrain.steps=4 "
                          "pretrain.ckpt_every=2 pretrain.batch=4 eval.episodes=1 env.n_envs=1 " TINY_POLICY " " QUIET,
                          test_bin(), in_dir("d.h5"), dir),
                 0, "%s", test_err);
}

/* <dir>/runs/f/finetune{_1,_2,}.ckpt and metrics: 3 fine-tuning iterations, a checkpoint after each. */
static void make_finetuned(void)
{
    make_pretrained();
    cr_assert_eq(test_run("%s finetune init=%s/runs/p/pretrain.ckpt run.out_dir=%s/runs run.name=f finetune.iterations=3 "
                          "finetune.ckpt_every=1 " TINY_FT,
                          test_bin(), dir, dir),
                 0, "%s", test_err);
}

// ---------------------------------------------------------------------------------------------------
// datasets

#define DATASET_READERS                                                                                                \
    {"dataset info", "{bin} dataset info {file}", OUT_STDOUT, NULL, 0, 0, 0},                                         \
    {                                                                                                                  \
        "pretrain data.path=",                                                                                         \
            "{bin} pretrain env.name=bandit2d data.path={file} run.out_dir={dir}/out run.name=p pretrain.steps=2 "     \
            "pretrain.batch=4 eval.episodes=1 env.n_envs=1 " TINY_POLICY " " QUIET,                                    \
            OUT_H5, "p/pretrain.ckpt", 0, 0, 0                                                                         \
    }
enum { INFO = 1, PRETRAIN = 2 };

Test(corruption, dataset_truncations_and_bit_flips, .init = setup, .fini = teardown, .timeout = 600)
{
    make_dataset();
    reader_t readers[] = {DATASET_READERS};
    /* every demo and both masks are read by both readers */
    static const h5_target_t targets[] = {{"/", ALL},
                                          {"/data", ALL},
                                          {"/data/demo_0", ALL},
                                          {"/data/demo_0/obs", ALL},
                                          {"/data/demo_0/obs/state", ALL},
                                          {"/data/demo_3/actions", ALL},
                                          {"/data/demo_7/states", ALL},
                                          {"/data/demo_11/dones", ALL},
                                          {"/mask", ALL},
                                          {"/mask/train", ALL},
                                          {"/mask/valid", ALL}};
    PATH(clean, "d.h5");
    PATH(file, "case.h5");
    h5_damage(clean, file, readers, 2, targets, sizeof targets / sizeof targets[0]);
    summary("dataset", readers, 2);
}

Test(corruption, dataset_edits, .init = setup, .fini = teardown, .timeout = 600)
{
    make_dataset();
    reader_t readers[] = {DATASET_READERS};
    PATH(clean, "d.h5");
    PATH(file, "case.h5");
    copy_file(clean, file);
    reference(readers, 2, file);
    static const h5_edit_t edits[] = {
        /* deleted objects */
        {"delete:/data/demo_3/actions", ALL, 0},
        {"delete:/data/demo_0/obs", ALL, 0},
        {"delete:/data/demo_5", ALL, 0}, /* a mask still names it */
        {"delete:/mask/valid", ALL, 0},  /* half a split */
        {"delete:/mask", PRETRAIN, INFO}, /* no split at all: a valid file to summarise, nothing to train on */
        {"delete:/data", ALL, 0},
        {"delattr:/data:env_args", ALL, 0},
        {"delattr:/data:total", ALL, 0},
        {"delattr:/data/demo_2:num_samples", ALL, 0},
        {"delattr:/data/demo_2:success", ALL, 0},
        /* renamed objects */
        {"rename:/data/demo_4:/data/demo_40", ALL, 0},
        {"rename:/data/demo_0:/data/demo_00", ALL, 0},
        {"rename:/data/demo_1/rewards:/data/demo_1/reward", ALL, 0},
        {"rename:/data/demo_1/obs/state:/data/demo_1/obs/stat", ALL, 0},
        {"rename:/mask/train:/mask/trian", ALL, 0},
        {"rename:/data:/dat", ALL, 0},
        /* wrong types: refused; float64 rewards are the same numbers (robomimic writes float64): SAME */
        {"dtype:/data/demo_0/actions:int32", ALL, 0},
        {"dtype:/data/demo_0/obs/state:S8", ALL, 0},
        {"dtype:/data/demo_0/dones:float32", ALL, 0},
        {"dtype:/data/demo_0/states:int64", ALL, 0},
        {"dtype:/mask/train:int64", ALL, 0},
        {"dtype:/data/demo_6/rewards:float64", 0, 0},
        /* wrong shapes */
        {"shape:/data/demo_0/actions:1x3", ALL, 0},
        {"shape:/data/demo_0/actions:2x2", ALL, 0},
        {"shape:/data/demo_0/actions:2", ALL, 0},
        {"shape:/data/demo_0/rewards:1x1", ALL, 0},
        {"shape:/data/demo_0/obs/state:1x2x1", ALL, 0},
        {"shape:/data/demo_0/states:1x2", ALL, 0},
        {"shape:/mask/train:11x1", ALL, 0},
        /* attributes out of range */
        {"int:/data/demo_2:num_samples:0", ALL, 0},
        {"int:/data/demo_2:num_samples:-1", ALL, 0},
        {"int:/data/demo_2:num_samples:2", ALL, 0},
        {"int:/data/demo_2:num_samples:1099511627776", ALL, 0},
        {"int:/data:total:-5", ALL, 0},
        {"int:/data:total:13", ALL, 0},
        {"int:/data/demo_2:success:7", ALL, 0},
        {"int:/data/demo_2:success:-1", ALL, 0},
        {"json:/data:env_args:env_kwargs.obs_dim:0", ALL, 0},
        {"json:/data:env_args:env_kwargs.act_dim:99", ALL, 0},
        {"json:/data:env_args:env_kwargs.state_dim:-1", ALL, 0},
        {"json:/data:env_args:env_kwargs.max_steps:0", ALL, 0},
        {"json:/data:env_args:env_kwargs.act_low:[5,5]", ALL, 0},
        {"json:/data:env_args:env_kwargs.act_high:[1e40,1]", ALL, 0},
        {"json:/data:env_args:env_kwargs.image_shape:[1,1,9]", ALL, 0},
        {"json:/data:env_args:env_kwargs.reward_kind:\"dull\"", ALL, 0},
        {"json:/data:env_args:env_kwargs.obs_key:\"nope\"", ALL, 0},
        {"json:/data:env_args:env_name:\"\"", ALL, 0},
        /* values out of range */
        {"value:/data/demo_0/dones:0:7", ALL, 0},
        {"value:/data/demo_1/actions:0:50", ALL, 0},
        {"value:/data/demo_1/obs/state:1:nan", ALL, 0},
        {"value:/data/demo_2/rewards:0:inf", ALL, 0},
        {"value:/data/demo_2/states:0:nan", ALL, 0},
    };
    h5_edits(clean, file, readers, 2, edits, sizeof edits / sizeof edits[0]);
    summary("dataset edits", readers, 2);
}

// ---------------------------------------------------------------------------------------------------
// pretraining checkpoints

#define PRETRAIN_CKPT_READERS                                                                                          \
    {"eval", "{bin} eval {file} episodes=2", OUT_STDOUT, NULL, 0, 0, 0},                                       \
        {"export", "{bin} export {file} out={dir}/out/p.safetensors", OUT_FILE, "p.safetensors", 0, 0, 0},            \
        {"finetune init=", "{bin} finetune init={file} run.out_dir={dir}/out run.name=i finetune.iterations=1 " TINY_FT, \
         OUT_H5, "i/finetune.ckpt", 0, 0, 0},                                                                          \
    {                                                                                                                  \
        "pretrain pretrain.resume=",                                                                                   \
            "{bin} pretrain env.name=bandit2d data.path={dir}/d.h5 pretrain.resume={file} run.out_dir={dir}/out "      \
            "run.name=p pretrain.steps=4 pretrain.batch=4 eval.episodes=1 env.n_envs=1 " TINY_POLICY " " QUIET,        \
            OUT_H5, "p/pretrain.ckpt", 0, 0, 0                                                                         \
    }
enum { EVAL = 1, EXPORT = 2, INIT = 4, PRE_RESUME = 8 };

/* A resumed pretraining takes its normalisers from the dataset again: it does not read /norm. */
static const h5_target_t pretrain_targets[] = {{"/", ALL},
                                               {"/scalars", ALL},
                                               {"/policy", ALL},
                                               {"/policy/weights", ALL},
                                               {"/norm/obs_std", EVAL | EXPORT | INIT},
                                               {"/norm/act_high", EVAL | EXPORT | INIT},
                                               {"/optim/v", PRE_RESUME}};

Test(corruption, pretrain_checkpoint_truncations_and_bit_flips, .init = setup, .fini = teardown, .timeout = 600)
{
    make_pretrained();
    reader_t readers[] = {PRETRAIN_CKPT_READERS};
    PATH(clean, "runs/p/pretrain_2.ckpt");
    PATH(file, "case.ckpt");
    h5_damage(clean, file, readers, 4, pretrain_targets, sizeof pretrain_targets / sizeof pretrain_targets[0]);
    summary("pretraining checkpoint", readers, 4);
}

Test(corruption, pretrain_checkpoint_edits, .init = setup, .fini = teardown, .timeout = 600)
{
    make_pretrained();
    reader_t readers[] = {PRETRAIN_CKPT_READERS};
    PATH(clean, "runs/p/pretrain_2.ckpt");
    PATH(file, "case.ckpt");
    copy_file(clean, file);
    reference(readers, 4, file);
    static const h5_edit_t edits[] = {
        /* deleted: what every reader reads, and what only a resume reads */
        {"delete:/policy/weights", ALL, 0},
        {"delete:/norm/obs_std", EVAL | EXPORT | INIT, 0}, /* a resume normalises by the dataset again */
        {"delete:/scalars", ALL, 0},
        {"delete:/optim/m", PRE_RESUME, 0},
        {"delattr:/:config", ALL, 0},
        {"delattr:/:kind", ALL, 0},
        {"delattr:/:format", ALL, 0},
        {"delattr:/:header_crc32", ALL, 0},
        {"delattr:/scalars:step", ALL, 0}, /* the header checksum covers the scalars */
        /* renamed */
        {"rename:/policy/weights:/policy/w", ALL, 0},
        {"rename:/norm:/nrm", EVAL | EXPORT | INIT, 0},
        {"rename:/optim/v:/optim/w", PRE_RESUME, 0},
        /* wrong types and shapes */
        {"dtype:/policy/weights:float64", ALL, 0},
        {"dtype:/norm/act_low:int32", EVAL | EXPORT | INIT, 0},
        {"dtype:/optim/m:float16", PRE_RESUME, 0},
        {"shape:/policy/weights:120", ALL, 0},
        {"shape:/policy/weights:240x1", ALL, 0},
        {"shape:/norm/obs_mean:3", EVAL | EXPORT | INIT, 0},
        {"shape:/optim/v:239", PRE_RESUME, 0},
        /* scalars and config out of range, with the header signed again */
        {"scalar:step:-1", PRE_RESUME, 0},
        {"scalar:step:99", PRE_RESUME, 0},
        {"scalar:adam_step:7", PRE_RESUME, 0},
        {"scalar:obs_dim:5", ALL, 0},
        {"scalar:act_dim:0", ALL, 0},
        /* the command line's policy.* keys override the stored config on resume: only the readers that take
         * the policy from the checkpoint see these */
        {"config:policy.width:16", EVAL | EXPORT | INIT, 0},
        {"config:policy.blocks:3", EVAL | EXPORT | INIT, 0},
        /* values (Fletcher-32 recomputed by HDF5) */
        {"value:/norm/obs_std:0:0", EVAL | EXPORT | INIT, 0},
        {"value:/norm/act_low:1:5", EVAL | EXPORT | INIT, 0},
        {"value:/policy/weights:3:nan", ALL, 0},
        {"value:/optim/m:3:inf", PRE_RESUME, 0},
    };
    h5_edits(clean, file, readers, 4, edits, sizeof edits / sizeof edits[0]);
    summary("pretraining checkpoint edits", readers, 4);
}

// ---------------------------------------------------------------------------------------------------
// fine-tuning checkpoints

#define FINETUNE_CKPT_READERS                                                                                          \
    {"eval", "{bin} eval {file} episodes=2", OUT_STDOUT, NULL, 0, 0, 0},                                       \
        {"export", "{bin} export {file} out={dir}/out/p.safetensors", OUT_FILE, "p.safetensors", 0, 0, 0},            \
    {                                                                                                                  \
        "finetune resume=",                                                                                            \
            "{bin} finetune resume={file} run.out_dir={dir}/out run.name=r finetune.iterations=3 " TINY_FT, OUT_H5,    \
            "r/finetune.ckpt", 0, 0, 0                                                                                 \
    }
enum { RESUME = 4 };

static const h5_target_t finetune_targets[] = {{"/", ALL},
                                               {"/scalars", ALL},
                                               {"/policy/weights", ALL},
                                               {"/norm/obs_std", ALL},
                                               {"/norm/act_high", ALL},
                                               {"/critic/online", RESUME},
                                               {"/replay/obs", RESUME},
                                               {"/rollout/envs", RESUME}};

Test(corruption, finetune_checkpoint_truncations_and_bit_flips, .init = setup, .fini = teardown, .timeout = 600)
{
    make_finetuned();
    reader_t readers[] = {FINETUNE_CKPT_READERS};
    PATH(clean, "runs/f/finetune_2.ckpt");
    PATH(file, "case.ckpt");
    h5_damage(clean, file, readers, 3, finetune_targets, sizeof finetune_targets / sizeof finetune_targets[0]);
    summary("fine-tuning checkpoint", readers, 3);
}

Test(corruption, finetune_checkpoint_edits, .init = setup, .fini = teardown, .timeout = 600)
{
    make_finetuned();
    reader_t readers[] = {FINETUNE_CKPT_READERS};
    PATH(clean, "runs/f/finetune_2.ckpt");
    PATH(file, "case.ckpt");
    copy_file(clean, file);
    reference(readers, 3, file);
    static const h5_edit_t edits[] = {
        {"delete:/policy/weights", ALL, 0},
        {"delete:/critic/online", RESUME, 0},
        {"delete:/replay/obs", RESUME, 0},
        {"delete:/rollout/envs", RESUME, 0},
        {"delete:/actor", RESUME, 0},
        {"delattr:/:header_crc32", ALL, 0},
        {"delattr:/scalars:itr", ALL, 0},
        {"rename:/critic/target:/critic/targets", RESUME, 0},
        {"dtype:/replay/mask:float32", RESUME, 0},
        {"dtype:/critic/target:float64", RESUME, 0},
        {"dtype:/policy/ref:int8", RESUME, 0},
        {"shape:/actor/m:100", RESUME, 0},
        {"shape:/rollout/envs:10", RESUME, 0},
        {"shape:/replay/rew:40x1", RESUME, 0},
        {"scalar:itr:-1", RESUME, 0},
        {"scalar:itr:4", RESUME, 0}, /* past finetune.iterations */
        {"scalar:replay_count:100000", RESUME, 0},
        {"scalar:env_steps:-1", RESUME, 0},
        {"scalar:obs_dim:7", ALL, 0},
        /* a resume takes all but the policy's keys from its command line (the stored value is not read);
         * export copies the stored config into its output, which is then another, valid file */
        {"config:critic.members:5", 0, EXPORT},
        {"value:/critic/online:0:inf", RESUME, 0},
        {"value:/policy/weights:0:nan", ALL, 0},
        {"value:/norm/obs_std:1:-1", ALL, 0},
    };
    h5_edits(clean, file, readers, 3, edits, sizeof edits / sizeof edits[0]);
    summary("fine-tuning checkpoint edits", readers, 3);
}

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
