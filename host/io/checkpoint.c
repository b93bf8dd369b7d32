/* checkpoint.c — HDF5 checkpoints: atomic, synced save; checked load (see rldt/checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"
#include "h5util.h"
#include "rldt/checkpoint.h"
#include "rldt/log.h"
#include "rldt/path.h"

#define HEADER_CRC "header_crc32"

struct rldt_ckpt {
    hid_t file;
    char *path, *kind, *config;
    int n_scalars;
    char **scalar_names; /* sorted by name, as HDF5 lists them */
    int64_t *scalar_values;
};

// ---------------------------------------------------------------------------------------------------
// the header checksum: CRC-32 over the root attributes and every scalar, in name order

static uint32_t crc32_update(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t crc32_text(uint32_t crc, const char *text) { return crc32_update(crc, text, strlen(text) + 1); }

static uint32_t crc32_i64(uint32_t crc, int64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)v >> (8 * i));
    return crc32_update(crc, le, 8);
}

/* names[0..n) sorted by strcmp */
static uint32_t header_crc(const char *kind, const char *config, const char *version, char *const *names, const int64_t *values, int n)
{
    uint32_t crc = crc32_text(0, RLDT_CKPT_FORMAT);
    crc = crc32_i64(crc, RLDT_CKPT_VERSION);
    crc = crc32_text(crc32_text(crc32_text(crc, kind), config), version);
    for (int i = 0; i < n; i++) crc = crc32_i64(crc32_text(crc, names[i]), values[i]);
    return crc;
}

// ---------------------------------------------------------------------------------------------------
// save

