/*
 * cmd_train.c — `gradscope train CONFIG [--set section.key=value]... [--resume PATH|auto]`
 *
 * The driver: decides exits (on every rank, never leaving one in a
 * collective), prints progress on rank 0, evaluates, checkpoints, resumes,
 * and turns SIGUSR1 / SIGTERM / SIGINT into "checkpoint at the next step
 * boundary and exit 75".
 */
#include "gradscope/blas.h"
#include "gradscope/commands.h"
#include "gradscope/common.h"
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

#define R0(t) if ((t)->dist.rank == 0)

static void print_error(const gs_dist *d, const char *what)
{
    if (d->size > 1)
        fprintf(stderr, "gradscope: rank %d: %s: %s\n", d->rank, what, gs_last_error());
    else
        fprintf(stderr, "gradscope: %s: %s\n", what, gs_last_error());
    fflush(stderr);
}

/* End on every rank with an agreed status; local is this rank's own status
 * (its message is printed here), agreed the one everyone returns. */
static int finish(gs_dist *d, int local, int agreed, const char *what)
{
    if (local)
        print_error(d, what);
    return agreed;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gradscope train CONFIG [--set section.key=value]... [--resume PATH|auto]\n"
               "  CONFIG            INI file (see README: Config reference)\n"
               "  --set S.K=V       override one key, e.g. --set optimizer.lr=0.01 (repeatable)\n"
               "  --resume PATH     continue from a checkpoint file\n"
               "  --resume auto     continue from the newest valid checkpoint in [checkpoint] dir, or start fresh\n");
}

/* Test-only fault injection: GRADSCOPE_TEST_FAULT="RANK:STEP:KIND", KIND =
 * exit (the process dies without a word), error (an error agreed in the
 * step's reduction), hang (stops answering: the watchdog's case) or signal
 * (SIGUSR1 as the step starts). */
