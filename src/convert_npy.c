/*
 * convert_npy.c — NumPy .npy files and .npz archives to the HDF5 input
 * layout (convert.h).
 *
 * NPY (numpy.lib.format, versions 1.0, 2.0 and 3.0):
 *   "\x93NUMPY", major, minor          8 bytes
 *   header length HLEN                 uint16 LE (1.0) or uint32 LE (2.0, 3.0)
 *   header                             HLEN bytes: a Python dict literal,
 *       {'descr': '<f8', 'fortran_order': False, 'shape': (N, D), }
 *       padded with spaces, ending in '\n' (UTF-8 in 3.0, latin-1 before)
 *   data                               prod(shape) elements of descr
 * An .npz is a zip archive of NAME.npy members, stored (np.savez) or
 * deflated (np.savez_compressed); libzip reads them as streams.
 *
 * The headers of X and Y are checked against each other before anything is
 * written; the data then streams through one chunk of rows at a time.
 */
#include "gradscope/common.h"
#include "gradscope/convert.h"
#include "convert_out.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER ((uint32_t)1 << 20) /* numpy's own headers are under 10 kB */
#define NPY_MAX_DIMS 32                    /* numpy's NPY_MAXDIMS */

/* One array being read: its header, then its data as a stream. */
typedef struct {
    char label[GS_PATH_MAX + 64]; /* "NPY file 'X.npy'" or "NPZ file 'd.npz', array 'X'", for messages */
    char descr[32];               /* the dtype as the header spells it */
    char kind;                    /* 'f' float, 'i' signed, 'u' unsigned (bool reads as uint8) */
    int size;                     /* bytes per element */
    int fortran;
    int ndim;
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t header_bytes, data_bytes;
    uint64_t stored_bytes;        /* the file's (or member's) size, when known */
    uint64_t n_read;              /* bytes read, header included */
    FILE *f;
    zip_file_t *zf;
} npy_array;

