/* dataset_read.c — loads a robomimic-layout file into contiguous arrays and validates it on the way (see
 * rldt/dataset.h). Every failure names the file and the HDF5 object; HDF5's own error printing is off. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_reader.h"
#include "h5util.h"
#include "rldt/dataset.h"
#include "rldt/memory.h"
#include "rldt/path.h"


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

/* "demo_<i>" with i a decimal int >= 0 (no sign, no spaces, no overflow) into *id. */
static bool parse_demo_name(const char *name, int *id)
{
    if (strncmp(name, "demo_", 5) != 0 || name[5] < '0' || name[5] > '9' || (name[5] == '0' && name[6])) return false;
    long v = 0;
    for (const char *p = name + 5; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = 10 * v + (*p - '0');
        if (v > INT_MAX) return false;
    }
    *id = (int)v;
    return true;
}

#define MASK_NAME_MAX 256 /* longest fixed-length mask entry read ("demo_<i>" needs 16) */

/* The demo indices named by /mask/<name> (byte strings "demo_<i>"), at most `most` of them (a mask names
 * each demo of the file once). *ids is malloc'd. */
static rldt_status_t read_mask(const reader_t *r, const char *name, int most, int **ids, int *count)
{
    char where[96];
    *ids = NULL;
    *count = 0;
    if (rldt_path_format(where, sizeof where, "/mask/%s", name)) return RLDT_ERR_USAGE;
    hid_t set = H5Dopen2(r->file, where, H5P_DEFAULT);
    if (set < 0) return rldt_error_set(RLDT_ERR_USAGE, "%s: %s is not a dataset", r->path, where);
    hid_t ftype = H5Dget_type(set), space = H5Dget_space(set);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    bool ok = H5Tget_class(ftype) == H5T_STRING && H5Sget_simple_extent_ndims(space) <= 1 && n >= 0;
    /* sizes from the file are checked before anything is allocated for them */
    rldt_status_t st = RLDT_OK;
    if (n > most)
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: %s has %lld entries but /data holds %d demos", r->path, where, (long long)n, most);
    else if (ok && H5Tis_variable_str(ftype) <= 0 && H5Tget_size(ftype) > MASK_NAME_MAX)
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: %s holds strings of %zu bytes (at most %d expected)", r->path, where,
                            H5Tget_size(ftype), MASK_NAME_MAX);
    if (st) {
        H5Sclose(space);
        H5Tclose(ftype);
        H5Dclose(set);
        return st;
    }
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
    st = ok ? RLDT_OK : rldt_error_set(RLDT_ERR_USAGE, "%s: %s is not a list of strings", r->path, where);
    *ids = rldt_xmalloc((size_t)(n > 0 ? n : 1) * sizeof **ids);
    *count = ok ? (int)n : 0;
    for (hssize_t i = 0; i < n; i++) {
        int id = 0;
        if (!st && !parse_demo_name(names[i], &id))
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

/* One dataset of a demo as the spec and the resolved keys say it must be. */
typedef enum { SET_OBS, SET_NEXT_OBS, SET_IMAGE, SET_NEXT_IMAGE, SET_ACTIONS, SET_REWARDS, SET_DONES, SET_STATES } set_kind_t;
typedef struct {
    char name[2 * RLDT_DATASET_NAME_MAX + 2]; /* relative to the demo group */
    set_kind_t kind;
    int key; /* SET_OBS/SET_IMAGE (and next): the index in meta's key list */
    H5T_class_t cls;
    hid_t mem_type;
    int rank;
    hsize_t dims[4];
} set_spec_t;

#define MAX_SETS (4 * RLDT_DATASET_KEYS_MAX + 4)

/* The datasets of a demo of T steps; returns how many. */
static int demo_sets(const rldt_dataset_meta_t *m, hsize_t T, set_spec_t *s)
{
    int n = 0;
    for (int next = 0; next < 1 + m->has_next_obs; next++) {
        const char *group = next ? "next_obs" : "obs";
        for (int k = 0; k < m->n_obs_keys; k++, n++) {
            s[n] = (set_spec_t){"", next ? SET_NEXT_OBS : SET_OBS, k, H5T_FLOAT, H5T_NATIVE_FLOAT, 2, {T, (hsize_t)m->obs_key_dims[k]}};
            snprintf(s[n].name, sizeof s[n].name, "%s/%s", group, m->obs_keys[k]); /* fits: keys < 64 bytes */
        }
        for (int k = 0; k < m->n_image_keys; k++, n++) {
            const rldt_dataset_image_key_t *im = &m->image_keys[k];
            s[n] = (set_spec_t){"", next ? SET_NEXT_IMAGE : SET_IMAGE, k, H5T_INTEGER, H5T_NATIVE_UINT8, 4,
                                {T, (hsize_t)im->h, (hsize_t)im->w, (hsize_t)im->c}};
            snprintf(s[n].name, sizeof s[n].name, "%s/%s", group, im->name);
        }
    }
    s[n++] = (set_spec_t){"actions", SET_ACTIONS, 0, H5T_FLOAT, H5T_NATIVE_FLOAT, 2, {T, (hsize_t)m->act_dim}};
    s[n++] = (set_spec_t){"rewards", SET_REWARDS, 0, H5T_FLOAT, H5T_NATIVE_FLOAT, 1, {T}};
    s[n++] = (set_spec_t){"dones", SET_DONES, 0, H5T_INTEGER, H5T_NATIVE_UINT8, 1, {T}};
    if (m->state_dim) s[n++] = (set_spec_t){"states", SET_STATES, 0, H5T_FLOAT, H5T_NATIVE_DOUBLE, 2, {T, (hsize_t)m->state_dim}};
    return n;
}

/* Opens <demo>/<s->name> into *out after checking its type class and shape against s. */
static rldt_status_t open_set(const reader_t *r, hid_t demo, const char *demo_name, const set_spec_t *s, hid_t *out)
{
    *out = -1;
    if (H5Lexists(demo, s->name, H5P_DEFAULT) <= 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is missing", r->path, demo_name, s->name);
    hid_t set = H5Dopen2(demo, s->name, H5P_DEFAULT);
    if (set < 0) return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is not a dataset", r->path, demo_name, s->name);
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    hsize_t dims[8];
    int got = H5Sget_simple_extent_ndims(space);
    bool shape_ok = got == s->rank;
    if (got >= 0 && got <= 8) H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; shape_ok && i < s->rank; i++) shape_ok = dims[i] == s->dims[i];
    /* images are bytes: a wider integer would be converted with clipping, not refused */
    bool image = s->kind == SET_IMAGE || s->kind == SET_NEXT_IMAGE;
    bool bytes = !image || (H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE);
    rldt_status_t st = RLDT_OK;
    if (H5Tget_class(type) != s->cls || !bytes) {
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s has the wrong type (expected %s)", r->path, demo_name, s->name,
                            s->cls == H5T_FLOAT ? "floating point" : bytes ? "integer" : "uint8");
    } else if (!shape_ok) {
        char have[128] = "?", expect[128];
        if (got >= 0 && got <= 8) format_dims(have, sizeof have, got, dims);
        format_dims(expect, sizeof expect, s->rank, s->dims);
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s has shape %s, expected %s (num_samples, the env_args spec and the lowest demo)",
                            r->path, demo_name, s->name, have, expect);
    }
    H5Sclose(space);
    H5Tclose(type);
    if (st) H5Dclose(set);
    else *out = set;
    return st;
}

