/* sac_train.c — the SAC training loop (`rldt sac`): act in a vector env, store transitions, update, log,
 * evaluate, checkpoint (see rldt/sac.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/log.h"
#include "rldt/metrics.h"
#include "rldt/path.h"
#include "rldt/sac.h"

/* The metrics columns, in file order (one row per sac.log_every env steps, one per evaluation). */
static const char *const metric_names[] = {"env_steps", "updates", "env_steps_per_s", "train_episodes", "train_return",
                                           "eval_episodes", "eval_success", "eval_return", "critic_loss", "actor_loss",
                                           "alpha_loss", "alpha", "entropy", "q", "skipped"};
#define N_METRICS (int)(sizeof metric_names / sizeof metric_names[0])

static double mean_or_nan(double sum, long n) { return n ? sum / (double)n : NAN; }

typedef struct {
    const rldt_config_t *cfg;
    const rldt_env_spec_t *spec;
    rldt_sac_t sac;
    rldt_replay_t buf;
    rldt_vecenv_t *venv;
    rldt_vec_out_t out;
    rldt_rng_t explore; /* the random actions of the first sac.start_steps and the policy's noise */
    float *obs, *unit, *act; /* [n][obs_dim], [n][act_dim] in [-1, 1] and in env units */
    float *ep_return;        /* [n] the running episodes' returns */
    int n;
    long env_steps;
    double owed; /* updates due (fractional with sac.utd) */
    double train_return;
    long train_episodes;
} sac_run_t;

static rldt_status_t evaluate(sac_run_t *r, rldt_eval_result_t *res)
{
    const rldt_config_t *cfg = r->cfg;
    uint64_t seed = (uint64_t)cfg->run_seed + 1000003u * (uint64_t)(r->env_steps + 1);
    rldt_eval_opts_t o = {(int)cfg->eval_episodes, r->n, (int)cfg->run_threads, true, seed, (int)cfg->env_max_steps, NULL, NULL};
    rldt_sac_agent_t a;
    rldt_agent_t ag;
    rldt_sac_agent_init(&a, &r->sac, r->spec, seed, &ag);
    rldt_status_t st = rldt_evaluate_agent(&ag, r->spec, &o, res);
    rldt_sac_agent_free(&a);
    return st;
}

/* One vector step: act (random, then the policy's samples), step, store the n transitions. */
static void collect(sac_run_t *r)
{
    const rldt_env_spec_t *sp = r->spec;
    int n = r->n, A = sp->act_dim, od = sp->obs_dim;
    if (r->env_steps < r->cfg->sac_start_steps)
        for (size_t i = 0; i < (size_t)n * A; i++) r->unit[i] = 2.0f * rldt_rng_uniform(&r->explore) - 1.0f;
    else
        rldt_sac_act(&r->sac, r->obs, n, false, &r->explore, r->unit);
    rldt_sac_to_env(sp, r->unit, n, r->act);
    rldt_vecenv_step(r->venv, r->act, 1, &r->out);
    rldt_sac_store(&r->buf, r->obs, r->unit, &r->out, n);
    for (int i = 0; i < n; i++) {
        r->ep_return[i] += r->out.reward[i];
        if (r->out.terminated[i] || r->out.truncated[i]) {
            r->train_return += r->ep_return[i];
            r->train_episodes++;
            r->ep_return[i] = 0;
        }
    }
    memcpy(r->obs, r->out.obs, sizeof(float) * (size_t)n * od);
    r->env_steps += n;
}

static rldt_status_t write_row(rldt_metrics_t *m, sac_run_t *r, const rldt_sac_stats_t *s, const rldt_eval_result_t *ev,
                               double sps)
{
    double v[N_METRICS] = {(double)r->env_steps, (double)r->sac.updates, sps, ev ? NAN : (double)r->train_episodes,
                           ev ? NAN : mean_or_nan(r->train_return, r->train_episodes), ev ? ev->episodes : NAN,
                           ev ? ev->success_rate : NAN, ev ? ev->return_mean : NAN, mean_or_nan(s->critic_loss, s->n),
                           mean_or_nan(s->actor_loss, s->n), mean_or_nan(s->alpha_loss, s->n), rldt_sac_alpha(&r->sac),
                           mean_or_nan(s->entropy, s->n), mean_or_nan(s->q, s->n), (double)s->skipped};
    return rldt_metrics_write(m, v);
}

// ---------------------------------------------------------------------------------------------------
// checkpoints that resume (sac.resume): the agent (rldt_sac_save) and beside it the run's replay buffer,
// envs, random streams and counters, so that a resumed run continues bit for bit