static int npy_error(const npy_array *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int npy_error(const npy_array *a, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return gs_error(GS_ERR_DATA, "%s: %s", a->label, detail);
}

/* "(N, D)" as the header writes a shape. */
static const char *shape_str(const npy_array *a, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < a->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%llu", i ? ", " : "", (unsigned long long)a->shape[i]);
    if (k < n)
        snprintf(buf + k, n - k, a->ndim == 1 ? ",)" : ")");
    return buf;
}

/* ---- the byte stream ---------------------------------------------------- */

/* Read exactly n bytes; a short read is a truncated file. */
static int npy_read(npy_array *a, void *buf, uint64_t n, const char *what)
{
    unsigned char *p = buf;
    uint64_t done = 0;
    while (done < n) {
        uint64_t want = n - done;
        int64_t got;
        if (a->zf) {
            got = zip_fread(a->zf, p + done, want);
            if (got < 0)
                return npy_error(a, "cannot read %s: %s", what, zip_file_strerror(a->zf));
        } else {
            got = (int64_t)fread(p + done, 1, want, a->f);
            if (got == 0 && ferror(a->f))
                return npy_error(a, "cannot read %s: %s", what, strerror(errno));
        }
        if (got == 0) {
            char s[128];
            if (a->data_bytes)
                return npy_error(a, "the data section is truncated: shape %s of '%s' needs %llu bytes, found %llu",
                                 shape_str(a, s, sizeof s), a->descr, (unsigned long long)a->data_bytes,
                                 (unsigned long long)(a->n_read + done - a->header_bytes));
            return npy_error(a, "corrupt header: the file ends in %s, after %llu bytes", what,
                             (unsigned long long)(a->n_read + done));
        }
        done += (uint64_t)got;
    }
    a->n_read += n;
    return 0;
}

/* The stream must end where the header says. */
static int npy_check_end(npy_array *a)
{
    unsigned char extra[64];
    int64_t got = a->zf ? zip_fread(a->zf, extra, sizeof extra) : (int64_t)fread(extra, 1, sizeof extra, a->f);
    if (got < 0)
        return npy_error(a, "cannot read the data: %s", zip_file_strerror(a->zf));
    if (got > 0) {
        char s[128];
        return npy_error(a, "longer than its header says: shape %s of '%s' is %llu bytes of data, and more follow",
                         shape_str(a, s, sizeof s), a->descr, (unsigned long long)a->data_bytes);
    }
    return 0;
}

static void npy_close(npy_array *a)
{
    if (a->f)
        fclose(a->f);
    if (a->zf)
        zip_fclose(a->zf);
    a->f = NULL;
    a->zf = NULL;
}

/* ---- the header --------------------------------------------------------- */

typedef struct {
    const char *p, *end;
} lexer;

static void skip_space(lexer *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
        l->p++;
}

/* Consume `c` after optional space. */
static int take(lexer *l, char c)
{
    skip_space(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, into out (n bytes). */
static int take_string(lexer *l, char *out, size_t n)
{
    skip_space(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
        return 0;
    char q = *l->p++;
    size_t k = 0;
    while (l->p < l->end && *l->p != q && *l->p != '\\' && k + 1 < n)
        out[k++] = *l->p++;
    out[k] = '\0';
    return l->p < l->end && *l->p++ == q;
}

static int take_word(lexer *l, const char *w)
{
    size_t n = strlen(w);
    skip_space(l);
    if ((size_t)(l->end - l->p) >= n && !memcmp(l->p, w, n)) {
        l->p += n;
        return 1;
    }
    return 0;
}

/* A shape tuple: "()", "(N,)", "(N, D)", "(N, D,)"; Python 2's "3L" too. */
static int take_shape(lexer *l, npy_array *a)
{
    if (!take(l, '('))
        return 0;
    a->ndim = 0;
    while (!take(l, ')')) {
        skip_space(l);
        if (l->p >= l->end || *l->p < '0' || *l->p > '9' || a->ndim == NPY_MAX_DIMS)
            return 0;
        uint64_t v = 0;
        while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                return 0;
            v = 10 * v + (uint64_t)(*l->p++ - '0');
        }
        if (l->p < l->end && *l->p == 'L')
            l->p++;
        a->shape[a->ndim++] = v;
        if (!take(l, ',')) {
            if (!take(l, ')'))
                return 0;
            break;
        }
    }
    return 1;
}

/* What a descr means, or why it is not supported. */
static int parse_descr(npy_array *a)
{
    const char *d = a->descr;
    char order = d[0], type = d[0] ? d[1] : 0;
    char *end;
    long size = type ? strtol(d + 2, &end, 10) : 0;
    const char *why = NULL;
    if (type == 'c')
        why = "complex numbers";
    else if (type == 'O')
        why = "Python objects (a pickled array)";
    else if (type == 'U' || type == 'S' || type == 'a')
        why = "strings";
    else if (type == 'V')
        why = "raw or structured records";
    else if (type == 'M' || type == 'm')
        why = "dates or times";
    else if (!order || !type || !strchr("<>|=", order) || !strchr("fiub", type) || d[2] < '0' || d[2] > '9' || *end)
        why = "not a numeric dtype";
    else if (type == 'f' && size != 4 && size != 8)
        why = size == 2 ? "float16" : "a float size other than 4 or 8 bytes";
    else if ((type == 'i' || type == 'u') && size != 1 && size != 2 && size != 4 && size != 8)
        why = "an integer size other than 1, 2, 4 or 8 bytes";
    else if (type == 'b' && size != 1)
        why = "a bool size other than 1 byte";
    else if (order == '>' && size > 1)
        why = "big-endian; save a.astype(a.dtype.newbyteorder('<'))";
    else if ((order == '|' || order == '=') && size > 1)
        why = "a byte order that is not '<'";
    if (why)
        return npy_error(a, "header field 'descr' is '%s' (%s): supported are float32, float64, int8-64, uint8-64 "
                         "and bool, little-endian", d, why);
    a->kind = type == 'b' ? 'u' : type;
    a->size = (int)size;
    return 0;
}

/* The dict: exactly the keys descr, fortran_order and shape. */
static int parse_header(npy_array *a, const char *text, size_t len)
{
    lexer l = {text, text + len};
    int seen[3] = {0, 0, 0};
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    if (!take(&l, '{'))
        return npy_error(a, "corrupt header: not a Python dict (it starts \"%.20s\")", text);
    while (!take(&l, '}')) {
        char key[32];
        if (!take_string(&l, key, sizeof key) || !take(&l, ':'))
            return npy_error(a, "corrupt header: expected 'key': value at byte %zu", (size_t)(l.p - text));
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]))
            k++;
        if (k == 3)
            return npy_error(a, "corrupt header: header field '%s' is not one of descr, fortran_order, shape", key);
        if (seen[k]++)
            return npy_error(a, "corrupt header: header field '%s' appears twice", key);
        if (k == 0) {
            skip_space(&l);
            if (l.p < l.end && *l.p == '[')
                return npy_error(a, "header field 'descr' is a list (a structured dtype): supported are float32, "
                                 "float64, int8-64, uint8-64 and bool, little-endian");
            if (!take_string(&l, a->descr, sizeof a->descr))
                return npy_error(a, "corrupt header: header field 'descr' is not a string");
        } else if (k == 1) {
            if (take_word(&l, "True"))
                a->fortran = 1;
            else if (!take_word(&l, "False"))
                return npy_error(a, "corrupt header: header field 'fortran_order' is neither True nor False");
        } else if (!take_shape(&l, a)) {
            return npy_error(a, "corrupt header: header field 'shape' is not a tuple of integers");
        }
        if (!take(&l, ',') && !take(&l, '}'))
            return npy_error(a, "corrupt header: expected ',' or '}' after header field '%s'", key);
        if (l.p[-1] == '}')
            break;
    }
    skip_space(&l);
    if (l.p != l.end)
        return npy_error(a, "corrupt header: text after the dict at byte %zu", (size_t)(l.p - text));
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return npy_error(a, "corrupt header: header field '%s' is missing", keys[k]);
    int st = parse_descr(a);
    if (st)
        return st;
    int n_long = 0; /* dims longer than 1: with more than one, Fortran order is another layout */
    uint64_t n_elems = 1;
    for (int i = 0; i < a->ndim; i++) {
        n_long += a->shape[i] > 1;
        if (a->shape[i] && n_elems > UINT64_MAX / a->shape[i])
            return npy_error(a, "corrupt header: header field 'shape' has more elements than fit in 64 bits");
        n_elems *= a->shape[i];
    }
    if (a->fortran && n_long > 1)
        return npy_error(a, "header field 'fortran_order' is True: the array is in Fortran (column-major) order; "
                         "save np.ascontiguousarray(a) instead");
    if (n_elems > (UINT64_MAX >> 2) / (uint64_t)a->size) /* so that header + data cannot overflow */
        return npy_error(a, "corrupt header: header field 'shape' has more than 2^62 bytes");
    a->data_bytes = n_elems * (uint64_t)a->size;
    return 0;
}

