/* rldt/config.h — the resolved configuration: YAML file + dotted key=value overrides, checked against the
 * one table of known keys (rldt/config_keys.def) with type, default, range and doc.
 *
 * Usage:
 *   rldt_config_t cfg;
 *   rldt_config_defaults(&cfg);
 *   if (rldt_config_load_yaml(&cfg, "configs/pendulum.yaml")) { ... rldt_error_message() ... }
 *   if (rldt_config_set(&cfg, "pretrain.lr", "1e-5", "<command line>", 0)) { ... }
 *   double lr = cfg.pre_lr;
 * Every error returns RLDT_ERR_USAGE with a message naming the key, the file and the line. */
#ifndef RLDT_CONFIG_H
#define RLDT_CONFIG_H

#include <stdbool.h>

#include "rldt/common.h"
#include "rldt/path.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_CFG_STR_MAX 256

typedef enum { RLDT_CFG_INT, RLDT_CFG_FLOAT, RLDT_CFG_BOOL, RLDT_CFG_STR, RLDT_CFG_ENUM } rldt_cfg_type_t;

#define RLDT_CFG_DECL_INT(f) long f;
#define RLDT_CFG_DECL_FLOAT(f) double f;
#define RLDT_CFG_DECL_BOOL(f) bool f;
#define RLDT_CFG_DECL_STR(f) char f[RLDT_CFG_STR_MAX];
#define RLDT_CFG_DECL_ENUM(f) char f[RLDT_CFG_STR_MAX];

typedef struct {
#define X(field, name, type, def, lo, hi, choices, doc) RLDT_CFG_DECL_##type(field)
#include "rldt/config_keys.def"
#undef X
} rldt_config_t;

/* One row of the key table. */
typedef struct {
    const char *name;    /* dotted key, e.g. "pretrain.lr" */
    rldt_cfg_type_t type;
    size_t offset;       /* of the field in rldt_config_t */
    const char *def;     /* default, as text */
    double min, max;     /* inclusive bounds for INT and FLOAT */
    const char *choices; /* "a|b|c" for ENUM, else NULL */
    const char *doc;
} rldt_config_key_t;

/* The table and its length. */
const rldt_config_key_t *rldt_config_keys(size_t *count);
/* The row for a dotted name, or NULL. */
const rldt_config_key_t *rldt_config_find(const char *name);

/* Sets every key to its default. */
void rldt_config_defaults(rldt_config_t *cfg);
/* Parses `text` as the value of `key` and stores it. `origin` and `line` name where it came from (file
 * and 1-based line, or "<command line>" and 0) for the error message. Unknown key, bad type, out of
 * range or not a choice: RLDT_ERR_USAGE. */
rldt_status_t rldt_config_set(rldt_config_t *cfg, const char *key, const char *text, const char *origin, int line);
/* Reads a YAML file of nested mappings whose leaves are scalars; nesting maps to dotted keys
 * (`pretrain: {lr: 1e-3}` sets pretrain.lr). Missing/unreadable file, malformed YAML, sequences, and any
 * error of rldt_config_set: RLDT_ERR_USAGE naming the file and line. */
rldt_status_t rldt_config_load_yaml(rldt_config_t *cfg, const char *path);
/* Applies "key=value" overrides in order (a `--` prefix on the key is accepted). */
rldt_status_t rldt_config_apply_overrides(rldt_config_t *cfg, int argc, char **argv);
/* The files a run of this config reads (data.path, finetune.init, finetune.resume, pretrain.resume, sac.resume; unset
 * ones are ""), with their roles, into out[0..RLDT_CONFIG_INPUTS): for rldt_path_check_output. */
#define RLDT_CONFIG_INPUTS 5
int rldt_config_input_paths(const rldt_config_t *cfg, rldt_path_input_t *out);
/* "<run.out_dir>/<run.name>/<file>" into buf[len]; RLDT_ERR_USAGE (never a truncated path) when it does not fit. */
rldt_status_t rldt_config_run_path(const rldt_config_t *cfg, const char *file, char *buf, size_t len);
/* rldt_path_check_output of `out` (its role: `what`) against the run's inputs; a checkpoint is written
 * through a rename, other outputs (metrics) in place. A checkpoint may replace the checkpoint the run
 * resumes from (the new one continues it); nothing may replace data.path or finetune.init. */
rldt_status_t rldt_config_check_output(const rldt_config_t *cfg, const char *out, const char *what, bool checkpoint);
/* Checks the rules that tie keys together (critic.q_min < critic.q_max), once every source has been applied
 * (the CLI does after the file and the overrides). Violation: RLDT_ERR_USAGE naming both keys and `origin`. */
rldt_status_t rldt_config_validate(const rldt_config_t *cfg, const char *origin);
/* The resolved config as a JSON object with nested sections ({"pretrain": {"lr": 0.001}, ...}); caller
 * frees with free(). */
char *rldt_config_to_json(const rldt_config_t *cfg);
/* Loads a JSON object produced by rldt_config_to_json (checkpoints, HDF5 attributes) into cfg, checked
 * like a YAML file ("origin" names it in errors). */
rldt_status_t rldt_config_from_json(rldt_config_t *cfg, const char *json, const char *origin);
/* Value of a key as text ("%.17g" for floats, "true"/"false" for booleans) into buf. Unknown key:
 * RLDT_ERR_USAGE; buf too small: RLDT_ERR. */
rldt_status_t rldt_config_get_text(const rldt_config_t *cfg, const char *key, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