/* The run's doubles, stored as their bits (int64 scalars), and its integer counters. */
typedef struct {
    const char *name;
    double *value;
} run_double_t;
static int run_doubles(sac_run_t *r, rldt_sac_stats_t *s, run_double_t *d)
{
    int n = 0;
    d[n++] = (run_double_t){"run_owed_bits", &r->owed};
    d[n++] = (run_double_t){"run_train_return_bits", &r->train_return};
    d[n++] = (run_double_t){"stats_critic_loss_bits", &s->critic_loss};
    d[n++] = (run_double_t){"stats_actor_loss_bits", &s->actor_loss};
    d[n++] = (run_double_t){"stats_alpha_loss_bits", &s->alpha_loss};
    d[n++] = (run_double_t){"stats_entropy_bits", &s->entropy};
    d[n++] = (run_double_t){"stats_q_bits", &s->q};
    return n;
}
#define RUN_DOUBLES 7
static const char *const rng_names[2][RLDT_RNG_STATE] = {
    {"rng_updates_counter", "rng_updates_nbuf", "rng_updates_w0", "rng_updates_w1", "rng_updates_w2", "rng_updates_w3"},
    {"rng_explore_counter", "rng_explore_nbuf", "rng_explore_w0", "rng_explore_w1", "rng_explore_w2", "rng_explore_w3"}};

static rldt_status_t run_save(sac_run_t *r, rldt_sac_stats_t *s, const char *path)
{
    rldt_status_t st = rldt_config_check_output(r->cfg, path, "checkpoint", true); /* never over an input */
    if (st) return st;
    const rldt_replay_t *b = &r->buf;
    size_t rows = (size_t)b->count, od = (size_t)b->obs_dim, A = (size_t)b->D, env_bytes = rldt_vecenv_snapshot_size(r->venv);
    uint8_t *envs = rldt_xmalloc(env_bytes);
    rldt_vecenv_snapshot(r->venv, envs);
    /* slots 0 .. count-1 hold every transition (count < capacity only before the buffer wraps) */
    rldt_ckpt_tensor_t t[] = {{"run/replay_obs", b->obs, rows * od, 0},      {"run/replay_next_obs", b->next_obs, rows * od, 0},
                              {"run/replay_act", b->act, rows * A, 0},       {"run/replay_rew", b->rew, rows, 0},
                              {"run/replay_term", b->term, rows, 1},         {"run/replay_ended", b->ended, rows, 1},
                              {"run/episode_return", r->ep_return, (size_t)r->n, 0}, {"run/envs", envs, env_bytes, 1}};
    rldt_ckpt_scalar_t sc[RUN_DOUBLES + 4 + 2 * RLDT_RNG_STATE];
    run_double_t d[RUN_DOUBLES];
    int n = run_doubles(r, s, d);
    for (int i = 0; i < n; i++) {
        int64_t bits;
        memcpy(&bits, d[i].value, sizeof bits);
        sc[i] = (rldt_ckpt_scalar_t){d[i].name, bits};
    }
    sc[n++] = (rldt_ckpt_scalar_t){"run_train_episodes", r->train_episodes};
    sc[n++] = (rldt_ckpt_scalar_t){"stats_updates", s->n};
    sc[n++] = (rldt_ckpt_scalar_t){"stats_skipped", s->skipped};
    sc[n++] = (rldt_ckpt_scalar_t){"replay_pushed", b->pushed};
    const rldt_rng_t *rngs[2] = {&r->sac.rng, &r->explore};
    for (int k = 0; k < 2; k++) {
        int64_t v[RLDT_RNG_STATE];
        rldt_rng_state(rngs[k], v);
        for (int i = 0; i < RLDT_RNG_STATE; i++) sc[n++] = (rldt_ckpt_scalar_t){rng_names[k][i], v[i]};
    }
    rldt_sac_extra_t extra = {t, (int)(sizeof t / sizeof t[0]), sc, n};
    st = rldt_sac_save(&r->sac, r->cfg, r->env_steps, &extra, path);
    free(envs);
    return st;
}

/* Puts the freshly built run back where the checkpoint sac.resume left off, checking every value read
 * against the run's config before it is used. */
