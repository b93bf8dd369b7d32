// emu.cpp — the kernel emulator's scheduler and runtime (see cuda_emu.h for the model).
//
// A launch takes the process-wide launch lock, then runs the blocks one after another on the calling OS
// thread. The threads of a block are fibers from one pool that lives for the process (stacks of 64 KiB, 256
// KiB under AddressSanitizer; $RLDT_EMU_STACK_KB overrides; a guard page below each): a fiber runs a loop
// "run the kernel body for the thread the scheduler gave me, mark it exited, yield", so fibers are reused
// from block to block and launch to launch without being rebuilt. A block runs in phases: every runnable
// fiber is resumed once, in the configured order, and runs until it waits at a barrier or exits; then the
// complete barriers are released (see release()). Switches are annotated for AddressSanitizer, which
// otherwise takes the fiber stacks for stack overflows.
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "emu/cuda_emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// Context switches: on x86-64 a few instructions that save the callee-saved registers and swap stack
// pointers (swapcontext makes a signal-mask system call per switch, which made a 1M-thread launch take over
// a second); elsewhere, or built with -DRLDT_EMU_UCONTEXT, ucontext.
#if defined(__x86_64__) && !defined(RLDT_EMU_UCONTEXT)
#define EMU_ASM_SWITCH 1
// rldt_emu_switch(&from_sp, to_sp): pushes rbp, rbx, r12-r15, MXCSR and the x87 control word, stores the
// stack pointer in *from_sp, loads to_sp and pops the same from there.
extern "C" void rldt_emu_switch(void **from_sp, void *to_sp);
asm(R"(
    .text
    .globl rldt_emu_switch
    .hidden rldt_emu_switch
    .type rldt_emu_switch, @function
    .p2align 4
rldt_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size rldt_emu_switch, .-rldt_emu_switch
)");
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

[[noreturn]] __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rldt cuda-emu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

enum FiberState : unsigned char { RUNNABLE, AT_BLOCK_BARRIER, AT_WARP_BARRIER, EXITED };

struct Context {
#ifdef EMU_ASM_SWITCH
    void *sp;
#else
    ucontext_t uc;
#endif
};

void context_switch(Context *from, Context *to)
{
#ifdef EMU_ASM_SWITCH
    rldt_emu_switch(&from->sp, to->sp);
#else
    if (swapcontext(&from->uc, &to->uc) != 0) die("swapcontext failed");
#endif
}

// A context that starts entry() (which must never return) on the given stack.
void context_init(Context *c, char *stack, size_t size, void (*entry)(void))
{
#ifdef EMU_ASM_SWITCH
    // From the top: a null return address for entry, entry itself (popped by ret), six zeroed registers,
    // then this thread's MXCSR and x87 control word. entry starts with rsp = 8 mod 16, as after a call.
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top - 9;
    memset(sp, 0, 9 * sizeof(uint64_t));
    sp[7] = (uint64_t)(uintptr_t)entry;
    uint32_t mxcsr;
    uint16_t fpucw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpucw));
    memcpy((char *)sp, &mxcsr, 4);
    memcpy((char *)sp + 4, &fpucw, 2);
    c->sp = sp;
#else
    if (getcontext(&c->uc) != 0) die("getcontext failed");
    c->uc.uc_stack.ss_sp = stack;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = nullptr;
    makecontext(&c->uc, entry, 0);
#endif
}

struct Fiber {
    Context ctx;
    uint3 tid;         // threadIdx of the thread it runs in this launch
    FiberState state;
    unsigned mask;     // the lanes named by the warp operation it waits at
    uint64_t slot;     // what it offers to a warp exchange or a block vote
    char *stack;       // usable stack (above the guard page)
    size_t stack_size;
};

enum OrderKind { ORDER_FORWARD, ORDER_REVERSE, ORDER_RANDOM };

constexpr unsigned MAX_THREADS = 1024, MAX_WARPS = MAX_THREADS / 32;
constexpr size_t DEFAULT_SHMEM = 48 * 1024, MAX_SHMEM_OPTIN = 232448; // sm_90: 227 KiB opt-in

