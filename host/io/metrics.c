/* metrics.c — a run's metrics.jsonl and metrics.csv (see rldt/metrics.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "rldt/metrics.h"

enum { JSONL = 0, CSV = 1 };

rldt_status_t rldt_metrics_error(const char *path)
{
    return rldt_error_set(RLDT_ERR, "cannot write metrics to %s: %s", path, strerror(errno ? errno : EIO));
}

void rldt_metrics_header(const char *const *names, int n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++) used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", names[i]);
}

rldt_status_t rldt_metrics_trim(const char *path, long from, const char *header, const char *first, bool every_position,
                                long *kept)
{
    *kept = 0;
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? RLDT_OK : rldt_error_set(RLDT_ERR, "cannot read metrics %s: %s", path, strerror(errno));
    char key[128];
    snprintf(key, sizeof key, "{\"%s\":", first);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long next = 0, rows = 0; /* next: every_position: the position the next row must hold; else the least it may */
    rldt_status_t st = RLDT_OK;
    while (!st && (len = getline(&line, &cap, f)) > 0 && line[len - 1] == '\n') {
        if (header && *kept == 0) {
            if (strncmp(line, header, strlen(header)) != 0 || (size_t)len != strlen(header) + 1)
                st = rldt_error_set(RLDT_ERR_USAGE, "metrics %s: its header is not the one this build writes; move the file away to resume here",
                                    path);
            *kept += len;
            continue;
        }
        const char *num = header ? line : strncmp(line, key, strlen(key)) == 0 ? line + strlen(key) : NULL;
        char *end = NULL;
        double row = num ? strtod(num, &end) : NAN;
        bool whole = num && end != num && (*end == ',' || *end == '}') && row >= 0 && row == (double)(long)row;
        if (whole && row >= (double)from) break; /* the rows the resumed run writes again */
        if (!whole || (every_position ? row != (double)next : row < (double)next)) {
            st = rldt_error_set(RLDT_ERR_USAGE, "metrics %s: a damaged or out-of-order row after %ld good rows; move the file away "
                                "(or repair it) to resume here", path, rows);
            break;
        }
        next = every_position ? next + 1 : (long)row;
        rows++;
        *kept += len;
    }
    free(line);
    fclose(f);
    if (!st && every_position && next < from)
        st = rldt_error_set(RLDT_ERR_USAGE, "metrics %s holds %ld of the %ld iterations before the checkpoint; move the file "
                            "away (or repair it) to resume here", path, next, from);
    if (!st && truncate(path, (off_t)*kept) != 0)
        st = rldt_error_set(RLDT_ERR, "cannot cut metrics %s back to iteration %ld: %s", path, from, strerror(errno));
    return st;
}

rldt_status_t rldt_metrics_open(rldt_metrics_t *m, const char *dir, const char *const *names, int n, long from,
                               bool every_position)
{
    memset(m, 0, sizeof *m);
    if (n < 1 || n > RLDT_METRICS_MAX_COLUMNS)
        return rldt_error_set(RLDT_ERR_USAGE, "metrics: %d columns (1 to %d)", n, RLDT_METRICS_MAX_COLUMNS);
    m->names = names;
    m->n = n;
    char header[RLDT_METRICS_MAX_COLUMNS * 64];
    rldt_metrics_header(names, n, header, sizeof header);
    rldt_ignore_sigxfsz();
    const char *files[2] = {"metrics.jsonl", "metrics.csv"};
    const char *headers[2] = {NULL, header};
    for (int k = 0; k < 2; k++) {
        rldt_status_t st = rldt_path_format(m->path[k], sizeof m->path[k], "%s/%s", dir, files[k]);
        long kept = 0;
        if (!st && from > 0) st = rldt_metrics_trim(m->path[k], from, headers[k], names[0], every_position, &kept);
        if (st) return st;
        errno = 0;
        m->file[k] = fopen(m->path[k], from > 0 ? "a" : "w");
        if (!m->file[k]) return rldt_error_set(RLDT_ERR, "cannot open metrics %s: %s", m->path[k], strerror(errno));
        if (headers[k] && kept == 0 && (fprintf(m->file[k], "%s\n", headers[k]) < 0 || fflush(m->file[k]) != 0))
            return rldt_metrics_error(m->path[k]);
    }
    return RLDT_OK;
}

rldt_status_t rldt_metrics_write(rldt_metrics_t *m, const double *v)
{
    FILE *jsonl = m->file[JSONL], *csv = m->file[CSV];
    errno = 0;
    fputc('{', jsonl);
    for (int i = 0; i < m->n; i++) {
        fprintf(jsonl, "%s\"%s\":", i ? "," : "", m->names[i]);
        if (isfinite(v[i]))
            fprintf(jsonl, "%.8g", v[i]);
        else
            fputs("null", jsonl);
        fprintf(csv, "%s%.8g", i ? "," : "", v[i]);
    }
    fputs("}\n", jsonl);
    fputc('\n', csv);
    for (int k = 0; k < 2; k++)
        if (fflush(m->file[k]) != 0 || ferror(m->file[k])) return rldt_metrics_error(m->path[k]);
    return RLDT_OK;
}

rldt_status_t rldt_metrics_close(rldt_metrics_t *m)
{
    rldt_status_t st = RLDT_OK;
    for (int k = 0; k < 2; k++) {
        errno = 0;
        if (m->file[k] && fclose(m->file[k]) != 0 && !st) st = rldt_metrics_error(m->path[k]);
        m->file[k] = NULL;
    }
    return st;
}
