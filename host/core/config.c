/* config.c — the configuration: the key table built from rldt/config_keys.def, strict parsing of values,
 * YAML files (libyaml events), key=value overrides and the JSON form (cJSON) kept in checkpoints.
 *
 * Every value, whatever its source (table default, YAML, command line, JSON), goes through one function,
 * set_value, so it is checked the same way everywhere. Loaders work on a copy of the config and store it
 * only when the whole source was accepted: on error the caller's config is unchanged. */
#define _POSIX_C_SOURCE 200809L
#include "rldt/config.h"
#include "rldt/path.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

// ------------------------------------------------------------------------------------------------------
// the key table

static const rldt_config_key_t keys[] = {
#define X(field, name, type, def, lo, hi, choices, doc)                                                                \
    {name, RLDT_CFG_##type, offsetof(rldt_config_t, field), def, lo, hi, choices, doc},
#include "rldt/config_keys.def"
#undef X
};
static const size_t n_keys = sizeof keys / sizeof keys[0];

const rldt_config_key_t *rldt_config_keys(size_t *count)
{
    if (count) *count = n_keys;
    return keys;
}

const rldt_config_key_t *rldt_config_find(const char *name)
{
    for (size_t i = 0; i < n_keys; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

/* True when `name` (of length len) is a section: some key is named "<name>.<rest>". */
static bool is_section(const char *name, size_t len)
{
    for (size_t i = 0; i < n_keys; i++)
        if (strncmp(keys[i].name, name, len) == 0 && keys[i].name[len] == '.') return true;
    return false;
}

// ------------------------------------------------------------------------------------------------------
// error messages: "<origin>:<line>: <message>", or "<origin>: <message>" when line is 0

static rldt_status_t fail(const char *origin, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static rldt_status_t fail(const char *origin, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!origin) origin = "<config>";
    if (line > 0) return rldt_error_set(RLDT_ERR_USAGE, "%s:%d: %s", origin, line, msg);
    return rldt_error_set(RLDT_ERR_USAGE, "%s: %s", origin, msg);
}

/* Levenshtein distance between a[0..na) and b[0..nb), for nb < 128 (key names are short). */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[128];
    if (nb >= sizeof row / sizeof row[0]) return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0]; /* row[i-1][j-1] */
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The known key (or, with sections=true, the section) closest to `name`, written into buf ("" if none
 * is close enough). A bare name that is the last part of exactly one key ("ema" for pretrain.ema), or a
 * name that begins exactly one key ("policy.denoise" for policy.denoise_steps), suggests that key. */
static void suggest(const char *name, bool sections, char *buf, size_t len)
{
    size_t n = strlen(name), best = SIZE_MAX, matches = 0;
    const char *match = NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < n_keys; i++) {
        const char *k = keys[i].name;
        if (!sections) {
            const char *last = strrchr(k, '.');
            bool tail = !strchr(name, '.') && last && strcmp(last + 1, name) == 0;
            bool head = strchr(name, '.') && strncmp(k, name, n) == 0;
            if (tail || head) {
                match = k;
                matches++;
            }
            size_t d = edit_distance(name, n, k, strlen(k));
            if (d < best) {
                best = d;
                snprintf(buf, len, "%s", k);
            }
            continue;
        }
        for (const char *dot = strchr(k, '.'); dot; dot = strchr(dot + 1, '.')) {
            size_t d = edit_distance(name, n, k, (size_t)(dot - k));
            if (d < best) {
                best = d;
                snprintf(buf, len, "%.*s", (int)(dot - k), k);
            }
        }
    }
    if (matches == 1) {
        snprintf(buf, len, "%s", match);
        return;
    }
    size_t limit = n / 3 > 2 ? n / 3 : 2; /* a typo or two, or a third of a long name */
    if (best > limit) buf[0] = '\0';
}

/* The error for a dotted name that is not a key. */
static rldt_status_t unknown_key(const char *name, const char *origin, int line)
{
    if (is_section(name, strlen(name)))
        return fail(origin, line, "'%s' is a section, not a key: set one of its keys (%s.<key>)", name, name);
    char near[RLDT_CFG_STR_MAX];
    suggest(name, false, near, sizeof near);
    if (near[0]) return fail(origin, line, "unknown key '%s'; did you mean '%s'?", name, near);
    return fail(origin, line, "unknown key '%s' ('rldt config --keys' lists the keys)", name);
}

/* The error for a mapping (YAML) or object (JSON) under a name that is not a section. */
static rldt_status_t unknown_section(const char *name, const char *origin, int line)
{
    if (rldt_config_find(name)) return fail(origin, line, "%s: takes a single value, not a mapping", name);
    char near[RLDT_CFG_STR_MAX];
    suggest(name, true, near, sizeof near);
    if (near[0]) return fail(origin, line, "unknown section '%s'; did you mean '%s'?", name, near);
    return fail(origin, line, "unknown section '%s' ('rldt config --keys' lists the keys)", name);
}

// ------------------------------------------------------------------------------------------------------
// parsing and storing one value

static bool parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) return *out = true, true;
        if (strcasecmp(text, no[i]) == 0) return *out = false, true;
    }
    return false;
}

