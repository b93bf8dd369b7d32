/* plot.c — `rldt plot`: a run's metrics.csv drawn as learning curves in one PNG (see rldt/plot.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rldt/path.h"
#include "rldt/plot.h"

#define MAX_COLS 32

typedef struct {
    char names[MAX_COLS][32];
    int ncols, nrows;
    double *v; /* [nrows][ncols] */
} table_t;

static rldt_status_t read_csv(const char *path, table_t *t)
{
    memset(t, 0, sizeof *t);
    struct stat s;
    if (stat(path, &s) != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: cannot open: %s (is this a fine-tuning run directory?)", path, strerror(errno));
    if (rldt_path_check_input(path, "metrics file")) return RLDT_ERR_USAGE;
    FILE *f = fopen(path, "r");
    if (!f) return rldt_error_set(RLDT_ERR_USAGE, "%s: cannot open: %s", path, strerror(errno));
    char line[4096];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return rldt_error_set(RLDT_ERR_USAGE, "%s: empty file", path);
    }
    for (char *tok = strtok(line, ",\n"); tok && t->ncols < MAX_COLS; tok = strtok(NULL, ",\n"))
        snprintf(t->names[t->ncols++], sizeof t->names[0], "%s", tok);
    int cap = 64;
    t->v = rldt_xmalloc(sizeof(double) * (size_t)cap * t->ncols);
    while (fgets(line, sizeof line, f)) {
        if (t->nrows == cap) {
            cap *= 2;
            double *nv = realloc(t->v, sizeof(double) * (size_t)cap * t->ncols);
            if (!nv) abort();
            t->v = nv;
        }
        char *p = line;
        for (int c = 0; c < t->ncols; c++) {
            char *end;
            t->v[(size_t)t->nrows * t->ncols + c] = strtod(p, &end);
            if (end == p || (*end != ',' && *end != '\n' && *end != '\0')) {
                fclose(f);
                free(t->v);
                return rldt_error_set(RLDT_ERR_USAGE, "%s: row %d, column '%s' is not a number", path, t->nrows + 2, t->names[c]);
            }
            p = *end == ',' ? end + 1 : end;
        }
        t->nrows++;
    }
    fclose(f);
    return RLDT_OK;
}

static int column(const table_t *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0) return c;
    return -1;
}

/* One panel at (px, py) of size (w, h): title, axes, min/max labels and the finite points of column yc. */
static void panel(rldt_canvas_t *cv, const table_t *t, int xc, int yc, const char *title, int px, int py, int w, int h)
{
    const uint32_t ink = 0x202020, axis = 0x909090, line = 0x1f77b4;
    int left = px + 78, right = px + w - 12, top = py + 28, bottom = py + h - 26;
    rldt_canvas_text(cv, px + 78, py + 8, 2, title, ink);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int r = 0; r < t->nrows; r++) {
        double x = t->v[(size_t)r * t->ncols + xc], y = t->v[(size_t)r * t->ncols + yc];
        if (!isfinite(x) || !isfinite(y)) continue;
        xmin = fmin(xmin, x), xmax = fmax(xmax, x), ymin = fmin(ymin, y), ymax = fmax(ymax, y);
    }
    rldt_canvas_line(cv, left, bottom, right, bottom, axis);
    rldt_canvas_line(cv, left, top, left, bottom, axis);
    if (!isfinite(ymin)) {
        rldt_canvas_text(cv, left + 20, (top + bottom) / 2, 1, "no data", axis);
        return;
    }
    if (ymax - ymin < 1e-12) ymin -= 0.5, ymax += 0.5;
    if (xmax - xmin < 1e-12) xmax = xmin + 1;
    char label[32];
    snprintf(label, sizeof label, "%.4g", ymax);
    rldt_canvas_text(cv, px + 4, top - 3, 1, label, ink);
    snprintf(label, sizeof label, "%.4g", ymin);
    rldt_canvas_text(cv, px + 4, bottom - 7, 1, label, ink);
    snprintf(label, sizeof label, "%.4g", xmin);
    rldt_canvas_text(cv, left, bottom + 6, 1, label, ink);
    snprintf(label, sizeof label, "%.4g env steps", xmax);
    rldt_canvas_text(cv, right - 6 * (int)strlen(label), bottom + 6, 1, label, ink);
    int have = 0, lx = 0, ly = 0;
    for (int r = 0; r < t->nrows; r++) {
        double x = t->v[(size_t)r * t->ncols + xc], y = t->v[(size_t)r * t->ncols + yc];
        if (!isfinite(x) || !isfinite(y)) continue;
        int sx = left + (int)lround((x - xmin) / (xmax - xmin) * (right - left));
        int sy = bottom - (int)lround((y - ymin) / (ymax - ymin) * (bottom - top));
        if (have) rldt_canvas_line(cv, lx, ly, sx, sy, line);
        for (int d = -1; d <= 1; d++) rldt_canvas_line(cv, sx - 1, sy + d, sx + 1, sy + d, line); /* a dot */
        lx = sx, ly = sy, have = 1;
    }
}

rldt_status_t rldt_plot_run(const char *run_dir, const char *out_png)
{
    char *path = rldt_path_join(run_dir, "metrics.csv");
    if (!path) return RLDT_ERR_USAGE;
    rldt_path_input_t input = {path, "metrics file"};
    table_t t;
    rldt_status_t st = rldt_path_check_output(out_png, "out=", &input, 1, true);
    if (!st) st = read_csv(path, &t);
    if (st) {
        free(path);
        return st;
    }
    static const char *const cols[6] = {"eval_return", "eval_success", "critic_loss", "loss_transport", "phi_norm", "env_steps_per_s"};
    static const char *const titles[6] = {"eval return", "eval success", "critic loss", "actor transport loss",
                                          "mean |phi|", "env steps/s"};
    int xc = column(&t, "env_steps");
    if (xc < 0) {
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: no env_steps column", path);
        free(t.v);
        free(path);
        return st;
    }
    rldt_canvas_t cv;
    rldt_canvas_init(&cv, 960, 780);
    for (int i = 0; i < 6; i++) {
        int yc = column(&t, cols[i]);
        if (yc >= 0) panel(&cv, &t, xc, yc, titles[i], (i % 2) * 480, (i / 2) * 260, 480, 260);
    }
    st = rldt_png_write(out_png, cv.rgb, cv.w, cv.h);
    rldt_canvas_free(&cv);
    free(t.v);
    free(path);
    return st;
}
