/*
 * convert_idx.c — MNIST-style IDX files (gzip or plain) to the HDF5 input
 * layout.
 *
 * IDX: a big-endian header, magic 0x0000TTNN (TT = 0x08 for uint8, NN the
 * number of dimensions), NN big-endian uint32 dimensions, then the data.
 *   images  0x00000803  [N, rows, cols] uint8
 *   labels  0x00000801  [N] uint8
 * Output: /X uint8 [N, rows*cols] and /y uint8 [N], chunked and deflated,
 * with the source file names as attributes, written through convert_out.h
 * (OUT.tmp, renamed when complete).
 */
#include "gradscope/convert.h"
#include "gradscope/common.h"
#include "convert_out.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
/* Larger images than 2^24 pixels (4096 x 4096) mean a corrupt header. */
#define IDX_PIXELS_MAX ((uint64_t)1 << 24)

/* One IDX file being read: gzread reads gzip and plain files alike. */
typedef struct {
    const char *path;
    gzFile gz;
    uint64_t header_bytes; /* 4 + 4 * ndims */
    uint64_t data_bytes;   /* what the header promises */
    uint64_t n_read;       /* bytes read so far, header included */
} idx_file;

/* Read exactly n bytes of the header (header = 1) or of the data; a short
 * read is a truncated file. */
