/* bench_env.c — environment throughput and dataset write rate.
 *
 * 1. Vector env steps per second for every task: 64 envs, random actions drawn beforehand, chunks of 1
 *    and 8 actions per call, with 1 and 2 threads; each number is the median of 5 timed repeats of
 *    ~0.2 s. The pure-C tasks cost ~10-100 ns a step, so the 2-thread numbers mostly measure the pool's
 *    hand-off (a few µs per call): chunking amortizes it, heavier (MuJoCo) tasks hide it. Tasks that
 *    cannot run here (MuJoCo tasks without MuJoCo) are reported as skipped.
 * 2. MuJoCo tasks beside Gymnasium, in the same run: rldt's vector env of 16 envs (chunk 1) at 1 and 2
 *    threads, and the same task's Gymnasium *-v5 env in 16-env SyncVectorEnv (one process) and
 *    AsyncVectorEnv (a process per env) stepped by tests/check_gym_mujoco.py --bench with the test venv's
 *    Python (RLDT_MUJOCO_PYTHON, default .deps/venv/bin/python; run from the repository root); the ratios
 *    are rldt at 1 thread over sync and rldt at 2 threads over async.
 * 3. Gymnasium envs through rldt's bridge (env.name=gym:<id>, host/envs/bridge/) beside Gymnasium's own
 *    AsyncVectorEnv, with as many worker processes as it has (one per env): Pendulum-v1 (cheap: the
 *    per-step overhead dominates) and Hopper-v5 (MuJoCo), 4 and 16 envs, chunk 1; then the bridge with 16
 *    envs in 2 workers. Each number is the median over BRIDGE_ROUNDS rounds, the two alternating so both
 *    see the same machine load (a bridge round is itself the median of 5 repeats; an AsyncVectorEnv round
 *    the median of 5 windows of 0.2 s).
 * 4. HDF5 write rate of the robomimic-layout writer: 200 pendulum episodes (40k samples) written to a
 *    temporary file; median of 5 repeats, as samples/s and MB/s of the resulting file.
 * 5. The MuJoCo manipulation tasks (lift, pickplace, stack, stack3, bins2) driven by their scripted experts (noise
 *    0.1, 64 envs, chunk 1, 1 and 2 threads): random actions (section 1) rarely touch a cube, the experts
 *    grasp, carry and stack, so these rates count the finger-cube contacts too. The experts' own time (a
 *    few hundred ns per step, on the calling thread) is included. The 1-thread run also reports steps per
 *    second of the process's CPU time: on a machine shared with other jobs that is the per-core rate the
 *    wall clock cannot show.
 * Usage: bench_env [output directory for the temporary file, default /tmp]
 *        bench_env --bridge   (section 3 only)
 *        bench_env --manip    (sections 1 and 5 for the manipulation tasks only) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rldt/dataset.h"

#define N_ENVS 64
#define REPEATS 5
#define REPEAT_SECONDS 0.2
#define ACTION_BATCHES 16
#define WRITE_DEMOS 200
#define WRITE_REPEATS 5
#define GYM_ENVS 16
#define GYM_SECONDS "2"
#define GYM_SCRIPT "tests/check_gym_mujoco.py"
#define BRIDGE_ROUNDS 5

static int cmp_double(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

// ------------------------------------------------------------------------------------------------
// env steps per second

/* Median env steps/s of n envs stepped `chunk` actions a call; -1 when the task cannot run here. */
static double env_steps_per_second(const rldt_env_spec_t *sp, int n, int chunk, int threads)
{
    rldt_vecenv_t *v;
    if (rldt_vecenv_create(&v, sp, n, 0, 1, 0, threads)) return -1.0;
    size_t per = (size_t)n * (size_t)chunk * (size_t)sp->act_dim;
    float *actions = rldt_xmalloc(ACTION_BATCHES * per * sizeof(float));
    rldt_rng_t rng;
    rldt_rng_init(&rng, 7, 0);
    for (size_t i = 0; i < ACTION_BATCHES * per; i++) {
        int j = (int)(i % (size_t)sp->act_dim);
        actions[i] = sp->act_low[j] + (sp->act_high[j] - sp->act_low[j]) * rldt_rng_uniform(&rng);
    }
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    /* calibrate: iterations for ~REPEAT_SECONDS */
    long iters = 16;
    for (;;) {
        double t0 = rldt_now();
        for (long it = 0; it < iters; it++) rldt_vecenv_step(v, actions + (size_t)(it % ACTION_BATCHES) * per, chunk, &out);
        if (rldt_now() - t0 > 0.05) {
            iters = (long)((double)iters * REPEAT_SECONDS / (rldt_now() - t0)) + 1;
            break;
        }
        iters *= 4;
    }
    double rates[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        double steps = 0.0; /* a chunk stops at its episode's end: count the steps that ran */
        double t0 = rldt_now();
        for (long it = 0; it < iters; it++) {
            rldt_vecenv_step(v, actions + (size_t)(it % ACTION_BATCHES) * per, chunk, &out);
            for (int i = 0; i < n; i++) steps += out.steps[i];
        }
        rates[r] = steps / (rldt_now() - t0);
    }
    rldt_vecenv_out_free(&out);
    free(actions);
    rldt_vecenv_destroy(v);
    return median(rates, REPEATS);
}

