/*
 * cmd_train_doctor.c — the doctor inside `gradscope train` (cmd_train_doctor.h).
 *
 * Every rank keeps its own doctor, fed the same history (the statistics are
 * of the summed gradient and the loss of the global batch), so every rank
 * reaches the same verdicts; what repair mode does is nonetheless rank 0's
 * decision, broadcast, so that no rank can ever act alone. Rank 0 prints.
 */
#include "cmd_train_doctor.h"
#include "gradscope/ckpt.h"
#include "gradscope/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int run_doctor_start(run_doctor *rd, gs_trainer *t, const gs_config *cfg, const gs_dist *d)
{
    doctor_replay(&rd->doc, cfg, trainer_history(t));
    trainer_snapshot_free(&rd->snap);
    int rc = 0;
    if (cfg->doctor_mode == GS_DOCTOR_REPAIR) {
        rc = trainer_snapshot_alloc(t, &rd->snap);
        if (!rc) /* where the run starts (or resumes) is the first state to go back to */
            trainer_snapshot_take(t, &rd->snap);
    }
    return dist_agree(d, rc);
}

int run_doctor_record(run_doctor *rd, gs_trainer *t, const gs_config *cfg, const gs_dist *d, int *repair_now)
{
    const gs_history *h = trainer_history(t);
    const float *st;
    const int *verdict, *prev;
    trainer_diagnosis(t, &st, &verdict, &prev);
    gs_doctor *doc = &rd->doc;
    doctor_observe(doc, h, h->n_rec - 1);
    if (d->rank == 0)
        doctor_print_changes(stdout, doc, st, doc->last_step);
    if (cfg->doctor_mode == GS_DOCTOR_REPAIR && doc->clean && rd->snap.params)
        trainer_snapshot_take(t, &rd->snap);
    int repair = 0;
    if (doc->new_problem >= 0 && cfg->doctor_mode != GS_DOCTOR_OFF) {
        if (d->rank == 0) {
            doctor_advise(doc, cfg, h, doc->new_problem, &rd->advice);
            doctor_print_problem(stdout, doc, &rd->advice, doc->last_step, &rd->said);
        }
        repair = cfg->doctor_mode == GS_DOCTOR_REPAIR;
    }
    if (d->rank == 0)
        fflush(stdout);
    int rc = cfg->doctor_mode == GS_DOCTOR_REPAIR && d->size > 1 ? dist_bcast(d, &repair, 1, MPI_INT, 0) : 0;
    *repair_now = repair;
    return rc;
}

/* The remedies of the first declared problem (in priority order) that
 * has any: its symptom, with rd->advice holding them, or -1 when none has. */
static int choose(run_doctor *rd, const gs_config *cfg, const gs_history *h)
{
    for (int s = 0; s < GS_N_SYMPTOMS; s++) {
        if (!rd->doc.sym[s].problem)
            continue;
        doctor_advise(&rd->doc, cfg, h, s, &rd->advice);
        if (rd->advice.n_remedies > 0)
            return s;
    }
    return -1;
}

/* A remedy goes on from the last clean state when it changes only the
 * optimizer's settings and there is one; otherwise from the seed. */
static int rolls_back(const run_doctor *rd, const gs_remedy *r)
{
    return !doctor_remedy_reinits(r) && rd->snap.valid;
}

/* The trial of remedy r (AutoTrainer's short retraining): cfg with r
 * applied, from where the repair would start (rolls_back), for
 * [doctor] trial_steps steps (fewer where the run ends first); *loss is
 * the mean global loss of the last quarter of them, +inf where a step went
 * non-finite. The loss is the global batch's, so *loss is the same on
 * every rank. Returns 0 or an agreed failure. Collective. */
static int trial(const run_doctor *rd, const gs_config *cfg, const gs_remedy *r, const gs_history *saved,
                 const gs_dist *d, double *loss)
{
    const int64_t n = cfg->trial_steps;
    gs_config *c = gs_malloc(1, sizeof *c, "the trial's config");
    double *seen = gs_malloc((size_t)n, sizeof *seen, "the trial's losses");
    int rc = dist_agree(d, c && seen ? 0 : GS_ERR_RUNTIME);
    char *sets[GS_REMEDY_SETS];
    for (int k = 0; k < r->n_set; k++)
        sets[k] = (char *)r->set[k];
    if (!rc)
        rc = dist_agree(d, cfg_apply_sets(cfg, r->n_set, sets, c));
    gs_trainer *t = NULL;
    if (!rc)
        rc = trainer_create(&t, c, d);
    if (!rc && rolls_back(rd, r))
        rc = dist_agree(d, trainer_snapshot_restore(t, &rd->snap, saved));
    int64_t k = 0;
    int finite = 1;
    while (!rc && k < n && trainer_state(t)->step < trainer_total_steps(t)) {
        rc = trainer_step(t, 1);
        if (rc == GS_ERR_NONFINITE || (!rc && trainer_last(t)->nonfinite)) {
            rc = 0;
            finite = 0;
            break;
        }
        if (!rc)
            seen[k++] = trainer_last(t)->loss;
    }
    *loss = INFINITY;
    if (!rc && finite && k > 0) {
        const int64_t tail = k / 4 > 0 ? k / 4 : 1;
        double sum = 0.0;
        for (int64_t i = k - tail; i < k; i++)
            sum += seen[i];
        *loss = sum / (double)tail;
    }
    trainer_free(t);
    free(seen);
    free(c);
    return rc;
}