/* Checks every dataset of demo `name` (T steps) without reading it: run over all demos before anything is
 * allocated, so a size in the file that disagrees with the data is refused first. */
static rldt_status_t check_demo(const reader_t *r, hid_t g, const char *name, hsize_t T)
{
    set_spec_t sets[MAX_SETS];
    int n = demo_sets(r->meta, T, sets);
    rldt_status_t st = RLDT_OK;
    for (int i = 0; i < n && !st; i++) {
        hid_t set;
        if (!(st = open_set(r, g, name, &sets[i], &set))) H5Dclose(set);
    }
    return st;
}

/* Finite, and small enough that sums, squares and standardised values stay finite in float32. x holds
 * rows of `width` floats; with m, they are observation rows and a bad element is named by its key. */
static rldt_status_t check_values(const reader_t *r, const char *demo_name, const char *group, const rldt_dataset_meta_t *m,
                                  const float *x, size_t n, int width)
{
    for (size_t i = 0; i < n; i++) {
        if (isfinite(x[i]) && fabsf(x[i]) <= RLDT_DATASET_VALUE_MAX) continue;
        char name[2 * RLDT_DATASET_NAME_MAX + 2];
        size_t row = i / (size_t)width, col = i % (size_t)width;
        if (m) { /* an observation row: find the key of this column */
            int k = 0;
            while (k + 1 < m->n_obs_keys && col >= (size_t)m->obs_key_dims[k]) col -= (size_t)m->obs_key_dims[k++];
            snprintf(name, sizeof name, "%s/%s", group, m->obs_keys[k]);
        } else {
            snprintf(name, sizeof name, "%s", group);
        }
        if (!isfinite(x[i]))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s has a non-finite value at step %zu, dim %zu", r->path, demo_name,
                                  name, row, col);
        return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s at step %zu, dim %zu is %g: values must be at most %g in magnitude",
                              r->path, demo_name, name, row, col, (double)x[i], (double)RLDT_DATASET_VALUE_MAX);
    }
    return RLDT_OK;
}

