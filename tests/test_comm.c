/* test_comm.c — data parallelism over MPI ranks (rldt/comm.h), with the rank program tests/mpi/comm_check.c:
 * two ranks on half a batch each take the same steps as one rank on the whole batch (to float rounding: the
 * mean of two half-batch means against one full-batch mean), every rank holds the same bits, a failing rank
 * ends the job instead of leaving the others waiting, and a process no launcher started is a single rank
 * that makes no MPI call. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helpers.h"
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

Test(comm, two_ranks_on_half_batches_match_one_rank_on_the_whole, .timeout = 120)
{
    const char *prog = rank_program();
    char *one = test_temp_path("comm1"), *two = test_temp_path("comm2");
    cr_assert_eq(test_run("%s train %s", prog, one), 0, "%s", test_err);
    cr_assert_eq(test_run(MPIRUN " 2 %s train %s", prog, two), 0, "%s%s", test_out, test_err);
    size_t n1, n2;
    float *a = read_floats(one, &n1), *b = read_floats(two, &n2);
    cr_assert_eq(n1, n2);
    cr_assert_gt(n1, 100);
    double worst = 0;
    size_t moved = 0;
    for (size_t i = 0; i < n1; i++) worst = fmax(worst, test_rel_err(a[i], b[i], 1e-2)), moved += a[i] != b[i];
    /* five Adam steps at lr 1e-2 from the same start: the runs differ only by float rounding of the means */
    cr_assert_lt(worst, 1e-4, "largest relative difference %g", worst);
    cr_assert_gt(moved, 0, "bit-identical: the two-rank run did not use its half batches");
    free(a), free(b);
    remove(one), remove(two);
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
 * summary), the checkpoint resumes on one rank, and finetune, not data-parallel yet, refuses to run as
 * several ranks. */
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
    cr_assert_neq(test_run(MPIRUN " 2 %s finetune %s init=%s/dp/pretrain.ckpt run.out_dir=%s run.name=ft", bin, tiny, dir, dir), 0);
    cr_assert(strstr(test_err, "finetune does not run data-parallel yet"), "%s", test_err);
    test_rmtree(dir);
}
