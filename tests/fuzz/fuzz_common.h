/* fuzz_common.h — shared by the libFuzzer targets in tests/fuzz/: the fuzzer's bytes as a file the
 * library can open by path, and quiet logging. */
#ifndef RLDT_FUZZ_COMMON_H
#define RLDT_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include "rldt/log.h"

/* The path of one file in $RLDT_FUZZ_TMPDIR (default /dev/shm, else /tmp; made on first use, removed at exit) now
 * holding data[0..size). A real path: HDF5 resolves symbolic links such as /proc/self/fd/N itself. */
static char fuzz_path[64];
static void fuzz_remove(void) { unlink(fuzz_path); }

static const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("RLDT_FUZZ_TMPDIR"); /* run.sh removes it, also after a crash */
        if (!dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_path, sizeof fuzz_path, "%.40s/rldt_fuzz_%d", dir, (int)getpid());
        fd = open(fuzz_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) {
            perror(fuzz_path);
            abort();
        }
        atexit(fuzz_remove);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz file");
        abort();
    }
    return fuzz_path;
}

/* Errors only, and at most 1 GB treated as available (libFuzzer stops at its 2 GB RSS limit: a file that
 * declares more must be refused by the memory check, not allocated). */
static void fuzz_init(void)
{
    rldt_log_set_level(RLDT_LOG_ERROR);
    setenv("RLDT_MEM_AVAILABLE", "1000000000", 1);
}

#endif
