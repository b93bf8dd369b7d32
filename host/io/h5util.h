/* h5util.h — small HDF5 attribute helpers shared by checkpoints and datasets (internal to host/). */
#ifndef RLDT_H5UTIL_H
#define RLDT_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

/* Turns off HDF5's own error printing: callers report failures with their own messages. */
void rldt_h5_quiet(void);
/* A scalar int64 attribute; < 0 on failure. */
herr_t rldt_h5_write_i64_attr(hid_t obj, const char *name, int64_t value);
/* A scalar variable-length UTF-8 string attribute (what h5py writes for a Python str); < 0 on failure. */
herr_t rldt_h5_write_str_attr(hid_t obj, const char *name, const char *text);
/* A scalar string attribute (variable or fixed length) as a malloc'd C string, or NULL if absent or not a
 * string. */
char *rldt_h5_read_str_attr(hid_t obj, const char *name);

#endif
