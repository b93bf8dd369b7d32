/* test_plot.c — the PNG writer (decoded back with zlib: signature, header, CRC-checked chunks, pixels),
 * `rldt plot` on a metrics file (every panel with data gets ink, a missing file is a usage error) and
 * `rldt plot compare` on hand-written runs: its table equals hand-computed means and bands (seeds on one
 * schedule and on different ones), its PNG holds each label's line, band tint and legend swatch, and bad
 * inputs are refused by name with nothing written and no input overwritten. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "helpers.h"
#include "rldt/image.h"
#include "rldt/plot.h"

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Decodes a PNG written by rldt_png_write into rgb (caller frees); checks every chunk's CRC. */
static uint8_t *decode(const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static uint8_t buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    cr_assert(n > 8 && memcmp(buf, sig, 8) == 0, "bad signature");
    uint8_t *z = NULL;
    size_t zlen = 0;
    for (size_t at = 8; at + 12 <= n;) {
        uint32_t len = rd32(buf + at);
        const uint8_t *type = buf + at + 4, *data = buf + at + 8;
        uint32_t crc = (uint32_t)crc32(crc32(0L, type, 4), data, len);
        cr_assert_eq(crc, rd32(data + len), "CRC of chunk %.4s", type);
        if (!memcmp(type, "IHDR", 4)) {
            *w = (int)rd32(data);
            *h = (int)rd32(data + 4);
            cr_assert(data[8] == 8 && data[9] == 2, "not 8-bit RGB");
        } else if (!memcmp(type, "IDAT", 4)) {
            z = realloc(z, zlen + len);
            memcpy(z + zlen, data, len);
            zlen += len;
        }
        at += 12 + len;
    }
    uLongf rawlen = (uLongf)(*w * 3 + 1) * (uLongf)*h;
    uint8_t *raw = malloc(rawlen), *rgb = malloc((size_t)*w * *h * 3);
    cr_assert_eq(uncompress(raw, &rawlen, z, zlen), Z_OK);
    for (int y = 0; y < *h; y++) {
        cr_assert_eq(raw[(size_t)y * (*w * 3 + 1)], 0, "filter byte");
        memcpy(rgb + (size_t)y * *w * 3, raw + (size_t)y * (*w * 3 + 1) + 1, (size_t)*w * 3);
    }
    free(raw), free(z);
    return rgb;
}

Test(plot, png_round_trip)
{
    rldt_canvas_t c;
    rldt_canvas_init(&c, 37, 21);
    rldt_canvas_line(&c, 0, 0, 36, 20, 0xff0000);
    rldt_canvas_text(&c, 2, 12, 1, "7", 0x0000ff);
    const char *path = test_temp_path("round_trip.png");
    cr_assert_eq(rldt_png_write(path, c.rgb, c.w, c.h), RLDT_OK);
    int w, h;
    uint8_t *rgb = decode(path, &w, &h);
    cr_assert(w == 37 && h == 21);
    cr_assert(memcmp(rgb, c.rgb, (size_t)w * h * 3) == 0, "pixels differ after the round trip");
    cr_assert(rgb[0] == 255 && rgb[1] == 0 && rgb[2] == 0, "line start not red");
    /* the 7's top bar: row 12, columns 2..6 are blue */
    for (int x = 2; x <= 6; x++) cr_assert_eq(rgb[((size_t)12 * w + x) * 3 + 2], 255);
    remove(path);
    free(rgb);
    rldt_canvas_free(&c);
}

