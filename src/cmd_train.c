/*
 * cmd_train.c — `gradscope train CONFIG [--set section.key=value]... [--resume PATH|auto] [--overwrite]`
 *
 * The driver: decides exits (on every rank, never leaving one in a
 * collective), prints progress on rank 0, evaluates, checkpoints, resumes,
 * and turns SIGUSR1 / SIGTERM / SIGINT into "checkpoint at the next step
 * boundary and exit 75". A collective that failed (an error of origin
 * GS_FROM_BROKEN_MPI) cannot be agreed on: abort_broken ends the job.
 */
#include "cmd_train_doctor.h"
#include "gradscope/blas.h"
#include "gradscope/commands.h"
#include "gradscope/common.h"
#include "gradscope/metrics.h"
#include "gradscope/train.h"
#include "gradscope/watchdog.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* a file over RLIMIT_FSIZE (a quota-like limit, ulimit -f) must fail the
     * write with EFBIG, reported by the checkpoint writer, not kill us */
    signal(SIGXFSZ, SIG_IGN);
}

/* One run: the trainer, its config (the effective one: a repair changes
 * it) and ranks, as the driver holds them, and the doctor. */
typedef struct {
    gs_trainer *t;
    gs_config *cfg;
    const gs_dist *d;
    run_doctor doc;
    char last_ckpt[GS_PATH_MAX + 64]; /* rank 0: the newest resume point of this run on disk ("" = none) */
    /* the monitored loss (validation, else test, else training): its lowest
     * so far, where, and the evaluations since (keep_best, early_stop_patience) */
    double best_loss;
    int64_t best_step;
    int since_best;
    int started;                      /* past start-up and resume: the run's own checkpoints are what it has */
    int dir_made;                     /* rank 0: the run directory was made (or found) by this run */
    gs_metrics *metrics;              /* rank 0: RUN_DIR/metrics.jsonl (NULL: none) */
} run_ctx;

/* run()'s answer when repair mode must repair before going on */
enum { NEED_REPAIR = -1 };

#define R0(r) if ((r)->d->rank == 0)

static void print_error(const gs_dist *d, const char *what, int with_rank)
{
    if (d->size > 1 && with_rank)
        fprintf(stderr, "gradscope: rank %d: %s: %s\n", d->rank, what, gs_last_error());
    else
        fprintf(stderr, "gradscope: %s: %s\n", what, gs_last_error());
    fflush(stderr);
}

/* The failed status of a collective call: a broken collective ends the
 * job here (the one place the driver aborts); an agreed failure is said by
 * the rank that saw it (or, with `once`, by rank 0 only: the same on every
 * rank) and returned. */
static int failed(const gs_dist *d, int rc, const char *what, int once)
{
    if (gs_last_error_origin() == GS_FROM_BROKEN_MPI) {
        print_error(d, what, 1);
        dist_abort(d, rc);
    }
    if (gs_last_error_origin() == GS_FROM_HERE && (!once || d->rank == 0))
        print_error(d, what, !once);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gradscope train CONFIG [--set section.key=value]... [--resume PATH|auto] [--overwrite]\n"
               "  CONFIG            INI file; every key, its default and meaning: gradscope config --doc\n"
               "  --set S.K=V       override one key, e.g. --set optimizer.lr=0.01 (repeatable)\n"
               "  --resume PATH     continue from a checkpoint file\n"
               "  --resume auto     continue from the newest valid checkpoint of this model in [checkpoint] dir,\n"
               "                    or start fresh where it holds none\n"
               "  --overwrite       start afresh in a [checkpoint] dir that holds an earlier run's checkpoints,\n"
               "                    deleting them (a new run is refused there otherwise)\n");
}

/* Test-only fault injection: GRADSCOPE_TEST_FAULT="RANK:STEP:KIND", KIND =
 * exit (the process dies without a word), error (an error agreed in the
 * step's reduction), hang (stops answering: the watchdog's case) or signal
 * (SIGUSR1 as the step starts). */
