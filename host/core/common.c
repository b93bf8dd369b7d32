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
    /* formatted aside first: an argument may be the current message itself ("key: %s", rldt_error_message()) */
    char text[sizeof error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    memcpy(error_message, text, sizeof text);
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

/* mkdir -p of the first n bytes of path (a copy is made: no length limit of its own). */
static rldt_status_t mkdirs_n(const char *path, size_t n)
{
    if (n == 0) return RLDT_OK;
    char *buf = rldt_xmalloc(n + 1);
    memcpy(buf, path, n);
    buf[n] = '\0';
    rldt_status_t st = RLDT_OK;
    for (char *p = buf + 1; !st; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) /* a file there: opening below it names the problem */
                st = rldt_error_set(RLDT_ERR, "cannot create directory %s: %s", buf, strerror(errno));
            *p = c;
        }
        if (c == '\0') break;
    }
    free(buf);
    return st;
}

rldt_status_t rldt_mkdirs(const char *path) { return mkdirs_n(path, strlen(path)); }

rldt_status_t rldt_mkdirs_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return RLDT_OK;
    return mkdirs_n(path, (size_t)(slash - path));
}
