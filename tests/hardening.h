/* hardening.h — fixtures shared by the hardening tests (test_hardening_*.c): a small bandit2d run made with
 * the CLI, as a user makes it. */
#ifndef RLDT_TEST_HARDENING_H
#define RLDT_TEST_HARDENING_H

/* Fine-tuning arguments for a small bandit2d run (append run.out_dir, run.name, init= or resume=, ...). */
#define HARDENING_FT_ARGS                                                                                      \
    "../configs/bandit2d.yaml run.threads=1 env.n_envs=8 finetune.q_repeat=2 finetune.critic_steps=4 "         \
    "finetune.val_freq=0 eval.episodes=4"

/* Collects bandit2d demos into <dir>/d.h5 and pretrains <dir>/runs/b/pretrain.ckpt on them. */
void hardening_pretrained(const char *dir);

#endif
