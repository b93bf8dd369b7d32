/* plot.c — `rldt plot`: a run's metrics.csv drawn as learning curves in one PNG, and its step_grads.csv in
 * another; `rldt plot compare`: labelled groups of runs overlaid as mean lines and bands (see rldt/plot.h). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "durable.h"
#include "rldt/path.h"
#include "rldt/plot.h"

#define MAX_COLS 32
#define MAX_LINE 4096 /* longest line of a metrics file read (a full row is about 200 bytes) */

typedef struct {
    char names[MAX_COLS][32];
    int ncols, nrows;
    double *v; /* [nrows][ncols] */
} table_t;

/* The columns fine-tuning (README "Fine-tuning", host/rl/finetune.c) and SAC (README "SAC",
 * host/rl/sac_train.c) write: a header naming anything else is not a metrics file of this program (or a
 * damaged one: a flipped bit in a name would otherwise just hide a panel). A fine-tuning file has `itr`, a
 * SAC file has not. */
static const char *const known_cols[] = {"itr", "env_steps", "env_steps_per_s", "update_s", "eval_episodes", "eval_success",
                                         "eval_return", "critic_loss", "loss_transport", "loss_consist", "loss_reg",
                                         "phi_norm", "bandwidth", "alpha", "skipped", "updates", "train_episodes",
                                         "train_return", "actor_loss", "alpha_loss", "entropy", "q"};

static int column(const table_t *t, const char *name);

static bool known_column(const char *name)
{
    for (size_t i = 0; i < sizeof known_cols / sizeof known_cols[0]; i++)
        if (strcmp(known_cols[i], name) == 0) return true;
    return false;
}

/* The header line (without its '\n'): known, distinct column names separated by commas. */
static rldt_status_t parse_header(const char *path, char *line, table_t *t)
{
    for (char *name = line, *next; name; name = next) {
        next = strchr(name, ',');
        if (next) *next++ = '\0';
        if (!known_column(name))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: header column %d '%.40s' is not a metrics column (damaged file?)", path,
                                  t->ncols + 1, name);
        if (column(t, name) >= 0) return rldt_error_set(RLDT_ERR_USAGE, "%s: header names column '%s' twice", path, name);
        if (t->ncols == MAX_COLS) return rldt_error_set(RLDT_ERR_USAGE, "%s: more than %d columns", path, MAX_COLS);
        snprintf(t->names[t->ncols++], sizeof t->names[0], "%s", name);
    }
    if (column(t, "env_steps") < 0) return rldt_error_set(RLDT_ERR_USAGE, "%s: no env_steps column", path);
    return RLDT_OK;
}

/* One data row (without its '\n') into t->v[row]: exactly ncols numbers, each written as strtod reads them
 * (no leading blanks: strtod would skip them), separated by single commas. */
static rldt_status_t parse_row(const char *path, const char *line, table_t *t, int row)
{
    const char *p = line;
    for (int c = 0; c < t->ncols; c++) {
        char *end = (char *)p;
        double x = isspace((unsigned char)*p) ? 0 : strtod(p, &end);
        char want = c + 1 < t->ncols ? ',' : '\0';
        if (end == p || *end != want)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: line %d, column '%s' is not a number%s", path, row + 2, t->names[c],
                                  *end == ',' && !want ? " (more columns than the header names)"
                                  : !*end && want  ? " (fewer columns than the header names)"
                                                   : "");
        t->v[(size_t)row * t->ncols + c] = x;
        p = end + (want != '\0');
    }
    return RLDT_OK;
}

/* What fine-tuning and SAC write holds for every row: env steps that only grow (and, in fine-tuning, one
 * row per iteration in order), success rates in [0, 1], counts that are whole numbers. */
