/* test_perf_overlap — the fast paths of the gradient reduction change no
 * bit of the result, at the rank count it runs on:
 *
 *  - overlapped reduction (one MPI_Iallreduce per layer during backward)
 *    and the blocking one (one MPI_Allreduce of the flat buffer after it)
 *    give bit-identical weights, momentum and losses after N steps from the
 *    same seed ([optimizer] shard = false; and sharded over messages, whose
 *    statistics steps all-reduce the whole gradient);
 *  - the sharded optimizer (reduce-scatter, update of 1/P of the
 *    parameters, allgather), through shared memory and through the ring of
 *    messages (GRADSCOPE_SHARED_MEMORY=0; gradscope's ring, and Open MPI's
 *    MPI_Reduce_scatter with GRADSCOPE_REDUCE_SCATTER=mpi), gives the same weights, momentum
 *    and losses as the replicated one: bit-identical at 2 ranks (a sum of
 *    two terms does not depend on its order), and within 1e-5 normwise at
 *    more, where the ranks' terms may be added in another order than
 *    MPI_Allreduce's (at 1 rank there is nothing to shard: the runs are
 *    replicated, and the test checks that they say so);
 *  - and so do the statistics records (every 2 steps): the weight norms,
 *    which every rank takes over the whole parameters before the update
 *    (through shared memory, of the one copy that the ranks then update
 *    in place), bit for bit where the weights are; every other field of
 *    every record within 1e-5 normwise;
 *  - and so do each step's per-layer gradient sums of squares (which
 *    clipping reads; sharded through shared memory they are taken in the
 *    reduce-scatter's pass): within 1e-9 where the gradients are the same
 *    bits, else within 1e-5;
 *  - the gradient that the update clears as it reads it, so that the next
 *    backward adds into it (GEMM beta 1; steps without statistics,
 *    unsharded, or sharded through shared memory, whose reduce clears the
 *    other ranks' ranges: compared with the replicated runs above), against
 *    one the BLAS clears (beta 0; statistics every step, so nothing is
 *    cleared): bit-identical weights, momentum, losses
 *    and norms, and the same statistics records at the steps both record
 *    (which read the gradient after the update: a gradient cleared on a
 *    statistics step would show in them).
 *
 * Why bitwise equality is a guarantee here, on every OpenBLAS kernel: the
 * runs compared are this build on this kernel with one BLAS thread, and
 * every rank's GEMMs have the same shapes in every mode (the modes differ
 * only in how the gradient is summed, which at 2 ranks is a + b, and in
 * whether a GEMM adds into zeros with beta 1 or clears C with beta 0, which
 * OpenBLAS does ahead of the same accumulation). It is never asserted
 * between kernels or between GEMMs of different shapes.
 *
 * The fast path must not change the numbers: the simple path is the truth. If it
 * does, the test says how: which buffer, how many values differ, the first
 * index and layer, and the largest relative difference.
 */
#include "gradscope/blas.h"
#include "gradscope/common.h"
#include "gradscope/train.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N_STEPS = 6 };

/* Layers of different sizes, so that buckets of different lengths (and,
 * in Open MPI, different algorithms) are compared with the whole buffer. */
static const char *layers = "64, 512, 384, 160, 10"; /* argv[1] may replace it */
static const char *ini =
    "[model]\nlayers = %s\nactivation = relu\ninit = he_normal\noutput = softmax\n"
    "[data]\nsynthetic = teacher\nn_train = 600\nn_test = 0\n"
    "[train]\nbatch_size = 60\nseed = 11\nepochs = 100\nmax_steps = 1000\nlog_every = 1000\n"
    "overlap = %s\nblas_threads = 1\n"
    "[optimizer]\nlr = 0.05\nmomentum = 0.9\nshard = %s\n[checkpoint]\ndir = \"\"\n[stats]\nevery_steps = %d\n";

typedef struct {
    float *params, *momentum;
    double loss[N_STEPS];
    double grad_sq[N_STEPS][GS_MAX_LAYERS]; /* each step's w_sq + b_sq per layer (clipping reads them) */
    size_t n;
    float *rec;         /* the statistics records: (n_rec, GS_N_STATS, n_layers) */
    size_t n_rec_vals;
    int n_layers;
} run_result;

