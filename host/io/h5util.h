/* h5util.h — HDF5 helpers shared by checkpoints and datasets (internal to host/): attributes, and files
 * written through a driver that turns every I/O failure into a clean error. */
#ifndef RLDT_H5UTIL_H
#define RLDT_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

/* Turns off HDF5's own error printing (callers report failures with their own messages) and, on the first
 * call, HDF5's close-at-exit (see rldt_h5_create). */
void rldt_h5_quiet(void);
/* A scalar int64 attribute; < 0 on failure. */
herr_t rldt_h5_write_i64_attr(hid_t obj, const char *name, int64_t value);
/* A scalar fixed-length UTF-8 string attribute (its text lives in the object header, which carries a
 * checksum in the files rldt writes; h5py reads it as a str); < 0 on failure. */
herr_t rldt_h5_write_str_attr(hid_t obj, const char *name, const char *text);
/* A scalar string attribute (variable or fixed length) as a malloc'd C string, or NULL if absent or not a
 * string. */
char *rldt_h5_read_str_attr(hid_t obj, const char *name);

/* ------------------------------------------------------------------------------------------------ */
/* Writing files. HDF5 1.10 cannot survive a failed H5Fclose: when the final flush fails (a full disk, a
 * file-size limit) it frees the file but keeps its ID, and the process dies with SIGSEGV in the library's
 * close-at-exit. Files rldt writes therefore go through a small POSIX file driver that never reports a
 * failed write, truncate, sync or close to HDF5: it records the first one here, skips the writes after it,
 * and lets the close go through. Writers check `err` (rldt_h5_failed) as they go and after the close,
 * and remove the file. The driver itself changes nothing in the file format; the files are created in
 * the HDF5 1.10 format (rldt_h5_create), whose metadata all carries checksums. */
typedef struct {
    int err;      /* errno of the first failed write, truncate, fsync or close; 0 while all went through */
    int open_err; /* errno of the last failed open (why a create failed) */
} rldt_h5_io_t;

/* Creates (truncates) `path` for writing through the driver above; SIGXFSZ is ignored from here on
 * (a file-size limit then fails a write with EFBIG). < 0 on failure, with io->open_err set. */
hid_t rldt_h5_create(const char *path, rldt_h5_io_t *io);
/* Whether a write to the file of `io` has failed so far. */
int rldt_h5_failed(const rldt_h5_io_t *io);
/* Flushes, syncs (fsync) and closes a file made by rldt_h5_create. Returns 0, or the errno of the first
 * I/O failure (EIO when HDF5 failed in another way). The file is closed in every case. */
int rldt_h5_close(hid_t file, rldt_h5_io_t *io);

#endif