static rldt_status_t check_row(const char *path, const table_t *t, int row)
{
    static const struct {
        const char *name;
        double lo, hi;
        bool whole, nan_ok;
    } rules[] = {{"itr", 0, 1e15, true, false},          {"env_steps", 0, 1e18, true, false}, {"eval_episodes", 0, 1e9, true, true},
                 {"eval_success", 0, 1, false, true},     {"skipped", 0, 1e15, true, false},   {"updates", 0, 1e18, true, false}};
    const double *v = t->v + (size_t)row * t->ncols;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        int c = column(t, rules[i].name);
        if (c < 0 || (rules[i].nan_ok && isnan(v[c]))) continue;
        if (!(v[c] >= rules[i].lo && v[c] <= rules[i].hi) || (rules[i].whole && v[c] != floor(v[c])))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: line %d, %s is %g: expected %s in [%g, %g]", path, row + 2, rules[i].name,
                                  v[c], rules[i].whole ? "a whole number" : "a number", rules[i].lo, rules[i].hi);
    }
    if (row > 0) {
        const double *prev = v - t->ncols;
        int itr = column(t, "itr"), steps = column(t, "env_steps");
        if (itr >= 0 && v[itr] != prev[itr] + 1)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: line %d is iteration %g but follows iteration %g (one row per iteration, in order)",
                                  path, row + 2, v[itr], prev[itr]);
        if (v[steps] < prev[steps])
            return rldt_error_set(RLDT_ERR_USAGE, "%s: line %d has %g env steps, fewer than the %g of the line before", path, row + 2,
                                  v[steps], prev[steps]);
    }
    return RLDT_OK;
}

/* step_grads.csv (finetune.step_grad_freq): its one header. */
static rldt_status_t step_grads_header(const char *path, char *line, table_t *t)
{
    static const char *const cols[] = {"itr", "actor_update", "k", "grad_norm"};
    if (strcmp(line, "itr,actor_update,k,grad_norm") != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: header '%.60s' is not itr,actor_update,k,grad_norm (damaged file?)", path, line);
    for (t->ncols = 0; t->ncols < 4; t->ncols++) snprintf(t->names[t->ncols], sizeof t->names[0], "%s", cols[t->ncols]);
    return RLDT_OK;
}

/* What fine-tuning writes there: whole counters, k in [0, 128) and a norm >= 0; an update's rows have
 * k = 0, 1, ... in order, and each update comes after the one before, in the same or a later iteration. */
static rldt_status_t step_grads_check(const char *path, const table_t *t, int row)
{
    const double *v = t->v + (size_t)row * 4, *prev = row > 0 ? v - 4 : NULL;
    for (int c = 0; c < 3; c++)
        if (!(v[c] >= 0 && v[c] <= 1e15 && v[c] == floor(v[c])))
            return rldt_error_set(RLDT_ERR_USAGE, "%s: line %d, %s is %g: expected a whole number >= 0", path, row + 2, t->names[c], v[c]);
    bool next_k = prev && v[2] == prev[2] + 1 && v[0] == prev[0] && v[1] == prev[1];
    bool next_update = v[2] == 0 && (!prev || (v[1] > prev[1] && v[0] >= prev[0]));
    if (v[2] >= 128 || !(v[3] >= 0 && isfinite(v[3])) || !(next_k || next_update))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: line %d (update %g, k %g, norm %g) does not follow line %d", path, row + 2, v[1], v[2],
                              v[3], row + 1);
    return RLDT_OK;
}

/* The CSV files `rldt plot` reads: their role, header parser and row check, and whether a file of no rows
 * is refused (metrics.csv) or drawn as "no data" (step_grads.csv: no actor update logged yet). */
typedef struct {
    const char *what;
    rldt_status_t (*header)(const char *path, char *line, table_t *t);
    rldt_status_t (*check)(const char *path, const table_t *t, int row);
    bool rows_required;
} csv_kind_t;
static const csv_kind_t metrics_csv = {"metrics file", parse_header, check_row, true};
static const csv_kind_t step_grads_csv = {"step gradients file", step_grads_header, step_grads_check, false};

/* Reads a metrics file, refusing anything fine-tuning or SAC cannot have written (every line ends with '\n': a
 * last line without one is a cut file). */
