/* fuzz_checkpoint.c — libFuzzer target: the checkpoint reader, the way `rldt eval` and `rldt export` read
 * one (open, config, policy, a pixel policy's encoder and normalisers, weights, scalars). Input: edits to a real checkpoint
 * (h5edit.h), or with RLDT_FUZZ_RAW=1 the bytes of an HDF5 file.
 *
 * Most edits change the config or a scalar, which the header checksum catches; so after the edits, when
 * the last input byte is odd, the harness signs the file again (as someone who knows the format would:
 * rldt/checkpoint.h documents the CRC) and the reader's own checks of the values are what is fuzzed. */
#include <zlib.h>

#include "h5edit.h"
#include "rldt/checkpoint.h"
#include "rldt/pixels.h"
#include "rldt/policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    seeds_load();
    return 0;
}

typedef struct {
    uLong crc;
} crc_t;

static herr_t crc_scalar(hid_t g, const char *name, const H5A_info_t *info, void *op)
{
    crc_t *c = op;
    int64_t v = 0;
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) v = 0;
        H5Aclose(a);
    }
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)v >> (8 * i));
    c->crc = crc32(c->crc, (const Bytef *)name, (uInt)strlen(name) + 1);
    c->crc = crc32(c->crc, le, 8);
    return 0;
}

static void crc_text(crc_t *c, hid_t file, const char *attr)
{
    char *text = rldt_h5_read_str_attr(file, attr);
    c->crc = crc32(c->crc, (const Bytef *)(text ? text : ""), (uInt)(text ? strlen(text) : 0) + 1);
    free(text);
}

/* header_crc32 recomputed over the (edited) format, version, kind, config, rldt_version and scalars. */
static void sign(const char *path)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) return;
    crc_t c = {crc32(0L, Z_NULL, 0)};
    crc_text(&c, file, "format");
    int64_t version = 0;
    hid_t a = H5Aexists(file, "format_version") > 0 ? H5Aopen(file, "format_version", H5P_DEFAULT) : -1;
    if (a >= 0) {
        if (H5Aread(a, H5T_NATIVE_INT64, &version) < 0) version = 0;
        H5Aclose(a);
    }
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)version >> (8 * i));
    c.crc = crc32(c.crc, le, 8);
    crc_text(&c, file, "kind");
    crc_text(&c, file, "config");
    crc_text(&c, file, "rldt_version");
    hid_t g = H5Lexists(file, "scalars", H5P_DEFAULT) > 0 ? H5Gopen2(file, "scalars", H5P_DEFAULT) : -1;
    if (g >= 0) {
        hsize_t at = 0;
        H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &at, crc_scalar, &c);
        H5Gclose(g);
    }
    set_int_attr(file, "header_crc32", (int64_t)(uint32_t)c.crc);
    H5Fclose(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = h5_input(data, size);
    if (!seeds.raw && size && (data[size - 1] & 1)) sign(path);
    rldt_ckpt_t *c;
    if (rldt_ckpt_open(&c, path, NULL)) return 0;
    rldt_config_t cfg;
    rldt_policy_t p;
    rldt_pixels_t px;
    if (rldt_policy_from_ckpt_pixels(c, &cfg, &p, &px, 4, rldt_backend_cpu()) == RLDT_OK) {
        /* as eval and export do: the stored length is checked before a buffer is sized by the config; a pixel
         * policy's encoder follows the velocity network's weights */
        size_t n = p.nparams + px.enc.nparams;
        if (rldt_ckpt_length(c, RLDT_POLICY_WEIGHTS) == n) {
            float *w = malloc(sizeof(float) * (n ? n : 1));
            rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w, n);
            free(w);
        }
        rldt_pixels_free(&px);
        rldt_policy_free(&p);
    }
    static const char *const scalars[] = {"step", "itr", "actor_updates", "replay_count", "obs_dim", "act_dim"};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        int64_t v;
        rldt_ckpt_scalar(c, scalars[i], &v);
    }
    rldt_ckpt_close(c);
    return 0;
}
