/* test_comm.c — data parallelism over MPI ranks (rldt/comm.h), with the rank program tests/mpi/comm_check.c:
 * two ranks on half a batch each take the same steps as one rank on the whole batch (to float rounding: the
 * mean of two half-batch means against one full-batch mean), every rank holds the same bits, a failing rank
 * ends the job instead of leaving the others waiting, and a process no launcher started is a single rank
 * that makes no MPI call. A NaN on one rank skips the step on all, and the reward scale is the world's. Through
 * the CLI: pretraining and fine-tuning as two ranks, and a fine-tuning checkpoint of two ranks resumed on two
 * (bit for bit) and on one. On a GPU (suite device, `make test-gpu`; skipped without one): one rank through
 * the NCCL engine, its all-reduce and a fine-tune iteration. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helpers.h"
#include "training.h"
#include "rldt/checkpoint.h"
#include "rldt/comm.h"

/* Under the sanitizers, LeakSanitizer would report what Open MPI's run-time plugins keep allocated at exit
 * (they are unloaded by then, so no suppression can name them): the ranks run without leak checking. */
#define MPIRUN "mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x ASAN_OPTIONS=detect_leaks=0 -np"

static const char *rank_program(void)
{
    const char *p = getenv("RLDT_COMM_CHECK");
    if (!p) cr_skip_test("skipped: RLDT_COMM_CHECK not set (run through make test)");
    if (system("command -v mpirun >/dev/null 2>&1") != 0) cr_skip_test("skipped: no mpirun");
    return p;
}