static int train(const gs_dist *d, int overlap, int shard, int every, run_result *r)
{
    char text[1024];
    snprintf(text, sizeof text, ini, layers, overlap ? "true" : "false", shard ? "true" : "false", every);
    static gs_config cfg;
    gs_trainer *t;
    int rc = cfg_load_string(&cfg, text, "overlap");
    CHECK(rc == 0, "config: %s", gs_last_error());
    if (rc)
        return rc;
    if ((rc = trainer_create(&t, &cfg, d))) {
        CHECK(0, "trainer_create: %s", gs_last_error());
        return rc;
    }
    const gs_net *net = trainer_net(t);
    const gs_exchange *x = trainer_exchange(t);
    const gs_history *hist = trainer_history(t);
    for (int i = 0; i < N_STEPS && !rc; i++) {
        rc = trainer_step(t, 1);
        r->loss[i] = trainer_last(t)->loss;
        for (int l = 0; l < net->n_layers; l++)
            r->grad_sq[i][l] = trainer_layer_grad_sq(t, l);
    }
    CHECK(rc == 0, "trainer_step: %s", gs_last_error());
    /* overlapped, the gradient went in buckets: one per layer, more where a
     * test lowered the limit (GRADSCOPE_TEST_BUCKET_FLOATS) to split layers */
    const char *tb = getenv("GRADSCOPE_TEST_BUCKET_FLOATS");
    const gs_exchange_caps caps = exchange_caps(x);
    if (tb && overlap && d->size > 1 && !caps.sharded) {
        const size_t max = (size_t)atol(tb);
        size_t want = 0;
        for (int l = 0; l < net->n_layers; l++)
            want += (net_layer_size(&net->layer[l]) + max - 1) / max;
        CHECK(exchange_bucket_max(x) == max && (size_t)exchange_n_buckets(x) == want && want > (size_t)net->n_layers,
              "rank %d: %d buckets of at most %zu floats in the last step, expected %zu of at most %s", d->rank,
              exchange_n_buckets(x), exchange_bucket_max(x), want, tb);
    }
    if (!rc) { /* sharded, each rank's momentum is current only in its own range */
        rc = trainer_gather_state(t);
        CHECK(rc == 0, "trainer_gather_state: %s", gs_last_error());
    }
    CHECK(caps.sharded == (shard && d->size > 1), "rank %d: sharded %d, expected %d", d->rank, caps.sharded,
          shard && d->size > 1);
    const char *env = getenv("GRADSCOPE_SHARED_MEMORY");
    const int want_shm = caps.sharded && d->node_size == d->size && !(env && !strcmp(env, "0"));
    CHECK(caps.shared_params == want_shm, "rank %d: shared memory %d, expected %d (%s)", d->rank, caps.shared_params,
          want_shm, exchange_description(x));
    const char *rs = getenv("GRADSCOPE_REDUCE_SCATTER");
    const int want_rs_mpi = caps.sharded && !want_shm && rs && !strcmp(rs, "mpi");
    CHECK(want_rs_mpi == (strstr(exchange_description(x), "MPI_Reduce_scatter") != NULL),
          "rank %d: '%s', expected %s", d->rank, exchange_description(x),
          want_rs_mpi ? "MPI_Reduce_scatter" : "no MPI_Reduce_scatter");
    r->n = net->n_params;
    r->n_layers = net->n_layers;
    r->n_rec_vals = (size_t)hist->n_rec * GS_N_STATS * (size_t)r->n_layers;
    CHECK(hist->n_rec == N_STEPS / every, "rank %d: %lld statistics records, expected %d", d->rank,
          (long long)hist->n_rec, N_STEPS / every);
    r->params = malloc(r->n * sizeof(float));
    r->momentum = malloc(r->n * sizeof(float));
    r->rec = malloc(r->n_rec_vals * sizeof(float) + 1);
    if (r->params && r->momentum && r->rec) {
        memcpy(r->params, net->params, r->n * sizeof(float));
        memcpy(r->momentum, net->momentum, r->n * sizeof(float));
        memcpy(r->rec, hist->rec, r->n_rec_vals * sizeof(float));
        /* each record's gradient norms are those of its step's gradient, which
         * the statistics read after the update: nothing cleared it first */
        const size_t L = (size_t)r->n_layers;
        for (int64_t k = 0; k < hist->n_rec; k++)
            for (size_t l = 0; l < L; l++) {
                const double gw = r->rec[((size_t)k * GS_N_STATS + GS_ST_GRAD_NORM) * L + l],
                             gb = r->rec[((size_t)k * GS_N_STATS + GS_ST_BIAS_GRAD_NORM) * L + l],
                             want = r->grad_sq[k * every][l];
                CHECK(fabs(gw * gw + gb * gb - want) <= 1e-5 * want,
                      "rank %d: statistics record of step %lld, layer %zu: gradient norms^2 %.9g, the step's %.9g",
                      d->rank, (long long)(k * every), l, gw * gw + gb * gb, want);
            }
    }
    trainer_free(t);
    CHECK(r->params && r->momentum && r->rec, "out of memory for the run's copies");
    return rc || !r->params || !r->momentum || !r->rec;
}