// Everything below belongs to the launch that holds launch_lock.
pthread_mutex_t launch_lock = PTHREAD_MUTEX_INITIALIZER;
struct Scheduler {
    Fiber *fibers = nullptr;
    unsigned nfibers = 0;           // fibers created so far (the pool only grows)
    size_t stack_size = 0;
    Context main_ctx;               // the launching thread's context while a fiber runs
    unsigned cur = 0;               // the fiber running now
    unsigned nthreads = 0;          // threads per block of this launch
    const char *kernel = nullptr;
    void (*body)(const void *) = nullptr;
    const void *body_ctx = nullptr;
    unsigned warp_released[MAX_WARPS]; // per warp: the lanes released together at its last warp barrier
    unsigned runlist[MAX_THREADS];
    OrderKind order = ORDER_FORWARD;
    uint64_t rng = 0;
    char *dyn = nullptr;            // dynamic shared memory
    size_t dyn_cap = 0, dyn_size = 0;
#ifdef EMU_ASAN
    const void *main_stack_bottom = nullptr;
    size_t main_stack_size = 0;
#endif
} S;

// Order set by rldt_emu_set_order (overrides $RLDT_EMU_ORDER while set).
pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
char order_override[64];

// Dynamic shared memory limits raised with cudaFuncSetAttribute, by kernel.
struct ShmemAttr {
    const void *kernel;
    size_t bytes;
};
ShmemAttr shmem_attrs[256];
unsigned n_shmem_attrs;

// No thread_local here: the LeakSanitizer of GCC 12 crashes scanning the TLS of a dlopen'ed library at
// exit. The last error is process-wide (the runtime's is per host thread; the backend uses one thread), and
// "inside a kernel" is: a launch is running, on this thread.
int last_error_code; // a cudaError_t, read and written atomically
int launch_running;
pthread_t launch_thread;

bool in_kernel(void)
{
    return __atomic_load_n(&launch_running, __ATOMIC_ACQUIRE) && pthread_equal(__atomic_load_n(&launch_thread, __ATOMIC_RELAXED), pthread_self());
}

void set_last_error(cudaError_t e) { __atomic_store_n(&last_error_code, (int)e, __ATOMIC_RELAXED); }

uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t r = a % b;
        a = b, b = r;
    }
    return a;
}

uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Parses "forward", "reverse" or "random:<seed>"; false when it is none of them.
bool parse_order(const char *s, OrderKind *kind, uint64_t *seed)
{
    *seed = 0;
    if (!s || !*s || strcmp(s, "forward") == 0) return *kind = ORDER_FORWARD, true;
    if (strcmp(s, "reverse") == 0) return *kind = ORDER_REVERSE, true;
    if (strncmp(s, "random:", 7) == 0 && s[7]) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s + 7, &end, 10);
        if (*end || errno) return false;
        *seed = v;
        return *kind = ORDER_RANDOM, true;
    }
    return false;
}

void read_order(void)
{
    char buf[64];
    pthread_mutex_lock(&order_lock);
    memcpy(buf, order_override, sizeof buf);
    pthread_mutex_unlock(&order_lock);
    const char *s = buf[0] ? buf : getenv("RLDT_EMU_ORDER");
    uint64_t seed;
    if (!parse_order(s, &S.order, &seed))
        die("RLDT_EMU_ORDER=%s is not forward, reverse or random:<seed>", s);
    S.rng = seed;
}

// ---------------------------------------------------------------------------------------------------
// fibers

void fiber_main(void);

void switch_to_fiber(unsigned t)
{
    Fiber *f = &S.fibers[t];
    S.cur = t;
    threadIdx = f->tid;
#ifdef EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f->stack, f->stack_size);
#endif
    context_switch(&S.main_ctx, &f->ctx);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

// Called on a fiber: back to the scheduler, which resumes it later where it stopped.
void yield_to_scheduler(void)
{
    Fiber *f = &S.fibers[S.cur];
#ifdef EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, S.main_stack_bottom, S.main_stack_size);
#endif
    context_switch(&f->ctx, &S.main_ctx);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, &S.main_stack_bottom, &S.main_stack_size);
#endif
}

