/* dataset_reader.h — the dataset reader's state, shared by dataset_read.c (the file, its demos and masks)
 * and dataset_keys.c (which observation keys it reads); private to host/io. */
#ifndef RLDT_IO_DATASET_READER_H
#define RLDT_IO_DATASET_READER_H

#include <hdf5.h>

#include "rldt/dataset.h"

typedef struct {
    const char *path;
    hid_t file, data;
    rldt_dataset_meta_t *meta;
} reader_t;

/* Resolves the observation keys of o (NULL: the file's own spec, else its only key) on demo_<first>, the
 * lowest demo: their widths and image shapes into r->meta, and for a file without rldt's spec the rest of
 * the spec from the same demo. Every failure names the file, the demo and the key. */
rldt_status_t rldt_dataset_resolve_keys(const reader_t *r, const rldt_dataset_opts_t *o, int first);

#endif
