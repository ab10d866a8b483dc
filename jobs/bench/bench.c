/*
 * bench.c — `gradscope-bench`: how close one training step comes to what
 * BLAS alone can do, and how much memory a rank uses against what it needs.
 *
 * For each model (the reference MLPs W, D, S and any config file given):
 *   bound   the GEMMs of one step, each timed alone through gs_sgemm on the
 *           local batch (median of repeats after warm-up), summed;
 *   step    trainer_step() timed step by step after warm-up (median), with
 *           the per-phase medians from the trainer's timers; at > 1 rank with
 *           the sharded optimizer and with the replicated one, overlap off
 *           and on;
 *   in-step the same GEMMs inside the step: the time the step spends in
 *           gs_sgemm (every call wrapped at link time), median over steps;
 *           what the GEMMs cost where the step runs them, operands coming
 *           from memory rather than from the cache a repeated call leaves;
 *   floor   bound + the optimizer alone (norms and update of the rank's
 *           range, memory-bound; sharded, the norms are part of the
 *           reduce-scatter) + the gradient communication alone: the step if
 *           nothing overlapped and nothing else cost anything;
 *   memory  peak RSS (VmHWM, reset before each model) against the estimate
 *           from the net's table and the data shard.
 * With --remedies, each model runs in the default mode only (one rank, or
 * the sharded optimizer), without the bound, as it is and with each remedy
 * of the vanishing gradient: Adam, batch norm, layer norm (every hidden
 * layer) and residual blocks of 1 (rows "W+adam", ...): what each costs. A
 * remedy the model cannot take (residual blocks where widths differ) is
 * skipped. --reproducible does the same with [train] reproducible = true
 * at 8 (the default), 16 and 64 groups (rows "W+repro8", ...).
 * --histograms measures the histograms' cost instead (bench_hist.c).
 * Rank 0 prints one table; --tsv FILE also writes it machine-readable for
 * jobs/bench/report.py.
 *
 * GEMM flops of one step (the GFLOP/s column), global batch B:
 *   F = sum_l 2 * B * n_in_l * n_out_l * (l == 0 ? 2 : 3)
 * (forward, dW, and dA for every layer but the first); bias, activation,
 * loss and update are not counted.
 */
#include "bench.h"
#include "gradscope/blas.h"
#include "gradscope/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The reference models of the Performance issue. The synthetic teacher set
 * generates each row from (data_seed, index): no file, the same on every
 * rank count. */
static const struct {
    const char *name, *ini;
} builtin[] = {
    { "W", "[model]\nlayers = 784, 2048, 2048, 2048, 10\nactivation = relu\ninit = he_normal\noutput = softmax\n"
           "[train]\nbatch_size = 256\n" },
    { "D", "[model]\nlayers = 784, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, "
           "256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 10\n"
           "activation = tanh\ninit = xavier_normal\noutput = softmax\n[train]\nbatch_size = 128\n" },
    { "S", "[model]\nlayers = 784, 128, 64, 10\nactivation = sigmoid\ninit = xavier_normal\noutput = softmax\n"
           "[train]\nbatch_size = 64\n" },
};

/* The variants of each model that --remedies and --reproducible run
 * (variant_of). */
static const char *const remedy_variants[] = { "", "+adam", "+batch", "+layer", "+residual", NULL };
static const char *const repro_variants[] = { "", "+repro8", "+repro16", "+repro64", NULL };

/* What every benchmark run shares: synthetic data, no checkpoints, no
 * statistics inside the timed steps, a step limit far beyond the run (a
 * run's last step is always a statistics step). */
static const char *common_ini =
    "[data]\nsynthetic = teacher\nn_train = %lld\nn_test = 0\n"
    "[train]\nseed = 1\nepochs = 1000000\nmax_steps = 1000000\nlog_every = 1000000\n"
    "[optimizer]\nlr = 0.01\nmomentum = 0.9\n"
    "[checkpoint]\ndir = \"\"\n"
    "[stats]\nevery_steps = 1000000\n";

