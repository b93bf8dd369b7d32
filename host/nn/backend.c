/* backend.c — choosing a backend at run time: CUDA when the plugin loads and finds a device, else CPU.
 *
 * Two plugins export the same entry point (RLDT_CUDA_PLUGIN_SYMBOL): librldt_cuda.so, the kernels built by
 * nvcc, and librldt_cuda_emu.so, the same kernel sources built by the host C++ compiler and run on the CPU
 * by the kernel emulator (kernels/emu/; backend "cuda-emu", only when asked for by name). Each is looked up,
 * in order, at its environment variable ($RLDT_CUDA_LIB, $RLDT_CUDA_EMU_LIB), next to the running
 * executable (and in its build/ folder), next to librldt.so when the engine is used as a shared library,
 * then by the dynamic loader's search path. Each is opened and probed once per process. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rldt/backend.h"
#include "rldt/comm.h"

typedef struct {
    const char *file, *env; /* the plugin's file name, the variable that can name its path */
    int probed;
    const rldt_backend_t *backend;
    char why[PATH_MAX + 256];
} plugin_t;

static plugin_t cuda_plugin = {.file = "librldt_cuda.so", .env = "RLDT_CUDA_LIB"};
static plugin_t emu_plugin = {.file = "librldt_cuda_emu.so", .env = "RLDT_CUDA_EMU_LIB"};

static void *try_open(plugin_t *pl, const char *dir, const char *sub)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s%s", dir, sub, pl->file);
    if (access(path, R_OK) != 0) return NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) snprintf(pl->why, sizeof pl->why, "plugin failed to load: %.200s", dlerror());
    return h;
}

static void *open_plugin(plugin_t *pl)
{
    const char *env = getenv(pl->env);
    if (env && env[0]) {
        void *h = access(env, R_OK) == 0 ? dlopen(env, RTLD_NOW | RTLD_LOCAL) : NULL;
        if (!h) snprintf(pl->why, sizeof pl->why, "plugin not found at %s=%.200s", pl->env, env);
        return h;
    }
    char dirs[2][PATH_MAX] = {{0}, {0}};
    ssize_t n = readlink("/proc/self/exe", dirs[0], sizeof dirs[0] - 1);
    if (n > 0) {
        dirs[0][n] = '\0';
        char *d = dirname(dirs[0]); /* may return a pointer into dirs[0] or a static string */
        memmove(dirs[0], d, strlen(d) + 1);
    }
    Dl_info info;
    if (dladdr((void *)rldt_backend_select, &info) && info.dli_fname) {
        snprintf(dirs[1], sizeof dirs[1], "%s", info.dli_fname);
        char *d = dirname(dirs[1]);
        memmove(dirs[1], d, strlen(d) + 1);
    }
    static const char *const subs[] = {"", "build/", "../", "../build/"};
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < 4 && dirs[d][0]; s++) {
            void *h = try_open(pl, dirs[d], subs[s]);
            if (h) return h;
        }
    void *h = dlopen(pl->file, RTLD_NOW | RTLD_LOCAL);
    if (!h && !pl->why[0]) snprintf(pl->why, sizeof pl->why, "plugin %s not found", pl->file);
    return h;
}

/* Opens the plugin and its backend once; afterwards returns the same answer. */
static const rldt_backend_t *probe(plugin_t *pl, char *why, size_t whylen)
{
    if (!pl->probed) {
        pl->probed = 1;
        void *h = open_plugin(pl);
        rldt_backend_open_fn open_fn = h ? (rldt_backend_open_fn)dlsym(h, RLDT_CUDA_PLUGIN_SYMBOL) : NULL;
        if (h && !open_fn) snprintf(pl->why, sizeof pl->why, "plugin lacks %s", RLDT_CUDA_PLUGIN_SYMBOL);
        if (open_fn) {
            pl->backend = open_fn(rldt_comm_world()->local_rank, pl->why, sizeof pl->why);
            if (pl->backend && pl->backend->abi != RLDT_BACKEND_ABI) {
                snprintf(pl->why, sizeof pl->why, "plugin ABI %d, expected %d (rebuild)", pl->backend->abi,
                         RLDT_BACKEND_ABI);
                pl->backend = NULL;
            }
        }
    }
    if (why) snprintf(why, whylen, "%.*s", (int)(whylen ? whylen - 1 : 0), pl->backend ? "" : pl->why);
    return pl->backend;
}