/* Lines of s that contain what. */
static int count_lines(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

static float *read_floats(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s missing", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f) / sizeof(float);
    rewind(f);
    float *x = malloc(sizeof(float) * *n);
    cr_assert_eq(fread(x, sizeof(float), *n, f), *n);
    fclose(f);
    return x;
}

Test(comm, a_lone_process_is_one_rank_without_mpi)
{
    if (rldt_comm_launched()) cr_skip_test("skipped: the test runner itself was started by a launcher");
    cr_assert_eq(rldt_comm_init(), RLDT_OK);
    const rldt_comm_t *w = rldt_comm_world();
    cr_assert(w->engine == RLDT_COMM_SINGLE && w->rank == 0 && w->size == 1);
    float x[3] = {1, 2, 3};
    rldt_comm_average(rldt_backend_cpu(), x, 3);
    cr_assert(x[0] == 1 && x[1] == 2 && x[2] == 3);
    cr_assert(rldt_comm_agree(rldt_backend_cpu(), x, 3));
}

/* Runs `comm_check MODE OUT` alone and as two ranks: the floats each wrote, in *a and *b. */
static void alone_and_as_two(const char *mode, float **a, size_t *n1, float **b, size_t *n2)
{
    const char *prog = rank_program();
    char *one = test_temp_path("comm1"), *two = test_temp_path("comm2");
    cr_assert_eq(test_run("%s %s %s", prog, mode, one), 0, "%s", test_err);
    cr_assert_eq(test_run(MPIRUN " 2 %s %s %s", prog, mode, two), 0, "%s%s", test_out, test_err);
    *a = read_floats(one, n1), *b = read_floats(two, n2);
    remove(one), remove(two);
}

Test(comm, two_ranks_on_half_batches_match_one_rank_on_the_whole, .timeout = 120)
{
    size_t n1, n2;
    float *a, *b;
    alone_and_as_two("train", &a, &n1, &b, &n2);
    cr_assert_eq(n1, n2);
    cr_assert_gt(n1, 100);
    double worst = 0;
    size_t moved = 0;
    for (size_t i = 0; i < n1; i++) worst = fmax(worst, test_rel_err(a[i], b[i], 1e-2)), moved += a[i] != b[i];
    /* five Adam steps at lr 1e-2 from the same start: the runs differ only by float rounding of the means */
    cr_assert_lt(worst, 1e-4, "largest relative difference %g", worst);
    cr_assert_gt(moved, 0, "bit-identical: the two-rank run did not use its half batches");
    free(a), free(b);
}

Test(comm, a_failing_rank_ends_the_job, .timeout = 60)
{
    const char *prog = rank_program();
    time_t t0 = time(NULL);
    int status = test_run(MPIRUN " 2 %s fail", prog);
    cr_assert_neq(status, 0, "the job succeeded although rank 1 failed");
    cr_assert(strstr(test_err, "rank 1 of 2: failing on purpose"), "%s", test_err);
    cr_assert_lt(difftime(time(NULL), t0), 30, "the job took %g s to end", difftime(time(NULL), t0));
}

/* The CLI under mpirun: two ranks pretrain together (rank 0 alone writes the checkpoint and prints the
 * summary), and the checkpoint resumes on one rank. */
Test(comm, the_cli_pretrains_as_two_ranks, .timeout = 240)
{
    const char *bin = test_bin();
    rank_program();
    char dir[256];
    test_tmpdir(dir, sizeof dir);
    const char *tiny = "../configs/bandit2d.yaml run.threads=1 pretrain.steps=40 pretrain.batch=16 policy.width=16 "
                       "pretrain.log_every=20 eval.episodes=4 env.n_envs=4";
    cr_assert_eq(test_run("%s collect env=bandit2d demos=50 noise=0.25 out=%s/d.h5", bin, dir), 0, "%s", test_err);
    cr_assert_eq(test_run(MPIRUN " 2 %s pretrain %s data.path=%s/d.h5 run.out_dir=%s run.name=dp", bin, tiny, dir, dir), 0,
                 "%s", test_err);
    cr_assert_eq(count_lines(test_out, "pretrained bandit2d: 40 steps"), 1, "%s", test_out);
    cr_assert(strstr(test_err, "batch 16 x 2 rank(s)"), "%s", test_err);
    cr_assert(!strstr(test_err, "INFO  [rank 1]"), "rank 1 printed progress: %s", test_err);
    cr_assert_eq(test_run("%s pretrain %s pretrain.steps=60 data.path=%s/d.h5 run.out_dir=%s run.name=dp1 "
                          "pretrain.resume=%s/dp/pretrain.ckpt",
                          bin, tiny, dir, dir, dir),
                 0, "%s", test_err);
    cr_assert(strstr(test_out, "pretrained bandit2d: 60 steps"), "%s", test_out);
    test_rmtree(dir);
}

Test(comm, a_rank_that_skips_makes_every_rank_skip, .timeout = 60)
{
    const char *prog = rank_program();
    cr_assert_eq(test_run(MPIRUN " 2 %s skip", prog), 0, "%s%s", test_out, test_err);
}

Test(comm, the_reward_scale_is_the_worlds, .timeout = 60)
{
    size_t n1, n2;
    float *a, *b; /* one double each */
    alone_and_as_two("scale", &a, &n1, &b, &n2);
    double x, y;
    memcpy(&x, a, sizeof x), memcpy(&y, b, sizeof y);
    cr_assert(n1 == 2 && n2 == 2 && test_rel_err(x, y, 1e-12) < 1e-12, "one rank %.17g, two ranks %.17g", x, y);
    free(a), free(b);
}

// ---------------------------------------------------------------------------------------------------
// data-parallel fine-tuning through the CLI

/* Tensors of a finetune checkpoint (of finetune.algo=ppo: `ppo`) that must match bit for bit between two
 * runs that did the same work. */
static void same_state(const char *a, const char *b, bool ppo)
{
    const char *const floats[] = {"policy/weights", "actor/m", "actor/v", ppo ? "ppo/value" : "critic/online",
                                  ppo ? "ppo/value_m" : "critic/target", "critic/m", "critic/v", "replay/obs",
                                  "replay/act", "replay/rew", "rollout/episode_return"};
    static const char *const bytes[] = {"replay/mask", "rollout/envs"};
    rldt_ckpt_t *x, *y;
    cr_assert_eq(rldt_ckpt_open(&x, a, "finetune"), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_ckpt_open(&y, b, "finetune"), RLDT_OK, "%s", rldt_error_message());
    for (int i = 0; i < 13; i++) {
        const char *name = i < 11 ? floats[i] : bytes[i - 11];
        size_t n = rldt_ckpt_length(x, name), size = i < 11 ? sizeof(float) : 1;
        cr_assert(n > 0 && n == rldt_ckpt_length(y, name), "%s: %zu vs %zu", name, n, rldt_ckpt_length(y, name));
        void *p = malloc(n * size), *q = malloc(n * size);
        if (i < 11)
            cr_assert(!rldt_ckpt_read(x, name, p, n) && !rldt_ckpt_read(y, name, q, n), "%s", rldt_error_message());
        else
            cr_assert(!rldt_ckpt_read_bytes(x, name, p, n) && !rldt_ckpt_read_bytes(y, name, q, n), "%s", rldt_error_message());
        cr_assert(memcmp(p, q, n * size) == 0, "%s differs between %s and %s", name, a, b);
        free(p), free(q);
    }
    rldt_ckpt_close(x);
    rldt_ckpt_close(y);
}

/* A fresh directory into dir with pendulum demos and `n` small policies pretrained on them (run.seed 0 ..
 * n-1) in dir/bc0 .. */
static void pretrained(const char *bin, char *dir, size_t len, int n)
{
    test_tmpdir(dir, len);
    cr_assert_eq(test_run("%s collect env=pendulum demos=10 out=%s/d.h5", bin, dir), 0, "%s", test_err);
    for (int seed = 0; seed < n; seed++)
        cr_assert_eq(test_run("%s pretrain ../configs/pendulum.yaml run.threads=1 pretrain.steps=20 pretrain.batch=16 policy.width=16 "
                              "eval.episodes=1 run.seed=%d data.path=%s/d.h5 run.out_dir=%s run.name=bc%d",
                              bin, seed, dir, dir, seed),
                     0, "%s", test_err);
}

/* The env steps a run's summary reports. */
static long summary_env_steps(void)
{
    const char *p = strstr(test_out, "iterations, ");
    cr_assert_not_null(p, "%s", test_out);
    return atol(p + strlen("iterations, "));
}

/* Two ranks of 2 envs each fine-tune as one world: the header names it, rank 0 alone prints and writes, the
 * env steps are the world's (those of one rank with 4 envs), the ranks' parameters agree every iteration
 * (the run would stop otherwise), and its checkpoint resumes bit for bit on two ranks and, with the envs
 * of the world on one rank, on one (without them: refused, naming the setting). The same for PPO on two. */
Test(comm, the_cli_finetunes_as_two_ranks, .timeout = 300)
{
    const char *bin = test_bin();
    rank_program();
    char dir[256];
    pretrained(bin, dir, sizeof dir, 1);
    const char *ft = "../configs/pendulum.yaml run.threads=1 run.blas_threads=1 eval.episodes=2 finetune.n_steps=4 critic.width=16 "
                     "finetune.val_freq=2 finetune.ckpt_every=2 finetune.iterations=4";
    cr_assert_eq(test_run(MPIRUN " 2 %s finetune %s env.n_envs=2 init=%s/bc0/pretrain.ckpt run.out_dir=%s run.name=two", bin, ft, dir, dir),
                 0, "%s", test_err);
    cr_assert_eq(count_lines(test_out, "fine-tuned pendulum: 4 iterations"), 1, "%s", test_out);
    cr_assert(strstr(test_err, "2 ranks, 2 per node (mpi)"), "%s", test_err);
    cr_assert(!strstr(test_err, "INFO  [rank 1]"), "rank 1 printed progress: %s", test_err);
    long two = summary_env_steps();
    cr_assert_eq(test_run("%s finetune %s env.n_envs=4 init=%s/bc0/pretrain.ckpt run.out_dir=%s run.name=one", bin, ft, dir, dir), 0,
                 "%s", test_err);
    cr_assert_eq(summary_env_steps(), two, "2 ranks x 2 envs stepped %ld times, 1 rank x 4 envs %ld", two, summary_env_steps());
    cr_assert(strstr(test_err, "1 rank (single)"), "%s", test_err);

    cr_assert_eq(test_run(MPIRUN " 2 %s finetune %s env.n_envs=2 resume=%s/two/finetune_2.ckpt run.out_dir=%s run.name=two_again", bin,
                          ft, dir, dir),
                 0, "%s", test_err);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/two/finetune.ckpt", dir);
    snprintf(b, sizeof b, "%s/two_again/finetune.ckpt", dir);
    same_state(a, b, false);
    cr_assert_neq(test_run("%s finetune %s env.n_envs=2 resume=%s/two/finetune_2.ckpt run.out_dir=%s run.name=alone", bin, ft, dir, dir),
                  0);
    cr_assert(strstr(test_err, "holds 4 envs; 1 rank(s) x env.n_envs 2 are 2: resume with env.n_envs=4"), "%s", test_err);
    cr_assert_eq(test_run("%s finetune %s env.n_envs=4 resume=%s/two/finetune_2.ckpt run.out_dir=%s run.name=alone", bin, ft, dir, dir),
                 0, "%s", test_err);
    cr_assert(strstr(test_out, "fine-tuned pendulum: 4 iterations"), "%s", test_out);

    /* the PPO baseline too: its minibatch steps pair up across the ranks, and it resumes bit for bit */
    for (int resumed = 0; resumed < 2; resumed++)
        cr_assert_eq(test_run(MPIRUN " 2 %s finetune %s finetune.algo=ppo env.n_envs=2 %s=%s/%s run.out_dir=%s run.name=ppo%d", bin, ft,
                              resumed ? "resume" : "init", dir, resumed ? "ppo0/finetune_2.ckpt" : "bc0/pretrain.ckpt", dir, resumed),
                     0, "%s", test_err);
    snprintf(a, sizeof a, "%s/ppo0/finetune.ckpt", dir);
    snprintf(b, sizeof b, "%s/ppo1/finetune.ckpt", dir);
    same_state(a, b, true);
    test_rmtree(dir);
}

/* A pixel policy fine-tuned by two ranks (each with its envs, its images in its buffer): it runs, and its
 * checkpoint, which lays the ranks' image buffers out as the world's, resumes bit for bit on two ranks. */
Test(comm, the_cli_finetunes_a_pixel_policy_as_two_ranks, .init = training_setup, .fini = training_teardown, .timeout = 300)
{
    rank_program();
    training_lift_rgb_policies(false);
    const char *bin = test_bin(), *dir = training_dir;
    const char *ft = TRAINING_LIFT_RGB " env.n_envs=2 finetune.n_steps=5 finetune.q_repeat=2 finetune.critic_steps=3 "
                     "finetune.actor_steps=2 finetune.critic_warmup=0 finetune.val_freq=0 critic.batch=32 critic.width=32 "
                     "critic.depth=2 actor.states=8 svgd.particles=4 eval.episodes=1 run.threads=1 run.blas_threads=1 "
                     "finetune.iterations=4 finetune.ckpt_every=2";
    cr_assert_eq(test_run(MPIRUN " 2 %s finetune %s init=%s/p/pretrain.ckpt run.out_dir=%s run.name=two", bin, ft, dir, dir), 0, "%s",
                 test_err);
    cr_assert(strstr(test_err, "2 ranks, 2 per node (mpi)"), "%s", test_err);
    cr_assert_eq(count_lines(test_out, "fine-tuned lift_rgb: 4 iterations"), 1, "%s", test_out);
    cr_assert_eq(test_run(MPIRUN " 2 %s finetune %s finetune.resume=%s/two/finetune_2.ckpt run.out_dir=%s run.name=again", bin, ft, dir,
                          dir),
                 0, "%s", test_err);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/two/finetune.ckpt", dir);
    snprintf(b, sizeof b, "%s/again/finetune.ckpt", dir);
    same_state(a, b, false);
    rldt_ckpt_t *x, *y;
    cr_assert_eq(rldt_ckpt_open(&x, a, "finetune"), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_ckpt_open(&y, b, "finetune"), RLDT_OK, "%s", rldt_error_message());
    size_t n = rldt_ckpt_length(x, "replay/next_images");
    cr_assert_eq(n, (size_t)4 * 20 * 5 * 16 * 16 * 3, "the world's 4 envs x 20 segments x 5 steps of images: %zu bytes", n);
    uint8_t *p = malloc(n), *q = malloc(n);
    cr_assert(!rldt_ckpt_read_bytes(x, "replay/next_images", p, n) && !rldt_ckpt_read_bytes(y, "replay/next_images", q, n), "%s",
              rldt_error_message());
    cr_assert(memcmp(p, q, n) == 0, "replay/next_images differs after the two-rank resume");
    free(p), free(q);
    rldt_ckpt_close(x);
    rldt_ckpt_close(y);
}

/* Ranks started from different files disagree on their parameters: the checksum stops the job on every
 * rank. A rank that fails (here: its init= does not exist) ends the job within seconds, while the other
 * waits for it in a collective. (mpirun's MPMD form gives the two ranks different arguments.) */
Test(comm, finetune_stops_on_diverged_or_failing_ranks, .timeout = 240)
{
    const char *bin = test_bin();
    rank_program();
    char dir[256];
    pretrained(bin, dir, sizeof dir, 2);
    const char *ft = "../configs/pendulum.yaml run.threads=1 finetune.n_steps=4 critic.width=16 finetune.iterations=2 env.n_envs=2";
    cr_assert_neq(test_run(MPIRUN " 1 %s finetune %s init=%s/bc0/pretrain.ckpt run.out_dir=%s run.name=ft : "
                           "-np 1 %s finetune %s init=%s/bc1/pretrain.ckpt run.out_dir=%s run.name=ft",
                           bin, ft, dir, dir, bin, ft, dir, dir),
                  0, "ranks with different weights ran on");
    cr_assert(strstr(test_err, "the ranks' parameters differ"), "%s", test_err);
    time_t t0 = time(NULL);
    cr_assert_neq(test_run(MPIRUN " 1 %s finetune %s init=%s/bc0/pretrain.ckpt run.out_dir=%s run.name=ft : "
                           "-np 1 %s finetune %s init=%s/missing.ckpt run.out_dir=%s run.name=ft",
                           bin, ft, dir, dir, bin, ft, dir, dir),
                  0);
    cr_assert(strstr(test_err, "rank 1 of 2: the command failed on this rank"), "%s", test_err);
    cr_assert_lt(difftime(time(NULL), t0), 30, "the job took %g s to end", difftime(time(NULL), t0));
    test_rmtree(dir);
}

// ---------------------------------------------------------------------------------------------------
// the NCCL engine: one rank on one GPU (make test-gpu; skipped without a device)

static void need_gpu(void)
{
    char why[256];
    if (!rldt_backend_cuda(why, sizeof why)) cr_skip_test("skipped: no GPU (%s)", why);
}

/* One rank under mpirun on the cuda backend: the engine is NCCL, and its average of a buffer is the buffer. */
Test(device, nccl_average_on_one_rank_is_the_buffer, .timeout = 120)
{
    const char *prog = rank_program();
    need_gpu();
    cr_assert_eq(test_run(MPIRUN " 1 %s nccl", prog), 0, "%s%s", test_out, test_err);
    cr_assert(strstr(test_out, "1 rank (nccl)"), "%s", test_out);
}

/* A fine-tune iteration of one rank on the GPU averages its gradients through NCCL; the header says so. */
Test(device, finetune_runs_through_nccl_on_one_rank, .timeout = 300)
{
    const char *bin = test_bin();
    rank_program();
    need_gpu();
    char dir[256];
    pretrained(bin, dir, sizeof dir, 1);
    cr_assert_eq(test_run(MPIRUN " 1 %s finetune ../configs/pendulum.yaml run.device=cuda run.threads=1 finetune.n_steps=4 "
                          "critic.width=16 finetune.iterations=2 finetune.critic_warmup=0 env.n_envs=2 eval.episodes=1 "
                          "init=%s/bc0/pretrain.ckpt run.out_dir=%s run.name=nccl",
                          bin, dir, dir),
                 0, "%s", test_err);
    cr_assert(strstr(test_err, "1 rank (nccl)"), "%s", test_err);
    cr_assert(strstr(test_out, "fine-tuned pendulum: 2 iterations"), "%s", test_out);
    test_rmtree(dir);
}
