/* dataset_env_args.c — the env_args JSON attribute: written from a task spec, parsed back into the
 * file's spec (rldt_dataset_meta_t). Both directions live here so the field names exist in one place.
 *
 * rldt's spec goes in env_kwargs (type 2, robomimic's gym type: robomimic does not recreate these envs), except
 * for robosuite envs: their env_args are robomimic's own (env_name, type 1, env_kwargs for robosuite.make,
 * env_version), so that robomimic recreates the env from them, and rldt's spec goes in an extra "rldt" object
 * (with rldt's env name) that robomimic ignores. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/dataset.h"

#define ROBOMIMIC_GYM_TYPE 2
#define RLDT_KEY "rldt" /* robosuite envs: rldt's spec beside robomimic's env_kwargs */

char *rldt_dataset_env_args(const rldt_env_spec_t *spec, int max_steps)
{
    cJSON *root = spec->robomimic_env ? cJSON_Parse(spec->robomimic_env) : NULL, *kw;
    if (root) {
        kw = cJSON_AddObjectToObject(root, RLDT_KEY);
        cJSON_AddStringToObject(kw, "env_name", spec->name);
    } else {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "env_name", spec->name);
        cJSON_AddNumberToObject(root, "type", ROBOMIMIC_GYM_TYPE);
        kw = cJSON_AddObjectToObject(root, "env_kwargs");
    }
    cJSON_AddNumberToObject(kw, "obs_dim", spec->obs_dim);
    cJSON_AddNumberToObject(kw, "act_dim", spec->act_dim);
    cJSON_AddNumberToObject(kw, "state_dim", spec->state_dim);
    cJSON *lo = cJSON_AddArrayToObject(kw, "act_low"), *hi = cJSON_AddArrayToObject(kw, "act_high");
    for (int j = 0; j < spec->act_dim; j++) {
        cJSON_AddItemToArray(lo, cJSON_CreateNumber(spec->act_low[j]));
        cJSON_AddItemToArray(hi, cJSON_CreateNumber(spec->act_high[j]));
    }
    cJSON_AddNumberToObject(kw, "max_steps", max_steps > 0 ? max_steps : spec->max_steps);
    cJSON_AddStringToObject(kw, "reward_kind", spec->reward_kind == RLDT_REWARD_SPARSE ? "sparse" : "dense");
    int shape[3] = {spec->image_h, spec->image_w, spec->image_c};
    cJSON_AddItemToObject(kw, "image_shape", cJSON_CreateIntArray(shape, 3));
    if (spec->image_h) cJSON_AddStringToObject(kw, "camera", spec->camera ? spec->camera : ""); /* what the images show */
    cJSON_AddNumberToObject(kw, "control_hz", spec->control_hz);
    cJSON_AddNumberToObject(kw, "success_threshold", spec->success_threshold);
    cJSON_AddStringToObject(kw, "success", spec->success);
    cJSON_AddStringToObject(kw, "obs_key", spec->obs_key);
    cJSON_AddBoolToObject(kw, "actions_normalized", 1);
    cJSON_AddStringToObject(root, "rldt_version", RLDT_VERSION);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* ------------------------------------------------------------------------------------------------ */
/* Parsing: each helper reports the field it could not read. */

static rldt_status_t get_int(const cJSON *obj, const char *key, int lo, int hi, int *out, const char *origin)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.%s must be an integer in [%d, %d]", origin, key, lo, hi);
    *out = (int)v->valuedouble;
    return RLDT_OK;
}

static rldt_status_t get_str(const cJSON *obj, const char *key, char *out, const char *origin, const char *where)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= RLDT_DATASET_NAME_MAX)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: %s%s must be a non-empty string shorter than %d bytes", origin, where,
                              key, RLDT_DATASET_NAME_MAX);
    strcpy(out, v->valuestring);
    return RLDT_OK;
}

static rldt_status_t get_floats(const cJSON *obj, const char *key, int n, float *out, const char *origin)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.%s must be an array of act_dim = %d numbers", origin, key, n);
    for (int j = 0; j < n; j++) {
        const cJSON *x = cJSON_GetArrayItem(v, j);
        if (!cJSON_IsNumber(x)) return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.%s[%d] is not a number", origin, key, j);
        if (!(fabs(x->valuedouble) <= RLDT_DATASET_VALUE_MAX))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.%s[%d] is %g (at most %g in magnitude)", origin, key, j,
                                  x->valuedouble, (double)RLDT_DATASET_VALUE_MAX);
        out[j] = (float)x->valuedouble;
    }
    return RLDT_OK;
}