/* Read the preamble and the header; check the size the stream should have. */
static int npy_read_header(npy_array *a)
{
    unsigned char pre[12];
    int st = npy_read(a, pre, 10, "the preamble");
    if (st)
        return st;
    if (memcmp(pre, NPY_MAGIC, 6) != 0)
        return npy_error(a, "not an NPY file: it does not start with \"\\x93NUMPY\" (corrupt header)");
    const int major = pre[6], minor = pre[7];
    if (minor != 0 || major < 1 || major > 3)
        return npy_error(a, "corrupt header: format version %d.%d (supported: 1.0, 2.0, 3.0)", major, minor);
    uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    if (major >= 2) {
        if ((st = npy_read(a, pre + 10, 2, "the preamble")))
            return st;
        hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    }
    if (hlen > NPY_MAX_HEADER)
        return npy_error(a, "corrupt header: a header length of %u bytes", hlen);
    a->header_bytes = (major >= 2 ? 12 : 10) + (uint64_t)hlen;
    char *text = gs_malloc(hlen + 1, 1, "an NPY header");
    if (!text)
        return GS_ERR_RUNTIME;
    if (!(st = npy_read(a, text, hlen, "the header"))) {
        text[hlen] = '\0';
        st = parse_header(a, text, hlen);
    }
    free(text);
    if (!st && a->stored_bytes && a->stored_bytes < a->header_bytes + a->data_bytes) {
        char s[128];
        st = npy_error(a, "the data section is truncated: shape %s of '%s' needs %llu bytes, found %llu",
                       shape_str(a, s, sizeof s), a->descr, (unsigned long long)a->data_bytes,
                       (unsigned long long)(a->stored_bytes - a->header_bytes));
    } else if (!st && a->stored_bytes > a->header_bytes + a->data_bytes) {
        char s[128];
        st = npy_error(a, "longer than its header says: shape %s of '%s' is %llu bytes of data, found %llu",
                       shape_str(a, s, sizeof s), a->descr, (unsigned long long)a->data_bytes,
                       (unsigned long long)(a->stored_bytes - a->header_bytes));
    }
    return st;
}