/* Actions are normalised to [-1, 1] by the env_args range: each must lie in [act_low, act_high] (or in
 * [-1, 1] when the file stores them normalised), give or take RLDT_DATASET_ACTION_SLACK of the range. */
static rldt_status_t check_actions(const reader_t *r, const char *demo_name, const float *a, size_t T)
{
    const rldt_dataset_meta_t *m = r->meta;
    for (size_t i = 0; i < T * (size_t)m->act_dim; i++) {
        int j = (int)(i % (size_t)m->act_dim);
        float lo = m->actions_normalized ? -1.0f : m->act_low[j], hi = m->actions_normalized ? 1.0f : m->act_high[j];
        float slack = RLDT_DATASET_ACTION_SLACK * (hi - lo);
        if (!(a[i] >= lo - slack && a[i] <= hi + slack))
            return rldt_error_set(RLDT_ERR_USAGE,
                                  "%s: /data/%s/actions element %zu (step %zu, dim %d) is %g, outside the action range "
                                  "[%g, %g] %s (at most %g%% of the range beyond is accepted)",
                                  r->path, demo_name, i, i / (size_t)m->act_dim, j, (double)a[i], (double)lo, (double)hi,
                                  m->actions_normalized ? "of normalised actions" : m->rldt_spec ? "of env_args" : "of robomimic's actions",
                                  100.0 * RLDT_DATASET_ACTION_SLACK);
    }
    return RLDT_OK;
}

