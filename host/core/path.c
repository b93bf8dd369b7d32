/* path.c — checked path building, input files that must be regular, outputs that must not be inputs (see
 * rldt/path.h). */
#define _POSIX_C_SOURCE 200809L
#include "rldt/path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The start of an overlong path, for messages (the whole of it would not fit in one). */
static const char *head(const char *path, char *buf, size_t len)
{
    size_t n = strlen(path);
    if (n < len) return path;
    snprintf(buf, len, "%.*s...", (int)(len - 4), path);
    return buf;
}

rldt_status_t rldt_path_format(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < len) return RLDT_OK;
    char start[80];
    rldt_status_t st = rldt_error_set(RLDT_ERR_USAGE, "path too long: '%s' would be %d bytes, at most %zu fit",
                                      head(buf, start, sizeof start), n, len ? len - 1 : 0);
    if (len) buf[0] = '\0';
    return st;
}

char *rldt_path_join(const char *dir, const char *name)
{
    size_t nd = strlen(dir), nn = strlen(name);
    char start[80];
    if (nd + 1 + nn > RLDT_PATH_MAX) {
        rldt_error_set(RLDT_ERR_USAGE, "path too long: '%s/%s' would be %zu bytes, at most %d are allowed",
                       head(dir, start, sizeof start), name, nd + 1 + nn, RLDT_PATH_MAX);
        return NULL;
    }
    char *p = rldt_xmalloc(nd + nn + 2);
    memcpy(p, dir, nd);
    p[nd] = '/';
    memcpy(p + nd + 1, name, nn + 1);
    return p;
}

static const char *kind_of(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO (named pipe)" : S_ISSOCK(mode) ? "a socket"
         : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "not a regular file";
}

rldt_status_t rldt_path_check_input(const char *path, const char *what)
{
    char start[80];
    if (strlen(path) > RLDT_PATH_MAX)
        return rldt_error_set(RLDT_ERR_USAGE, "%s '%s': path longer than %d bytes", what, head(path, start, sizeof start),
                              RLDT_PATH_MAX);
    struct stat s;
    if (stat(path, &s) != 0) return rldt_error_set(RLDT_ERR_USAGE, "cannot read %s '%s': %s", what, path, strerror(errno));
    if (!S_ISREG(s.st_mode))
        return rldt_error_set(RLDT_ERR_USAGE, "%s '%s' is %s, not a regular file", what, path, kind_of(s.st_mode));
    return RLDT_OK;
}

/* The input among inputs[0..n) that is the same file as `st`, or NULL. */
static const rldt_path_input_t *same_as(const struct stat *st, const rldt_path_input_t *inputs, int n)
{
    for (int i = 0; i < n; i++) {
        struct stat in;
        if (!inputs[i].path || !inputs[i].path[0] || stat(inputs[i].path, &in) != 0) continue;
        if (in.st_dev == st->st_dev && in.st_ino == st->st_ino) return &inputs[i];
    }
    return NULL;
}

rldt_status_t rldt_path_check_output(const char *out, const char *what, const rldt_path_input_t *inputs, int n, bool renamed)
{
    char start[80];
    size_t len = strlen(out);
    if (len > RLDT_PATH_MAX - 4) /* room for ".tmp" */
        return rldt_error_set(RLDT_ERR_USAGE, "%s '%s': path longer than %d bytes", what, head(out, start, sizeof start),
                              RLDT_PATH_MAX - 4);
    if (!len) return rldt_error_set(RLDT_ERR_USAGE, "%s: empty path", what);
    struct stat s;
    if (stat(out, &s) == 0) {
        if (renamed && !S_ISREG(s.st_mode))
            return rldt_error_set(RLDT_ERR_USAGE, "%s '%s' exists and is %s: refusing to replace it", what, out,
                                  kind_of(s.st_mode));
        const rldt_path_input_t *in = same_as(&s, inputs, n);
        if (in)
            return rldt_error_set(RLDT_ERR_USAGE, "%s '%s' is the same file as the %s '%s': an output must not overwrite an input",
                                  what, out, in->what, in->path);
    }
    char *tmp = rldt_xmalloc(len + 5);
    memcpy(tmp, out, len);
    memcpy(tmp + len, ".tmp", 5);
    const rldt_path_input_t *in = stat(tmp, &s) == 0 ? same_as(&s, inputs, n) : NULL;
    free(tmp);
    if (in)
        return rldt_error_set(RLDT_ERR_USAGE, "%s '%s' is written through '%s.tmp', which is the %s: an output must not overwrite an input",
                              what, out, out, in->what);
    return RLDT_OK;
}
