/* render.c — headless offscreen rendering of MuJoCo scenes (see rldt/render.h): a GL context from OSMesa
 * or EGL opened with dlopen, then MuJoCo's renderer in it.
 *
 * MuJoCo does not create GL contexts; it loads its GL functions (once per process, in the first
 * mjr_makeContext) through the GetProcAddress of whichever platform library is loaded: eglGetProcAddress,
 * OSMesaGetProcAddress or glXGetProcAddressARB, looked up among the global symbols first. So rldt opens the
 * chosen library with RTLD_GLOBAL, creates a context, makes it current, and only then calls
 * mjr_makeContext (serialised under a mutex) and mjr_setBuffer(mjFB_OFFSCREEN): MuJoCo draws into its own
 * framebuffer object, so neither platform needs a window surface (OSMesa gets a small dummy buffer, EGL
 * none: EGL_KHR_surfaceless_context). No GL or EGL header is needed: the few entry points and constants
 * used are declared here. */
#define _POSIX_C_SOURCE 200809L
#include "rldt/render.h"

#if RLDT_MUJOCO

#include <dlfcn.h>
#include <mujoco/mujoco.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rldt/log.h"

// ------------------------------------------------------------------------------------------------
// the GL platforms: OSMesa and EGL, as function tables filled with dlsym

typedef enum { GL_OSMESA, GL_EGL } gl_kind_t;

/* OSMesa (GL/osmesa.h) */
#define OSMESA_RGBA 0x1908      /* GL_RGBA */
#define GL_UNSIGNED_BYTE 0x1401
typedef struct {
    void *(*create)(unsigned format, int depth, int stencil, int accum, void *share); /* OSMesaCreateContextExt */
    unsigned char (*make_current)(void *ctx, void *buffer, unsigned type, int w, int h);
    void *(*current)(void);
    void (*destroy)(void *ctx);
} osmesa_api_t;

/* EGL (EGL/egl.h, EGL/eglext.h) */
#define EGL_NONE 0x3038
#define EGL_SUCCESS 0x3000
#define EGL_OPENGL_API 0x30A2
#define EGL_PLATFORM_DEVICE_EXT 0x313F
typedef struct {
    void *(*get_display)(void *native);
    unsigned (*initialize)(void *dpy, int *major, int *minor);
    unsigned (*choose_config)(void *dpy, const int *attribs, void **configs, int size, int *n);
    unsigned (*bind_api)(unsigned api);
    void *(*create_context)(void *dpy, void *config, void *share, const int *attribs);
    unsigned (*make_current)(void *dpy, void *draw, void *read, void *ctx);
    void *(*current)(void);
    unsigned (*destroy_context)(void *dpy, void *ctx);
    int (*get_error)(void);
    void (*(*get_proc)(const char *name))(void);
    void *display; /* one display for every context, initialised once */
} egl_api_t;

static struct {
    gl_kind_t kind;
    const char *name;     /* "osmesa" or "egl" */
    rldt_status_t status; /* of opening the library and (EGL) its display */
    char error[512];
    osmesa_api_t osmesa;
    egl_api_t egl;
} gl;

static pthread_once_t gl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t make_mutex = PTHREAD_MUTEX_INITIALIZER;

/* dlopen of the first of `names` that loads; NULL if none. */
static void *open_first(const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
        if (h) return h;
    }
    return NULL;
}

/* Sets gl.status/gl.error to a failure with a printf-style message. */
__attribute__((format(printf, 1, 2))) static void gl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gl.status = RLDT_ERR;
    vsnprintf(gl.error, sizeof gl.error, fmt, ap);
    va_end(ap);
}

/* dlsym into *fn; false (and a message) when the symbol is missing. */
static bool sym(void *lib, const char *libname, const char *name, void *fn)
{
    void *p = dlsym(lib, name);
    memcpy(fn, &p, sizeof p); /* object pointer to function pointer, as POSIX's dlsym intends */
    if (!p) gl_fail("offscreen rendering: %s has no %s", libname, name);
    return p != NULL;
}

static void open_osmesa(void)
{
    static const char *const names[] = {"libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so"};
    void *lib = open_first(names, 3);
    if (!lib) {
        gl_fail("offscreen rendering needs OSMesa: libOSMesa.so.8 (or .6) not found (%s; install it with apt-get install "
                "libosmesa6, or set MUJOCO_GL=egl on a machine with a GPU driver's EGL)", dlerror());
        return;
    }
    osmesa_api_t *o = &gl.osmesa;
    if (sym(lib, "libOSMesa", "OSMesaCreateContextExt", &o->create) && sym(lib, "libOSMesa", "OSMesaMakeCurrent", &o->make_current) &&
        sym(lib, "libOSMesa", "OSMesaGetCurrentContext", &o->current))
        sym(lib, "libOSMesa", "OSMesaDestroyContext", &o->destroy);
}