/* Bit for bit when tol == 0; else the normwise relative difference
 * ||a - b|| / ||a|| must be <= tol. */
static void compare(const gs_dist *d, const char *what, const char *pair, const float *a, const float *b, size_t n,
                    double tol)
{
    size_t n_diff = 0, first = 0;
    double worst = 0.0, d2 = 0.0, a2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        d2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        a2 += (double)a[i] * a[i];
        if (memcmp(&a[i], &b[i], sizeof(float))) {
            if (!n_diff++)
                first = i;
            double rel = fabs((double)a[i] - b[i]) / fmax(fabs((double)a[i]), 1e-30);
            if (rel > worst)
                worst = rel;
        }
    }
    double normwise = a2 > 0 ? sqrt(d2 / a2) : sqrt(d2);
    CHECK(tol > 0 ? normwise <= tol : n_diff == 0,
          "rank %d of %d: %s: %zu of %zu values differ between %s (first at flat index %zu: "
          "%.9g vs %.9g); largest relative difference %.3g, normwise %.3g (allowed %.3g)",
          d->rank, d->size, what, n_diff, n, pair, first, n_diff ? a[first] : 0.0, n_diff ? b[first] : 0.0, worst,
          normwise, tol);
    if (d->rank == 0 && n_diff)
        printf("%s, %s: %zu of %zu values differ, normwise %.3g\n", pair, what, n_diff, n, normwise);
}

static void compare_runs(const gs_dist *d, const char *pair, const run_result *a, const run_result *b, double tol)
{
    CHECK(a->n == b->n, "parameter counts differ");
    if (a->n != b->n)
        return;
    compare(d, "parameters", pair, a->params, b->params, a->n, tol);
    compare(d, "momentum", pair, a->momentum, b->momentum, a->n, tol);
    for (int i = 0; i < N_STEPS; i++)
        CHECK(tol > 0 ? fabs(a->loss[i] - b->loss[i]) <= tol * fabs(a->loss[i])
                      : memcmp(&a->loss[i], &b->loss[i], sizeof(double)) == 0,
              "rank %d of %d: %s: loss of step %d differs: %.17g vs %.17g", d->rank, d->size, pair, i, a->loss[i],
              b->loss[i]);
    /* the gradient norms of every step (sharded: taken in the reduce-scatter's
     * pass), which clipping and the progress line use: of the same gradient
     * (tol == 0) the same up to the order of the sums */
    const double sq_tol = tol > 0 ? tol : 1e-9;
    for (int i = 0; i < N_STEPS; i++)
        for (int l = 0; l < a->n_layers; l++)
            CHECK(fabs(a->grad_sq[i][l] - b->grad_sq[i][l]) <= sq_tol * a->grad_sq[i][l],
                  "rank %d of %d: %s: step %d, layer %d: gradient sum of squares %.17g vs %.17g", d->rank, d->size,
                  pair, i, l, a->grad_sq[i][l], b->grad_sq[i][l]);
    CHECK(a->n_rec_vals == b->n_rec_vals, "statistics record sizes differ");
    if (a->n_rec_vals != b->n_rec_vals)
        return;
    /* record by record, field by field (a record is field-major: each field
     * is one run of n_layers), so that a wrong field stands out beside the
     * large ones: within 1e-5, since the gradient norms are sums over the
     * ranks' ranges when sharded, in another order than over the whole
     * gradient; the weight norms (of the same weights) within tol */
    const size_t L = (size_t)a->n_layers, n_rec = a->n_rec_vals / (GS_N_STATS * L);
    for (size_t r = 0; r < n_rec; r++)
        for (int f = 0; f < GS_N_STATS; f++) {
            char what[64];
            snprintf(what, sizeof what, "statistics record %zu, field %d", r, f);
            const size_t at = (r * GS_N_STATS + (size_t)f) * L;
            compare(d, what, pair, a->rec + at, b->rec + at, L, f == GS_ST_WEIGHT_NORM ? tol : 1e-5);
        }
}