Test(plot, metrics_to_curves)
{
    char dir[128], path[256];
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("itr,env_steps,env_steps_per_s,update_s,eval_episodes,eval_success,eval_return,critic_loss,loss_transport,"
          "loss_consist,loss_reg,phi_norm,bandwidth,alpha,skipped\n", f);
    for (int i = 0; i < 10; i++)
        fprintf(f, "%d,%d,%d,1.0,%d,%s,%s,%g,%g,0,0,%g,0.1,0.001,0\n", i, 100 * (i + 1), 5000 + 10 * i, i % 5 ? 0 : 10,
                i % 5 ? "nan" : "0.5", i % 5 ? "nan" : "-100", 1.0 / (i + 1), -0.01 * i, 0.1 * i);
    fclose(f);
    snprintf(path, sizeof path, "%s/curves.png", dir);
    cr_assert_eq(rldt_plot_run(dir, path), RLDT_OK, "%s", rldt_error_message());
    int w, h;
    uint8_t *rgb = decode(path, &w, &h);
    /* each of the 6 panels (2 x 3 grid of 480 x 260) has curve-coloured pixels inside its plot area */
    for (int p = 0; p < 6; p++) {
        int px = (p % 2) * 480, py = (p / 2) * 260, blue = 0;
        for (int y = py + 28; y < py + 234; y++)
            for (int x = px + 78; x < px + 468; x++) {
                const uint8_t *q = rgb + ((size_t)y * w + x) * 3;
                blue += q[0] == 0x1f && q[1] == 0x77 && q[2] == 0xb4;
            }
        cr_assert_gt(blue, 10, "panel %d has no curve", p);
    }
    free(rgb);
    test_rmtree(dir);
    cr_assert_eq(rldt_plot_run("/nonexistent_run", "/tmp/x.png"), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "/nonexistent_run/metrics.csv"));
}

// ------------------------------------------------------------------------------------------------------
// rldt plot compare: 2 labels x 3 seeds of hand-written metrics files

#define N NAN
#define METRICS_HEADER                                                                                                   \
    "itr,env_steps,env_steps_per_s,update_s,eval_episodes,eval_success,eval_return,critic_loss,loss_transport,loss_consist," \
    "loss_reg,phi_norm,bandwidth,alpha,skipped\n"

/* <dir>/<name>/metrics.csv: n iterations, env_steps = 100 (itr + 1), evaluated where ev[itr] is not NaN
 * (eval_success ev, eval_return 10 ev). */
static void write_run(const char *dir, const char *name, const double *ev, int n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(mkdir(path, 0755), 0, "%s", path);
    strcat(path, "/metrics.csv");
    FILE *f = fopen(path, "w");
    fputs(METRICS_HEADER, f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%d,%d,5000,1.0,%d,%g,%g,0.5,0,0,0,0.1,0.1,0.001,0\n", i, 100 * (i + 1), isnan(ev[i]) ? 0 : 10, ev[i], 10 * ev[i]);
    fclose(f);
}

/* Label "rldt" (a0..a2) evaluates at env steps 100, 300, 500 in every seed. Label "bptt" does not share a
 * schedule: b0 at 100, 300, 500; b1 at 200, 400, 600; b2 at 100 and 500 only; their common range is
 * 200..500 and its grid the union 200, 300, 400, 500, where each seed is interpolated linearly. */
static void write_runs(const char *dir)
{
    static const double a[3][5] = {{0.1, N, 0.2, N, 0.3}, {0.2, N, 0.3, N, 0.5}, {0.0, N, 0.1, N, 0.4}};
    static const double b0[5] = {0.6, N, 0.8, N, 1.0}, b1[6] = {N, 0.7, N, 0.9, N, 0.9}, b2[5] = {0.8, N, N, N, 0.8};
    char name[8];
    for (int s = 0; s < 3; s++) snprintf(name, sizeof name, "a%d", s), write_run(dir, name, a[s], 5);
    write_run(dir, "b0", b0, 5), write_run(dir, "b1", b1, 6), write_run(dir, "b2", b2, 5);
}

typedef struct {
    const char *label;
    double x, mean, lo, hi;
    int seeds;
} table_row_t;

/* The table beside a compare plot equals want[0 .. n) (values to 1e-9). */
static void check_table(const char *path, const table_row_t *want, int n)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[256], label[32];
    cr_assert(fgets(line, sizeof line, f) && strcmp(line, "label,x,mean,lo,hi,n_seeds\n") == 0, "header: %s", line);
    int rows = 0;
    for (; fgets(line, sizeof line, f); rows++) {
        table_row_t got = {.label = label};
        cr_assert_eq(sscanf(line, "%31[^,],%lf,%lf,%lf,%lf,%d", label, &got.x, &got.mean, &got.lo, &got.hi, &got.seeds), 6, "%s", line);
        cr_assert_lt(rows, n, "extra row %s", line);
        const table_row_t *w = &want[rows];
        cr_assert(strcmp(label, w->label) == 0 && got.x == w->x && got.seeds == w->seeds, "row %d: %s", rows + 1, line);
        cr_assert(fabs(got.mean - w->mean) < 1e-9 && fabs(got.lo - w->lo) < 1e-9 && fabs(got.hi - w->hi) < 1e-9,
                  "row %d: %s (want mean %.10g band %.10g..%.10g)", rows + 1, line, w->mean, w->lo, w->hi);
    }
    fclose(f);
    cr_assert_eq(rows, n);
}

