/*
 * test_data_convert.c — data_convert_idx: a small IDX pair (plain and gzip)
 * converts to /X uint8 [N, rows*cols] and /y uint8 [N] with the same bytes;
 * truncated, over-long, wrong-magic and mismatched files are refused with a
 * message, and leave neither OUT nor OUT.tmp behind.
 */
#include "gradscope/common.h"
#include "gradscope/convert.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static int g_fail;

#define CHECK(cond, ...)                                        \
    do {                                                        \
        if (!(cond)) {                                          \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                       \
            fprintf(stderr, "\n");                              \
            g_fail++;                                           \
        }                                                       \
    } while (0)

enum { N = 5, ROWS = 3, COLS = 4, PIX = ROWS * COLS };

static unsigned char g_images[N * PIX], g_labels[N];

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX file: header (magic, dims) then data, minus `cut` bytes, plus
 * `extra` trailing bytes; gzip-compressed when gz. */
static void write_idx(const char *path, int gz, uint32_t magic, int ndims, const uint32_t *dims,
                      const unsigned char *data, size_t n, size_t cut, size_t extra)
{
    unsigned char buf[16 + N * PIX + 8];
    size_t len = 4 + 4 * (size_t)ndims;
    put_be32(buf, magic);
    for (int i = 0; i < ndims; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    memcpy(buf + len, data, n);
    len += n;
    memset(buf + len, 0xab, extra);
    len = len + extra - cut;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || gzwrite(f, buf, (unsigned)len) != (int)len || gzclose(f) != Z_OK) {
            fprintf(stderr, "test setup: cannot write %s\n", path);
            exit(1);
        }
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "test setup: cannot write %s\n", path);
            exit(1);
        }
    }
}

static void write_pair(const char *img, const char *lab, int gz)
{
    uint32_t idims[3] = {N, ROWS, COLS}, ldims[1] = {N};
    write_idx(img, gz, 0x00000803, 3, idims, g_images, sizeof g_images, 0, 0);
    write_idx(lab, gz, 0x00000801, 1, ldims, g_labels, sizeof g_labels, 0, 0);
}

/* Read a whole uint8 dataset, checking its dims. */
static int read_u8(hid_t file, const char *name, int ndims, const hsize_t *want, unsigned char *out)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    hsize_t dims[2] = {0, 0};
    int ok = space >= 0 && H5Sget_simple_extent_ndims(space) == ndims
             && H5Sget_simple_extent_dims(space, dims, NULL) == ndims && dims[0] == want[0]
             && (ndims == 1 || dims[1] == want[1]) && H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1
             && H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0;
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(d);
    return ok ? 0 : -1;
}

static void check_converted(const char *out, const char *img, const char *what)
{
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0, "%s: cannot open %s", what, out);
    if (f < 0)
        return;
    unsigned char X[N * PIX], y[N];
    hsize_t xd[2] = {N, PIX}, yd[1] = {N};
    CHECK(read_u8(f, "/X", 2, xd, X) == 0 && memcmp(X, g_images, sizeof X) == 0, "%s: /X differs", what);
    CHECK(read_u8(f, "/y", 1, yd, y) == 0 && memcmp(y, g_labels, sizeof y) == 0, "%s: /y differs", what);
    /* the source file name is recorded */
    hid_t a = H5Aopen(f, "source_images", H5P_DEFAULT);
    char name[256] = "";
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    CHECK(a >= 0 && t >= 0 && H5Tget_size(t) < sizeof name && H5Aread(a, t, name) >= 0 && strcmp(name, img) == 0,
          "%s: attribute source_images is '%s', expected '%s'", what, name, img);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    H5Fclose(f);
}

static void expect_refused(const char *img, const char *lab, const char *out, const char *what, const char *msg)
{
    remove(out);
    gs_clear_error();
    int st = data_convert_idx(img, lab, out);
    const char *err = gs_last_error();
    CHECK(st == GS_ERR_DATA, "%s: status %d, expected GS_ERR_DATA", what, st);
    CHECK(strstr(err, msg) != NULL, "%s: message '%s' does not contain '%s'", what, err, msg);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    CHECK(access(out, F_OK) != 0 && access(tmp, F_OK) != 0, "%s: output or .tmp left behind", what);
    printf("%s -> %s\n", what, err);
}

int main(void)
{
    for (int i = 0; i < N * PIX; i++)
        g_images[i] = (unsigned char)(i * 37 + 11);
    for (int i = 0; i < N; i++)
        g_labels[i] = (unsigned char)(9 - i);
    const char *out = "data_convert_out.h5";

    for (int gz = 0; gz < 2; gz++) {
        const char *img = gz ? "data_convert_img.idx.gz" : "data_convert_img.idx";
        const char *lab = gz ? "data_convert_lab.idx.gz" : "data_convert_lab.idx";
        write_pair(img, lab, gz);
        remove(out);
        int st = data_convert_idx(img, lab, out);
        CHECK(st == 0, "convert (%s): %s", gz ? "gzip" : "plain", gs_last_error());
        if (st == 0)
            check_converted(out, img, gz ? "gzip" : "plain");
    }

    const char *img = "data_convert_bad_img.idx", *lab = "data_convert_lab.idx";
    uint32_t idims[3] = {N, ROWS, COLS}, ldims[1] = {N}, ldims_short[1] = {N - 1};
    write_idx(img, 0, 0x00000803, 3, idims, g_images, sizeof g_images, 7, 0);
    expect_refused(img, lab, out, "truncated images", "is truncated: expected 76 bytes (header + data), found 69");
    write_idx(img, 1, 0x00000803, 3, idims, g_images, sizeof g_images, 7, 0);
    expect_refused(img, lab, out, "truncated gzip images", "is truncated: expected 76 bytes");
    write_idx(img, 0, 0x00000803, 3, idims, g_images, 2, 0, 0);
    expect_refused(img, lab, out, "header only", "found 18");
    write_idx(img, 0, 0x00000803, 3, idims, g_images, sizeof g_images, 0, 3);
    expect_refused(img, lab, out, "trailing bytes", "longer than its header says: expected 76 bytes, found 79");
    write_idx(img, 0, 0x00000801, 3, idims, g_images, sizeof g_images, 0, 0);
    expect_refused(img, lab, out, "wrong magic", "magic number 0x00000801, expected 0x00000803");
    write_idx(img, 0, 0x00000803, 3, idims, g_images, sizeof g_images, 0, 0);
    expect_refused(lab, img, out, "images and labels swapped", "magic number 0x00000801, expected 0x00000803");
    write_idx("data_convert_bad_lab.idx", 0, 0x00000801, 1, ldims_short, g_labels, N - 1, 0, 0);
    expect_refused(img, "data_convert_bad_lab.idx", out, "N mismatch", "has N = 5 images");
    (void)ldims;
    expect_refused("data_convert_missing.idx", lab, out, "missing file", "cannot open IDX file 'data_convert_missing.idx'");

    remove(out);
    printf("test_data_convert: %s\n", g_fail ? "FAILED" : "ok");
    return g_fail ? 1 : 0;
}