void fiber_main(void)
{
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &S.main_stack_bottom, &S.main_stack_size);
#endif
    for (;;) {
        S.body(S.body_ctx);
        S.fibers[S.cur].state = EXITED;
        yield_to_scheduler();
    }
}

size_t fiber_stack_size(void)
{
    const char *kb = getenv("RLDT_EMU_STACK_KB");
    long v = kb ? atol(kb) : 0;
#ifdef EMU_ASAN
    size_t def = 256 * 1024;
#else
    size_t def = 64 * 1024;
#endif
    return v >= 16 ? (size_t)v * 1024 : def;
}

void ensure_fibers(unsigned n)
{
    if (!S.fibers) {
        S.fibers = (Fiber *)calloc(MAX_THREADS, sizeof(Fiber));
        if (!S.fibers) die("out of memory for the fiber pool");
        S.stack_size = fiber_stack_size();
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (; S.nfibers < n; S.nfibers++) {
        Fiber *f = &S.fibers[S.nfibers];
        char *m = (char *)mmap(nullptr, S.stack_size + page, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) die("cannot map a fiber stack (%zu bytes)", S.stack_size);
        if (mprotect(m, page, PROT_NONE) != 0) die("cannot protect a fiber stack guard page");
        f->stack = m + page;
        f->stack_size = S.stack_size;
        context_init(&f->ctx, f->stack, f->stack_size, fiber_main);
        f->state = EXITED;
    }
}

Fiber *self(const char *what)
{
    if (!in_kernel())
        die("%s called outside a kernel", what);
    return &S.fibers[S.cur];
}

// ---------------------------------------------------------------------------------------------------
// running a block

void permute(unsigned *list, unsigned n)
{
    if (S.order == ORDER_REVERSE) {
        for (unsigned i = 0, j = n - 1; i < j; i++, j--) {
            unsigned t = list[i];
            list[i] = list[j], list[j] = t;
        }
    } else if (S.order == ORDER_RANDOM) {
        for (unsigned i = n - 1; i > 0; i--) {
            unsigned j = (unsigned)(splitmix64(&S.rng) % (i + 1));
            unsigned t = list[i];
            list[i] = list[j], list[j] = t;
        }
    }
}

unsigned live_lanes(unsigned w)
{
    unsigned m = 0, base = w * 32;
    for (unsigned l = 0; l < 32 && base + l < S.nthreads; l++)
        if (S.fibers[base + l].state != EXITED) m |= 1u << l;
    return m;
}

[[noreturn]] void deadlock(unsigned nbar, unsigned nwarp, unsigned nexit)
{
    char first[96] = "";
    for (unsigned t = 0; t < S.nthreads; t++)
        if (S.fibers[t].state == AT_WARP_BARRIER) {
            snprintf(first, sizeof first, " (first: thread %u, lane mask %#x)", t, S.fibers[t].mask);
            break;
        }
    die("deadlock in kernel %s, block (%u,%u,%u): %u threads wait at __syncthreads, %u at a warp barrier%s, "
        "%u exited; no barrier can complete (a barrier in divergent code, or a warp mask naming a lane that "
        "never arrives)",
        S.kernel, blockIdx.x, blockIdx.y, blockIdx.z, nbar, nwarp, first, nexit);
}

// After a phase: releases __syncthreads when every live thread waits there, else every warp whose waiting
// lanes cover the live lanes their masks name. Returns false when the block has finished.
bool release(void)
{
    unsigned nbar = 0, nwarp = 0, nexit = 0;
    for (unsigned t = 0; t < S.nthreads; t++) {
        FiberState st = S.fibers[t].state;
        nbar += st == AT_BLOCK_BARRIER, nwarp += st == AT_WARP_BARRIER, nexit += st == EXITED;
    }
    if (nexit == S.nthreads) return false;
    if (nwarp == 0) { // every live thread is at __syncthreads
        for (unsigned t = 0; t < S.nthreads; t++)
            if (S.fibers[t].state == AT_BLOCK_BARRIER) S.fibers[t].state = RUNNABLE;
        return true;
    }
    bool any = false;
    for (unsigned w = 0; w * 32 < S.nthreads; w++) {
        unsigned waiting = 0, named = 0, base = w * 32;
        for (unsigned l = 0; l < 32 && base + l < S.nthreads; l++)
            if (S.fibers[base + l].state == AT_WARP_BARRIER) waiting |= 1u << l, named |= S.fibers[base + l].mask;
        if (!waiting || (named & live_lanes(w) & ~waiting)) continue;
        S.warp_released[w] = waiting;
        for (unsigned l = 0; l < 32; l++)
            if (waiting >> l & 1) S.fibers[base + l].state = RUNNABLE;
        any = true;
    }
    if (!any) deadlock(nbar, nwarp, nexit);
    return true;
}

void run_block(void)
{
    for (unsigned t = 0; t < S.nthreads; t++) S.fibers[t].state = RUNNABLE;
    do {
        unsigned n = 0;
        for (unsigned t = 0; t < S.nthreads; t++)
            if (S.fibers[t].state == RUNNABLE) S.runlist[n++] = t;
        permute(S.runlist, n);
        for (unsigned i = 0; i < n; i++) switch_to_fiber(S.runlist[i]);
    } while (release());
}

void warp_wait(Fiber *f, unsigned mask)
{
    f->state = AT_WARP_BARRIER;
    f->mask = mask;
    yield_to_scheduler();
}

void block_wait(Fiber *f)
{
    f->state = AT_BLOCK_BARRIER;
    yield_to_scheduler();
}

bool valid_geometry(dim3 g, dim3 b)
{
    if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return false;
    if (g.x > 2147483647u || g.y > 65535u || g.z > 65535u) return false;
    if (b.x > 1024u || b.y > 1024u || b.z > 64u) return false;
    return (uint64_t)b.x * b.y * b.z <= MAX_THREADS;
}

size_t shmem_limit(const void *kernel)
{
    size_t lim = DEFAULT_SHMEM;
    pthread_mutex_lock(&order_lock);
    for (unsigned i = 0; i < n_shmem_attrs; i++)
        if (shmem_attrs[i].kernel == kernel && shmem_attrs[i].bytes > lim) lim = shmem_attrs[i].bytes;
    pthread_mutex_unlock(&order_lock);
    return lim;
}

void set_dynamic_shared(size_t bytes)
{
    if (bytes > S.dyn_cap) {
        free(S.dyn);
        S.dyn_cap = bytes < 4096 ? 4096 : bytes;
        if (posix_memalign((void **)&S.dyn, 256, S.dyn_cap) != 0) die("out of memory for shared memory");
    }
    S.dyn_size = bytes;
#ifdef EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(S.dyn, S.dyn_cap);
    ASAN_POISON_MEMORY_REGION(S.dyn + bytes, S.dyn_cap - bytes);
#endif
}

#ifdef EMU_ASAN
// Appended to an AddressSanitizer report raised inside a kernel: which kernel, block and thread.
void asan_report_context(const char *)
{
    if (in_kernel())
        fprintf(stderr, "rldt cuda-emu: the error above is in kernel %s, block (%u,%u,%u), thread (%u,%u,%u)\n",
                S.kernel, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
}
#endif

} // namespace

// ---------------------------------------------------------------------------------------------------
// launches

void rldt_emu_launch_body(const char *name, const void *kernel, dim3 grid, dim3 block, size_t shmem,
                          void (*body)(const void *), const void *ctx)
{
    if (!valid_geometry(grid, block)) {
        set_last_error(cudaErrorInvalidConfiguration);
        return;
    }
    if (shmem > shmem_limit(kernel)) {
        set_last_error(cudaErrorInvalidValue);
        return;
    }
    if (in_kernel()) die("kernel %s launched from inside a kernel", name);
    pthread_mutex_lock(&launch_lock);
#ifdef EMU_ASAN
    static bool asan_hooked;
    if (!asan_hooked) __asan_set_error_report_callback(asan_report_context), asan_hooked = true;
#endif
    read_order();
    unsigned nt = block.x * block.y * block.z;
    ensure_fibers(nt);
    set_dynamic_shared(shmem);
    __atomic_store_n(&launch_thread, pthread_self(), __ATOMIC_RELAXED);
    __atomic_store_n(&launch_running, 1, __ATOMIC_RELEASE);
    S.kernel = name;
    S.body = body;
    S.body_ctx = ctx;
    S.nthreads = nt;
    for (unsigned t = 0; t < nt; t++) S.fibers[t].tid = uint3{t % block.x, t / block.x % block.y, t / (block.x * block.y)};
    blockDim = block;
    gridDim = grid;
    // Block order: forward, reverse, or a seeded affine permutation i -> (a i + c) mod N with gcd(a, N) = 1.
    uint64_t nb = (uint64_t)grid.x * grid.y * grid.z, a = 1, c = 0;
    if (S.order == ORDER_RANDOM && nb > 1) {
        a = 1 + splitmix64(&S.rng) % (nb - 1);
        while (gcd(a, nb) != 1) a = a % (nb - 1) + 1;
        c = splitmix64(&S.rng) % nb;
    }
    for (uint64_t i = 0; i < nb; i++) {
        uint64_t b = S.order == ORDER_REVERSE ? nb - 1 - i
                     : S.order == ORDER_RANDOM ? (uint64_t)(((unsigned __int128)a * i + c) % nb)
                                               : i;
        blockIdx = uint3{(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / grid.x / grid.y)};
        if (shmem) memset(S.dyn, 0xff, shmem); // unwritten shared memory reads as NaN
        run_block();
    }
    __atomic_store_n(&launch_running, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&launch_lock);
}

void *rldt_emu_dynamic_shared(void)
{
    self("dynamic shared memory");
    return S.dyn;
}

extern "C" RLDT_EMU_API int rldt_emu_set_order(const char *order)
{
    OrderKind k;
    uint64_t seed;
    if (order && !parse_order(order, &k, &seed)) {
        fprintf(stderr, "rldt cuda-emu: thread order '%s' is not forward, reverse or random:<seed>\n", order);
        return -1;
    }
    pthread_mutex_lock(&order_lock);
    snprintf(order_override, sizeof order_override, "%s", order ? order : "");
    pthread_mutex_unlock(&order_lock);
    return 0;
}

cudaError_t rldt_emu_func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value)
{
    if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || (size_t)value > MAX_SHMEM_OPTIN)
        return cudaErrorInvalidValue;
    pthread_mutex_lock(&order_lock);
    cudaError_t err = cudaSuccess;
    unsigned i = 0;
    while (i < n_shmem_attrs && shmem_attrs[i].kernel != kernel) i++;
    if (i == n_shmem_attrs && n_shmem_attrs < sizeof shmem_attrs / sizeof shmem_attrs[0]) n_shmem_attrs++;
    if (i < n_shmem_attrs) shmem_attrs[i] = ShmemAttr{kernel, (size_t)value};
    else err = cudaErrorInvalidValue;
    pthread_mutex_unlock(&order_lock);
    return err;
}

