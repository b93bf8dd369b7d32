/* rldt/image.h — RGB images without a graphics library: a canvas with lines, discs and a 5x7 bitmap font,
 * written as PNG (zlib). Used by `rldt plot` and by the tasks' renderers (`rldt eval frames=DIR`). */
#ifndef RLDT_IMAGE_H
#define RLDT_IMAGE_H

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
/* Pixels (x, y0) .. (x, y1) (either order, clipped) mixed over what is there: each channel becomes
 * old + alpha * (new - old), rounded (alpha in [0, 1]; 0.25 over white gives a light tint of rgb). */
void rldt_canvas_blend_column(rldt_canvas_t *c, int x, int y0, int y1, uint32_t rgb, double alpha);
/* A filled disc of radius r (clipped). */
void rldt_canvas_disc(rldt_canvas_t *c, int x, int y, int r, uint32_t rgb);
/* Text in the 5x7 font scaled by `scale`, top-left at (x, y); characters outside the font print as '?'. */
void rldt_canvas_text(rldt_canvas_t *c, int x, int y, int scale, const char *text, uint32_t rgb);
/* Writes an 8-bit RGB PNG (atomically). RLDT_ERR naming the path on failure. */
rldt_status_t rldt_png_write(const char *path, const uint8_t *rgb, int w, int h);

#ifdef __cplusplus
}
#endif
#endif
