/* comm_check.c — the data-parallel checks' rank program (tests/test_comm.c runs it, alone and under mpirun).
 *
 *   comm_check train OUT   the critic ensemble takes 5 Adam steps on a fixed batch of 64 transitions, each rank
 *                          on its share (rank r of n: rows r*64/n ..), and rank 0 writes the parameters to OUT;
 *                          every rank checks that its parameters have rank 0's bits (rldt_comm_agree). Alone,
 *                          it is the one-rank reference on the whole batch.
 *   comm_check skip        the same critic, one step on which rank 1's loss is NaN: as finetune does, that rank's
 *                          gradient is made NaN, so every rank skips the step (no Adam step, no change anywhere).
 *   comm_check scale OUT   the running reward scale of 64 rewards, each rank folding in its share; rank 0
 *                          writes mean_abs (a double) to OUT. Alone: the one-rank reference.
 *   comm_check fail        rank 1 fails while rank 0 waits in a collective: the job must end, not hang.
 *   comm_check nccl        on the cuda backend (a GPU): the engine is NCCL, and rank r's buffer x * (r + 1)
 *                          averages to x * (size + 1) / 2 on every rank (on one rank: x, bit for bit). Prints
 *                          the world (rldt_comm_describe).
 * Exit status 0 when the checks hold. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/comm.h"
#include "rldt/critic.h"
#include "rldt/transport.h"

enum { ROWS = 64, OD = 5, D = 3 };

static int train(const char *out, bool nan_on_rank1)
{
    const rldt_comm_t *w = rldt_comm_world();
    if (ROWS % w->size) return fprintf(stderr, "comm_check: %d ranks do not divide %d rows\n", w->size, ROWS), 2;
    int b = ROWS / w->size, first = w->rank * b;
    float obs[ROWS * OD], act[ROWS * D], tgt[ROWS];
    rldt_rng_t rng;
    rldt_rng_init(&rng, 7, 1); /* the same data and initial weights on every rank */
    rldt_rng_fill_uniform(&rng, obs, ROWS * OD);
    rldt_rng_fill_uniform(&rng, act, ROWS * D);
    rldt_rng_fill_uniform(&rng, tgt, ROWS);
    rldt_critic_t c;
    if (rldt_critic_init(&c, OD, D, 16, 2, 2, ROWS, rldt_backend_cpu(), &rng)) return fprintf(stderr, "%s\n", rldt_error_message()), 2;
    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, true};
    int status = 0;
    if (nan_on_rank1) {
        if (w->rank == 1) tgt[first] = NAN;
        float before = c.online.p[0];
        rldt_trainable_zero_grad(&c.online);
        double loss = 0;
        for (int m = 0; m < c.members; m++) loss += rldt_critic_accumulate(&c, m, obs + first * OD, act + first * D, tgt + first, b);
        if (!isfinite(loss)) rldt_backend_cpu()->fill(c.online.g, NAN, c.online.n);
        float norm = rldt_trainable_step(&c.online, &opt, 1e-2f, 0.0f);
        if (isfinite(norm) || c.online.step != 0 || c.online.p[0] != before) {
            fprintf(stderr, "comm_check: rank %d: stepped (norm %g, %ld Adam steps) although rank 1's loss was NaN\n", w->rank, norm,
                    c.online.step);
            status = 1;
        }
    }
    for (int step = 0; step < 5 && !nan_on_rank1; step++) {
        rldt_trainable_zero_grad(&c.online);
        for (int m = 0; m < c.members; m++) rldt_critic_accumulate(&c, m, obs + first * OD, act + first * D, tgt + first, b);
        rldt_trainable_step(&c.online, &opt, 1e-2f, 0.0f);
        rldt_critic_polyak(&c, 0.1f);
    }
    if (!rldt_comm_agree(rldt_backend_cpu(), c.online.p, c.online.n)) {
        fprintf(stderr, "comm_check: rank %d: parameters differ from rank 0's\n", w->rank);
        status = 1;
    }
    if (w->rank == 0 && out) {
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(c.online.p, sizeof(float), c.online.n, f) != c.online.n || fclose(f)) status = 2;
    }
    rldt_critic_free(&c);
    return status;
}

static int scale(const char *out)
{
    const rldt_comm_t *w = rldt_comm_world();
    if (ROWS % w->size) return fprintf(stderr, "comm_check: %d ranks do not divide %d rows\n", w->size, ROWS), 2;
    int b = ROWS / w->size;
    float r[ROWS];
    rldt_rng_t rng;
    rldt_rng_init(&rng, 7, 2);
    rldt_rng_fill_normal(&rng, r, ROWS);
    rldt_reward_scaler_t s;
    rldt_reward_scaler_init(&s);
    for (int batch = 0; batch < 3; batch++) rldt_reward_scaler_update(&s, r + w->rank * b, (size_t)b);
    if (w->rank != 0) return 0;
    FILE *f = fopen(out, "wb");
    return !f || fwrite(&s.mean_abs, sizeof s.mean_abs, 1, f) != 1 || fclose(f) ? 2 : 0;
}

static int nccl(void)
{
    char note[512];
    const rldt_backend_t *be = rldt_backend_select("cuda", note, sizeof note);
    if (!be || rldt_comm_use(be)) return fprintf(stderr, "comm_check: %s\n", rldt_error_message()), 2;
    const rldt_comm_t *w = rldt_comm_world();
    printf("comm_check: %s on %s\n", rldt_comm_describe(), be->device);
    if (w->engine != RLDT_COMM_NCCL) return fprintf(stderr, "comm_check: the cuda backend's engine is not nccl\n"), 1;
    size_t n = ((size_t)1 << 20) + 3; /* 4 MB and a ragged end */
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *d = be->alloc(sizeof(float) * n);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 7, 3);
    rldt_rng_fill_normal(&rng, x, n);
    for (size_t i = 0; i < n; i++) y[i] = x[i] * (float)(w->rank + 1);
    be->upload(d, y, sizeof(float) * n);
    rldt_comm_average(be, d, n);
    be->download(y, d, sizeof(float) * n);
    double worst = 0, want = (w->size + 1) / 2.0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(y[i] - x[i] * want) / fmax(fabs(x[i] * want), 1e-6));
    int status = 0;
    if (w->size == 1 ? memcmp(x, y, sizeof(float) * n) != 0 : worst > 1e-6) {
        fprintf(stderr, "comm_check: rank %d: NCCL average off by %g (relative)\n", w->rank, worst);
        status = 1;
    }
    if (!rldt_comm_agree(be, d, n)) {
        fprintf(stderr, "comm_check: rank %d: the average differs from rank 0's\n", w->rank);
        status = 1;
    }
    be->free(d);
    free(x), free(y);
    return status;
}

int main(int argc, char **argv)
{
    if (rldt_comm_init()) return fprintf(stderr, "%s\n", rldt_error_message()), 2;
    int status = 2;
    if (argc == 3 && strcmp(argv[1], "train") == 0) status = train(argv[2], false);
    if (argc == 2 && strcmp(argv[1], "skip") == 0) status = train(NULL, true);
    if (argc == 3 && strcmp(argv[1], "scale") == 0) status = scale(argv[2]);
    if (argc == 2 && strcmp(argv[1], "nccl") == 0) status = nccl();
    if (argc == 2 && strcmp(argv[1], "fail") == 0) {
        if (rldt_comm_world()->rank == 1) rldt_comm_abort(3, "failing on purpose");
        double v = 1;
        rldt_comm_sum(&v, 1); /* rank 0 waits here for a rank that never comes */
        status = 0;
    }
    rldt_comm_finalize();
    return status;
}