// ---------------------------------------------------------------------------------------------------
// barriers and warp operations

void __syncthreads(void) { block_wait(self("__syncthreads")); }

static int block_vote(int pred, int kind) // 0: count, 1: and, 2: or
{
    Fiber *f = self("__syncthreads_count/and/or");
    f->slot = pred != 0;
    block_wait(f);
    int count = 0, live = 0;
    for (unsigned t = 0; t < S.nthreads; t++)
        if (S.fibers[t].state != EXITED) live++, count += (int)S.fibers[t].slot;
    block_wait(f);
    return kind == 0 ? count : kind == 1 ? count == live : count > 0;
}
int __syncthreads_count(int pred) { return block_vote(pred, 0); }
int __syncthreads_and(int pred) { return block_vote(pred, 1); }
int __syncthreads_or(int pred) { return block_vote(pred, 2); }

void __syncwarp(unsigned mask) { warp_wait(self("__syncwarp"), mask); }

unsigned __activemask(void)
{
    self("__activemask");
    return live_lanes(S.cur / 32);
}

// Each lane of `mask` that takes part offers pred; returns the ballot over the lanes that took part and,
// in *part, those lanes.
static unsigned warp_ballot(unsigned mask, int pred, unsigned *part, const char *what)
{
    Fiber *f = self(what);
    unsigned w = S.cur / 32, base = w * 32;
    f->slot = pred != 0;
    warp_wait(f, mask);
    unsigned in = S.warp_released[w] & mask, out = 0;
    for (unsigned l = 0; l < 32; l++)
        if ((in >> l & 1) && S.fibers[base + l].slot) out |= 1u << l;
    warp_wait(f, mask);
    *part = in;
    return out;
}