/* The EGL display: a GPU device's (EGL_EXT_platform_device, as headless NVIDIA machines need): device
 * MUJOCO_EGL_DEVICE_ID if set (as in MuJoCo's Python bindings), else the first that initialises; without
 * devices, the default display. */
static void *egl_display(egl_api_t *e)
{
    unsigned (*query_devices)(int, void **, int *) = NULL;
    void *(*platform_display)(unsigned, void *, const int *) = NULL;
    void (*q)(void) = e->get_proc("eglQueryDevicesEXT"), (*p)(void) = e->get_proc("eglGetPlatformDisplayEXT");
    memcpy(&query_devices, &q, sizeof q);
    memcpy(&platform_display, &p, sizeof p);
    void *devices[16];
    int n = 0, major, minor;
    if (!query_devices || !platform_display || !query_devices(16, devices, &n)) n = 0;
    const char *want = getenv("MUJOCO_EGL_DEVICE_ID");
    int first = want && *want ? atoi(want) : 0, last = want && *want ? first + 1 : n;
    if (want && *want && (first < 0 || first >= n)) {
        gl_fail("offscreen rendering: MUJOCO_EGL_DEVICE_ID=%s, but EGL lists %d devices", want, n);
        return NULL;
    }
    for (int i = first; i < last; i++) {
        void *dpy = platform_display(EGL_PLATFORM_DEVICE_EXT, devices[i], NULL);
        if (dpy && e->initialize(dpy, &major, &minor)) return dpy;
    }
    void *dpy = want && *want ? NULL : e->get_display(NULL); /* no device (or none initialised): the default */
    return dpy && e->initialize(dpy, &major, &minor) ? dpy : NULL;
}

static void open_egl(void)
{
    static const char *const names[] = {"libEGL.so.1", "libEGL.so"};
    void *lib = open_first(names, 2);
    if (!lib) {
        gl_fail("offscreen rendering with MUJOCO_GL=egl needs libEGL.so.1 (%s; it comes with the GPU driver, or apt-get install "
                "libegl1; or use MUJOCO_GL=osmesa)", dlerror());
        return;
    }
    egl_api_t *e = &gl.egl;
    if (!(sym(lib, "libEGL", "eglGetDisplay", &e->get_display) && sym(lib, "libEGL", "eglInitialize", &e->initialize) &&
          sym(lib, "libEGL", "eglChooseConfig", &e->choose_config) && sym(lib, "libEGL", "eglBindAPI", &e->bind_api) &&
          sym(lib, "libEGL", "eglCreateContext", &e->create_context) && sym(lib, "libEGL", "eglMakeCurrent", &e->make_current) &&
          sym(lib, "libEGL", "eglGetCurrentContext", &e->current) && sym(lib, "libEGL", "eglDestroyContext", &e->destroy_context) &&
          sym(lib, "libEGL", "eglGetError", &e->get_error) && sym(lib, "libEGL", "eglGetProcAddress", &e->get_proc)))
        return;
    e->display = egl_display(e);
    if (!e->display && !gl.status) gl_fail("offscreen rendering: EGL has no display that initialises (no GPU device? try MUJOCO_GL=osmesa)");
}

static void open_gl(void)
{
    setenv("LP_NUM_THREADS", "0", 0); /* Mesa's llvmpipe: rasterise on the calling thread unless the user says otherwise */
    const char *want = getenv("MUJOCO_GL");
    if (!want || !*want) want = access("/proc/driver/nvidia/version", F_OK) == 0 ? "egl" : "osmesa";
    if (strcmp(want, "osmesa") == 0) {
        gl.kind = GL_OSMESA, gl.name = "osmesa";
        open_osmesa();
    } else if (strcmp(want, "egl") == 0) {
        gl.kind = GL_EGL, gl.name = "egl";
        open_egl();
    } else {
        gl_fail("MUJOCO_GL=%s: rldt renders headless, with MUJOCO_GL=osmesa or MUJOCO_GL=egl", want);
    }
}

const char *rldt_render_gl(void)
{
    pthread_once(&gl_once, open_gl);
    if (!gl.name) rldt_error_set(RLDT_ERR_USAGE, "%s", gl.error);
    return gl.name;
}

// ------------------------------------------------------------------------------------------------
// contexts

