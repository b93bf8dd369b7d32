/* export.c — a checkpoint's policy as safetensors (see rldt/export.h), written as durably as a checkpoint:
 * to "<out>.tmp", synced, renamed over <out>, the directory synced (durable.h). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "rldt/checkpoint.h"
#include "rldt/export.h"
#include "rldt/path.h"
#include "rldt/policy.h"

typedef struct {
    char name[64];
    const float *data;
    int rows, cols; /* cols 0: a vector of `rows` */
} tensor_t;

/* Appends the parameter tensors of one MLP program under `prefix`. */
static int mlp_tensors(const rldt_mlp_t *m, const float *params, const char *prefix, tensor_t *out)
{
    int n = 0, linear = 0, norm = 0;
    for (int i = 0; i < m->nops; i++) {
        const rldt_mlp_op_t *op = &m->ops[i];
        const float *w = params + op->param;
        if (op->kind == RLDT_OP_LINEAR) {
            out[n] = (tensor_t){{0}, w, op->out, op->in};
            snprintf(out[n++].name, sizeof out[0].name, "%s.linear%d.weight", prefix, linear);
            out[n] = (tensor_t){{0}, w + (size_t)op->in * op->out, op->out, 0};
            snprintf(out[n++].name, sizeof out[0].name, "%s.linear%d.bias", prefix, linear++);
        } else if (op->kind == RLDT_OP_LAYERNORM) {
            out[n] = (tensor_t){{0}, w, op->in, 0};
            snprintf(out[n++].name, sizeof out[0].name, "%s.norm%d.weight", prefix, norm);
            out[n] = (tensor_t){{0}, w + op->in, op->in, 0};
            snprintf(out[n++].name, sizeof out[0].name, "%s.norm%d.bias", prefix, norm++);
        }
    }
    return n;
}

static char *architecture(const rldt_policy_t *p)
{
    const rldt_policy_spec_t *s = &p->spec;
    char *buf = rldt_xmalloc(1024);
    snprintf(buf, 1024,
             "v(x, t | obs): temb = time_mlp(sinusoidal_%d(t)) with time_mlp = linear0 -> mish -> linear1; "
             "body input = [x (%d = chunk %d x act %d) | temb (%d) | (obs - obs_mean) / obs_std (%d)]; "
             "body = linear0, then %d pre-activation residual block(s) h + linear(act(%slinear(act(%sh)))), then linear_last; "
             "activation %s; K = %d Euler steps from x_0 ~ N(0, I); actions in [-1, 1] map to [act_low, act_high]",
             s->time_dim, s->D, s->chunk, s->act_dim, s->time_dim, s->obs_dim, s->body_spec.depth,
             s->body_spec.layernorm ? "norm " : "", s->body_spec.layernorm ? "norm " : "",
             s->body_spec.act == RLDT_ACT_RELU ? "relu" : s->body_spec.act == RLDT_ACT_SILU ? "silu" : s->body_spec.act == RLDT_ACT_MISH ? "mish" : "tanh",
             s->K);
    return buf;
}

rldt_status_t rldt_export_safetensors(const char *ckpt_path, const char *out_path)
{
    rldt_ckpt_t *c;
    rldt_status_t st = rldt_path_check_input(ckpt_path, "checkpoint");
    if (!st) st = rldt_ckpt_open(&c, ckpt_path, NULL);
    if (st) return st;
    rldt_config_t cfg;
    rldt_policy_t p;
    if ((st = rldt_policy_from_ckpt(c, &cfg, &p, 1, rldt_backend_cpu()))) {
        rldt_ckpt_close(c);
        return st;
    }
    /* the output must not replace the checkpoint, nor a file the checkpoint's run read */
    rldt_path_input_t inputs[1 + RLDT_CONFIG_INPUTS] = {{ckpt_path, "checkpoint"}};
    int n_inputs = 1 + rldt_config_input_paths(&cfg, inputs + 1);
    if ((st = rldt_path_check_output(out_path, "out=", inputs, n_inputs, true))) {
        rldt_ckpt_close(c);
        rldt_policy_free(&p);
        return st;
    }
    float *w = rldt_xmalloc(sizeof(float) * p.nparams);
    st = rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w, p.nparams);
    char *config = strdup(rldt_ckpt_config(c));
    rldt_ckpt_close(c);
    tensor_t *t = rldt_xcalloc((size_t)(p.time_mlp.nops + p.body.nops) * 2 + 4, sizeof *t);
    int n = 0;
    if (!st) {
        n += mlp_tensors(&p.time_mlp, w, "time_mlp", t + n);
        n += mlp_tensors(&p.body, w + p.body_offset, "body", t + n);
        const char *norm_names[4] = {"normalizer.obs_mean", "normalizer.obs_std", "normalizer.act_low", "normalizer.act_high"};
        const float *norm_data[4] = {p.obs_mean, p.obs_std, p.act_low, p.act_high};
        int norm_len[4] = {p.spec.obs_dim, p.spec.obs_dim, p.spec.act_dim, p.spec.act_dim};
        for (int i = 0; i < 4; i++) {
            t[n] = (tensor_t){{0}, norm_data[i], norm_len[i], 0};
            snprintf(t[n++].name, sizeof t[0].name, "%s", norm_names[i]);
        }
    }
    /* header: offsets into the data block, tensors back to back */
    cJSON *h = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = sizeof(float) * (size_t)t[i].rows * (size_t)(t[i].cols ? t[i].cols : 1);
        cJSON *e = cJSON_AddObjectToObject(h, t[i].name);
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(t[i].rows));
        if (t[i].cols) cJSON_AddItemToArray(shape, cJSON_CreateNumber(t[i].cols));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    cJSON *meta = cJSON_AddObjectToObject(h, "__metadata__");
    char *arch = architecture(&p);
    cJSON_AddStringToObject(meta, "rldt_config", config);
    cJSON_AddStringToObject(meta, "rldt_architecture", arch);
    cJSON_AddStringToObject(meta, "rldt_version", RLDT_VERSION);
    char *json = cJSON_PrintUnformatted(h);
    size_t hlen = strlen(json), padded = (hlen + 7) / 8 * 8;
    char *tmp = rldt_tmp_path(out_path);
    rldt_ignore_sigxfsz();
    FILE *f = st ? NULL : fopen(tmp, "wb");
    if (!st && !f) st = rldt_error_set(RLDT_ERR, "cannot write %s: %s", tmp, strerror(errno));
    if (f) {
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        int bad = fwrite(len8, 1, 8, f) != 8 || fwrite(json, 1, hlen, f) != hlen;
        for (size_t i = hlen; i < padded && !bad; i++) bad = fputc(' ', f) == EOF;
        for (int i = 0; i < n && !bad; i++) { /* float32 little-endian: the host layout on x86_64 and arm64 */
            size_t cnt = (size_t)t[i].rows * (size_t)(t[i].cols ? t[i].cols : 1);
            bad = fwrite(t[i].data, sizeof(float), cnt, f) != cnt;
        }
        int err = bad ? errno : 0;
        if (!bad && (fflush(f) != 0 || fsync(fileno(f)) != 0)) bad = 1, err = errno;
        if (fclose(f) != 0 && !bad) bad = 1, err = errno;
        if (bad) {
            remove(tmp);
            st = rldt_error_set(RLDT_ERR, "writing %s failed: %s; nothing was written there", out_path, strerror(err));
        } else {
            st = rldt_commit_tmp(tmp, out_path, "export");
        }
    }
    free(tmp);
    free(json), free(arch), free(config), free(t), free(w);
    cJSON_Delete(h);
    rldt_policy_free(&p);
    return st;
}
