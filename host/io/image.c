/* image.c — an RGB canvas with lines, discs and a 5x7 bitmap font, and a minimal PNG writer (see
 * rldt/image.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "rldt/image.h"

void rldt_canvas_init(rldt_canvas_t *c, int w, int h)
{
    c->w = w;
    c->h = h;
    c->rgb = rldt_xmalloc((size_t)w * h * 3);
    memset(c->rgb, 255, (size_t)w * h * 3);
}

void rldt_canvas_free(rldt_canvas_t *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

static void put(rldt_canvas_t *c, int x, int y, uint32_t rgb)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->rgb + ((size_t)y * c->w + x) * 3;
    p[0] = (uint8_t)(rgb >> 16), p[1] = (uint8_t)(rgb >> 8), p[2] = (uint8_t)rgb;
}

void rldt_canvas_line(rldt_canvas_t *c, int x0, int y0, int x1, int y1, uint32_t rgb)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) { /* Bresenham */
        put(c, x0, y0, rgb);
        if (x0 == x1 && y0 == y1) return;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

void rldt_canvas_blend_column(rldt_canvas_t *c, int x, int y0, int y1, uint32_t rgb, double alpha)
{
    if (x < 0 || x >= c->w) return;
    int lo = y0 < y1 ? y0 : y1, hi = y0 < y1 ? y1 : y0;
    for (int y = lo < 0 ? 0 : lo; y <= hi && y < c->h; y++)
        for (int ch = 0; ch < 3; ch++) {
            uint8_t *p = c->rgb + ((size_t)y * c->w + x) * 3 + ch;
            int want = (int)(rgb >> (16 - 8 * ch)) & 255;
            *p = (uint8_t)lround(*p + alpha * (want - *p));
        }
}

void rldt_canvas_disc(rldt_canvas_t *c, int x, int y, int r, uint32_t rgb)
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (dx * dx + dy * dy <= r * r) put(c, x + dx, y + dy, rgb);
}

/* 5x7 glyphs, one string per row, '#' = ink. Lowercase letters print with the uppercase shapes. */
static const struct {
    char ch;
    const char *rows[7];
} font[] = {
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {"####.", "....#", "....#", ".###.", "....#", "....#", "####."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
    {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."}},
    {'D', {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."}},
    {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
    {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
    {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"}},
    {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
    {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
    {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
    {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"}},
    {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"}},
    {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
    {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
    {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
    {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
    {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
    {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
    {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."}},
    {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
    {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
    {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
    {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
    {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
    {'%', {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"}},
    {'/', {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."}},
    {'|', {"..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
    {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
    {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."}},
};

void rldt_canvas_text(rldt_canvas_t *c, int x, int y, int scale, const char *text, uint32_t rgb)
{
    for (; *text; text++, x += 6 * scale) {
        char ch = (*text >= 'a' && *text <= 'z') ? (char)(*text - 'a' + 'A') : *text;
        size_t g = 0, n = sizeof font / sizeof font[0];
        while (g < n && font[g].ch != ch) g++;
        if (g == n) g = n - 1; /* '?' */
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (font[g].rows[r][col] == '#')
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++) put(c, x + col * scale + dx, y + r * scale + dy, rgb);
    }
}

// ---------------------------------------------------------------------------------------------------
// PNG: signature, IHDR, one zlib IDAT of filter-0 rows, IEND

static void be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }

static int chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
    uint8_t hdr[8], crc[4];
    be32(hdr, len);
    memcpy(hdr + 4, type, 4);
    uLong c = crc32(0L, (const Bytef *)type, 4);
    if (len) c = crc32(c, data, len);
    be32(crc, (uint32_t)c);
    return fwrite(hdr, 1, 8, f) == 8 && (!len || fwrite(data, 1, len, f) == len) && fwrite(crc, 1, 4, f) == 4;
}

rldt_status_t rldt_png_write(const char *path, const uint8_t *rgb, int w, int h)
{
    size_t row = (size_t)w * 3 + 1, raw_len = row * h;
    uint8_t *raw = rldt_xmalloc(raw_len);
    for (int y = 0; y < h; y++) {
        raw[y * row] = 0; /* filter: none */
        memcpy(raw + y * row + 1, rgb + (size_t)y * w * 3, (size_t)w * 3);
    }
    uLongf zlen = compressBound(raw_len);
    uint8_t *z = rldt_xmalloc(zlen);
    int zok = compress2(z, &zlen, raw, raw_len, 6) == Z_OK;
    free(raw);
    size_t tmp_len = strlen(path) + 5;
    char *tmp = rldt_xmalloc(tmp_len);
    snprintf(tmp, tmp_len, "%s.tmp", path);
    FILE *f = zok ? fopen(tmp, "wb") : NULL;
    int ok = f != NULL, err = zok ? errno : ENOMEM;
    if (f) {
        static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
        uint8_t ihdr[13];
        be32(ihdr, (uint32_t)w);
        be32(ihdr + 4, (uint32_t)h);
        ihdr[8] = 8, ihdr[9] = 2, ihdr[10] = 0, ihdr[11] = 0, ihdr[12] = 0; /* 8-bit RGB, no interlace */
        ok = fwrite(sig, 1, 8, f) == 8 && chunk(f, "IHDR", ihdr, 13) && chunk(f, "IDAT", z, (uint32_t)zlen) &&
             chunk(f, "IEND", NULL, 0);
        err = ok ? 0 : errno;
        if (fclose(f) != 0 && ok) ok = 0, err = errno;
        if (ok && rename(tmp, path) != 0) ok = 0, err = errno;
        if (!ok) remove(tmp);
    }
    free(z);
    free(tmp);
    return ok ? RLDT_OK : rldt_error_set(RLDT_ERR, "cannot write PNG %s: %s", path, strerror(err));
}