struct rldt_renderer {
    int w, h;
    const mjModel *m;
    void *ctx;
    uint8_t *buffer; /* OSMesa: the default framebuffer's memory (MuJoCo draws into its own offscreen one) */
    uint8_t *raw;    /* mjr_readPixels' rows, bottom to top */
    mjvScene scene;
    mjvCamera camera;
    mjvOption option;
    mjrContext con;
    bool made; /* scene and con exist */
};

static bool is_current(const rldt_renderer_t *r) { return (gl.kind == GL_OSMESA ? gl.osmesa.current() : gl.egl.current()) == r->ctx; }

static bool make_current(rldt_renderer_t *r)
{
    if (gl.kind == GL_OSMESA) return gl.osmesa.make_current(r->ctx, r->buffer, GL_UNSIGNED_BYTE, r->w, r->h);
    return gl.egl.make_current(gl.egl.display, NULL, NULL, r->ctx); /* EGL_NO_SURFACE for both */
}

static rldt_status_t create_context(rldt_renderer_t *r)
{
    if (gl.kind == GL_OSMESA) {
        r->buffer = rldt_xcalloc((size_t)r->w * (size_t)r->h, 4);
        r->ctx = gl.osmesa.create(OSMESA_RGBA, 24, 8, 0, NULL);
        if (!r->ctx) return rldt_error_set(RLDT_ERR, "offscreen rendering: OSMesaCreateContextExt failed");
    } else {
        static const int attribs[] = {0x3024, 8, 0x3023, 8, 0x3022, 8, 0x3021, 8, /* EGL_RED/GREEN/BLUE/ALPHA_SIZE */
                                      0x3025, 24, 0x3026, 8,                    /* EGL_DEPTH_SIZE, EGL_STENCIL_SIZE */
                                      0x303F, 0x308E,                           /* EGL_COLOR_BUFFER_TYPE: EGL_RGB_BUFFER */
                                      0x3033, 0x0001,                           /* EGL_SURFACE_TYPE: EGL_PBUFFER_BIT */
                                      0x3040, 0x0008,                           /* EGL_RENDERABLE_TYPE: EGL_OPENGL_BIT */
                                      EGL_NONE};
        void *config = NULL;
        int n = 0;
        if (!gl.egl.choose_config(gl.egl.display, attribs, &config, 1, &n) || n < 1)
            return rldt_error_set(RLDT_ERR, "offscreen rendering: EGL has no RGBA8 config with depth and stencil for OpenGL (error 0x%x)",
                                  gl.egl.get_error());
        if (!gl.egl.bind_api(EGL_OPENGL_API)) return rldt_error_set(RLDT_ERR, "offscreen rendering: EGL cannot bind the OpenGL API");
        r->ctx = gl.egl.create_context(gl.egl.display, config, NULL, NULL);
        if (!r->ctx) return rldt_error_set(RLDT_ERR, "offscreen rendering: eglCreateContext failed (error 0x%x)", gl.egl.get_error());
    }
    if (!make_current(r)) return rldt_error_set(RLDT_ERR, "offscreen rendering: the %s context cannot be made current", gl.name);
    return RLDT_OK;
}

/* The camera named `name` (NULL, "" or "free": MuJoCo's default free camera). */
static rldt_status_t set_camera(rldt_renderer_t *r, const char *name)
{
    mjv_defaultCamera(&r->camera);
    if (!name || !*name || strcmp(name, "free") == 0) {
        mjv_defaultFreeCamera(r->m, &r->camera);
        return RLDT_OK;
    }
    int id = mj_name2id(r->m, mjOBJ_CAMERA, name);
    if (id < 0) {
        char known[512] = "";
        for (int i = 0; i < r->m->ncam; i++) {
            const char *c = mj_id2name(r->m, mjOBJ_CAMERA, i);
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", c ? c : "(unnamed)");
        }
        return rldt_error_set(RLDT_ERR_USAGE, "render: the model has no camera '%s' (its cameras: %s; or \"free\")", name,
                              r->m->ncam ? known : "none");
    }
    r->camera.type = mjCAMERA_FIXED;
    r->camera.fixedcamid = id;
    return RLDT_OK;
}

/* mjr_makeContext sizes its offscreen framebuffer from the model's visual/global offwidth and offheight
 * and multisamples it visual/quality offsamples times; it reads a shallow copy with this renderer's size
 * and no multisampling, so the shared model stays untouched. */
