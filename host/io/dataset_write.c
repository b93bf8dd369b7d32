/* dataset_write.c — writes demonstrations in the robomimic layout with HDF5's C API (see rldt/dataset.h).
 * Everything goes to "<path>.tmp" through the write driver of h5util.h; close() syncs it and renames it into
 * place, abort() or any failure (a full disk, a file-size limit) removes it. Every dataset carries HDF5's
 * Fletcher-32 checksum (h5py and robomimic read it transparently). */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"
#include "h5util.h"
#include "rldt/dataset.h"

#define CHUNK_BYTES (1 << 20) /* target bytes per HDF5 chunk */
#define IMAGE_GZIP_LEVEL 4
#define NAME_LEN 32

struct rldt_dataset_writer {
    const rldt_env_spec_t *spec;
    char *path, *tmp;
    hid_t file, data;
    rldt_h5_io_t io;
    int demos;
    size_t samples;
    float *actions; /* a demo's actions normalised to [-1, 1], grown as demos need */
    size_t actions_cap;
};

/* ------------------------------------------------------------------------------------------------ */
/* HDF5 helpers: each returns < 0 on failure. */

/* A chunked dataset of shape [dims[0], dims[1..rank)] (gzip when asked) holding `data`. */
static herr_t write_dataset(hid_t group, const char *name, hid_t file_type, hid_t mem_type, int rank,
                            const hsize_t *dims, const void *data, int gzip)
{
    hsize_t chunk[4];
    size_t row_bytes = H5Tget_size(mem_type);
    for (int r = 1; r < rank; r++) {
        chunk[r] = dims[r];
        row_bytes *= dims[r];
    }
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    if (row_bytes) { /* an empty row (the states of an env without any: Gymnasium's) has nothing to chunk or check */
        hsize_t rows = CHUNK_BYTES / row_bytes;
        chunk[0] = rows < 1 ? 1 : rows > dims[0] ? dims[0] : rows;
        H5Pset_chunk(plist, rank, chunk);
        if (gzip) H5Pset_deflate(plist, IMAGE_GZIP_LEVEL);
        H5Pset_fletcher32(plist);
    }
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t set = H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    herr_t rc = set < 0 ? -1 : H5Dwrite(set, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (set >= 0) H5Dclose(set);
    H5Sclose(space);
    H5Pclose(plist);
    return rc;
}

/* A 1-D dataset of fixed-length, null-padded byte strings (numpy dtype S<len>, as robomimic's masks). */
static herr_t write_names(hid_t group, const char *name, const int *ids, int n)
{
    char *buf = rldt_xcalloc((size_t)(n ? n : 1), NAME_LEN);
    for (int i = 0; i < n; i++) snprintf(buf + (size_t)i * NAME_LEN, NAME_LEN, "demo_%d", ids[i]);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, NAME_LEN);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    if (n) { /* an empty dataset has nothing to checksum (and cannot be chunked at a fixed size of 0) */
        hsize_t chunk[1] = {dims[0]};
        H5Pset_chunk(plist, 1, chunk);
        H5Pset_fletcher32(plist);
    }
    hid_t set = H5Dcreate2(group, name, type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    herr_t rc = set < 0 ? -1 : n ? H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    if (set >= 0) H5Dclose(set);
    H5Pclose(plist);
    H5Sclose(space);
    H5Tclose(type);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------------------------------ */

static void writer_free(rldt_dataset_writer_t *w)
{
    free(w->path);
    free(w->tmp);
    free(w->actions);
    free(w);
}

rldt_status_t rldt_dataset_writer_open(rldt_dataset_writer_t **out, const char *path, const rldt_env_spec_t *spec,
                                       int max_steps, const char *collect_args)
{
    rldt_h5_quiet();
    rldt_status_t st = rldt_mkdirs_for(path);
    if (st) return st;
    rldt_dataset_writer_t *w = rldt_xcalloc(1, sizeof *w);
    w->spec = spec;
    w->path = strdup(path);
    w->tmp = rldt_tmp_path(path);
    w->data = -1;
    w->file = rldt_h5_create(w->tmp, &w->io);
    if (w->file < 0) {
        rldt_error_set(RLDT_ERR, "cannot create HDF5 file '%s': %s", w->tmp, strerror(w->io.open_err));
        writer_free(w);
        return RLDT_ERR;
    }
    w->data = H5Gcreate2(w->file, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    char *env_args = rldt_dataset_env_args(spec, max_steps);
    herr_t rc = w->data < 0 ? -1 : rldt_h5_write_str_attr(w->data, "env_args", env_args);
    if (rc >= 0 && collect_args) rc = rldt_h5_write_str_attr(w->data, "collect_args", collect_args);
    free(env_args);
    if (rc < 0 || rldt_h5_failed(&w->io)) {
        rldt_error_set(RLDT_ERR, "%s: cannot write /data and its env_args attribute%s%s", w->tmp, w->io.err ? ": " : "",
                       w->io.err ? strerror(w->io.err) : "");
        rldt_dataset_writer_abort(w);
        return RLDT_ERR;
    }
    *out = w;
    return RLDT_OK;
}

size_t rldt_dataset_writer_samples(const rldt_dataset_writer_t *w) { return w->samples; }

/* Writes obs/ or next_obs/ of one demo. */
static herr_t write_obs_group(rldt_dataset_writer_t *w, hid_t demo, const char *name, const float *obs, const uint8_t *image,
                              hsize_t T)
{
    const rldt_env_spec_t *sp = w->spec;
    hid_t g = H5Gcreate2(demo, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return -1;
    hsize_t dims[4] = {T, (hsize_t)sp->obs_dim};
    herr_t rc = write_dataset(g, sp->obs_key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, obs, 0);
    if (rc >= 0 && sp->image_h > 0) {
        hsize_t idims[4] = {T, (hsize_t)sp->image_h, (hsize_t)sp->image_w, (hsize_t)sp->image_c};
        rc = image ? write_dataset(g, RLDT_DATASET_IMAGE_KEY, H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, idims, image, 1) : -1;
    }
    H5Gclose(g);
    return rc;
}

/* The actions of a demo of T steps normalised to [-1, 1] by the spec's range (rldt/dataset.h), into
 * w->actions. The executed actions lie in the range; the clamp only absorbs float rounding at its ends. */
static const float *normalised_actions(rldt_dataset_writer_t *w, const float *a, int T)
{
    const rldt_env_spec_t *sp = w->spec;
    size_t n = (size_t)T * (size_t)sp->act_dim;
    if (n > w->actions_cap) {
        free(w->actions);
        w->actions = rldt_xmalloc(n * sizeof *w->actions);
        w->actions_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        int j = (int)(i % (size_t)sp->act_dim);
        float mid = 0.5f * (sp->act_low[j] + sp->act_high[j]), half = 0.5f * (sp->act_high[j] - sp->act_low[j]);
        w->actions[i] = fminf(fmaxf((a[i] - mid) / half, -1.0f), 1.0f);
    }
    return w->actions;
}

rldt_status_t rldt_dataset_writer_add(rldt_dataset_writer_t *w, const rldt_demo_t *d)
{
    const rldt_env_spec_t *sp = w->spec;
    char name[NAME_LEN];
    snprintf(name, sizeof name, "demo_%d", w->demos);
    if (d->T < 1) return rldt_error_set(RLDT_ERR_USAGE, "%s: %s has no steps", w->tmp, name);
    hsize_t T = (hsize_t)d->T;
    hid_t g = H5Gcreate2(w->data, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rldt_error_set(RLDT_ERR, "%s: cannot create /data/%s", w->tmp, name);
    herr_t rc = rldt_h5_write_i64_attr(g, "num_samples", d->T);
    if (rc >= 0) rc = rldt_h5_write_i64_attr(g, "success", d->success);
    if (rc >= 0) rc = write_obs_group(w, g, "obs", d->obs, d->image, T);
    if (rc >= 0) rc = write_obs_group(w, g, "next_obs", d->next_obs, d->next_image, T);
    hsize_t adims[2] = {T, (hsize_t)sp->act_dim}, sdims[2] = {T, (hsize_t)sp->state_dim};
    if (rc >= 0) rc = write_dataset(g, "actions", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, adims, normalised_actions(w, d->actions, d->T), 0);
    if (rc >= 0) rc = write_dataset(g, "rewards", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &T, d->rewards, 0);
    if (rc >= 0) rc = write_dataset(g, "dones", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &T, d->dones, 0);
    if (rc >= 0) rc = write_dataset(g, "states", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, sdims, d->states, 0);
    H5Gclose(g);
    if (rldt_h5_failed(&w->io)) return rldt_error_set(RLDT_ERR, "%s: cannot write /data/%s: %s", w->tmp, name, strerror(w->io.err));
    if (rc < 0) return rldt_error_set(RLDT_ERR, "%s: cannot write /data/%s (an image demo without images?)", w->tmp, name);
    w->demos++;
    w->samples += (size_t)d->T;
    return RLDT_OK;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

int rldt_dataset_valid_count(int n) { return n < 2 ? 0 : n < 20 ? 1 : n / 10; }

/* /mask/train and /mask/valid: a seeded Fisher-Yates permutation; its first rldt_dataset_valid_count(n)
 * demos are valid. A file of one demo names it in both masks: robomimic's tools fail on an empty mask. */
static herr_t write_masks(rldt_dataset_writer_t *w, uint64_t split_seed)
{
    int n = w->demos, n_valid = rldt_dataset_valid_count(n);
    int *perm = rldt_xmalloc((size_t)(n ? n : 1) * sizeof *perm);
    for (int i = 0; i < n; i++) perm[i] = i;
    rldt_rng_t rng;
    rldt_rng_init(&rng, split_seed, rldt_rng_stream_id(RLDT_STREAM_DATA, 0, 0));
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rldt_rng_below(&rng, (uint32_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    qsort(perm, (size_t)n_valid, sizeof *perm, cmp_int);
    qsort(perm + n_valid, (size_t)(n - n_valid), sizeof *perm, cmp_int);
    hid_t mask = H5Gcreate2(w->file, "mask", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = mask < 0 ? -1 : write_names(mask, "valid", perm, n == 1 ? 1 : n_valid);
    if (rc >= 0) rc = write_names(mask, "train", perm + n_valid, n - n_valid);
    if (mask >= 0) H5Gclose(mask);
    free(perm);
    return rc;
}

rldt_status_t rldt_dataset_writer_close(rldt_dataset_writer_t *w, uint64_t split_seed)
{
    herr_t rc = rldt_h5_write_i64_attr(w->data, "total", (int64_t)w->samples);
    if (rc >= 0) rc = write_masks(w, split_seed);
    H5Gclose(w->data);
    w->data = -1;
    int err = rldt_h5_close(w->file, &w->io);
    w->file = -1;
    if (rc < 0 || err) {
        rldt_error_set(RLDT_ERR, "%s: cannot write the total and the masks: %s", w->tmp, err ? strerror(err) : "HDF5 failed");
        rldt_dataset_writer_abort(w);
        return RLDT_ERR;
    }
    rldt_status_t st = rldt_commit_tmp(w->tmp, w->path, "dataset");
    writer_free(w);
    return st;
}

void rldt_dataset_writer_abort(rldt_dataset_writer_t *w)
{
    if (!w) return;
    if (w->data >= 0) H5Gclose(w->data);
    if (w->file >= 0) rldt_h5_close(w->file, &w->io);
    remove(w->tmp);
    writer_free(w);
}
