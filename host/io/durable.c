/* durable.c — temp file, sync, rename, sync the directory (see durable.h). */
#define _POSIX_C_SOURCE 200809L
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rldt_ignore_sigxfsz(void)
{
    struct sigaction now;
    if (sigaction(SIGXFSZ, NULL, &now) == 0 && !(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL)
        signal(SIGXFSZ, SIG_IGN);
}

char *rldt_tmp_path(const char *path)
{
    size_t n = strlen(path) + 5;
    char *tmp = rldt_xmalloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    return tmp;
}

int rldt_fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
    char *dir = rldt_xmalloc(n + 1);
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    int err = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) err = errno;
    /* some file systems cannot sync a directory (EINVAL): nothing more can be done there */
    if (err == EINVAL || err == EROFS) err = 0;
    if (fd >= 0) close(fd);
    free(dir);
    return err;
}

rldt_status_t rldt_commit_tmp(const char *tmp, const char *path, const char *what)
{
    if (rename(tmp, path) != 0) {
        int err = errno;
        remove(tmp);
        return rldt_error_set(RLDT_ERR, "%s %s: cannot rename %s over it: %s", what, path, tmp, strerror(err));
    }
    int err = rldt_fsync_dir_of(path);
    if (err) return rldt_error_set(RLDT_ERR, "%s %s: written, but its directory could not be synced: %s", what, path, strerror(err));
    return RLDT_OK;
}
