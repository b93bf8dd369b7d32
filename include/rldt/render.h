/* rldt/render.h — headless offscreen rendering of MuJoCo scenes into uint8 RGB images.
 *
 * A renderer is MuJoCo's own renderer (mjv_updateScene + mjr_render into its offscreen framebuffer, read
 * back with mjr_readPixels) in a headless OpenGL context that rldt creates itself: OSMesa (Mesa's software
 * rasteriser; Debian/Ubuntu package libosmesa6) or EGL without a window (the NVIDIA driver's libEGL on GPU
 * machines). The GL library is opened at run time (dlopen), so rldt builds and runs without one; only
 * creating a renderer fails then, naming the library and its package.
 *
 * Which GL: the MUJOCO_GL environment variable (as in MuJoCo's Python bindings): "osmesa" or "egl"; unset,
 * EGL when an NVIDIA driver is loaded (/proc/driver/nvidia/version exists), else OSMesa. EGL renders on
 * GPU device MUJOCO_EGL_DEVICE_ID when set (one per rank on a multi-GPU machine), else the first. One GL
 * library per process (MuJoCo looks up its GL functions once). LP_NUM_THREADS defaults to 0: Mesa's software rasteriser
 * (llvmpipe, behind OSMesa and Mesa's EGL) then draws on the calling thread, and parallelism comes from one
 * renderer per worker thread instead of Mesa's own threads.
 *
 * Threads: a renderer's GL context is made current on the thread that draws with it; use one renderer per
 * thread (a vector env keeps one per worker thread) and never draw with one from two threads at once.
 * A renderer belongs to one model (MuJoCo uploads its meshes and textures into the context).
 *
 * Images are [height][width][3] uint8, rows top to bottom (mjr_readPixels' rows are flipped). Drawn for
 * speed, as pixel RL wants many small frames: no shadows (with Mesa's software rasteriser they cost ~6x the
 * frame time), no reflections and no multisampling (each ~2x); lights, materials, textures and the skybox
 * stay. The same state renders to the same bytes with the same GL library and driver. */
#ifndef RLDT_RENDER_H
#define RLDT_RENDER_H

#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mjModel_; /* MuJoCo's mjModel and mjData (mujoco/mujoco.h) */
struct mjData_;

#define RLDT_RENDER_DEFAULT_SIZE 84 /* width and height of an image observation unless configured */
#define RLDT_RENDER_SIZE_MAX 4096

typedef struct rldt_renderer rldt_renderer_t;

/* What a renderer draws. camera: the name of a camera of the model, or NULL, "" or "free" for MuJoCo's
 * default free camera (looking at the whole model from its statistic center). */
typedef struct {
    int width, height; /* 1 .. RLDT_RENDER_SIZE_MAX */
    const char *camera;
} rldt_render_opts_t;

/* The GL library renderers use in this process: "osmesa" or "egl" (see above); NULL with the error message
 * set when MUJOCO_GL names another. */
const char *rldt_render_gl(void);
/* Creates a renderer of model `m` (kept by reference: it must outlive the renderer) and makes its context
 * current on the calling thread. Fails with a message naming the missing GL library and its package, a
 * camera the model lacks (listing its cameras), a size out of range, or a context the GL library refuses;
 * RLDT_ERR with "MuJoCo not installed" in builds without MuJoCo. */
rldt_status_t rldt_renderer_create(rldt_renderer_t **out, const struct mjModel_ *m, const rldt_render_opts_t *opts);
/* Draws data `d` (of the renderer's model, after mj_forward or mj_step) into rgb [height][width][3].
 * Makes the renderer's context current on the calling thread first if it is not. */
void rldt_renderer_draw(rldt_renderer_t *r, struct mjData_ *d, uint8_t *rgb);
/* Frees the renderer (its context is made current on the calling thread to free MuJoCo's GL objects: call
 * it on the thread that drew last, as EGL refuses a context current on another thread). NULL is a no-op. */
void rldt_renderer_free(rldt_renderer_t *r);

#ifdef __cplusplus
}
#endif
#endif
