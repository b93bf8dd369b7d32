/* finetune.c — the RLDT fine-tuning loop: iterations, evaluations, skips (see rldt/finetune.h; set-up in
 * finetune_setup.c, checkpoints in finetune_ckpt.c, metrics files in finetune_metrics.c, the rollout in
 * finetune_rollout.c, the critic/actor round in finetune_update.c). */
#include <math.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/comm.h"
#include "rldt/log.h"
#include "rldt/path.h"

bool ft_skip(ft_t *f, ft_stats_t *st, int kind)
{
    st->skipped++;
    f->skipped++;
    f->run_of_skips[kind]++;
    static const char *const what[] = {"critic loss or gradient: update", "actor loss or gradient: update",
                                       "data in every segment: rollout"};
    rldt_warn("iteration %ld: non-finite %s skipped (%ld in a row)", f->itr, what[kind], f->run_of_skips[kind]);
    return f->run_of_skips[kind] < f->cfg->ft_max_skips;
}

void ft_ok(ft_t *f, int kind) { f->run_of_skips[kind] = 0; }

bool ft_stopped(const ft_t *f)
{
    for (int k = 0; k < 3; k++)
        if (f->run_of_skips[k] >= f->cfg->ft_max_skips) return true;
    return false;
}

/* Updates one rollout makes at most under config c: actor updates (actor), else critic steps (PPO: value
 * steps). */
int64_t ft_updates_per_rollout(const ft_t *f, const rldt_config_t *c, bool actor)
{
    if (f->algo == FT_PPO) {
        int64_t rows = (int64_t)f->n_envs * f->T, samples = actor ? rows * f->K : rows;
        return c->ppo_epochs * ((samples + c->ppo_minibatch - 1) / c->ppo_minibatch);
    }
    return c->ft_q_repeat * (actor ? c->ft_actor_steps : c->ft_critic_steps);
}

// ---------------------------------------------------------------------------------------------------
// the loop
/* Rank 0 evaluates (the other ranks' *res is zero: nothing but the log and metrics read it). */
static rldt_status_t evaluate(ft_t *f, rldt_eval_result_t *res)
{
    const rldt_config_t *cfg = f->cfg;
    memset(res, 0, sizeof *res);
    if (rldt_comm_world()->rank != 0) return RLDT_OK;
    rldt_eval_opts_t o = {(int)cfg->eval_episodes, f->n_envs, (int)cfg->run_threads, cfg->eval_deterministic,
                          (uint64_t)cfg->run_seed + 1000003u * (uint64_t)(f->itr + 1), (int)cfg->env_max_steps, NULL, NULL};
    return rldt_evaluate(&f->pol, &f->px, f->actor.p, f->spec, &o, res);
}

/* The ranks' networks must hold the same bits (they start from the same checkpoint and take the same
 * steps): a rank that drifted (a bug, a broken node) stops the job on every rank. */
static rldt_status_t check_agree(const ft_t *f)
{
    if (rldt_comm_agree(f->be, f->actor.p, f->actor.n) && rldt_comm_agree(f->be, f->critic.online.p, f->critic.online.n) &&
        rldt_comm_agree(f->be, f->critic.target, f->critic.online.n) &&
        (f->algo != FT_PPO || rldt_comm_agree(f->be, f->value.p, f->value.n)))
        return RLDT_OK;
    return rldt_error_set(RLDT_ERR, "iteration %ld: the ranks' parameters differ (a rank diverged, or the ranks started from "
                          "different files): stopped", f->itr);
}

