/* h5util.c — HDF5 attribute helpers and the write driver (see h5util.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable.h"
#include "h5util.h"
#include "rldt/common.h"

void rldt_h5_quiet(void)
{
    /* Second line of defence behind the write driver: should a close still fail, HDF5's close-at-exit
     * would walk the freed file. Only effective before the library's first use; files are always closed. */
    static bool first = true;
    if (first) H5dont_atexit();
    first = false;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

herr_t rldt_h5_write_i64_attr(hid_t obj, const char *name, int64_t value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, H5T_NATIVE_INT64, &value);
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    return rc;
}

herr_t rldt_h5_write_str_attr(hid_t obj, const char *name, const char *text)
{
    /* fixed length: the text lives in the object header, which carries a checksum in the files
     * rldt_h5_create makes; a variable-length string would live in the global heap, which has none */
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(text) + 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, text);
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return rc;
}

char *rldt_h5_read_str_attr(hid_t obj, const char *name)
{
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) return NULL;
    hid_t ftype = H5Aget_type(attr);
    char *text = NULL;
    if (ftype >= 0 && H5Tget_class(ftype) == H5T_STRING) {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_cset(mtype, H5Tget_cset(ftype)); /* HDF5 does not convert between ASCII and UTF-8 */
        if (H5Tis_variable_str(ftype) > 0) {
            char *v = NULL;
            H5Tset_size(mtype, H5T_VARIABLE);
            if (H5Aread(attr, mtype, &v) >= 0 && v) text = strdup(v);
            H5free_memory(v);
        } else {
            size_t n = H5Tget_size(ftype);
            H5Tset_size(mtype, n + 1);
            text = rldt_xcalloc(n + 1, 1);
            if (H5Aread(attr, mtype, text) < 0) {
                free(text);
                text = NULL;
            }
        }
        H5Tclose(mtype);
    }
    if (ftype >= 0) H5Tclose(ftype);
    H5Aclose(attr);
    return text;
}

// ---------------------------------------------------------------------------------------------------
// the write driver (see h5util.h): sec2's behaviour, with I/O failures recorded instead of returned

typedef struct {
    H5FD_t pub; /* first: HDF5 fills it in */
    int fd;
    bool writable;
    haddr_t eoa, eof;
    dev_t dev;
    ino_t ino;
    rldt_h5_io_t *io;
} sink_t;

typedef struct {
    rldt_h5_io_t *io;
} sink_info_t; /* the driver's file-access property: where to record failures */

#define SINK_MAXADDR ((haddr_t)INT64_MAX)

static void sink_failed(sink_t *f, int err)
{
    if (!f->io->err) f->io->err = err ? err : EIO;
}

static H5FD_t *sink_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr)
{
    const sink_info_t *info = H5Pget_driver_info(fapl);
    if (!info || !info->io || !name || maxaddr == 0 || maxaddr > SINK_MAXADDR) return NULL;
    int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) o |= O_CREAT;
    if (flags & H5F_ACC_EXCL) o |= O_EXCL;
    int fd = open(name, o | O_CLOEXEC, 0666);
    struct stat s;
    if (fd < 0 || fstat(fd, &s) != 0) {
        info->io->open_err = errno;
        if (fd >= 0) close(fd);
        return NULL;
    }
    sink_t *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->writable = (flags & H5F_ACC_RDWR) != 0;
    f->eof = (haddr_t)s.st_size;
    f->dev = s.st_dev;
    f->ino = s.st_ino;
    f->io = info->io;
    return &f->pub;
}

static herr_t sink_close(H5FD_t *file)
{
    sink_t *f = (sink_t *)file;
    if (f->writable && !f->io->err && fsync(f->fd) != 0) sink_failed(f, errno);
    if (close(f->fd) != 0 && f->writable) sink_failed(f, errno);
    free(f);
    return 0;
}

static int sink_cmp(const H5FD_t *a, const H5FD_t *b)
{
    const sink_t *x = (const sink_t *)a, *y = (const sink_t *)b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return 0;
}

static herr_t sink_query(const H5FD_t *file, unsigned long *flags)
{
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

static haddr_t sink_get_eoa(const H5FD_t *file, H5FD_mem_t type) { return ((const sink_t *)file)->eoa; }

static herr_t sink_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr)
{
    ((sink_t *)file)->eoa = addr;
    return 0;
}

