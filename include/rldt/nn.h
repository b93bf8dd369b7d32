/* rldt/nn.h — the neural-network core: per-element math shared by both backends, and the MLP, a small
 * network built from backend ops on flat buffers (llm.c style).
 *
 * Shapes are row-major: a batch of B rows of C floats is x[b*C + c]. Linear layers store W as [out][in]
 * (the PyTorch layout) followed by the bias [out]; LayerNorm stores gamma [C] then beta [C].
 *
 * An MLP separates what it is (rldt_mlp_spec_t, shapes), what it knows (a flat parameter buffer owned by
 * the caller, so several networks can share one buffer, one gradient buffer and one set of Adam moments)
 * and where it computes (a workspace of activations sized once for a maximum batch). Forward and backward
 * never allocate. Backward accumulates (+=) into the gradient buffer: zero it before a new step. */
#ifndef RLDT_NN_H
#define RLDT_NN_H

#include <math.h>
#include <stdbool.h>

#include "rldt/common.h"
#include "rldt/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RLDT_ACT_IDENTITY = 0, RLDT_ACT_RELU, RLDT_ACT_SILU, RLDT_ACT_MISH, RLDT_ACT_TANH } rldt_act_t;

/* Parses "identity", "relu", "silu", "mish" or "tanh"; -1 otherwise. */
int rldt_act_parse(const char *name);

// ---------------------------------------------------------------------------------------------------
// per-element math (host and device)

RLDT_HD float rldt_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* softplus(x) = log(1 + e^x) without overflow. */
RLDT_HD float rldt_softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* tanh(softplus(x)) with one exp: with n = e^x (e^x + 2), tanh(log(1 + e^x)) = n / (n + 2). Above x = 20
 * it is 1 to float precision (and n would overflow near x = 44). */
RLDT_HD float rldt_tanh_softplusf(float x)
{
    if (x > 20.0f) return 1.0f;
    float e = expf(x), n = e * (e + 2.0f);
    return n / (n + 2.0f);
}

RLDT_HD float rldt_act_f(rldt_act_t a, float x)
{
    switch (a) {
    case RLDT_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case RLDT_ACT_SILU: return x * rldt_sigmoidf(x);
    case RLDT_ACT_MISH: return x * rldt_tanh_softplusf(x);
    case RLDT_ACT_TANH: return tanhf(x);
    default: return x;
    }
}