rldt_status_t rldt_finetune(const rldt_config_t *cfg_in, const rldt_env_spec_t *spec, const rldt_backend_t *be,
                            rldt_finetune_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (cfg_in->svgd_particles > RLDT_MAX_PARTICLES)
        return rldt_error_set(RLDT_ERR_USAGE, "svgd.particles %ld exceeds %d", cfg_in->svgd_particles, RLDT_MAX_PARTICLES);
    rldt_status_t valid = rldt_config_validate(cfg_in, "finetune config"); /* the checks across keys */
    if (valid) return valid;
    rldt_config_t cfg = *cfg_in;
    rldt_backend_cpu_threads((int)cfg.run_blas_threads);
    ft_t f;
    memset(&f, 0, sizeof f);
    rldt_status_t st = ft_setup(&f, &cfg, spec, be);
    f.delta_kernel = strcmp(cfg.svgd_kernel, "delta") == 0;
    char dir[RLDT_PATH_MAX + 1], path[RLDT_PATH_MAX + 1];
    ft_metrics_t metrics;
    memset(&metrics, 0, sizeof metrics);
    if (!st) st = rldt_path_format(dir, sizeof dir, "%s/%s", cfg.run_out_dir, cfg.run_name);
    if (!st) st = rldt_path_format(res->ckpt_path, sizeof res->ckpt_path, "%s/finetune.ckpt", dir);
    if (!st && rldt_comm_world()->rank == 0) st = rldt_mkdirs(dir);
    if (!st) st = ft_metrics_open(&metrics, dir, f.itr, cfg.ft_step_grad_freq > 0);
    if (st) goto done;
    if (f.algo == FT_PPO)
        rldt_info("finetune %s from %s: algo ppo, %zu policy params, %zu value params, %d envs x %d chunk-steps, K=%d, sigma %g, "
                  "clip %g, backend %s, %s", spec->name, cfg.ft_resume[0] ? cfg.ft_resume : cfg.ft_init, f.actor.n, f.value.n, f.n_envs,
                  f.T, f.K, cfg.ppo_sigma, cfg.ppo_clip, be->name, rldt_comm_describe());
    else
        rldt_info("finetune %s from %s: algo %s, %zu policy params, %d x %zu critic params%s, %d envs x %d chunk-steps, P=%d, "
                  "K=%d, kernel %s, backend %s, %s", spec->name, cfg.ft_resume[0] ? cfg.ft_resume : cfg.ft_init, cfg.ft_algo, f.actor.n,
                  f.critic.members, f.critic.member_params, f.img_bytes ? " + a shared critic image encoder (as the policy's)" : "",
                  f.n_envs, f.T, f.P, f.K, cfg.svgd_kernel, be->name, rldt_comm_describe());
    if ((st = check_agree(&f))) goto done;
    double t_run = rldt_now();
    bool first_eval = true;
    for (; f.itr < cfg.ft_iterations; f.itr++) {
        ft_stats_t s = {0};
        if (cfg.ft_val_freq > 0 && f.itr % cfg.ft_val_freq == 0) {
            /* an evaluation iteration: fresh episodes, no rollout, no updates (RLDT.md §7) */
            rldt_eval_result_t ev;
            if ((st = evaluate(&f, &ev))) goto done;
            if (first_eval) res->eval_first = ev;
            first_eval = false;
            res->eval_last = ev;
            if ((st = ft_metrics_write(&metrics, &f, &s, &ev, NAN, NAN))) goto done;
            rldt_info("itr %ld/%ld | eval success %.1f%% return %.2f ± %.2f (%d episodes, %.1fs)", f.itr + 1, cfg.ft_iterations,
                      100 * ev.success_rate, ev.return_mean, ev.return_std, ev.episodes, ev.seconds);
        } else {
            double t0 = rldt_now();
            long steps0 = f.env_steps;
            int fresh = ft_rollout(&f, &s);
            if (fresh < 0) {
                st = RLDT_ERR;
                goto done;
            }
            double t1 = rldt_now();
            if (f.algo == FT_PPO)
                ft_ppo_update(&f, &s);
            else
                for (int r = 0; r < cfg.ft_q_repeat && !ft_stopped(&f); r++) ft_round(&f, fresh, r, &s);
            if (!cfg.ft_anchor) be->copy(f.vref, f.actor.p, sizeof(float) * f.actor.n);
            ft_world_stats(&s);
            if ((st = check_agree(&f))) goto done;
            double t2 = rldt_now(), sps = (double)(f.env_steps - steps0) / (t1 - t0 > 0 ? t1 - t0 : 1e-9);
            if ((st = ft_metrics_write(&metrics, &f, &s, NULL, sps, t2 - t1)) || (st = ft_metrics_step_grads(&metrics, &f))) goto done;
            double an = s.actor_n ? s.actor_n : 1;
            if (f.algo == FT_PPO)
                rldt_info("itr %ld/%ld | env steps %ld (%.0f/s) | update %.1fs | V loss %.4g | surrogate %.4g | KL %.3g | clipped %.3g%s",
                          f.itr + 1, cfg.ft_iterations, f.env_steps, sps, t2 - t1, s.critic_n ? s.critic_loss / s.critic_n : NAN,
                          s.transport / an, s.phi_norm / an, s.alpha / an, s.skipped ? " | skipped updates" : "");
            else
                rldt_info("itr %ld/%ld | env steps %ld (%.0f/s) | update %.1fs | Q loss %.4g | L_T %.4g L_C %.4g L_R %.4g | "
                      "|phi| %.3g h %.3g alpha %.3g%s",
                      f.itr + 1, cfg.ft_iterations, f.env_steps, sps, t2 - t1, s.critic_n ? s.critic_loss / s.critic_n : NAN,
                      s.transport / an, s.consist / an, s.reg / an, s.phi_norm / an, s.bandwidth / an, s.alpha / an,
                      s.skipped ? " | skipped updates" : "");
        }
        if (ft_stopped(&f)) {
            f.itr++;
            st = rldt_path_format(path, sizeof path, "%s/finetune_stopped.ckpt", dir);
            if (!st) st = ft_save(&f, path);
            st = rldt_error_set(RLDT_ERR, "%ld consecutive non-finite updates: stopped; state saved to %s%s", cfg.ft_max_skips,
                                path, st ? " (saving failed too)" : "");
            goto done;
        }
        if (cfg.ft_ckpt_every > 0 && (f.itr + 1) % cfg.ft_ckpt_every == 0 && f.itr + 1 < cfg.ft_iterations) {
            f.itr++;
            st = rldt_path_format(path, sizeof path, "%s/finetune_%ld.ckpt", dir, f.itr);
            if (!st) st = ft_save(&f, path);
            f.itr--;
            if (st) goto done;
            rldt_info("checkpoint %s", path);
        }
    }
    if ((st = ft_save(&f, res->ckpt_path))) goto done;
    rldt_info("checkpoint %s", res->ckpt_path);
    rldt_eval_result_t ev;
    if ((st = evaluate(&f, &ev))) goto done;
    if (first_eval) res->eval_first = ev;
    res->eval_last = ev;
    rldt_info("final eval: success %.1f%%, return %.2f ± %.2f (%d episodes)", 100 * ev.success_rate, ev.return_mean,
              ev.return_std, ev.episodes);
    res->seconds = rldt_now() - t_run;
done:
    res->iterations = (int)f.itr;
    res->env_steps = f.env_steps;
    res->skipped = f.skipped;
    rldt_status_t closed = ft_metrics_close(&metrics);
    if (!st) st = closed;
    ft_free(&f);
    return st;
}