static void usage(FILE *f)
{
    fprintf(f, "usage: gradscope-bench [options] [CONFIG.ini ...]\n"
               "  --models W,D,S   built-in models to run (default all; 'none' for only the configs)\n"
               "  --steps N        timed steps (default 30)      --warmup N   warm-up steps (default 4)\n"
               "  --threads N      BLAS threads per rank (default 1)\n"
               "  --shard MODE     off | on | both: sharded optimizer at > 1 rank (default both)\n"
               "  --overlap MODE   off | on | both: with the replicated optimizer (default both)\n"
               "  --n-train N      rows of the synthetic training set (default 16384)\n"
               "  --batch-per-rank N  built-in models: global batch = N x ranks (weak scaling; default: the model's)\n"
               "  --no-shuffle     built-in models: rows in order (with --n-train = the global batch, no rows move)\n"
               "  --no-bound       skip the BLAS bound            --tsv FILE   append results (rank 0)\n"
               "  --label TEXT     run label in the TSV (default RxT)\n"
               "  --remedies       the default mode only, as is and with adam, batch norm, layer norm, residual\n"
               "  --reproducible   the default mode only, as is and reproducible at 8, 16 and 64 groups\n"
               "  --histograms     the histograms' cost: statistics every 10 steps, histograms off against on,\n"
               "                   in alternating blocks of 10 steps (--steps blocks of each)\n");
}

static int parse_args(int argc, char **argv, bench_opts *o, const char **models, const char **configs, int *n_cfg)
{
    *models = "W,D,S";
    *n_cfg = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--no-bound"))
            o->no_bound = 1;
        else if (!strcmp(a, "--no-shuffle"))
            o->no_shuffle = 1;
        else if (!strcmp(a, "--histograms")) {
            o->histograms = 1;
            o->no_bound = 1;
        } else if (!strcmp(a, "--remedies") || !strcmp(a, "--reproducible")) {
            o->variants = !strcmp(a, "--remedies") ? remedy_variants : repro_variants;
            o->no_bound = 1;
        }
        else if (a[0] == '-' && !v) {
            fprintf(stderr, "gradscope-bench: %s needs a value\n", a);
            return 1;
        } else if (!strcmp(a, "--models"))
            *models = argv[++i];
        else if (!strcmp(a, "--steps"))
            o->steps = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup"))
            o->warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--threads"))
            o->threads = atoi(argv[++i]);
        else if (!strcmp(a, "--n-train"))
            o->n_train = atoll(argv[++i]);
        else if (!strcmp(a, "--batch-per-rank"))
            o->batch_per_rank = atoll(argv[++i]);
        else if (!strcmp(a, "--tsv"))
            o->tsv = argv[++i];
        else if (!strcmp(a, "--label"))
            o->label = argv[++i];
        else if (!strcmp(a, "--shard")) {
            v = argv[++i];
            o->shard_mode = !strcmp(v, "off") ? 0 : !strcmp(v, "on") ? 1 : !strcmp(v, "both") ? 2 : -1;
            if (o->shard_mode < 0) {
                fprintf(stderr, "gradscope-bench: --shard off|on|both, not '%s'\n", v);
                return 1;
            }
        } else if (!strcmp(a, "--overlap")) {
            v = argv[++i];
            o->overlap_mode = !strcmp(v, "off") ? 0 : !strcmp(v, "on") ? 1 : !strcmp(v, "both") ? 2 : -1;
            if (o->overlap_mode < 0) {
                fprintf(stderr, "gradscope-bench: --overlap off|on|both, not '%s'\n", v);
                return 1;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "gradscope-bench: unknown option %s\n", a);
            return 1;
        } else
            configs[(*n_cfg)++] = a;
    }
    if (o->steps < 3 || o->warmup < 1 || o->threads < 1 || o->n_train < 1 || o->batch_per_rank < 0) {
        fprintf(stderr, "gradscope-bench: need --steps >= 3, --warmup >= 1, --threads >= 1, --n-train >= 1, "
                        "--batch-per-rank >= 1\n");
        return 1;
    }
    return 0;
}

