/* log.c — leveled, timestamped, rank-aware logging to stderr (see rldt/log.h). */
#define _POSIX_C_SOURCE 200809L
#include "rldt/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_level = -1; /* -1: not yet read from the environment */
static int log_rank = -1, log_size = 1;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

int rldt_log_parse_level(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

void rldt_log_set_level(rldt_log_level_t level) { log_level = (int)level; }

void rldt_log_set_rank(int rank, int size)
{
    log_rank = rank;
    log_size = size;
}

void rldt_log(rldt_log_level_t level, const char *fmt, ...)
{
    if (log_level < 0) {
        int env = rldt_log_parse_level(getenv("RLDT_LOG"));
        log_level = env >= 0 ? env : RLDT_LOG_INFO;
    }
    if ((int)level < log_level) return;
    if (log_rank > 0 && log_size > 1 && level < RLDT_LOG_WARN) return; /* progress is rank 0's to print */

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ld %s ", ts.tv_nsec / 1000000L, level_names[level]);
    if (log_rank >= 0 && log_size > 1) n += snprintf(line + n, sizeof line - (size_t)n, "[rank %d] ", log_rank);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n] = '\n';
    line[n + 1] = '\0';
    fputs(line, stderr);
}