static rldt_status_t parse(const cJSON *root, rldt_dataset_meta_t *m, const char *origin)
{
    rldt_status_t st;
    if (!cJSON_IsObject(root)) return rldt_error_set(RLDT_ERR_USAGE, "%s: env_args is not a JSON object", origin);
    const cJSON *own = cJSON_GetObjectItemCaseSensitive(root, RLDT_KEY);
    if (own && !cJSON_IsObject(own)) return rldt_error_set(RLDT_ERR_USAGE, "%s: env_args.%s is not a JSON object", origin, RLDT_KEY);
    if ((st = get_str(own ? own : root, "env_name", m->env_name, origin, own ? RLDT_KEY "." : ""))) return st;
    const cJSON *kw = own ? own : cJSON_GetObjectItemCaseSensitive(root, "env_kwargs");
    if (!cJSON_IsObject(kw)) return rldt_error_set(RLDT_ERR_USAGE, "%s: env_args has no env_kwargs object", origin);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    m->env_type = own && cJSON_IsNumber(type) ? (int)type->valueint : ROBOMIMIC_GYM_TYPE;
    m->rldt_spec = cJSON_HasObjectItem(kw, "obs_dim") || cJSON_HasObjectItem(kw, "obs_key");
    if (!m->rldt_spec) { /* robomimic's own files: the spec comes from the data (dataset_read.c) */
        if (!cJSON_IsNumber(type) || type->valuedouble != floor(type->valuedouble) || !(fabs(type->valuedouble) <= 1000))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: env_args.type must be an integer (robomimic's EnvType)", origin);
        m->env_type = (int)type->valuedouble;
        m->reward_kind = RLDT_REWARD_SPARSE;
        return RLDT_OK;
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(kw, "actions_normalized");
    if (norm && !cJSON_IsBool(norm))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.actions_normalized must be true or false", origin);
    m->actions_normalized = cJSON_IsTrue(norm);
    if ((st = get_int(kw, "obs_dim", 1, 1 << 20, &m->obs_dim, origin))) return st;
    if ((st = get_int(kw, "act_dim", 1, RLDT_ENV_MAX_ACT, &m->act_dim, origin))) return st;
    if ((st = get_int(kw, "state_dim", 0, 1 << 20, &m->state_dim, origin))) return st; /* 0: Gymnasium envs */
    if ((st = get_int(kw, "max_steps", 1, 1 << 30, &m->max_steps, origin))) return st;
    if ((st = get_floats(kw, "act_low", m->act_dim, m->act_low, origin))) return st;
    if ((st = get_floats(kw, "act_high", m->act_dim, m->act_high, origin))) return st;
    for (int j = 0; j < m->act_dim; j++)
        if (!(m->act_low[j] < m->act_high[j]))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.act_low[%d] = %g is not below act_high[%d] = %g (actions are normalised by the range)",
                                  origin, j, (double)m->act_low[j], j, (double)m->act_high[j]);
    if ((st = get_str(kw, "obs_key", m->obs_key, origin, "env_kwargs."))) return st;
    char kind[RLDT_DATASET_NAME_MAX];
    if ((st = get_str(kw, "reward_kind", kind, origin, "env_kwargs."))) return st;
    if (strcmp(kind, "dense") && strcmp(kind, "sparse"))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.reward_kind is '%s', expected dense or sparse", origin, kind);
    m->reward_kind = strcmp(kind, "sparse") == 0 ? RLDT_REWARD_SPARSE : RLDT_REWARD_DENSE;
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(kw, "image_shape");
    int *hwc[3] = {&m->image_h, &m->image_w, &m->image_c};
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 3)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.image_shape must be [h, w, c]", origin);
    static const int most[3] = {RLDT_DATASET_IMAGE_MAX, RLDT_DATASET_IMAGE_MAX, 4};
    for (int j = 0; j < 3; j++) {
        const cJSON *x = cJSON_GetArrayItem(shape, j);
        if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0 && x->valuedouble <= most[j]) || x->valuedouble != floor(x->valuedouble))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.image_shape[%d] is %g: expected an integer in [0, %d]", origin, j,
                                  cJSON_IsNumber(x) ? x->valuedouble : NAN, most[j]);
        *hwc[j] = (int)x->valuedouble;
    }
    if ((m->image_h == 0) != (m->image_w == 0) || (m->image_h == 0) != (m->image_c == 0))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: env_kwargs.image_shape must be all zero or all positive", origin);
    return RLDT_OK;
}

rldt_status_t rldt_dataset_parse_env_args(const char *json, rldt_dataset_meta_t *meta, const char *origin)
{
    memset(meta, 0, sizeof *meta);
    cJSON *root = cJSON_Parse(json);
    if (!root) return rldt_error_set(RLDT_ERR_USAGE, "%s: env_args is not valid JSON", origin);
    rldt_status_t st = parse(root, meta, origin);
    cJSON_Delete(root);
    return st;
}