// ------------------------------------------------------------------------------------------------
// the manipulation tasks under their experts

/* The MuJoCo tasks with a scripted expert: the manipulation tasks. */
static bool is_manip(const rldt_env_spec_t *sp) { return sp->ops->model_load && sp->ops->expert; }

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Median env steps/s of n envs of `sp` acting with the scripted expert (noise 0.1), and in *per_cpu the
 * median steps per second of process CPU time; -1 when it cannot run. */
static double expert_steps_per_second(const rldt_env_spec_t *sp, int n, int threads, double *per_cpu)
{
    rldt_vecenv_t *v;
    if (rldt_vecenv_create(&v, sp, n, 0, 1, 0, threads)) return -1.0;
    float *actions = rldt_xmalloc((size_t)n * (size_t)sp->act_dim * sizeof(float));
    rldt_rng_t rng;
    rldt_rng_init(&rng, 7, 0);
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    double rates[REPEATS], cpu_rates[REPEATS];
    for (int r = -1; r < REPEATS; r++) { /* r = -1: warm-up, into the middle of the episodes */
        long steps = 0;
        double t0 = rldt_now(), c0 = cpu_seconds();
        while (rldt_now() - t0 < REPEAT_SECONDS) {
            for (int i = 0; i < n; i++) rldt_env_expert(rldt_vecenv_env(v, i), &rng, 0.1f, actions + (size_t)i * (size_t)sp->act_dim);
            rldt_vecenv_step(v, actions, 1, &out);
            steps += n;
        }
        if (r >= 0) rates[r] = (double)steps / (rldt_now() - t0), cpu_rates[r] = (double)steps / (cpu_seconds() - c0);
    }
    rldt_vecenv_out_free(&out);
    free(actions);
    rldt_vecenv_destroy(v);
    *per_cpu = median(cpu_rates, REPEATS);
    return median(rates, REPEATS);
}

static void manip_experts(void)
{
    printf("\nmanipulation tasks under their scripted experts (noise 0.1, %d envs, chunk 1), env steps/s\n", N_ENVS);
    printf("%-12s %14s %14s %18s\n", "task", "expert 1thr", "expert 2thr", "1thr per CPU-s");
    for (int i = 0; i < rldt_env_count(); i++) {
        const rldt_env_spec_t *sp = rldt_env_spec_at(i);
        if (!is_manip(sp)) continue;
        double per_cpu, unused, one = expert_steps_per_second(sp, N_ENVS, 1, &per_cpu);
        if (one < 0) {
            printf("%-12s skipped: %s\n", sp->name, rldt_error_message());
            continue;
        }
        printf("%-12s %14.0f %14.0f %18.0f\n", sp->name, one, expert_steps_per_second(sp, N_ENVS, 2, &unused), per_cpu);
        fflush(stdout);
    }
}

// ------------------------------------------------------------------------------------------------
// MuJoCo tasks beside Gymnasium's vector envs

static const char *venv_python(void) { return getenv("RLDT_MUJOCO_PYTHON") ? getenv("RLDT_MUJOCO_PYTHON") : ".deps/venv/bin/python"; }

/* Gymnasium's env steps/s for `task` (an rldt task or a Gymnasium id) with n envs from the venv's Python:
 * `args` picks the modes and windows; *sync and *async get the modes asked for (sync NULL: async only).
 * False when it cannot run. */