/* d act(x) / dx. */
RLDT_HD float rldt_act_df(rldt_act_t a, float x)
{
    switch (a) {
    case RLDT_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case RLDT_ACT_SILU: {
        float s = rldt_sigmoidf(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case RLDT_ACT_MISH: { /* tanh(sp) + x * sech^2(sp) * sigmoid(x), sp = softplus(x) */
        float th = rldt_tanh_softplusf(x);
        return th + x * (1.0f - th * th) * rldt_sigmoidf(x);
    }
    case RLDT_ACT_TANH: {
        float th = tanhf(x);
        return 1.0f - th * th;
    }
    default: return 1.0f;
    }
}

/* Sinusoidal time features, element j of `dim` (even) for time t: with half = dim/2 and
 * f_i = exp(-ln(10000) * i / (half - 1)), features are [sin(t f_0..f_{half-1}), cos(t f_0..f_{half-1})]. */
RLDT_HD float rldt_time_feature(float t, int j, int dim)
{
    int half = dim / 2, i = j < half ? j : j - half;
    float f = half > 1 ? expf(-9.210340371976184f * (float)i / (float)(half - 1)) : 1.0f;
    return j < half ? sinf(t * f) : cosf(t * f);
}

/* One element of a flow-matching training pair: the point at time t on the straight path from noise z
 * (t = 0) to action a (t = 1), and the path's velocity. */
RLDT_HD void rldt_flow_pair_elem(float t, float a, float z, float *xt, float *target)
{
    *xt = (1.0f - t) * z + t * a;
    *target = a - z;
}

#define RLDT_LN_EPS 1e-5f

// ---------------------------------------------------------------------------------------------------
// the MLP

typedef enum {
    RLDT_INIT_TORCH = 0, /* PyTorch's Linear default: W, b ~ U(-1/sqrt(in), 1/sqrt(in)) */
    RLDT_INIT_NORMAL01,  /* W ~ N(0, 0.1^2), b = 0 (the RLDT critics) */
} rldt_init_t;

/* Two shapes:
 *  plain    (residual = false): Linear(in,W) [LN] act, then (depth-1) x { Linear(W,W) [LN] act }, Linear(W,out).
 *           depth = number of hidden layers (>= 1).
 *  residual (residual = true):  Linear(in,W), then depth x pre-activation block
 *           { h + Linear(W,W)( act([LN] Linear(W,W)( act([LN] h) )) ) }, then Linear(W,out).
 *           depth = number of blocks (>= 0). */
typedef struct {
    int in, out, width, depth;
    bool residual;
    rldt_act_t act;
    bool layernorm;
    rldt_init_t init;
} rldt_mlp_spec_t;

typedef enum { RLDT_OP_LINEAR, RLDT_OP_LAYERNORM, RLDT_OP_ACT } rldt_op_kind_t;

/* One step of the network program: reads the output of op i-1 (the network input for op 0) and writes its
 * own. Without LayerNorm the activations are fused into the LINEAR before them and the residual add into the
 * block's second LINEAR, so a program is just its LINEAR ops (backend linear_forward/linear_backward). */
typedef struct {
    rldt_op_kind_t kind;
    int in, out;       /* feature widths */
    size_t param;      /* offset of this op's parameters in the flat buffer */
    size_t act;        /* offset of its output in the workspace (LINEAR: the pre-activation) */
    size_t post;       /* offset of what the next op reads: act(pre) for a LINEAR with a fused activation,
                        * else equal to act */
    rldt_act_t fused;  /* LINEAR: the activation fused into its epilogue (identity: none) */
    size_t stats;      /* LayerNorm: offset of mean [B] then rstd [B] in the workspace */
    int res;           /* LINEAR: the op whose pre-activation is added (the residual block's input), -1: none */
} rldt_mlp_op_t;

struct rldt_backend;

typedef struct {
    rldt_mlp_spec_t spec;
    const struct rldt_backend *be;
    rldt_mlp_op_t *ops;
    int nops;
    size_t nparams;
    int max_batch;
    float *ws;        /* workspace (backend memory): activations, LN stats, backward scratch */
    size_t ws_floats;
    size_t grad[3];   /* offsets of the three backward scratch buffers (ping-pong + the residual branch's) */
    const float *input; /* input of the last forward (kept for backward) */
    int batch;          /* batch of the last forward */
} rldt_mlp_t;

/* Checks the spec; RLDT_ERR_USAGE naming the bad field. */
rldt_status_t rldt_mlp_spec_check(const rldt_mlp_spec_t *spec);
/* Number of parameters (floats) of a spec. */
size_t rldt_mlp_param_count(const rldt_mlp_spec_t *spec);
/* Builds the network program and allocates a workspace for batches up to max_batch on backend `be`. */
rldt_status_t rldt_mlp_init(rldt_mlp_t *m, const rldt_mlp_spec_t *spec, int max_batch, const struct rldt_backend *be);
void rldt_mlp_free(rldt_mlp_t *m);
/* Writes initial parameters into a HOST array of rldt_mlp_param_count floats (upload it afterwards). */
void rldt_mlp_init_params(const rldt_mlp_t *m, float *params_host, rldt_rng_t *rng);
/* Forward pass of B <= max_batch rows of `in` (kept by pointer until backward). Returns the output
 * [B][out], which lives in the workspace until the next forward. */
const float *rldt_mlp_forward(rldt_mlp_t *m, const float *params, const float *in, int B);
/* Backward of the last forward: grads += dL/dparams (grads NULL: skipped, for input gradients only);
 * din (may be NULL) = dL/din [B][in]. */
void rldt_mlp_backward(rldt_mlp_t *m, const float *params, float *grads, const float *dout, float *din);

#ifdef __cplusplus
}
#endif
#endif
