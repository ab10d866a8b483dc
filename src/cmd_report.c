/*
 * cmd_report.c — `gradscope report RUN_DIR|CHECKPOINT [-o report.html]`:
 * runs jobs/report.py, which draws the run's charts with matplotlib into one
 * self-contained HTML file (docs/report.md). This file only finds the
 * interpreter and the script and replaces itself with them; the script
 * parses the arguments, and gets this binary's path (--gradscope) to run
 * `gradscope doctor` with.
 *
 * The script: from the build tree's binary, the source tree's jobs/report.py
 * (GS_REPORT_SOURCE_SCRIPT); from anywhere else, the installed copy at
 * GS_REPORT_INSTALL_REL from the binary's directory (`cmake --install` puts
 * it in share/gradscope), so an installation never runs a source tree's
 * script and stays relocatable. The interpreter: $GRADSCOPE_PYTHON, else
 * /usr/bin/python3 (Debian's, which has h5py, numpy and matplotlib).
 * Exit: the script's; 1 when the interpreter or the script is missing.
 */
#include "gradscope/commands.h"
#include "gradscope/common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GS_REPORT_SOURCE_SCRIPT
#error "GS_REPORT_SOURCE_SCRIPT, GS_REPORT_BUILD_DIR and GS_REPORT_INSTALL_REL come from CMakeLists.txt"
#endif

#define DEFAULT_PYTHON "/usr/bin/python3"

/* This binary's directory, resolved (no symlinks); 0 on success. */
static int self_dir(char *exe, size_t n_exe, char *dir, size_t n_dir)
{
    ssize_t len = readlink("/proc/self/exe", exe, n_exe - 1);
    if (len <= 0 || (size_t)len >= n_exe - 1)
        return -1;
    exe[len] = '\0';
    snprintf(dir, n_dir, "%s", exe);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

int cmd_report(int argc, char **argv)
{
    static char exe[PATH_MAX], dir[PATH_MAX], build[PATH_MAX], script[PATH_MAX + 64];
    if (self_dir(exe, sizeof exe, dir, sizeof dir) != 0) {
        fprintf(stderr, "gradscope report: cannot find this program's own path (/proc/self/exe): %s\n",
                strerror(errno));
        return GS_ERR_RUNTIME;
    }
    if (realpath(GS_REPORT_BUILD_DIR, build) && !strcmp(build, dir))
        snprintf(script, sizeof script, "%s", GS_REPORT_SOURCE_SCRIPT);
    else
        snprintf(script, sizeof script, "%s/%s/report.py", dir, GS_REPORT_INSTALL_REL);
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "gradscope report: the report script %s is missing (%s); it is installed with the "
                        "program by cmake --install\n", script, strerror(errno));
        return GS_ERR_RUNTIME;
    }
    const char *python = getenv("GRADSCOPE_PYTHON");
    const int from_env = python && *python;
    if (!from_env)
        python = DEFAULT_PYTHON;

    /* python script --gradscope EXE ARGS... NULL; a --gradscope among
     * ARGS comes later and wins */
    char **args = calloc((size_t)argc + 5, sizeof *args);
    if (!args) {
        fprintf(stderr, "gradscope report: out of memory\n");
        return GS_ERR_RUNTIME;
    }
    args[0] = (char *)python;
    args[1] = script;
    args[2] = "--gradscope";
    args[3] = exe;
    for (int i = 0; i < argc; i++)
        args[4 + i] = argv[i];
    fflush(NULL);
    if (strchr(python, '/'))
        execv(python, args);
    else
        execvp(python, args);
    fprintf(stderr, "gradscope report: cannot run the Python interpreter %s%s: %s (a python3 with h5py, numpy "
                    "and matplotlib: Debian's python3-h5py python3-numpy python3-matplotlib; GRADSCOPE_PYTHON "
                    "names another)\n", python, from_env ? " (from GRADSCOPE_PYTHON)" : "",
            strerror(errno));
    free(args);
    return GS_ERR_RUNTIME;
}
