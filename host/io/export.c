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
#include "rldt/pixels.h"
#include "rldt/policy.h"

typedef struct {
    char name[64];
    const float *data;
    int ndim, shape[4];
} tensor_t;

static tensor_t tensor(const float *data, int ndim, int d0, int d1, int d2, int d3)
{
    return (tensor_t){{0}, data, ndim, {d0, d1, d2, d3}};
}

static size_t tensor_floats(const tensor_t *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* Appends the parameter tensors of one MLP program under `prefix`. */
static int mlp_tensors(const rldt_mlp_t *m, const float *params, const char *prefix, tensor_t *out)
{
    int n = 0, linear = 0, norm = 0;
    for (int i = 0; i < m->nops; i++) {
        const rldt_mlp_op_t *op = &m->ops[i];
        const float *w = params + op->param;
        if (op->kind == RLDT_OP_LINEAR) {
            out[n] = tensor(w, 2, op->out, op->in, 0, 0);
            snprintf(out[n++].name, sizeof out[0].name, "%s.linear%d.weight", prefix, linear);
            out[n] = tensor(w + (size_t)op->in * op->out, 1, op->out, 0, 0, 0);
            snprintf(out[n++].name, sizeof out[0].name, "%s.linear%d.bias", prefix, linear++);
        } else if (op->kind == RLDT_OP_LAYERNORM) {
            out[n] = tensor(w, 1, op->in, 0, 0, 0);
            snprintf(out[n++].name, sizeof out[0].name, "%s.norm%d.weight", prefix, norm);
            out[n] = tensor(w + op->in, 1, op->in, 0, 0, 0);
            snprintf(out[n++].name, sizeof out[0].name, "%s.norm%d.bias", prefix, norm++);
        }
    }
    return n;
}

/* Appends a pixel policy's image encoder under "encoder." in PyTorch's layouts, the permuted weights written
 * into `buf` (e->nparams floats, at the parameters' own offsets): conv weights [out][3][3][in] ->
 * [out][in][3][3] (torch.nn.Conv2d), the projection's columns from the NHWC flatten order [Ho][Wo][channels]
 * to the NCHW one [channels][Ho][Wo] (torch.flatten of Conv2d outputs). Biases and the LayerNorm as they are. */
static int encoder_tensors(const rldt_encoder_t *e, const float *params, float *buf, tensor_t *out)
{
    const rldt_encoder_spec_t *s = &e->spec;
    int n = 0, K = s->channels, F = s->feature, flat = e->flat;
    for (int l = 0; l < s->layers; l++) {
        int C = e->conv[l].C;
        const float *w = params + e->conv_param[l];
        float *dst = buf + e->conv_param[l];
        for (int o = 0; o < K; o++)
            for (int k = 0; k < 9; k++)
                for (int i = 0; i < C; i++) dst[((size_t)o * C + i) * 9 + k] = w[((size_t)o * 9 + k) * C + i];
        out[n] = tensor(dst, 4, K, C, 3, 3);
        snprintf(out[n++].name, sizeof out[0].name, "encoder.conv%d.weight", l);
        out[n] = tensor(w + (size_t)K * 9 * C, 1, K, 0, 0, 0);
        snprintf(out[n++].name, sizeof out[0].name, "encoder.conv%d.bias", l);
    }
    int HW = flat / K;
    const float *wp = params + e->proj_param;
    float *dst = buf + e->proj_param;
    for (int f = 0; f < F; f++)
        for (int px = 0; px < HW; px++)
            for (int ch = 0; ch < K; ch++)
                dst[(size_t)f * flat + (size_t)ch * HW + px] = wp[(size_t)f * flat + (size_t)px * K + ch];
    const char *names[4] = {"encoder.proj.weight", "encoder.proj.bias", "encoder.norm.weight", "encoder.norm.bias"};
    out[n++] = tensor(dst, 2, F, flat, 0, 0);
    out[n++] = tensor(wp + (size_t)F * flat, 1, F, 0, 0, 0);
    out[n++] = tensor(params + e->ln_param, 1, F, 0, 0, 0);
    out[n++] = tensor(params + e->ln_param + F, 1, F, 0, 0, 0);
    for (int i = 0; i < 4; i++) snprintf(out[n - 4 + i].name, sizeof out[0].name, "%s", names[i]);
    return n;
}

/* The network in words; for a pixel policy (px->enc.ws set) with its encoder. */
static char *architecture(const rldt_policy_t *p, const rldt_pixels_t *px)
{
    const rldt_policy_spec_t *s = &p->spec;
    char obs[512];
    if (px->enc.ws) {
        const rldt_encoder_spec_t *e = &px->enc.spec;
        snprintf(obs, sizeof obs,
                 "(obs - obs_mean) / obs_std (%d low-dim columns) | encoder(image) (%d features, not standardised)]; "
                 "encoder: uint8 image %d x %d x %d (h x w x c; NCHW in torch after a permute) -> v / 255 - 0.5 -> "
                 "%d x (Conv2d 3x3, %d channels, stride %d for the first and 1 after, no padding, relu) -> flatten (NCHW) -> "
                 "proj (Linear %d -> %d) -> norm (LayerNorm, eps %g) -> tanh; no augmentation at inference (the random "
                 "shift is training only)",
                 px->od, px->F, e->h, e->w, e->c, e->layers, e->channels, e->stride0, px->enc.flat, e->feature, (double)RLDT_LN_EPS);
    } else {
        snprintf(obs, sizeof obs, "(obs - obs_mean) / obs_std (%d)]", s->obs_dim);
    }
    char *buf = rldt_xmalloc(2048);
    snprintf(buf, 2048,
             "v(x, t | obs): temb = time_mlp(sinusoidal_%d(t)) with time_mlp = linear0 -> mish -> linear1; "
             "body input = [x (%d = chunk %d x act %d) | temb (%d) | %s; "
             "body = linear0, then %d pre-activation residual block(s) h + linear(act(%slinear(act(%sh)))), then linear_last; "
             "activation %s; K = %d Euler steps from x_0 ~ N(0, I); actions in [-1, 1] map to [act_low, act_high]",
             s->time_dim, s->D, s->chunk, s->act_dim, s->time_dim, obs, s->body_spec.depth,
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
    rldt_pixels_t px;
    if ((st = rldt_policy_from_ckpt_pixels(c, &cfg, &p, &px, 1, rldt_backend_cpu()))) {
        rldt_ckpt_close(c);
        return st;
    }
    /* the output must not replace the checkpoint, nor a file the checkpoint's run read */
    rldt_path_input_t inputs[1 + RLDT_CONFIG_INPUTS] = {{ckpt_path, "checkpoint"}};
    int n_inputs = 1 + rldt_config_input_paths(&cfg, inputs + 1);
    if ((st = rldt_path_check_output(out_path, "out=", inputs, n_inputs, true))) {
        rldt_ckpt_close(c);
        rldt_pixels_free(&px);
        rldt_policy_free(&p);
        return st;
    }
    bool pixels = px.enc.ws != NULL;
    size_t nenc = pixels ? px.enc.nparams : 0;
    float *w = rldt_xmalloc(sizeof(float) * (p.nparams + nenc)), *enc = pixels ? rldt_xmalloc(sizeof(float) * nenc) : NULL;
    st = rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w, p.nparams + nenc);
    char *config = strdup(rldt_ckpt_config(c));
    rldt_ckpt_close(c);
    size_t n_tensors = (size_t)(p.time_mlp.nops + p.body.nops) * 2 + 4 + (pixels ? 2 * (size_t)px.enc.spec.layers + 4 : 0);
    tensor_t *t = rldt_xcalloc(n_tensors, sizeof *t);
    int n = 0;
    if (!st) {
        n += mlp_tensors(&p.time_mlp, w, "time_mlp", t + n);
        n += mlp_tensors(&p.body, w + p.body_offset, "body", t + n);
        /* a pixel policy's features enter the body as they are: its obs normalisers cover the low-dim columns */
        int od = pixels ? px.od : p.spec.obs_dim;
        const char *norm_names[4] = {"normalizer.obs_mean", "normalizer.obs_std", "normalizer.act_low", "normalizer.act_high"};
        const float *norm_data[4] = {p.obs_mean, p.obs_std, p.act_low, p.act_high};
        int norm_len[4] = {od, od, p.spec.act_dim, p.spec.act_dim};
        for (int i = 0; i < 4; i++) {
            t[n] = tensor(norm_data[i], 1, norm_len[i], 0, 0, 0);
            snprintf(t[n++].name, sizeof t[0].name, "%s", norm_names[i]);
        }
        if (pixels) n += encoder_tensors(&px.enc, w + px.at, enc, t + n);
    }
    /* header: offsets into the data block, tensors back to back */
    cJSON *h = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = sizeof(float) * tensor_floats(&t[i]);
        cJSON *e = cJSON_AddObjectToObject(h, t[i].name);
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t[i].ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(t[i].shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    cJSON *meta = cJSON_AddObjectToObject(h, "__metadata__");
    char *arch = architecture(&p, &px);
    cJSON_AddStringToObject(meta, "rldt_config", config);
    cJSON_AddStringToObject(meta, "rldt_architecture", arch);
    cJSON_AddStringToObject(meta, "rldt_version", RLDT_VERSION);
    if (pixels) { /* the encoder's shape for programs: a JSON object, as rldt_config is */
        const rldt_encoder_spec_t *e = &px.enc.spec;
        char enc_json[256];
        snprintf(enc_json, sizeof enc_json,
                 "{\"image_hwc\":[%d,%d,%d],\"layers\":%d,\"channels\":%d,\"stride0\":%d,\"feature\":%d,\"low_dim\":%d}",
                 e->h, e->w, e->c, e->layers, e->channels, e->stride0, e->feature, px.od);
        cJSON_AddStringToObject(meta, "rldt_encoder", enc_json);
    }
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
            size_t cnt = tensor_floats(&t[i]);
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
    free(json), free(arch), free(config), free(t), free(w), free(enc);
    cJSON_Delete(h);
    rldt_pixels_free(&px);
    rldt_policy_free(&p);
    return st;
}
