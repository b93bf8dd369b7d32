/* dataset_keys.c — which observation keys the dataset reader reads (data.obs_keys, data.image_keys), resolved
 * against the file's lowest demo (see rldt/dataset.h). */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "dataset_reader.h"
#include "h5util.h"

#define LISTED_MAX 512 /* bytes of obs/ key names quoted in a message */

static herr_t list_name(hid_t group, const char *name, const H5L_info_t *info, void *op)
{
    char *buf = op;
    size_t n = strlen(buf);
    if (n + strlen(name) + 3 < LISTED_MAX) snprintf(buf + n, LISTED_MAX - n, "%s%s", n ? ", " : "", name);
    return 0;
}

/* The names under <demo>/obs, for messages. */
static void obs_names(hid_t demo, char *buf)
{
    buf[0] = 0;
    hid_t g = H5Lexists(demo, "obs", H5P_DEFAULT) > 0 ? H5Gopen2(demo, "obs", H5P_DEFAULT) : -1;
    if (g >= 0) {
        H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, list_name, buf);
        H5Gclose(g);
    }
    if (!buf[0]) snprintf(buf, LISTED_MAX, "nothing");
}

/* Splits a comma-separated key list (spaces around names dropped) into names; `what` names the setting. */
static rldt_status_t split_keys(const char *list, const char *what, char names[][RLDT_DATASET_NAME_MAX], int *n)
{
    *n = 0;
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (!len) return rldt_error_set(RLDT_ERR_USAGE, "%s '%s' has an empty key name", what, list);
        if (len >= RLDT_DATASET_NAME_MAX || memchr(p, '/', len))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: '%.*s' is not a key of obs/ (no '/', shorter than %d bytes)", what,
                                  (int)(len < 80 ? len : 80), p, RLDT_DATASET_NAME_MAX);
        if (*n == RLDT_DATASET_KEYS_MAX) return rldt_error_set(RLDT_ERR_USAGE, "%s names more than %d keys", what, RLDT_DATASET_KEYS_MAX);
        memcpy(names[*n], p, len);
        names[*n][len] = 0;
        for (int k = 0; k < *n; k++)
            if (!strcmp(names[k], names[*n])) return rldt_error_set(RLDT_ERR_USAGE, "%s names '%s' twice", what, names[k]);
        (*n)++;
        p = end ? end + 1 : p + len;
        if (end && !end[1]) return rldt_error_set(RLDT_ERR_USAGE, "%s '%s' has an empty key name", what, list);
    }
    return RLDT_OK;
}

/* A dataset's shape and element type, as found. */
typedef struct {
    int rank; /* -1: not a dataset; 5: more dimensions than any key has (refused as a wrong shape) */
    hsize_t dims[4];
    H5T_class_t cls;
    size_t size;
    bool is_unsigned;
} found_t;

static found_t set_shape(hid_t g, const char *name)
{
    found_t f = {.rank = -1};
    hid_t set = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : -1;
    if (set < 0) return f;
    hid_t type = H5Dget_type(set), space = H5Dget_space(set);
    f.rank = H5Sget_simple_extent_ndims(space);
    if (f.rank >= 0 && f.rank <= 4) H5Sget_simple_extent_dims(space, f.dims, NULL);
    else f.rank = 5;
    f.cls = H5Tget_class(type);
    f.size = H5Tget_size(type);
    f.is_unsigned = H5Tget_sign(type) == H5T_SGN_NONE;
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(set);
    return f;
}

/* obs/<key> of the lowest demo into *f (its path into name); a missing one is an error naming `what` (the
 * setting that named it) and the keys obs/ holds. */
static rldt_status_t find_key(const reader_t *r, hid_t demo, const char *demo_name, const char *key, const char *what,
                              char name[RLDT_DATASET_NAME_MAX + 8], found_t *f)
{
    snprintf(name, RLDT_DATASET_NAME_MAX + 8, "obs/%s", key);
    *f = set_shape(demo, name);
    if (f->rank >= 0) return RLDT_OK;
    char listed[LISTED_MAX];
    obs_names(demo, listed);
    return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is missing (%s; obs/ holds %s)", r->path, demo_name, name, what, listed);
}

