/*
 * convert_csv.c — a CSV file to the HDF5 input layout (convert.h), parsed by
 * libcsv (RFC 4180, strict quoting) in two passes over the file:
 *   1. survey: the columns (from the first record), every record's field
 *      count, N, and what the labels are: all integers, numbers that are not
 *      all integers, or names (whose sorted set numbers the classes);
 *   2. write: the same parse again, each feature checked to be a finite
 *      float32 and each row converted into a chunk of rows of X [rows, D]
 *      and y [rows], written a chunk at a time.
 * Memory is one chunk of rows, the first record (at most CSV_MAX_FIRST
 * bytes) and the class names (bounded in convert_classes.h), with no field
 * longer than CSV_MAX_FIELD
 * bytes: bounds that do not grow with the number of rows. A failure on the
 * write pass leaves no output (convert_out.h).
 *
 * Lines are physical lines counted from 1 (a line break inside quotes starts
 * a new one); columns are counted from 0, as --label counts them.
 */
#include "gradscope/common.h"
#include "gradscope/convert.h"
#include "convert_classes.h"
#include "convert_out.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_MAX_FIELD ((size_t)1 << 20)    /* bytes in one field */
#define CSV_MAX_FIRST ((size_t)64 << 20)   /* bytes in the first record (the header) */
#define CSV_READ_BYTES ((size_t)1 << 16)   /* bytes per fread */
#define INT_EXACT 9007199254740992.0       /* 2^53: larger doubles are not all integers */

typedef enum { LABEL_INT, LABEL_FLOAT, LABEL_NAME } label_kind;

/* What the survey found; the write pass relies on it. */
typedef struct {
    uint64_t ncol, label; /* columns, and which is the label */
    uint64_t n_rows;
    int any_name, any_float;
    uint64_t name_line;   /* the first label that is not a number: line and text */
    char name_text[64];
    uint64_t bad_target_line; /* the first numeric label outside float32 (inf, nan, 1e39) */
    char bad_target_text[64];
    label_kind kind;
    convert_classes classes;
} csv_survey;

typedef struct {
    const char *path;
    const data_csv_options *opt;
    int write;            /* 0: the survey pass, 1: the write pass */
    int st;               /* the first error; the parse stops there */
    csv_survey sv;
    /* where the parser is */
    uint64_t line;        /* the physical line being parsed */
    uint64_t record_line; /* the line on which the current record starts */
    int between;          /* 1: no byte of the next record seen yet */
    uint64_t col;         /* fields of the current record so far */
    uint64_t row;         /* data rows completed */
    /* the first record, kept whole: NUL-terminated fields, one after the other */
    int have_first;
    char *first;
    size_t first_len, first_cap;
    uint64_t *first_off;  /* [first_n] where each field starts in `first` */
    uint64_t first_n, first_off_cap;
    uint64_t first_line;
    /* the rows being written (write pass) */
    convert_out *out;
    uint64_t chunk_rows, in_chunk;
    float *X;             /* (chunk_rows, D) */
    int64_t *y_int;       /* (chunk_rows) for LABEL_INT */
    float *y_float;       /* (chunk_rows) for LABEL_FLOAT */
    int32_t *y_cls;       /* (chunk_rows) for LABEL_NAME */
} csv_job;

/* ---- messages ----------------------------------------------------------- */

/* A cell's text for a message, in buf (n bytes): cut to n - 4 bytes and
 * "...", line breaks and other control characters shown as '?', so that the
 * message stays one line. */
