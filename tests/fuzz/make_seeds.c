/*
 * make_seeds.c — `fuzz_seeds DIR`: writes the seed corpora of the HDF5 and
 * IDX fuzz targets under DIR/<target>/ (small valid files, a few KB each):
 *   data/  /X float32 [8, 4] + /y int32 [8]; /X uint8 + /y uint8, chunked
 *          and deflated; /X float32 + /y float32 [8, 3] (targets)
 *   ckpt/  checkpoints of model.layers = 3, 5, 2 (what fuzz_ckpt reads
 *          into) with a short history, and one with an empty history
 *   idx/   a 2-byte length prefix, images IDX [5, 2, 3], labels IDX [5];
 *          plain and gzip
 * The config seeds are plain text and committed as they are.
 */
#include "gradscope/ckpt.h"
#include "gradscope/common.h"
#include "gradscope/config.h"
#include "gradscope/net.h"
#include "gradscope/stats.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    hist_push_eval(&h, 3, 1.0f, 0.5f, 0.75f);
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
    return 0;
}
