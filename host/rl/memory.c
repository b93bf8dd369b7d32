/* memory.c — estimates of what a run allocates, and what the machine has (see rldt/memory.h). */
#define _POSIX_C_SOURCE 200809L
#include "rldt/memory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "rldt/comm.h"
#include "rldt/critic.h"
#include "rldt/dataset.h"
#include "rldt/encoder.h"
#include "rldt/log.h"
#include "rldt/nn.h"
#include "rldt/policy.h"

#define F ((double)sizeof(float))

// ---------------------------------------------------------------------------------------------------
// building an estimate

static void add(rldt_mem_estimate_t *e, const char *what, double host, double device)
{
    if (e->n < RLDT_MEM_ITEMS) e->item[e->n++] = (rldt_mem_item_t){what, host, device};
}

double rldt_mem_host_total(const rldt_mem_estimate_t *e)
{
    double sum = 0;
    for (int i = 0; i < e->n; i++) sum += e->item[i].host;
    return sum;
}

double rldt_mem_device_total(const rldt_mem_estimate_t *e)
{
    double sum = 0;
    for (int i = 0; i < e->n; i++) sum += e->item[i].device;
    return sum;
}

/* Workspace floats of an MLP for batches of B rows, as rldt_mlp_init sizes it: every LINEAR's output, a
 * second buffer per activation (LayerNorm: its output, mean and rstd, then the activation's), three
 * gradient scratch buffers of the widest layer. */
static double mlp_ws_floats(const rldt_mlp_spec_t *s, double B)
{
    double W = s->width, linears = s->residual ? 2.0 + 2.0 * s->depth : 1.0 + s->depth;
    double norm_acts = s->residual ? 2.0 * s->depth : s->depth;
    double widest = s->in > s->out ? s->in : s->out;
    if (W > widest) widest = W;
    return B * (W * (linears - 1) + s->out) + norm_acts * B * (s->layernorm ? 2 * W + 2 : W) + 3 * B * widest;
}

/* Parameters and workspace floats (batches of B) of the policy of `cfg`'s policy.* keys. */
static void policy_size(const rldt_config_t *cfg, int obs_dim, int act_dim, double B, double *params, double *ws)
{
    rldt_policy_spec_t s;
    *params = *ws = 0;
    if (rldt_policy_spec_from_config(cfg, obs_dim, act_dim, &s)) return; /* the run refuses the config itself */
    *params = (double)rldt_mlp_param_count(&s.time_spec) + (double)rldt_mlp_param_count(&s.body_spec);
    *ws = B * (1 + 2.0 * s.time_dim + 2.0 * s.body_spec.in) + mlp_ws_floats(&s.time_spec, B) + mlp_ws_floats(&s.body_spec, B);
}

void rldt_mem_estimate_pretrain(rldt_mem_estimate_t *e, const rldt_config_t *cfg, int obs_dim, int act_dim, double samples,
                                double sample_bytes, int image_h, int image_w, int image_c)
{
    memset(e, 0, sizeof *e);
    double D = (double)cfg->policy_chunk * act_dim, B = (double)cfg->pre_batch, VB = samples < 1024 ? samples : 1024;
    double maxb = B > VB ? B : VB;
    if (maxb < cfg->env_n_envs) maxb = (double)cfg->env_n_envs;
    /* a pixel policy: the encoder's parameters join the trained buffer, its features the policy's input */
    double ne = 0, enc_ws = 0, img = (double)image_h * image_w * image_c;
    if (strcmp(cfg->policy_encoder, "none") != 0 && img > 0) {
        rldt_encoder_spec_t es = rldt_encoder_drq(image_h, image_w, image_c);
        es.feature = (int)cfg->policy_encoder_feature;
        ne = (double)rldt_encoder_param_count(&es);
        enc_ws = (double)rldt_encoder_ws_floats(&es, (int)maxb) + maxb * es.feature; /* + the features' gradient */
        obs_dim += es.feature;
    } else
        img = 0;
    double n, ws;
    policy_size(cfg, obs_dim, act_dim, maxb, &n, &ws);
    n += ne;
    /* device: weights, gradients, two Adam moments, EMA; host: the initial weights and a checkpoint's four copies */
    add(e, "policy (weights, gradients, Adam moments, EMA, checkpoint copies)", 5 * n * F, 5 * n * F);
    double batch = (B + VB) * (obs_dim + 5 * D + 1);
    add(e, "batches and activations", (B + VB) * (obs_dim + D) * F, (ws + batch) * F);
    if (img > 0) add(e, "image encoder (workspace, the batches' images)", (B + VB) * img, enc_ws * F + (B + VB) * img);
    add(e, "dataset", samples * sample_bytes, 0);
    e->disk = (4 * n + 2.0 * obs_dim + 2.0 * act_dim) * F;
    e->disk_what = "checkpoint";
}