/* rgb of colour c blended at 0.25 over white, as rldt_canvas_blend_column does (the band tint). */
static uint32_t tint(uint32_t c)
{
    uint32_t t = 0;
    for (int sh = 16; sh >= 0; sh -= 8) t |= (uint32_t)lround(255 + 0.25 * ((int)(c >> sh & 255) - 255)) << sh;
    return t;
}

/* Pixels of colour c in [x0, x1) x [y0, y1), and the lowest and highest row holding one. */
static int count(const uint8_t *rgb, int w, int x0, int x1, int y0, int y1, uint32_t c, int *top, int *bottom)
{
    int n = 0;
    *top = y1, *bottom = -1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            if (((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) != c) continue;
            n++, *top = y < *top ? y : *top, *bottom = y;
        }
    return n;
}

Test(plot, compare_means_bands_and_pixels)
{
    char dir[128], runs[6][160], out[192];
    test_tmpdir(dir, sizeof dir);
    write_runs(dir);
    static const char *const names[6] = {"a0", "a1", "a2", "b0", "b1", "b2"};
    const char *p[6];
    for (int i = 0; i < 6; i++) snprintf(runs[i], sizeof runs[i], "%s/%s", dir, names[i]), p[i] = runs[i];
    rldt_plot_series_t s[2] = {{"rldt", p, 3}, {"bptt", p + 3, 3}};
    snprintf(out, sizeof out, "%s/cmp.png", dir);
    cr_assert_eq(rldt_plot_compare(s, 2, "eval_success", NULL, NULL, out), RLDT_OK, "%s", rldt_error_message());
    static const table_row_t want[] = {{"rldt", 100, 0.1, 0.0, 0.2, 3},        {"rldt", 300, 0.2, 0.1, 0.3, 3},
                                       {"rldt", 500, 0.4, 0.3, 0.5, 3},        {"bptt", 200, 2.2 / 3, 0.7, 0.8, 3},
                                       {"bptt", 300, 0.8, 0.8, 0.8, 3},        {"bptt", 400, 2.6 / 3, 0.8, 0.9, 3},
                                       {"bptt", 500, 0.9, 0.8, 1.0, 3}};
    snprintf(out, sizeof out, "%s/cmp.csv", dir);
    check_table(out, want, 7);

    snprintf(out, sizeof out, "%s/cmp.png", dir);
    int w, h, top[4], bottom[4], t, b;
    uint8_t *rgb = decode(out, &w, &h);
    cr_assert(w == 1060 && h == 560, "%d x %d", w, h);
    /* the plot area (x 78..788, y 28..534) holds each label's line and band tint; the legend (x >= 800) its swatches */
    const uint32_t colour[2] = {0x1f77b4, 0xff7f0e}, look[4] = {colour[0], colour[1], tint(colour[0]), tint(colour[1])};
    for (int i = 0; i < 4; i++)
        cr_assert_gt(count(rgb, w, 78, 789, 28, 535, look[i], &top[i], &bottom[i]), i < 2 ? 200 : 20000, "colour %06x in the plot",
                     look[i]);
    for (int i = 0; i < 2; i++) cr_assert_gt(count(rgb, w, 800, w, 0, h, colour[i], &t, &b), 50, "legend swatch %06x", colour[i]);
    /* bptt's band (success 0.7..1) lies wholly above rldt's (0..0.5), and the latter reaches the x axis (0) */
    cr_assert_lt(bottom[3], top[2], "bands overlap: bptt rows %d..%d, rldt rows %d..%d", top[3], bottom[3], top[2], bottom[2]);
    cr_assert(bottom[2] >= 532 && top[3] <= 30, "band extents: rldt to row %d, bptt from row %d", bottom[2], top[3]);
    free(rgb);

    /* band=std with the default metric (eval_return = 10 success): rldt's seeds are mean -/+ 1 at each x */
    cr_assert_eq(rldt_plot_compare(s, 1, NULL, "env_steps", "std", out), RLDT_OK, "%s", rldt_error_message());
    static const table_row_t want_std[] = {{"rldt", 100, 1, 0, 2, 3}, {"rldt", 300, 2, 1, 3, 3}, {"rldt", 500, 4, 3, 5, 3}};
    snprintf(out, sizeof out, "%s/cmp.csv", dir);
    check_table(out, want_std, 3);
    test_rmtree(dir);
}

