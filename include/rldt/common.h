/* rldt/common.h — things every module needs: the host/device qualifier for math shared by the CPU and
 * CUDA backends, status codes, the error channel and small helpers.
 *
 * Errors: a failing library call records a message with rldt_error_set() and returns a non-zero
 * rldt_status_t; the caller reads it with rldt_error_message(). The message is per thread. Nothing in the
 * library exits the process: the CLI decides the exit code from the status. */
#ifndef RLDT_COMMON_H
#define RLDT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define RLDT_HD __host__ __device__ __forceinline__
#else
#define RLDT_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_VERSION "0.1.0"
#define RLDT_PI 3.14159265358979323846

/* Status codes double as process exit codes in the CLI. */
typedef enum {
    RLDT_OK = 0,
    RLDT_ERR = 1,       /* runtime failure: I/O, device, numerical */
    RLDT_ERR_USAGE = 2, /* bad input from the user: config, CLI, file contents */
} rldt_status_t;

/* Records a printf-style message for the calling thread and returns `code` (so `return rldt_error_set(...)`
 * reads naturally). A later call replaces the message. */
rldt_status_t rldt_error_set(rldt_status_t code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's last message ("" if none). */
const char *rldt_error_message(void);
/* Clears the calling thread's message. */
void rldt_error_clear(void);

/* malloc/calloc that never return NULL: out of memory aborts with a message (the only fatal path). */
void *rldt_xmalloc(size_t bytes);
void *rldt_xcalloc(size_t count, size_t size);

/* Creates a directory and its parents (like mkdir -p); RLDT_ERR naming the directory on failure. */
rldt_status_t rldt_mkdirs(const char *path);
/* Creates the directory that will hold file `path` (nothing to do for a bare file name). */
rldt_status_t rldt_mkdirs_for(const char *path);

/* Wall-clock seconds from a monotonic clock. */
double rldt_now(void);

#ifdef __cplusplus
}
#endif
#endif
