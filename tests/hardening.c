/* hardening.c — fixtures of the hardening tests (see hardening.h). */
#include "hardening.h"

#include <criterion/criterion.h>

#include "helpers.h"

void hardening_pretrained(const char *dir)
{
    cr_assert_eq(test_run("%s collect env=bandit2d demos=40 seed=1 out=%s/d.h5", test_bin(), dir), 0, "%s", test_err);
    cr_assert_eq(test_run("%s pretrain ../configs/bandit2d.yaml data.path=%s/d.h5 run.out_dir=%s/runs run.name=b run.threads=1 "
                          "pretrain.steps=30 eval.episodes=2",
                          test_bin(), dir, dir),
                 0, "%s", test_err);
}