static rldt_status_t read_csv(const char *path, const csv_kind_t *kind, table_t *t)
{
    memset(t, 0, sizeof *t);
    struct stat s;
    if (stat(path, &s) != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: cannot open: %s (is this a fine-tuning or SAC run directory?)", path, strerror(errno));
    if (rldt_path_check_input(path, kind->what)) return RLDT_ERR_USAGE;
    FILE *f = fopen(path, "r");
    if (!f) return rldt_error_set(RLDT_ERR_USAGE, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int cap_rows = 0, n = 0;
    rldt_status_t st = RLDT_OK;
    for (ssize_t len; !st && (len = getline(&line, &cap, f)) >= 0; n++) {
        if (len >= MAX_LINE) st = rldt_error_set(RLDT_ERR_USAGE, "%s: line %d is longer than %d bytes", path, n + 1, MAX_LINE);
        else if (strlen(line) != (size_t)len) st = rldt_error_set(RLDT_ERR_USAGE, "%s: line %d holds a NUL byte", path, n + 1);
        else if (line[len - 1] != '\n')
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: line %d is cut short (no line end): a damaged file, or one still being written",
                                path, n + 1);
        if (st) break;
        line[len - 1] = '\0';
        if (n == 0) {
            st = kind->header(path, line, t);
            continue;
        }
        if (t->nrows == cap_rows) {
            cap_rows = cap_rows ? 2 * cap_rows : 64;
            double *nv = realloc(t->v, sizeof(double) * (size_t)cap_rows * (size_t)t->ncols);
            if (!nv) abort();
            t->v = nv;
        }
        st = parse_row(path, line, t, t->nrows);
        if (!st) st = kind->check(path, t, t->nrows);
        if (!st) t->nrows++;
    }
    if (!st && ferror(f)) st = rldt_error_set(RLDT_ERR_USAGE, "%s: cannot read: %s", path, strerror(errno));
    if (!st && n == 0) st = rldt_error_set(RLDT_ERR_USAGE, "%s: empty file", path);
    if (!st && t->nrows == 0 && kind->rows_required) st = rldt_error_set(RLDT_ERR_USAGE, "%s: holds no rows yet", path);
    free(line);
    fclose(f);
    if (st) {
        free(t->v);
        t->v = NULL;
    }
    return st;
}

static int column(const table_t *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    return -1;
}

// ------------------------------------------------------------------------------------------------------
// Axes and curves

/* A plot area on the canvas (pixels) and the data ranges it shows (empty until frame_fit). */
typedef struct {
    int left, right, top, bottom;
    double xmin, xmax, ymin, ymax;
} frame_t;

/* The plot area of a panel at (px, py) of size (w, h), room left for the title and range labels. */
static frame_t frame_at(int px, int py, int w, int h)
{
    return (frame_t){px + 78, px + w - 12, py + 28, py + h - 26, INFINITY, -INFINITY, INFINITY, -INFINITY};
}

/* Widens the ranges to hold (x, y); non-finite points are left out. */
static void frame_fit(frame_t *fr, double x, double y)
{
    if (!isfinite(x) || !isfinite(y)) return;
    fr->xmin = fmin(fr->xmin, x), fr->xmax = fmax(fr->xmax, x), fr->ymin = fmin(fr->ymin, y), fr->ymax = fmax(fr->ymax, y);
}

/* The pixel column of x and row of y. */
static int frame_x(const frame_t *fr, double x)
{
    return fr->left + (int)lround((x - fr->xmin) / (fr->xmax - fr->xmin) * (fr->right - fr->left));
}

static int frame_y(const frame_t *fr, double y)
{
    return fr->bottom - (int)lround((y - fr->ymin) / (fr->ymax - fr->ymin) * (fr->bottom - fr->top));
}

/* Title, axes and the min/max labels of both ranges (the x axis named xname). False, with "no data" drawn,
 * when nothing was fitted; an empty range is widened so that frame_x and frame_y are defined. */
static bool frame_draw(rldt_canvas_t *cv, frame_t *fr, const char *title, const char *xname)
{
    const uint32_t ink = 0x202020, axis = 0x909090;
    rldt_canvas_text(cv, fr->left, fr->top - 20, 2, title, ink);
    rldt_canvas_line(cv, fr->left, fr->bottom, fr->right, fr->bottom, axis);
    rldt_canvas_line(cv, fr->left, fr->top, fr->left, fr->bottom, axis);
    if (!isfinite(fr->ymin)) {
        rldt_canvas_text(cv, fr->left + 20, (fr->top + fr->bottom) / 2, 1, "no data", axis);
        return false;
    }
    if (fr->ymax - fr->ymin < 1e-12) fr->ymin -= 0.5, fr->ymax += 0.5;
    if (fr->xmax - fr->xmin < 1e-12) fr->xmax = fr->xmin + 1;
    char label[96];
    snprintf(label, sizeof label, "%.4g", fr->ymax);
    rldt_canvas_text(cv, fr->left - 74, fr->top - 3, 1, label, ink);
    snprintf(label, sizeof label, "%.4g", fr->ymin);
    rldt_canvas_text(cv, fr->left - 74, fr->bottom - 7, 1, label, ink);
    snprintf(label, sizeof label, "%.4g", fr->xmin);
    rldt_canvas_text(cv, fr->left, fr->bottom + 6, 1, label, ink);
    snprintf(label, sizeof label, "%.4g %s", fr->xmax, xname);
    rldt_canvas_text(cv, fr->right - 6 * (int)strlen(label), fr->bottom + 6, 1, label, ink);
    return true;
}

/* The finite points (x[i * stride], y[i * stride]), i < n, as dots joined by lines. */
static void curve(rldt_canvas_t *cv, const frame_t *fr, const double *x, const double *y, int n, int stride, uint32_t colour)
{
    int have = 0, lx = 0, ly = 0;
    for (int i = 0; i < n; i++) {
        double xi = x[(size_t)i * stride], yi = y[(size_t)i * stride];
        if (!isfinite(xi) || !isfinite(yi)) continue;
        int sx = frame_x(fr, xi), sy = frame_y(fr, yi);
        if (have) rldt_canvas_line(cv, lx, ly, sx, sy, colour);
        for (int d = -1; d <= 1; d++) rldt_canvas_line(cv, sx - 1, sy + d, sx + 1, sy + d, colour); /* a dot */
        lx = sx, ly = sy, have = 1;
    }
}

/* One panel at (px, py) of size (w, h): column yc of the table against column xc. */
static void panel(rldt_canvas_t *cv, const table_t *t, int xc, int yc, const char *title, const char *xname, int px, int py, int w,
                  int h)
{
    frame_t fr = frame_at(px, py, w, h);
    for (int r = 0; r < t->nrows; r++) frame_fit(&fr, t->v[(size_t)r * t->ncols + xc], t->v[(size_t)r * t->ncols + yc]);
    if (frame_draw(cv, &fr, title, xname)) curve(cv, &fr, t->v + xc, t->v + yc, t->nrows, t->ncols, 0x1f77b4);
}

/* <run_dir>/step_grads.csv, when the run has one, as step_grads.png beside out_png: against k, the log10 of
 * the mean over the logged updates of the gradient norm that denoising step k contributes. */
static rldt_status_t plot_step_grads(const char *run_dir, const char *metrics, const char *out_png)
{
    char *path = rldt_path_join(run_dir, "step_grads.csv"), png[RLDT_PATH_MAX + 1];
    if (!path) return RLDT_ERR_USAGE;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) { /* the run logged no per-step norms */
        free(path);
        return RLDT_OK;
    }
    const char *slash = strrchr(out_png, '/');
    rldt_path_input_t inputs[3] = {{metrics, "metrics file"}, {path, "step gradients file"}, {out_png, "out="}};
    table_t t;
    rldt_status_t st = rldt_path_format(png, sizeof png, "%.*sstep_grads.png", slash ? (int)(slash + 1 - out_png) : 0, out_png);
    if (!st) st = rldt_path_check_output(png, "step_grads.png", inputs, 3, true);
    if (!st) st = read_csv(path, &step_grads_csv, &t);
    free(path);
    if (st) return st;
    int K = 0, updates = 0;
    for (int r = 0; r < t.nrows; r++) {
        int k = (int)t.v[4 * r + 2];
        K = k + 1 > K ? k + 1 : K;
        updates += k == 0;
    }
    table_t m = {.ncols = 2, .nrows = K, .v = rldt_xcalloc(2 * (size_t)K + 1, sizeof(double))};
    for (int r = 0; r < t.nrows; r++) m.v[2 * (int)t.v[4 * r + 2] + 1] += t.v[4 * r + 3] / updates;
    for (int k = 0; k < K; k++) {
        m.v[2 * k] = k;
        m.v[2 * k + 1] = log10(m.v[2 * k + 1]); /* -inf (no particle drew k in any update) is left out */
    }
    char xname[64];
    snprintf(xname, sizeof xname, "k (mean of %d updates)", updates);
    rldt_canvas_t cv;
    rldt_canvas_init(&cv, 800, 420);
    panel(&cv, &m, 0, 1, "log10 |gradient| per denoising step k", xname, 0, 0, 800, 420);
    st = rldt_png_write(png, cv.rgb, cv.w, cv.h);
    rldt_canvas_free(&cv);
    free(t.v), free(m.v);
    return st;
}