/* True when `text` is exactly one of the '|'-separated `choices`. */
static bool is_choice(const char *text, const char *choices)
{
    size_t n = strlen(text);
    for (const char *c = choices;; c++) {
        const char *end = strchr(c, '|');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == n && strncmp(c, text, n) == 0) return true;
        if (!end) return false;
        c = end;
    }
}

/* Decimal notation only: strtod also reads hexadecimal ("0x1p3"), which a config value never means. */
static bool starts_like_number(const char *text)
{
    const char *p = text + (text[0] == '+' || text[0] == '-');
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) return false;
    return (*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9') || *p == 'i' || *p == 'I' ||
           *p == 'n' || *p == 'N';
}

/* Stores the text of a STR or ENUM key. */
static rldt_status_t set_text(char *field, const rldt_config_key_t *k, const char *text, const char *origin, int line)
{
    size_t n = strlen(text);
    if (n >= RLDT_CFG_STR_MAX)
        return fail(origin, line, "%s: value is %zu bytes long; at most %d are allowed", k->name, n,
                    RLDT_CFG_STR_MAX - 1);
    /* zero the rest too: a config's bytes depend only on its values, so that configs compare with memcmp */
    memset(field, 0, RLDT_CFG_STR_MAX);
    memcpy(field, text, n);
    return RLDT_OK;
}

/* Parses `text` as the value of the row `k` and stores it in cfg. */
static rldt_status_t set_value(rldt_config_t *cfg, const rldt_config_key_t *k, const char *text, const char *origin,
                               int line)
{
    char *field = (char *)cfg + k->offset;
    switch (k->type) {
    case RLDT_CFG_INT: {
        char *end;
        errno = 0;
        long v = strtol(text, &end, 10);
        bool digits = (text[0] >= '0' && text[0] <= '9') ||
                      ((text[0] == '+' || text[0] == '-') && text[1] >= '0' && text[1] <= '9');
        if (!digits || *end != '\0') return fail(origin, line, "%s: value '%s' is not an integer", k->name, text);
        if (errno == ERANGE || (double)v < k->min || (double)v > k->max)
            return fail(origin, line, "%s: value '%s' is out of range [%.0f, %.0f]", k->name, text, k->min, k->max);
        *(long *)field = v;
        return RLDT_OK;
    }
    case RLDT_CFG_FLOAT: {
        char *end;
        double v = strtod(text, &end);
        if (!starts_like_number(text) || end == text || *end != '\0')
            return fail(origin, line, "%s: value '%s' is not a number", k->name, text);
        if (!isfinite(v)) return fail(origin, line, "%s: value '%s' is not a finite number", k->name, text);
        if (v < k->min || v > k->max)
            return fail(origin, line, "%s: value '%s' is out of range [%g, %g]", k->name, text, k->min, k->max);
        *(double *)field = v;
        return RLDT_OK;
    }
    case RLDT_CFG_BOOL:
        if (!parse_bool(text, (bool *)field))
            return fail(origin, line, "%s: value '%s' is not a boolean (true/false, yes/no, on/off or 1/0)", k->name,
                        text);
        return RLDT_OK;
    case RLDT_CFG_ENUM:
        if (!is_choice(text, k->choices))
            return fail(origin, line, "%s: value '%s' is not one of %s", k->name, text, k->choices);
        return set_text(field, k, text, origin, line);
    case RLDT_CFG_STR: return set_text(field, k, text, origin, line);
    }
    return fail(origin, line, "%s: key has an unknown type %d", k->name, (int)k->type);
}

rldt_status_t rldt_config_set(rldt_config_t *cfg, const char *key, const char *text, const char *origin, int line)
{
    const rldt_config_key_t *k = rldt_config_find(key);
    if (!k) return unknown_key(key, origin, line);
    return set_value(cfg, k, text, origin, line);
}

