/*
 * cmd_convert.c — `gradscope convert FORMAT ...`: the command line of the
 * converters in convert.h. --help prints usage to stdout and exits 0; a
 * wrong call prints what was wrong and the usage to stderr and exits 2; a
 * failed conversion prints its one-line message and exits with its status
 * (3 for bad data).
 */
#include "gradscope/commands.h"
#include "gradscope/common.h"
#include "gradscope/convert.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *name;
    const char *synopsis; /* after "gradscope convert " */
    const char *details;  /* the options, and what is written */
} convert_format;

enum { FMT_IDX, FMT_CSV, FMT_NPY, FMT_NPZ, N_FORMATS };

static const convert_format formats[N_FORMATS] = {
    {"idx", "idx IMAGES LABELS OUT.h5",
     "  MNIST-style IDX files, gzip'd or not: /X uint8 [N, rows*cols], /y uint8 [N].\n"},
    {"csv", "csv IN.csv OUT.h5 [--label COLUMN] [--no-header] [--delimiter C]",
     "  --label COLUMN  the label column: a header name or a 0-based index (default: the last column)\n"
     "  --no-header     line 1 is data, not column names\n"
     "  --delimiter C   the field separator, one character (default ','; 'tab' for a tab)\n"
     "  Every other column is a float32 feature. Integer labels are written as they are (int64),\n"
     "  other numbers as float32 targets [N, 1], anything else as classes numbered in sorted\n"
     "  order, their names in /y's attribute 'classes'. Fields may be quoted (RFC 4180).\n"},
    {"npy", "npy X.npy Y.npy OUT.h5",
     "  X [N, ...] becomes /X [N, D] (uint8 stays uint8, other dtypes become float32); Y [N] or\n"
     "  [N, K]: integers stay integers, floats become float32 targets.\n"},
    {"npz", "npz FILE.npz OUT.h5 [--x NAME] [--y NAME]",
     "  --x NAME        the array of inputs (default X, else x)\n"
     "  --y NAME        the array of labels or targets (default y, else Y)\n"
     "  The arrays are converted as by `convert npy`.\n"},
};

static void usage(FILE *f, const convert_format *one)
{
    if (one)
        fprintf(f, "usage: gradscope convert %s\n", one->synopsis);
    else
        for (int i = 0; i < N_FORMATS; i++)
            fprintf(f, "%s  gradscope convert %s\n", i ? "" : "usage:\n", formats[i].synopsis);
    fprintf(f, "\nWrites OUT.h5 in gradscope's input layout (/X [N, D]; /y [N] labels or [N, K] targets),\n"
               "reading the input in chunks of rows; on failure no OUT.h5 is left. Exit status: 0, 2 for\n"
               "a wrong call, 3 for bad input (one line naming the file and where).\n");
    for (int i = 0; i < N_FORMATS; i++)
        if (one == &formats[i])
            fprintf(f, "\n%s", formats[i].details);
    fprintf(f, "\nDetails: docs/data.md\n");
}

static int wrong_call(const convert_format *fmt, const char *fmt_msg, const char *arg)
{
    fprintf(stderr, "gradscope convert%s%s: ", fmt ? " " : "", fmt ? fmt->name : "");
    fprintf(stderr, fmt_msg, arg);
    fprintf(stderr, "\n\n");
    usage(stderr, fmt);
    return GS_ERR_USAGE;
}

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* The delimiter argument: one character, or "tab" / "\t". */
static int parse_delimiter(const char *s, char *out)
{
    if (!strcmp(s, "tab") || !strcmp(s, "\\t"))
        *out = '\t';
    else if (strlen(s) == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r')
        *out = s[0];
    else
        return -1;
    return 0;
}

static void print_summary(const char *out, const data_convert_info *in)
{
    printf("wrote %s: N = %llu rows; /X %s [%llu, %llu]; /y %s [%llu", out, (unsigned long long)in->n_rows,
           in->x_type, (unsigned long long)in->n_rows, (unsigned long long)in->dim, in->y_type,
           (unsigned long long)in->n_rows);
    if (in->y_ndims == 2)
        printf(", %llu", (unsigned long long)in->y_width);
    printf("]");
    if (in->n_classes)
        printf(", %llu classes named in /y's attribute 'classes'", (unsigned long long)in->n_classes);
    printf("\n");
}

int cmd_convert(int argc, char **argv)
{
    if (argc == 0)
        return wrong_call(NULL, "%s", "no format given");
    if (argc == 1 && is_help(argv[0])) {
        usage(stdout, NULL);
        return 0;
    }
    const convert_format *fmt = NULL;
    for (int i = 0; i < N_FORMATS; i++)
        if (!strcmp(argv[0], formats[i].name))
            fmt = &formats[i];
    if (!fmt)
        return wrong_call(NULL, "unknown format '%s' (idx, csv, npy or npz)", argv[0]);

    const char *pos[4];
    int n_pos = 0;
    data_csv_options csv = {.label = NULL, .no_header = 0, .delimiter = ','};
    const char *x_name = NULL, *y_name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int csv_fmt = fmt == &formats[FMT_CSV], npz_fmt = fmt == &formats[FMT_NPZ];
        if (is_help(a)) {
            usage(stdout, fmt);
            return 0;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (n_pos == 4)
                return wrong_call(fmt, "unexpected argument '%s'", a);
            pos[n_pos++] = a;
        } else if (csv_fmt && !strcmp(a, "--no-header")) {
            csv.no_header = 1;
        } else if ((csv_fmt && (!strcmp(a, "--label") || !strcmp(a, "--delimiter")))
                   || (npz_fmt && (!strcmp(a, "--x") || !strcmp(a, "--y")))) {
            if (i + 1 == argc)
                return wrong_call(fmt, "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--label"))
                csv.label = v;
            else if (!strcmp(a, "--x"))
                x_name = v;
            else if (!strcmp(a, "--y"))
                y_name = v;
            else if (parse_delimiter(v, &csv.delimiter))
                return wrong_call(fmt, "--delimiter '%s': give one character other than '\"' or a line break, "
                                  "or 'tab'", v);
        } else {
            return wrong_call(fmt, "unknown option '%s'", a);
        }
    }
    const int want = fmt == &formats[FMT_IDX] || fmt == &formats[FMT_NPY] ? 3 : 2;
    if (n_pos != want) {
        char got[64];
        snprintf(got, sizeof got, "%d file%s given, expected %d", n_pos, n_pos == 1 ? "" : "s", want);
        return wrong_call(fmt, "%s", got);
    }
    const char *out = pos[want - 1];
    struct stat so, si;
    for (int i = 0; i < want - 1; i++)
        if (stat(out, &so) == 0 && stat(pos[i], &si) == 0 && so.st_dev == si.st_dev && so.st_ino == si.st_ino)
            return wrong_call(fmt, "the output '%s' is an input: it would be replaced", out);
    data_convert_info info;
    int rc;
    if (fmt == &formats[FMT_IDX])
        rc = data_convert_idx(pos[0], pos[1], out);
    else if (fmt == &formats[FMT_CSV])
        rc = data_convert_csv(pos[0], out, &csv, &info);
    else if (fmt == &formats[FMT_NPY])
        rc = data_convert_npy(pos[0], pos[1], out, &info);
    else
        rc = data_convert_npz(pos[0], out, x_name, y_name, &info);
    if (rc)
        fprintf(stderr, "gradscope convert: %s\n", gs_last_error());
    else if (fmt == &formats[FMT_IDX])
        printf("wrote %s\n", out);
    else
        print_summary(out, &info);
    return rc;
}