rldt_status_t rldt_plot_run(const char *run_dir, const char *out_png)
{
    char *path = rldt_path_join(run_dir, "metrics.csv");
    if (!path) return RLDT_ERR_USAGE;
    rldt_path_input_t input = {path, "metrics file"};
    table_t t;
    rldt_status_t st = rldt_path_check_output(out_png, "out=", &input, 1, true);
    if (!st) st = read_csv(path, &metrics_csv, &t);
    if (st) {
        free(path);
        return st;
    }
    static const char *const ft_cols[6] = {"eval_return", "eval_success", "critic_loss", "loss_transport", "phi_norm", "env_steps_per_s"};
    static const char *const ft_titles[6] = {"eval return", "eval success", "critic loss", "actor transport loss",
                                             "mean |phi|", "env steps/s"};
    static const char *const sac_cols[6] = {"eval_return", "train_return", "critic_loss", "actor_loss", "alpha", "entropy"};
    static const char *const sac_titles[6] = {"eval return (mean action)", "training return", "critic loss",
                                              "actor loss", "temperature alpha", "entropy -log pi"};
    bool sac = column(&t, "itr") < 0;
    const char *const *cols = sac ? sac_cols : ft_cols, *const *titles = sac ? sac_titles : ft_titles;
    int xc = column(&t, "env_steps");
    rldt_canvas_t cv;
    rldt_canvas_init(&cv, 960, 780);
    for (int i = 0; i < 6; i++) {
        int yc = column(&t, cols[i]);
        if (yc >= 0) panel(&cv, &t, xc, yc, titles[i], "env steps", (i % 2) * 480, (i / 2) * 260, 480, 260);
    }
    st = rldt_png_write(out_png, cv.rgb, cv.w, cv.h);
    rldt_canvas_free(&cv);
    free(t.v);
    if (!st) st = plot_step_grads(run_dir, path, out_png);
    free(path);
    return st;
}