void rldt_config_defaults(rldt_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < n_keys; i++)
        if (set_value(cfg, &keys[i], keys[i].def, "rldt/config_keys.def", 0)) {
            fprintf(stderr, "rldt: bad default in the key table: %s\n", rldt_error_message());
            abort();
        }
}

/* The shortest "%.*g" text that reads back as exactly v (at most 17 digits); "null" if v is not finite,
 * which only a value stored around rldt_config_set can be. */
static void format_double(double v, char *buf, size_t len)
{
    if (!isfinite(v)) {
        snprintf(buf, len, "null");
        return;
    }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) return;
    }
}

rldt_status_t rldt_config_get_text(const rldt_config_t *cfg, const char *key, char *buf, size_t len)
{
    const rldt_config_key_t *k = rldt_config_find(key);
    if (!k) return unknown_key(key, "rldt_config_get_text", 0);
    const char *field = (const char *)cfg + k->offset;
    int n = 0;
    switch (k->type) {
    case RLDT_CFG_INT: n = snprintf(buf, len, "%ld", *(const long *)field); break;
    case RLDT_CFG_FLOAT: n = snprintf(buf, len, "%.17g", *(const double *)field); break;
    case RLDT_CFG_BOOL: n = snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false"); break;
    case RLDT_CFG_STR:
    case RLDT_CFG_ENUM: n = snprintf(buf, len, "%s", field); break;
    }
    if (n < 0 || (size_t)n >= len)
        return rldt_error_set(RLDT_ERR, "rldt_config_get_text: %s: buffer of %zu bytes is too small", key, len);
    return RLDT_OK;
}

// ------------------------------------------------------------------------------------------------------
// names seen in one source, to reject a key or section given twice

typedef struct {
    const char *name; /* points into the key table: a key name, or a section as its prefix */
    size_t len;
    int line;
} seen_name_t;

typedef struct {
    seen_name_t *names;
    size_t count, cap;
} seen_t;

static seen_t seen_new(void)
{
    /* every recorded name is a key or a section: at most one per key plus one per dot in its name */
    size_t cap = 0;
    for (size_t i = 0; i < n_keys; i++)
        for (const char *c = keys[i].name; *c; c++) cap += *c == '.';
    cap += n_keys;
    seen_t s = {rldt_xcalloc(cap, sizeof(seen_name_t)), 0, cap};
    return s;
}

/* The entry for `path`, or NULL. */
static const seen_name_t *seen_find(const seen_t *s, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < s->count; i++)
        if (s->names[i].len == len && strncmp(s->names[i].name, path, len) == 0) return &s->names[i];
    return NULL;
}

/* Records `path`, a known key or section. */
static void seen_add(seen_t *s, const char *path, int line)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < n_keys && s->count < s->cap; i++)
        if (strncmp(keys[i].name, path, len) == 0 && (keys[i].name[len] == '\0' || keys[i].name[len] == '.')) {
            s->names[s->count++] = (seen_name_t){keys[i].name, len, line};
            return;
        }
}

/* Joins prefix and name with a dot into buf; false if it does not fit (then it is no key either). */
static bool join_path(char *buf, size_t len, const char *prefix, const char *name)
{
    int n = prefix[0] ? snprintf(buf, len, "%s.%s", prefix, name) : snprintf(buf, len, "%s", name);
    return n >= 0 && (size_t)n < len;
}

/* Checks a name found in a source before its value is read: not seen before; a section when it holds a
 * mapping, else a key. Records it. */
static rldt_status_t check_name(seen_t *seen, const char *path, bool mapping, const char *origin, int line)
{
    const seen_name_t *prev = seen_find(seen, path);
    if (prev && prev->line > 0) return fail(origin, line, "%s: given twice (first on line %d)", path, prev->line);
    if (prev) return fail(origin, line, "%s: given twice", path);
    if (mapping && !is_section(path, strlen(path))) return unknown_section(path, origin, line);
    if (!mapping && !rldt_config_find(path)) return unknown_key(path, origin, line);
    seen_add(seen, path, line);
    return RLDT_OK;
}

// ------------------------------------------------------------------------------------------------------
// YAML

typedef struct {
    yaml_parser_t parser;
    FILE *file;
    const char *path;
    rldt_config_t *cfg;
    seen_t seen;
} yaml_loader_t;

static int line_of(const yaml_event_t *ev) { return (int)ev->start_mark.line + 1; }

