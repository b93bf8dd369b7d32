/* rldt/checkpoint.h — checkpoints: one HDF5 file of named float tensors, named integer scalars, the
 * resolved config (JSON) and a kind tag.
 *
 * Layout: root attributes `format` = "rldt-checkpoint", `format_version`, `kind` (e.g. "pretrain"),
 * `config` (JSON), `rldt_version`, `header_crc32`; group /scalars with one int64 attribute per scalar; one
 * float32 (or uint8) dataset per tensor at its name (names may contain '/', e.g. "policy/params").
 *
 * Every byte is checksummed: each tensor is chunked with HDF5's Fletcher-32 filter (a flipped byte fails
 * the read), and `header_crc32` is the CRC-32 (IEEE 802.3) of, in order: the format tag, the format
 * version (int64, little-endian), kind, config and rldt_version (each with its terminating NUL), then
 * for every scalar in name order its name (with NUL) and value (int64, little-endian). A changed config
 * or scalar fails the open. Version 1 files (no header checksum) are still read, with a warning.
 *
 * Saving is atomic and durable: the file is written to "<path>.tmp", synced (fsync), renamed over
 * <path>, and the directory synced. A kill, a full disk or a file-size limit at any point leaves the
 * previous checkpoint as it was and no temp file behind. */
#ifndef RLDT_CHECKPOINT_H
#define RLDT_CHECKPOINT_H

#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_CKPT_FORMAT "rldt-checkpoint"
#define RLDT_CKPT_VERSION 2

typedef struct rldt_ckpt_tensor {
    const char *name;
    const void *data; /* host memory: n floats, or n bytes when `bytes` is set */
    size_t n;
    int bytes;        /* 0: float32 tensor; 1: uint8 blob (flags, serialized env state) */
} rldt_ckpt_tensor_t;

typedef struct {
    const char *name;
    int64_t value;
} rldt_ckpt_scalar_t;

/* Writes a checkpoint atomically. RLDT_ERR naming the path on failure (the previous file is untouched). */
rldt_status_t rldt_ckpt_save(const char *path, const char *kind, const char *config_json, const rldt_ckpt_tensor_t *tensors,
                             int n_tensors, const rldt_ckpt_scalar_t *scalars, int n_scalars);

typedef struct rldt_ckpt rldt_ckpt_t;

/* Opens and checks a checkpoint of the given kind (NULL accepts any). Missing, truncated, non-HDF5 or
 * foreign files and a wrong kind or version: RLDT_ERR_USAGE naming the path and the problem. */
rldt_status_t rldt_ckpt_open(rldt_ckpt_t **out, const char *path, const char *kind);
/* The stored config JSON and kind (owned by the checkpoint). */
const char *rldt_ckpt_config(const rldt_ckpt_t *c);
const char *rldt_ckpt_kind(const rldt_ckpt_t *c);
/* The path the checkpoint was opened from (for messages). */
const char *rldt_ckpt_path(const rldt_ckpt_t *c);
/* Reads tensor `name` into dst, which must hold exactly n floats: a missing tensor, another length, rank
 * or type, no checksum, a checksum failure or non-finite values give RLDT_ERR_USAGE naming the file and
 * the tensor. */
rldt_status_t rldt_ckpt_read(rldt_ckpt_t *c, const char *name, float *dst, size_t n);
/* Reads uint8 tensor `name` into dst (exactly n bytes), with the same checks as rldt_ckpt_read. */
rldt_status_t rldt_ckpt_read_bytes(rldt_ckpt_t *c, const char *name, uint8_t *dst, size_t n);
/* Length of tensor `name`, or 0 if it is absent. */
size_t rldt_ckpt_length(rldt_ckpt_t *c, const char *name);
/* Reads scalar `name`: missing → RLDT_ERR_USAGE naming it. Values are checksummed but not range-checked:
 * a reader checks each against its config and the other values before using it (rldt_ckpt_scalar_in). */
rldt_status_t rldt_ckpt_scalar(rldt_ckpt_t *c, const char *name, int64_t *value);
/* Reads scalar `name` and checks lo <= value <= hi: missing or out of range → RLDT_ERR_USAGE naming the
 * file, the scalar, its value and the range. */
rldt_status_t rldt_ckpt_scalar_in(rldt_ckpt_t *c, const char *name, int64_t lo, int64_t hi, int64_t *value);
void rldt_ckpt_close(rldt_ckpt_t *c);

#ifdef __cplusplus
}
#endif
#endif
