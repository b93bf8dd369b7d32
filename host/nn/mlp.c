/* mlp.c — the MLP as a short program of backend ops over a flat parameter buffer (see rldt/nn.h).
 *
 * rldt_mlp_init compiles the spec into ops (LINEAR, and LAYERNORM + ACT when the spec has LayerNorm);
 * forward runs them in order, each reading what the op before passes on and writing its own buffers in the
 * workspace; backward runs them in reverse over three scratch gradient buffers. Without LayerNorm every
 * activation and every residual add is fused into a LINEAR (backend linear_forward/linear_backward), so a
 * residual block is two backend calls forward and two backward. */
#include <stdlib.h>
#include <string.h>

#include "rldt/backend.h"
#include "rldt/nn.h"

int rldt_act_parse(const char *name)
{
    static const char *const names[] = {"identity", "relu", "silu", "mish", "tanh"};
    for (int i = 0; name && i < 5; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

rldt_status_t rldt_mlp_spec_check(const rldt_mlp_spec_t *s)
{
    if (s->in < 1) return rldt_error_set(RLDT_ERR_USAGE, "mlp: input width %d < 1", s->in);
    if (s->out < 1) return rldt_error_set(RLDT_ERR_USAGE, "mlp: output width %d < 1", s->out);
    if (s->width < 1) return rldt_error_set(RLDT_ERR_USAGE, "mlp: hidden width %d < 1", s->width);
    if (s->depth < (s->residual ? 0 : 1))
        return rldt_error_set(RLDT_ERR_USAGE, "mlp: depth %d < %d", s->depth, s->residual ? 0 : 1);
    if ((int)s->act < RLDT_ACT_IDENTITY || (int)s->act > RLDT_ACT_TANH)
        return rldt_error_set(RLDT_ERR_USAGE, "mlp: unknown activation %d", (int)s->act);
    return RLDT_OK;
}

// ---------------------------------------------------------------------------------------------------
// compiling the spec into ops

typedef struct {
    rldt_mlp_op_t *ops;
    int n;
    size_t params, ws;
    int max_batch;
} builder_t;

static rldt_mlp_op_t *emit(builder_t *b, rldt_op_kind_t kind, int in, int out)
{
    rldt_mlp_op_t op = {kind, in, out, b->params, b->ws, b->ws, RLDT_ACT_IDENTITY, 0, -1};
    if (kind == RLDT_OP_LINEAR) b->params += (size_t)in * out + out;
    if (kind == RLDT_OP_LAYERNORM) b->params += 2 * (size_t)in;
    b->ws += (size_t)b->max_batch * out;
    if (kind == RLDT_OP_LAYERNORM) {
        op.stats = b->ws;
        b->ws += 2 * (size_t)b->max_batch;
    }
    b->ops[b->n++] = op;
    return &b->ops[b->n - 1];
}

/* The activation (with LayerNorm before it) applied to the output of the LINEAR just emitted: its own ops
 * when there is a LayerNorm between them, else fused into that LINEAR's epilogue (a second buffer). */
static void emit_norm_act(builder_t *b, const rldt_mlp_spec_t *s)
{
    if (s->layernorm) {
        emit(b, RLDT_OP_LAYERNORM, s->width, s->width);
        emit(b, RLDT_OP_ACT, s->width, s->width);
        return;
    }
    rldt_mlp_op_t *lin = &b->ops[b->n - 1];
    lin->fused = s->act;
    lin->post = b->ws;
    b->ws += (size_t)b->max_batch * lin->out;
}

/* Plain: Linear [LN] act, (depth-1) x { Linear [LN] act }, Linear.
 * Residual (pre-activation blocks): Linear, depth x { h + Linear([LN] act(Linear([LN] act(h)))) }, Linear;
 * the block input h is the output of the LINEAR before the block, added by the block's second LINEAR. */
static void build(builder_t *b, const rldt_mlp_spec_t *s)
{
    int W = s->width;
    emit(b, RLDT_OP_LINEAR, s->in, W);
    if (!s->residual) {
        emit_norm_act(b, s);
        for (int l = 1; l < s->depth; l++) {
            emit(b, RLDT_OP_LINEAR, W, W);
            emit_norm_act(b, s);
        }
    } else {
        for (int blk = 0; blk < s->depth; blk++) {
            int block_input = b->n - 1; /* the LINEAR whose output is h */
            emit_norm_act(b, s);
            emit(b, RLDT_OP_LINEAR, W, W);
            emit_norm_act(b, s);
            emit(b, RLDT_OP_LINEAR, W, W)->res = block_input;
        }
    }
    emit(b, RLDT_OP_LINEAR, W, s->out);
}

static int max_ops(const rldt_mlp_spec_t *s) { return 4 + 4 * s->depth + 8 * s->depth; }

size_t rldt_mlp_param_count(const rldt_mlp_spec_t *s)
{
    builder_t b = {rldt_xmalloc(sizeof(rldt_mlp_op_t) * (size_t)max_ops(s)), 0, 0, 0, 1};
    build(&b, s);
    free(b.ops);
    return b.params;
}

rldt_status_t rldt_mlp_init(rldt_mlp_t *m, const rldt_mlp_spec_t *s, int max_batch, const rldt_backend_t *be)
{
    memset(m, 0, sizeof *m);
    rldt_status_t st = rldt_mlp_spec_check(s);
    if (st) return st;
    if (max_batch < 1) return rldt_error_set(RLDT_ERR_USAGE, "mlp: max batch %d < 1", max_batch);
    builder_t b = {rldt_xmalloc(sizeof(rldt_mlp_op_t) * (size_t)max_ops(s)), 0, 0, 0, max_batch};
    build(&b, s);
    int maxdim = s->in > s->out ? s->in : s->out;
    if (s->width > maxdim) maxdim = s->width;
    size_t gsize = (size_t)max_batch * maxdim;
    m->spec = *s;
    m->be = be;
    m->ops = b.ops;
    m->nops = b.n;
    m->nparams = b.params;
    m->max_batch = max_batch;
    for (int i = 0; i < 3; i++) m->grad[i] = b.ws + (size_t)i * gsize;
    m->ws_floats = b.ws + 3 * gsize;
    m->ws = be->alloc(sizeof(float) * m->ws_floats);
    if (!m->ws) {
        free(m->ops);
        m->ops = NULL;
        return rldt_error_set(RLDT_ERR, "mlp: cannot allocate a %zu-float workspace on %s", m->ws_floats, be->name);
    }
    return RLDT_OK;
}

void rldt_mlp_free(rldt_mlp_t *m)
{
    if (m->ws) m->be->free(m->ws);
    free(m->ops);
    memset(m, 0, sizeof *m);
}

void rldt_mlp_init_params(const rldt_mlp_t *m, float *p, rldt_rng_t *rng)
{
    for (int i = 0; i < m->nops; i++) {
        const rldt_mlp_op_t *op = &m->ops[i];
        float *w = p + op->param;
        if (op->kind == RLDT_OP_LINEAR) {
            size_t nw = (size_t)op->in * op->out;
            if (m->spec.init == RLDT_INIT_NORMAL01) {
                for (size_t j = 0; j < nw; j++) w[j] = 0.1f * rldt_rng_normal(rng);
                memset(w + nw, 0, sizeof(float) * (size_t)op->out);
            } else {
                float bound = 1.0f / sqrtf((float)op->in);
                for (size_t j = 0; j < nw + (size_t)op->out; j++) w[j] = bound * (2.0f * rldt_rng_uniform(rng) - 1.0f);
            }
        } else if (op->kind == RLDT_OP_LAYERNORM) {
            for (int c = 0; c < op->in; c++) {
                w[c] = 1.0f;
                w[op->in + c] = 0.0f;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// forward and backward

/* The input of op k: the network input for k = 0, else what op k-1 passes on. */
static const float *activation(const rldt_mlp_t *m, int k) { return k == 0 ? m->input : m->ws + m->ops[k - 1].post; }

const float *rldt_mlp_forward(rldt_mlp_t *m, const float *P, const float *in, int B)
{
    const rldt_backend_t *be = m->be;
    m->input = in;
    m->batch = B;
    for (int i = 0; i < m->nops; i++) {
        const rldt_mlp_op_t *op = &m->ops[i];
        const float *x = activation(m, i), *w = P + op->param;
        float *y = m->ws + op->act;
        switch (op->kind) {
        case RLDT_OP_LINEAR:
            be->linear_forward(y, op->post != op->act ? m->ws + op->post : NULL, x, w, w + (size_t)op->in * op->out,
                               op->res >= 0 ? m->ws + m->ops[op->res].act : NULL, op->fused, B, op->in, op->out);
            break;
        case RLDT_OP_LAYERNORM:
            be->layernorm_forward(y, m->ws + op->stats, m->ws + op->stats + m->max_batch, x, w, w + op->in, B, op->in);
            break;
        case RLDT_OP_ACT: be->act_forward(m->spec.act, y, x, (size_t)B * op->in); break;
        }
    }
    return m->ws + m->ops[m->nops - 1].post;
}

/* Three scratch buffers, no copies: g (the gradient flowing down the main path) and dx alternate, and the
 * gradient at a residual block's output stays parked in the third until the block's input LINEAR adds it. */
void rldt_mlp_backward(rldt_mlp_t *m, const float *P, float *G, const float *dout, float *din)
{
    const rldt_backend_t *be = m->be;
    int B = m->batch, pending = -1;          /* pending: the op that receives the parked gradient */
    int g_buf = -1, skip_buf = -1;           /* which scratch buffer holds g (-1: the caller's dout) / the parked one */
    const float *g = dout;                   /* dL/d(what op i passes on) */
    for (int i = m->nops - 1; i >= 0; i--) {
        const rldt_mlp_op_t *op = &m->ops[i];
        const float *x = activation(m, i), *w = P + op->param;
        float *gw = G ? G + op->param : NULL;
        int dx_buf = 0;
        while (dx_buf == g_buf || dx_buf == skip_buf) dx_buf++;
        float *dx = i == 0 ? din : m->ws + m->grad[dx_buf];
        switch (op->kind) {
        case RLDT_OP_LINEAR: {
            /* dpre in place over g (a scratch buffer whenever it is written: the last op has neither a fused
             * activation nor a residual, so g = dout is only read) */
            const float *dres = pending == i ? m->ws + m->grad[skip_buf] : NULL;
            float *dpre = (float *)g;
            be->linear_backward(dx, gw, gw ? gw + (size_t)op->in * op->out : NULL, dpre, g, dres, m->ws + op->act,
                                op->fused, x, w, B, op->in, op->out);
            if (dres) skip_buf = pending = -1;
            if (op->res >= 0) { /* dpre also flows to the block input: park it */
                skip_buf = g_buf;
                pending = op->res;
            }
            break;
        }
        case RLDT_OP_LAYERNORM:
            be->layernorm_backward(dx, gw, gw ? gw + op->in : NULL, g, x, m->ws + op->stats, m->ws + op->stats + m->max_batch,
                                   w, B, op->in);
            break;
        case RLDT_OP_ACT: be->act_backward(m->spec.act, dx, g, x, (size_t)B * op->in); break;
        }
        g = dx;
        g_buf = i == 0 ? -1 : dx_buf;
    }
}
