/* h5edit.h — structure-aware mutation of HDF5 files for the dataset and checkpoint fuzz targets.
 *
 * Byte-level mutation of an HDF5 file fuzzes libhdf5's own parser. On files of HDF5's default, earliest
 * format libhdf5 1.10 crashes by itself (a SEGV in H5A__close under H5Aiterate2 within the first hundred
 * inputs; leaks on others); the files rldt writes use the 1.10 format, whose metadata checksums stop
 * almost every mutated byte before any parsing, so little of our readers is reached that way either.
 * So by default the fuzzer's bytes are a short program of edits that libhdf5 applies, through its API,
 * to a copy of a real file (a seed written by rldt): the result is always a well-formed HDF5 file, and
 * every edit goes at what our readers must validate —
 * integer and string attributes (counts, sizes, env_args and config JSON), dataset shapes, types and
 * values (NaN, inf, 1e30, sizes declared far beyond what is stored), deleted, renamed and added objects.
 * With RLDT_FUZZ_RAW=1 the bytes are the file itself instead (seeds: the real files).
 *
 * Seeds: every file in $RLDT_FUZZ_SEEDS (a directory); the first input byte picks one. */
#ifndef RLDT_FUZZ_H5EDIT_H
#define RLDT_FUZZ_H5EDIT_H

#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "h5util.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} input_t;

static uint8_t next_byte(input_t *in)
{
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

/* ------------------------------------------------------------------------------------------------ */
/* seeds */

static struct {
    uint8_t *data[32];
    size_t size[32];
    int n;
    int raw;
} seeds;

static void seeds_load(void)
{
    seeds.raw = getenv("RLDT_FUZZ_RAW") && strcmp(getenv("RLDT_FUZZ_RAW"), "1") == 0;
    const char *dir = getenv("RLDT_FUZZ_SEEDS");
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d && !seeds.raw) {
        fprintf(stderr, "set RLDT_FUZZ_SEEDS to a directory of seed files (tests/fuzz/run.sh does)\n");
        abort();
    }
    for (struct dirent *e; d && (e = readdir(d)) && seeds.n < 32;) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        seeds.data[seeds.n] = malloc((size_t)n);
        if (n > 0 && fread(seeds.data[seeds.n], 1, (size_t)n, f) == (size_t)n) seeds.size[seeds.n++] = (size_t)n;
        fclose(f);
    }
    if (d) closedir(d);
    if (!seeds.n && !seeds.raw) {
        fprintf(stderr, "no seed files in %s\n", dir);
        abort();
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* the objects of a file */

typedef struct {
    char names[256][256];
    int n;
} objects_t;

static herr_t add_object(hid_t root, const char *name, const H5L_info_t *info, void *op)
{
    objects_t *o = op;
    if (o->n < 256 && strlen(name) < 255) snprintf(o->names[o->n++], 256, "%s", name);
    return 0;
}

static const double interesting_floats[] = {NAN, INFINITY, -INFINITY, 1e30, -1e31, 3.4e38, 1e-45, 0.0, -0.0, 1.0, -2.0, 1e6};
static const int64_t interesting_ints[] = {0, -1, 1, 2, 3, 7, 20, 200, 65536, 2147483647, 2147483648LL, (int64_t)1 << 39,
                                           (int64_t)1 << 40, INT64_MAX, INT64_MIN, -2147483648LL};
static const char *const interesting_names[] = {"demo_99999999999", "a_bad", "demo_-1", "demo_007", "demo_0", "demo_1",
                                                "demo_2", "demo_5 ", "x", "train", "valid", "scalars", "data", "mask"};
static const char *const interesting_numbers[] = {"1e30", "-1", "0", "65536", "2147483648", "nan", "1e308", "-1e308",
                                                  "4096", "3.5", "[]", "\"x\"", "null", "{}", "1099511627776"};
static const char *const attr_names[] = {"num_samples", "total", "success", "env_args", "config", "kind", "format",
                                         "format_version", "step", "itr", "obs_dim", "act_dim", "replay_count",
                                         "actor_updates", "header_crc32"};

#define PICK(table, b) (table[(b) % (sizeof table / sizeof table[0])])

static int64_t next_int(input_t *in)
{
    uint8_t b = next_byte(in);
    if (b < 200) return PICK(interesting_ints, b);
    int64_t v = 0;
    for (int i = 0; i < 8; i++) v = (int64_t)((uint64_t)v << 8 | next_byte(in));
    return v;
}

/* The name of attribute `idx` (mod their count) of object `obj`, into buf; false when it has none. */
static bool attr_name(hid_t obj, uint8_t idx, char *buf, size_t len)
{
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0 || info.num_attrs == 0) return false;
    return H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, idx % info.num_attrs, buf, len, H5P_DEFAULT) > 0;
}