unsigned __ballot_sync(unsigned mask, int pred)
{
    unsigned part;
    return warp_ballot(mask, pred, &part, "__ballot_sync");
}

int __all_sync(unsigned mask, int pred)
{
    unsigned part, b = warp_ballot(mask, pred, &part, "__all_sync");
    return b == part;
}

uint64_t rldt_emu_shfl(unsigned mask, uint64_t bits, rldt_emu_shfl_mode mode, int arg, int width)
{
    Fiber *f = self("__shfl_*_sync");
    if (width <= 0 || width > 32 || (width & (width - 1)))
        die("kernel %s: shuffle width %d is not a power of two <= 32", S.kernel, width);
    unsigned t = S.cur, w = t / 32;
    long lane = t % 32, seg = lane & ~(long)(width - 1), src = lane;
    switch (mode) {
    case RLDT_EMU_SHFL_IDX: src = seg + (arg & (width - 1)); break;
    case RLDT_EMU_SHFL_UP: src = lane - (long)(unsigned)arg; if (src < seg) src = lane; break;
    case RLDT_EMU_SHFL_DOWN: src = lane + (long)(unsigned)arg; if (src >= seg + width) src = lane; break;
    case RLDT_EMU_SHFL_XOR: src = lane ^ (long)(unsigned)arg; if (src >= seg + width) src = lane; break;
    }
    f->slot = bits;
    warp_wait(f, mask);
    uint64_t out = bits;
    if (src != lane) {
        unsigned st = w * 32 + (unsigned)src;
        // a lane that does not take part has no value to give: all-ones bits (NaN) make the bug visible
        out = st < S.nthreads && (S.warp_released[w] >> src & 1) ? S.fibers[st].slot : ~0ull;
    }
    warp_wait(f, mask);
    return out;
}