/* Each bad input: status RLDT_ERR_USAGE, a message holding the given pieces, no PNG written. */
static void refused(const rldt_plot_series_t *s, int n, const char *metric, const char *out, const char *piece1, const char *piece2)
{
    cr_assert_eq(rldt_plot_compare(s, n, metric, NULL, NULL, out), RLDT_ERR_USAGE, "accepted (want '%s')", piece1);
    const char *msg = rldt_error_message();
    cr_assert(strstr(msg, piece1) && strstr(msg, piece2), "message '%s' lacks '%s' or '%s'", msg, piece1, piece2);
    cr_assert_neq(access(out, F_OK), 0, "%s written despite the error", out);
}

Test(plot, compare_refuses_bad_inputs)
{
    char dir[128], p[7][160], out[192], metrics[192];
    test_tmpdir(dir, sizeof dir);
    write_runs(dir);
    static const double none[3] = {N, N, N}, late_ev[9] = {N, N, N, N, N, N, N, N, 0.5};
    write_run(dir, "noeval", none, 3), write_run(dir, "late", late_ev, 9);
    static const char *const names[7] = {"a0", "a1", "b0", "noeval", "late", "bad", "/nonexistent_run"};
    for (int i = 0; i < 7; i++) snprintf(p[i], sizeof p[i], "%s%s%s", i < 6 ? dir : "", i < 6 ? "/" : "", names[i]);
    cr_assert_eq(mkdir(p[5], 0755), 0);
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", p[5]);
    FILE *f = fopen(metrics, "w");
    fputs(METRICS_HEADER "0,100,5000,1.0,10,0.5,5", f); /* cut short */
    fclose(f);
    /* label A holds a0 and a1; the second label (runs by index into p) or the metric is what is wrong */
    static const struct {
        const char *label;
        int runs[2], n;
        const char *metric, *want1, *want2;
    } cases[] = {{"B", {6}, 1, NULL, "label 'B'", "/nonexistent_run/metrics.csv"},
                 {"B", {5}, 1, NULL, "label 'B'", "bad/metrics.csv: line 2 is cut short"},
                 {"B", {3}, 1, NULL, "label 'B'", "no evaluation rows"},
                 {"A", {3}, 1, NULL, "label 'A' is given twice", ""},
                 {"B", {0, 0}, 2, NULL, "label 'B'", "is the same run as"},
                 {"B", {4, 2}, 2, NULL, "label 'B': its runs share no env_steps range", ""},
                 {"B c", {2}, 1, NULL, "label 'B c'", "expected 1 to 24 of"},
                 {"B", {2}, 1, "critic_loss", "metric=critic_loss", "expected eval_return or eval_success"}};
    const char *ok[2] = {p[0], p[1]};
    snprintf(out, sizeof out, "%s/o.png", dir);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *runs[2] = {p[cases[c].runs[0]], p[cases[c].runs[1]]};
        rldt_plot_series_t s[2] = {{"A", ok, 2}, {cases[c].label, runs, cases[c].n}};
        refused(s, 2, cases[c].metric, out, cases[c].want1, cases[c].want2);
    }
    rldt_plot_series_t s[1] = {{"A", ok, 2}};
    snprintf(out, sizeof out, "%s/o.csv", dir);
    refused(s, 1, NULL, out, "out=", "ending in .png");
    /* out= beside a run's metrics file whose table (.csv) would replace it, and out= a link to one */
    snprintf(out, sizeof out, "%s/metrics.png", p[0]);
    refused(s, 1, NULL, out, "metrics.csv", "metrics file");
    snprintf(out, sizeof out, "%s/link.png", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", p[1]);
    cr_assert_eq(symlink(metrics, out), 0);
    cr_assert_eq(rldt_plot_compare(s, 1, NULL, NULL, NULL, out), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "metrics file"), "%s", rldt_error_message());
    f = fopen(metrics, "r");
    char head[16] = "";
    cr_assert(fgets(head, sizeof head, f) && strncmp(head, "itr,env_steps", 13) == 0, "input overwritten: %s", head);
    fclose(f);
    test_rmtree(dir);
}

