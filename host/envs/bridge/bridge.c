/* bridge.c — the host side of the Gymnasium env bridge (see bridge.h): the shared memory layout, starting
 * and stopping the worker processes, the spec they report and its checks, and the semaphore handshake
 * with its liveness checks. gym_worker.py beside this file is the other side; it mirrors header_t and
 * block_t with ctypes and checks their sizes against the header. */
#define _GNU_SOURCE
#include "bridge.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rldt/log.h"

/* Set by the Makefile: this directory's gym_worker.py, and the project venv's interpreter. */
#ifndef RLDT_GYM_WORKER
#define RLDT_GYM_WORKER "host/envs/bridge/gym_worker.py"
#endif
#ifndef RLDT_GYM_PYTHON
#define RLDT_GYM_PYTHON ""
#endif
#ifndef RLDT_ROBOSUITE_PYTHON /* the robosuite venv's, for robosuite: ids */
#define RLDT_ROBOSUITE_PYTHON ""
#endif

#define START_TIMEOUT_S 300.0 /* a worker that does not report its spec (imports, makes its envs) in this long */
#define WORKER_TIMEOUT_S 60.0 /* or does not answer a command in this long is killed */
#define SLICE_S 0.02          /* liveness checks while waiting */
#define QUIT_GRACE_S 2.0      /* a worker asked to quit is killed after this */
#define ERROR_BYTES 16384     /* a worker's error text (the tail of its traceback) */
#define ERROR_TAIL 640        /* at most this much of its last line goes into the error message */
#define MAX_OBS_DIM (1 << 20)
#define MAX_IMAGE_SIDE 4096
#define MAX_EPISODE_STEPS 100000000
#define MAGIC 0x31424752444c52ull /* "RLDRGB1" */
#define ALIGN 64
#define WORKER_FD 3 /* the shared memory file in the worker */

enum { CMD_NONE = 0, CMD_MAP = 1, CMD_RUN = 2, CMD_QUIT = 3 };
enum { STATUS_OK = 0, STATUS_FAILED = 1, STATUS_REFUSED = 2 }; /* REFUSED: at start-up, an env it cannot drive */

/* At offset 0. Sizes let the worker check its mirror; array offsets are 0 until the spec is known. */
typedef struct {
    uint64_t magic, header_bytes, block_bytes, block_size, sem_bytes, act_max, error_bytes, info_bytes, n, workers;
    uint64_t op, limit, seed, action, reward, terminated, truncated, success, obs, final_obs, image, final_image;
} header_t;

/* One per worker, at header_bytes + w * block_bytes. */
typedef struct {
    sem_t go, done;  /* host -> worker, worker -> host */
    uint32_t cmd;    /* CMD_* */
    int32_t status;  /* STATUS_* of the last command */
    int32_t err_env; /* the env the failure concerns, -1: none in particular */
    int32_t obs_dim, act_dim, max_steps;
    int32_t image_h, image_w, image_c; /* all 0: no image observation */
    double act_low[RLDT_ENV_MAX_ACT], act_high[RLDT_ENV_MAX_ACT];
    char error[ERROR_BYTES];
    char info[RLDT_BRIDGE_INFO_BYTES]; /* JSON, see rldt_bridge_spec_t */
} block_t;

struct rldt_bridge {
    char name[160];
    int n, workers;
    int fd;
    uint8_t *mem;
    size_t bytes;
    pid_t *pid;      /* [workers]; 0 once reaped */
    int *first;      /* [workers + 1]: worker w owns envs first[w] .. first[w + 1] - 1 */
    bool *posted;    /* [workers] scratch of rldt_bridge_exchange */
    bool broken;     /* a worker failed: every later exchange fails */
    rldt_bridge_io_t io;
};

static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

static header_t *header(rldt_bridge_t *b) { return (header_t *)b->mem; }

static block_t *block(rldt_bridge_t *b, int w)
{
    return (block_t *)(b->mem + align_up(sizeof(header_t)) + (size_t)w * align_up(sizeof(block_t)));
}

// ------------------------------------------------------------------------------------------------
// processes

/* The interpreter: env.python, else the project venv's when it exists (the robosuite venv's for robosuite
 * tasks), else python3 from PATH. */
