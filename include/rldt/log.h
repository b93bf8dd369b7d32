/* rldt/log.h — leveled, timestamped logging to stderr.
 *
 * Lines look like `2026-11-25 19:58:48.123 WARN  [rank 1] message`; the rank tag appears only once a
 * communicator set it (rldt_log_set_rank with rank >= 0 and size > 1), and then ranks other than 0 print
 * only warnings and errors. The level is set from the
 * `log.level` config key or the RLDT_LOG environment variable (debug|info|warn|error). */
#ifndef RLDT_LOG_H
#define RLDT_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RLDT_LOG_DEBUG = 0, RLDT_LOG_INFO, RLDT_LOG_WARN, RLDT_LOG_ERROR } rldt_log_level_t;

/* Messages below `level` are dropped. Default: INFO, or RLDT_LOG if set. */
void rldt_log_set_level(rldt_log_level_t level);
/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int rldt_log_parse_level(const char *name);
/* Tags every line with the rank when size > 1. */
void rldt_log_set_rank(int rank, int size);
/* Writes one line (a newline is appended). Thread-safe: each line is written with one fputs. */
void rldt_log(rldt_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rldt_debug(...) rldt_log(RLDT_LOG_DEBUG, __VA_ARGS__)
#define rldt_info(...) rldt_log(RLDT_LOG_INFO, __VA_ARGS__)
#define rldt_warn(...) rldt_log(RLDT_LOG_WARN, __VA_ARGS__)
#define rldt_errorlog(...) rldt_log(RLDT_LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
