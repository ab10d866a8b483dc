/*
 * convert_out.c — the converters' HDF5 output (convert_out.h): OUT.tmp with
 * /X and /y chunked by rows and deflated, renamed to OUT when complete.
 */
#include "convert_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_BYTES ((uint64_t)1 << 20) /* about 1 MiB per HDF5 chunk and per write */


static int h5_fail(const convert_out *o, const char *call, const char *obj)
{
    return gs_error(GS_ERR_DATA, "writing '%s': HDF5 %s%s%s failed", o->tmp, call, obj ? " of " : "", obj ? obj : "");
}

uint64_t convert_rows_per_chunk(uint64_t row_bytes, uint64_t n)
{
    uint64_t rows = row_bytes >= CHUNK_BYTES ? 1 : CHUNK_BYTES / (row_bytes ? row_bytes : 1);
    return rows < n ? rows : (n ? n : 1);
}

int convert_out_open(convert_out *o, const char *out_h5)
{
    memset(o, 0, sizeof *o);
    o->path = out_h5;
    o->name[CONVERT_X] = "X";
    o->name[CONVERT_Y] = "y";
    o->file = o->dset[0] = o->dset[1] = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* gradscope reports its own messages */
    if ((size_t)snprintf(o->tmp, sizeof o->tmp, "%s.tmp", out_h5) >= sizeof o->tmp)
        return gs_error(GS_ERR_USAGE, "output path '%s' is too long", out_h5);
    /* the 1.8 format stores an attribute over 64 KiB (thousands of class
     * names) densely; the original format cannot store one at all */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) {
        if (fapl >= 0)
            H5Pclose(fapl);
        return gs_error(GS_ERR_RUNTIME, "HDF5 H5Pset_libver_bounds failed");
    }
    o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (H5Pclose(fapl) < 0 && o->file >= 0)
        return h5_fail(o, "H5Pclose", "the file access list");
    if (o->file < 0)
        return gs_error(GS_ERR_DATA, "cannot create '%s' (HDF5 H5Fcreate failed)", o->tmp);
    return 0;
}

int convert_out_create(convert_out *o, convert_dataset which, hid_t type, uint64_t n, uint64_t width, int ndims)
{
    const uint64_t rows = convert_rows_per_chunk(width * H5Tget_size(type), n);
    hsize_t dims[2] = {n, width}, chunk[2] = {rows, width};
    hid_t space = H5Screate_simple(ndims, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int st = 0;
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, ndims, chunk) < 0
        || (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 && H5Pset_deflate(dcpl, 4) < 0)
        || (o->dset[which] = H5Dcreate2(o->file, o->name[which], type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0)
        st = h5_fail(o, "H5Dcreate2", o->name[which]);
    if (dcpl >= 0 && H5Pclose(dcpl) < 0 && !st)
        st = h5_fail(o, "H5Pclose", o->name[which]);
    if (space >= 0 && H5Sclose(space) < 0 && !st)
        st = h5_fail(o, "H5Sclose", o->name[which]);
    o->ndims[which] = ndims;
    o->width[which] = width;
    return st;
}

int convert_out_write(convert_out *o, convert_dataset which, hid_t mem_type, uint64_t lo, uint64_t n,
                      const void *buf)
{
    hsize_t start[2] = {lo, 0}, count[2] = {n, o->width[which]};
    hid_t fspace = H5Dget_space(o->dset[which]), mspace = H5Screate_simple(o->ndims[which], count, NULL);
    int ok = fspace >= 0 && mspace >= 0
             && H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) >= 0
             && H5Dwrite(o->dset[which], mem_type, mspace, fspace, H5P_DEFAULT, buf) >= 0;
    if (mspace >= 0 && H5Sclose(mspace) < 0)
        ok = 0;
    if (fspace >= 0 && H5Sclose(fspace) < 0)
        ok = 0;
    return ok ? 0 : h5_fail(o, "H5Dwrite", o->name[which]);
}

/* The attribute `name` of `type` and `space` on the root (which < 0) or a
 * dataset, holding `value`. */
static int write_attr(convert_out *o, int which, const char *name, hid_t type, hid_t space, const void *value)
{
    hid_t obj = which < 0 ? o->file : o->dset[which], attr = -1;
    int ok = type >= 0 && space >= 0 && (attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) >= 0
             && H5Awrite(attr, type, value) >= 0;
    if (attr >= 0 && H5Aclose(attr) < 0)
        ok = 0;
    if (space >= 0 && H5Sclose(space) < 0)
        ok = 0;
    if (type >= 0 && H5Tclose(type) < 0)
        ok = 0;
    if (ok)
        return 0;
    char what[96];
    snprintf(what, sizeof what, "attribute '%s' on %s", name, which < 0 ? "/" : o->name[which]);
    return h5_fail(o, "H5Acreate2/H5Awrite", what);
}

/* A fixed-length string of strlen(value) + 1 bytes, as the IDX converter
 * has always written its attributes. */
int convert_out_attr(convert_out *o, int which, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type >= 0 && H5Tset_size(type, strlen(value) + 1) < 0) {
        H5Tclose(type);
        type = -1;
    }
    return write_attr(o, which, name, type, H5Screate(H5S_SCALAR), value);
}

/* Variable-length UTF-8 strings: names of any length, read by h5py as str. */
int convert_out_attr_list(convert_out *o, convert_dataset which, const char *name, const char *const *values,
                          uint64_t n)
{
    hsize_t dims[1] = {n};
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type >= 0 && (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)) {
        H5Tclose(type);
        type = -1;
    }
    return write_attr(o, (int)which, name, type, H5Screate_simple(1, dims, NULL), values);
}

int convert_out_finish(convert_out *o, int st)
{
    for (int i = 1; i >= 0; i--)
        if (o->dset[i] >= 0 && H5Dclose(o->dset[i]) < 0 && !st)
            st = h5_fail(o, "H5Dclose", o->name[i]);
    o->dset[0] = o->dset[1] = -1;
    if (o->file < 0)
        return st;
    if (H5Fclose(o->file) < 0 && !st)
        st = h5_fail(o, "H5Fclose", NULL);
    o->file = -1;
    if (!st) {
        int fd = open(o->tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0)
            st = gs_error(GS_ERR_DATA, "cannot sync '%s': %s", o->tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (!st && rename(o->tmp, o->path) != 0)
        st = gs_error(GS_ERR_DATA, "cannot rename '%s' to '%s': %s", o->tmp, o->path, strerror(errno));
    if (st)
        unlink(o->tmp);
    return st;
}