static const char *python_of(const rldt_gym_t *gym)
{
    if (gym->python && *gym->python) return gym->python;
    bool robosuite = strncmp(gym->id, RLDT_BRIDGE_ROBOSUITE, strlen(RLDT_BRIDGE_ROBOSUITE)) == 0;
    const char *venv = robosuite ? RLDT_ROBOSUITE_PYTHON : RLDT_GYM_PYTHON;
    if (*venv && access(venv, X_OK) == 0) return venv;
    return "python3";
}

static rldt_status_t spawn_worker(rldt_bridge_t *b, const rldt_gym_t *gym, int w, int max_steps)
{
    char fd_s[16], ppid_s[24], w_s[16], first_s[16], count_s[16], steps_s[16];
    snprintf(fd_s, sizeof fd_s, "%d", WORKER_FD);
    snprintf(ppid_s, sizeof ppid_s, "%ld", (long)getpid());
    snprintf(w_s, sizeof w_s, "%d", w);
    snprintf(first_s, sizeof first_s, "%d", b->first[w]);
    snprintf(count_s, sizeof count_s, "%d", b->first[w + 1] - b->first[w]);
    snprintf(steps_s, sizeof steps_s, "%d", max_steps);
    const char *python = python_of(gym);
    char *argv[] = {(char *)python, RLDT_GYM_WORKER, fd_s, ppid_s, w_s, first_s, count_s, (char *)gym->id,
                    (char *)(gym->kwargs ? gym->kwargs : ""), (char *)(gym->obs_keys ? gym->obs_keys : ""), steps_s, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, b->fd, WORKER_FD);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO); /* rldt's stdout stays its own */
    posix_spawn_file_actions_addclosefrom_np(&fa, WORKER_FD + 1);
    extern char **environ;
    int rc = posix_spawnp(&b->pid[w], python, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        b->pid[w] = 0;
        return rldt_error_set(RLDT_ERR_USAGE, "%s: cannot start the Gymnasium worker with env.python=%s: %s", b->name, python,
                              strerror(rc));
    }
    return RLDT_OK;
}

/* True (and the worker reaped, its wait status in *status) when worker w has exited. */
static bool exited(rldt_bridge_t *b, int w, int *status)
{
    if (!b->pid[w]) return true;
    if (waitpid(b->pid[w], status, WNOHANG) != b->pid[w]) return false;
    b->pid[w] = 0;
    return true;
}