// ---------------------------------------------------------------------------------------------------
// runtime API

static cudaError_t ret(cudaError_t e)
{
    if (e != cudaSuccess) set_last_error(e);
    return e;
}

const char *cudaGetErrorName(cudaError_t err)
{
    switch (err) {
#define E(x) case x: return #x;
    E(cudaSuccess) E(cudaErrorInvalidValue) E(cudaErrorMemoryAllocation) E(cudaErrorInitializationError)
    E(cudaErrorInvalidConfiguration) E(cudaErrorInvalidSymbol) E(cudaErrorInvalidDevicePointer)
    E(cudaErrorInvalidMemcpyDirection) E(cudaErrorInsufficientDriver) E(cudaErrorNoDevice)
    E(cudaErrorInvalidDevice) E(cudaErrorInvalidResourceHandle) E(cudaErrorNotReady)
    E(cudaErrorLaunchOutOfResources) E(cudaErrorLaunchFailure) E(cudaErrorNotSupported) E(cudaErrorUnknown)
#undef E
    }
    return "unrecognized error code";
}

const char *cudaGetErrorString(cudaError_t err)
{
    switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    default: return cudaGetErrorName(err);
    }
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = (cudaError_t)__atomic_exchange_n(&last_error_code, (int)cudaSuccess, __ATOMIC_RELAXED);
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return (cudaError_t)__atomic_load_n(&last_error_code, __ATOMIC_RELAXED); }

cudaError_t cudaGetDeviceCount(int *count)
{
    *count = 1;
    return cudaSuccess;
}

static size_t host_memory(int name)
{
    long pages = sysconf(name), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : (size_t)16 << 30;
}

