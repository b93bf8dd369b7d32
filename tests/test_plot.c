/* test_plot.c — the PNG writer (decoded back with zlib: signature, header, CRC-checked chunks, pixels) and
 * `rldt plot` on a metrics file: every panel with data gets ink, a missing file is a usage error. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
