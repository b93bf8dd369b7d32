/* checkpoint.c — HDF5 checkpoints: atomic save, checked load (see rldt/checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"
#include "rldt/checkpoint.h"

struct rldt_ckpt {
    hid_t file;
    char *path, *kind, *config;
};

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
    if (d >= 0) H5Dclose(d);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    return st;
}

rldt_status_t rldt_ckpt_save(const char *path, const char *kind, const char *config_json, const rldt_ckpt_tensor_t *tensors,
                             int n_tensors, const rldt_ckpt_scalar_t *scalars, int n_scalars)
{
    rldt_h5_quiet();
    rldt_status_t made = rldt_mkdirs_for(path);
    if (made) return made;
    size_t len = strlen(path) + 5;
    char *tmp = rldt_xmalloc(len);
    snprintf(tmp, len, "%s.tmp", path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        free(tmp);
        return rldt_error_set(RLDT_ERR, "cannot create checkpoint %s (does its directory exist?)", path);
    }
    int bad = rldt_h5_write_str_attr(f, "format", RLDT_CKPT_FORMAT) < 0 || rldt_h5_write_i64_attr(f, "format_version", RLDT_CKPT_VERSION) < 0 ||
              rldt_h5_write_str_attr(f, "kind", kind) < 0 || rldt_h5_write_str_attr(f, "config", config_json) < 0 ||
              rldt_h5_write_str_attr(f, "rldt_version", RLDT_VERSION) < 0;
    hid_t g = H5Gcreate2(f, "scalars", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int i = 0; !bad && i < n_scalars; i++) bad = rldt_h5_write_i64_attr(g, scalars[i].name, scalars[i].value) < 0;
    if (g >= 0) H5Gclose(g);
    for (int i = 0; !bad && i < n_tensors; i++) bad = write_tensor(f, &tensors[i]) < 0;
    bad |= H5Fclose(f) < 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return rldt_error_set(RLDT_ERR, "writing checkpoint %s failed (disk full?); the previous file is untouched", path);
    }
    free(tmp);
    return RLDT_OK;
}

rldt_status_t rldt_ckpt_open(rldt_ckpt_t **out, const char *path, const char *kind)
{
    rldt_h5_quiet();
    *out = NULL;
    FILE *probe = fopen(path, "rb");
    if (!probe) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: cannot open (missing file?)", path);
    fclose(probe);
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
    else if (version != RLDT_CKPT_VERSION)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: format version %lld, this build reads %d", path,
                            (long long)version, RLDT_CKPT_VERSION);
    else if (!c->kind || !c->config)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: missing kind or config attribute", path);
    else if (kind && strcmp(c->kind, kind) != 0)
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

/* Reads n elements of `name` as `type` into dst, checking presence, length and checksum. */
static rldt_status_t read_tensor(rldt_ckpt_t *c, const char *name, hid_t type, void *dst, size_t n)
{
    size_t have = rldt_ckpt_length(c, name);
    if (have == 0 && n > 0) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' is missing", c->path, name);
    if (have != n)
        return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' has %zu values, expected %zu (config mismatch?)",
                              c->path, name, have, n);
    if (n == 0) return RLDT_OK;
    hid_t d = H5Dopen2(c->file, name, H5P_DEFAULT);
    herr_t st = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    H5Dclose(d);
    if (st < 0)
        return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' failed its checksum or could not be read (corrupt file)",
                              c->path, name);
    return RLDT_OK;
}

rldt_status_t rldt_ckpt_read_bytes(rldt_ckpt_t *c, const char *name, uint8_t *dst, size_t n)
{
    return read_tensor(c, name, H5T_NATIVE_UINT8, dst, n);
}

rldt_status_t rldt_ckpt_read(rldt_ckpt_t *c, const char *name, float *dst, size_t n)
{
    rldt_status_t st = read_tensor(c, name, H5T_NATIVE_FLOAT, dst, n);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' holds a non-finite value at %zu", c->path, name, i);
    return RLDT_OK;
}

rldt_status_t rldt_ckpt_scalar(rldt_ckpt_t *c, const char *name, int64_t *value)
{
    hid_t g = H5Gopen2(c->file, "scalars", H5P_DEFAULT);
    int ok = g >= 0 && H5Aexists(g, name) > 0;
    if (ok) {
        hid_t a = H5Aopen(g, name, H5P_DEFAULT);
        ok = H5Aread(a, H5T_NATIVE_INT64, value) >= 0;
        H5Aclose(a);
    }
    if (g >= 0) H5Gclose(g);
    if (!ok) return rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar '%s' is missing", c->path, name);
    return RLDT_OK;
}

void rldt_ckpt_close(rldt_ckpt_t *c)
{
    if (!c) return;
    if (c->file >= 0) H5Fclose(c->file);
    free(c->path), free(c->kind), free(c->config), free(c);
}