static void set_int_attr(hid_t obj, const char *name, int64_t v)
{
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    rldt_h5_write_i64_attr(obj, name, v);
}

/* Edits the text of string attribute `name` of obj with the input. */
static void edit_text_attr(hid_t obj, const char *name, input_t *in)
{
    char *text = rldt_h5_read_str_attr(obj, name);
    if (!text) return;
    size_t n = strlen(text), at = n ? ((size_t)next_byte(in) << 8 | next_byte(in)) % n : 0;
    char *out = malloc(n + 64);
    uint8_t how = next_byte(in) % 4;
    if (how == 0) { /* replace the number (or the token) at `at` by an interesting one */
        size_t end = at;
        while (end < n && (strchr("0123456789.eE+-", text[end]) || (text[end] >= 'a' && text[end] <= 'z'))) end++;
        if (end == at) end = at + (at < n);
        snprintf(out, n + 64, "%.*s%s%s", (int)at, text, PICK(interesting_numbers, next_byte(in)), text + end);
    } else if (how == 1) { /* overwrite a byte (not with NUL) */
        memcpy(out, text, n + 1);
        uint8_t b = next_byte(in);
        if (n) out[at] = (char)(b ? b : ' ');
    } else if (how == 2) { /* cut */
        snprintf(out, n + 64, "%.*s", (int)at, text);
    } else { /* insert a few input bytes */
        char ins[8];
        int k = 0;
        for (; k < 7; k++) {
            uint8_t b = next_byte(in);
            ins[k] = (char)(b ? b : '"');
        }
        ins[k] = '\0';
        snprintf(out, n + 64, "%.*s%s%s", (int)at, text, ins, text + at);
    }
    H5Adelete(obj, name);
    rldt_h5_write_str_attr(obj, name, out);
    free(out);
    free(text);
}

/* Replaces dataset `name` (a path from the root) by one of another type and shape; sizes beyond what
 * is written are declared (chunked, unlimited) and left unallocated. */
static void replace_dataset(hid_t file, const char *name, input_t *in)
{
    static const hid_t *const types[] = {&H5T_NATIVE_FLOAT_g, &H5T_NATIVE_DOUBLE_g, &H5T_NATIVE_LLONG_g, &H5T_NATIVE_UCHAR_g,
                                         &H5T_NATIVE_SCHAR_g};
    hid_t type = *types[next_byte(in) % 5];
    int rank = next_byte(in) % 5;
    static const hsize_t sizes[] = {0, 1, 2, 3, 4, 7, 20, 200, 1 << 20, (hsize_t)1 << 39};
    hsize_t dims[4] = {1, 1, 1, 1}, max[4], chunk[4], total = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = PICK(sizes, next_byte(in));
        max[i] = H5S_UNLIMITED;
        chunk[i] = dims[i] ? (dims[i] < 64 ? dims[i] : 64) : 1;
        total = total * (dims[i] ? dims[i] : 1);
    }
    H5Ldelete(file, name, H5P_DEFAULT);
    hid_t space = rank ? H5Screate_simple(rank, dims, max) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (rank) H5Pset_chunk(dcpl, rank, chunk);
    hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (set >= 0 && total <= 4096) {
        size_t count = 1;
        for (int i = 0; i < rank; i++) count *= (size_t)dims[i];
        double *v = malloc(sizeof(double) * (count ? count : 1));
        for (size_t i = 0; i < count; i++) v[i] = PICK(interesting_floats, next_byte(in));
        H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v); /* converted (clipped) to the type */
        free(v);
    }
    if (set >= 0) H5Dclose(set);
    H5Pclose(dcpl);
    H5Sclose(space);
}

/* Writes one element of a floating-point dataset with an interesting value (checksums follow: HDF5
 * recomputes the Fletcher-32 of the chunk). */
static void poke_element(hid_t set, input_t *in)
{
    hid_t space = H5Dget_space(set), type = H5Dget_type(set);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[8], at[8];
    if (H5Tget_class(type) == H5T_FLOAT && rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(space, dims, NULL) >= 0) {
        bool empty = false;
        for (int i = 0; i < rank; i++) {
            empty |= dims[i] == 0;
            at[i] = dims[i] ? next_byte(in) % dims[i] : 0;
        }
        hsize_t one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        double v = PICK(interesting_floats, next_byte(in));
        if (!empty && H5Sselect_hyperslab(space, H5S_SELECT_SET, at, NULL, one, NULL) >= 0) {
            hid_t mem = H5Screate(H5S_SCALAR);
            H5Dwrite(set, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, &v);
            H5Sclose(mem);
        }
    }
    H5Tclose(type);
    H5Sclose(space);
}