/* Reads one dataset into its rows: an observation key into its columns of the obs rows, anything else whole. */
static herr_t read_set(hid_t set, const set_spec_t *s, const rldt_dataset_meta_t *m, void *dst)
{
    if (s->kind != SET_OBS && s->kind != SET_NEXT_OBS) return H5Dread(set, s->mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    hsize_t col = 0;
    for (int k = 0; k < s->key; k++) col += (hsize_t)m->obs_key_dims[k];
    hsize_t rows[2] = {s->dims[0], (hsize_t)m->obs_dim}, start[2] = {0, col};
    hid_t mem = H5Screate_simple(2, rows, NULL);
    herr_t rc = H5Sselect_hyperslab(mem, H5S_SELECT_SET, start, NULL, s->dims, NULL);
    if (rc >= 0) rc = H5Dread(set, H5T_NATIVE_FLOAT, mem, H5S_ALL, H5P_DEFAULT, dst);
    H5Sclose(mem);
    return rc;
}

/* Reads demo e (demo_<d->demo_ids[e]>) into its rows. */
static rldt_status_t read_demo(const reader_t *r, rldt_dataset_t *d, int e)
{
    const rldt_dataset_meta_t *m = r->meta;
    char name[32];
    snprintf(name, sizeof name, "demo_%d", d->demo_ids[e]);
    size_t at = d->ep_start[e], T = d->ep_start[e + 1] - at;
    size_t od = (size_t)m->obs_dim, ad = (size_t)m->act_dim, sd = (size_t)m->state_dim;
    set_spec_t sets[MAX_SETS];
    int n = demo_sets(m, (hsize_t)T, sets);
    hid_t g = H5Gopen2(r->data, name, H5P_DEFAULT);
    int64_t success = 0;
    rldt_status_t st = RLDT_OK;
    bool has_success = m->rldt_spec || H5Aexists(g, "success") != 0; /* required in rldt's files */
    if (has_success) st = read_i64_attr(r, g, name, "success", &success);
    if (!st && success != 0 && success != 1)
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s attribute 'success' is %lld, expected 0 or 1", r->path, name,
                            (long long)success);
    for (int i = 0; i < n && !st; i++) {
        const set_spec_t *s = &sets[i];
        size_t img = s->kind == SET_IMAGE || s->kind == SET_NEXT_IMAGE ? (size_t)(s->dims[1] * s->dims[2] * s->dims[3]) : 0;
        void *dst = s->kind == SET_OBS        ? (void *)(d->obs + at * od)
                    : s->kind == SET_NEXT_OBS ? (void *)(d->next_obs + at * od)
                    : s->kind == SET_IMAGE    ? (void *)(d->images[s->key] + at * img)
                    : s->kind == SET_NEXT_IMAGE ? (void *)(d->next_images[s->key] + at * img)
                    : s->kind == SET_ACTIONS  ? (void *)(d->actions + at * ad)
                    : s->kind == SET_REWARDS  ? (void *)(d->rewards + at)
                    : s->kind == SET_DONES    ? (void *)(d->dones + at)
                                              : (void *)(d->states + at * sd);
        hid_t set;
        if ((st = open_set(r, g, name, s, &set))) break;
        if (read_set(set, s, m, dst) < 0)
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: cannot read /data/%s/%s (file damaged?)", r->path, name, s->name);
        H5Dclose(set);
    }
    if (!st) st = check_values(r, name, "obs", m, d->obs + at * od, T * od, (int)od);
    if (!st && d->next_obs) st = check_values(r, name, "next_obs", m, d->next_obs + at * od, T * od, (int)od);
    if (!st) st = check_values(r, name, "actions", NULL, d->actions + at * ad, T * ad, (int)ad);
    if (!st) st = check_actions(r, name, d->actions + at * ad, T);
    if (!st) st = check_values(r, name, "rewards", NULL, d->rewards + at, T, 1);
    for (size_t i = 0; !st && i < T; i++)
        if (d->dones[at + i] > 1)
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/dones element %zu is %d, expected 0 or 1", r->path, name, i,
                                (int)d->dones[at + i]);
    for (size_t i = 0; !st && i < T * sd; i++)
        if (!isfinite(d->states[at * sd + i]))
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/states has a non-finite value at element %zu", r->path, name, i);
    H5Gclose(g);
    if (!st && m->actions_normalized) /* back to the task's units (rldt/dataset.h) */
        for (size_t i = 0; i < T * ad; i++) {
            int j = (int)(i % ad);
            float mid = 0.5f * (m->act_low[j] + m->act_high[j]), half = 0.5f * (m->act_high[j] - m->act_low[j]);
            d->actions[at * ad + i] = d->actions[at * ad + i] * half + mid;
        }
    d->ep_return[e] = 0.0f;
    bool reached = false;
    for (size_t i = 0; i < T; i++) {
        d->ep_return[e] += d->rewards[at + i];
        reached |= d->rewards[at + i] >= 1.0f;
        d->ep_index[at + i] = e;
    }
    d->ep_success[e] = has_success ? success != 0 : reached;
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
    int id;
    if (!parse_demo_name(name, &id)) {
        snprintf(l->bad, sizeof l->bad, "%s", name); /* a message only: a long name shows its start */
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

static void sort_ids(int *ids, int n)
{
    if (n > 1) qsort(ids, (size_t)n, sizeof *ids, cmp_int);
}

static int find_id(const int *sorted, int n, int id)
{
    const int *p = n > 0 ? bsearch(&id, sorted, (size_t)n, sizeof id, cmp_int) : NULL;
    return p ? (int)(p - sorted) : -1;
}

#define MASK_KEY_MAX 64 /* longest /mask/<name> looked up */

/* Whether /mask/<name> exists, into *has. A lookup that fails (a damaged /mask group) is an error, not an
 * absent mask: the demos it would have selected must not silently change. */
static rldt_status_t has_mask(const reader_t *r, const char *name, bool *has)
{
    char where[MASK_KEY_MAX + 8];
    *has = false;
    if (rldt_path_format(where, sizeof where, "mask/%s", name)) return RLDT_ERR_USAGE;
    htri_t group = H5Lexists(r->file, "mask", H5P_DEFAULT);
    htri_t set = group > 0 ? H5Lexists(r->file, where, H5P_DEFAULT) : 0;
    if (group < 0 || set < 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: cannot look up /%s (file damaged?)", r->path, group < 0 ? "mask" : where);
    *has = set > 0;
    return RLDT_OK;
}

/* Reads /mask/<name> as sorted demo indices and checks each names a demo of the file, once. */
static rldt_status_t check_mask(const reader_t *r, const demo_list_t *all, const char *name, int **ids, int *n)
{
    rldt_status_t st = read_mask(r, name, all->n, ids, n);
    if (st) return st;
    sort_ids(*ids, *n);
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
    bool has = false, pair[2] = {false, false};
    for (int k = 0; k < 2; k++) {
        rldt_status_t st = has_mask(r, names[k], &pair[k]);
        if (st) return st;
    }
    /* the split comes whole (robomimic's and rldt's writers make both): one alone means the other was lost,
     * and with it the demos it named */
    if (pair[0] != pair[1])
        return rldt_error_set(RLDT_ERR_USAGE, "%s: /mask/%s is there but /mask/%s is not (the train/valid split is incomplete)",
                              r->path, names[pair[0] ? 0 : 1], names[pair[0] ? 1 : 0]);
    for (int k = 0; k < 2 && pair[0]; k++) {
        int *ids = NULL;
        rldt_status_t st = check_mask(r, all, names[k], &ids, counts[k]);
        free(ids);
        if (st) return st;
    }
    if (!mask) return RLDT_OK;
    if (strlen(mask) > MASK_KEY_MAX) return rldt_error_set(RLDT_ERR_USAGE, "mask name '%.64s...' is too long", mask);
    rldt_status_t st = has_mask(r, mask, &has);
    if (st) return st;
    if (!has) return rldt_error_set(RLDT_ERR_USAGE, "%s: there is no mask /mask/%s to select demos with", r->path, mask);
    st = check_mask(r, all, mask, sel, n_sel);
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

double rldt_dataset_sample_bytes(const rldt_dataset_meta_t *m)
{
    double img = 0;
    for (int k = 0; k < m->n_image_keys; k++) img += (double)m->image_keys[k].h * m->image_keys[k].w * m->image_keys[k].c;
    return 2.0 * m->obs_dim * sizeof(float) + 2.0 * img + (double)m->act_dim * sizeof(float) + sizeof(float) /* reward */ +
           1.0 /* done */ + (double)m->state_dim * sizeof(double) + sizeof(int) /* ep_index */;
}

/* What rldt_dataset_load will allocate for n samples in n_demos demos. */
static double dataset_bytes(const rldt_dataset_meta_t *m, double n, int n_demos)
{
    return n * rldt_dataset_sample_bytes(m) + (double)n_demos * (sizeof(int) + sizeof(size_t) + sizeof(float) + 1);
}

static void allocate(rldt_dataset_t *d)
{
    const rldt_dataset_meta_t *m = &d->meta;
    size_t n = d->n_samples;
    d->ep_index = rldt_xmalloc(n * sizeof *d->ep_index);
    d->obs = rldt_xmalloc(n * (size_t)m->obs_dim * sizeof *d->obs);
    if (m->has_next_obs) d->next_obs = rldt_xmalloc(n * (size_t)m->obs_dim * sizeof *d->next_obs);
    for (int k = 0; k < m->n_image_keys; k++) {
        size_t img = (size_t)m->image_keys[k].h * (size_t)m->image_keys[k].w * (size_t)m->image_keys[k].c;
        d->images[k] = rldt_xmalloc(n * img);
        if (m->has_next_obs) d->next_images[k] = rldt_xmalloc(n * img);
    }
    d->actions = rldt_xmalloc(n * (size_t)m->act_dim * sizeof *d->actions);
    d->rewards = rldt_xmalloc(n * sizeof *d->rewards);
    d->dones = rldt_xmalloc(n * sizeof *d->dones);
    if (m->state_dim) d->states = rldt_xmalloc(n * (size_t)m->state_dim * sizeof *d->states);
    d->ep_return = rldt_xmalloc((size_t)d->n_demos * sizeof *d->ep_return);
    d->ep_success = rldt_xmalloc((size_t)d->n_demos * sizeof *d->ep_success);
    d->obs_mean = rldt_xmalloc((size_t)m->obs_dim * sizeof *d->obs_mean);
    d->obs_std = rldt_xmalloc((size_t)m->obs_dim * sizeof *d->obs_std);
    d->act_min = rldt_xmalloc((size_t)m->act_dim * sizeof *d->act_min);
    d->act_max = rldt_xmalloc((size_t)m->act_dim * sizeof *d->act_max);
}

/* /data, its env_args (into r->meta) and its total. */
static rldt_status_t read_header(reader_t *r, int64_t *total)
{
    if (H5Lexists(r->file, "data", H5P_DEFAULT) <= 0 || (r->data = H5Gopen2(r->file, "data", H5P_DEFAULT)) < 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: there is no /data group (not a robomimic-layout file)", r->path);
    char *env_args = rldt_h5_read_str_attr(r->data, "env_args");
    if (!env_args) return rldt_error_set(RLDT_ERR_USAGE, "%s: /data has no env_args string attribute", r->path);
    size_t len = strlen(r->path) + 32;
    char *origin = rldt_xmalloc(len);
    snprintf(origin, len, "%s: /data.env_args", r->path);
    rldt_status_t st = rldt_dataset_parse_env_args(env_args, r->meta, origin);
    free(origin);
    free(env_args);
    if (!st) st = read_i64_attr(r, r->data, "/data", "total", total);
    if (!st && (*total < 1 || *total > RLDT_DATASET_SAMPLES_MAX))
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data total is %lld (1 to %lld samples are supported)", r->path, (long long)*total,
                            (long long)RLDT_DATASET_SAMPLES_MAX);
    return st;
}

/* The demos under /data, sorted (at least one). */
static rldt_status_t list_demos(const reader_t *r, demo_list_t *all)
{
    herr_t listed = H5Literate(r->data, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, list_demo, all);
    rldt_status_t st = RLDT_OK;
    if (all->bad[0]) st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s is not named demo_<i>", r->path, all->bad);
    else if (listed < 0) st = rldt_error_set(RLDT_ERR_USAGE, "%s: cannot list the demos in /data (file damaged?)", r->path);
    else if (all->n == 0) st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data holds no demos", r->path);
    sort_ids(all->ids, all->n);
    return st;
}

static rldt_status_t load_file(reader_t *r, rldt_dataset_t *d, const rldt_dataset_opts_t *o)
{
    int64_t total = 0;
    rldt_status_t st = read_header(r, &total);
    if (st) return st;
    /* collect_args is optional, but one that is there must be readable text */
    htri_t has_args = H5Aexists(r->data, "collect_args");
    if (has_args > 0) d->collect_args = rldt_h5_read_str_attr(r->data, "collect_args");
    if (has_args < 0 || (has_args > 0 && !d->collect_args))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: /data attribute 'collect_args' cannot be read as text (file damaged?)", r->path);

    demo_list_t all = {0};
    st = list_demos(r, &all);
    if (!st) st = rldt_dataset_resolve_keys(r, o, all.ids[0]);
    d->file_demos = all.n;
    /* every size the file states (num_samples, total, env_args) is checked against the datasets themselves
     * and against the machine's memory before anything is allocated for it */
    int64_t *lengths = rldt_xcalloc((size_t)(all.n ? all.n : 1), sizeof *lengths), sum = 0, longest = 0;
    for (int i = 0; !st && i < all.n; i++) {
        char name[32];
        snprintf(name, sizeof name, "demo_%d", all.ids[i]);
        hid_t g = H5Gopen2(r->data, name, H5P_DEFAULT);
        if (g < 0) {
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s is not a group", r->path, name);
            break;
        }
        st = read_i64_attr(r, g, name, "num_samples", &lengths[i]);
        if (!st && (lengths[i] < 1 || lengths[i] > RLDT_DATASET_SAMPLES_MAX - sum))
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s num_samples is %lld (the file's demos may hold 1 to %lld samples in all)",
                                r->path, name, (long long)lengths[i], (long long)RLDT_DATASET_SAMPLES_MAX);
        if (!st) st = check_demo(r, g, name, (hsize_t)lengths[i]);
        H5Gclose(g);
        if (!st) sum += lengths[i];
        if (!st && lengths[i] > longest) longest = lengths[i];
    }
    if (!st && sum != total)
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: /data total is %lld but the demos hold %lld samples", r->path, (long long)total,
                            (long long)sum);
    if (!st && !d->meta.rldt_spec) d->meta.max_steps = longest > INT_MAX ? INT_MAX : (int)longest;
    int *sel = NULL, n_sel = all.n;
    if (!st) st = read_masks(r, d, &all, o ? o->mask : NULL, &sel, &n_sel);
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
        double need = dataset_bytes(&d->meta, (double)d->n_samples, n_sel), avail = rldt_mem_available();
        if (avail >= 0 && need > avail) {
            char a[32], b[32];
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: loading %zu samples of %d demos needs %s of memory, but only %s is available",
                                r->path, d->n_samples, n_sel, rldt_mem_format(need, a, sizeof a), rldt_mem_format(avail, b, sizeof b));
        }
    }
    if (!st) {
        allocate(d);
        for (int e = 0; !st && e < n_sel; e++) st = read_demo(r, d, e);
        if (!st) compute_stats(d);
    }
    free(sel);
    free(lengths);
    free(all.ids);
    return st;
}