static int npy_open_file(npy_array *a, const char *path)
{
    memset(a, 0, sizeof *a);
    snprintf(a->label, sizeof a->label, "NPY file '%s'", path);
    struct stat sb = {0};
    if (!(a->f = fopen(path, "rb")))
        return gs_error(GS_ERR_DATA, "cannot open NPY file '%s': %s", path, strerror(errno));
    if (fstat(fileno(a->f), &sb) == 0 && S_ISREG(sb.st_mode))
        a->stored_bytes = (uint64_t)sb.st_size;
    if (a->stored_bytes == 0 && S_ISREG(sb.st_mode))
        return npy_error(a, "the file is empty");
    return npy_read_header(a);
}

/* ---- values ------------------------------------------------------------- */

/* Element i of raw little-endian data of the array's dtype, as a double. */
static double npy_value(const npy_array *a, const unsigned char *raw, uint64_t i)
{
    const unsigned char *p = raw + i * (uint64_t)a->size;
    uint64_t u = 0;
    for (int b = a->size - 1; b >= 0; b--)
        u = u << 8 | p[b];
    if (a->kind == 'f') {
        if (a->size == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, sizeof f);
            return f;
        }
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    if (a->kind == 'i' && a->size < 8 && (u >> (8 * a->size - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * a->size); /* sign-extend */
    if (a->kind == 'i') {
        int64_t s;
        memcpy(&s, &u, sizeof s);
        return (double)s;
    }
    return (double)u;
}

/* n elements of raw, the first being element `first` of the array, to
 * float32; every one must be finite (training refuses NaN and Inf). */
static int npy_to_float(const npy_array *a, const unsigned char *raw, uint64_t n, uint64_t first, uint64_t width,
                        float *out)
{
    for (uint64_t i = 0; i < n; i++) {
        double v = npy_value(a, raw, i);
        out[i] = (float)v;
        if (!isfinite(out[i]))
            return npy_error(a, "element [%llu, %llu] is %g%s: training refuses NaN and Inf",
                             (unsigned long long)((first + i) / width), (unsigned long long)((first + i) % width), v,
                             isfinite(v) ? ", outside float32's range" : "");
    }
    return 0;
}

/* The HDF5 type of an integer dtype, little-endian as stored. */
static hid_t int_type(const npy_array *a)
{
    static const int sizes[4] = {1, 2, 4, 8};
    const hid_t s[4] = {H5T_STD_I8LE, H5T_STD_I16LE, H5T_STD_I32LE, H5T_STD_I64LE};
    const hid_t u[4] = {H5T_STD_U8LE, H5T_STD_U16LE, H5T_STD_U32LE, H5T_STD_U64LE};
    int k = 0;
    while (sizes[k] != a->size)
        k++;
    return a->kind == 'i' ? s[k] : u[k];
}

/* ---- the conversion ----------------------------------------------------- */

/* Stream `rows` x `width` elements of a into dataset `which`: uint8 and
 * integer labels pass through as they are; anything else becomes float32. */
static int stream_rows(npy_array *a, convert_out *out, convert_dataset which, uint64_t rows, uint64_t width,
                       int as_float)
{
    const uint64_t out_size = as_float ? sizeof(float) : (uint64_t)a->size;
    const uint64_t chunk = convert_rows_per_chunk(width * out_size, rows);
    unsigned char *raw = gs_malloc(chunk * width, (size_t)a->size, "NPY rows");
    float *f = as_float ? gs_malloc(chunk * width, sizeof *f, "NPY rows as float32") : NULL;
    int st = !raw || (as_float && !f) ? GS_ERR_RUNTIME : 0;
    for (uint64_t lo = 0; !st && lo < rows; lo += chunk) {
        const uint64_t n = rows - lo < chunk ? rows - lo : chunk;
        if ((st = npy_read(a, raw, n * width * (uint64_t)a->size, "the data")))
            break;
        if (as_float && !(st = npy_to_float(a, raw, n * width, lo * width, width, f)))
            st = convert_out_write(out, which, H5T_NATIVE_FLOAT, lo, n, f);
        else if (!as_float)
            st = convert_out_write(out, which, int_type(a), lo, n, raw);
    }
    if (!st)
        st = npy_check_end(a);
    free(raw);
    free(f);
    return st;
}

/* X [N, ...] and Y [N] or [N, K], whose headers are read, to OUT. */
static int convert_arrays(npy_array *x, npy_array *y, const char *out_h5, const char *const *attrs,
                          data_convert_info *info)
{
    char s[128];
    if (x->ndim < 2)
        return npy_error(x, "header field 'shape' is %s: X needs at least 2 dimensions, [N, D]",
                         shape_str(x, s, sizeof s));
    const uint64_t N = x->shape[0];
    uint64_t D = 1;
    for (int i = 1; i < x->ndim; i++)
        D *= x->shape[i];
    if (N == 0 || D == 0)
        return npy_error(x, "header field 'shape' is %s: no %s", shape_str(x, s, sizeof s), N ? "features" : "rows");
    if (D > INT_MAX)
        return npy_error(x, "header field 'shape' is %s: more than %d features per row", shape_str(x, s, sizeof s),
                         INT_MAX);
    if (y->ndim < 1 || y->ndim > 2)
        return npy_error(y, "header field 'shape' is %s: Y must be [N] labels or [N, K] targets",
                         shape_str(y, s, sizeof s));
    if (y->shape[0] != N)
        return npy_error(y, "header field 'shape' is %s: N = %llu rows, but X has N = %llu (%s)",
                         shape_str(y, s, sizeof s), (unsigned long long)y->shape[0], (unsigned long long)N, x->label);
    const uint64_t K = y->ndim == 2 ? y->shape[1] : 1;
    if (K == 0)
        return npy_error(y, "header field 'shape' is %s: no targets", shape_str(y, s, sizeof s));
    const int x_u8 = x->kind == 'u' && x->size == 1, y_int = y->kind != 'f';

    convert_out out;
    int st = convert_out_open(&out, out_h5);
    if (!st)
        st = convert_out_create(&out, CONVERT_X, x_u8 ? H5T_STD_U8LE : H5T_IEEE_F32LE, N, D, 2);
    if (!st)
        st = convert_out_create(&out, CONVERT_Y, y_int ? int_type(y) : H5T_IEEE_F32LE, N, K, y_int ? y->ndim : 2);
    if (!st)
        st = convert_out_attr(&out, -1, "format", "gradscope-input");
    for (int i = 0; !st && attrs[i]; i += 2)
        st = convert_out_attr(&out, -1, attrs[i], attrs[i + 1]);
    if (!st)
        st = stream_rows(x, &out, CONVERT_X, N, D, !x_u8);
    if (!st)
        st = stream_rows(y, &out, CONVERT_Y, N, K, !y_int);
    st = convert_out_finish(&out, st);
    if (!st && info) {
        memset(info, 0, sizeof *info);
        info->n_rows = N;
        info->dim = D;
        info->y_width = K;
        info->y_ndims = y_int ? y->ndim : 2;
        snprintf(info->x_type, sizeof info->x_type, x_u8 ? "uint8" : "float32");
        if (y_int)
            snprintf(info->y_type, sizeof info->y_type, "%sint%d", y->kind == 'u' ? "u" : "", 8 * y->size);
        else
            snprintf(info->y_type, sizeof info->y_type, "float32");
    }
    return st;
}

int data_convert_npy(const char *x_npy, const char *y_npy, const char *out_h5, data_convert_info *info)
{
    npy_array x, y;
    memset(&y, 0, sizeof y);
    int st = npy_open_file(&x, x_npy);
    if (!st)
        st = npy_open_file(&y, y_npy);
    const char *attrs[] = {"source_x", x_npy, "source_y", y_npy, NULL};
    if (!st)
        st = convert_arrays(&x, &y, out_h5, attrs, info);
    npy_close(&x);
    npy_close(&y);
    return st;
}

/* ---- .npz --------------------------------------------------------------- */

/* Open member NAME.npy of the archive (NAME may carry the .npy already);
 * alt, if not NULL, is the name to try when NAME is absent. */
static int npz_open_member(npy_array *a, zip_t *za, const char *path, const char *name, const char *alt,
                           const char **used)
{
    memset(a, 0, sizeof *a);
    const char *names[2] = {name, alt};
    zip_int64_t idx = -1;
    for (int i = 0; i < 2 && idx < 0 && names[i]; i++) {
        char member[512];
        size_t n = strlen(names[i]);
        snprintf(member, sizeof member, "%s%s", names[i], n > 4 && !strcmp(names[i] + n - 4, ".npy") ? "" : ".npy");
        if ((idx = zip_name_locate(za, member, 0)) >= 0)
            *used = names[i];
    }
    if (idx < 0) {
        char list[256] = "";
        size_t k = 0;
        zip_int64_t n = zip_get_num_entries(za, 0);
        for (zip_int64_t i = 0; i < n && k + 8 < sizeof list; i++) {
            const char *m = zip_get_name(za, (zip_uint64_t)i, 0);
            size_t len = m ? strlen(m) : 0;
            if (m)
                k += (size_t)snprintf(list + k, sizeof list - k, "%s'%.*s'", k ? ", " : "",
                                      (int)(len > 4 && !strcmp(m + len - 4, ".npy") ? len - 4 : len), m);
        }
        if (k >= sizeof list - 1)
            memcpy(list + sizeof list - 4, "...", 4);
        return gs_error(GS_ERR_DATA, "NPZ file '%s' has no array '%s'%s%s%s; it holds %s", path, name,
                        alt ? " (nor '" : "", alt ? alt : "", alt ? "')" : "", k ? list : "no arrays");
    }
    snprintf(a->label, sizeof a->label, "NPZ file '%s', array '%s'", path, *used);
    zip_stat_t sb;
    zip_stat_init(&sb);
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &sb) == 0 && (sb.valid & ZIP_STAT_SIZE))
        a->stored_bytes = sb.size;
    if (!(a->zf = zip_fopen_index(za, (zip_uint64_t)idx, 0)))
        return npy_error(a, "cannot open the member: %s", zip_strerror(za));
    return npy_read_header(a);
}

int data_convert_npz(const char *npz, const char *out_h5, const char *x_name, const char *y_name,
                     data_convert_info *info)
{
    int zerr = 0;
    zip_t *za = zip_open(npz, ZIP_RDONLY, &zerr);
    if (!za) {
        zip_error_t e;
        zip_error_init_with_code(&e, zerr);
        int st = gs_error(GS_ERR_DATA, "cannot open NPZ file '%s': %s", npz, zip_error_strerror(&e));
        zip_error_fini(&e);
        return st;
    }
    npy_array x, y;
    memset(&y, 0, sizeof y);
    const char *xu = NULL, *yu = NULL;
    int st = npz_open_member(&x, za, npz, x_name ? x_name : "X", x_name ? NULL : "x", &xu);
    if (!st)
        st = npz_open_member(&y, za, npz, y_name ? y_name : "y", y_name ? NULL : "Y", &yu);
    const char *attrs[] = {"source", npz, "x_array", xu, "y_array", yu, NULL};
    if (!st)
        st = convert_arrays(&x, &y, out_h5, attrs, info);
    npy_close(&x);
    npy_close(&y);
    zip_discard(za);
    return st;
}