static void print_header(const bench_opts *o, const gs_dist *d)
{
    char host[256] = "";
    gethostname(host, sizeof host);
    printf("gradscope-bench: %d rank%s x %d BLAS thread%s, OpenBLAS kernel %s%s, host %s\n", d->size,
           d->size > 1 ? "s" : "", o->threads, o->threads > 1 ? "s" : "", gs_blas_corename(),
           getenv("GRADSCOPE_CORETYPE_SET") ? " (set by gradscope-bench)" : "", host);
    if (o->histograms) {
        printf("histograms: %d blocks of 10 steps with each trainer, in turn, after %d warm-up steps; step = the "
               "median block's time / 10\n", o->steps, o->warmup);
        return;
    }
    printf("step = median of %d steps after %d warm-up; phases are medians (mean over ranks); "
           "GFLOP/s = GEMM flops / step\n",
           o->steps, o->warmup);
    printf("mode: - one rank, shard = sharded optimizer, off / on = replicated, overlap off / on; "
           "floor = bound + optimizer alone + communication alone\n");
    printf("in-step = the step's time in gs_sgemm, and its ratio to bound\n");
    printf("%-6s %3s %-5s %8s %7s %7s %7s %7s %7s %7s %9s %7s %8s %6s %8s %6s %8s %6s %8s %8s %8s %5s %4s\n", "model",
           "PxT", "mode", "step ms", "data", "fwd", "bwd", "reduce", "stats", "update", "samples/s", "GFLOP/s",
           "bound ms", "ratio", "floor ms", "ratio", "in-step", "ratio", "statstep", "RSS MiB", "est MiB", "ratio",
           "cpu");
}

static const char *mode_name(const bench_result *r, const gs_dist *d)
{
    static const char *const names[] = { "off", "on", "shard" };
    return d->size > 1 ? names[r->overlap] : "-";
}

static void print_row(const bench_result *r, const bench_opts *o, const gs_dist *d)
{
    const double floor = r->bound > 0 ? r->bound + r->opt_alone + r->reduce_alone : 0.0;
    printf("%-6s %dx%d %-5s %8.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %9.0f %7.1f %8.2f %6.2f %8.2f %6.2f %8.2f %6.2f "
           "%8.2f %8.1f %8.1f %5.2f %4.2f\n",
           r->name, d->size, o->threads, mode_name(r, d), 1e3 * r->step, 1e3 * r->phase[GS_T_DATA],
           1e3 * r->phase[GS_T_FORWARD], 1e3 * r->phase[GS_T_BACKWARD], 1e3 * r->phase[GS_T_REDUCE],
           1e3 * r->phase[GS_T_STATS], 1e3 * r->phase[GS_T_UPDATE], (double)r->batch / r->step,
           r->flops / r->step * 1e-9, 1e3 * r->bound, r->bound > 0 ? r->step / r->bound : 0.0, 1e3 * floor,
           floor > 0 ? r->step / floor : 0.0, 1e3 * r->gemm_in_step, r->bound > 0 ? r->gemm_in_step / r->bound : 0.0,
           1e3 * r->stats_step, r->rss_peak / 1048576.0, r->rss_est / 1048576.0,
           r->rss_est > 0 ? r->rss_peak / r->rss_est : 0.0, r->cpu_share);
}

