/* rldt/path.h — file paths handled safely: built without silent truncation, inputs that must be regular
 * files, and outputs that must not be the same file as an input.
 *
 * Every command that opens a file goes through these helpers:
 *   - rldt_path_format builds a path into a fixed buffer and fails (never truncates) when it does not fit;
 *   - rldt_path_check_input refuses an input that is missing or not a regular file (a FIFO would block the
 *     command forever, a directory or device is never what was meant);
 *   - rldt_path_check_output refuses an output that is (or whose "<path>.tmp", written first and renamed) is
 *     the same file as one of the command's inputs, compared by device and inode (so "./a.h5", "a.h5" and a
 *     hard link all match), and an output that exists but is not a regular file.
 * Errors are RLDT_ERR_USAGE (bad input from the user) with a message naming the path and its role. */
#ifndef RLDT_PATH_H
#define RLDT_PATH_H

#include <stdbool.h>

#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest path the helpers accept (bytes, without the terminating NUL); Linux's PATH_MAX is 4096. */
#define RLDT_PATH_MAX 4095

/* printf-style formatting of a path into buf[len]. When the result needs len bytes or more, buf is left
 * empty and RLDT_ERR_USAGE says how long the path would be and where it starts. */
rldt_status_t rldt_path_format(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "<dir>/<name>" as a malloc'd string, or NULL with the error set when it is longer than RLDT_PATH_MAX. */
char *rldt_path_join(const char *dir, const char *name);

/* An input the command reads: it must exist and be a regular file (symbolic links are followed).
 * `what` names its role in the message ("dataset", "checkpoint", "config file"). */
rldt_status_t rldt_path_check_input(const char *path, const char *what);

/* An input of a command, for rldt_path_check_output: NULL or "" paths are skipped. */
typedef struct {
    const char *path;
    const char *what; /* its role, e.g. "checkpoint" or "dataset (data.path)" */
} rldt_path_input_t;

/* An output the command will write: refused when out or "<out>.tmp" is the same file (st_dev and st_ino)
 * as any of the n inputs that exist, or when out is longer than RLDT_PATH_MAX - 4. With `renamed` (the
 * file is written as "<out>.tmp" and renamed over out, which would replace whatever is there), an out that
 * exists and is not a regular file (a device, a FIFO, a directory) is refused too; a file written in place
 * may be a device. `what` names the output's role ("export=", "out=", "checkpoint"). Outputs that do not
 * exist yet pass. */
rldt_status_t rldt_path_check_output(const char *out, const char *what, const rldt_path_input_t *inputs, int n, bool renamed);

#ifdef __cplusplus
}
#endif
#endif