Test(plot, compare_cli)
{
    const char *bin = test_bin();
    char dir[128];
    test_tmpdir(dir, sizeof dir);
    write_runs(dir);
    cr_assert_eq(test_run("%s plot compare out=%s/c.png metric=eval_success band=std rldt=%s/a0,%s/a1,%s/a2 bptt=%s/b0,%s/b1,%s/b2", bin,
                          dir, dir, dir, dir, dir, dir, dir),
                 0, "%s", test_err);
    cr_assert(strstr(test_out, "c.png"), "%s", test_out);
    int w, h;
    char path[192];
    snprintf(path, sizeof path, "%s/c.png", dir);
    free(decode(path, &w, &h));
    snprintf(path, sizeof path, "%s/c.csv", dir);
    cr_assert_eq(access(path, R_OK), 0);
    /* the single-run form is unchanged */
    cr_assert_eq(test_run("%s plot %s/a0 out=%s/one.png", bin, dir, dir), 0, "%s", test_err);
    static const struct {
        const char *args, *error;
    } bad[] = {{"out=%s/e.png A=%s/a0 A=%s/a1", "label 'A' is given twice"},
               {"out=%s/e.png metric=loss A=%s/a0 B=%s/a1", "metric=loss"},
               {"out=%s/e.png A=%s/a0,,%s/a1", "A=: an empty run directory"},
               {"out=%s/e.png %s/a0 %s/a1", "expected LABEL=RUN_DIR"},
               {"out=%s/e.png out=%s/a0 A=%s/a1", "out= is given twice"},
               {"out=%s/a0/metrics.png A=%s/a0 B=%s/a1", "a0/metrics.csv"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, bad[i].args, dir, dir, dir);
        cr_assert_eq(test_run("%s plot compare %s", bin, args), 2, "exit status of: %s", args);
        cr_assert(strstr(test_err, bad[i].error), "'%s': %s", args, test_err);
    }
    cr_assert_eq(test_run("%s plot compare out=%s/e.png metric=eval_success", bin, dir), 2);
    cr_assert(strstr(test_err, "usage: rldt plot"), "%s", test_err);
    snprintf(path, sizeof path, "%s/e.png", dir);
    cr_assert_neq(access(path, F_OK), 0, "e.png written by a refused command");
    test_rmtree(dir);
}