static herr_t write_tensor(hid_t file, const rldt_ckpt_tensor_t *t)
{
    hsize_t dims[1] = {t->n}, chunk[1] = {t->n < 65536 ? (t->n ? t->n : 1) : 65536};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    H5Pset_fletcher32(dcpl);
    hid_t d = H5Dcreate2(file, t->name, t->bytes ? H5T_STD_U8LE : H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    herr_t st = d < 0 ? -1
                      : (t->n ? H5Dwrite(d, t->bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data)
                              : 0);
    if (d >= 0 && H5Dclose(d) < 0) st = -1;
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    return st;
}

static int cmp_scalar(const void *a, const void *b)
{
    return strcmp(((const rldt_ckpt_scalar_t *)a)->name, ((const rldt_ckpt_scalar_t *)b)->name);
}

/* /scalars and the header checksum; < 0 on failure. */
static herr_t write_header(hid_t f, const char *kind, const char *config_json, const rldt_ckpt_scalar_t *scalars, int n)
{
    rldt_ckpt_scalar_t *sorted = rldt_xmalloc(sizeof *sorted * (size_t)(n ? n : 1));
    if (n) memcpy(sorted, scalars, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_scalar);
    char **names = rldt_xmalloc(sizeof *names * (size_t)(n ? n : 1));
    int64_t *values = rldt_xmalloc(sizeof *values * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) names[i] = (char *)sorted[i].name, values[i] = sorted[i].value;
    uint32_t crc = header_crc(kind, config_json, RLDT_VERSION, names, values, n);
    herr_t rc = rldt_h5_write_str_attr(f, "format", RLDT_CKPT_FORMAT) < 0 ||
                        rldt_h5_write_i64_attr(f, "format_version", RLDT_CKPT_VERSION) < 0 ||
                        rldt_h5_write_str_attr(f, "kind", kind) < 0 || rldt_h5_write_str_attr(f, "config", config_json) < 0 ||
                        rldt_h5_write_str_attr(f, "rldt_version", RLDT_VERSION) < 0 || rldt_h5_write_i64_attr(f, HEADER_CRC, crc) < 0
                    ? -1
                    : 0;
    hid_t g = rc < 0 ? -1 : H5Gcreate2(f, "scalars", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) rc = -1;
    for (int i = 0; rc >= 0 && i < n; i++) rc = rldt_h5_write_i64_attr(g, names[i], values[i]);
    if (g >= 0) H5Gclose(g);
    free(sorted), free(names), free(values);
    return rc;
}

rldt_status_t rldt_ckpt_save(const char *path, const char *kind, const char *config_json, const rldt_ckpt_tensor_t *tensors,
                             int n_tensors, const rldt_ckpt_scalar_t *scalars, int n_scalars)
{
    rldt_status_t made = rldt_mkdirs_for(path);
    if (made) return made;
    char *tmp = rldt_tmp_path(path);
    rldt_h5_io_t io;
    hid_t f = rldt_h5_create(tmp, &io);
    if (f < 0) {
        rldt_status_t st = rldt_error_set(RLDT_ERR, "cannot create checkpoint %s: %s", tmp, strerror(io.open_err));
        free(tmp);
        return st;
    }
    int bad = write_header(f, kind, config_json, scalars, n_scalars) < 0;
    for (int i = 0; !bad && i < n_tensors; i++) bad = write_tensor(f, &tensors[i]) < 0 || rldt_h5_failed(&io);
    int err = rldt_h5_close(f, &io);
    if (bad || err) {
        remove(tmp);
        free(tmp);
        return rldt_error_set(RLDT_ERR, "writing checkpoint %s failed: %s; the previous file is untouched", path,
                              err ? strerror(err) : "HDF5 could not write its objects");
    }
    rldt_status_t st = rldt_commit_tmp(tmp, path, "checkpoint");
    free(tmp);
    return st;
}

// ---------------------------------------------------------------------------------------------------
// open

typedef struct {
    rldt_ckpt_t *c;
    int cap;
    rldt_status_t st;
} scalar_list_t;

static herr_t collect_scalar(hid_t group, const char *name, const H5A_info_t *info, void *data)
{
    scalar_list_t *l = data;
    rldt_ckpt_t *c = l->c;
    hid_t a = H5Aopen(group, name, H5P_DEFAULT);
    hid_t type = a < 0 ? -1 : H5Aget_type(a), space = a < 0 ? -1 : H5Aget_space(a);
    int64_t v = 0;
    int ok = type >= 0 && H5Tget_class(type) == H5T_INTEGER && space >= 0 && H5Sget_simple_extent_npoints(space) == 1 &&
             H5Aread(a, H5T_NATIVE_INT64, &v) >= 0;
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (a >= 0) H5Aclose(a);
    if (!ok) {
        l->st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar '%s' is not one integer", c->path, name);
        return -1;
    }
    if (c->n_scalars == l->cap) {
        l->cap = 2 * l->cap + 16;
        c->scalar_names = realloc(c->scalar_names, sizeof *c->scalar_names * (size_t)l->cap);
        c->scalar_values = realloc(c->scalar_values, sizeof *c->scalar_values * (size_t)l->cap);
        if (!c->scalar_names || !c->scalar_values) abort();
    }
    c->scalar_names[c->n_scalars] = strdup(name);
    c->scalar_values[c->n_scalars++] = v;
    return 0;
}

/* Reads every /scalars attribute and checks the header checksum (format version 2). */
static rldt_status_t load_header(rldt_ckpt_t *c, int64_t version)
{
    scalar_list_t l = {c, 0, RLDT_OK};
    hid_t g = H5Lexists(c->file, "scalars", H5P_DEFAULT) > 0 ? H5Gopen2(c->file, "scalars", H5P_DEFAULT) : -1;
    if (g < 0) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: group /scalars is missing", c->path);
    hsize_t at = 0;
    herr_t rc = H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &at, collect_scalar, &l);
    H5Gclose(g);
    if (l.st) return l.st;
    if (rc < 0) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: cannot list /scalars (corrupt file)", c->path);
    for (int i = 1; i < c->n_scalars; i++) /* the checksum relies on this order */
        if (strcmp(c->scalar_names[i - 1], c->scalar_names[i]) >= 0)
            return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: /scalars are not listed in name order", c->path);
    if (version == 1) {
        rldt_warn("checkpoint %s: format version 1 carries no checksum over its config and scalars", c->path);
        return RLDT_OK;
    }
    char *written_by = rldt_h5_read_str_attr(c->file, "rldt_version");
    int64_t stored = -1;
    hid_t a = H5Aexists(c->file, HEADER_CRC) > 0 ? H5Aopen(c->file, HEADER_CRC, H5P_DEFAULT) : -1;
    if (a >= 0 && H5Aread(a, H5T_NATIVE_INT64, &stored) < 0) stored = -1;
    if (a >= 0) H5Aclose(a);
    uint32_t crc = header_crc(c->kind, c->config, written_by ? written_by : "", c->scalar_names, c->scalar_values, c->n_scalars);
    free(written_by);
    if (stored < 0) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: attribute %s is missing", c->path, HEADER_CRC);
    if ((uint64_t)stored != crc)
        return rldt_error_set(RLDT_ERR_USAGE,
                              "checkpoint %s: header checksum mismatch (stored %08llx, computed %08x): its kind, config or "
                              "scalars were changed or damaged",
                              c->path, (unsigned long long)stored, crc);
    return RLDT_OK;
}

rldt_status_t rldt_ckpt_open(rldt_ckpt_t **out, const char *path, const char *kind)
{
    rldt_h5_quiet();
    *out = NULL;
    rldt_status_t usable = rldt_path_check_input(path, "checkpoint"); /* missing, a FIFO (would block), a directory */
    if (usable) return usable;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: not a readable HDF5 file (truncated or corrupt?)", path);
    rldt_ckpt_t *c = rldt_xcalloc(1, sizeof *c);
    c->file = f;
    c->path = strdup(path);
    char *format = rldt_h5_read_str_attr(f, "format");
    c->kind = rldt_h5_read_str_attr(f, "kind");
    c->config = rldt_h5_read_str_attr(f, "config");
    int64_t version = -1;
    if (H5Aexists(f, "format_version") > 0) {
        hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
        if (H5Aread(a, H5T_NATIVE_INT64, &version) < 0) version = -1;
        H5Aclose(a);
    }
    rldt_status_t st = RLDT_OK;
    if (!format || strcmp(format, RLDT_CKPT_FORMAT) != 0)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: not an rldt checkpoint (no format tag)", path);
    else if (version != RLDT_CKPT_VERSION && version != 1)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: format version %lld, this build reads 1 and %d", path,
                            (long long)version, RLDT_CKPT_VERSION);
    else if (!c->kind || !c->config)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: missing kind or config attribute", path);
    else if (!(st = load_header(c, version)) && kind && strcmp(c->kind, kind) != 0)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: is a '%s' checkpoint, expected '%s'", path, c->kind, kind);
    free(format);
    if (st) {
        rldt_ckpt_close(c);
        return st;
    }
    *out = c;
    return RLDT_OK;
}