// Shaped like an sm_90 part (H100 SXM) so that launch geometry computed from the properties is realistic.
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device)
{
    if (device != 0) return ret(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "cuda-emu (kernels emulated on the CPU)");
    p->totalGlobalMem = host_memory(_SC_PHYS_PAGES);
    p->sharedMemPerBlock = DEFAULT_SHMEM;
    p->sharedMemPerBlockOptin = MAX_SHMEM_OPTIN;
    p->sharedMemPerMultiprocessor = 233472;
    p->totalConstMem = 65536;
    p->regsPerBlock = p->regsPerMultiprocessor = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = (int)MAX_THREADS;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->major = 9, p->minor = 0;
    p->multiProcessorCount = 132;
    p->maxThreadsPerMultiProcessor = 2048;
    p->l2CacheSize = 50 << 20;
    p->memoryBusWidth = 5120;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device)
{
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return ret(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; break;
    default: return ret(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : ret(cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int *device)
{
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v)
{
    *v = 13000;
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int *v)
{
    *v = 13000;
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; } // every launch and copy is synchronous
cudaError_t cudaDeviceReset(void) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t stream) { return stream ? ret(cudaErrorInvalidResourceHandle) : cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    *free_bytes = host_memory(_SC_AVPHYS_PAGES);
    *total_bytes = host_memory(_SC_PHYS_PAGES);
    return cudaSuccess;
}

// Device memory is host memory, 256-byte aligned as cudaMalloc's, and filled with 0xff bytes: the GPU does
// not clear it, and all-ones floats are NaN, so a kernel that reads what nobody wrote shows it.
cudaError_t cudaMalloc(void **ptr, size_t bytes)
{
    *ptr = nullptr;
    if (!bytes) return cudaSuccess;
    if (posix_memalign(ptr, 256, bytes) != 0) return *ptr = nullptr, ret(cudaErrorMemoryAllocation);
    memset(*ptr, 0xff, bytes);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void **ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
cudaError_t cudaFree(void *ptr)
{
    free(ptr);
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void *ptr) { return cudaFree(ptr); }
cudaError_t cudaMemset(void *ptr, int value, size_t bytes)
{
    if (bytes && !ptr) return ret(cudaErrorInvalidValue);
    if (bytes) memset(ptr, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t stream)
{
    return stream ? ret(cudaErrorInvalidResourceHandle) : cudaMemset(ptr, value, bytes);
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    if ((unsigned)kind > cudaMemcpyDefault) return ret(cudaErrorInvalidMemcpyDirection);
    if (bytes && (!dst || !src)) return ret(cudaErrorInvalidValue);
    if (bytes && dst != src) memcpy(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream)
{
    return stream ? ret(cudaErrorInvalidResourceHandle) : cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind)
{
    if (width > dpitch || width > spitch) return ret(cudaErrorInvalidValue);
    for (size_t r = 0; r < height; r++) {
        cudaError_t e = cudaMemcpy((char *)dst + r * dpitch, (const char *)src + r * spitch, width, kind);
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

cudaError_t rldt_emu_symbol_copy(void *dst, const void *src, size_t count, size_t offset, size_t symbol_size)
{
    if (offset > symbol_size || count > symbol_size - offset) return ret(cudaErrorInvalidValue);
    if (count) memcpy(dst, src, count);
    return cudaSuccess;
}

struct CUevent_st {
    double ms;
    bool recorded;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

cudaError_t cudaEventCreate(cudaEvent_t *event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags)
{
    *event = (cudaEvent_t)calloc(1, sizeof(CUevent_st));
    return *event ? cudaSuccess : ret(cudaErrorMemoryAllocation);
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    if (!event || stream) return ret(cudaErrorInvalidResourceHandle);
    event->ms = now_ms();
    event->recorded = true;
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) { return event ? cudaSuccess : ret(cudaErrorInvalidResourceHandle); }
cudaError_t cudaEventQuery(cudaEvent_t event) { return event ? cudaSuccess : ret(cudaErrorInvalidResourceHandle); }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    if (!start || !end) return ret(cudaErrorInvalidResourceHandle);
    if (!start->recorded || !end->recorded) return ret(cudaErrorInvalidResourceHandle);
    *ms = (float)(end->ms - start->ms);
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    free(event);
    return cudaSuccess;
}
