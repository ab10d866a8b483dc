/*
 * cmd_doctor.c — `gradscope doctor CHECKPOINT|RUN_DIR [--json]`: the
 * doctor's analysis of a finished, stopped or failed run, offline.
 *
 * Everything comes from the checkpoint (the config it ran with, every
 * step's loss, accuracy and learning rate, every record's statistics and
 * verdicts, the input audit, the repairs): the doctor replays the records
 * as the run did and prints every symptom it confirms, the problem, its
 * cause and ranked remedies, and the repairs made. A run directory stands
 * for its newest valid checkpoint, or for its newest incident record
 * (nonfinite_<step>.h5) where that is newer: the state a run that stopped
 * on a non-finite step ended in. Without MPI.
 * Exit: 0; 2 usage; 4 unreadable or invalid checkpoint; 1 out of memory.
 */
#include "gradscope/ckpt.h"
#include "gradscope/commands.h"
#include "gradscope/common.h"
#include "gradscope/doctor_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] = "usage: gradscope doctor CHECKPOINT|RUN_DIR [--json]\n";

/* The file a run directory stands for: its newest valid checkpoint, or its
 * newest incident record where that is at a later step (or the only one). */
static int pick_file(const char *dir, char *path, size_t n)
{
    char ckpt[GS_PATH_MAX + 300], inc[GS_PATH_MAX + 300];
    long long inc_step = -1;
    const int have_ckpt = ckpt_find_latest(dir, ckpt, sizeof ckpt) == 0;
    const int have_inc = ckpt_find_incident(dir, inc, sizeof inc, &inc_step) == 0;
    gs_clear_error();
    if (!have_ckpt && !have_inc)
        return gs_error(GS_ERR_CKPT, "%s: no valid checkpoint or incident record in this directory", dir);
    gs_train_state st = {0};
    gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
    if (!info)
        return GS_ERR_RUNTIME;
    const int use_inc = have_inc && (!have_ckpt || ckpt_read_info(ckpt, info, NULL, &st) != 0 || inc_step >= st.step);
    free(info);
    snprintf(path, n, "%s", use_inc ? inc : ckpt);
    return 0;
}

int cmd_doctor(int argc, char **argv)
{
    const char *arg = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || arg) {
            fprintf(stderr, "gradscope doctor: unexpected argument '%s'\n%s", argv[i], usage);
            return GS_ERR_USAGE;
        } else {
            arg = argv[i];
        }
    }
    if (!arg) {
        fprintf(stderr, "gradscope doctor: no checkpoint given\n%s", usage);
        return GS_ERR_USAGE;
    }
    static char path[GS_PATH_MAX + 300];
    struct stat sb;
    int rc = 0;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode))
        rc = pick_file(arg, path, sizeof path);
    else
        snprintf(path, sizeof path, "%s", arg);

    static gs_config cfg;
    static gs_doctor doc;
    static gs_advice adv;
    gs_history h;
    memset(&h, 0, sizeof h);
    gs_train_state st;
    gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
    char *text = NULL;
    if (!rc)
        rc = info ? ckpt_verify(path) : GS_ERR_RUNTIME;
    if (!rc)
        rc = ckpt_read_info(path, info, &h, &st);
    if (!rc)
        rc = ckpt_read_config(path, &text);
    if (!rc && cfg_load_string(&cfg, text, path) != 0)
        rc = gs_error(GS_ERR_CKPT, "%s: its /config does not load: %s", path, gs_last_error());
    if (!rc && cfg_n_layers(&cfg) != info->n_layers)
        rc = gs_error(GS_ERR_CKPT, "%s: its /config makes %d layers, its model has %d", path, cfg_n_layers(&cfg),
                      info->n_layers);
    if (rc) {
        fprintf(stderr, "gradscope doctor: %s\n", gs_last_error());
        goto done;
    }
    doctor_replay(&doc, &cfg, &h);
    doctor_advise(&doc, &cfg, &h, -1, &adv);
    if (json) {
        json_t *root = doctor_report_json(&doc, &adv, &h);
        json_object_set_new(root, "file", json_string(path));
        json_object_set_new(root, "format_version", json_integer(info->format_version));
        json_object_set_new(root, "step", json_integer(st.step));
        json_object_set_new(root, "n_records", json_integer(h.n_rec));
        if (!root || json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            rc = gs_error(GS_ERR_RUNTIME, "cannot write the JSON report");
        putchar('\n');
        json_decref(root);
    } else {
        printf("file      %s (format %d)\n", path, info->format_version);
        printf("run       step %lld, %lld statistics record%s, %lld step%s of history%s\n", (long long)st.step,
               (long long)h.n_rec, h.n_rec == 1 ? "" : "s", (long long)h.n_loss, h.n_loss == 1 ? "" : "s",
               info->format_version < 4 ? "; format before 4: no accuracy, input audit or per-record verdicts "
                                          "recorded, the doctor judges without them" : "");
        doctor_print_report(stdout, &doc, &adv, &h);
    }
    if (fflush(stdout) != 0 && !rc)
        rc = GS_ERR_RUNTIME;
done:
    free(text);
    free(info);
    hist_free(&h);
    return rc;
}
