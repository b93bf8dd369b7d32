/* common.c — the per-thread error channel, checked allocation and the clock (see rldt/common.h). */
#define _POSIX_C_SOURCE 200809L
#include "rldt/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static _Thread_local char error_message[1024];

rldt_status_t rldt_error_set(rldt_status_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

const char *rldt_error_message(void) { return error_message; }

void rldt_error_clear(void) { error_message[0] = '\0'; }

void *rldt_xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "rldt: out of memory allocating %zu bytes\n", bytes);
        abort();
    }
    return p;
}

void *rldt_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "rldt: out of memory allocating %zu x %zu bytes\n", count, size);
        abort();
    }
    return p;
}

double rldt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

rldt_status_t rldt_mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return rldt_error_set(RLDT_ERR, "cannot create directory %s: %s", buf, strerror(errno));
            *p = c;
        }
        if (c == '\0') return RLDT_OK;
    }
}

rldt_status_t rldt_mkdirs_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return RLDT_OK;
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return rldt_mkdirs(dir);
}