static void maybe_fault(run_ctx *r)
{
    const char *f = getenv("GRADSCOPE_TEST_FAULT");
    int rank;
    long long step;
    char kind[16];
    if (!f || sscanf(f, "%d:%lld:%15s", &rank, &step, kind) != 3 || rank != r->d->rank ||
        step != trainer_state(r->t)->step)
        return;
    if (!strcmp(kind, "exit")) {
        fprintf(stderr, "gradscope: rank %d: test fault: exiting at step %lld\n", rank, step);
        _exit(1);
    } else if (!strcmp(kind, "error")) {
        gs_error(GS_ERR_RUNTIME, "test fault injected at step %lld", step);
        trainer_vote(r->t, GS_VOTE_ERROR);
    } else if (!strcmp(kind, "signal")) { /* as Slurm's warning signal would, arriving during this step */
        raise(SIGUSR1);
    } else if (!strcmp(kind, "hang")) {
        fprintf(stderr, "gradscope: rank %d: test fault: hanging at step %lld\n", rank, step);
        for (;;)
            pause();
    }
}

static int blas_threads_for(const gs_config *cfg, const gs_dist *d)
{
    if (cfg->reproducible) /* a threaded GEMM's bits may depend on its threads */
        return 1;
    if (cfg->blas_threads > 0)
        return cfg->blas_threads;
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = (int)(cores / (d->node_size > 0 ? d->node_size : 1));
    return n > 0 ? n : 1;
}

static void write_incident(run_ctx *r, char *path, size_t path_size);

/* Rank 0 writes; every rank learns whether it worked. */
static int write_checkpoint(run_ctx *r, const char *tag, char *path, size_t path_size)
{
    path[0] = '\0';
    if (!r->cfg->dir[0])
        return 0;
    int status = 0;
    if (r->d->rank == 0) {
        /* The run directory vanished since our last checkpoint (deleted, or
         * its file system unmounted): stop rather than recreate it, which
         * could write where nobody looks, or under an empty mount point. */
        struct stat sb;
        if (r->dir_made && stat(r->cfg->dir, &sb) != 0)
            status = gs_error(GS_ERR_RUNTIME, "run directory %s has disappeared since the last checkpoint (%s); "
                              "not recreating it", r->cfg->dir, strerror(errno));
        else if (!r->dir_made)
            status = ckpt_make_dir(r->cfg->dir);
        r->dir_made |= status == 0;
        /* (ckpt_write never creates the directory: deleted after the check
         * above, it fails rather than writing into a new one) */
    }
    int rc = trainer_checkpoint(r->t, tag, status, path, path_size);
    if (rc)
        failed(r->d, rc, "checkpoint", 0);
    else if (r->d->rank == 0) {
        metrics_checkpoint(r->metrics, r->t, path, tag);
        if (!tag)
            snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
    }
    /* refused for a NaN or Inf in the parameters or momentum (an update can
     * overflow where the gradient's norm did not): no resume point can hold
     * this state, and a requeued run would only reach it again. It ends as
     * a non-finite step does, with an incident record. */
    if (rc == GS_ERR_NONFINITE && !tag)
        write_incident(r, path, path_size);
    return rc;
}

/* A non-finite state as an incident record, which never becomes the resume
 * point. Collective. */
static void write_incident(run_ctx *r, char *path, size_t path_size)
{
    write_checkpoint(r, GS_CKPT_INCIDENT, path, path_size);
    R0(r) if (path[0]) fprintf(stderr, "gradscope: incident record written to %s (never resumed from)\n", path);
}

/* After a failure, what is on disk to continue from: the truth, in one line. */
static void say_what_remains(const run_ctx *r)
{
    if (r->d->rank != 0 || !r->cfg->dir[0] || !r->started)
        return;
    if (r->last_ckpt[0])
        fprintf(stderr, "gradscope: the newest checkpoint of this run is %s: --resume auto continues from it\n",
                r->last_ckpt);
    else
        fprintf(stderr, "gradscope: this run wrote no checkpoint to %s before it ended\n", r->cfg->dir);
    fflush(stderr);
}

/* Warn (rank 0, one line) where the checkpoint was written on another
 * kernel or thread count: the continuation is then not bit-identical. */
static void warn_provenance(const char *path)
{
    gs_ckpt_info info;
    gs_provenance now;
    char why[256];
    provenance_get(&now);
    if (ckpt_read_info(path, &info, NULL, NULL) == 0 && provenance_differs(&info.prov, &now, why, sizeof why))
        fprintf(stderr, "gradscope: resume: warning: %s; the run continues, but not bit for bit as it would have on "
                "its own\n", why);
    gs_clear_error();
}

