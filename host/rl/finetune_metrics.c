/* finetune_metrics.c — a fine-tune's metrics files: one row per iteration (rldt/metrics.h) and, with
 * finetune.step_grad_freq, step_grads.csv (see rldt/finetune.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "finetune_internal.h"
#include "rldt/comm.h"
#include "rldt/path.h"

/* The metrics columns, in file order. */
static const char *const metric_names[] = {"itr", "env_steps", "env_steps_per_s", "update_s", "eval_episodes",
                                           "eval_success", "eval_return", "critic_loss", "loss_transport",
                                           "loss_consist", "loss_reg", "phi_norm", "bandwidth", "alpha", "skipped"};
#define N_METRICS (sizeof metric_names / sizeof metric_names[0])

static double mean_or_nan(double sum, int n) { return n ? sum / n : NAN; }

/* The iteration's loss sums and counts, summed over the ranks (their means are then the world's); the skip
 * count is the same on every rank already. */
void ft_world_stats(ft_stats_t *s)
{
    double *sums[] = {&s->critic_loss, &s->transport, &s->consist, &s->reg, &s->phi_norm, &s->bandwidth, &s->alpha};
    enum { NS = sizeof sums / sizeof sums[0] };
    double v[NS + 2];
    for (int i = 0; i < NS; i++) v[i] = *sums[i];
    v[NS] = s->critic_n, v[NS + 1] = s->actor_n;
    rldt_comm_sum(v, NS + 2);
    for (int i = 0; i < NS; i++) *sums[i] = v[i];
    s->critic_n = (int)v[NS], s->actor_n = (int)v[NS + 1];
}

/* A run's metrics (rldt/metrics.h: one row per iteration) and, with finetune.step_grad_freq, step_grads.csv:
 * K rows per logged actor update. Rank 0 writes them (the other ranks' files stay closed). */
#define STEP_GRADS_HEADER "itr,actor_update,k,grad_norm"

/* Opens the metrics files for a run starting at iteration `itr` (rldt_metrics_open), and step_grads.csv
 * when `step_grads`: cut back on a resume like the others; one the run does not write is cut back too on
 * a resume, and removed on a fresh start. */
rldt_status_t ft_metrics_open(ft_metrics_t *m, const char *dir, long itr, bool step_grads)
{
    if (rldt_comm_world()->rank != 0) return RLDT_OK;
    rldt_status_t st = rldt_metrics_open(&m->rows, dir, metric_names, (int)N_METRICS, itr, true);
    if (!st) st = rldt_path_format(m->sg_path, sizeof m->sg_path, "%s/step_grads.csv", dir);
    long kept = 0;
    if (!st && itr > 0) st = rldt_metrics_trim(m->sg_path, itr, STEP_GRADS_HEADER, "itr", false, &kept);
    if (!st && itr == 0 && !step_grads && unlink(m->sg_path) != 0 && errno != ENOENT)
        st = rldt_error_set(RLDT_ERR, "cannot remove the old %s: %s", m->sg_path, strerror(errno));
    if (st || !step_grads) return st;
    errno = 0;
    m->step_grads = fopen(m->sg_path, itr > 0 ? "a" : "w");
    if (!m->step_grads) return rldt_error_set(RLDT_ERR, "cannot open metrics %s: %s", m->sg_path, strerror(errno));
    if (kept == 0 && (fprintf(m->step_grads, "%s\n", STEP_GRADS_HEADER) < 0 || fflush(m->step_grads) != 0))
        return rldt_metrics_error(m->sg_path);
    return RLDT_OK;
}

rldt_status_t ft_metrics_close(ft_metrics_t *m)
{
    rldt_status_t st = rldt_metrics_close(&m->rows);
    errno = 0;
    if (m->step_grads && fclose(m->step_grads) != 0 && !st) st = rldt_metrics_error(m->sg_path);
    m->step_grads = NULL;
    return st;
}

/* One row: ev is NULL on training iterations; env_sps and update_s are NaN on evaluation iterations. */
rldt_status_t ft_metrics_write(ft_metrics_t *m, const ft_t *f, const ft_stats_t *s, const rldt_eval_result_t *ev,
                                   double env_sps, double update_s)
{
    double v[N_METRICS] = {(double)f->itr, (double)f->env_steps, env_sps, update_s, ev ? ev->episodes : NAN,
                           ev ? ev->success_rate : NAN, ev ? ev->return_mean : NAN, mean_or_nan(s->critic_loss, s->critic_n),
                           mean_or_nan(s->transport, s->actor_n), mean_or_nan(s->consist, s->actor_n),
                           mean_or_nan(s->reg, s->actor_n), mean_or_nan(s->phi_norm, s->actor_n),
                           mean_or_nan(s->bandwidth, s->actor_n), mean_or_nan(s->alpha, s->actor_n), (double)s->skipped};
    if (!m->rows.file[0]) return RLDT_OK; /* not rank 0 */
    return rldt_metrics_write(&m->rows, v);
}

/* The iteration's logged per-step gradient norms into step_grads.csv (when it is open), K rows per update. */
rldt_status_t ft_metrics_step_grads(ft_metrics_t *m, ft_t *f)
{
    FILE *out = m->step_grads;
    int n = f->sg_n;
    f->sg_n = 0;
    if (!out) return RLDT_OK;
    errno = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < f->K; k++) fprintf(out, "%ld,%ld,%d,%.8g\n", f->itr, f->sg_update[i], k, f->sg_norm[(size_t)i * f->K + k]);
    return fflush(out) != 0 || ferror(out) ? rldt_metrics_error(m->sg_path) : RLDT_OK;
}
