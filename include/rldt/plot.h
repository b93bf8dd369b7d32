/* rldt/plot.h — learning curves without a plotting library: an RGB canvas with lines and a 5x7 bitmap
 * font, written as PNG (zlib), and the `rldt plot` view of a run's metrics.csv. */
#ifndef RLDT_PLOT_H
#define RLDT_PLOT_H

#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int w, h;
    uint8_t *rgb; /* [h][w][3] */
} rldt_canvas_t;

/* A white canvas. */
void rldt_canvas_init(rldt_canvas_t *c, int w, int h);
void rldt_canvas_free(rldt_canvas_t *c);
/* A 1-pixel line (clipped to the canvas). */
void rldt_canvas_line(rldt_canvas_t *c, int x0, int y0, int x1, int y1, uint32_t rgb);
/* Text in the 5x7 font scaled by `scale`, top-left at (x, y); characters outside the font print as '?'. */
void rldt_canvas_text(rldt_canvas_t *c, int x, int y, int scale, const char *text, uint32_t rgb);
/* Writes an 8-bit RGB PNG (atomically). RLDT_ERR naming the path on failure. */
rldt_status_t rldt_png_write(const char *path, const uint8_t *rgb, int w, int h);

/* Reads <run_dir>/metrics.csv and draws one panel per curve (eval return and success, critic loss, actor
 * loss terms, |phi|, env steps/s) against env steps into `out_png`. Missing or malformed file:
 * RLDT_ERR_USAGE naming it. */
rldt_status_t rldt_plot_run(const char *run_dir, const char *out_png);

#ifdef __cplusplus
}
#endif
#endif
