/* h5util.c — HDF5 attribute helpers (see h5util.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "h5util.h"
#include "rldt/common.h"

void rldt_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

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
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = attr < 0 ? -1 : H5Awrite(attr, type, &text);
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