static int idx_read(idx_file *f, void *buf, uint64_t n, int header)
{
    unsigned char *p = buf;
    uint64_t done = 0;
    while (done < n) {
        unsigned want = n - done > (1u << 30) ? 1u << 30 : (unsigned)(n - done);
        int got = gzread(f->gz, p + done, want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f->gz, &zerr);
            return gs_error(GS_ERR_DATA, "IDX file '%s': cannot read %s: %s", f->path,
                            header ? "the header" : "the data", zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (got == 0) {
            /* the header is read in 4-byte pieces, so n_read counts it too */
            uint64_t expected = header ? f->header_bytes : f->header_bytes + f->data_bytes;
            return gs_error(GS_ERR_DATA, "IDX file '%s' is truncated: expected %llu bytes (%s), found %llu",
                            f->path, (unsigned long long)expected, header ? "header" : "header + data",
                            (unsigned long long)(f->n_read + done));
        }
        done += (uint64_t)got;
    }
    f->n_read += n;
    return 0;
}

static uint32_t be32(const unsigned char b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Open an IDX file, check its magic and read its ndims dimensions. */
static int idx_open(idx_file *f, const char *path, uint32_t magic, uint32_t *dims)
{
    int ndims = (int)(magic & 0xff);
    memset(f, 0, sizeof *f);
    f->path = path;
    f->header_bytes = 4;
    errno = 0;
    if (!(f->gz = gzopen(path, "rb")))
        return gs_error(GS_ERR_DATA, "cannot open IDX file '%s': %s", path,
                        errno ? strerror(errno) : "out of memory");
    unsigned char b[4];
    int st = idx_read(f, b, 4, 1);
    if (!st && be32(b) != magic)
        st = gs_error(GS_ERR_DATA, "IDX file '%s': magic number 0x%08x, expected 0x%08x (%s)", path,
                      be32(b), magic, magic == IDX_IMAGES_MAGIC ? "uint8 images [N, rows, cols]" : "uint8 labels [N]");
    f->header_bytes = 4 + 4 * (uint64_t)ndims;
    for (int i = 0; i < ndims && !st; i++) {
        if (!(st = idx_read(f, b, 4, 1)))
            dims[i] = be32(b);
        if (!st && dims[i] == 0)
            st = gs_error(GS_ERR_DATA, "IDX file '%s': dimension %d is 0", path, i);
    }
    /* rows*cols <= 2^24, so N * rows*cols < 2^56 fits in uint64 */
    if (!st && ndims == 3 && (uint64_t)dims[1] * dims[2] > IDX_PIXELS_MAX)
        st = gs_error(GS_ERR_DATA, "IDX file '%s': images of %u x %u pixels are absurd (corrupt header?)",
                      path, dims[1], dims[2]);
    if (!st)
        f->data_bytes = ndims == 3 ? (uint64_t)dims[0] * ((uint64_t)dims[1] * dims[2]) : dims[0];
    return st;
}

/* The file must end exactly where the header says. */
static int idx_check_end(idx_file *f)
{
    unsigned char extra[4096];
    uint64_t n_extra = 0;
    int got;
    while ((got = gzread(f->gz, extra, sizeof extra)) > 0)
        n_extra += (uint64_t)got;
    if (got < 0) {
        int zerr;
        return gs_error(GS_ERR_DATA, "IDX file '%s': cannot read: %s", f->path, gzerror(f->gz, &zerr));
    }
    if (n_extra)
        return gs_error(GS_ERR_DATA, "IDX file '%s' is longer than its header says: expected %llu bytes, "
                        "found %llu", f->path, (unsigned long long)(f->header_bytes + f->data_bytes),
                        (unsigned long long)(f->header_bytes + f->data_bytes + n_extra));
    return 0;
}

int data_convert_idx(const char *images, const char *labels, const char *out_h5)
{
    idx_file im, lb;
    uint32_t im_dims[3] = {0}, lb_dims[1] = {0};
    int st = idx_open(&im, images, IDX_IMAGES_MAGIC, im_dims);
    if (st) {
        if (im.gz)
            gzclose(im.gz);
        return st;
    }
    if ((st = idx_open(&lb, labels, IDX_LABELS_MAGIC, lb_dims)) == 0 && lb_dims[0] != im_dims[0])
        st = gs_error(GS_ERR_DATA, "IDX files disagree: '%s' has N = %u images, '%s' has N = %u labels",
                      images, im_dims[0], labels, lb_dims[0]);

    const uint64_t N = im_dims[0], width = (uint64_t)im_dims[1] * im_dims[2];
    const uint64_t rows_per_chunk = convert_rows_per_chunk(width, N);
    /* at most max(1 MiB, width) bytes whatever N the headers claim: labels
     * stream through it too, so a header claiming 2^32 labels costs nothing
     * before the file turns out to be short */
    const uint64_t buf_bytes = rows_per_chunk * width;
    unsigned char *buf = NULL;
    convert_out out;
    int opened = 0;
    if (!st && !(buf = gs_malloc(buf_bytes, 1, "IDX conversion buffer")))
        st = GS_ERR_RUNTIME;
    if (!st) {
        opened = 1;
        st = convert_out_open(&out, out_h5);
    }
    if (!st && !(st = convert_out_create(&out, CONVERT_X, H5T_STD_U8LE, N, width, 2))
        && !(st = convert_out_create(&out, CONVERT_Y, H5T_STD_U8LE, N, 1, 1))
        && !(st = convert_out_attr(&out, -1, "source_images", images))
        && !(st = convert_out_attr(&out, -1, "source_labels", labels)))
        st = convert_out_attr(&out, -1, "format", "gradscope-input");
    /* images stream through in chunks of rows; labels are small */
    for (uint64_t lo = 0; !st && lo < N; lo += rows_per_chunk) {
        uint64_t n = N - lo < rows_per_chunk ? N - lo : rows_per_chunk;
        if (!(st = idx_read(&im, buf, n * width, 0)))
            st = convert_out_write(&out, CONVERT_X, H5T_NATIVE_UINT8, lo, n, buf);
    }
    if (!st)
        st = idx_check_end(&im);
    for (uint64_t lo = 0; !st && lo < N; lo += buf_bytes) {
        uint64_t n = N - lo < buf_bytes ? N - lo : buf_bytes;
        if (!(st = idx_read(&lb, buf, n, 0)))
            st = convert_out_write(&out, CONVERT_Y, H5T_NATIVE_UINT8, lo, n, buf);
    }
    if (!st)
        st = idx_check_end(&lb);
    if (opened)
        st = convert_out_finish(&out, st);
    free(buf);
    gzclose(im.gz);
    if (lb.gz)
        gzclose(lb.gz);
    return st;
}