static bool gym_steps_per_second(const char *task, int n, const char *args, double *sync, double *async)
{
    const char *python = venv_python();
    if (access(python, X_OK) != 0 || access(GYM_SCRIPT, R_OK) != 0) return false;
    char cmd[1024], line[256] = "";
    snprintf(cmd, sizeof cmd, "'%s' " GYM_SCRIPT " --bench %s --envs %d %s", python, task, n, args);
    FILE *p = popen(cmd, "r");
    if (!p) return false;
    bool got = fgets(line, sizeof line, p) &&
               (sync ? sscanf(line, "sync=%lf async=%lf", sync, async) == 2 : sscanf(line, "async=%lf", async) == 1);
    return pclose(p) == 0 && got;
}

static void mujoco_vs_gymnasium(void)
{
    printf("\nMuJoCo tasks beside Gymnasium (%d envs, chunk 1), env steps/s; ratio = rldt / Gymnasium\n", GYM_ENVS);
    printf("%-12s %12s %12s %12s %12s %10s %10s\n", "task", "rldt 1thr", "rldt 2thr", "gym sync", "gym async", "1thr/sync",
           "2thr/async");
    for (int i = 0; i < rldt_env_count(); i++) {
        const rldt_env_spec_t *sp = rldt_env_spec_at(i);
        if (!sp->ops->model_load || sp->image_h || is_manip(sp)) continue; /* no Gymnasium twin; *_rgb: bench_render */
        double one = env_steps_per_second(sp, GYM_ENVS, 1, 1), two = env_steps_per_second(sp, GYM_ENVS, 1, 2), sync, async;
        if (one < 0) {
            printf("%-12s skipped: %s\n", sp->name, rldt_error_message());
            continue;
        }
        printf("%-12s %12.0f %12.0f", sp->name, one, two);
        fflush(stdout);
        if (gym_steps_per_second(sp->name, GYM_ENVS, "--seconds " GYM_SECONDS, &sync, &async))
            printf(" %12.0f %12.0f %9.1fx %9.1fx\n", sync, async, one / sync, two / async);
        else
            printf("   Gymnasium skipped (no venv: make deps)\n");
    }
}

// ------------------------------------------------------------------------------------------------
// Gymnasium envs through the bridge beside Gymnasium's AsyncVectorEnv

/* The spec of gym:<id> with `workers` worker processes and the venv's interpreter; NULL (message set) when
 * it cannot start. */
static const rldt_env_spec_t *bridge_spec(const char *id, int workers)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    char name[128], w[16];
    snprintf(name, sizeof name, "gym:%s", id);
    snprintf(w, sizeof w, "%d", workers);
    if (rldt_config_set(&cfg, "env.name", name, "bench", 0) || rldt_config_set(&cfg, "env.workers", w, "bench", 0) ||
        (access(venv_python(), X_OK) == 0 && rldt_config_set(&cfg, "env.python", venv_python(), "bench", 0)))
        return NULL;
    return rldt_env_from_config(&cfg);
}

static void bridge_vs_async(void)
{
    static const char *const ids[] = {"Pendulum-v1", "Hopper-v5"};
    static const int sizes[][2] = {{4, 4}, {16, 16}, {16, 2}}; /* envs, bridge workers */
    printf("\nGymnasium envs: rldt's bridge beside Gymnasium's AsyncVectorEnv (one process per env), chunk 1, env steps/s,\n"
           "median of %d alternating rounds; ratio = bridge / async\n", BRIDGE_ROUNDS);
    printf("%-12s %5s %8s %12s %12s %8s\n", "env", "envs", "workers", "bridge", "async", "ratio");
    for (size_t e = 0; e < sizeof ids / sizeof ids[0]; e++)
        for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
            int n = sizes[c][0], workers = sizes[c][1];
            const rldt_env_spec_t *sp = bridge_spec(ids[e], workers);
            if (!sp) {
                printf("%-12s skipped: %s\n", ids[e], rldt_error_message());
                break;
            }
            double bridge[BRIDGE_ROUNDS], async[BRIDGE_ROUNDS];
            bool ok = true;
            for (int r = 0; r < BRIDGE_ROUNDS && ok; r++) {
                bridge[r] = env_steps_per_second(sp, n, 1, 0);
                ok = bridge[r] >= 0 && gym_steps_per_second(ids[e], n, "--modes async --seconds 0.2 --repeats 5", NULL, &async[r]);
            }
            if (!ok) {
                printf("%-12s skipped: %s\n", ids[e], bridge[0] < 0 ? rldt_error_message() : "AsyncVectorEnv did not run");
                break;
            }
            double b = median(bridge, BRIDGE_ROUNDS), a = median(async, BRIDGE_ROUNDS);
            printf("%-12s %5d %8d %12.0f %12.0f %7.2fx\n", ids[e], n, workers, b, a, b / a);
            fflush(stdout);
        }
}