const rldt_backend_t *rldt_backend_cuda(char *why, size_t whylen)
{
    if (!RLDT_BUILD_CUDA && !cuda_plugin.probed) {
        cuda_plugin.probed = 1;
        snprintf(cuda_plugin.why, sizeof cuda_plugin.why, "not built (no nvcc at build time)");
    }
    return probe(&cuda_plugin, why, whylen);
}

const rldt_backend_t *rldt_backend_cuda_emu(char *why, size_t whylen) { return probe(&emu_plugin, why, whylen); }

#define OP(name) {#name, offsetof(rldt_backend_t, name)}
static const struct {
    const char *name;
    size_t offset;
} backend_ops[] = {
    OP(alloc), OP(free), OP(upload), OP(download), OP(copy), OP(sync), OP(mem_free), OP(fill_normal), OP(fill_uniform),
    OP(draw_index), OP(adam_step), OP(lerp), OP(scale), OP(sumsq), OP(sum), OP(linear_forward), OP(linear_backward), OP(act_forward), OP(act_backward),
    OP(layernorm_forward), OP(layernorm_backward), OP(axpy), OP(axpy_cols), OP(minimum), OP(fill), OP(copy_cols), OP(flow_pair),
    OP(chain_select), OP(euler_step), OP(expected_target), OP(gather_rows), OP(explore), OP(im2col), OP(col2im), OP(image_shift), OP(svgd_field), OP(actor_grad),
    OP(td_lambda), OP(time_features), OP(mse),
};
#undef OP

const char *rldt_backend_missing_op(const rldt_backend_t *be)
{
    for (size_t i = 0; i < sizeof backend_ops / sizeof backend_ops[0]; i++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)be + backend_ops[i].offset, sizeof fn);
        if (!fn) return backend_ops[i].name;
    }
    return NULL;
}

const rldt_backend_t *rldt_backend_select(const char *want, char *note, size_t notelen)
{
    if (note) note[0] = '\0';
    if (strcmp(want, "cpu") == 0) {
        if (note) snprintf(note, notelen, "backend: CPU (%s), chosen by run.device=cpu", rldt_backend_cpu()->device);
        return rldt_backend_cpu();
    }
    char why[256];
    if (strcmp(want, "cuda-emu") == 0) { /* explicit only: auto never picks the emulator */
        const rldt_backend_t *emu = rldt_backend_cuda_emu(why, sizeof why);
        const char *missing = emu ? rldt_backend_missing_op(emu) : NULL;
        if (missing) snprintf(why, sizeof why, "the emulated CUDA backend has no %s kernel yet", missing);
        if (!emu || missing) {
            rldt_error_set(RLDT_ERR, "run.device=cuda-emu but the kernel emulator is unavailable: %s", why);
            return NULL;
        }
        if (note)
            snprintf(note, notelen, "backend: %s, chosen by run.device=cuda-emu (slow: for testing kernels)",
                     emu->device);
        return emu;
    }
    if (strcmp(want, "cuda") != 0 && strcmp(want, "auto") != 0) {
        rldt_error_set(RLDT_ERR_USAGE, "unknown device '%s' (expected auto, cpu, cuda or cuda-emu)", want);
        return NULL;
    }
    const rldt_backend_t *cu = rldt_backend_cuda(why, sizeof why);
    const char *missing = cu ? rldt_backend_missing_op(cu) : NULL;
    if (missing) {
        snprintf(why, sizeof why, "%s found, but the CUDA backend has no %s kernel yet", cu->device, missing);
        cu = NULL;
    }
    if (cu) {
        if (note) snprintf(note, notelen, "backend: CUDA (%s)", cu->device);
        return cu;
    }
    if (strcmp(want, "cuda") == 0) {
        rldt_error_set(RLDT_ERR, "run.device=cuda but CUDA is unavailable: %s", why);
        return NULL;
    }
    if (note) snprintf(note, notelen, "CUDA: unavailable (%s) — using CPU", why);
    return rldt_backend_cpu();
}
