/* cli_policy.c — a checkpoint's acting policy for the commands that roll one out (eval, collect): a flow
 * policy (pretrain and finetune checkpoints) or a SAC actor (kind "sac"), as one rldt_agent_t; and the
 * episodes it runs, optionally written as a dataset. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/checkpoint.h"

rldt_status_t rldt_cli_policy_config(const char *path, rldt_config_t *cfg, bool *is_sac)
{
    rldt_ckpt_t *c;
    rldt_status_t st = rldt_path_check_input(path, "checkpoint");
    if (!st) st = rldt_ckpt_open(&c, path, NULL);
    if (st) return st;
    rldt_config_defaults(cfg);
    st = rldt_config_from_json(cfg, rldt_ckpt_config(c), path);
    *is_sac = strcmp(rldt_ckpt_kind(c), RLDT_SAC_KIND) == 0;
    rldt_ckpt_close(c);
    return st;
}

rldt_status_t rldt_cli_policy_open(rldt_cli_policy_t *p, const char *path, const rldt_env_spec_t *spec, const rldt_eval_opts_t *o,
                                  const rldt_backend_t *be)
{
    memset(p, 0, sizeof *p);
    p->be = be;
    rldt_config_t cfg;
    rldt_status_t st = rldt_cli_policy_config(path, &cfg, &p->is_sac);
    if (st) return st;
    if (p->is_sac) {
        if ((st = rldt_sac_load(&p->sac, &cfg, path, o->n_envs, be))) return st;
        p->has_sac = true;
        if (p->sac.obs_dim != spec->obs_dim || p->sac.act_dim != spec->act_dim)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: the SAC policy (obs %d, act %d) does not fit task %s (obs %d, act %d)", path,
                                  p->sac.obs_dim, p->sac.act_dim, spec->name, spec->obs_dim, spec->act_dim);
        rldt_sac_agent_init(&p->sac_agent, &p->sac, spec, o->seed, &p->agent);
        return RLDT_OK;
    }
    rldt_ckpt_t *c;
    if ((st = rldt_ckpt_open(&c, path, NULL))) return st;
    if ((st = rldt_policy_from_ckpt_pixels(c, &cfg, &p->pol, &p->pixels, o->n_envs, be))) {
        rldt_ckpt_close(c);
        return st;
    }
    p->has_pol = true;
    size_t n = p->pol.nparams + p->pixels.enc.nparams; /* a pixel policy's encoder follows it */
    float *host = rldt_xmalloc(sizeof(float) * n);
    p->params = be->alloc(sizeof(float) * n);
    st = p->params ? rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, host, n)
                   : rldt_error_set(RLDT_ERR, "out of %s memory for the policy's weights", be->name);
    rldt_ckpt_close(c);
    if (!st) be->upload(p->params, host, sizeof(float) * n);
    free(host);
    if (!st) st = rldt_flow_agent_init(&p->flow, &p->pol, &p->pixels, p->params, rldt_eval_envs(o, p->pol.max_batch), o->seed, &p->agent);
    return st;
}

void rldt_cli_policy_close(rldt_cli_policy_t *p)
{
    if (p->has_sac) {
        rldt_sac_agent_free(&p->sac_agent);
        rldt_sac_free(&p->sac);
    }
    if (p->has_pol) {
        rldt_flow_agent_free(&p->flow);
        if (p->params) p->be->free(p->params);
        rldt_policy_free(&p->pol);
        rldt_pixels_free(&p->pixels);
    }
    memset(p, 0, sizeof *p);
}

rldt_status_t rldt_cli_run_episodes(const rldt_agent_t *ag, const rldt_env_spec_t *spec, rldt_eval_opts_t *o, const char *export_path,
                                    const char *collect_args, rldt_eval_result_t *res)
{
    rldt_status_t st = export_path ? rldt_dataset_writer_open(&o->export, export_path, spec, o->max_steps, collect_args) : RLDT_OK;
    if (!st) st = rldt_evaluate_agent(ag, spec, o, res);
    if (o->export) {
        if (st)
            rldt_dataset_writer_abort(o->export);
        else
            st = rldt_dataset_writer_close(o->export, o->seed);
        o->export = NULL;
    }
    return st;
}