static rldt_status_t run_restore(sac_run_t *r, rldt_sac_stats_t *s)
{
    const rldt_config_t *cfg = r->cfg;
    const char *path = cfg->sac_resume;
    if (r->spec->gym)
        return rldt_error_set(RLDT_ERR_USAGE, "sac.resume: %s is a Gymnasium env, whose state lives in its worker processes and is "
                              "not in checkpoints, so its SAC runs cannot resume", r->spec->name);
    rldt_ckpt_t *c;
    rldt_status_t st = rldt_ckpt_open(&c, path, RLDT_SAC_KIND);
    if (st) return st;
    rldt_config_t was;
    rldt_config_defaults(&was);
    int64_t v = 0;
    if ((st = rldt_config_from_json(&was, rldt_ckpt_config(c), path))) goto done;
    if (strcmp(was.env_name, cfg->env_name) || was.env_n_envs != cfg->env_n_envs || was.sac_width != cfg->sac_width ||
        was.sac_depth != cfg->sac_depth || was.run_seed != cfg->run_seed) {
        st = rldt_error_set(RLDT_ERR_USAGE, "sac.resume: %s was written for env.name=%s env.n_envs=%ld sac.width=%ld sac.depth=%ld "
                            "run.seed=%ld; this run has %s, %ld, %ld, %ld, %ld (a resumed run keeps them)", path, was.env_name,
                            was.env_n_envs, was.sac_width, was.sac_depth, was.run_seed, cfg->env_name, cfg->env_n_envs,
                            cfg->sac_width, cfg->sac_depth, cfg->run_seed);
        goto done;
    }
    if (!rldt_ckpt_length(c, "run/envs")) {
        st = rldt_error_set(RLDT_ERR_USAGE, "sac.resume: %s holds the agent but not the run's state (replay buffer, envs): it "
                            "cannot resume a run", path);
        goto done;
    }
    if ((st = rldt_ckpt_scalar_in(c, "env_steps", 1, cfg->sac_steps - 1, &v))) {
        rldt_error_set(RLDT_ERR_USAGE, "%s (a resumed run goes on to sac.steps, which must exceed the checkpoint's env steps)",
                       rldt_error_message());
        goto done;
    }
    r->env_steps = v;
    rldt_replay_t *b = &r->buf;
    int64_t pushed = 0;
    if ((st = rldt_ckpt_scalar_in(c, "replay_pushed", 1, r->env_steps, &pushed))) goto done;
    /* the buffer keeps its slots: the same capacity, or one that holds all of a buffer that never wrapped */
    int64_t capacity_was = was.sac_buffer < was.sac_steps + was.env_n_envs ? was.sac_buffer : was.sac_steps + was.env_n_envs;
    if (pushed > capacity_was || pushed > b->capacity) {
        if (capacity_was != b->capacity) {
            st = rldt_error_set(RLDT_ERR_USAGE, "sac.resume: %s holds a full replay buffer of %ld transitions; this run's holds %d "
                                "(the smaller of sac.buffer and sac.steps + env.n_envs): resume with the same capacity", path,
                                (long)capacity_was, b->capacity);
            goto done;
        }
        b->count = b->capacity;
    } else {
        b->count = (int)pushed;
    }
    b->pushed = pushed;
    size_t rows = (size_t)b->count, od = (size_t)b->obs_dim, A = (size_t)b->D, env_bytes = rldt_vecenv_snapshot_size(r->venv);
    uint8_t *envs = rldt_xmalloc(env_bytes);
    if (!st) st = rldt_ckpt_read(c, "run/replay_obs", b->obs, rows * od);
    if (!st) st = rldt_ckpt_read(c, "run/replay_next_obs", b->next_obs, rows * od);
    if (!st) st = rldt_ckpt_read(c, "run/replay_act", b->act, rows * A);
    if (!st) st = rldt_ckpt_read(c, "run/replay_rew", b->rew, rows);
    if (!st) st = rldt_ckpt_read_bytes(c, "run/replay_term", b->term, rows);
    if (!st) st = rldt_ckpt_read_bytes(c, "run/replay_ended", b->ended, rows);
    if (!st) st = rldt_ckpt_read(c, "run/episode_return", r->ep_return, (size_t)r->n);
    if (!st) st = rldt_ckpt_read_bytes(c, "run/envs", envs, env_bytes);
    if (!st) st = rldt_vecenv_restore(r->venv, envs, env_bytes);
    free(envs);
    run_double_t d[RUN_DOUBLES];
    int n = run_doubles(r, s, d);
    for (int i = 0; i < n && !st; i++) {
        int64_t bits = 0;
        double x;
        if (!(st = rldt_ckpt_scalar(c, d[i].name, &bits))) memcpy(&x, &bits, sizeof x);
        if (!st && !isfinite(x)) st = rldt_error_set(RLDT_ERR_USAGE, "%s: scalar %s is not a finite number", path, d[i].name);
        if (!st) *d[i].value = x;
    }
    if (!st && !(r->owed >= 0 && r->owed < 1.0 + 64 * r->n))
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: run_owed_bits holds %g updates due, outside [0, %d]", path, r->owed, 1 + 64 * r->n);
    if (!st) st = rldt_ckpt_scalar_in(c, "run_train_episodes", 0, r->env_steps, &v), r->train_episodes = v;
    if (!st) st = rldt_ckpt_scalar_in(c, "stats_updates", 0, INT64_MAX / 2, &v), s->n = v;
    if (!st) st = rldt_ckpt_scalar_in(c, "stats_skipped", 0, s->n, &v), s->skipped = v;
    rldt_rng_t *rngs[2] = {&r->sac.rng, &r->explore};
    for (int k = 0; k < 2 && !st; k++) {
        int64_t w[RLDT_RNG_STATE];
        for (int i = 0; i < RLDT_RNG_STATE && !st; i++) st = rldt_ckpt_scalar(c, rng_names[k][i], &w[i]);
        if (!st) st = rldt_rng_set_state(rngs[k], w, path);
    }
    if (!st) st = rldt_sac_restore(&r->sac, c);
    if (!st) memcpy(r->obs, rldt_vecenv_obs(r->venv), sizeof(float) * (size_t)r->n * r->spec->obs_dim);
done:
    rldt_ckpt_close(c);
    return st;
}