/* No repair left: the report, on rank 0. */
static void exhausted(run_doctor *rd, const gs_config *cfg, const gs_history *h, int symptom)
{
    gs_error(GS_ERR_DOCTOR, "doctor: %s at step %lld and %s", doctor_symptom_name(rd->doc.primary),
             (long long)rd->doc.last_step,
             symptom < 0 ? "no remedy left that the run has not tried or does not already use"
                         : "no repair left ([doctor] max_repairs reached)");
    fprintf(stderr, "gradscope: %s; exit %d\n", gs_last_error(), GS_ERR_DOCTOR);
    doctor_advise(&rd->doc, cfg, h, -1, &rd->advice);
    printf("doctor's report:\n");
    doctor_print_report(stdout, &rd->doc, &rd->advice, h);
    fflush(stdout);
}

int run_doctor_repair(run_doctor *rd, gs_trainer **t, gs_config *cfg, const gs_dist *d)
{
    const gs_history *h = trainer_history(*t);
    /* rank 0's candidates, for every rank: the top trial_remedies remedies */
    struct {
        int symptom, n;
        gs_remedy remedy[GS_MAX_REMEDIES];
    } pick;
    memset(&pick, 0, sizeof pick);
    if (d->rank == 0 || d->size == 1) {
        pick.symptom = choose(rd, cfg, h);
        pick.n = pick.symptom < 0 ? 0 : rd->advice.n_remedies < cfg->trial_remedies ? rd->advice.n_remedies
                                                                                   : cfg->trial_remedies;
        memcpy(pick.remedy, rd->advice.remedy, sizeof pick.remedy);
    }
    int rc = d->size > 1 ? dist_bcast(d, &pick, sizeof pick, MPI_BYTE, 0) : 0;
    if (rc)
        return rc;
    if (pick.symptom < 0 || h->n_repairs >= cfg->max_repairs) {
        if (d->rank == 0)
            exhausted(rd, cfg, h, pick.symptom);
        return GS_ERR_DOCTOR;
    }

    /* the history so far outlives the trainer it belongs to */
    gs_history saved;
    memset(&saved, 0, sizeof saved);
    rc = hist_copy(&saved, h, h->n_loss, h->n_eval, h->n_rec);
    if ((rc = dist_agree(d, rc))) {
        hist_free(&saved);
        return rc;
    }
    const int64_t step = rd->doc.last_step;
    trainer_free(*t);
    *t = NULL;

    /* the trials: each candidate from where it would start; the lowest
     * loss is kept, a pure function of global losses (checked) */
    double loss[GS_MAX_REMEDIES];
    int best = 0;
    char tried[GS_REPAIR_TEXT] = "";
    if (pick.n > 1) {
        size_t k = 0;
        for (int i = 0; i < pick.n && !rc; i++) {
            rc = trial(rd, cfg, &pick.remedy[i], &saved, d, &loss[i]);
            if (!rc && d->rank == 0) {
                char text[GS_REPAIR_TEXT];
                doctor_remedy_text(&pick.remedy[i], " --set ", text, sizeof text);
                printf("  doctor: trial %d of %d: --set %s: loss %.4g after %lld steps\n", i + 1, pick.n, text,
                       loss[i], (long long)cfg->trial_steps);
            }
            if (!rc && k < sizeof tried)
                k += (size_t)snprintf(tried + k, sizeof tried - k, "%s%.3g", i ? ", " : "", loss[i]);
        }
        if (rc) {
            hist_free(&saved);
            return rc;
        }
        best = doctor_best_trial(loss, pick.n, cfg->trial_margin);
        double both[2] = {best, -best};
        if (d->size > 1 && !(rc = dist_allreduce_max_double(d, both, 2)) && both[0] != -both[1])
            rc = gs_error(GS_ERR_RUNTIME, "the ranks' trials chose different remedies");
        if ((rc = dist_agree(d, rc))) {
            hist_free(&saved);
            return rc;
        }
    }
    const gs_remedy *chosen = &pick.remedy[best];

    gs_repair rep;
    memset(&rep, 0, sizeof rep);
    rep.step = step;
    snprintf(rep.symptom, sizeof rep.symptom, "%s", doctor_symptom_name(pick.symptom));
    if (pick.n > 1)
        snprintf(rep.evidence, sizeof rep.evidence, "%.*s; trial losses after %lld steps: %.*s (kept %d)",
                 (int)(sizeof rep.evidence / 2), rd->doc.sym[pick.symptom].evidence, (long long)cfg->trial_steps,
                 (int)(sizeof rep.evidence / 4), tried, best + 1);
    else
        snprintf(rep.evidence, sizeof rep.evidence, "%s", rd->doc.sym[pick.symptom].evidence);
    doctor_remedy_text(chosen, " ", rep.remedy, sizeof rep.remedy);
    char *sets[GS_REMEDY_SETS];
    for (int k = 0; k < chosen->n_set; k++)
        sets[k] = (char *)chosen->set[k];
    /* (validated when the remedy was chosen: the same config on every rank) */
    if ((rc = dist_agree(d, cfg_apply_sets(cfg, chosen->n_set, sets, cfg)))) {
        hist_free(&saved);
        return rc;
    }
    const int rollback = rolls_back(rd, chosen);

    if (!(rc = trainer_create(t, cfg, d))) {
        if (rollback) {
            rc = dist_agree(d, trainer_snapshot_restore(*t, &rd->snap, &saved)); /* a rank's failure ends all */
            rep.resumed_at = rd->snap.state.step;
        } else {
            rc = dist_agree(d, trainer_adopt_repairs(*t, &saved));
        }
    }
    if (!rc)
        rc = dist_agree(d, trainer_add_repair(*t, &rep));
    hist_free(&saved);
    if (!rc)
        rc = run_doctor_start(rd, *t, cfg, d);
    if (rc)
        return rc;
    if (d->rank == 0) {
        doctor_print_repair(stdout, &rep, trainer_history(*t)->n_repairs, cfg->max_repairs);
        fflush(stdout);
    }
    return 0;
}