static void make_mujoco_context(rldt_renderer_t *r)
{
    mjModel *sized = rldt_xmalloc(sizeof *sized);
    *sized = *r->m;
    sized->vis.global.offwidth = r->w;
    sized->vis.global.offheight = r->h;
    sized->vis.quality.offsamples = 0;
    mjv_defaultOption(&r->option);
    mjv_defaultScene(&r->scene);
    mjr_defaultContext(&r->con);
    pthread_mutex_lock(&make_mutex);
    mjv_makeScene(r->m, &r->scene, 2000);
    mjr_makeContext(sized, &r->con, mjFONTSCALE_100);
    pthread_mutex_unlock(&make_mutex);
    free(sized);
    r->scene.flags[mjRND_SHADOW] = 0; /* speed: see rldt/render.h */
    r->scene.flags[mjRND_REFLECTION] = 0;
    r->made = true;
}

rldt_status_t rldt_renderer_create(rldt_renderer_t **out, const mjModel *m, const rldt_render_opts_t *o)
{
    *out = NULL;
    if (o->width < 1 || o->height < 1 || o->width > RLDT_RENDER_SIZE_MAX || o->height > RLDT_RENDER_SIZE_MAX)
        return rldt_error_set(RLDT_ERR_USAGE, "render: image size %dx%d is out of range (1 to %d each)", o->width, o->height,
                              RLDT_RENDER_SIZE_MAX);
    if (!rldt_render_gl()) return RLDT_ERR_USAGE;
    if (gl.status) return rldt_error_set(gl.status, "%s", gl.error);
    rldt_renderer_t *r = rldt_xcalloc(1, sizeof *r);
    *r = (rldt_renderer_t){.w = o->width, .h = o->height, .m = m};
    r->raw = rldt_xmalloc((size_t)r->w * (size_t)r->h * 3);
    rldt_status_t st = set_camera(r, o->camera);
    if (!st) st = create_context(r);
    if (!st) {
        make_mujoco_context(r);
        mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
        if (r->con.currentBuffer != mjFB_OFFSCREEN || r->con.offWidth < r->w || r->con.offHeight < r->h)
            st = rldt_error_set(RLDT_ERR, "offscreen rendering: %s gave no %dx%d offscreen framebuffer", gl.name, r->w, r->h);
    }
    if (st) {
        rldt_renderer_free(r);
        return st;
    }
    *out = r;
    return RLDT_OK;
}

void rldt_renderer_draw(rldt_renderer_t *r, mjData *d, uint8_t *rgb)
{
    if (!is_current(r)) {
        if (!make_current(r)) { /* EGL: the context is current on another thread (see rldt/render.h) */
            rldt_errorlog("offscreen rendering: the %s context cannot be made current on this thread; the image is black", gl.name);
            memset(rgb, 0, (size_t)r->w * (size_t)r->h * 3);
            return;
        }
        mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
    }
    mjrRect view = {0, 0, r->w, r->h};
    mjv_updateScene(r->m, d, &r->option, NULL, &r->camera, mjCAT_ALL, &r->scene);
    mjr_render(view, &r->scene, &r->con);
    mjr_readPixels(r->raw, NULL, view, &r->con);
    size_t row = (size_t)r->w * 3;
    for (int y = 0; y < r->h; y++) memcpy(rgb + (size_t)y * row, r->raw + (size_t)(r->h - 1 - y) * row, row);
}

void rldt_renderer_free(rldt_renderer_t *r)
{
    if (!r) return;
    if (r->made && make_current(r)) mjr_freeContext(&r->con); /* its GL objects need the context current */
    if (r->made) mjv_freeScene(&r->scene);
    if (r->ctx) {
        if (gl.kind == GL_OSMESA) {
            gl.osmesa.make_current(NULL, NULL, 0, 0, 0);
            gl.osmesa.destroy(r->ctx);
        } else {
            gl.egl.make_current(gl.egl.display, NULL, NULL, NULL);
            gl.egl.destroy_context(gl.egl.display, r->ctx);
        }
    }
    free(r->buffer);
    free(r->raw);
    free(r);
}

#else /* no MuJoCo in this build */

const char *rldt_render_gl(void)
{
    rldt_error_set(RLDT_ERR, "render: MuJoCo not installed: run make deps (then make)");
    return NULL;
}

rldt_status_t rldt_renderer_create(rldt_renderer_t **out, const struct mjModel_ *m, const rldt_render_opts_t *o)
{
    *out = NULL;
    return rldt_error_set(RLDT_ERR, "render: MuJoCo not installed: run make deps (then make)");
}

void rldt_renderer_draw(rldt_renderer_t *r, struct mjData_ *d, uint8_t *rgb) {}

void rldt_renderer_free(rldt_renderer_t *r) {}

#endif