static void run_free(sac_run_t *r)
{
    rldt_vecenv_out_free(&r->out);
    rldt_vecenv_destroy(r->venv);
    rldt_replay_free(&r->buf);
    rldt_sac_free(&r->sac);
    free(r->obs), free(r->unit), free(r->act), free(r->ep_return);
}

rldt_status_t rldt_sac_train(const rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be,
                             rldt_sac_result_t *res)
{
    memset(res, 0, sizeof *res);
    rldt_backend_cpu_threads((int)cfg->run_blas_threads);
    sac_run_t r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.spec = spec;
    r.n = (int)cfg->env_n_envs;
    long capacity = cfg->sac_buffer < cfg->sac_steps + r.n ? cfg->sac_buffer : cfg->sac_steps + r.n;
    char dir[RLDT_PATH_MAX + 1], path[RLDT_PATH_MAX + 1];
    rldt_metrics_t metrics;
    memset(&metrics, 0, sizeof metrics);
    rldt_status_t st = rldt_sac_init(&r.sac, cfg, spec->obs_dim, spec->act_dim, r.n, be);
    if (!st)
        st = rldt_vecenv_create(&r.venv, spec, r.n, (int)cfg->env_max_steps, (uint64_t)cfg->run_seed, 0, (int)cfg->run_threads);
    if (!st) st = rldt_path_format(dir, sizeof dir, "%s/%s", cfg->run_out_dir, cfg->run_name);
    if (!st) st = rldt_path_format(res->ckpt_path, sizeof res->ckpt_path, "%s/sac.ckpt", dir);
    if (!st) st = rldt_mkdirs(dir);
    if (st) goto done;
    rldt_replay_init(&r.buf, spec->obs_dim, spec->act_dim, 1, (int)capacity);
    rldt_vecenv_out_alloc(r.venv, &r.out);
    rldt_rng_init(&r.explore, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_POLICY, 2, 0));
    r.obs = rldt_xmalloc(sizeof(float) * (size_t)r.n * spec->obs_dim);
    r.unit = rldt_xmalloc(sizeof(float) * (size_t)r.n * spec->act_dim);
    r.act = rldt_xmalloc(sizeof(float) * (size_t)r.n * spec->act_dim);
    r.ep_return = rldt_xcalloc((size_t)r.n, sizeof(float));
    memcpy(r.obs, rldt_vecenv_obs(r.venv), sizeof(float) * (size_t)r.n * spec->obs_dim);
    rldt_sac_stats_t s = {0};
    if (cfg->sac_resume[0] && (st = run_restore(&r, &s))) goto done;
    /* a resumed run keeps the metrics rows up to its checkpoint (written before it, at the same env steps) */
    if ((st = rldt_metrics_open(&metrics, dir, metric_names, N_METRICS, r.env_steps ? r.env_steps + 1 : 0, false))) goto done;
    rldt_info("sac %s: %zu actor params, 2 x %zu critic params, %d envs, %ld env steps, batch %ld, replay %ld, backend %s%s%s",
              spec->name, r.sac.actor.n, r.sac.critic.member_params, r.n, cfg->sac_steps, cfg->sac_batch, capacity, be->name,
              cfg->sac_resume[0] ? ", resumed from " : "", cfg->sac_resume);

    double t_run = rldt_now(), t_log = t_run;
    long log_steps = r.env_steps, next_log = cfg->sac_log_every, next_eval = cfg->sac_eval_every > 0 ? cfg->sac_eval_every : -1;
    long next_ckpt = cfg->sac_ckpt_every > 0 ? cfg->sac_ckpt_every : -1;
    while (next_log <= r.env_steps) next_log += cfg->sac_log_every;
    while (next_eval > 0 && next_eval <= r.env_steps) next_eval += cfg->sac_eval_every;
    while (next_ckpt > 0 && next_ckpt <= r.env_steps) next_ckpt += cfg->sac_ckpt_every;
    bool first_eval = true;
    while (r.env_steps < cfg->sac_steps) {
        collect(&r);
        if (r.env_steps >= cfg->sac_update_after && r.buf.count >= 1) {
            r.owed += cfg->sac_utd * r.n;
            for (; r.owed >= 1.0; r.owed -= 1.0) rldt_sac_update(&r.sac, &r.buf, (int)cfg->sac_batch, &s);
        }
        if (r.env_steps >= next_log || r.env_steps >= cfg->sac_steps) {
            double now = rldt_now(), sps = (double)(r.env_steps - log_steps) / (now - t_log > 0 ? now - t_log : 1e-9);
            if ((st = write_row(&metrics, &r, &s, NULL, sps))) goto done;
            rldt_info("env steps %ld/%ld (%.0f/s) | updates %ld | train return %.2f (%ld episodes) | Q loss %.4g | actor loss %.4g | "
                      "alpha %.4g | entropy %.3g%s",
                      r.env_steps, cfg->sac_steps, sps, r.sac.updates, mean_or_nan(r.train_return, r.train_episodes), r.train_episodes,
                      mean_or_nan(s.critic_loss, s.n), mean_or_nan(s.actor_loss, s.n), rldt_sac_alpha(&r.sac),
                      mean_or_nan(s.entropy, s.n), s.skipped ? " | skipped updates" : "");
            res->updates = r.sac.updates;
            memset(&s, 0, sizeof s);
            r.train_return = 0, r.train_episodes = 0;
            t_log = now, log_steps = r.env_steps;
            while (next_log <= r.env_steps) next_log += cfg->sac_log_every;
        }
        if (next_eval > 0 && r.env_steps >= next_eval && r.env_steps < cfg->sac_steps) {
            rldt_eval_result_t ev;
            if ((st = evaluate(&r, &ev)) || (st = write_row(&metrics, &r, &s, &ev, NAN))) goto done;
            if (first_eval) res->eval_first = ev;
            first_eval = false;
            rldt_info("env steps %ld | eval return %.2f ± %.2f, success %.1f%% (%d episodes, %.1fs)", r.env_steps, ev.return_mean,
                      ev.return_std, 100 * ev.success_rate, ev.episodes, ev.seconds);
            while (next_eval <= r.env_steps) next_eval += cfg->sac_eval_every;
        }
        if (next_ckpt > 0 && r.env_steps >= next_ckpt && r.env_steps < cfg->sac_steps) {
            if ((st = rldt_path_format(path, sizeof path, "%s/sac_%ld.ckpt", dir, r.env_steps)) ||
                (st = run_save(&r, &s, path)))
                goto done;
            rldt_info("checkpoint %s", path);
            while (next_ckpt <= r.env_steps) next_ckpt += cfg->sac_ckpt_every;
        }
    }
    if ((st = run_save(&r, &s, res->ckpt_path))) goto done;
    rldt_info("checkpoint %s", res->ckpt_path);
    rldt_eval_result_t ev;
    if ((st = evaluate(&r, &ev)) || (st = write_row(&metrics, &r, &s, &ev, NAN))) goto done;
    if (first_eval) res->eval_first = ev;
    res->eval_last = ev;
    rldt_info("final eval: return %.2f ± %.2f, success %.1f%% (%d episodes)", ev.return_mean, ev.return_std,
              100 * ev.success_rate, ev.episodes);
    res->seconds = rldt_now() - t_run;
done:
    res->env_steps = r.env_steps;
    res->updates = r.sac.updates;
    rldt_status_t closed = rldt_metrics_close(&metrics);
    if (!st) st = closed;
    run_free(&r);
    return st;
}