int run_doctor_apply_recorded(const gs_dist *d, gs_config *cfg, const char *path)
{
    /* rank 0 reads the overrides; every rank applies the same text */
    char *text = NULL;
    long long len = 0;
    int rc = 0;
    if (d->rank == 0) {
        gs_ckpt_info *info = gs_malloc(1, sizeof *info, "checkpoint info");
        gs_history h;
        memset(&h, 0, sizeof h);
        rc = info ? ckpt_read_info(path, info, &h, NULL) : GS_ERR_RUNTIME;
        const size_t cap = (size_t)h.n_repairs * (GS_REPAIR_TEXT + 1) + 1;
        if (!rc && !(text = gs_calloc(cap, 1, "recorded repairs")))
            rc = GS_ERR_RUNTIME;
        for (int i = 0; !rc && i < h.n_repairs; i++)
            len += snprintf(text + len, cap - (size_t)len, "%s%s", i ? " " : "", h.repairs[i].remedy);
        if (!rc && h.n_repairs)
            printf("resume: the %d repair%s recorded in %s: --set %s\n", h.n_repairs, h.n_repairs > 1 ? "s" : "", path,
                   text);
        hist_free(&h);
        free(info);
    }
    if ((rc = dist_agree(d, rc)) || (rc = dist_bcast(d, &len, 1, MPI_LONG_LONG, 0))) {
        free(text);
        return rc;
    }
    if (len == 0) {
        free(text);
        return 0;
    }
    if (d->rank != 0 && !(text = gs_calloc((size_t)len + 1, 1, "recorded repairs")))
        rc = GS_ERR_RUNTIME;
    if ((rc = dist_agree(d, rc)) || (rc = dist_bcast(d, text, (size_t)len, MPI_CHAR, 0))) {
        free(text);
        return rc;
    }
    int n = 0;
    char **sets = gs_calloc((size_t)len / 2 + 1, sizeof *sets, "recorded repairs");
    for (char *save, *tok = sets ? strtok_r(text, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save))
        sets[n++] = tok;
    rc = sets ? cfg_apply_sets(cfg, n, sets, cfg) : GS_ERR_RUNTIME;
    if (rc == GS_ERR_USAGE) /* the same text, the same error, on every rank */
        gs_error(GS_ERR_USAGE, "%s: a repair it records does not apply to this config: %s", path, gs_last_error());
    free(sets);
    free(text);
    return rc;
}

void run_doctor_free(run_doctor *rd)
{
    trainer_snapshot_free(&rd->snap);
}
