/* durable.h — writing files that survive full disks, file-size limits and power loss (internal to host/):
 * a file is written beside its destination as "<path>.tmp", synced, renamed over the destination, and the
 * directory synced; a failure at any point leaves the previous file as it was and no temp file behind. */
#ifndef RLDT_DURABLE_H
#define RLDT_DURABLE_H

#include "rldt/common.h"

/* A file-size limit (ulimit -f) kills a writer with SIGXFSZ by default; with the signal ignored the write
 * fails with EFBIG instead and the writer reports it. Ignores SIGXFSZ unless the process installed its own
 * handler. Called by every rldt writer before it writes. */
void rldt_ignore_sigxfsz(void);
/* "<path>.tmp", malloc'd. */
char *rldt_tmp_path(const char *path);
/* Renames a written and synced `tmp` over `path` and syncs the directory, so the rename itself survives a
 * power loss. On failure removes tmp and returns RLDT_ERR with "<what> <path>: ..." as the message. */
rldt_status_t rldt_commit_tmp(const char *tmp, const char *path, const char *what);
/* fsync of the directory holding `path`: 0, or the errno of the failure. */
int rldt_fsync_dir_of(const char *path);

#endif
