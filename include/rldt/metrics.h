/* rldt/metrics.h — a training run's metrics files: <dir>/metrics.jsonl and <dir>/metrics.csv, one row per
 * logged point (a fine-tuning iteration, a SAC log interval), every row flushed as it is written.
 *
 * The columns are the caller's table of names; the first column is the row's position in the run (the
 * iteration, or the env steps so far), which a resumed run uses to cut the files back. The CSV starts with a
 * header line of the names; the JSONL holds one object per row with the names as keys. Missing values are
 * NaN: `nan` in the CSV, `null` in the JSONL. A row that cannot be written in full (a full disk, a
 * file-size limit) is an error: a run stops rather than go on without metrics. */
#ifndef RLDT_METRICS_H
#define RLDT_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "rldt/common.h"
#include "rldt/path.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_METRICS_MAX_COLUMNS 32

typedef struct {
    FILE *file[2]; /* jsonl, csv */
    char path[2][RLDT_PATH_MAX + 1];
    const char *const *names;
    int n;
} rldt_metrics_t;

/* The CSV header of n column names ("a,b,c") into buf[len]. */
void rldt_metrics_header(const char *const *names, int n, char *buf, size_t len);
/* Opens <dir>/metrics.{jsonl,csv} with the n (<= RLDT_METRICS_MAX_COLUMNS) columns `names` (kept by
 * pointer) for a run starting at row position `from`: fresh files at 0, otherwise the rows before `from`
 * are kept (rldt_metrics_trim with every_position: one row per position 0 .. from-1, or any positions that
 * never decrease). */
rldt_status_t rldt_metrics_open(rldt_metrics_t *m, const char *dir, const char *const *names, int n, long from,
                               bool every_position);
/* Appends one row of n values. */
rldt_status_t rldt_metrics_write(rldt_metrics_t *m, const double *values);
/* Closes the files; a failure to write what was still buffered is an error. Safe on a zeroed struct. */
rldt_status_t rldt_metrics_close(rldt_metrics_t *m);
/* The error of a failed write to `path` (errno, else EIO). */
rldt_status_t rldt_metrics_error(const char *path);
/* Cuts a metrics file back to its rows whose first value is below `from` (and the CSV header `header`; NULL
 * for a JSONL file, whose rows must start with {"<first>":), so that a resumed run does not repeat the
 * rows it replays; a partial last row (a kill mid-write) goes too. The rows kept must be whole: with
 * `every_position` exactly one row per position 0 .. from-1 in order, otherwise positions that never
 * decrease. A damaged row or a missing position is an error (the run's history would lose rows silently).
 * Returns the bytes kept in *kept (0 for a file that does not exist). */
rldt_status_t rldt_metrics_trim(const char *path, long from, const char *header, const char *first, bool every_position,
                                long *kept);

#ifdef __cplusplus
}
#endif
#endif