/* Applies up to 8 edits from the input to the HDF5 file at `path`. */
static void h5_edit(const char *path, input_t *in)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) return;
    bool restructured = false; /* an object was deleted, replaced, renamed or created */
    for (int op = 0; op < 8 && in->n; op++) {
        objects_t *o = malloc(sizeof *o);
        o->n = 0;
        snprintf(o->names[o->n++], 256, "/");
        H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, add_object, o);
        uint8_t kind = next_byte(in) % 10;
        const char *name = o->names[next_byte(in) % o->n];
        hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
        if (obj < 0) {
            free(o);
            continue;
        }
        H5I_type_t type = H5Iget_type(obj);
        char attr[256];
        switch (kind) {
        case 0: /* an integer attribute, new or replaced */
            set_int_attr(obj, PICK(attr_names, next_byte(in)), next_int(in));
            break;
        case 1: /* edit a string attribute's text */
            if (attr_name(obj, next_byte(in), attr, sizeof attr)) edit_text_attr(obj, attr, in);
            break;
        case 2: /* delete an attribute */
            if (attr_name(obj, next_byte(in), attr, sizeof attr)) H5Adelete(obj, attr);
            break;
        case 3: /* delete the object */
            if (strcmp(name, "/") != 0) H5Ldelete(file, name, H5P_DEFAULT);
            break;
        case 4: /* another type and shape */
            if (type == H5I_DATASET) {
                H5Oclose(obj);
                obj = -1;
                replace_dataset(file, name, in);
            }
            break;
        case 5: /* one value; not after a structural edit: libhdf5 1.10.8 can crash writing chunks then (a SEGV
                 * in its v2 B-tree chunk lookup under H5Dwrite), which is the harness failing, not the reader */
            if (type == H5I_DATASET && !restructured) poke_element(obj, in);
            break;
        case 6: /* rename */
            if (strcmp(name, "/") != 0) {
                char dst[512];
                const char *slash = strrchr(name, '/');
                snprintf(dst, sizeof dst, "%.*s%s%s", slash ? (int)(slash - name) : 0, name, slash ? "/" : "",
                         PICK(interesting_names, next_byte(in)));
                H5Lmove(file, name, file, dst, H5P_DEFAULT, H5P_DEFAULT);
            }
            break;
        case 7: /* a new group */
            if (type == H5I_GROUP) {
                hid_t g = H5Gcreate2(obj, PICK(interesting_names, next_byte(in)), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (g >= 0) H5Gclose(g);
            }
            break;
        case 8: /* an attribute of another type under the same name */
            if (attr_name(obj, next_byte(in), attr, sizeof attr)) {
                H5Adelete(obj, attr);
                if (next_byte(in) & 1) rldt_h5_write_str_attr(obj, attr, PICK(interesting_numbers, next_byte(in)));
                else {
                    hid_t s = H5Screate(H5S_SCALAR);
                    hid_t a = H5Acreate2(obj, attr, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
                    double v = PICK(interesting_floats, next_byte(in));
                    if (a >= 0) H5Awrite(a, H5T_NATIVE_DOUBLE, &v), H5Aclose(a);
                    H5Sclose(s);
                }
            }
            break;
        default: /* a string list (masks) of interesting names */
            if (type == H5I_DATASET) {
                H5Oclose(obj);
                obj = -1;
                int n = next_byte(in) % 6;
                char buf[6][24] = {{0}};
                for (int i = 0; i < n; i++) snprintf(buf[i], sizeof buf[i], "%s", PICK(interesting_names, next_byte(in)));
                H5Ldelete(file, name, H5P_DEFAULT);
                hid_t t = H5Tcopy(H5T_C_S1);
                H5Tset_size(t, 24);
                hsize_t dims[1] = {(hsize_t)n};
                hid_t s = H5Screate_simple(1, dims, NULL);
                hid_t set = H5Dcreate2(file, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (set >= 0) {
                    if (n) H5Dwrite(set, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
                    H5Dclose(set);
                }
                H5Sclose(s);
                H5Tclose(t);
            }
            break;
        }
        restructured |= kind == 3 || kind == 4 || kind == 6 || kind == 7 || kind == 9;
        if (obj >= 0) H5Oclose(obj);
        free(o);
    }
    H5Fclose(file);
}

/* The file the reader under test opens: the input's bytes (RLDT_FUZZ_RAW=1), or the seed the first byte
 * picks with the rest of the input applied as edits. */
static const char *h5_input(const uint8_t *data, size_t size)
{
    if (seeds.raw) return fuzz_file(data, size);
    input_t in = {data, size};
    int k = next_byte(&in) % seeds.n;
    const char *path = fuzz_file(seeds.data[k], seeds.size[k]);
    h5_edit(path, &in);
    return path;
}

#endif
