/* dataset_read.c — loads a robomimic-layout file into contiguous arrays and validates it on the way (see
 * rldt/dataset.h). Every failure names the file and the HDF5 object; HDF5's own error printing is off. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "rldt/dataset.h"

typedef struct {
    const char *path;
    hid_t file, data;
    rldt_dataset_meta_t *meta;
} reader_t;

/* ------------------------------------------------------------------------------------------------ */
/* Attributes and string lists. */

static rldt_status_t read_i64_attr(const reader_t *r, hid_t obj, const char *where, const char *name, int64_t *out)
{
    if (H5Aexists(obj, name) <= 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: %s has no '%s' attribute", r->path, where, name);
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
    bool ok = type >= 0 && H5Tget_class(type) == H5T_INTEGER && H5Sget_simple_extent_npoints(space) == 1 &&
              H5Aread(attr, H5T_NATIVE_INT64, out) >= 0;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return ok ? RLDT_OK : rldt_error_set(RLDT_ERR_USAGE, "%s: %s attribute '%s' is not one integer", r->path, where, name);
}

/* The demo indices named by /mask/<name> (byte strings "demo_<i>"). *ids is malloc'd. */
static rldt_status_t read_mask(const reader_t *r, const char *name, int **ids, int *count)
{
    char where[96];
    snprintf(where, sizeof where, "/mask/%s", name);
    hid_t set = H5Dopen2(r->file, where, H5P_DEFAULT);
    if (set < 0) return rldt_error_set(RLDT_ERR_USAGE, "%s: %s is not a dataset", r->path, where);
    hid_t ftype = H5Dget_type(set), space = H5Dget_space(set);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    bool ok = H5Tget_class(ftype) == H5T_STRING && H5Sget_simple_extent_ndims(space) <= 1 && n >= 0;
    char **names = rldt_xcalloc((size_t)(n > 0 ? n : 1), sizeof *names);
    if (ok && n > 0) {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mtype, H5Tget_cset(ftype)); /* HDF5 does not convert between ASCII and UTF-8 */
        if (H5Tis_variable_str(ftype) > 0) {
            H5Tset_size(mtype, H5T_VARIABLE);
            ok = H5Dread(set, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0;
            for (hssize_t i = 0; ok && i < n; i++) {
                char *v = names[i];
                names[i] = strdup(v ? v : "");
                H5free_memory(v);
            }
        } else {
            size_t len = H5Tget_size(ftype);
            H5Tset_size(mtype, len + 1);
            char *buf = rldt_xcalloc((size_t)n, len + 1);
            ok = H5Dread(set, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
            for (hssize_t i = 0; ok && i < n; i++) names[i] = strdup(buf + (size_t)i * (len + 1));
            free(buf);
        }
        H5Tclose(mtype);
    }
    H5Sclose(space);
    H5Tclose(ftype);
    H5Dclose(set);
    rldt_status_t st = ok ? RLDT_OK : rldt_error_set(RLDT_ERR_USAGE, "%s: %s is not a list of strings", r->path, where);
    *ids = rldt_xmalloc((size_t)(n > 0 ? n : 1) * sizeof **ids);
    *count = ok ? (int)n : 0;
    for (hssize_t i = 0; i < n; i++) {
        int id, end = 0;
        if (!st && (sscanf(names[i], "demo_%d%n", &id, &end) != 1 || names[i][end] || id < 0))
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: %s entry %ld '%s' is not a demo name", r->path, where, (long)i, names[i]);
        if (!st) (*ids)[i] = id;
        free(names[i]);
    }
    free(names);
    return st;
}

/* ------------------------------------------------------------------------------------------------ */
/* Datasets. */

static void format_dims(char *buf, size_t len, int rank, const hsize_t *dims)
{
    int n = snprintf(buf, len, "[");
    for (int i = 0; i < rank && n < (int)len; i++)
        n += snprintf(buf + n, len - (size_t)n, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (n < (int)len) snprintf(buf + n, len - (size_t)n, "]");
}

/* Reads <demo>/<name> into buf after checking its type class and shape (`rank` dims, `want`). */
static rldt_status_t read_set(const reader_t *r, hid_t demo, const char *demo_name, const char *name, H5T_class_t cls,
                              hid_t mem_type, int rank, const hsize_t *want, void *buf)
{
    if (H5Lexists(demo, name, H5P_DEFAULT) <= 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is missing", r->path, demo_name, name);
    hid_t set = H5Dopen2(demo, name, H5P_DEFAULT);
    if (set < 0) return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is not a dataset", r->path, demo_name, name);
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    hsize_t dims[8];
    int got = H5Sget_simple_extent_ndims(space);
    bool shape_ok = got == rank;
    if (got >= 0 && got <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; shape_ok && i < rank; i++) shape_ok = dims[i] == want[i];
    rldt_status_t st = RLDT_OK;
    if (H5Tget_class(type) != cls) {
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s has the wrong type (expected %s)", r->path, demo_name, name,
                            cls == H5T_FLOAT ? "floating point" : "integer");
    } else if (!shape_ok) {
        char have[128] = "?", expect[128];
        if (got >= 0 && got <= 8) format_dims(have, sizeof have, got, dims);
        format_dims(expect, sizeof expect, rank, want);
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s has shape %s, expected %s (num_samples and env_args spec)",
                            r->path, demo_name, name, have, expect);
    } else if (H5Dread(set, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: cannot read /data/%s/%s (file damaged?)", r->path, demo_name, name);
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(set);
    return st;
}

static rldt_status_t check_finite(const reader_t *r, const char *demo_name, const char *name, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s has a non-finite value at element %zu", r->path, demo_name,
                                  name, i);
    return RLDT_OK;
}

/* Reads obs/ or next_obs/ of one demo (image too when `image` is not NULL) into the given rows. */
static rldt_status_t read_obs_group(const reader_t *r, hid_t demo, const char *demo_name, const char *group, hsize_t T,
                                    float *obs, uint8_t *image)
{
    const rldt_dataset_meta_t *m = r->meta;
    char key[2 * RLDT_DATASET_NAME_MAX + 2];
    snprintf(key, sizeof key, "%s/%s", group, m->obs_key);
    hsize_t dims[4] = {T, (hsize_t)m->obs_dim};
    rldt_status_t st = read_set(r, demo, demo_name, key, H5T_FLOAT, H5T_NATIVE_FLOAT, 2, dims, obs);
    if (!st) st = check_finite(r, demo_name, key, obs, (size_t)T * (size_t)m->obs_dim);
    if (!st && image) {
        snprintf(key, sizeof key, "%s/%s", group, RLDT_DATASET_IMAGE_KEY);
        hsize_t idims[4] = {T, (hsize_t)m->image_h, (hsize_t)m->image_w, (hsize_t)m->image_c};
        st = read_set(r, demo, demo_name, key, H5T_INTEGER, H5T_NATIVE_UINT8, 4, idims, image);
    }
    return st;
}

/* Reads demo e (demo_<d->demo_ids[e]>) into its rows. */
static rldt_status_t read_demo(const reader_t *r, rldt_dataset_t *d, int e)
{
    const rldt_dataset_meta_t *m = r->meta;
    char name[32];
    snprintf(name, sizeof name, "demo_%d", d->demo_ids[e]);
    size_t at = d->ep_start[e], T = d->ep_start[e + 1] - at;
    size_t od = (size_t)m->obs_dim, ad = (size_t)m->act_dim, sd = (size_t)m->state_dim;
    size_t img = (size_t)m->image_h * (size_t)m->image_w * (size_t)m->image_c;
    hid_t g = H5Gopen2(r->data, name, H5P_DEFAULT);
    hsize_t t = (hsize_t)T, adims[2] = {t, ad}, sdims[2] = {t, sd};
    int64_t success = 0;
    rldt_status_t st = read_i64_attr(r, g, name, "success", &success);
    if (!st) st = read_obs_group(r, g, name, "obs", t, d->obs + at * od, d->image ? d->image + at * img : NULL);
    if (!st) st = read_obs_group(r, g, name, "next_obs", t, d->next_obs + at * od, d->image ? d->next_image + at * img : NULL);
    if (!st) st = read_set(r, g, name, "actions", H5T_FLOAT, H5T_NATIVE_FLOAT, 2, adims, d->actions + at * ad);
    if (!st) st = check_finite(r, name, "actions", d->actions + at * ad, T * ad);
    if (!st) st = read_set(r, g, name, "rewards", H5T_FLOAT, H5T_NATIVE_FLOAT, 1, &t, d->rewards + at);
    if (!st) st = check_finite(r, name, "rewards", d->rewards + at, T);
    if (!st) st = read_set(r, g, name, "dones", H5T_INTEGER, H5T_NATIVE_UINT8, 1, &t, d->dones + at);
    if (!st) st = read_set(r, g, name, "states", H5T_FLOAT, H5T_NATIVE_DOUBLE, 2, sdims, d->states + at * sd);
    for (size_t i = 0; !st && i < T * sd; i++)
        if (!isfinite(d->states[at * sd + i]))
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/states has a non-finite value at element %zu", r->path, name, i);
    H5Gclose(g);
    d->ep_success[e] = success != 0;
    d->ep_return[e] = 0.0f;
    for (size_t i = 0; i < T; i++) {
        d->ep_return[e] += d->rewards[at + i];
        d->ep_index[at + i] = e;
    }
    return st;
}

/* ------------------------------------------------------------------------------------------------ */
/* The file: demo list, masks, then the demos themselves. */

typedef struct {
    int *ids;
    int n, cap;
    char bad[64]; /* the first link under /data that is not demo_<i>, "" if none */
} demo_list_t;

static herr_t list_demo(hid_t group, const char *name, const H5L_info_t *info, void *op)
{
    demo_list_t *l = op;
    int id, end = 0;
    if (sscanf(name, "demo_%d%n", &id, &end) != 1 || name[end] || id < 0) {
        snprintf(l->bad, sizeof l->bad, "%s", name);
        return 1; /* stops the iteration */
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        int *ids = rldt_xmalloc((size_t)l->cap * sizeof *ids);
        if (l->n) memcpy(ids, l->ids, (size_t)l->n * sizeof *ids);
        free(l->ids);
        l->ids = ids;
    }
    l->ids[l->n++] = id;
    return 0;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static int find_id(const int *sorted, int n, int id)
{
    const int *p = bsearch(&id, sorted, (size_t)n, sizeof id, cmp_int);
    return p ? (int)(p - sorted) : -1;
}

static bool has_mask(const reader_t *r, const char *name)
{
    char where[96];
    snprintf(where, sizeof where, "mask/%s", name);
    return H5Lexists(r->file, "mask", H5P_DEFAULT) > 0 && H5Lexists(r->file, where, H5P_DEFAULT) > 0;
}

/* Reads /mask/<name> as sorted demo indices and checks each names a demo of the file, once. */
static rldt_status_t check_mask(const reader_t *r, const demo_list_t *all, const char *name, int **ids, int *n)
{
    rldt_status_t st = read_mask(r, name, ids, n);
    if (st) return st;
    qsort(*ids, (size_t)*n, sizeof **ids, cmp_int);
    for (int i = 0; i < *n; i++) {
        if (find_id(all->ids, all->n, (*ids)[i]) < 0)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /mask/%s names demo_%d, which is not in /data", r->path, name, (*ids)[i]);
        if (i && (*ids)[i] == (*ids)[i - 1])
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /mask/%s names demo_%d twice", r->path, name, (*ids)[i]);
    }
    return RLDT_OK;
}

/* Checks the train and valid masks (counting their entries); when `mask` is set, *sel receives its sorted
 * demo indices. */
static rldt_status_t read_masks(const reader_t *r, rldt_dataset_t *d, const demo_list_t *all, const char *mask, int **sel,
                                int *n_sel)
{
    static const char *const names[] = {"train", "valid"};
    int *counts[] = {&d->n_train, &d->n_valid};
    for (int k = 0; k < 2; k++) {
        if (!has_mask(r, names[k])) continue;
        int *ids = NULL;
        rldt_status_t st = check_mask(r, all, names[k], &ids, counts[k]);
        free(ids);
        if (st) return st;
    }
    if (!mask) return RLDT_OK;
    if (!has_mask(r, mask)) return rldt_error_set(RLDT_ERR_USAGE, "%s: there is no mask /mask/%s to select demos with", r->path, mask);
    rldt_status_t st = check_mask(r, all, mask, sel, n_sel);
    if (!st && *n_sel == 0) st = rldt_error_set(RLDT_ERR_USAGE, "%s: /mask/%s names no demos", r->path, mask);
    return st;
}

static void compute_stats(rldt_dataset_t *d)
{
    size_t n = d->n_samples, od = (size_t)d->meta.obs_dim, ad = (size_t)d->meta.act_dim;
    for (size_t j = 0; j < od; j++) {
        double sum = 0.0, sq = 0.0;
        for (size_t s = 0; s < n; s++) sum += d->obs[s * od + j];
        double mean = sum / (double)n;
        for (size_t s = 0; s < n; s++) sq += (d->obs[s * od + j] - mean) * (d->obs[s * od + j] - mean);
        d->obs_mean[j] = (float)mean;
        d->obs_std[j] = fmaxf((float)sqrt(sq / (double)n), RLDT_DATASET_STD_MIN);
    }
    for (size_t j = 0; j < ad; j++) {
        d->act_min[j] = d->act_max[j] = d->actions[j];
        for (size_t s = 1; s < n; s++) {
            d->act_min[j] = fminf(d->act_min[j], d->actions[s * ad + j]);
            d->act_max[j] = fmaxf(d->act_max[j], d->actions[s * ad + j]);
        }
    }
}

static void allocate(rldt_dataset_t *d)
{
    const rldt_dataset_meta_t *m = &d->meta;
    size_t n = d->n_samples, img = (size_t)m->image_h * (size_t)m->image_w * (size_t)m->image_c;
    d->ep_index = rldt_xmalloc(n * sizeof *d->ep_index);
    d->obs = rldt_xmalloc(n * (size_t)m->obs_dim * sizeof *d->obs);
    d->next_obs = rldt_xmalloc(n * (size_t)m->obs_dim * sizeof *d->next_obs);
    if (img) {
        d->image = rldt_xmalloc(n * img);
        d->next_image = rldt_xmalloc(n * img);
    }
    d->actions = rldt_xmalloc(n * (size_t)m->act_dim * sizeof *d->actions);
    d->rewards = rldt_xmalloc(n * sizeof *d->rewards);
    d->dones = rldt_xmalloc(n * sizeof *d->dones);
    d->states = rldt_xmalloc(n * (size_t)m->state_dim * sizeof *d->states);
    d->ep_return = rldt_xmalloc((size_t)d->n_demos * sizeof *d->ep_return);
    d->ep_success = rldt_xmalloc((size_t)d->n_demos * sizeof *d->ep_success);
    d->obs_mean = rldt_xmalloc((size_t)m->obs_dim * sizeof *d->obs_mean);
    d->obs_std = rldt_xmalloc((size_t)m->obs_dim * sizeof *d->obs_std);
    d->act_min = rldt_xmalloc((size_t)m->act_dim * sizeof *d->act_min);
    d->act_max = rldt_xmalloc((size_t)m->act_dim * sizeof *d->act_max);
}

static rldt_status_t load_file(reader_t *r, rldt_dataset_t *d, const char *mask)
{
    if (H5Lexists(r->file, "data", H5P_DEFAULT) <= 0 || (r->data = H5Gopen2(r->file, "data", H5P_DEFAULT)) < 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: there is no /data group (not a robomimic-layout file)", r->path);
    char *env_args = rldt_h5_read_str_attr(r->data, "env_args");
    if (!env_args) return rldt_error_set(RLDT_ERR_USAGE, "%s: /data has no env_args string attribute", r->path);
    char origin[512];
    snprintf(origin, sizeof origin, "%s: /data.env_args", r->path);
    rldt_status_t st = rldt_dataset_parse_env_args(env_args, &d->meta, origin);
    free(env_args);
    int64_t total = 0;
    if (!st) st = read_i64_attr(r, r->data, "/data", "total", &total);
    if (st) return st;
    d->collect_args = rldt_h5_read_str_attr(r->data, "collect_args");

    demo_list_t all = {0};
    H5Literate(r->data, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, list_demo, &all);
    if (all.bad[0]) st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s is not named demo_<i>", r->path, all.bad);
    else if (all.n == 0) st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data holds no demos", r->path);
    qsort(all.ids, (size_t)all.n, sizeof *all.ids, cmp_int);
    d->file_demos = all.n;
    int64_t *lengths = rldt_xcalloc((size_t)(all.n ? all.n : 1), sizeof *lengths), sum = 0;
    for (int i = 0; !st && i < all.n; i++) {
        char name[32];
        snprintf(name, sizeof name, "demo_%d", all.ids[i]);
        hid_t g = H5Gopen2(r->data, name, H5P_DEFAULT);
        if (g < 0) {
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s is not a group", r->path, name);
            break;
        }
        st = read_i64_attr(r, g, name, "num_samples", &lengths[i]);
        H5Gclose(g);
        if (!st && (lengths[i] < 1 || lengths[i] > (int64_t)1 << 40))
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s num_samples is %lld", r->path, name, (long long)lengths[i]);
        sum += lengths[i];
    }
    if (!st && sum != total)
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data total is %lld but the demos hold %lld samples", r->path, (long long)total,
                            (long long)sum);
    int *sel = NULL, n_sel = all.n;
    if (!st) st = read_masks(r, d, &all, mask, &sel, &n_sel);
    if (!st) {
        d->n_demos = n_sel;
        d->demo_ids = rldt_xmalloc((size_t)n_sel * sizeof *d->demo_ids);
        d->ep_start = rldt_xmalloc(((size_t)n_sel + 1) * sizeof *d->ep_start);
        d->ep_start[0] = 0;
        for (int e = 0; e < n_sel; e++) {
            d->demo_ids[e] = sel ? sel[e] : all.ids[e];
            d->ep_start[e + 1] = d->ep_start[e] + (size_t)lengths[find_id(all.ids, all.n, d->demo_ids[e])];
        }
        d->n_samples = d->ep_start[n_sel];
        allocate(d);
        for (int e = 0; !st && e < n_sel; e++) st = read_demo(r, d, e);
        if (!st) compute_stats(d);
    }
    free(sel);
    free(lengths);
    free(all.ids);
    return st;
}

rldt_status_t rldt_dataset_load(rldt_dataset_t *d, const char *path, const char *mask)
{
    memset(d, 0, sizeof *d);
    rldt_h5_quiet();
    if (access(path, R_OK) != 0) return rldt_error_set(RLDT_ERR_USAGE, "cannot read dataset '%s': %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0) return rldt_error_set(RLDT_ERR_USAGE, "'%s' is not an HDF5 file", path);
    reader_t r = {path, H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), -1, &d->meta};
    if (r.file < 0) return rldt_error_set(RLDT_ERR_USAGE, "cannot open '%s': truncated or damaged HDF5 file", path);
    rldt_status_t st = load_file(&r, d, mask);
    if (r.data >= 0) H5Gclose(r.data);
    H5Fclose(r.file);
    if (st) rldt_dataset_free(d);
    return st;
}

void rldt_dataset_free(rldt_dataset_t *d)
{
    void *arrays[] = {d->demo_ids, d->ep_start, d->ep_index, d->obs, d->next_obs, d->image, d->next_image,
                      d->actions, d->rewards, d->dones, d->states, d->ep_return, d->ep_success, d->obs_mean,
                      d->obs_std, d->act_min, d->act_max, d->collect_args};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    memset(d, 0, sizeof *d);
}