const char *rldt_ckpt_config(const rldt_ckpt_t *c) { return c->config; }
const char *rldt_ckpt_kind(const rldt_ckpt_t *c) { return c->kind; }
const char *rldt_ckpt_path(const rldt_ckpt_t *c) { return c->path; }

// ---------------------------------------------------------------------------------------------------
// tensors

size_t rldt_ckpt_length(rldt_ckpt_t *c, const char *name)
{
    if (H5Lexists(c->file, name, H5P_DEFAULT) <= 0) return 0;
    hid_t d = H5Dopen2(c->file, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t space = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    H5Dclose(d);
    return n > 0 ? (size_t)n : 0;
}

/* What is wrong with dataset d as a tensor of this kind (NULL if nothing): one dimension, the element type
 * rldt writes, and the Fletcher-32 checksum filter. */
static const char *tensor_defect(hid_t d, int bytes)
{
    hid_t space = H5Dget_space(d), type = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
    const char *why = NULL;
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 1)
        why = "is not one-dimensional";
    else if (type < 0 || H5Tget_class(type) != (bytes ? H5T_INTEGER : H5T_FLOAT) || H5Tget_size(type) != (bytes ? 1 : 4))
        why = bytes ? "is not uint8" : "is not float32";
    else if (dcpl < 0 || H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, NULL, NULL, NULL, 0, NULL, NULL) < 0)
        why = "carries no Fletcher-32 checksum";
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (dcpl >= 0) H5Pclose(dcpl);
    return why;
}

/* Reads n elements of `name` into dst, checking presence, shape, type, length and checksum. */
static rldt_status_t read_tensor(rldt_ckpt_t *c, const char *name, int bytes, void *dst, size_t n)
{
    if (H5Lexists(c->file, name, H5P_DEFAULT) <= 0)
        return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' is missing", c->path, name);
    hid_t d = H5Dopen2(c->file, name, H5P_DEFAULT);
    if (d < 0) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: '%s' is not a tensor", c->path, name);
    const char *why = tensor_defect(d, bytes);
    size_t have = why ? 0 : rldt_ckpt_length(c, name);
    herr_t st = why || have != n || n == 0 ? 0
                                           : H5Dread(d, bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    H5Dclose(d);
    if (why) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' %s", c->path, name, why);
    if (have != n)
        return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' has %zu values, expected %zu (config mismatch?)",
                              c->path, name, have, n);
    if (st < 0)
        return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' failed its checksum or could not be read (corrupt file)",
                              c->path, name);
    return RLDT_OK;
}

rldt_status_t rldt_ckpt_read_bytes(rldt_ckpt_t *c, const char *name, uint8_t *dst, size_t n)
{
    return read_tensor(c, name, 1, dst, n);
}

rldt_status_t rldt_ckpt_read(rldt_ckpt_t *c, const char *name, float *dst, size_t n)
{
    rldt_status_t st = read_tensor(c, name, 0, dst, n);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' holds a non-finite value at %zu", c->path, name, i);
    return RLDT_OK;
}

// ---------------------------------------------------------------------------------------------------
// scalars

rldt_status_t rldt_ckpt_scalar(rldt_ckpt_t *c, const char *name, int64_t *value)
{
    for (int i = 0; i < c->n_scalars; i++)
        if (strcmp(c->scalar_names[i], name) == 0) {
            *value = c->scalar_values[i];
            return RLDT_OK;
        }
    return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar '%s' is missing", c->path, name);
}

rldt_status_t rldt_ckpt_scalar_in(rldt_ckpt_t *c, const char *name, int64_t lo, int64_t hi, int64_t *value)
{
    rldt_status_t st = rldt_ckpt_scalar(c, name, value);
    if (!st && (*value < lo || *value > hi))
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar '%s' is %lld, outside [%lld, %lld]", c->path, name,
                            (long long)*value, (long long)lo, (long long)hi);
    return st;
}

void rldt_ckpt_close(rldt_ckpt_t *c)
{
    if (!c) return;
    if (c->file >= 0) H5Fclose(c->file);
    for (int i = 0; i < c->n_scalars; i++) free(c->scalar_names[i]);
    free(c->scalar_names), free(c->scalar_values);
    free(c->path), free(c->kind), free(c->config), free(c);
}