/* One member of the critic ensemble of critic.*: Q(obs, action chunk). */
static rldt_mlp_spec_t critic_spec(const rldt_config_t *cfg, const rldt_config_t *policy, int obs_dim, int act_dim)
{
    return (rldt_mlp_spec_t){obs_dim + (int)policy->policy_chunk * act_dim, 1, (int)cfg->critic_width, (int)cfg->critic_depth, false,
                             RLDT_ACT_SILU, false, RLDT_INIT_NORMAL01};
}

void rldt_mem_param_counts(const rldt_config_t *cfg, const rldt_config_t *policy, int obs_dim, int act_dim, double *actor,
                           double *critic)
{
    double ws;
    policy_size(policy, obs_dim, act_dim, 1, actor, &ws);
    rldt_mlp_spec_t q = critic_spec(cfg, policy, obs_dim, act_dim);
    *critic = (double)rldt_mlp_param_count(&q) * (double)cfg->critic_members;
}

void rldt_mem_estimate_finetune(rldt_mem_estimate_t *e, const rldt_config_t *cfg, const rldt_config_t *policy,
                                const rldt_env_spec_t *spec, const rldt_backend_t *be)
{
    memset(e, 0, sizeof *e);
    double od = spec->obs_dim, D = (double)policy->policy_chunk * spec->act_dim, K = (double)policy->policy_k;
    double envs = (double)cfg->env_n_envs, T = (double)cfg->ft_n_steps, P = (double)cfg->svgd_particles;
    double mb = 1024;
    if (cfg->actor_states * P > mb) mb = (double)cfg->actor_states * P;
    if (cfg->critic_batch > mb) mb = (double)cfg->critic_batch;
    if (envs > mb) mb = envs;
    double cap = cfg->ft_buffer > 0 ? (double)cfg->ft_buffer : 20 * envs;
    if (cap < envs) cap = envs;

    /* a pixel policy in a task with images: the policy and each critic member see F features more, the actor
     * and the critic each train an encoder, and the buffer keeps two images per step */
    double img = 0, ne = 0, enc_ws = 0, Fe = 0;
    if (strcmp(policy->policy_encoder, "none") != 0 && spec->image_h > 0) {
        rldt_encoder_spec_t es = rldt_encoder_drq(spec->image_h, spec->image_w, spec->image_c);
        es.feature = (int)policy->policy_encoder_feature;
        img = (double)spec->image_h * spec->image_w * spec->image_c;
        ne = (double)rldt_encoder_param_count(&es);
        enc_ws = (double)rldt_encoder_ws_floats(&es, (int)mb);
        Fe = es.feature;
    }
    double na, pws, nc;
    policy_size(policy, spec->obs_dim + (int)Fe, spec->act_dim, mb, &na, &pws);
    na += ne;
    rldt_mlp_spec_t q = critic_spec(cfg, policy, spec->obs_dim + (int)Fe, spec->act_dim);
    nc = (double)rldt_mlp_param_count(&q) * (double)cfg->critic_members + ne;
    double steps = cap * T, step_bytes = (2 * od + D + 1) * F + 4; /* obs, next_obs, act, rew; 4 flag bytes */
    double snapshot = envs * (spec->ops->state_size + od * F + 64);

    add(e, "actor (weights, gradients, Adam moments, v_ref, pretrained copy, scratch gradient)", na * F, 7 * na * F);
    add(e, "critic ensemble (weights, gradients, Adam moments, targets)", nc * F, (5 * nc + mlp_ws_floats(&q, mb) + 2 * mb * (od + D + 2)) * F);
    /* the buffer on the host; where the update reads it: its copy on a backend other than the CPU's, its
     * TD(λ) targets and row indices, and a round's rows, bootstrap actions (M per step) and values */
    double mirror = be && be != rldt_backend_cpu() ? steps * (step_bytes - 2) : 0;
    double rsteps = (cfg->ft_batch_segments > 0 ? (double)cfg->ft_batch_segments : envs) * T, M = (double)cfg->critic_samples;
    if (rsteps > steps) rsteps = steps;
    add(e, "replay buffer and its per-transition work arrays", steps * (step_bytes + F) + 2 * cap * sizeof(int),
        mirror + steps * 2 * F + rsteps * (2 + M * D) * F + cap * sizeof(int));
    double dev = (K + 1) * envs * D + envs * (od + 5 * D + 2) + mb * (od + 12 * D + (K + 1) * D + 7) + pws;
    add(e, "rollout and update buffers, network workspaces", envs * (od + 2 * D + 2) * F, dev * F);
    add(e, "environments", 2 * snapshot + envs * (od * 3 + 8) * F, 0);
    /* the buffer's images and next images (host only: a batch's are gathered there and uploaded), a batch's and
     * the rollout's images, the two encoders' workspaces, the pixel batches' extra rows */
    if (img > 0)
        add(e, "images (the buffer's images and next images, batches) and the actor's and critic's image encoders",
            2 * steps * img + mb * (img + F) + (od + Fe) * F, (mb + envs) * img + (2 * enc_ws + mb * (2 * od + 3 * Fe)) * F);
    add(e, "checkpoint copies while saving", (5 * na + 4 * nc) * F + snapshot, 0);
    /* data parallelism (W ranks): rank 0 gathers the world's buffers and envs and lays them out (two copies),
     * and the checkpoint holds them all */
    double W = rldt_comm_world()->size, world = W * (steps * (step_bytes + 2 * img) + envs * (2 * F + 1) + snapshot);
    if (W > 1) add(e, "the world's buffers and envs while saving (rank 0)", 2 * world, 0);
    e->disk = (5 * na + 4 * nc) * F + (W > 1 ? world : steps * (step_bytes + 2 * img) + snapshot);
    e->disk_what = "checkpoint";
}