/* Low-dim keys: float [T, d]; their widths give obs_dim (which an rldt spec must equal). */
static rldt_status_t resolve_obs_keys(const reader_t *r, hid_t demo, const char *demo_name, const char *list)
{
    rldt_dataset_meta_t *m = r->meta;
    char listed[LISTED_MAX];
    rldt_status_t st = split_keys(list, "data.obs_keys", m->obs_keys, &m->n_obs_keys);
    if (st) return st;
    if (!m->n_obs_keys) {
        if (!m->rldt_spec) {
            obs_names(demo, listed);
            return rldt_error_set(RLDT_ERR_USAGE,
                                  "%s: env_args has no rldt spec (a robomimic file): name the low-dim observation keys to use with "
                                  "data.obs_keys (/data/%s/obs holds %s)", r->path, demo_name, listed);
        }
        snprintf(m->obs_keys[0], sizeof m->obs_keys[0], "%s", m->obs_key);
        m->n_obs_keys = 1;
    }
    long sum = 0;
    for (int k = 0; k < m->n_obs_keys; k++) {
        char name[RLDT_DATASET_NAME_MAX + 8];
        found_t f;
        if ((st = find_key(r, demo, demo_name, m->obs_keys[k], "data.obs_keys", name, &f))) return st;
        if (f.cls != H5T_FLOAT)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is not floating point: low-dim observation keys are float [T, d]%s",
                                  r->path, demo_name, name, f.cls == H5T_INTEGER ? " (an image key?)" : "");
        if (f.rank != 2 || f.dims[1] < 1 || f.dims[1] > RLDT_DATASET_OBS_DIM_MAX)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s has %d dimensions (width %llu): low-dim observation keys are [T, d], d in [1, %d]",
                                  r->path, demo_name, name, f.rank, f.rank >= 2 ? (unsigned long long)f.dims[1] : 0ULL,
                                  RLDT_DATASET_OBS_DIM_MAX);
        m->obs_key_dims[k] = (int)f.dims[1];
        sum += (long)f.dims[1];
    }
    if (sum > RLDT_DATASET_OBS_DIM_MAX)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: data.obs_keys add up to %ld observation dims (at most %d)", r->path, sum,
                              RLDT_DATASET_OBS_DIM_MAX);
    if (m->rldt_spec && sum != m->obs_dim)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: data.obs_keys add up to %ld observation dims but env_args obs_dim is %d", r->path, sum,
                              m->obs_dim);
    m->obs_dim = (int)sum;
    return RLDT_OK;
}

/* Image keys: uint8 [T, h, w, c]; an rldt spec's image key must have the spec's shape. */
static rldt_status_t resolve_image_keys(const reader_t *r, hid_t demo, const char *demo_name, const char *list)
{
    rldt_dataset_meta_t *m = r->meta;
    char names[RLDT_DATASET_KEYS_MAX][RLDT_DATASET_NAME_MAX];
    rldt_status_t st = split_keys(list, "image_keys", names, &m->n_image_keys);
    if (st) return st;
    if (!m->n_image_keys && m->rldt_spec && m->image_h) {
        snprintf(names[0], sizeof names[0], "%s", RLDT_DATASET_IMAGE_KEY);
        m->n_image_keys = 1;
    }
    for (int k = 0; k < m->n_image_keys; k++) {
        rldt_dataset_image_key_t *im = &m->image_keys[k];
        char name[RLDT_DATASET_NAME_MAX + 8];
        found_t f;
        if ((st = find_key(r, demo, demo_name, names[k], "image keys", name, &f))) return st;
        if (f.cls != H5T_INTEGER || f.size != 1 || !f.is_unsigned || f.rank != 4 || f.dims[1] < 1 || f.dims[1] > RLDT_DATASET_IMAGE_MAX ||
            f.dims[2] < 1 || f.dims[2] > RLDT_DATASET_IMAGE_MAX || f.dims[3] < 1 || f.dims[3] > 4)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is not an image: image keys are uint8 [T, h, w, c] with h, w in [1, %d], c in [1, 4]",
                                  r->path, demo_name, name, RLDT_DATASET_IMAGE_MAX);
        *im = (rldt_dataset_image_key_t){"", (int)f.dims[1], (int)f.dims[2], (int)f.dims[3]};
        snprintf(im->name, sizeof im->name, "%s", names[k]);
        if (m->rldt_spec && !strcmp(im->name, RLDT_DATASET_IMAGE_KEY) && m->image_h &&
            (im->h != m->image_h || im->w != m->image_w || im->c != m->image_c))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/%s is %d x %d x %d but env_args image_shape is [%d, %d, %d]", r->path,
                                  demo_name, name, im->h, im->w, im->c, m->image_h, m->image_w, m->image_c);
    }
    return RLDT_OK;
}