static void maybe_fault(gs_trainer *t)
{
    const char *f = getenv("GRADSCOPE_TEST_FAULT");
    int rank;
    long long step;
    char kind[16];
    if (!f || sscanf(f, "%d:%lld:%15s", &rank, &step, kind) != 3 || rank != t->dist.rank || step != t->state.step)
        return;
    if (!strcmp(kind, "exit")) {
        fprintf(stderr, "gradscope: rank %d: test fault: exiting at step %lld\n", rank, step);
        _exit(1);
    } else if (!strcmp(kind, "error")) {
        gs_error(GS_ERR_RUNTIME, "test fault injected at step %lld", step);
        t->local_error = 1;
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
    if (cfg->blas_threads > 0)
        return cfg->blas_threads;
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = (int)(cores / (d->node_size > 0 ? d->node_size : 1));
    return n > 0 ? n : 1;
}

static void write_incident(gs_trainer *t, char *path, size_t path_size);

/* Rank 0 writes; every rank learns whether it worked. */
static int write_checkpoint(gs_trainer *t, const char *tag, char *path, size_t path_size)
{
    int rc = 0;
    path[0] = '\0';
    if (!t->cfg.dir[0])
        return 0;
    /* the sharded optimizer's momentum, whole, for rank 0 to write */
    if ((rc = trainer_gather_optimizer(t)))
        dist_abort(&t->dist, rc); /* a broken collective cannot be agreed on */
    watchdog_phase("checkpoint", t->state.step);
    if (t->dist.rank == 0) {
        /* The run directory vanished since our last checkpoint (deleted, or
         * its file system unmounted): stop rather than recreate it, which
         * could write where nobody looks, or under an empty mount point. */
        static int dir_made;
        struct stat sb;
        t->state.n_ranks = t->dist.size;
        if (dir_made && stat(t->cfg.dir, &sb) != 0)
            rc = gs_error(GS_ERR_RUNTIME, "run directory %s has disappeared since the last checkpoint (%s); "
                          "not recreating it", t->cfg.dir, strerror(errno));
        else if (!dir_made)
            rc = ckpt_make_dir(t->cfg.dir);
        /* (ckpt_write never creates the directory: deleted after the check
         * above, it fails rather than writing into a new one) */
        if (!rc)
            rc = ckpt_write(t->cfg.dir, tag, &t->cfg, t->net, &t->hist, &t->state, t->cfg.keep, path, path_size);
        dir_made |= rc == 0;
        if (rc)
            print_error(&t->dist, "checkpoint");
    }
    rc = dist_agree(&t->dist, rc);
    /* refused for a NaN or Inf in the parameters or momentum (an update can
     * overflow where the gradient's norm did not): no resume point can hold
     * this state, and a requeued run would only reach it again. It ends as
     * a non-finite step does, with an incident record. */
    if (rc == GS_ERR_NONFINITE && !tag)
        write_incident(t, path, path_size);
    return rc;
}

/* A non-finite state as an incident record, which never becomes the resume
 * point. Collective. */
static void write_incident(gs_trainer *t, char *path, size_t path_size)
{
    write_checkpoint(t, "nonfinite", path, path_size);
    R0(t) if (path[0]) fprintf(stderr, "gradscope: incident written to %s; the last good checkpoint is untouched\n", path);
}

static int resume(gs_trainer *t, const char *spec)
{
    char path[GS_PATH_MAX] = "";
    int rc = 0;
    if (t->dist.rank == 0) {
        if (!strcmp(spec, "auto")) {
            if (!t->cfg.dir[0])
                rc = gs_error(GS_ERR_USAGE, "--resume auto needs [checkpoint] dir");
            else if (ckpt_find_latest(t->cfg.dir, path, sizeof path) != 0)
                path[0] = '\0';
        } else {
            snprintf(path, sizeof path, "%s", spec);
        }
    }
    if ((rc = dist_agree(&t->dist, rc)))
        return finish(&t->dist, t->dist.rank == 0 ? rc : 0, rc, "resume");
    if ((rc = dist_bcast(&t->dist, path, sizeof path, MPI_CHAR, 0)))
        return rc;
    if (!path[0]) {
        R0(t) printf("resume: no checkpoint in %s, starting fresh\n", t->cfg.dir);
        return 0;
    }
    gs_train_state st;
    int local = trainer_read_checkpoint(t, path, &st);
    if ((rc = dist_agree(&t->dist, local)))
        return finish(&t->dist, local, rc, "resume");
    if ((rc = trainer_params_written(t)))
        return rc;
    R0(t) printf("resume: %s (step %lld, epoch %lld, written by %d ranks)\n", path, (long long)st.step,
                 (long long)st.epoch + 1, st.n_ranks);
    R0(t) { /* bit-identical continuation needs the same kernel and threads: say when they differ */
        gs_ckpt_info info;
        gs_provenance now;
        char why[256];
        provenance_get(&now);
        if (ckpt_read_info(path, &info, NULL, NULL) == 0 && provenance_differs(&info.prov, &now, why, sizeof why))
            fprintf(stderr, "gradscope: resume: warning: %s; the run continues, but not bit for bit as it would "
                    "have on its own\n", why);
        gs_clear_error();
    }
    if (st.seed != t->cfg.seed) {
        R0(t) fprintf(stderr, "gradscope: resume: the checkpoint's seed %llu differs from the config's %llu\n",
                      (unsigned long long)st.seed, (unsigned long long)t->cfg.seed);
        return GS_ERR_CKPT;
    }
    if (st.batch_in_epoch >= t->steps_per_epoch) {
        R0(t) fprintf(stderr, "gradscope: resume: %s is at batch %lld of an epoch, but this data has %lld batches\n",
                      path, (long long)st.batch_in_epoch, (long long)t->steps_per_epoch);
        return GS_ERR_CKPT;
    }
    t->state = st;
    return 0;
}

/* A line per layer whose verdict changed since the last record; at the
 * first record, one line when every layer is healthy. */
static void print_verdict_changes(gs_trainer *t)
{
    const int L = t->net->n_layers;
    const long long step = (long long)t->hist.rec_step[t->hist.n_rec - 1];
    int first = 1, healthy = 1;
    for (int l = 0; l < L; l++) {
        first &= t->prev_verdict[l] < 0;
        healthy &= t->verdict[l] == GS_V_HEALTHY;
    }
    if (first && healthy) {
        printf("  diagnosis step %lld: all %d layers healthy\n", step, L);
        return;
    }
    for (int l = 0; l < L; l++)
        if (t->verdict[l] != t->prev_verdict[l]) {
            const float *st = t->st + (size_t)l * GS_N_STATS;
            printf("  diagnosis step %lld: layer %d %s%s%s (grad norm %.3g, ratio to last %.3g, saturated %.2f, "
                   "dead %.2f)\n", step, l,
                   t->prev_verdict[l] >= 0 ? stats_verdict_name(t->prev_verdict[l]) : "",
                   t->prev_verdict[l] >= 0 ? " -> " : "", stats_verdict_name(t->verdict[l]),
                   st[GS_ST_GRAD_NORM], st[GS_ST_RATIO_TO_LAST], st[GS_ST_SATURATED], st[GS_ST_DEAD]);
        }
}

static void evaluate(gs_trainer *t)
{
    gs_data *ds = t->test ? t->test : t->train;
    double loss, acc;
    if (trainer_evaluate(t, ds, &loss, &acc))
        dist_abort(&t->dist, GS_ERR_RUNTIME);
    float epoch = (float)t->state.epoch + (float)t->state.batch_in_epoch / (float)t->steps_per_epoch;
    hist_push_eval(&t->hist, t->state.step, epoch, (float)loss, (float)acc);
    R0(t) {
        printf("eval epoch %.2f step %lld %s loss %.6f", epoch, (long long)t->state.step,
               t->test ? "test" : "train", loss);
        if (!isnan(acc))
            printf(" accuracy %.4f", acc);
        printf("\n");
        fflush(stdout);
    }
}

static int run(gs_trainer *t, const char *resume_spec)
{
    const gs_config *cfg = &t->cfg;
    char path[GS_PATH_MAX];
    int rc;
    if (resume_spec) {
        watchdog_phase("resume: finding and verifying the checkpoint", 0);
        if ((rc = resume(t, resume_spec)))
            return rc;
    }
    R0(t) {
        const gs_data_info *di = data_info(t->train);
        printf("gradscope %s: %d rank%s x %d BLAS thread%s, OpenBLAS kernel %s (%s)\n", GS_VERSION, t->dist.size,
               t->dist.size > 1 ? "s" : "", gs_blas_threads(), gs_blas_threads() > 1 ? "s" : "",
               gs_blas_corename(), gs_blas_kernel_reason());
        if (gs_blas_check()) { /* a kernel set outside gradscope: its choice, said loudly */
            fprintf(stderr, "gradscope: warning: %s; results cannot be trusted (unset OPENBLAS_CORETYPE, or set "
                    "another kernel)\n", gs_last_error());
            gs_clear_error();
        }
        printf("model: %d layers, %zu parameters; data: %s, %lld rows x %d; batch %lld (global), %lld steps/epoch, "
               "%lld steps\n", t->net->n_layers, t->net->n_params, di->name, (long long)di->n_total, di->dim,
               (long long)cfg->batch_size, (long long)t->steps_per_epoch, (long long)t->total_steps);
        if (t->dist.size > 1)
            printf("gradients: %s%s%s%s\n",
                   t->shard ? (t->node_shared ? "optimizer sharded over the ranks, through shared memory"
                                              : "optimizer sharded over the ranks, ring of messages")
                   : cfg->overlap ? "all-reduced per layer during backward, optimizer replicated"
                                  : "all-reduced after backward, optimizer replicated",
                   t->shm_note[0] ? " (no shared memory: " : "", t->shm_note, t->shm_note[0] ? ")" : "");
        fflush(stdout);
    }
    if (t->total_steps == 0) { /* init audit: gradients and statistics of the initial weights */
        if ((rc = trainer_step(t, 0)) && rc != GS_ERR_NONFINITE)
            dist_abort(&t->dist, rc); /* as in training: the collective is broken */
        R0(t) print_verdict_changes(t);
        if ((rc = write_checkpoint(t, NULL, path, sizeof path)))
            return rc;
        R0(t) printf("init audit written to %s\n", path[0] ? path : "(no checkpoint dir)");
        return 0;
    }

    double t_log = gs_now(), t_ckpt = t_log;
    int64_t rows_since_log = 0;
    double loss_sum = 0.0, acc_sum = 0.0;
    int n_log = 0;
    while (t->state.step < t->total_steps) {
        maybe_fault(t);
        t->local_stop = stop_signal != 0;
        t->local_ckpt = t->dist.rank == 0 && cfg->ckpt_every_seconds > 0 && gs_now() - t_ckpt >= cfg->ckpt_every_seconds;
        int64_t step = t->state.step, epoch = t->state.epoch;
        rc = trainer_step(t, 1);
        if (rc == GS_ERR_NONFINITE) {
            R0(t) {
                fprintf(stderr, "gradscope: %s\n", gs_last_error());
                print_verdict_changes(t);
            }
            write_incident(t, path, sizeof path);
            return GS_ERR_NONFINITE;
        }
        if (rc) /* data exchange or reduction failed: the collective is broken */
            dist_abort(&t->dist, rc);
        if (t->scalars[GS_SC_ERROR] > 0) {
            if (t->local_error)
                print_error(&t->dist, "error");
            return GS_ERR_RUNTIME;
        }
        if (t->last_nonfinite)
            R0(t) printf("step %lld: non-finite gradient, update skipped ([train] on_nonfinite = skip)\n", (long long)step);
        if (t->last_was_stats)
            R0(t) print_verdict_changes(t);
        loss_sum += t->last_loss;
        acc_sum += t->last_acc;
        n_log++;
        rows_since_log += cfg->batch_size;
        if (t->state.step % cfg->log_every == 0 || t->state.step == t->total_steps) {
            double now = gs_now();
            R0(t) {
                printf("epoch %lld step %lld/%lld loss %.4f", (long long)epoch + 1, (long long)t->state.step,
                       (long long)t->total_steps, loss_sum / n_log);
                if (cfg->output == GS_OUT_SOFTMAX)
                    printf(" acc %.4f", acc_sum / n_log);
                printf(" |g| %.3e g[first] %.3e g[last] %.3e lr %.4g %.0f samples/s\n", t->last_grad_norm,
                       sqrt(t->w_sq[0] + t->b_sq[0]),
                       sqrt(t->w_sq[t->net->n_layers - 1] + t->b_sq[t->net->n_layers - 1]), t->last_lr,
                       (double)rows_since_log / (now - t_log));
                fflush(stdout);
            }
            t_log = now;
            rows_since_log = 0;
            loss_sum = acc_sum = 0.0;
            n_log = 0;
        }
        int epoch_end = t->state.batch_in_epoch == 0;
        if (epoch_end && cfg->eval_every > 0 && t->state.epoch % cfg->eval_every == 0 && t->state.step < t->total_steps)
            evaluate(t);
        /* a stop asked for during the last step: the run is complete, and
         * ends as a complete run does (final evaluation and checkpoint,
         * exit 0) rather than asking to be requeued */
        int stop = t->scalars[GS_SC_STOP] > 0 && t->state.step < t->total_steps;
        int due = (cfg->ckpt_every_steps > 0 && t->state.step % cfg->ckpt_every_steps == 0) || t->scalars[GS_SC_CKPT] > 0;
        if ((due || stop) && t->state.step < t->total_steps) {
            if ((rc = write_checkpoint(t, NULL, path, sizeof path)))
                return rc;
            t_ckpt = gs_now();
            R0(t) if (path[0]) printf("checkpoint %s\n", path);
        }
        if (stop) {
            R0(t) printf("stopped by a signal at step %lld; checkpoint written; exit %d (requeue)\n",
                         (long long)t->state.step, GS_STOPPED);
            return GS_STOPPED;
        }
    }
    evaluate(t);
    if ((rc = write_checkpoint(t, NULL, path, sizeof path)))
        return rc;
    R0(t) {
        if (path[0])
            printf("checkpoint %s\n", path);
        printf("done: %lld steps", (long long)t->state.step);
        for (int i = 0; i < GS_N_TIMERS; i++) {
            static const char *names[] = { "data", "forward", "backward", "reduce", "stats", "update" };
            printf("%s %s %.2fs", i ? "," : ";", names[i], t->timer[i]);
        }
        printf("\n");
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    const char *config = NULL, *resume_spec = NULL;
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
            print_error(&d, "config error");
        dist_finalize();
        return rc;
    }
    gs_blas_set_threads(blas_threads_for(&cfg, &d));

    static gs_trainer t;
    if (watchdog_start(cfg.watchdog_seconds, d.rank))
        fprintf(stderr, "gradscope: rank %d: %s; continuing without it\n", d.rank, gs_last_error());
    watchdog_phase("start-up: reading the data", 0);
    rc = trainer_create(&t, &cfg, &d);
    if (rc) {
        /* a rank that only heard of another rank's failure says nothing */
        int mine = strncmp(gs_last_error(), "another rank", 12) ? rc : 0;
        if (rc == GS_ERR_USAGE && d.rank != 0)
            mine = 0; /* config-level problems are the same on every rank: say it once */
        finish(&d, mine, rc, rc == GS_ERR_USAGE ? "config error" : rc == GS_ERR_DATA ? "data error" : "error");
    } else {
        rc = run(&t, resume_spec);
    }
    watchdog_phase("shutdown", t.state.step);
    trainer_free(&t);
    dist_finalize();
    watchdog_stop();
    return rc;
}
