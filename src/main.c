/*
 * main.c — the `gradscope` command: picks the subcommand, and before
 * anything else makes sure OpenBLAS runs its fast kernel on CPUs that the
 * loaded OpenBLAS does not recognise (gs_blas_choose_kernel).
 */
#include "gradscope/blas.h"
#include "gradscope/commands.h"
#include "gradscope/common.h"
#include "gradscope/config.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "gradscope %s — deep MLP training that shows what initialization does to gradients\n\n"
               "usage:\n"
               "  gradscope train CONFIG [--set section.key=value]... [--resume PATH|auto] [--overwrite]\n"
               "  gradscope eval CHECKPOINT|RUN_DIR DATA.h5 [--json]\n"
               "  gradscope predict CHECKPOINT|RUN_DIR DATA.h5 -o OUT.h5|OUT.csv\n"
               "  gradscope inspect CHECKPOINT|RUN_DIR [--json] [--step N]\n"
               "  gradscope doctor CHECKPOINT|RUN_DIR [--json]\n"
               "  gradscope report CHECKPOINT|RUN_DIR [-o REPORT.html]\n"
               "  gradscope watch RUN_DIR [--once] [--stale SECONDS] [--interval SECONDS]\n"
               "  gradscope convert idx IMAGES LABELS OUT.h5\n"
               "  gradscope convert csv IN.csv OUT.h5 [--label COLUMN] [--no-header] [--delimiter C]\n"
               "  gradscope convert npy X.npy Y.npy OUT.h5\n"
               "  gradscope convert npz FILE.npz OUT.h5 [--x NAME] [--y NAME]\n"
               "  gradscope config --doc | CONFIG [--set section.key=value]...\n"
               "  gradscope blas [--check]\n"
               "  gradscope --version\n\n"
               "Run under mpirun for data-parallel training: mpirun -np 4 gradscope train run.ini\n",
            GS_VERSION);
}

static int cmd_config(int argc, char **argv)
{
    if (argc == 1 && !strcmp(argv[0], "--doc")) {
        cfg_print_doc();
        return 0;
    }
    if (argc >= 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        printf("usage: gradscope config --doc | CONFIG [--set section.key=value]...\n"
               "  --doc     every key: section, name, default, allowed values, meaning (markdown)\n"
               "  CONFIG    print the effective config: the file's keys over the defaults, with the --set overrides\n");
        return 0;
    }
    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: gradscope config --doc | CONFIG [--set section.key=value]...\n");
        return GS_ERR_USAGE;
    }
    char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) {
        fprintf(stderr, "gradscope config: out of memory\n");
        return GS_ERR_RUNTIME;
    }
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if ((sets[n] = cfg_set_arg(argc, argv, &i)))
            n++;
        else {
            fprintf(stderr, "gradscope config: unexpected argument '%s'\n", argv[i]);
            free(sets);
            return GS_ERR_USAGE;
        }
    }
    static gs_config cfg;
    int rc = cfg_load(&cfg, argv[0], n, sets);
    free(sets);
    if (rc) {
        fprintf(stderr, "gradscope: config error: %s\n", gs_last_error());
        return rc;
    }
    size_t need = cfg_write_ini(&cfg, NULL, 0) + 1;
    char *text = malloc(need);
    if (!text)
        return GS_ERR_RUNTIME;
    cfg_write_ini(&cfg, text, need);
    fputs(text, stdout);
    free(text);
    return 0;
}

/* `gradscope blas [--check]`: the kernel, why it runs, and whether its
 * products are right; with --check the exit status says so (the kernel
 * matrix, jobs/test_kernels.sh, tells an OpenBLAS fault from a gradscope
 * one with it). */
static int cmd_blas(int argc, char **argv)
{
    const int check_only = argc == 1 && !strcmp(argv[0], "--check");
    const int help = argc == 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"));
    if (help || argc > 1 || (argc == 1 && !check_only)) {
        fprintf(help ? stdout : stderr, "usage: gradscope blas [--check]\n");
        return help ? 0 : GS_ERR_USAGE;
    }
    int rc = gs_blas_check();
    printf("kernel %s\nwhy    %s\nconfig %s\nthreads %d\ngemm   %s\n", gs_blas_corename(), gs_blas_kernel_reason(),
           gs_blas_config(), gs_blas_threads(), rc ? gs_last_error() : "products agree with the reference");
    return check_only && rc ? GS_ERR_RUNTIME : 0;
}

int main(int argc, char **argv)
{
    if (gs_blas_choose_kernel(argv)) {
        fprintf(stderr, "gradscope: %s\n", gs_last_error());
        return GS_ERR_RUNTIME;
    }
    /* HDF5 1.10.8 crashes in its exit handler (H5F__close_cb) on a file
     * whose H5Fclose failed, e.g. a checkpoint that hit ENOSPC or EFBIG:
     * the error was reported and the exit status chosen, so skip the
     * handler; the OS closes the files, and every good file was closed. */
    H5dont_atexit();
    if (argc < 2) {
        usage(stderr);
        return GS_ERR_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict"))
        return cmd_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 2, argv + 2);
    if (!strcmp(cmd, "convert"))
        return cmd_convert(argc - 2, argv + 2);
    if (!strcmp(cmd, "doctor"))
        return cmd_doctor(argc - 2, argv + 2);
    if (!strcmp(cmd, "report"))
        return cmd_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "watch"))
        return cmd_watch(argc - 2, argv + 2);
    if (!strcmp(cmd, "config"))
        return cmd_config(argc - 2, argv + 2);
    if (!strcmp(cmd, "blas"))
        return cmd_blas(argc - 2, argv + 2);
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("gradscope %s\n", GS_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "gradscope: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return GS_ERR_USAGE;
}