// ------------------------------------------------------------------------------------------------------
// Several runs overlaid: per label, the mean over its seeds as a line and their spread as a band

#define MAX_SERIES 10
#define MAX_LABEL 24
#define BAND_ALPHA 0.25 /* a band is its line's colour at this opacity */

/* tab10 (matplotlib's default cycle): colours told apart on white, also by most colour-blind readers */
static const uint32_t palette[MAX_SERIES] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                             0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};

/* One run's evaluations: the (x, y) of its rows where the metric is finite, x never decreasing. */
typedef struct {
    int n;
    double *x, *y;
} evals_t;

/* One label on its grid: n x values, and at each the mean and band [lo, hi] over its seeds. */
typedef struct {
    int n, seeds;
    double *x, *mean, *lo, *hi; /* one allocation, at x */
} band_t;

static rldt_status_t read_evals(const char *label, const char *path, const char *metric, const char *xname, evals_t *e)
{
    table_t t;
    rldt_status_t st = read_csv(path, &metrics_csv, &t);
    if (st) return rldt_error_set(st, "label '%s': %s", label, rldt_error_message());
    int xc = column(&t, xname), yc = column(&t, metric);
    if (yc >= 0) {
        e->x = rldt_xmalloc(2 * sizeof(double) * (size_t)t.nrows), e->y = e->x + t.nrows;
        for (int r = 0; r < t.nrows; r++)
            if (isfinite(t.v[(size_t)r * t.ncols + yc]))
                e->x[e->n] = t.v[(size_t)r * t.ncols + xc], e->y[e->n++] = t.v[(size_t)r * t.ncols + yc];
    }
    free(t.v);
    if (yc < 0) return rldt_error_set(RLDT_ERR_USAGE, "label '%s': %s has no %s column", label, path, metric);
    if (e->n == 0)
        return rldt_error_set(RLDT_ERR_USAGE, "label '%s': %s has no evaluation rows (no finite %s): has the run evaluated yet?", label,
                              path, metric);
    return RLDT_OK;
}