void rldt_mem_estimate_sac(rldt_mem_estimate_t *e, const rldt_config_t *cfg, const rldt_env_spec_t *spec)
{
    memset(e, 0, sizeof *e);
    double od = spec->obs_dim, A = spec->act_dim, envs = (double)cfg->env_n_envs, mb = (double)cfg->sac_batch;
    if (envs > mb) mb = envs;
    double cap = (double)cfg->sac_buffer < (double)cfg->sac_steps + envs ? (double)cfg->sac_buffer : (double)cfg->sac_steps + envs;
    rldt_mlp_spec_t pi = {spec->obs_dim, 2 * spec->act_dim, (int)cfg->sac_width, (int)cfg->sac_depth, false, RLDT_ACT_RELU, false,
                          RLDT_INIT_TORCH};
    rldt_mlp_spec_t q = {spec->obs_dim + spec->act_dim, 1, (int)cfg->sac_width, (int)cfg->sac_depth, false, RLDT_ACT_SILU, false,
                         RLDT_INIT_NORMAL01};
    double na = (double)rldt_mlp_param_count(&pi), nc = 2.0 * (double)rldt_mlp_param_count(&q);
    add(e, "actor (weights, gradients, Adam moments)", na * F, (4 * na + mlp_ws_floats(&pi, mb)) * F);
    add(e, "twin critics (weights, gradients, Adam moments, targets)", nc * F, (5 * nc + mlp_ws_floats(&q, mb) + 2 * mb * (od + A + 2)) * F);
    add(e, "replay buffer (obs, next obs, action, reward, flags)", cap * ((2 * od + A + 1) * F + 4) + cap * sizeof(int), 0);
    add(e, "minibatch and head buffers", mb * (2 * od + 14 * A + 10) * F, mb * (2 * od + 5 * A + 1) * F);
    add(e, "environments and checkpoint copies", envs * (spec->ops->state_size + od * 4 * F) + (4 * na + 4 * nc) * F, 0);
    e->disk = (4 * na + 4 * nc) * F;
    e->disk_what = "checkpoint";
}

/* HDF5 bookkeeping per demo of a dataset (two groups, six to eight chunked datasets and their indices),
 * measured on files rldt writes. */
#define DEMO_OVERHEAD 20000.0

void rldt_mem_estimate_collect(rldt_mem_estimate_t *e, const rldt_env_spec_t *spec, double demos)
{
    memset(e, 0, sizeof *e);
    double img = (double)spec->image_h * spec->image_w * spec->image_c;
    double step = (2.0 * spec->obs_dim + spec->act_dim + 1) * F + 1 + spec->state_dim * 8.0;
    /* an episode buffer holds each image once (step t's next image is step t + 1's image); the file twice */
    add(e, "episode buffers", RLDT_COLLECT_ENVS * ((spec->max_steps + 1.0) * img + spec->max_steps * step), 0);
    add(e, "demo names and masks", demos * 48, 0);
    e->disk = demos * (spec->max_steps * (step + 2 * img) + DEMO_OVERHEAD);
    e->disk_what = "dataset (upper bound: every episode at its step limit)";
}

// ---------------------------------------------------------------------------------------------------
// the machine

/* The first number in a one-line file (cgroup limits), or -1 ("max", missing, unreadable). */
static double read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    double v = -1;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

static double smaller(double a, double b) { return a < 0 ? b : b < 0 ? a : a < b ? a : b; }