static rldt_status_t next_event(yaml_loader_t *ld, yaml_event_t *ev)
{
    if (yaml_parser_parse(&ld->parser, ev)) return RLDT_OK;
    const yaml_parser_t *p = &ld->parser;
    if (p->error == YAML_READER_ERROR && ferror(ld->file)) return fail(ld->path, 0, "cannot read: %s", strerror(errno));
    if (p->error == YAML_READER_ERROR)
        return fail(ld->path, 0, "malformed YAML at byte %zu: %s", p->problem_offset,
                    p->problem ? p->problem : "unreadable input");
    const char *problem = p->problem ? p->problem : "unknown error";
    int line = (int)p->problem_mark.line + 1;
    if (p->context)
        return fail(ld->path, line, "malformed YAML: %s (%s, from line %d)", problem, p->context,
                    (int)p->context_mark.line + 1);
    return fail(ld->path, line, "malformed YAML: %s", problem);
}

/* A scalar YAML reads as null: a section written with no keys under it (`pretrain:`) is empty. */
static bool is_null_scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0);
}

/* Reads the body of a mapping (after its MAPPING_START) whose keys are under `prefix` ("" at the top). */
static rldt_status_t load_mapping(yaml_loader_t *ld, const char *prefix)
{
    for (;;) {
        yaml_event_t ev;
        rldt_status_t st = next_event(ld, &ev);
        if (st) return st;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return RLDT_OK;
        }
        int key_line = line_of(&ev);
        char path[2 * RLDT_CFG_STR_MAX];
        if (ev.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&ev);
            return fail(ld->path, key_line, "%s%smapping keys must be plain names", prefix, prefix[0] ? ": " : "");
        }
        const char *name = (const char *)ev.data.scalar.value;
        bool nul = strlen(name) != ev.data.scalar.length;
        bool fits = join_path(path, sizeof path, prefix, name);
        yaml_event_delete(&ev);
        if (nul) return fail(ld->path, key_line, "%s: key contains a NUL character", path);
        if (!fits) return fail(ld->path, key_line, "key '%.64s...' is too long", path);

        if ((st = next_event(ld, &ev))) return st;
        int line = line_of(&ev);
        switch (ev.type) {
        case YAML_SCALAR_EVENT: {
            const char *text = (const char *)ev.data.scalar.value;
            if (strlen(text) != ev.data.scalar.length)
                st = fail(ld->path, line, "%s: value contains a NUL character", path);
            else if (is_section(path, strlen(path)) && is_null_scalar(&ev))
                st = check_name(&ld->seen, path, true, ld->path, key_line);
            else if (!(st = check_name(&ld->seen, path, false, ld->path, key_line)))
                st = rldt_config_set(ld->cfg, path, text, ld->path, line);
            break;
        }
        case YAML_MAPPING_START_EVENT:
            if (!(st = check_name(&ld->seen, path, true, ld->path, key_line))) st = load_mapping(ld, path);
            break;
        case YAML_SEQUENCE_START_EVENT:
            st = fail(ld->path, line, "%s: lists are not supported; give a single value", path);
            break;
        case YAML_ALIAS_EVENT:
            st = fail(ld->path, line, "%s: aliases (*name) are not supported; write the value", path);
            break;
        default: st = fail(ld->path, line, "%s: unexpected YAML event %d", path, (int)ev.type); break;
        }
        yaml_event_delete(&ev);
        if (st) return st;
    }
}

/* Reads the whole stream: nothing, or one document holding a mapping (or nothing). */
static rldt_status_t load_stream(yaml_loader_t *ld)
{
    int documents = 0;
    for (;;) {
        yaml_event_t ev;
        rldt_status_t st = next_event(ld, &ev);
        if (st) return st;
        int line = line_of(&ev);
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT: break;
        case YAML_STREAM_END_EVENT: yaml_event_delete(&ev); return RLDT_OK;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) st = fail(ld->path, line, "more than one YAML document ('---'); give one");
            break;
        case YAML_MAPPING_START_EVENT: st = load_mapping(ld, ""); break;
        case YAML_SCALAR_EVENT:
            if (!is_null_scalar(&ev))
                st = fail(ld->path, line, "expected 'key: value' lines, got '%s'", (const char *)ev.data.scalar.value);
            break;
        case YAML_SEQUENCE_START_EVENT: st = fail(ld->path, line, "expected 'key: value' lines, got a list"); break;
        default: st = fail(ld->path, line, "unexpected YAML event %d", (int)ev.type); break;
        }
        yaml_event_delete(&ev);
        if (st) return st;
    }
}