/* ckpt_find_latest_match for --resume auto: a checkpoint is of this run's
 * model when the config, with the repairs the doctor recorded in that
 * checkpoint applied, makes the same network and input standardization
 * (a repaired run's checkpoints hold the repaired model). Rank 0 alone. */
static int of_this_model(void *ctx, const char *path, const gs_ckpt_info *info, const gs_history *h, char *why,
                         size_t n)
{
    (void)path;
    static gs_config c; /* (large) */
    const size_t cap = (size_t)h->n_repairs * (GS_REPAIR_TEXT + 1) + 1;
    char *text = gs_calloc(cap, 1, "recorded repairs");
    char **sets = gs_calloc(cap / 2 + 1, sizeof *sets, "recorded repairs");
    int n_sets = 0, rc = 1;
    size_t len = 0;
    if (!text || !sets) {
        snprintf(why, n, "%s", gs_last_error());
        goto done;
    }
    for (int i = 0; i < h->n_repairs; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s%s", i ? " " : "", h->repairs[i].remedy);
    for (char *save, *tok = strtok_r(text, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        sets[n_sets++] = tok;
    if (cfg_apply_sets(ctx, n_sets, sets, &c) != 0) {
        snprintf(why, n, "its recorded repairs do not apply to this config: %s", gs_last_error());
        goto done;
    }
    c.reproducible = 0; /* (only the layer table is compared) */
    gs_net *net = net_create(&c, 1, NULL, NULL);
    if (!net) {
        snprintf(why, n, "the config makes no network: %s", gs_last_error());
        goto done;
    }
    rc = ckpt_info_matches(info, net, c.normalize == GS_NORMALIZE_STANDARDIZE, why, n);
    net_free(net);
done:
    free(text);
    free(sets);
    gs_clear_error();
    return rc;
}

/* The checkpoint --resume SPEC names: rank 0 resolves "auto" to the newest
 * valid one in [checkpoint] dir; "" when there is none (start fresh).
 * Collective: every rank gets the same path or status. */
static int resume_path(const gs_dist *d, const gs_config *cfg, const char *spec, char *path, size_t n)
{
    int rc = 0;
    path[0] = '\0';
    if (d->rank == 0) {
        if (!strcmp(spec, "auto")) {
            int found = 0;
            if (!cfg->dir[0])
                rc = gs_error(GS_ERR_USAGE, "--resume auto needs [checkpoint] dir");
            else if ((found = ckpt_find_latest_match(cfg->dir, of_this_model, (void *)cfg, path, n)))
                path[0] = '\0';
            if (!rc && found == 2) /* starting afresh would mix two runs' checkpoints in one directory */
                rc = gs_error(GS_ERR_CKPT, "%s holds no valid checkpoint of this model (each is named above with "
                              "why); to start afresh, use a new [checkpoint] dir or --overwrite (deletes them)",
                              cfg->dir);
        } else {
            snprintf(path, n, "%s", spec);
        }
    }
    if ((rc = dist_agree(d, rc)))
        return failed(d, rc, "resume", 1);
    if ((rc = dist_bcast(d, path, n, MPI_CHAR, 0)))
        return failed(d, rc, "resume", 0);
    if (!path[0] && d->rank == 0)
        printf("resume: no checkpoint in %s, starting fresh\n", cfg->dir);
    return 0;
}

static int resume(run_ctx *r, const char *path)
{
    gs_train_state st;
    int rc;
    if ((rc = trainer_read_checkpoint(r->t, path, &st)))
        return failed(r->d, rc, "resume", 0);
    R0(r) {
        char at[96];
        printf("resume: %s: %s, written by %d rank%s\n", path, ckpt_position_text(&st, at, sizeof at), st.n_ranks,
               GS_PLURAL(st.n_ranks));
        warn_provenance(path);
        snprintf(r->last_ckpt, sizeof r->last_ckpt, "%s", path);
    }
    if ((rc = trainer_resume_at(r->t, &st))) /* the same on every rank */
        return failed(r->d, rc, "resume", 1);
    R0(r) metrics_resume(r->metrics, r->t, "checkpoint", path);
    return 0;
}

/* A statistics record: the doctor's lines and the stream's records;
 * NEED_REPAIR when repair mode must repair now. */
static int after_record(run_ctx *r)
{
    int repair, rc = run_doctor_record(&r->doc, r->t, r->cfg, r->d, &repair);
    if (rc)
        return failed(r->d, rc, "doctor", 0);
    const gs_doctor *doc = &r->doc.doc;
    R0(r) metrics_record(r->metrics, r->t, doc,
                         doc->new_problem >= 0 && r->cfg->doctor_mode != GS_DOCTOR_OFF ? &r->doc.advice : NULL);
    return repair ? NEED_REPAIR : 0;
}

/* The epoch, counted from 1, of the last step done (0 before the first). */
static long long epoch_of(const gs_train_state *st)
{
    return (long long)st->epoch + (st->batch_in_epoch > 0);
}

/* The evaluation line; then the monitored loss against its best so far:
 * with keep_best, a new best is written as best_<step>.h5. Returns 0, or
 * the failure of that checkpoint. Collective. */
static int evaluate(run_ctx *r)
{
    gs_eval e;
    int rc = trainer_evaluate(r->t, &e);
    if (rc) /* (only a broken collective or a rank out of step fails it) */
        return failed(r->d, rc, "evaluation", 0);
    const gs_train_state *st = trainer_state(r->t);
    R0(r) {
        printf("eval epoch %lld step %lld %s loss %.6f", epoch_of(st), (long long)st->step,
               e.on_test ? "test" : "train", e.loss);
        if (!isnan(e.accuracy))
            printf(" accuracy %.4f", e.accuracy);
        if (!isnan(e.val_loss)) {
            printf(" validation loss %.6f", e.val_loss);
            if (!isnan(e.val_accuracy))
                printf(" accuracy %.4f", e.val_accuracy);
        }
        printf("\n");
        fflush(stdout);
        metrics_eval(r->metrics, r->t, epoch_of(st), &e);
    }
    const double watched = isnan(e.val_loss) ? e.loss : e.val_loss; /* the same on every rank */
    if (!(watched < r->best_loss)) {
        r->since_best++;
        return 0;
    }
    r->best_loss = watched;
    r->best_step = st->step;
    r->since_best = 0;
    if (!r->cfg->keep_best)
        return 0;
    char path[GS_PATH_MAX];
    if ((rc = write_checkpoint(r, GS_CKPT_BEST, path, sizeof path)))
        return rc;
    R0(r) if (path[0]) printf("best checkpoint %s\n", path);
    return 0;
}

/* The monitored loss's best and the evaluations since, from the history of
 * a resumed run, so that keep_best and early stopping go on as they would
 * have. */
static void monitor_from_history(run_ctx *r)
{
    const gs_history *h = trainer_history(r->t);
    r->best_loss = INFINITY;
    r->best_step = -1;
    r->since_best = 0;
    for (int64_t i = 0; i < h->n_eval; i++) {
        const double v = isnan(h->eval_vloss[i]) ? h->eval_loss[i] : h->eval_vloss[i];
        if (v < r->best_loss) {
            r->best_loss = v;
            r->best_step = h->eval_step[i];
            r->since_best = 0;
        } else {
            r->since_best++;
        }
    }
}

static void print_banner(run_ctx *r)
{
    const gs_data_info *di = trainer_data_info(r->t);
    const gs_net *net = trainer_net(r->t);
    const int P = r->d->size, threads = gs_blas_threads();
    printf("gradscope %s: %d rank%s x %d BLAS thread%s, OpenBLAS kernel %s (%s)\n", GS_VERSION, P,
           P > 1 ? "s" : "", threads, threads > 1 ? "s" : "", gs_blas_corename(), gs_blas_kernel_reason());
    if (gs_blas_check()) { /* a kernel set outside gradscope: its choice, said loudly */
        fprintf(stderr, "gradscope: warning: %s; results cannot be trusted (unset OPENBLAS_CORETYPE, or set "
                "another kernel)\n", gs_last_error());
        gs_clear_error();
    }
    printf("model: %d layer%s, %zu parameters; data: %s, %lld rows x %d; batch %lld (global), %lld steps/epoch, "
           "%lld steps\n", net->n_layers, GS_PLURAL(net->n_layers), net->n_params, di->name, (long long)di->n_total, di->dim,
           (long long)r->cfg->batch_size, (long long)trainer_steps_per_epoch(r->t),
           (long long)trainer_total_steps(r->t));
    if (P > 1 || r->cfg->reproducible)
        printf("gradients: %s\n", exchange_description(trainer_exchange(r->t)));
    fflush(stdout);
}

/* The progress line: means since the last line. */
typedef struct {
    double t_log;
    int64_t rows;
    double loss, acc;
    int n;
} progress;

static void log_progress(run_ctx *r, progress *p, int64_t epoch)
{
    const gs_step_result *s = trainer_last(r->t);
    p->loss += s->loss;
    p->acc += s->accuracy;
    p->n++;
    p->rows += r->cfg->batch_size;
    const int64_t step = trainer_state(r->t)->step, total = trainer_total_steps(r->t);
    if (step % r->cfg->log_every != 0 && step != total)
        return;
    const double now = gs_now();
    R0(r) {
        const int L = trainer_net(r->t)->n_layers;
        const double loss = p->loss / p->n, acc = r->cfg->output == GS_OUT_SOFTMAX ? p->acc / p->n : NAN,
                     rate = (double)p->rows / (now - p->t_log);
        printf("epoch %lld step %lld/%lld loss %.4f", (long long)epoch + 1, (long long)step, (long long)total, loss);
        if (!isnan(acc))
            printf(" acc %.4f", acc);
        printf(" |g| %.3e g[first] %.3e g[last] %.3e lr %.4g %.0f samples/s\n", s->grad_norm,
               sqrt(trainer_layer_grad_sq(r->t, 0)), sqrt(trainer_layer_grad_sq(r->t, L - 1)), s->lr, rate);
        fflush(stdout);
        metrics_progress(r->metrics, r->t, epoch + 1, loss, acc, rate);
    }
    *p = (progress){ .t_log = now };
}

/* The init audit: gradients and statistics of the initial weights, no update. */
static int audit(run_ctx *r)
{
    char path[GS_PATH_MAX];
    int rc = trainer_step(r->t, 0);
    if (rc && rc != GS_ERR_NONFINITE)
        return failed(r->d, rc, "error", 0);
    if ((rc = after_record(r)) && rc != NEED_REPAIR) /* (no repair without training) */
        return rc;
    if ((rc = write_checkpoint(r, NULL, path, sizeof path)))
        return rc;
    R0(r) printf("init audit written to %s\n", path[0] ? path : "(no checkpoint dir)");
    return 0;
}

static int finish(run_ctx *r, int evaluate_now);

/* Train to the end (or a stop, an error, a repair). resume_path: the
 * checkpoint to continue from, "" where --resume found none, or NULL. */
static int run(run_ctx *r, const char *resume_path, int banner)
{
    const gs_config *cfg = r->cfg;
    gs_trainer *t = r->t;
    char path[GS_PATH_MAX];
    int rc;
    if (resume_path && resume_path[0]) {
        watchdog_phase("resume: reading the checkpoint", 0);
        if ((rc = resume(r, resume_path)))
            return rc;
    } else if (resume_path) {
        R0(r) metrics_resume(r->metrics, t, "none", NULL);
    }
    if ((rc = run_doctor_start(&r->doc, t, cfg, r->d)))
        return failed(r->d, rc, "doctor", 0);
    monitor_from_history(r);
    r->started = 1;
    if (banner)
        R0(r) print_banner(r);
    if (trainer_total_steps(t) == 0)
        return audit(r);

    double t_ckpt = gs_now();
    progress prog = { .t_log = t_ckpt };
    while (trainer_state(t)->step < trainer_total_steps(t)) {
        maybe_fault(r);
        const int ckpt_due = r->d->rank == 0 && cfg->ckpt_every_seconds > 0 && gs_now() - t_ckpt >= cfg->ckpt_every_seconds;
        trainer_vote(t, (stop_signal ? GS_VOTE_STOP : 0) | (ckpt_due ? GS_VOTE_CHECKPOINT : 0));
        const int64_t step = trainer_state(t)->step, epoch = trainer_state(t)->epoch;
        rc = trainer_step(t, 1);
        if (rc && rc != GS_ERR_NONFINITE)
            return failed(r->d, rc, "error", 0);
        const gs_step_result *s = trainer_last(t);
        if (rc == GS_ERR_NONFINITE) {
            char why[512]; /* (the incident record's writing may replace the message) */
            snprintf(why, sizeof why, "%s", gs_last_error());
            R0(r) fprintf(stderr, "gradscope: %s\n", why);
            if ((rc = after_record(r))) /* (a non-finite step is always recorded) */
                return rc;
            write_incident(r, path, sizeof path);
            return gs_error(GS_ERR_NONFINITE, "%s", why); /* the error that ends the run */
        }
        if (s->nonfinite)
            R0(r) printf("step %lld: non-finite gradient, update skipped ([train] on_nonfinite = skip)\n", (long long)step);
        if (s->recorded && (rc = after_record(r)))
            return rc;
        log_progress(r, &prog, epoch);
        const gs_train_state *now = trainer_state(t);
        const int unfinished = now->step < trainer_total_steps(t);
        const int epoch_end = now->batch_in_epoch == 0;
        int evaluated = 0;
        if (epoch_end && cfg->eval_every > 0 && now->epoch % cfg->eval_every == 0 && unfinished) {
            if ((rc = evaluate(r)))
                return rc;
            evaluated = 1;
        }
        const int early = evaluated && cfg->early_stop_patience > 0 && r->since_best >= cfg->early_stop_patience;
        if (early) {
            R0(r) printf("early stop: %d evaluation%s without a lower %s loss than %.6f (step %lld)\n",
                         r->since_best, r->since_best == 1 ? "" : "s",
                         cfg->validation_fraction > 0 ? "validation" : trainer_has_test(t) ? "test" : "training",
                         r->best_loss, (long long)r->best_step);
            return finish(r, 0);
        }
        /* a stop asked for during the last step: the run is complete, and
         * ends as a complete run does (final evaluation and checkpoint,
         * exit 0) rather than asking to be requeued */
        const int stop = s->stop && unfinished;
        const int due = (cfg->ckpt_every_steps > 0 && now->step % cfg->ckpt_every_steps == 0) || s->checkpoint ||
                        (cfg->ckpt_every_epochs > 0 && epoch_end && now->epoch % cfg->ckpt_every_epochs == 0);
        if ((due || stop) && unfinished) {
            if ((rc = write_checkpoint(r, NULL, path, sizeof path)))
                return rc;
            t_ckpt = gs_now();
            R0(r) if (path[0]) printf("checkpoint %s\n", path);
        }
        if (stop) {
            R0(r) {
                if (path[0])
                    printf("stopped by a signal at step %lld; checkpoint %s written; exit %d (requeue)\n",
                           (long long)now->step, path, GS_STOPPED);
                else
                    printf("stopped by a signal at step %lld; no checkpoint written ([checkpoint] dir is empty); "
                           "exit %d\n", (long long)now->step, GS_STOPPED);
            }
            return GS_STOPPED;
        }
    }
    return finish(r, 1);
}

/* The end of a complete run: the final evaluation (unless one was just
 * made), the final checkpoint and the timers. */
static int finish(run_ctx *r, int evaluate_now)
{
    gs_trainer *t = r->t;
    char path[GS_PATH_MAX];
    int rc;
    if (evaluate_now && (rc = evaluate(r)))
        return rc;
    if ((rc = write_checkpoint(r, NULL, path, sizeof path)))
        return rc;
    R0(r) {
        if (path[0])
            printf("checkpoint %s\n", path);
        printf("done: %lld step%s", (long long)trainer_state(t)->step, GS_PLURAL(trainer_state(t)->step));
        static const char *names[GS_N_TIMERS] = { "data", "forward", "backward", "reduce", "stats", "update" };
        for (int i = 0; i < GS_N_TIMERS; i++)
            printf("%s %s %.2fs", i ? "," : ";", names[i], trainer_timers(t)[i]);
        printf("\n");
    }
    return 0;
}

/* Rank 0: the metrics stream in the run directory (made now, as the first
 * checkpoint would), started anew by a new run and appended to by a
 * resumed one; its start record. A stream that cannot be opened is a
 * warning: the run trains without it. */
static void open_metrics(run_ctx *r, const char *config_path, int fresh)
{
    if (!r->cfg->dir[0])
        return;
    if (!r->dir_made && ckpt_make_dir(r->cfg->dir) == 0)
        r->dir_made = 1;
    if (!r->dir_made || !(r->metrics = metrics_open(r->cfg->dir, fresh))) {
        fprintf(stderr, "gradscope: warning: %s; training goes on without a metrics stream\n", gs_last_error());
        fflush(stderr);
        gs_clear_error();
        return;
    }
    metrics_start(r->metrics, r->t, r->cfg, r->d, config_path);
}

/* A new run's directory: one holding checkpoints of an earlier run is
 * refused (they would mix, and `latest` would move). Rank 0 looks; every
 * rank returns the agreed status. */
static int check_run_dir(const gs_config *cfg, const gs_dist *d, int overwrite)
{
    int rc = 0;
    if (d->rank == 0 && cfg->dir[0] && !overwrite) {
        gs_run_dir rd;
        ckpt_run_dir(cfg->dir, &rd);
        const int n = rd.n_ckpt + rd.n_best + rd.n_incident + rd.has_latest;
        if (n > 0) {
            char newest[64] = "";
            if (rd.newest_step >= 0)
                snprintf(newest, sizeof newest, ", the newest at step %lld", rd.newest_step);
            rc = gs_error(GS_ERR_USAGE, "%s holds %d checkpoint file%s of an earlier run%s; a new run there would "
                          "mix with them. Expected one of: --resume auto (continue it), a new directory "
                          "(--set checkpoint.dir=%s-2), or --overwrite (delete them and start afresh)",
                          cfg->dir, n, GS_PLURAL(n), newest, cfg->dir);
            fprintf(stderr, "gradscope: %s\n", gs_last_error());
            fflush(stderr);
        }
    }
    return dist_agree(d, rc);
}

/* --overwrite, once the run has its data and network (a bad config or data
 * file deletes nothing): the earlier run's files go. Collective. */
static int clear_run_dir(const gs_config *cfg, const gs_dist *d)
{
    int rc = 0;
    if (d->rank == 0 && cfg->dir[0]) {
        int removed = ckpt_clear_run_dir(cfg->dir);
        if (removed < 0) {
            rc = GS_ERR_RUNTIME;
            fprintf(stderr, "gradscope: --overwrite: %s\n", gs_last_error());
        } else if (removed > 0) {
            printf("overwrite: removed %d file%s of an earlier run from %s\n", removed, GS_PLURAL(removed),
                   cfg->dir);
        }
        fflush(stdout);
        fflush(stderr);
    }
    return dist_agree(d, rc);
}

int cmd_train(int argc, char **argv)
{
    const char *config = NULL, *resume_spec = NULL;
    int overwrite = 0;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    if (!sets) {
        fprintf(stderr, "gradscope train: out of memory\n");
        return GS_ERR_RUNTIME;
    }
    int n_sets = 0, bad = 0;
    for (int i = 0; i < argc; i++) {
        if ((sets[n_sets] = cfg_set_arg(argc, argv, &i)))
            n_sets++;
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc)
            resume_spec = argv[++i];
        else if (!strcmp(argv[i], "--overwrite"))
            overwrite = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            free(sets);
            return 0;
        } else if (argv[i][0] == '-' || config) {
            fprintf(stderr, "gradscope train: unexpected argument '%s'%s\n", argv[i],
                    (!strcmp(argv[i], "--set") || !strcmp(argv[i], "--resume")) ? " (needs a value)" : "");
            bad = 1;
        } else
            config = argv[i];
    }
    if (!config && !bad) {
        fprintf(stderr, "gradscope train: missing CONFIG\n");
        bad = 1;
    }
    if (overwrite && resume_spec && !bad) {
        fprintf(stderr, "gradscope train: --overwrite starts afresh and --resume continues: give one of them\n");
        bad = 1;
    }
    if (bad) {
        usage(stderr);
        free(sets);
        return GS_ERR_USAGE;
    }

    /* before MPI_Init, which can take seconds: a SIGUSR1 forwarded by the
     * job script meanwhile would otherwise kill the rank (its default action) */
    install_signals();
    gs_dist d;
    if (dist_init(NULL, NULL, &d)) {
        fprintf(stderr, "gradscope: %s\n", gs_last_error());
        free(sets);
        return GS_ERR_RUNTIME;
    }
    static gs_config cfg; /* large: keep it off the stack */
    int local = cfg_load(&cfg, config, n_sets, sets);
    free(sets);
    /* agreed: a file that some nodes cannot read fails there only, and the
     * other ranks would wait for them in the first collective */
    int rc = dist_agree(&d, local), rank0 = local;
    if (rc) {
        dist_bcast(&d, &rank0, 1, MPI_INT, 0);
        /* the same file, the same error on every rank: said once, by rank 0;
         * a rank that failed alone says why */
        if (d.rank == 0 && local)
            fprintf(stderr, "gradscope: config error: %s\n", gs_last_error());
        else if (local && !rank0)
            print_error(&d, "config error", 1);
        dist_finalize();
        return rc;
    }
    if (!resume_spec && (rc = check_run_dir(&cfg, &d, overwrite))) {
        dist_finalize();
        return rc;
    }
    gs_blas_set_threads(blas_threads_for(&cfg, &d));

    if (watchdog_start(cfg.watchdog_seconds, d.rank))
        fprintf(stderr, "gradscope: rank %d: %s; continuing without it\n", d.rank, gs_last_error());
    static run_ctx r; /* (the doctor's state is large) */
    r = (run_ctx){ .cfg = &cfg, .d = &d };
    static char path[GS_PATH_MAX];
    path[0] = '\0';
    if (resume_spec) {
        /* a repaired run resumes with its repairs applied to the config
         * before the checkpoint is checked against it */
        watchdog_phase("resume: finding and verifying the checkpoint", 0);
        if (!(rc = resume_path(&d, &cfg, resume_spec, path, sizeof path)) && path[0] &&
            (rc = run_doctor_apply_recorded(&d, &cfg, path)))
            failed(&d, rc, rc == GS_ERR_USAGE ? "config error" : "resume", rc == GS_ERR_USAGE);
    }
    watchdog_phase("start-up: reading the data", 0);
    if (!rc && (rc = trainer_create(&r.t, &cfg, &d))) /* config-level problems are the same on every rank: said once */
        failed(&d, rc, rc == GS_ERR_USAGE ? "config error" : rc == GS_ERR_DATA ? "data error" : "error",
               rc == GS_ERR_USAGE);
    else if (!rc && overwrite && (rc = clear_run_dir(&cfg, &d)))
        ;
    else if (!rc) {
        if (d.rank == 0)
            open_metrics(&r, config, !resume_spec);
        rc = run(&r, resume_spec ? path : NULL, 1);
    }
    /* repair mode: repair, go on, until the run ends or no repair is left */
    while (rc == NEED_REPAIR) {
        watchdog_phase("doctor: repairing", trainer_state(r.t)->step);
        rc = run_doctor_repair(&r.doc, &r.t, &cfg, &d);
        if (rc == 0) {
            char ck[GS_PATH_MAX];
            if (d.rank == 0) {
                metrics_resume(r.metrics, r.t, "repair", NULL);
                metrics_repair(r.metrics, r.t, cfg.max_repairs);
            }
            if (!(rc = write_checkpoint(&r, NULL, ck, sizeof ck)))
                rc = run(&r, NULL, 0);
        } else if (rc == GS_ERR_DOCTOR) {
            char ck[GS_PATH_MAX]; /* the state the doctor gave up on, for `gradscope doctor` */
            if (trainer_last(r.t)->nonfinite)
                write_incident(&r, ck, sizeof ck);
            else if (!write_checkpoint(&r, NULL, ck, sizeof ck) && ck[0] && d.rank == 0)
                printf("checkpoint %s\n", ck);
        } else {
            failed(&d, rc, rc == GS_ERR_USAGE ? "config error" : rc == GS_ERR_DATA ? "data error" : "doctor", 0);
        }
    }
    if (rc && rc != GS_STOPPED)
        say_what_remains(&r);
    metrics_end(r.metrics, r.t, rc);
    metrics_close(r.metrics);
    watchdog_phase("shutdown", r.t ? trainer_state(r.t)->step : 0);
    run_doctor_free(&r.doc);
    trainer_free(r.t);
    dist_finalize();
    watchdog_stop();
    return rc;
}