/* Asks every live worker to quit, waits up to QUIT_GRACE_S, then kills and reaps the rest. */
static void stop_workers(rldt_bridge_t *b, bool ask)
{
    int status;
    for (int w = 0; w < b->workers; w++)
        if (b->pid[w]) {
            if (ask) {
                block(b, w)->cmd = CMD_QUIT;
                sem_post(&block(b, w)->go);
            } else {
                kill(b->pid[w], SIGKILL);
            }
        }
    double t0 = rldt_now();
    for (int w = 0; w < b->workers; w++) {
        while (!exited(b, w, &status) && rldt_now() - t0 < QUIT_GRACE_S) usleep(2000);
        if (b->pid[w]) {
            kill(b->pid[w], SIGKILL);
            waitpid(b->pid[w], &status, 0);
            b->pid[w] = 0;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// the handshake

static void envs_of(const rldt_bridge_t *b, int w, char *buf, size_t len)
{
    int lo = b->first[w], hi = b->first[w + 1] - 1;
    if (lo == hi) snprintf(buf, len, "env %d", lo);
    else snprintf(buf, len, "envs %d-%d", lo, hi);
}

/* The error a worker reported: the whole text (a traceback, or the bridge's refusal) to the log, its last
 * line (where Python puts the exception) in the message. */
static rldt_status_t reported(rldt_bridge_t *b, int w)
{
    block_t *blk = block(b, w);
    blk->error[ERROR_BYTES - 1] = '\0';
    size_t len = strlen(blk->error);
    while (len && (blk->error[len - 1] == '\n' || blk->error[len - 1] == ' ')) blk->error[--len] = '\0';
    const char *last = strrchr(blk->error, '\n');
    last = last ? last + 1 : blk->error;
    if (strlen(last) > ERROR_TAIL) last += strlen(last) - ERROR_TAIL;
    char where[48];
    if (blk->err_env >= b->first[w] && blk->err_env < b->first[w + 1]) snprintf(where, sizeof where, "env %d", blk->err_env);
    else envs_of(b, w, where, sizeof where);
    if (last != blk->error) rldt_errorlog("%s %s: Gymnasium worker %d failed:\n%s", b->name, where, w, blk->error);
    return rldt_error_set(blk->status == STATUS_REFUSED ? RLDT_ERR_USAGE : RLDT_ERR, "%s %s (Gymnasium worker %d): %s", b->name,
                          where, w, last);
}

static rldt_status_t died(rldt_bridge_t *b, int w, pid_t pid, int status)
{
    char where[48], how[96];
    envs_of(b, w, where, sizeof where);
    if (WIFSIGNALED(status)) snprintf(how, sizeof how, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else snprintf(how, sizeof how, "exited with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return rldt_error_set(RLDT_ERR, "%s %s: its Gymnasium worker %d (pid %ld) %s without an answer (its stderr may say more)",
                          b->name, where, w, (long)pid, how);
}

/* Waits up to `timeout` seconds for worker w's answer to the command posted to it, checking every SLICE_S
 * that it lives. */
static rldt_status_t wait_done(rldt_bridge_t *b, int w, double timeout)
{
    block_t *blk = block(b, w);
    double t0 = rldt_now();
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(SLICE_S * 1e9);
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        if (sem_clockwait(&blk->done, CLOCK_MONOTONIC, &ts) == 0) return blk->status == STATUS_OK ? RLDT_OK : reported(b, w);
        if (errno != ETIMEDOUT && errno != EINTR) return rldt_error_set(RLDT_ERR, "%s: waiting for Gymnasium worker %d: %s", b->name, w, strerror(errno));
        pid_t pid = b->pid[w];
        int status = 0;
        if (exited(b, w, &status)) {
            if (sem_trywait(&blk->done) == 0 && blk->status != STATUS_OK) return reported(b, w); /* it answered, then ended */
            return died(b, w, pid, status);
        }
        if (rldt_now() - t0 > timeout) {
            char where[48];
            envs_of(b, w, where, sizeof where);
            return rldt_error_set(RLDT_ERR, "%s %s: Gymnasium worker %d (pid %ld) did not answer within %.0f s; stopped", b->name, where,
                                  w, (long)pid, timeout);
        }
    }
}

/* Posts `cmd` to the workers marked in b->posted and waits for them all; the first error wins, and stops
 * every worker. */
static rldt_status_t command(rldt_bridge_t *b, uint32_t cmd)
{
    if (b->broken) return rldt_error_set(RLDT_ERR, "%s: the Gymnasium workers were stopped after an earlier error", b->name);
    for (int w = 0; w < b->workers; w++)
        if (b->posted[w]) {
            block(b, w)->cmd = cmd;
            sem_post(&block(b, w)->go);
        }
    rldt_status_t st = RLDT_OK;
    for (int w = 0; w < b->workers && !st; w++)
        if (b->posted[w]) st = wait_done(b, w, WORKER_TIMEOUT_S);
    if (st) {
        b->broken = true;
        stop_workers(b, false);
    }
    return st;
}

rldt_status_t rldt_bridge_exchange(rldt_bridge_t *b)
{
    bool any = false;
    for (int w = 0; w < b->workers; w++) {
        b->posted[w] = false;
        for (int i = b->first[w]; i < b->first[w + 1] && !b->posted[w]; i++) b->posted[w] = b->io.op[i] != RLDT_BRIDGE_IDLE;
        any |= b->posted[w];
    }
    return any ? command(b, CMD_RUN) : RLDT_OK;
}

// ------------------------------------------------------------------------------------------------
// start-up

/* Checks what worker w reported and, for w > 0, that it equals worker 0's. */
static rldt_status_t check_spec(rldt_bridge_t *b, int w, rldt_bridge_spec_t *spec)
{
    const block_t *blk = block(b, w);
    if (blk->obs_dim < 1 || blk->obs_dim > MAX_OBS_DIM)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: the observation has %d numbers (the bridge takes 1 to %d)", b->name, blk->obs_dim, MAX_OBS_DIM);
    if (blk->act_dim < 1 || blk->act_dim > RLDT_ENV_MAX_ACT)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: the action has %d numbers (rldt takes 1 to %d)", b->name, blk->act_dim, RLDT_ENV_MAX_ACT);
    if (blk->max_steps < 0 || blk->max_steps > MAX_EPISODE_STEPS)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: step limit %d is out of range (0 to %d)", b->name, blk->max_steps, MAX_EPISODE_STEPS);
    bool image = blk->image_h || blk->image_w || blk->image_c;
    if (image && (blk->image_h < 1 || blk->image_h > MAX_IMAGE_SIDE || blk->image_w < 1 || blk->image_w > MAX_IMAGE_SIDE ||
                  blk->image_c != 3))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: the image observation is %d x %d x %d (the bridge takes H x W x 3, sides 1 to %d)",
                              b->name, blk->image_h, blk->image_w, blk->image_c, MAX_IMAGE_SIDE);
    rldt_bridge_spec_t s = {.obs_dim = blk->obs_dim, .act_dim = blk->act_dim, .max_steps = blk->max_steps, .image_h = blk->image_h,
                            .image_w = blk->image_w, .image_c = blk->image_c};
    if (memchr(blk->info, '\0', sizeof blk->info) == NULL)
        return rldt_error_set(RLDT_ERR, "%s: Gymnasium worker %d reported an unterminated info text", b->name, w);
    strcpy(s.info, blk->info);
    for (int j = 0; j < s.act_dim; j++) {
        double lo = blk->act_low[j], hi = blk->act_high[j];
        if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || fabs(lo) > 1e30 || fabs(hi) > 1e30)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: action %d has bounds [%g, %g]; the bridge needs finite bounds with low < high "
                                  "(wrap the env to rescale its actions)", b->name, j, lo, hi);
        s.act_low[j] = (float)lo, s.act_high[j] = (float)hi;
    }
    if (w == 0) *spec = s;
    else if (memcmp(&s, spec, sizeof s) != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: Gymnasium worker %d reports other sizes or bounds than worker 0 (same id and kwargs)",
                              b->name, w);
    return RLDT_OK;
}