rldt_status_t rldt_config_load_yaml(rldt_config_t *cfg, const char *path)
{
    /* a FIFO would block fopen forever, a device would read forever: only files (and the directory's own
     * "Is a directory" message below) get that far */
    struct stat s;
    if (stat(path, &s) == 0 && !S_ISREG(s.st_mode) && !S_ISDIR(s.st_mode)) return rldt_path_check_input(path, "config file");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(path, 0, "cannot open: %s", strerror(errno));
    rldt_config_t tmp = *cfg;
    yaml_loader_t ld = {.file = f, .path = path, .cfg = &tmp, .seen = seen_new()};
    if (!yaml_parser_initialize(&ld.parser)) {
        fprintf(stderr, "rldt: out of memory initialising the YAML parser\n");
        abort();
    }
    yaml_parser_set_input_file(&ld.parser, f);
    rldt_status_t st = load_stream(&ld);
    yaml_parser_delete(&ld.parser);
    free(ld.seen.names);
    fclose(f);
    if (!st) *cfg = tmp;
    return st;
}

// ------------------------------------------------------------------------------------------------------
// command-line overrides

rldt_status_t rldt_config_apply_overrides(rldt_config_t *cfg, int argc, char **argv)
{
    static const char origin[] = "<command line>";
    rldt_config_t tmp = *cfg;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        if (!eq) return fail(origin, 0, "expected key=value, got '%s'", arg);
        const char *key = strncmp(arg, "--", 2) == 0 ? arg + 2 : arg;
        size_t n = (size_t)(eq - key);
        char *name = rldt_xmalloc(n + 1);
        memcpy(name, key, n);
        name[n] = '\0';
        rldt_status_t st = rldt_config_set(&tmp, name, eq + 1, origin, 0);
        free(name);
        if (st) return st;
    }
    *cfg = tmp;
    return RLDT_OK;
}

// ------------------------------------------------------------------------------------------------------
// JSON

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "rldt: out of memory building JSON\n");
        abort();
    }
    return p;
}

char *rldt_config_to_json(const rldt_config_t *cfg)
{
    cJSON *root = must(cJSON_CreateObject());
    for (size_t i = 0; i < n_keys; i++) {
        const rldt_config_key_t *k = &keys[i];
        /* walk (creating) the objects of the sections, then add the leaf under its last name */
        cJSON *parent = root;
        const char *part = k->name;
        for (const char *dot; (dot = strchr(part, '.')); part = dot + 1) {
            char section[RLDT_CFG_STR_MAX];
            snprintf(section, sizeof section, "%.*s", (int)(dot - part), part);
            cJSON *child = cJSON_GetObjectItemCaseSensitive(parent, section);
            if (!child) child = must(cJSON_AddObjectToObject(parent, section));
            parent = child;
        }
        const char *field = (const char *)cfg + k->offset;
        char num[32];
        switch (k->type) {
        case RLDT_CFG_INT:
            /* numbers are written as raw text: cJSON's own printer may drop the last bits of a double */
            snprintf(num, sizeof num, "%ld", *(const long *)field);
            must(cJSON_AddRawToObject(parent, part, num));
            break;
        case RLDT_CFG_FLOAT:
            format_double(*(const double *)field, num, sizeof num);
            must(cJSON_AddRawToObject(parent, part, num));
            break;
        case RLDT_CFG_BOOL: must(cJSON_AddBoolToObject(parent, part, *(const bool *)field)); break;
        case RLDT_CFG_STR:
        case RLDT_CFG_ENUM: must(cJSON_AddStringToObject(parent, part, field)); break;
        }
    }
    char *printed = must(cJSON_Print(root));
    cJSON_Delete(root);
    /* hand back memory from malloc whatever allocator cJSON was given */
    size_t n = strlen(printed) + 1;
    char *json = rldt_xmalloc(n);
    memcpy(json, printed, n);
    cJSON_free(printed);
    return json;
}