/* Run e's metric at an x inside its range: its evaluation there, or the straight line between the
 * evaluations before and after x. */
static double evals_at(const evals_t *e, double x)
{
    int i = 0;
    while (e->x[i] < x) i++;
    if (e->x[i] == x) return e->y[i];
    return e->y[i - 1] + (x - e->x[i - 1]) / (e->x[i] - e->x[i - 1]) * (e->y[i] - e->y[i - 1]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A label's seeds e[0 .. s->n_runs) on the union of their x values inside the range they all cover. */
static rldt_status_t band_of(const rldt_plot_series_t *s, const evals_t *e, const char *xname, bool std, band_t *b)
{
    double from = -INFINITY, to = INFINITY;
    int total = 0, seeds = s->n_runs;
    for (int r = 0; r < seeds; r++) from = fmax(from, e[r].x[0]), to = fmin(to, e[r].x[e[r].n - 1]), total += e[r].n;
    if (from > to)
        return rldt_error_set(RLDT_ERR_USAGE, "label '%s': its runs share no %s range (one ends at %g, another starts at %g)", s->label,
                              xname, to, from);
    *b = (band_t){.seeds = seeds, .x = rldt_xmalloc(4 * sizeof(double) * (size_t)total)};
    b->mean = b->x + total, b->lo = b->mean + total, b->hi = b->lo + total;
    for (int r = 0; r < seeds; r++)
        for (int i = 0; i < e[r].n; i++)
            if (e[r].x[i] >= from && e[r].x[i] <= to) b->x[b->n++] = e[r].x[i];
    qsort(b->x, (size_t)b->n, sizeof(double), cmp_double);
    int unique = 0;
    for (int i = 0; i < b->n; i++)
        if (!unique || b->x[i] != b->x[unique - 1]) b->x[unique++] = b->x[i];
    b->n = unique;
    double *v = rldt_xmalloc(sizeof(double) * (size_t)seeds);
    for (int g = 0; g < b->n; g++) {
        double sum = 0, ss = 0, lo = INFINITY, hi = -INFINITY;
        for (int r = 0; r < seeds; r++) v[r] = evals_at(&e[r], b->x[g]), sum += v[r], lo = fmin(lo, v[r]), hi = fmax(hi, v[r]);
        double mean = sum / seeds;
        for (int r = 0; r < seeds; r++) ss += (v[r] - mean) * (v[r] - mean);
        double sd = seeds > 1 ? sqrt(ss / (seeds - 1)) : 0;
        b->mean[g] = mean, b->lo[g] = std ? mean - sd : lo, b->hi[g] = std ? mean + sd : hi;
    }
    free(v);
    return RLDT_OK;
}

/* The band as translucent columns, each pixel column once (a second blend would darken it): the columns
 * from grid point i up to, not including, point i + 1 take lo and hi on the straight line between them. */
static void draw_band(rldt_canvas_t *cv, const frame_t *fr, const band_t *b, uint32_t colour)
{
    for (int i = 0; i < b->n; i++) {
        int j = i + 1 < b->n ? i + 1 : i, x0 = frame_x(fr, b->x[i]), x1 = j > i ? frame_x(fr, b->x[j]) : x0 + 1;
        for (int px = x0; px < x1; px++) {
            double w = j > i ? (double)(px - x0) / (x1 - x0) : 0;
            double lo = b->lo[i] + w * (b->lo[j] - b->lo[i]), hi = b->hi[i] + w * (b->hi[j] - b->hi[i]);
            rldt_canvas_blend_column(cv, px, frame_y(fr, hi), frame_y(fr, lo), colour, BAND_ALPHA);
        }
    }
}

/* One row per label from (x, y): a swatch (band tint, line across) and "LABEL (N seeds)". */
static void legend(rldt_canvas_t *cv, int x, int y, const rldt_plot_series_t *s, int n)
{
    for (int i = 0; i < n; i++, y += 20) {
        for (int px = x; px < x + 24; px++) rldt_canvas_blend_column(cv, px, y, y + 10, palette[i], BAND_ALPHA);
        for (int d = 4; d <= 6; d++) rldt_canvas_line(cv, x, y + d, x + 23, y + d, palette[i]);
        char text[64];
        snprintf(text, sizeof text, "%s (%d seed%s)", s[i].label, s[i].n_runs, s[i].n_runs == 1 ? "" : "s");
        rldt_canvas_text(cv, x + 32, y + 2, 1, text, 0x202020);
    }
}

/* label,x,mean,lo,hi,n_seeds: the numbers drawn, one row per label and x. */
static rldt_status_t write_table(const char *path, const rldt_plot_series_t *s, const band_t *b, int n)
{
    char *tmp = rldt_tmp_path(path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs("label,x,mean,lo,hi,n_seeds\n", f) >= 0;
    for (int i = 0; ok && i < n; i++)
        for (int g = 0; ok && g < b[i].n; g++)
            ok = fprintf(f, "%s,%.15g,%.10g,%.10g,%.10g,%d\n", s[i].label, b[i].x[g], b[i].mean[g], b[i].lo[g], b[i].hi[g], b[i].seeds) > 0;
    int err = errno;
    if (f && fclose(f) != 0 && ok) ok = false, err = errno;
    rldt_status_t st = ok ? rldt_commit_tmp(tmp, path, "table") : rldt_error_set(RLDT_ERR, "cannot write %s: %s", path, strerror(err));
    if (!ok && f) remove(tmp);
    free(tmp);
    return st;
}

/* Series i's label: allowed characters, not used before, at least one run. */
static rldt_status_t check_series(const rldt_plot_series_t *s, int i)
{
    static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-";
    const char *l = s[i].label ? s[i].label : "";
    size_t len = strlen(l);
    if (len < 1 || len > MAX_LABEL || strspn(l, allowed) != len)
        return rldt_error_set(RLDT_ERR_USAGE, "label '%.40s': expected 1 to %d of A-Z a-z 0-9 . _ + -", l, MAX_LABEL);
    for (int j = 0; j < i; j++)
        if (strcmp(s[j].label, l) == 0)
            return rldt_error_set(RLDT_ERR_USAGE, "label '%s' is given twice (list all its runs after one %s=, separated by commas)", l, l);
    if (s[i].n_runs < 1) return rldt_error_set(RLDT_ERR_USAGE, "label '%s' has no runs", l);
    return RLDT_OK;
}

/* The arguments that are not runs: known names, an out= ending in .png, its table's name into csv. */
static rldt_status_t check_options(const char *metric, const char *x, const char *band, const char *out_png, char *csv, int n)
{
    if (strcmp(metric, "eval_return") != 0 && strcmp(metric, "eval_success") != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "metric=%s: expected eval_return or eval_success", metric);
    if (strcmp(x, "env_steps") != 0 && strcmp(x, "itr") != 0) return rldt_error_set(RLDT_ERR_USAGE, "x=%s: expected env_steps or itr", x);
    if (strcmp(band, "minmax") != 0 && strcmp(band, "std") != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "band=%s: expected minmax or std", band);
    if (n < 1 || n > MAX_SERIES) return rldt_error_set(RLDT_ERR_USAGE, "%d labels: expected 1 to %d", n, MAX_SERIES);
    size_t len = strlen(out_png);
    if (len < 5 || strcmp(out_png + len - 4, ".png") != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "out=%s: expected a file name ending in .png (its numbers go beside it as .csv)", out_png);
    return rldt_path_format(csv, RLDT_PATH_MAX + 1, "%.*s.csv", (int)(len - 4), out_png);
}

/* Series s's runs, whose metrics files are in[k ..], into e[k ..]; their file ids id[k ..] tell a run given
 * twice from those of the series before (id[0 .. k)). */
static rldt_status_t read_series(const rldt_plot_series_t *s, const rldt_path_input_t *in, evals_t *e, struct stat *id, int k,
                                 const char *metric, const char *x)
{
    rldt_status_t st = RLDT_OK;
    for (int r = k; !st && r < k + s->n_runs; r++) {
        st = read_evals(s->label, in[r].path, metric, x, &e[r]);
        if (!st && stat(in[r].path, &id[r]) != 0) st = rldt_error_set(RLDT_ERR_USAGE, "%s: %s", in[r].path, strerror(errno));
        for (int j = 0; !st && j < r; j++)
            if (id[j].st_dev == id[r].st_dev && id[j].st_ino == id[r].st_ino)
                st = rldt_error_set(RLDT_ERR_USAGE, "label '%s': %s is the same run as %s (each run once)", s->label, in[r].path,
                                    in[j].path);
    }
    return st;
}

/* The comparison PNG: every band under every mean line, the legend right of the plot area. */
static rldt_status_t draw_compare(const rldt_plot_series_t *series, const band_t *b, int n, const char *metric, const char *x, bool std,
                                  const char *out_png)
{
    rldt_canvas_t cv;
    rldt_canvas_init(&cv, 1060, 560);
    frame_t fr = frame_at(0, 0, 800, 560);
    for (int i = 0; i < n; i++)
        for (int g = 0; g < b[i].n; g++) frame_fit(&fr, b[i].x[g], b[i].lo[g]), frame_fit(&fr, b[i].x[g], b[i].hi[g]);
    char title[96];
    snprintf(title, sizeof title, "%s: mean of seeds (band: %s)", metric, std ? "+-1 std" : "min..max");
    frame_draw(&cv, &fr, title, x);
    for (int i = 0; i < n; i++) draw_band(&cv, &fr, &b[i], palette[i]);
    for (int i = 0; i < n; i++) curve(&cv, &fr, b[i].x, b[i].mean, b[i].n, 1, palette[i]);
    legend(&cv, 820, 40, series, n);
    rldt_status_t st = rldt_png_write(out_png, cv.rgb, cv.w, cv.h);
    rldt_canvas_free(&cv);
    return st;
}

rldt_status_t rldt_plot_compare(const rldt_plot_series_t *series, int n, const char *metric, const char *x, const char *band,
                                const char *out_png)
{
    metric = metric ? metric : "eval_return", x = x ? x : "env_steps", band = band ? band : "minmax";
    char csv[RLDT_PATH_MAX + 1];
    rldt_status_t st = check_options(metric, x, band, out_png, csv, n);
    int total = 0;
    for (int i = 0; !st && i < n; i++) st = check_series(series, i), total += series[i].n_runs;
    if (st) return st;
    bool std = strcmp(band, "std") == 0;
    rldt_path_input_t *in = rldt_xcalloc((size_t)total, sizeof *in);
    evals_t *e = rldt_xcalloc((size_t)total, sizeof *e);
    struct stat *id = rldt_xcalloc((size_t)total, sizeof *id);
    band_t *b = rldt_xcalloc((size_t)n, sizeof *b);
    for (int i = 0, k = 0; !st && i < n; i++)
        for (int r = 0; !st && r < series[i].n_runs; r++, k++) {
            in[k] = (rldt_path_input_t){rldt_path_join(series[i].runs[r], "metrics.csv"), "metrics file"};
            if (!in[k].path) st = RLDT_ERR_USAGE;
        }
    if (!st) st = rldt_path_check_output(out_png, "out=", in, total, true);
    if (!st) st = rldt_path_check_output(csv, "out= table (.csv)", in, total, true);
    for (int i = 0, k = 0; !st && i < n; k += series[i++].n_runs) {
        st = read_series(&series[i], in, e, id, k, metric, x);
        if (!st) st = band_of(&series[i], &e[k], x, std, &b[i]);
    }
    if (!st) st = draw_compare(series, b, n, metric, x, std, out_png);
    if (!st) st = write_table(csv, series, b, n);
    for (int k = 0; k < total; k++) free((char *)in[k].path), free(e[k].x);
    for (int i = 0; i < n; i++) free(b[i].x);
    free(in), free(e), free(id), free(b);
    return st;
}