/* Grows the file by the per-env arrays and points io at them. */
static rldt_status_t map_arrays(rldt_bridge_t *b, const rldt_bridge_spec_t *s)
{
    size_t n = (size_t)b->n, od = (size_t)s->obs_dim, ad = (size_t)s->act_dim, off = b->bytes;
    size_t ib = (size_t)s->image_h * (size_t)s->image_w * (size_t)s->image_c;
    header_t h = *header(b);
#define ARRAY(field, bytes) (h.field = off, off = align_up(off + (bytes)))
    ARRAY(op, n), ARRAY(limit, n), ARRAY(seed, n * 8), ARRAY(action, n * ad * 4), ARRAY(reward, n * 4);
    ARRAY(terminated, n), ARRAY(truncated, n), ARRAY(success, n), ARRAY(obs, n * od * 4), ARRAY(final_obs, n * od * 4);
    if (ib) ARRAY(image, n * ib), ARRAY(final_image, n * ib);
#undef ARRAY
    if (ftruncate(b->fd, (off_t)off) != 0) return rldt_error_set(RLDT_ERR, "%s: cannot grow the shared memory to %zu bytes: %s", b->name, off, strerror(errno));
    void *mem = mremap(b->mem, b->bytes, off, MREMAP_MAYMOVE);
    if (mem == MAP_FAILED) return rldt_error_set(RLDT_ERR, "%s: cannot map %zu bytes of shared memory: %s", b->name, off, strerror(errno));
    b->mem = mem;
    b->bytes = off;
    *header(b) = h;
    uint8_t *m = b->mem;
    b->io = (rldt_bridge_io_t){
        .op = m + h.op, .limit = m + h.limit, .seed = (uint64_t *)(m + h.seed), .action = (float *)(m + h.action),
        .reward = (float *)(m + h.reward), .terminated = m + h.terminated, .truncated = m + h.truncated, .success = m + h.success,
        .obs = (float *)(m + h.obs), .final_obs = (float *)(m + h.final_obs),
        .image = ib ? m + h.image : NULL, .final_image = ib ? m + h.final_image : NULL,
    };
    return RLDT_OK;
}