/* Opens `path` for reading into r (checks that it is a readable regular HDF5 file first). */
static rldt_status_t open_reader(reader_t *r, const char *path, rldt_dataset_meta_t *meta)
{
    *r = (reader_t){path, -1, -1, meta};
    rldt_h5_quiet();
    if (rldt_path_check_input(path, "dataset")) return RLDT_ERR_USAGE;
    if (access(path, R_OK) != 0) return rldt_error_set(RLDT_ERR_USAGE, "cannot read dataset '%s': %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0) return rldt_error_set(RLDT_ERR_USAGE, "'%s' is not an HDF5 file", path);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) return rldt_error_set(RLDT_ERR_USAGE, "cannot open '%s': truncated or damaged HDF5 file", path);
    return RLDT_OK;
}

static void close_reader(reader_t *r)
{
    if (r->data >= 0) H5Gclose(r->data);
    if (r->file >= 0) H5Fclose(r->file);
}

rldt_status_t rldt_dataset_load_opts(rldt_dataset_t *d, const char *path, const rldt_dataset_opts_t *o)
{
    memset(d, 0, sizeof *d);
    reader_t r;
    rldt_status_t st = open_reader(&r, path, &d->meta);
    if (!st) st = load_file(&r, d, o);
    close_reader(&r);
    if (st) rldt_dataset_free(d);
    return st;
}

rldt_status_t rldt_dataset_load(rldt_dataset_t *d, const char *path, const char *mask)
{
    rldt_dataset_opts_t o = {NULL, NULL, mask};
    return rldt_dataset_load_opts(d, path, &o);
}

rldt_status_t rldt_dataset_has_mask(const char *path, const char *name, bool *has)
{
    rldt_dataset_meta_t meta;
    reader_t r;
    *has = false;
    rldt_status_t st = open_reader(&r, path, &meta);
    if (!st) st = has_mask(&r, name, has);
    close_reader(&r);
    return st;
}

rldt_status_t rldt_dataset_peek(const char *path, const rldt_dataset_opts_t *o, rldt_dataset_meta_t *meta, size_t *samples)
{
    memset(meta, 0, sizeof *meta);
    *samples = 0;
    reader_t r;
    int64_t total = 0;
    demo_list_t all = {0};
    rldt_status_t st = open_reader(&r, path, meta);
    if (!st) st = read_header(&r, &total);
    if (!st) st = list_demos(&r, &all);
    if (!st) st = rldt_dataset_resolve_keys(&r, o, all.ids[0]);
    free(all.ids);
    close_reader(&r);
    if (!st) *samples = (size_t)total;
    return st;
}

void rldt_dataset_free(rldt_dataset_t *d)
{
    void *arrays[] = {d->demo_ids, d->ep_start, d->ep_index, d->obs, d->next_obs, d->actions, d->rewards, d->dones,
                      d->states, d->ep_return, d->ep_success, d->obs_mean, d->obs_std, d->act_min, d->act_max, d->collect_args};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    for (int k = 0; k < RLDT_DATASET_KEYS_MAX; k++) free(d->images[k]), free(d->next_images[k]);
    memset(d, 0, sizeof *d);
}
