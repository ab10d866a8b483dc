/*
 * make_seeds.c — `fuzz_seeds DIR`: writes the seed corpora of the HDF5 and
 * IDX fuzz targets under DIR/<target>/ (small valid files, a few KB each):
 *   data/  /X float32 [8, 4] + /y int32 [8]; /X uint8 + /y uint8, chunked
 *          and deflated; /X float32 + /y float32 [8, 3] (targets)
 *   ckpt/  checkpoints of model.layers = 3, 5, 2 (what fuzz_ckpt reads
 *          into) with a short history, and one with an empty history
 *   idx/   a 2-byte length prefix, images IDX [5, 2, 3], labels IDX [5];
 *          plain and gzip
 *   npy/   a 2-byte length prefix, X.npy, Y.npy, at format versions 1.0,
 *          2.0 and 3.0 and several dtypes; prefix 0xffff and an .npz
 * The config and CSV seeds are plain text and committed as they are.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/config.h"
#include "gradscope/net.h"
#include "gradscope/stats.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>
#include <zlib.h>

static void die(const char *what)
{
    fprintf(stderr, "fuzz_seeds: %s failed: %s\n", what, gs_last_error());
    exit(1);
}

static void mkdir_p(const char *base, const char *sub, char *out, size_t n)
{
    struct stat sb;
    mkdir(base, 0755);
    snprintf(out, n, "%s/%s", base, sub);
    mkdir(out, 0755);
    if (stat(out, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "fuzz_seeds: cannot make directory %s\n", out);
        exit(1);
    }
}

/* One dataset, chunked + deflated when chunk != 0. */
static void put(hid_t f, const char *name, hid_t ftype, hid_t mtype, int nd, const hsize_t *dims, int chunk,
                const void *buf)
{
    hid_t sp = H5Screate_simple(nd, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) {
        hsize_t c[2] = {2, nd > 1 ? dims[1] : 1};
        H5Pset_chunk(dcpl, nd, c);
        H5Pset_deflate(dcpl, 4);
    }
    hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        die(name);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

static void data_seeds(const char *dir)
{
    char p[1024];
    float X[8][4], T[8][3];
    int y[8];
    unsigned char Xu[8][4], yu[8];
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 4; j++) {
            X[i][j] = (float)(i - j) * 0.25f;
            Xu[i][j] = (unsigned char)(i * 16 + j);
        }
        for (int k = 0; k < 3; k++)
            T[i][k] = (float)(i + k) * 0.5f;
        y[i] = i % 3;
        yu[i] = (unsigned char)(i % 3);
    }
    const hsize_t x8[2] = {8, 4}, y8[1] = {8}, t8[2] = {8, 3};

    snprintf(p, sizeof p, "%s/labels_f32.h5", dir);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, x8, 0, X);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT, 1, y8, 0, y);
    H5Fclose(f);

    snprintf(p, sizeof p, "%s/uint8_deflate.h5", dir);
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put(f, "X", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 2, x8, 1, Xu);
    put(f, "y", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, y8, 1, yu);
    H5Fclose(f);

    snprintf(p, sizeof p, "%s/targets.h5", dir);
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, x8, 0, X);
    put(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, t8, 0, T);
    H5Fclose(f);
}

static void ckpt_seeds(const char *dir)
{
    static gs_config cfg;
    char *sets[] = {"model.layers=3, 5, 2", "model.activation=tanh", "data.synthetic=teacher"};
    if (cfg_load(&cfg, NULL, 3, sets))
        die("cfg_load");
    gs_net *net = net_create(&cfg, 1, NULL, NULL);
    if (!net || net_init_params(net, 1, 0.0))
        die("net_create");
    gs_history h;
    memset(&h, 0, sizeof h);
    if (hist_init(&h, net->n_layers))
        die("hist_init");
    gs_train_state s = {.step = 0, .epoch = 0, .batch_in_epoch = 0, .n_ranks = 1, .seed = cfg.seed};
    if (ckpt_make_dir(dir) || ckpt_write(dir, NULL, &cfg, net, &h, &s, 5, NULL, 0))
        die("ckpt_write (empty history)");
    float st[2 * GS_N_STATS];
    int v[2] = {0, 0};
    for (int i = 0; i < 2 * GS_N_STATS; i++)
        st[i] = 0.125f * (float)i;
    for (int i = 0; i < 3; i++)
        hist_push_loss(&h, 1.0f / (float)(i + 1));
    hist_push_eval(&h, 3, 1.0f, 0.5f, 0.75f, NAN, NAN);
    hist_push_stats(&h, 0, st, v);
    s.step = 3;
    s.epoch = 1;
    if (ckpt_write(dir, NULL, &cfg, net, &h, &s, 5, NULL, 0))
        die("ckpt_write");
    hist_free(&h);
    net_free(net);
    char p[1024];
    snprintf(p, sizeof p, "%s/latest", dir); /* only .h5 files are seeds */
    remove(p);
}