/* Converts a JSON leaf to the text set_value parses, checking its JSON type. */
static rldt_status_t json_leaf(rldt_config_t *cfg, const rldt_config_key_t *k, const cJSON *item, const char *origin)
{
    char num[32];
    switch (k->type) {
    case RLDT_CFG_INT:
    case RLDT_CFG_FLOAT: {
        if (!cJSON_IsNumber(item)) return fail(origin, 0, "%s: expected a JSON number", k->name);
        double v = item->valuedouble;
        if (k->type == RLDT_CFG_FLOAT) {
            snprintf(num, sizeof num, "%.17g", v);
        } else {
            if (v != floor(v) || fabs(v) >= 9.2e18)
                return fail(origin, 0, "%s: value %.17g is not an integer", k->name, v);
            snprintf(num, sizeof num, "%ld", (long)v);
        }
        return set_value(cfg, k, num, origin, 0);
    }
    case RLDT_CFG_BOOL:
        if (!cJSON_IsBool(item)) return fail(origin, 0, "%s: expected true or false", k->name);
        return set_value(cfg, k, cJSON_IsTrue(item) ? "true" : "false", origin, 0);
    case RLDT_CFG_STR:
    case RLDT_CFG_ENUM:
        if (!cJSON_IsString(item)) return fail(origin, 0, "%s: expected a JSON string", k->name);
        return set_value(cfg, k, item->valuestring, origin, 0);
    }
    return fail(origin, 0, "%s: key has an unknown type %d", k->name, (int)k->type);
}

static rldt_status_t load_object(rldt_config_t *cfg, const cJSON *obj, const char *prefix, seen_t *seen,
                                 const char *origin)
{
    for (const cJSON *item = obj->child; item; item = item->next) {
        char path[2 * RLDT_CFG_STR_MAX];
        if (!join_path(path, sizeof path, prefix, item->string))
            return fail(origin, 0, "key '%.64s...' is too long", path);
        bool object = cJSON_IsObject(item);
        rldt_status_t st = check_name(seen, path, object, origin, 0);
        if (!st)
            st = object ? load_object(cfg, item, path, seen, origin)
                        : json_leaf(cfg, rldt_config_find(path), item, origin);
        if (st) return st;
    }
    return RLDT_OK;
}

int rldt_config_input_paths(const rldt_config_t *cfg, rldt_path_input_t *out)
{
    out[0] = (rldt_path_input_t){cfg->data_path, "dataset (data.path)"};
    out[1] = (rldt_path_input_t){cfg->ft_init, "checkpoint (finetune.init)"};
    out[2] = (rldt_path_input_t){cfg->ft_resume, "checkpoint (finetune.resume)"};
    out[3] = (rldt_path_input_t){cfg->pre_resume, "checkpoint (pretrain.resume)"};
    out[4] = (rldt_path_input_t){cfg->sac_resume, "checkpoint (sac.resume)"};
    return RLDT_CONFIG_INPUTS;
}

rldt_status_t rldt_config_run_path(const rldt_config_t *cfg, const char *file, char *buf, size_t len)
{
    return rldt_path_format(buf, len, "%s/%s/%s", cfg->run_out_dir, cfg->run_name, file);
}

rldt_status_t rldt_config_check_output(const rldt_config_t *cfg, const char *out, const char *what, bool checkpoint)
{
    rldt_path_input_t inputs[RLDT_CONFIG_INPUTS];
    int n = rldt_config_input_paths(cfg, inputs);
    if (checkpoint) /* a resumed run may replace the checkpoint it resumed from: the new one continues it */
        for (int i = 0; i < n; i++)
            if (inputs[i].path == cfg->ft_resume || inputs[i].path == cfg->pre_resume || inputs[i].path == cfg->sac_resume)
                inputs[i].path = NULL;
    return rldt_path_check_output(out, what, inputs, n, checkpoint);
}

rldt_status_t rldt_config_validate(const rldt_config_t *cfg, const char *origin)
{
    if (!(cfg->critic_q_min < cfg->critic_q_max))
        return fail(origin, 0, "critic.q_min (%g) must be less than critic.q_max (%g): they bound the bootstrap value",
                    cfg->critic_q_min, cfg->critic_q_max);
    return RLDT_OK;
}

rldt_status_t rldt_config_from_json(rldt_config_t *cfg, const char *json, const char *origin)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, true);
    if (!root) {
        int line = 1;
        for (const char *p = json; end && p < end; p++) line += *p == '\n';
        return fail(origin, line, "malformed JSON near '%.24s'", end ? end : json);
    }
    rldt_status_t st;
    if (!cJSON_IsObject(root)) {
        st = fail(origin, 0, "expected a JSON object of config sections");
    } else {
        rldt_config_t tmp = *cfg;
        seen_t seen = seen_new();
        st = load_object(&tmp, root, "", &seen, origin);
        free(seen.names);
        if (!st) *cfg = tmp;
    }
    cJSON_Delete(root);
    return st;
}