// ------------------------------------------------------------------------------------------------
// HDF5 write rate

static void write_rate(const char *dir)
{
    const rldt_env_spec_t *sp = rldt_env_find("pendulum");
    int T = sp->max_steps;
    float *obs = rldt_xmalloc((size_t)T * 3 * sizeof(float)), *next = rldt_xmalloc((size_t)T * 3 * sizeof(float));
    float *act = rldt_xmalloc((size_t)T * sizeof(float)), *rew = rldt_xmalloc((size_t)T * sizeof(float));
    uint8_t *dones = rldt_xcalloc((size_t)T, 1);
    double *states = rldt_xmalloc((size_t)T * 2 * sizeof(double));
    rldt_env_t env;
    if (rldt_env_init(&env, sp, 0)) {
        fprintf(stderr, "bench_env: %s\n", rldt_error_message());
        exit(1);
    }
    rldt_rng_t rng;
    rldt_rng_init(&rng, 3, 0);
    rldt_env_reset(&env, 1, obs);
    for (int t = 0; t < T; t++) {
        if (t) memcpy(obs + 3 * t, next + 3 * (t - 1), 3 * sizeof(float));
        rldt_env_get_state(&env, states + 2 * t);
        float u = 4.0f * rldt_rng_uniform(&rng) - 2.0f;
        rew[t] = rldt_env_step(&env, &u, next + 3 * t, act + t).reward;
    }
    dones[T - 1] = 1;
    rldt_env_free(&env);
    rldt_demo_t demo = {T, obs, next, NULL, NULL, act, rew, dones, states, false};

    char path[512];
    snprintf(path, sizeof path, "%s/rldt_bench_write_%d.h5", dir, (int)getpid());
    double secs[WRITE_REPEATS];
    struct stat stt = {0};
    for (int r = 0; r < WRITE_REPEATS; r++) {
        double t0 = rldt_now();
        rldt_dataset_writer_t *w;
        rldt_status_t st = rldt_dataset_writer_open(&w, path, sp, 0, NULL);
        for (int d = 0; !st && d < WRITE_DEMOS; d++) st = rldt_dataset_writer_add(w, &demo);
        if (!st) st = rldt_dataset_writer_close(w, 0);
        if (st) {
            fprintf(stderr, "bench_env: %s\n", rldt_error_message());
            exit(1);
        }
        secs[r] = rldt_now() - t0;
        stat(path, &stt);
        remove(path);
    }
    double s = median(secs, WRITE_REPEATS), samples = (double)WRITE_DEMOS * T;
    printf("hdf5 write   %d demos x %d steps   %10.0f samples/s   %6.1f MB/s   (file %.1f MB, %.1f ms)\n", WRITE_DEMOS, T,
           samples / s, (double)stt.st_size / s / 1e6, (double)stt.st_size / 1e6, 1e3 * s);
    free(obs), free(next), free(act), free(rew), free(dones), free(states);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bridge") == 0) {
        bridge_vs_async();
        return 0;
    }
    bool manip_only = argc > 1 && strcmp(argv[1], "--manip") == 0;
    printf("bench_env: vector env, %d envs, median of %d repeats, env steps/s\n", N_ENVS, REPEATS);
    printf("%-12s %14s %14s %14s %14s\n", "task", "chunk1 1thr", "chunk1 2thr", "chunk8 1thr", "chunk8 2thr");
    for (int i = 0; i < rldt_env_count(); i++) {
        const rldt_env_spec_t *sp = rldt_env_spec_at(i);
        if (sp->image_h) continue; /* the *_rgb tasks: bench_render */
        if (manip_only && !is_manip(sp)) continue;
        printf("%-12s", sp->name);
        for (int k = 0; k < 4; k++) {
            double rate = env_steps_per_second(sp, N_ENVS, k < 2 ? 1 : 8, 1 + k % 2);
            if (rate < 0) {
                printf(" skipped: %s", rldt_error_message());
                break;
            }
            printf(" %14.0f", rate);
            fflush(stdout);
        }
        printf("\n");
    }
    manip_experts();
    if (manip_only) return 0;
    mujoco_vs_gymnasium();
    bridge_vs_async();
    write_rate(argc > 1 ? argv[1] : "/tmp");
    return 0;
}