static void be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* prefix (2 bytes, length of the images part) + images + labels */
static void idx_seed(const char *dir, const char *name, int gz)
{
    unsigned char im[16 + 30], lb[8 + 5];
    be32(im, 0x803), be32(im + 4, 5), be32(im + 8, 2), be32(im + 12, 3);
    for (int i = 0; i < 30; i++)
        im[16 + i] = (unsigned char)(i * 7);
    be32(lb, 0x801), be32(lb + 4, 5);
    for (int i = 0; i < 5; i++)
        lb[8 + i] = (unsigned char)(i % 3);
    unsigned char out[512];
    size_t n_im = sizeof im, n_lb = sizeof lb;
    unsigned char zi[256], zl[256];
    const unsigned char *pi = im, *pl = lb;
    if (gz) { /* gzip members, as the real MNIST files are */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s/.tmp.gz", dir);
        for (int k = 0; k < 2; k++) {
            gzFile g = gzopen(tmp, "wb9");
            gzwrite(g, k ? lb : im, (unsigned)(k ? sizeof lb : sizeof im));
            gzclose(g);
            FILE *f = fopen(tmp, "rb");
            size_t n = fread(k ? zl : zi, 1, 256, f);
            fclose(f);
            *(k ? &n_lb : &n_im) = n;
        }
        remove(tmp);
        pi = zi, pl = zl;
    }
    out[0] = (unsigned char)(n_im & 0xff), out[1] = (unsigned char)(n_im >> 8);
    memcpy(out + 2, pi, n_im);
    memcpy(out + 2 + n_im, pl, n_lb);
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(out, 1, 2 + n_im + n_lb, f) != 2 + n_im + n_lb || fclose(f))
        die(p);
}

/* An NPY file: preamble, the header dict padded to a multiple of 64 bytes,
 * then n_data bytes of data; returns its length. */
static size_t npy_bytes(unsigned char *out, int version, const char *descr, const char *shape, const void *data,
                        size_t n_data)
{
    char dict[128];
    const size_t pre = version == 1 ? 10 : 12;
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t hlen = ((pre + (size_t)n + 1 + 63) / 64) * 64 - pre;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)version, out[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        out[8 + i] = (unsigned char)(hlen >> (8 * i));
    memset(out + pre, ' ', hlen);
    memcpy(out + pre, dict, (size_t)n);
    out[pre + hlen - 1] = '\n';
    memcpy(out + pre + hlen, data, n_data);
    return pre + hlen + n_data;
}

static void write_seed(const char *dir, const char *name, const unsigned char *a, size_t na, const unsigned char *b,
                       size_t nb, unsigned prefix)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unsigned char pre[2] = {(unsigned char)(prefix & 0xff), (unsigned char)(prefix >> 8)};
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(pre, 1, 2, f) != 2 || fwrite(a, 1, na, f) != na || (nb && fwrite(b, 1, nb, f) != nb) || fclose(f))
        die(p);
}

/* X.npy and Y.npy of a few dtypes, and an .npz holding them (stored). */
static void npy_seeds(const char *dir)
{
    double x8[15];
    int64_t y8[5];
    unsigned char u1[16], b1[3];
    float f4[8];
    int16_t i2[6];
    for (int i = 0; i < 15; i++)
        x8[i] = 0.5 * i - 3;
    for (int i = 0; i < 5; i++)
        y8[i] = i % 3;
    for (int i = 0; i < 16; i++)
        u1[i] = (unsigned char)(i * 17);
    for (int i = 0; i < 8; i++)
        f4[i] = 0.25f * (float)i;
    for (int i = 0; i < 6; i++)
        i2[i] = (int16_t)(100 * i - 250);
    b1[0] = 1, b1[1] = 0, b1[2] = 1;
    unsigned char x[512], y[512];
    size_t nx, ny;
    nx = npy_bytes(x, 1, "<f8", "(5, 3)", x8, sizeof x8), ny = npy_bytes(y, 1, "<i8", "(5,)", y8, sizeof y8);
    write_seed(dir, "v1_f8_i8.bin", x, nx, y, ny, (unsigned)nx);
    zip_t *z;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/.tmp.npz", dir);
    int zerr;
    if (!(z = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr)))
        die("zip_open");
    zip_source_t *sx = zip_source_buffer(z, x, nx, 0), *sy = zip_source_buffer(z, y, ny, 0);
    if (!sx || !sy || zip_file_add(z, "X.npy", sx, 0) < 0 || zip_file_add(z, "y.npy", sy, 0) < 0
        || zip_set_file_compression(z, 0, ZIP_CM_STORE, 0) < 0 || zip_close(z) < 0)
        die("writing the npz seed");
    unsigned char npz[2048];
    FILE *f = fopen(tmp, "rb");
    size_t nz = f ? fread(npz, 1, sizeof npz, f) : 0;
    if (f)
        fclose(f);
    remove(tmp);
    if (nz == 0 || nz == sizeof npz)
        die("reading the npz seed");
    write_seed(dir, "npz.bin", npz, nz, NULL, 0, 0xffff);
    nx = npy_bytes(x, 2, "|u1", "(4, 2, 2)", u1, sizeof u1), ny = npy_bytes(y, 2, "<f4", "(4, 2)", f4, sizeof f4);
    write_seed(dir, "v2_u1_f4.bin", x, nx, y, ny, (unsigned)nx);
    nx = npy_bytes(x, 3, "<i2", "(3, 2)", i2, sizeof i2), ny = npy_bytes(y, 3, "|b1", "(3,)", b1, sizeof b1);
    write_seed(dir, "v3_i2_b1.bin", x, nx, y, ny, (unsigned)nx);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds CORPUS_DIR\n");
        return 2;
    }
    char d[600];
    mkdir_p(argv[1], "data", d, sizeof d);
    data_seeds(d);
    mkdir_p(argv[1], "ckpt", d, sizeof d);
    ckpt_seeds(d);
    mkdir_p(argv[1], "idx", d, sizeof d);
    idx_seed(d, "plain.bin", 0);
    idx_seed(d, "gzip.bin", 1);
    mkdir_p(argv[1], "npy", d, sizeof d);
    npy_seeds(d);
    return 0;
}