double rldt_mem_available(void)
{
    double avail = -1, kb;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) {
                avail = kb * 1024.0;
                break;
            }
        fclose(f);
    }
    /* in a container the cgroup's limit, not the host's memory, is what the kernel enforces */
    static const char *const limits[2][2] = {{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
                                             {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
    for (int i = 0; i < 2; i++) {
        double limit = read_number(limits[i][0]), used = read_number(limits[i][1]);
        if (limit > 0 && limit < 1e18 && used >= 0) avail = smaller(avail, limit > used ? limit - used : 0);
    }
    /* RLDT_MEM_AVAILABLE=<bytes> caps it (a share of a machine used by others; the fuzz targets) */
    const char *cap = getenv("RLDT_MEM_AVAILABLE");
    char *end;
    double v = cap ? strtod(cap, &end) : -1;
    if (cap && end != cap && !*end && v >= 0) avail = smaller(avail, v);
    return avail;
}

double rldt_disk_available(const char *path)
{
    /* the nearest existing ancestor: the output and its directories may not exist yet */
    size_t n = strlen(path);
    char *dir = rldt_xmalloc(n + 2);
    memcpy(dir, path, n + 1);
    struct statvfs s;
    double avail = -1;
    for (;;) {
        if (statvfs(dir[0] ? dir : ".", &s) == 0) {
            avail = (double)s.f_bavail * (double)s.f_frsize;
            break;
        }
        if (errno != ENOENT && errno != ENOTDIR) break;
        char *slash = strrchr(dir, '/');
        if (!slash) dir[0] = '\0';
        else if (slash == dir) dir[1] = '\0';
        else *slash = '\0';
    }
    free(dir);
    return avail;
}

const char *rldt_mem_format(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (bytes >= 1000 && u < 6) bytes /= 1000, u++;
    snprintf(buf, len, bytes < 10 && u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

// ---------------------------------------------------------------------------------------------------
// checking

/* "what X, what Y, ..." of the items (their host bytes, device bytes or both) into buf. */
static void list_items(const rldt_mem_estimate_t *e, bool host, bool device, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < e->n && at < len; i++) {
        double b = (host ? e->item[i].host : 0) + (device ? e->item[i].device : 0);
        if (b <= 0) continue;
        char v[32];
        int k = snprintf(buf + at, len - at, "%s%s %s", at ? ", " : "", e->item[i].what, rldt_mem_format(b, v, sizeof v));
        if (k < 0) break;
        at += (size_t)k;
    }
}

rldt_status_t rldt_mem_check_against(const rldt_mem_estimate_t *e, const char *command, const rldt_backend_t *be,
                                     double mem_avail, double disk_avail)
{
    double dev_free = be && be->mem_free ? be->mem_free() : -1;
    bool gpu = dev_free >= 0; /* cpu and cuda-emu allocate host memory */
    double host = rldt_mem_host_total(e), device = rldt_mem_device_total(e), need = host + (gpu ? 0 : device);
    char items[768], a[32], b[32], c[32], d[32], g[32];
    list_items(e, true, !gpu, items, sizeof items);
    rldt_info("%s memory estimate: %s host memory (%s)%s%s%s; %s %s on disk; available: %s memory, %s disk", command,
              rldt_mem_format(need, a, sizeof a), items, gpu ? ", " : "", gpu ? rldt_mem_format(device, g, sizeof g) : "",
              gpu ? " on the GPU" : "", rldt_mem_format(e->disk, b, sizeof b), e->disk_what ? e->disk_what : "output",
              mem_avail >= 0 ? rldt_mem_format(mem_avail, c, sizeof c) : "unknown",
              disk_avail >= 0 ? rldt_mem_format(disk_avail, d, sizeof d) : "unknown");
    if (gpu) rldt_info("%s GPU memory: %s free", command, rldt_mem_format(dev_free, g, sizeof g));
    if (mem_avail >= 0 && need > mem_avail)
        return rldt_error_set(RLDT_ERR_USAGE,
                              "%s needs about %s of memory but %s is available (MemAvailable): %s; reduce the sizes in the config",
                              command, rldt_mem_format(need, a, sizeof a), rldt_mem_format(mem_avail, c, sizeof c), items);
    if (gpu && device > dev_free) {
        list_items(e, false, true, items, sizeof items);
        return rldt_error_set(RLDT_ERR_USAGE, "%s needs about %s of GPU memory but %s is free: %s; reduce the sizes in the config",
                              command, rldt_mem_format(device, g, sizeof g), rldt_mem_format(dev_free, c, sizeof c), items);
    }
    if (disk_avail >= 0 && e->disk > disk_avail)
        rldt_warn("%s will write a %s of about %s but the disk has %s free: the write will fail (cleanly) unless space is made",
                  command, e->disk_what ? e->disk_what : "file", rldt_mem_format(e->disk, b, sizeof b),
                  rldt_mem_format(disk_avail, d, sizeof d));
    return RLDT_OK;
}

rldt_status_t rldt_mem_check(const rldt_mem_estimate_t *e, const char *command, const rldt_backend_t *be, const char *out_path)
{
    return rldt_mem_check_against(e, command, be, rldt_mem_available(), out_path ? rldt_disk_available(out_path) : -1);
}
