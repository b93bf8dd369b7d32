/* bench_comm.c — the data-parallel gradient average (rldt_comm_average) on CPU ranks over MPI, at the sizes a
 * fine-tune averages: the actor's and the critic ensemble's gradients of each shipped config, and of the
 * step benchmarks' hopper shape (bench/step.h: policy width 512 x 3 blocks, critic 2 x (3 x 256), obs 11,
 * act 3, chunk 4). Each row is the median over `repeats` averages of the world's slowest rank (the ranks
 * line up with a small sum before each). Run alone (one rank: the call returns at once) and under
 * `mpirun -np N`; bench/scaling.sh does both.
 *
 * usage: bench_comm [repeats=20] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/backend.h"
#include "rldt/comm.h"
#include "rldt/config.h"
#include "rldt/env.h"
#include "rldt/memory.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median seconds of `repeats` averages of n floats. */
static double time_average(size_t n, int repeats)
{
    float *g = rldt_xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) g[i] = (float)(i % 97) * 1e-3f;
    double *t = rldt_xmalloc(sizeof(double) * (size_t)repeats);
    for (int r = -2; r < repeats; r++) { /* two untimed warm-ups */
        double line_up = 0;
        rldt_comm_sum(&line_up, 1);
        double t0 = rldt_now();
        rldt_comm_average(rldt_backend_cpu(), g, n);
        double dt = rldt_now() - t0;
        rldt_comm_max(&dt, 1);
        if (r >= 0) t[r] = dt;
    }
    qsort(t, (size_t)repeats, sizeof *t, by_value);
    double med = t[repeats / 2];
    free(g), free(t);
    return med;
}

static void row(const char *name, const char *buffer, double floats, int repeats)
{
    double s = time_average((size_t)floats, repeats);
    if (rldt_comm_world()->rank == 0)
        printf("%-10s %-7s %10.0f %9.2f %10.3f %9.2f\n", name, buffer, floats, floats * 4 / 1e6, s * 1e3,
               rldt_comm_world()->size > 1 ? floats * 4 / s / 1e9 : 0.0);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 20;
    if (repeats < 1 || rldt_comm_init()) return fprintf(stderr, "usage: bench_comm [repeats >= 1] (%s)\n", rldt_error_message()), 2;
    static const char *const configs[] = {"configs/bandit2d.yaml", "configs/pendulum.yaml", "configs/reach2d.yaml", NULL};
    if (rldt_comm_world()->rank == 0)
        printf("# bench_comm: %s, median of %d; algbw = bytes / time\n%-10s %-7s %10s %9s %10s %9s\n", rldt_comm_describe(),
               repeats, "config", "buffer", "floats", "MB", "ms", "algbw GB/s");
    for (int c = 0; c < 4; c++) {
        rldt_config_t cfg;
        rldt_config_defaults(&cfg);
        int od = 11, ad = 3;
        const char *name = "hopper";
        if (configs[c]) {
            if (rldt_config_load_yaml(&cfg, configs[c])) return fprintf(stderr, "bench_comm: %s\n", rldt_error_message()), 2;
            const rldt_env_spec_t *spec = rldt_env_find(cfg.env_name);
            if (!spec) return fprintf(stderr, "bench_comm: no env %s\n", cfg.env_name), 2;
            od = spec->obs_dim, ad = spec->act_dim, name = cfg.env_name;
        } else {
            static const char *const hopper[][2] = {{"policy.width", "512"}, {"policy.blocks", "3"}, {"policy.chunk", "4"},
                                                    {"critic.width", "256"}, {"critic.depth", "3"}, {"critic.members", "2"}};
            for (int k = 0; k < 6; k++)
                if (rldt_config_set(&cfg, hopper[k][0], hopper[k][1], "bench_comm", 0))
                    return fprintf(stderr, "bench_comm: %s\n", rldt_error_message()), 2;
        }
        double actor, critic;
        rldt_mem_param_counts(&cfg, &cfg, od, ad, &actor, &critic);
        row(name, "actor", actor, repeats);
        row(name, "critic", critic, repeats);
    }
    rldt_comm_finalize();
    return 0;
}