/* Keep every k-th statistics record of r (those of steps 0, k, 2k, ...). */
static void keep_every(run_result *r, int k)
{
    const size_t size = GS_N_STATS * (size_t)r->n_layers, n_rec = r->n_rec_vals / size;
    size_t kept = 0;
    for (size_t i = 0; i < n_rec; i += (size_t)k)
        memmove(r->rec + kept++ * size, r->rec + i * size, size * sizeof(float));
    r->n_rec_vals = kept * size;
}

/* usage: test_perf_overlap ["LAYERS"]  (e.g. "784, 2048, 2048, 10") */
int main(int argc, char **argv)
{
    gs_dist d;
    if (dist_init(&argc, &argv, &d)) {
        fprintf(stderr, "dist_init: %s\n", gs_last_error());
        return 1;
    }
    if (argc > 1)
        layers = argv[1];
    gs_blas_set_threads(1);
    run_result off = { 0 }, on = { 0 }, sh = { 0 }, ring = { 0 }, ring_on = { 0 }, rs_mpi = { 0 },
               every = { 0 };
    int rc = train(&d, 0, 0, 2, &off) || train(&d, 1, 0, 2, &on) || train(&d, 0, 1, 2, &sh)
             || train(&d, 0, 0, 1, &every);
    setenv("GRADSCOPE_SHARED_MEMORY", "0", 1);
    /* over messages, the statistics steps all-reduce the whole gradient,
     * overlapped when overlap is on (through shared memory it is assembled
     * from the ranks' ranges and overlap has nothing to do) */
    rc = rc || train(&d, 0, 1, 2, &ring) || train(&d, 1, 1, 2, &ring_on);
    setenv("GRADSCOPE_REDUCE_SCATTER", "mpi", 1); /* Open MPI's reduce-scatter instead of the ring */
    rc = rc || train(&d, 0, 1, 2, &rs_mpi);
    unsetenv("GRADSCOPE_REDUCE_SCATTER");
    CHECK(rc == 0, "rank %d: a run failed: nothing was compared", d.rank);
    if (!rc) {
        compare_runs(&d, "replicated: overlap off and on", &off, &on, 0.0);
        compare_runs(&d, "replicated and sharded", &off, &sh, d.size <= 2 ? 0.0 : 1e-5);
        compare_runs(&d, "replicated and sharded over messages", &off, &ring, d.size <= 2 ? 0.0 : 1e-5);
        compare_runs(&d, "sharded over messages: overlap off and on", &ring, &ring_on, 0.0);
        compare_runs(&d, "replicated and sharded by MPI_Reduce_scatter", &off, &rs_mpi, d.size <= 2 ? 0.0 : 1e-5);
        keep_every(&every, 2);
        compare_runs(&d, "gradient cleared by the update and by the BLAS", &off, &every, 0.0);
        /* and the steps did something: guard against comparing two untouched copies */
        CHECK(off.loss[N_STEPS - 1] != off.loss[0], "the loss did not change over %d steps", N_STEPS);
        for (int i = 0; i < N_STEPS; i++)
            for (int l = 0; l < off.n_layers; l++)
                CHECK(off.grad_sq[i][l] > 0 && isfinite(off.grad_sq[i][l]),
                      "step %d, layer %d: gradient sum of squares %g, expected > 0", i, l, off.grad_sq[i][l]);
    }
    run_result *all[] = { &off, &on, &sh, &ring, &ring_on, &rs_mpi, &every };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]->params), free(all[i]->momentum), free(all[i]->rec);
    int fails = test_failures;
    MPI_Allreduce(MPI_IN_PLACE, &fails, 1, MPI_INT, MPI_MAX, d.comm);
    if (d.rank == 0)
        printf("%s: overlap on/off, replicated/sharded at %d rank%s, %d steps: %d failures (max over ranks)\n", fails ? "FAIL" : "ok",
               d.size, d.size > 1 ? "s" : "", N_STEPS, fails);
    dist_finalize();
    return fails ? 1 : 0;
}