static const char *shown(const char *s, size_t len, char *buf, size_t n)
{
    size_t k = 0, max = n - 4;
    for (size_t i = 0; i < len && k < max; i++)
        buf[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (len > max)
        buf[k++] = '.', buf[k++] = '.', buf[k++] = '.';
    buf[k] = '\0';
    return buf;
}

static const char *header_name(const csv_job *job, uint64_t col)
{
    return job->opt->no_header || col >= job->first_n ? NULL : job->first + job->first_off[col];
}

/* "CSV file 'P' line L, column C ("name"): DETAIL"; returns GS_ERR_DATA. */
static int cell_error(csv_job *job, uint64_t line, uint64_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cell_error(csv_job *job, uint64_t line, uint64_t col, const char *fmt, ...)
{
    char detail[512], name[64] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *h = header_name(job, col);
    if (h) {
        char buf[48];
        snprintf(name, sizeof name, " (\"%s\")", shown(h, strlen(h), buf, sizeof buf));
    }
    return job->st = gs_error(GS_ERR_DATA, "CSV file '%s' line %llu, column %llu%s: %s", job->path,
                              (unsigned long long)line, (unsigned long long)col, name, detail);
}

/* ---- numbers ------------------------------------------------------------ */

/* The number that is the whole cell (strtod's syntax), spaces around it
 * allowed as Python's float() allows them (libcsv trims only unquoted
 * fields); 0 when the cell is empty or holds anything else. The cell is
 * NUL-terminated. */
static int cell_number(const char *s, size_t len, double *v)
{
    char *end;
    if (len == 0)
        return 0;
    *v = strtod(s, &end);
    if (end == s)
        return 0;
    while (end < s + len && (*end == ' ' || *end == '\t'))
        end++;
    return end == s + len;
}

/* The integer that is the whole cell: decimal digits that fit int64, or a
 * number with an integer value below 2^53 in magnitude ("3.0", "1e2"). */
static int cell_integer(const char *s, size_t len, double v, int64_t *out)
{
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (end != s && end == s + len && errno == 0) {
        *out = i;
        return 1;
    }
    if (isfinite(v) && v == trunc(v) && fabs(v) < INT_EXACT) {
        *out = (int64_t)v;
        return 1;
    }
    return 0;
}

/* ---- one row ------------------------------------------------------------ */

/* Features are parsed on the write pass only: the survey needs none of
 * their values, and a bad one fails the write pass as it would the survey. */
static int feature_cell(csv_job *job, uint64_t col, const char *s, size_t len)
{
    char buf[48];
    double v;
    if (!job->write)
        return 0;
    if (!cell_number(s, len, &v))
        return len ? cell_error(job, job->line, col, "\"%s\" is not a number", shown(s, len, buf, sizeof buf))
                   : cell_error(job, job->line, col, "empty cell; every feature must be a number");
    float f = (float)v;
    if (!isfinite(f))
        return cell_error(job, job->line, col, "\"%s\" is not a finite float32 (training refuses NaN and Inf)",
                          shown(s, len, buf, sizeof buf));
    job->X[job->in_chunk * (job->sv.ncol - 1) + (col < job->sv.label ? col : col - 1)] = f;
    return 0;
}

static int label_cell(csv_job *job, const char *s, size_t len)
{
    csv_survey *sv = &job->sv;
    double v = 0;
    int is_number = cell_number(s, len, &v);
    int64_t i = 0;
    if (!job->write) {
        if (!is_number && !sv->any_name) {
            sv->any_name = 1;
            sv->name_line = job->line;
            shown(s, len, sv->name_text, sizeof sv->name_text);
        }
        if (is_number && !cell_integer(s, len, v, &i)) {
            sv->any_float = 1;
            if (!isfinite((float)v) && !sv->bad_target_line) {
                sv->bad_target_line = job->line;
                shown(s, len, sv->bad_target_text, sizeof sv->bad_target_text);
            }
        }
        int st = convert_classes_add(&sv->classes, s, len);
        return st ? (job->st = st) : 0;
    }
    const uint64_t r = job->in_chunk;
    if (sv->kind == LABEL_NAME) {
        int32_t cls = convert_classes_find(&sv->classes, s);
        if (cls < 0)
            return cell_error(job, job->line, sv->label, "a label the first pass did not see: "
                              "the file changed while it was being converted");
        job->y_cls[r] = cls;
    } else if (!is_number || (sv->kind == LABEL_INT && !cell_integer(s, len, v, &i))) {
        return cell_error(job, job->line, sv->label, "the label changed while the file was being converted");
    } else if (sv->kind == LABEL_INT) {
        job->y_int[r] = i;
    } else {
        job->y_float[r] = (float)v;
    }
    return 0;
}

static int flush_rows(csv_job *job)
{
    const uint64_t n = job->in_chunk, lo = job->row - n;
    const csv_survey *sv = &job->sv;
    int st = n ? convert_out_write(job->out, CONVERT_X, H5T_NATIVE_FLOAT, lo, n, job->X) : 0;
    if (!st && n)
        st = sv->kind == LABEL_INT   ? convert_out_write(job->out, CONVERT_Y, H5T_NATIVE_INT64, lo, n, job->y_int)
             : sv->kind == LABEL_NAME ? convert_out_write(job->out, CONVERT_Y, H5T_NATIVE_INT32, lo, n, job->y_cls)
                                      : convert_out_write(job->out, CONVERT_Y, H5T_NATIVE_FLOAT, lo, n, job->y_float);
    job->in_chunk = 0;
    return st ? (job->st = st) : 0;
}

/* A cell of a data row (after the first record fixed the columns). */
static int data_cell(csv_job *job, uint64_t col, const char *s, size_t len)
{
    if (col == 0 && job->write && job->row == job->sv.n_rows)
        return cell_error(job, job->line, col, "more rows than the first pass counted (%llu): "
                          "the file changed while it was being converted", (unsigned long long)job->sv.n_rows);
    if (col >= job->sv.ncol)
        return 0; /* counted; the row's end reports it */
    return col == job->sv.label ? label_cell(job, s, len) : feature_cell(job, col, s, len);
}

static int data_row_end(csv_job *job)
{
    const uint64_t n = job->col, want = job->sv.ncol;
    if (n != want)
        return cell_error(job, job->record_line, n < want ? n : want, "a ragged row: %llu field%s where line %llu "
                          "has %llu", (unsigned long long)n, n == 1 ? "" : "s", (unsigned long long)job->first_line,
                          (unsigned long long)want);
    job->row++;
    if (job->write && ++job->in_chunk == job->chunk_rows)
        return flush_rows(job);
    return 0;
}

/* ---- the first record: the columns -------------------------------------- */

static int first_keep(csv_job *job, const char *s, size_t len)
{
    if (job->first_len + len + 1 > CSV_MAX_FIRST)
        return job->st = gs_error(GS_ERR_DATA, "CSV file '%s' line %llu: the first record is longer than %zu MiB",
                                  job->path, (unsigned long long)job->line, CSV_MAX_FIRST >> 20);
    if (job->first_len + len + 1 > job->first_cap) {
        size_t cap = 2 * (job->first_len + len + 1);
        char *p = gs_malloc(cap, 1, "the first CSV record");
        if (!p)
            return job->st = GS_ERR_RUNTIME;
        if (job->first_len)
            memcpy(p, job->first, job->first_len);
        free(job->first);
        job->first = p;
        job->first_cap = cap;
    }
    if (job->first_n == job->first_off_cap) {
        uint64_t cap = job->first_off_cap ? 2 * job->first_off_cap : 64;
        uint64_t *p = gs_malloc(cap, sizeof *p, "the first CSV record");
        if (!p)
            return job->st = GS_ERR_RUNTIME;
        if (job->first_n)
            memcpy(p, job->first_off, job->first_n * sizeof *p);
        free(job->first_off);
        job->first_off = p;
        job->first_off_cap = cap;
    }
    job->first_off[job->first_n++] = job->first_len;
    memcpy(job->first + job->first_len, s, len);
    job->first[job->first_len + len] = '\0';
    job->first_len += len + 1;
    return 0;
}

/* The header's names, joined for a message. */
static const char *column_list(const csv_job *job, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (uint64_t c = 0; c < job->first_n && k + 8 < n; c++) {
        char one[48];
        const char *h = job->first + job->first_off[c];
        k += (size_t)snprintf(buf + k, n - k, "%s\"%s\"", c ? ", " : "", shown(h, strlen(h), one, sizeof one));
    }
    if (k >= n - 1)
        memcpy(buf + n - 4, "...", 4);
    return buf;
}

static int resolve_label(csv_job *job)
{
    const char *spec = job->opt->label, *path = job->path;
    const uint64_t ncol = job->sv.ncol;
    if (!spec) {
        job->sv.label = ncol - 1;
        return 0;
    }
    if (!job->opt->no_header) {
        uint64_t found = 0, at = 0;
        for (uint64_t c = 0; c < ncol; c++)
            if (!strcmp(job->first + job->first_off[c], spec) && found++ == 0)
                at = c;
        if (found > 1)
            return job->st = gs_error(GS_ERR_DATA, "CSV file '%s' line %llu: %llu columns are named \"%s\"; "
                                      "give the label column's index instead", path,
                                      (unsigned long long)job->first_line, (unsigned long long)found, spec);
        if (found) {
            job->sv.label = at;
            return 0;
        }
    }
    char *end;
    errno = 0;
    unsigned long long idx = spec[0] >= '0' && spec[0] <= '9' ? strtoull(spec, &end, 10) : 0;
    if (spec[0] >= '0' && spec[0] <= '9' && *end == '\0' && errno == 0) {
        if (idx < ncol) {
            job->sv.label = idx;
            return 0;
        }
        return job->st = gs_error(GS_ERR_DATA, "CSV file '%s': label column %llu does not exist: line %llu has "
                                  "%llu columns (0 to %llu)", path, idx, (unsigned long long)job->first_line,
                                  (unsigned long long)ncol, (unsigned long long)ncol - 1);
    }
    char list[256];
    if (job->opt->no_header)
        return job->st = gs_error(GS_ERR_DATA, "CSV file '%s': no label column \"%s\": with --no-header the "
                                  "columns have only indices (0 to %llu)", path, spec, (unsigned long long)ncol - 1);
    return job->st = gs_error(GS_ERR_DATA, "CSV file '%s' line %llu: no column named \"%s\"; the header has %s",
                              path, (unsigned long long)job->first_line, spec, column_list(job, list, sizeof list));
}

/* The first record ended: it fixes the columns and the label column; without
 * a header it is also the first data row. */
static int first_end(csv_job *job)
{
    job->have_first = 1;
    job->first_line = job->record_line;
    job->sv.ncol = job->first_n;
    if (job->sv.ncol < 2)
        return job->st = gs_error(GS_ERR_DATA, "CSV file '%s' line %llu: one column; a CSV to convert needs "
                                  "features and a label (is the delimiter '%s'? see --delimiter)", job->path,
                                  (unsigned long long)job->first_line, job->opt->delimiter == '\t' ? "\\t"
                                  : (char[2]){job->opt->delimiter, '\0'});
    if (resolve_label(job) || !job->opt->no_header)
        return job->st;
    for (uint64_t c = 0; c < job->first_n && !job->st; c++) {
        const char *s = job->first + job->first_off[c];
        data_cell(job, c, s, strlen(s));
    }
    return job->st ? job->st : data_row_end(job);
}

/* ---- libcsv's callbacks ------------------------------------------------- */

static void on_field(void *s, size_t len, void *data)
{
    csv_job *job = data;
    if (job->st)
        return;
    if (job->have_first)
        data_cell(job, job->col, s, len);
    else
        first_keep(job, s, len);
    job->col++;
}

static void on_record(int c, void *data)
{
    (void)c;
    csv_job *job = data;
    if (job->st)
        return;
    if (job->have_first)
        data_row_end(job);
    else
        first_end(job);
    job->between = 1;
    job->col = 0;
}

/* libcsv grows a field's buffer with this: refusing past CSV_MAX_FIELD
 * bounds the memory a field (an unclosed quote, say) can take. */
static void *field_realloc(void *p, size_t n)
{
    return n > CSV_MAX_FIELD + 1 ? NULL : realloc(p, n);
}

/* ---- a pass over the file ----------------------------------------------- */

static int parse_error(csv_job *job, struct csv_parser *p)
{
    if (csv_error(p) == CSV_EPARSE)
        return cell_error(job, job->line, job->col, "a '\"' inside an unquoted field, or text after a closing quote "
                          "(RFC 4180: quote the whole field and double the quotes inside it)");
    if (csv_get_buffer_size(p) + 4096 > CSV_MAX_FIELD)
        return cell_error(job, job->line, job->col, "a field longer than %zu MiB (an unclosed quote?)",
                          CSV_MAX_FIELD >> 20);
    return job->st = gs_error(GS_ERR_RUNTIME, "CSV file '%s' line %llu: out of memory in the CSV parser",
                              job->path, (unsigned long long)job->line);
}

/* One pass: parse the whole file, feeding libcsv a physical line at a time
 * so that every callback knows the line it is on. */
static int csv_pass(csv_job *job)
{
    job->line = 1;
    job->record_line = job->col = job->row = 0;
    job->between = 1;
    job->have_first = 0;
    job->first_len = job->first_n = 0;
    FILE *f = fopen(job->path, "rb");
    if (!f)
        return job->st = gs_error(GS_ERR_DATA, "cannot open CSV file '%s': %s", job->path, strerror(errno));
    unsigned char *buf = gs_malloc(CSV_READ_BYTES, 1, "CSV read buffer");
    struct csv_parser p;
    if (!buf || csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(f);
        free(buf);
        return job->st = gs_last_status();
    }
    csv_set_delim(&p, (unsigned char)job->opt->delimiter);
    csv_set_realloc_func(&p, field_realloc);
    csv_set_blk_size(&p, 4096);
    size_t got;
    int start = 1;
    while (!job->st && (got = fread(buf, 1, CSV_READ_BYTES, f)) > 0) {
        size_t pos = 0;
        if (start && got >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
            pos = 3; /* a UTF-8 byte-order mark, as spreadsheets write */
        start = 0;
        while (pos < got && !job->st) {
            unsigned char *nl = memchr(buf + pos, '\n', got - pos);
            size_t seg = nl ? (size_t)(nl - (buf + pos)) + 1 : got - pos;
            for (size_t i = pos; job->between && i < pos + seg; i++)
                if (buf[i] == (unsigned char)job->opt->delimiter || !strchr(" \t\r\n", buf[i])) {
                    /* the record's first byte: libcsv skips blank lines and leading blanks */
                    job->between = 0;
                    job->record_line = job->line;
                }
            if (csv_parse(&p, buf + pos, seg, on_field, on_record, job) != seg && !job->st)
                parse_error(job, &p);
            pos += seg;
            job->line += nl != NULL;
        }
    }
    if (!job->st && ferror(f))
        job->st = gs_error(GS_ERR_DATA, "cannot read CSV file '%s': %s", job->path, strerror(errno));
    if (!job->st && csv_fini(&p, on_field, on_record, job) != 0 && !job->st)
        cell_error(job, job->record_line, job->col, "a quoted field is never closed: the file ends inside it");
    csv_free(&p);
    free(buf);
    fclose(f);
    return job->st;
}

/* ---- the survey's verdict ----------------------------------------------- */

static int survey_verdict(csv_job *job)
{
    csv_survey *sv = &job->sv;
    if (!job->have_first)
        return job->st = gs_error(GS_ERR_DATA, "CSV file '%s' is empty", job->path);
    if (job->row == 0)
        return job->st = gs_error(GS_ERR_DATA, "CSV file '%s' has a header line but no data rows%s", job->path,
                                  job->opt->no_header ? "" : " (use --no-header if line 1 is data)");
    sv->n_rows = job->row;
    if (sv->any_name) {
        sv->kind = LABEL_NAME;
        if (sv->classes.full)
            return job->st = gs_error(GS_ERR_DATA, "CSV file '%s', label column %llu: more than %d distinct labels "
                                      "(they are names, not numbers, since line %llu has \"%s\"); is it the "
                                      "right column (--label)?", job->path, (unsigned long long)sv->label,
                                      CLASS_MAX_NAMES, (unsigned long long)sv->name_line, sv->name_text);
    } else if (sv->any_float) {
        sv->kind = LABEL_FLOAT;
        if (sv->bad_target_line)
            return cell_error(job, sv->bad_target_line, sv->label, "the target \"%s\" is not a finite float32",
                              sv->bad_target_text);
    } else {
        sv->kind = LABEL_INT;
    }
    return 0;
}

/* ---- the conversion ----------------------------------------------------- */

/* Create the datasets and attributes, then the write pass. */
static int write_output(csv_job *job, convert_out *out, data_convert_info *info)
{
    csv_survey *sv = &job->sv;
    const uint64_t N = sv->n_rows, D = sv->ncol - 1;
    char **names = NULL;
    char label_desc[64];
    const char *h = header_name(job, sv->label);
    if (h)
        snprintf(label_desc, sizeof label_desc, "%s", h);
    else
        snprintf(label_desc, sizeof label_desc, "%llu", (unsigned long long)sv->label);
    job->out = out;
    job->chunk_rows = convert_rows_per_chunk(D * sizeof(float), N);
    int st = 0;
    if (!(job->X = gs_malloc(job->chunk_rows * D, sizeof(float), "CSV rows"))
        || (sv->kind == LABEL_INT && !(job->y_int = gs_malloc(job->chunk_rows, sizeof(int64_t), "CSV labels")))
        || (sv->kind == LABEL_FLOAT && !(job->y_float = gs_malloc(job->chunk_rows, sizeof(float), "CSV targets")))
        || (sv->kind == LABEL_NAME && !(job->y_cls = gs_malloc(job->chunk_rows, sizeof(int32_t), "CSV labels"))))
        return GS_ERR_RUNTIME;
    hid_t y_type = sv->kind == LABEL_INT ? H5T_STD_I64LE : sv->kind == LABEL_NAME ? H5T_STD_I32LE : H5T_IEEE_F32LE;
    if ((st = convert_out_create(out, CONVERT_X, H5T_IEEE_F32LE, N, D, 2))
        || (st = convert_out_create(out, CONVERT_Y, y_type, N, 1, sv->kind == LABEL_FLOAT ? 2 : 1))
        || (st = convert_out_attr(out, -1, "format", "gradscope-input"))
        || (st = convert_out_attr(out, -1, "source", job->path))
        || (st = convert_out_attr(out, -1, "label_column", label_desc)))
        return st;
    if (sv->kind == LABEL_NAME) {
        if ((st = convert_classes_number(&sv->classes, &names)))
            return st;
        st = convert_out_attr_list(out, CONVERT_Y, "classes", (const char *const *)names, sv->classes.n);
        free(names);
        if (st)
            return st;
    }
    job->write = 1;
    if ((st = csv_pass(job)) || (st = flush_rows(job)))
        return st;
    if (job->row != N)
        return gs_error(GS_ERR_DATA, "CSV file '%s': %llu rows on the second pass, %llu on the first: the file "
                        "changed while it was being converted", job->path, (unsigned long long)job->row,
                        (unsigned long long)N);
    if (info) {
        memset(info, 0, sizeof *info);
        info->n_rows = N;
        info->dim = D;
        info->y_width = 1;
        info->y_ndims = sv->kind == LABEL_FLOAT ? 2 : 1;
        info->n_classes = sv->kind == LABEL_NAME ? sv->classes.n : 0;
        snprintf(info->x_type, sizeof info->x_type, "float32");
        snprintf(info->y_type, sizeof info->y_type, "%s",
                 sv->kind == LABEL_INT ? "int64" : sv->kind == LABEL_NAME ? "int32" : "float32");
    }
    return 0;
}

int data_convert_csv(const char *in_csv, const char *out_h5, const data_csv_options *opt, data_convert_info *info)
{
    data_csv_options o = {.label = NULL, .no_header = 0, .delimiter = ','};
    if (opt)
        o = *opt;
    if (!o.delimiter)
        o.delimiter = ',';
    csv_job job = {.path = in_csv, .opt = &o};
    int st = csv_pass(&job);
    if (!st)
        st = survey_verdict(&job);
    if (!st) {
        convert_out out;
        st = convert_out_open(&out, out_h5);
        if (!st)
            st = write_output(&job, &out, info);
        st = convert_out_finish(&out, st);
    }
    convert_classes_free(&job.sv.classes);
    free(job.first);
    free(job.first_off);
    free(job.X);
    free(job.y_int);
    free(job.y_float);
    free(job.y_cls);
    return st;
}