/* The spec of a file without rldt's: act_dim and state_dim from the lowest demo's actions and states,
 * actions in [-1, 1], next_obs when every key has one there. */
static rldt_status_t infer_spec(const reader_t *r, hid_t demo, const char *demo_name)
{
    rldt_dataset_meta_t *m = r->meta;
    found_t f = set_shape(demo, "actions");
    if (f.rank != 2 || f.cls != H5T_FLOAT || f.dims[1] < 1 || f.dims[1] > RLDT_ENV_MAX_ACT)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/actions is %s: expected float [T, act_dim], act_dim in [1, %d]", r->path,
                              demo_name, f.rank < 0 ? "missing" : "not that", RLDT_ENV_MAX_ACT);
    m->act_dim = (int)f.dims[1];
    for (int j = 0; j < m->act_dim; j++) m->act_low[j] = -1.0f, m->act_high[j] = 1.0f;
    f = set_shape(demo, "states");
    if (f.rank >= 0 && (f.rank != 2 || f.cls != H5T_FLOAT || f.dims[1] < 1 || f.dims[1] > RLDT_DATASET_OBS_DIM_MAX))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s/states is not float [T, state_dim], state_dim in [1, %d]", r->path, demo_name,
                              RLDT_DATASET_OBS_DIM_MAX);
    m->state_dim = f.rank < 0 ? 0 : (int)f.dims[1];
    m->has_next_obs = true;
    for (int k = 0; k < m->n_obs_keys + m->n_image_keys; k++) {
        char name[RLDT_DATASET_NAME_MAX + 16];
        snprintf(name, sizeof name, "next_obs/%s", k < m->n_obs_keys ? m->obs_keys[k] : m->image_keys[k - m->n_obs_keys].name);
        m->has_next_obs &= H5Lexists(demo, "next_obs", H5P_DEFAULT) > 0 && H5Lexists(demo, name, H5P_DEFAULT) > 0;
    }
    return RLDT_OK;
}

rldt_status_t rldt_dataset_resolve_keys(const reader_t *r, const rldt_dataset_opts_t *o, int first)
{
    char name[32];
    snprintf(name, sizeof name, "demo_%d", first);
    hid_t g = H5Gopen2(r->data, name, H5P_DEFAULT);
    if (g < 0) return rldt_error_set(RLDT_ERR_USAGE, "%s: /data/%s is not a group", r->path, name);
    r->meta->has_next_obs = r->meta->rldt_spec;
    rldt_status_t st = resolve_obs_keys(r, g, name, o ? o->obs_keys : NULL);
    if (!st) st = resolve_image_keys(r, g, name, o ? o->image_keys : NULL);
    if (!st && !r->meta->rldt_spec) st = infer_spec(r, g, name);
    H5Gclose(g);
    return st;
}
