/* corruption.c — the harness of the corruption tests (see corruption.h): the test's directory, files as
 * bytes, the contents of an HDF5 file as a digest, the readers and what they must do with a damaged file,
 * the damage done to HDF5 files, and the fixtures. */
#define _DEFAULT_SOURCE
#include "corruption.h"

#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hardening.h"
#include "helpers.h"

#define TIMEOUT_S 60 /* a reader still running after this long hangs */

static char dir[256];

void corruption_setup(void)
{
    test_tmpdir(dir, sizeof dir);
    char path[300];
    snprintf(path, sizeof path, "%s/lsan.supp", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("leak:libhdf5\n", f);
    cr_assert_eq(fclose(f), 0);
}

void corruption_teardown(void) { test_rmtree(dir); }

const char *in_dir(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

// ---------------------------------------------------------------------------------------------------
// files as bytes

bytes_t slurp(const char *path)
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

void spill(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

void copy_file(const char *from, const char *to)
{
    bytes_t b = slurp(from);
    spill(to, b.p, b.n);
    free(b.p);
}

void flip_to(const bytes_t *from, size_t at, int bit, const char *to)
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

void reference(reader_t *readers, int n, const char *file)
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

void expect(reader_t *r, const char *file, expect_t e, const char *how)
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

void expect_all(reader_t *readers, int n, const char *file, expect_t e, const char *how)
{
    for (int i = 0; i < n; i++) expect(&readers[i], file, e, how);
}

void summary(const char *what, const reader_t *readers, int n)
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

/* Runs every reader on `file`: those in mask `refused` must refuse it, the others SAME. */
static void expect_some(reader_t *readers, int n, const char *file, unsigned refused, const char *how)
{
    for (int i = 0; i < n; i++) expect(&readers[i], file, refused >> i & 1 ? REFUSED : SAME, how);
}

void h5_damage(const char *clean, const char *file, reader_t *readers, int nr, const h5_target_t *targets, int nt)
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

void h5_edits(const char *clean, const char *file, reader_t *readers, int nr, const h5_edit_t *edits, int ne)
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

void make_dataset(void)
{
    cr_assert_eq(test_run("%s collect env=bandit2d demos=12 seed=1 out=%s", test_bin(), in_dir("d.h5")), 0, "%s", test_err);
}

void make_pretrained(void)
{
    make_dataset();
    cr_assert_eq(test_run("%s pretrain env.name=bandit2d data.path=%s run.out_dir=%s/runs run.name=p pretrain.steps=4 "
                          "pretrain.ckpt_every=2 pretrain.batch=4 eval.episodes=1 env.n_envs=1 " TINY_POLICY " " QUIET,
                          test_bin(), in_dir("d.h5"), dir),
                 0, "%s", test_err);
}

void make_finetuned(void)
{
    make_pretrained();
    cr_assert_eq(test_run("%s finetune init=%s/runs/p/pretrain.ckpt run.out_dir=%s/runs run.name=f finetune.iterations=3 "
                          "finetune.ckpt_every=1 " TINY_FT,
                          test_bin(), dir, dir),
                 0, "%s", test_err);
}