static haddr_t sink_get_eof(const H5FD_t *file, H5FD_mem_t type) { return ((const sink_t *)file)->eof; }

static herr_t sink_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf)
{
    sink_t *f = (sink_t *)file;
    if (addr == HADDR_UNDEF || addr > f->eoa || size > f->eoa - addr) return -1;
    char *p = buf;
    while (size > 0) {
        ssize_t n = pread(f->fd, p, size, (off_t)addr);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) { /* past the end of the file, inside the address space: zeros, as sec2 */
            memset(p, 0, size);
            break;
        }
        p += n, addr += (haddr_t)n, size -= (size_t)n;
    }
    return 0;
}

static herr_t sink_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf)
{
    sink_t *f = (sink_t *)file;
    if (addr == HADDR_UNDEF || addr > f->eoa || size > f->eoa - addr) return -1;
    if (addr + size > f->eof) f->eof = addr + size;
    const char *p = buf;
    while (size > 0 && !f->io->err) {
        ssize_t n = pwrite(f->fd, p, size, (off_t)addr);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            sink_failed(f, n < 0 ? errno : ENOSPC);
            break;
        }
        p += n, addr += (haddr_t)n, size -= (size_t)n;
    }
    return 0;
}

static herr_t sink_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing)
{
    sink_t *f = (sink_t *)file;
    if (f->eoa == f->eof) return 0;
    if (!f->io->err && ftruncate(f->fd, (off_t)f->eoa) != 0) sink_failed(f, errno);
    f->eof = f->eoa;
    return 0;
}

static const H5FD_class_t sink_class = {
#ifdef H5FD_CLASS_VERSION /* HDF5 >= 1.13.2: a versioned class with a driver number (>= H5_VFD_RESERVED) */
    .version = H5FD_CLASS_VERSION,
    .value = (H5FD_class_value_t)(H5_VFD_RESERVED + 0x2d7),
#endif
    .name = "rldt_sink",
    .maxaddr = SINK_MAXADDR,
    .fc_degree = H5F_CLOSE_WEAK,
    .fapl_size = sizeof(sink_info_t),
    .open = sink_open,
    .close = sink_close,
    .cmp = sink_cmp,
    .query = sink_query,
    .get_eoa = sink_get_eoa,
    .set_eoa = sink_set_eoa,
    .get_eof = sink_get_eof,
    .read = sink_read,
    .write = sink_write,
    .truncate = sink_truncate,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

hid_t rldt_h5_create(const char *path, rldt_h5_io_t *io)
{
    static hid_t driver = H5I_INVALID_HID;
    rldt_h5_quiet();
    rldt_ignore_sigxfsz();
    *io = (rldt_h5_io_t){0, 0};
    if (driver < 0 || H5Iis_valid(driver) <= 0) driver = H5FDregister(&sink_class);
    hid_t fapl = driver < 0 ? H5I_INVALID_HID : H5Pcreate(H5P_FILE_ACCESS);
    sink_info_t info = {io};
    /* the HDF5 1.10 file format (read by libhdf5 1.10 and later, and so by h5py built on it): every piece of
     * metadata (superblock, object headers, link and chunk indexes) carries a checksum that libhdf5 checks
     * before it parses it, so a damaged file is refused instead of crashing or hanging libhdf5, or being read
     * as other values. With Fletcher-32 on every dataset and text attributes inside the object headers
     * (rldt_h5_write_str_attr), every byte a reader uses is checked. HDF5's default, earliest format has
     * no checksum on its superblock, object headers, groups or chunk indexes, nor on the global heap that
     * holds variable-length strings. */
    hid_t file = fapl >= 0 && H5Pset_driver(fapl, driver, &info) >= 0 &&
                         H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) >= 0
                     ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                     : H5I_INVALID_HID;
    if (fapl >= 0) H5Pclose(fapl);
    if (file < 0 && !io->open_err) io->open_err = EIO;
    return file;
}

int rldt_h5_failed(const rldt_h5_io_t *io) { return io->err != 0; }

int rldt_h5_close(hid_t file, rldt_h5_io_t *io)
{
    if (H5Fclose(file) < 0 && !io->err) io->err = EIO;
    return io->err;
}