static void write_tsv(const bench_result *r, const bench_opts *o, const gs_dist *d)
{
    FILE *f = fopen(o->tsv, "a");
    if (!f) {
        fprintf(stderr, "gradscope-bench: cannot append to %s\n", o->tsv);
        return;
    }
    char label[64];
    snprintf(label, sizeof label, "%s", o->label ? o->label : "");
    if (!label[0])
        snprintf(label, sizeof label, "%dx%d", d->size, o->threads);
    fprintf(f, "%s\t%s\t%d\t%d\t%d\t%lld\t%zu\t%.6e\t%.6e\t%.6e\t%.6e\t%.6e\t%.6e\t%.6e\t%.6e\t%.6e\t%.6e\t%.6e\t"
               "%.0f\t%.0f\t%.0f\t%.0f\t%.3f\t%.6e\t%.6e\t%s\n",
            label, r->name, d->size, o->threads, d->size > 1 ? r->overlap : -1, (long long)r->batch, r->n_params,
            r->step, r->phase[GS_T_DATA], r->phase[GS_T_FORWARD], r->phase[GS_T_BACKWARD], r->phase[GS_T_REDUCE],
            r->phase[GS_T_STATS], r->phase[GS_T_UPDATE], r->flops, r->bound, r->stats_step, r->reduce_alone,
            r->rss_peak, r->rss_base, r->rss_est, r->rss_est_parts[0], r->cpu_share, r->opt_alone,
            r->gemm_in_step, gs_blas_corename());
    fclose(f);
}

/* variant_of: the model as it is (""), with one remedy, or in the
 * reproducible mode at N groups */
static void variant_of(gs_config *cfg, const char *v)
{
    const int hidden = cfg->n_sizes - 2;
    if (!strcmp(v, "+adam")) {
        cfg->optimizer = GS_OPT_ADAM;
        cfg->momentum = 0.0;
        cfg->nesterov = 0;
        cfg->lr = 1e-3;
    } else if (!strcmp(v, "+batch") || !strcmp(v, "+layer")) {
        for (int l = 0; l < hidden; l++)
            cfg->norm[l] = v[1] == 'b' ? GS_NORM_BATCH : GS_NORM_LAYER;
    } else if (!strcmp(v, "+residual")) {
        cfg->residual = 1;
    } else if (!strncmp(v, "+repro", 6)) {
        cfg->reproducible = 1;
        cfg->reproducible_groups = atoi(v + 6);
    }
}

static int bench_one(const char *name, const gs_config *cfg_in, const bench_opts *o, const gs_dist *d);

/* --remedies, --reproducible: the model as it is and in each variant, in
 * the default mode */
static int bench_variants(const char *name, const gs_config *cfg_in, const bench_opts *o, const gs_dist *d)
{
    static gs_config cfg;
    int rc = 0;
    for (const char *const *v = o->variants; !rc && *v; v++) {
        char label[64];
        cfg = *cfg_in;
        variant_of(&cfg, *v);
        snprintf(label, sizeof label, "%s%s", name, *v);
        /* a variant the model cannot take (residual blocks need equal widths) is skipped */
        if (cfg_validate(&cfg)) {
            if (d->rank == 0)
                printf("%s: skipped: %s\n", label, gs_last_error());
        } else
            rc = bench_one(label, &cfg, o, d);
    }
    return rc;
}

/* One model: the trainer in each mode (at > 1 rank: sharded, replicated
 * with overlap off, replicated with overlap on; with --remedies or
 * --reproducible the sharded one only), then the bound. */
