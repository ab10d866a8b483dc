/*
 * doctor_report.c — what the doctor says, as lines during training and as
 * a whole report (text or JSON, through jansson) for `gradscope doctor`.
 *
 * During training: one line per change of the confirmed verdicts, naming
 * every layer that changed the same way (as ranges of adjacent layers); when a problem is declared, a block with
 * the symptom and its evidence, the cause and the ranked remedies, each
 * remedy said once per run (gs_said).
 */
#include "gradscope/doctor_report.h"
#include "gradscope/common.h"

#include <math.h>
#include <string.h>

/* ---- during training ------------------------------------------------------- */

/* lo..hi of statistic f over the layers l with in[l] of st (L, GS_N_STATS),
 * as "x" or "x to y" */
static void range_of(const float *st, const unsigned char *in, int L, int f, const char *fmt1, char *buf, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    int nan = 0;
    for (int l = 0; l < L; l++) {
        if (!in[l])
            continue;
        const double v = st[(size_t)l * GS_N_STATS + f];
        nan |= isnan(v);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    char x[32], y[32];
    snprintf(x, sizeof x, fmt1, lo);
    snprintf(y, sizeof y, fmt1, hi);
    if (nan) /* a NaN anywhere is the news */
        snprintf(buf, n, "nan");
    else if (!strcmp(x, y))
        snprintf(buf, n, "%s", x);
    else
        snprintf(buf, n, "%s to %s", x, y);
}

/* Layer x changed from and to the verdicts layer l changed from and to. */
static int same_change(const gs_doctor *d, int x, int l)
{
    return doctor_changed(d, x) && d->prev[x] == d->prev[l] && d->verdict[x] == d->verdict[l];
}

void doctor_print_changes(FILE *f, const gs_doctor *d, const float *st, int64_t step)
{
    const int L = d->n_layers;
    int first = 1, healthy = 1, any = 0;
    for (int l = 0; l < L; l++) {
        first &= d->prev[l] < 0;
        healthy &= d->verdict[l] == GS_V_HEALTHY;
        any |= doctor_changed(d, l);
    }
    if (!any)
        return;
    if (first && healthy) {
        fprintf(f, "  diagnosis step %lld: %s %d layer%s healthy\n", (long long)step, L == 1 ? "the" : "all", L,
                GS_PLURAL(L));
        return;
    }
    /* one line per change: every layer that changed the same way, as
     * ranges of adjacent layers ("layers 2-4, 6-7, 9") */
    unsigned char done[GS_MAX_LAYERS] = {0};
    for (int l = 0; l < L; l++) {
        if (!doctor_changed(d, l) || done[l])
            continue;
        unsigned char in[GS_MAX_LAYERS] = {0};
        char who[1024] = "";
        size_t k = 0;
        int n = 0;
        for (int a = l; a < L; a++) {
            if (!same_change(d, a, l))
                continue;
            int e = a;
            while (e + 1 < L && same_change(d, e + 1, l))
                e++;
            for (int x = a; x <= e; x++)
                in[x] = done[x] = 1;
            n += e - a + 1;
            if (k < sizeof who)
                k += (size_t)(e > a ? snprintf(who + k, sizeof who - k, "%s%d-%d", k ? ", " : "", a, e)
                                    : snprintf(who + k, sizeof who - k, "%s%d", k ? ", " : "", a));
            a = e;
        }
        char g[80], r[80], sat[80], dead[80];
        range_of(st, in, L, GS_ST_GRAD_NORM, "%.3g", g, sizeof g);
        range_of(st, in, L, GS_ST_RATIO_TO_LAST, "%.3g", r, sizeof r);
        range_of(st, in, L, GS_ST_SATURATED, "%.2f", sat, sizeof sat);
        range_of(st, in, L, GS_ST_DEAD, "%.2f", dead, sizeof dead);
        fprintf(f, "  diagnosis step %lld: layer%s %s %s%s%s (grad norm %s, ratio to last %s, saturated %s, dead %s)\n",
                (long long)step, n > 1 ? "s" : "", who, d->prev[l] >= 0 ? stats_verdict_name(d->prev[l]) : "",
                d->prev[l] >= 0 ? " -> " : "", stats_verdict_name(d->verdict[l]), g, r, sat, dead);
    }
}

static int said_before(gs_said *said, const char *text)
{
    for (int i = 0; i < said->n; i++)
        if (!strcmp(said->text[i], text))
            return 1;
    if (said->n < GS_SAID_MAX)
        snprintf(said->text[said->n++], sizeof said->text[0], "%s", text);
    return 0;
}

void doctor_print_problem(FILE *f, const gs_doctor *d, const gs_advice *a, int64_t step, gs_said *said)
{
    const gs_symptom_state *y = &d->sym[a->symptom];
    fprintf(f, "  doctor step %lld: %s: %s\n", (long long)step, doctor_symptom_name(a->symptom), y->evidence);
    fprintf(f, "    cause: %s\n", a->cause);
    int shown = 0;
    for (int i = 0; i < a->n_remedies; i++) {
        char text[GS_REPAIR_TEXT * 2];
        doctor_remedy_text(&a->remedy[i], " --set ", text, sizeof text);
        if (said && said_before(said, text))
            continue;
        fprintf(f, "    remedy %d: --set %s  (%s)\n", i + 1, text, a->remedy[i].why);
        shown++;
    }
    if (a->n_remedies == 0)
        fprintf(f, "    no remedy left that the run does not already use\n");
    else if (!shown)
        fprintf(f, "    remedies: as above\n");
}

void doctor_print_repair(FILE *f, const gs_repair *r, int n, int max)
{
    char text[GS_REPAIR_TEXT * 2], *o = text;
    for (const char *p = r->remedy; *p && o < text + sizeof text - 8; p++) /* "a b" -> "a --set b" */
        o = *p == ' ' ? o + snprintf(o, 8, " --set ") : (*o = *p, o + 1);
    *o = '\0';
    fprintf(f, "  doctor: repair %d of %d at step %lld: %s -> --set %s; ", n, max, (long long)r->step, r->symptom, text);
    if (r->resumed_at > 0)
        fprintf(f, "rolled back to step %lld\n", (long long)r->resumed_at);
    else
        fprintf(f, "re-initialized from the seed\n");
}

/* ---- the whole report ----------------------------------------------------------- */

void doctor_print_report(FILE *f, const gs_doctor *d, const gs_advice *a, const gs_history *h)
{
    int any = 0;
    fprintf(f, "symptoms\n");
    for (int s = 0; s < GS_N_SYMPTOMS; s++) {
        const gs_symptom_state *y = &d->sym[s];
        if (!y->confirmed)
            continue;
        any = 1;
        fprintf(f, "  %-15s from step %-6lld %s%s\n", doctor_symptom_name(s), (long long)y->first_step, y->evidence,
                y->problem ? "" : " (seen, but training goes on: not a problem)");
    }
    if (!any)
        fprintf(f, "  none\n");
    fprintf(f, "\nproblem   %s", d->primary >= 0 ? doctor_symptom_name(d->primary) : "none");
    if (d->primary >= 0)
        fprintf(f, " (declared at step %lld)", (long long)d->sym[d->primary].problem_step);
    fprintf(f, "\n");
    if (a->symptom >= 0) {
        fprintf(f, "cause     %s\nremedies\n", a->cause);
        for (int i = 0; i < a->n_remedies; i++) {
            char text[GS_REPAIR_TEXT * 2];
            doctor_remedy_text(&a->remedy[i], " --set ", text, sizeof text);
            fprintf(f, "  %d. --set %s\n     %s\n", i + 1, text, a->remedy[i].why);
        }
        if (a->n_remedies == 0)
            fprintf(f, "  none left that the run does not already use\n");
    }
    fprintf(f, "repairs   %s\n", h->n_repairs ? "" : "none");
    for (int i = 0; i < h->n_repairs; i++) {
        const gs_repair *r = &h->repairs[i];
        fprintf(f, "  step %lld: %s (%s) -> --set %s; %s %lld\n", (long long)r->step, r->symptom, r->evidence,
                r->remedy, r->resumed_at > 0 ? "went on from step" : "re-initialized, from step", (long long)r->resumed_at);
    }
}

/* ---- JSON ------------------------------------------------------------------------ */

/* a number, or null where JSON has none (NaN, Inf) */
static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

json_t *doctor_report_json(const gs_doctor *d, const gs_advice *a, const gs_history *h)
{
    json_t *root = json_object(), *symptoms = json_array(), *remedies = json_array(), *repairs = json_array();
    for (int s = 0; s < GS_N_SYMPTOMS; s++) {
        const gs_symptom_state *y = &d->sym[s];
        if (!y->confirmed)
            continue;
        json_t *layers = json_array();
        for (int l = 0; l < d->n_layers; l++)
            if (y->layers[l])
                json_array_append_new(layers, json_integer(l));
        json_array_append_new(symptoms, json_pack("{s:s, s:o, s:I, s:s, s:b, s:o}", "name", doctor_symptom_name(s),
                                                  "layers", layers, "first_step", (json_int_t)y->first_step,
                                                  "evidence", y->evidence, "problem", y->problem, "problem_step",
                                                  y->problem ? json_integer(y->problem_step) : json_null()));
    }
    for (int i = 0; i < a->n_remedies; i++) {
        json_t *set = json_array();
        for (int k = 0; k < a->remedy[i].n_set; k++)
            json_array_append_new(set, json_string(a->remedy[i].set[k]));
        json_array_append_new(remedies, json_pack("{s:o, s:s}", "set", set, "why", a->remedy[i].why));
    }
    for (int i = 0; i < h->n_repairs; i++) {
        const gs_repair *r = &h->repairs[i];
        json_t *set = json_array();
        char text[GS_REPAIR_TEXT];
        snprintf(text, sizeof text, "%s", r->remedy);
        for (char *save, *tok = strtok_r(text, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
            json_array_append_new(set, json_string(tok));
        json_array_append_new(repairs, json_pack("{s:I, s:s, s:s, s:o, s:I}", "step", (json_int_t)r->step, "symptom",
                                                 r->symptom, "evidence", r->evidence, "set", set, "resumed_at",
                                                 (json_int_t)r->resumed_at));
    }
    json_object_set_new(root, "symptoms", symptoms);
    json_object_set_new(root, "problem", d->primary >= 0 ? json_string(doctor_symptom_name(d->primary)) : json_null());
    json_object_set_new(root, "cause", a->symptom >= 0 ? json_string(a->cause) : json_null());
    json_object_set_new(root, "remedies", remedies);
    json_object_set_new(root, "repairs", repairs);
    const gs_input_audit *au = &h->audit;
    json_object_set_new(root, "input_audit",
                        au->rows > 0 ? json_pack("{s:I, s:i, s:o, s:b, s:o, s:o, s:o, s:o}", "rows", (json_int_t)au->rows,
                                                 "features", au->dim, "scale", num(au->scale), "integer_valued",
                                                 au->integer_valued, "mean", num(au->mean), "std", num(au->std), "min",
                                                 num(au->min), "max", num(au->max))
                                     : json_null());
    return root;
}