static rldt_status_t check_kwargs(const char *name, const char *kwargs)
{
    if (!kwargs || !*kwargs) return RLDT_OK;
    cJSON *j = cJSON_Parse(kwargs);
    bool ok = cJSON_IsObject(j);
    cJSON_Delete(j);
    return ok ? RLDT_OK
              : rldt_error_set(RLDT_ERR_USAGE, "%s: env.kwargs is not a JSON object: %s (example: {\"g\": 9.81})", name, kwargs);
}

rldt_status_t rldt_bridge_open(rldt_bridge_t **out, const char *name, const rldt_gym_t *gym, int n, int max_steps,
                               rldt_bridge_spec_t *spec)
{
    *out = NULL;
    rldt_status_t st = check_kwargs(name, gym->kwargs);
    if (st) return st;
    if (n < 1) return rldt_error_set(RLDT_ERR_USAGE, "%s: a vector env needs at least one env", name);
    int workers = gym->workers > 0 ? gym->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers > n) workers = n;
    if (workers < 1) workers = 1;
    rldt_bridge_t *b = rldt_xcalloc(1, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->n = n;
    b->workers = workers;
    b->pid = rldt_xcalloc((size_t)workers, sizeof *b->pid);
    b->posted = rldt_xcalloc((size_t)workers, sizeof *b->posted);
    b->first = rldt_xcalloc((size_t)workers + 1, sizeof *b->first);
    for (int w = 0; w <= workers; w++) b->first[w] = (int)((long)n * w / workers);
    b->bytes = align_up(sizeof(header_t)) + (size_t)workers * align_up(sizeof(block_t));
    int fd = memfd_create("rldt-gym-bridge", MFD_CLOEXEC);
    b->fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, WORKER_FD + 1); /* never WORKER_FD itself: dup2 onto it must clear CLOEXEC */
    if (fd >= 0) close(fd);
    if (b->fd < 0 || ftruncate(b->fd, (off_t)b->bytes) != 0 ||
        (b->mem = mmap(NULL, b->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0)) == MAP_FAILED) {
        b->mem = NULL;
        st = rldt_error_set(RLDT_ERR, "%s: cannot make the shared memory: %s", name, strerror(errno));
        rldt_bridge_close(b);
        return st;
    }
    *header(b) = (header_t){.magic = MAGIC, .header_bytes = align_up(sizeof(header_t)), .block_bytes = align_up(sizeof(block_t)),
                            .block_size = sizeof(block_t), .sem_bytes = sizeof(sem_t), .act_max = RLDT_ENV_MAX_ACT,
                            .error_bytes = ERROR_BYTES, .info_bytes = RLDT_BRIDGE_INFO_BYTES, .n = (uint64_t)n, .workers = (uint64_t)workers};
    for (int w = 0; w < workers; w++) {
        sem_init(&block(b, w)->go, 1, 0);
        sem_init(&block(b, w)->done, 1, 0);
        block(b, w)->err_env = -1;
    }
    for (int w = 0; !st && w < workers; w++) st = spawn_worker(b, gym, w, max_steps);
    /* each worker makes its envs and reports their spec unasked */
    for (int w = 0; !st && w < workers; w++) st = wait_done(b, w, START_TIMEOUT_S);
    for (int w = 0; !st && w < workers; w++) st = check_spec(b, w, spec);
    if (!st) st = map_arrays(b, spec);
    for (int w = 0; w < workers; w++) b->posted[w] = true;
    if (!st) st = command(b, CMD_MAP);
    if (st) {
        rldt_bridge_close(b);
        return st;
    }
    *out = b;
    return RLDT_OK;
}

void rldt_bridge_close(rldt_bridge_t *b)
{
    if (!b) return;
    if (b->mem) {
        stop_workers(b, !b->broken);
        for (int w = 0; w < b->workers; w++) {
            sem_destroy(&block(b, w)->go);
            sem_destroy(&block(b, w)->done);
        }
        munmap(b->mem, b->bytes);
    } else {
        stop_workers(b, false);
    }
    if (b->fd >= 0) close(b->fd);
    free(b->pid), free(b->first), free(b->posted);
    free(b);
}

int rldt_bridge_workers(const rldt_bridge_t *b) { return b->workers; }

rldt_bridge_io_t *rldt_bridge_io(rldt_bridge_t *b) { return &b->io; }