static int bench_one(const char *name, const gs_config *cfg_in, const bench_opts *o, const gs_dist *d)
{
    static gs_config cfg;
    cfg = *cfg_in;
    cfg.dir[0] = '\0';
    cfg.blas_threads = o->threads;
    int modes[3], n_modes = 0; /* bench_result.overlap */
    if (d->size == 1)
        modes[n_modes++] = 0;
    else if (o->variants)
        modes[n_modes++] = 2;
    else {
        if (o->shard_mode >= 1)
            modes[n_modes++] = 2;
        if (o->shard_mode != 1 && o->overlap_mode != 1)
            modes[n_modes++] = 0;
        if (o->shard_mode != 1 && o->overlap_mode >= 1)
            modes[n_modes++] = 1;
    }
    double bound = -1.0;
    for (int m = 0; m < n_modes; m++) {
        bench_result r;
        memset(&r, 0, sizeof r);
        snprintf(r.name, sizeof r.name, "%s", name);
        cfg.shard = modes[m] == 2;
        cfg.overlap = modes[m] == 1;
        r.overlap = modes[m];
        int rc = bench_trainer(&cfg, o, d, &r);
        if (rc)
            return rc;
        if (!o->no_bound) {
            if (bound < 0 && (rc = bench_blas_bound(&cfg, (int)((cfg.batch_size + d->size - 1) / d->size), d, &bound)))
                return rc;
            r.bound = bound;
        }
        if (d->rank == 0) {
            print_row(&r, o, d);
            fflush(stdout);
            if (o->tsv)
                write_tsv(&r, o, d);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (gs_blas_choose_kernel(argv)) {
        fprintf(stderr, "gradscope-bench: %s\n", gs_last_error());
        return GS_ERR_RUNTIME;
    }
    bench_opts o = { .steps = 30, .warmup = 4, .threads = 1, .overlap_mode = 2, .shard_mode = 2, .n_train = 16384 };
    const char *models;
    const char **configs = calloc((size_t)argc, sizeof *configs);
    int n_cfg;
    if (!configs || parse_args(argc, argv, &o, &models, configs, &n_cfg)) {
        usage(stderr);
        return GS_ERR_USAGE;
    }
    gs_dist d;
    if (dist_init(&argc, &argv, &d)) {
        fprintf(stderr, "gradscope-bench: %s\n", gs_last_error());
        return GS_ERR_RUNTIME;
    }
    gs_blas_set_threads(o.threads);
    if (d.rank == 0)
        print_header(&o, &d);

    static gs_config cfg;
    char text[4096];
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof builtin / sizeof *builtin; i++) {
        char want[8];
        snprintf(want, sizeof want, ",%s,", builtin[i].name);
        char list[256];
        snprintf(list, sizeof list, ",%s,", models);
        if (!strstr(list, want))
            continue;
        int n = snprintf(text, sizeof text, common_ini, (long long)o.n_train);
        snprintf(text + n, sizeof text - (size_t)n, "%s%s", builtin[i].ini,
                 o.no_shuffle ? "\n[train]\nshuffle = false\n" : "");
        if ((rc = cfg_load_string(&cfg, text, builtin[i].name)))
            fprintf(stderr, "gradscope-bench: built-in model %s: %s\n", builtin[i].name, gs_last_error());
        else if (o.batch_per_rank && (cfg.batch_size = o.batch_per_rank * d.size) > o.n_train) {
            fprintf(stderr, "gradscope-bench: a global batch of %lld rows needs --n-train >= %lld\n",
                    (long long)cfg.batch_size, (long long)cfg.batch_size);
            rc = GS_ERR_USAGE;
        } else
            rc = o.histograms ? bench_hist(builtin[i].name, &cfg, &o, &d)
                 : o.variants ? bench_variants(builtin[i].name, &cfg, &o, &d)
                              : bench_one(builtin[i].name, &cfg, &o, &d);
    }
    for (int i = 0; !rc && i < n_cfg; i++) {
        if ((rc = cfg_load(&cfg, configs[i], 0, NULL))) {
            fprintf(stderr, "gradscope-bench: %s\n", gs_last_error());
            break;
        }
        /* a user's config runs as written, but without checkpoints and with
         * statistics kept out of the timed steps */
        cfg.stats_every = 1000000;
        cfg.max_steps = -1;
        cfg.epochs = 1000000;
        const char *base = strrchr(configs[i], '/');
        rc = bench_one(base ? base + 1 : configs[i], &cfg, &o, &d);
    }
    rc = dist_agree(&d, rc);
    free(configs);
    dist_finalize();
    return rc;
}
