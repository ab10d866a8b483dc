/* test_perf_overlap — overlapped gradient reduction (one MPI_Iallreduce
 * per layer during backward) and the blocking one (one MPI_Allreduce of the
 * flat buffer after it) give bit-identical weights, momentum and losses
 * after N steps from the same seed, at the rank count it runs on.
 *
 * The fast path must not change the numbers (STYLE.md, principle 9). If it
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
    "[optimizer]\nlr = 0.05\nmomentum = 0.9\n[checkpoint]\ndir = \"\"\n[stats]\nevery_steps = 2\n";

typedef struct {
    float *params, *momentum;
    double loss[N_STEPS];
    size_t n;
} run_result;

static int train(const gs_dist *d, int overlap, run_result *r)
{
    char text[1024];
    snprintf(text, sizeof text, ini, layers, overlap ? "true" : "false");
    static gs_config cfg;
    static gs_trainer t;
    int rc = cfg_load_string(&cfg, text, "overlap");
    CHECK(rc == 0, "config: %s", gs_last_error());
    if (rc)
        return rc;
    if ((rc = trainer_create(&t, &cfg, d))) {
        CHECK(0, "trainer_create: %s", gs_last_error());
        return rc;
    }
    for (int i = 0; i < N_STEPS && !rc; i++) {
        rc = trainer_step(&t, 1);
        r->loss[i] = t.last_loss;
    }
    CHECK(rc == 0, "trainer_step: %s", gs_last_error());
    r->n = t.net->n_params;
    r->params = malloc(r->n * sizeof(float));
    r->momentum = malloc(r->n * sizeof(float));
    if (r->params && r->momentum) {
        memcpy(r->params, t.net->params, r->n * sizeof(float));
        memcpy(r->momentum, t.net->momentum, r->n * sizeof(float));
    }
    trainer_free(&t);
    return rc || !r->params || !r->momentum;
}

static void compare(const gs_dist *d, const char *what, const float *a, const float *b, size_t n)
{
    size_t n_diff = 0, first = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float))) {
            if (!n_diff++)
                first = i;
            double rel = fabs((double)a[i] - b[i]) / fmax(fabs((double)a[i]), 1e-30);
            if (rel > worst)
                worst = rel;
        }
    CHECK(n_diff == 0,
          "rank %d of %d: %s: %zu of %zu values differ between overlap off and on (first at flat index %zu: "
          "%.9g vs %.9g); largest relative difference %.3g",
          d->rank, d->size, what, n_diff, n, first, n_diff ? a[first] : 0.0, n_diff ? b[first] : 0.0, worst);
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
    run_result off = { 0 }, on = { 0 };
    if (!train(&d, 0, &off) && !train(&d, 1, &on)) {
        CHECK(off.n == on.n, "parameter counts differ");
        compare(&d, "parameters", off.params, on.params, off.n);
        compare(&d, "momentum", off.momentum, on.momentum, off.n);
        for (int i = 0; i < N_STEPS; i++)
            CHECK(memcmp(&off.loss[i], &on.loss[i], sizeof(double)) == 0,
                  "rank %d of %d: loss of step %d differs: %.17g (off) vs %.17g (on)", d.rank, d.size, i,
                  off.loss[i], on.loss[i]);
        /* and the steps did something: guard against comparing two untouched copies */
        CHECK(off.loss[N_STEPS - 1] != off.loss[0], "the loss did not change over %d steps", N_STEPS);
    }
    free(off.params), free(off.momentum), free(on.params), free(on.momentum);
    int fails = test_failures;
    MPI_Allreduce(MPI_IN_PLACE, &fails, 1, MPI_INT, MPI_MAX, d.comm);
    if (d.rank == 0)
        printf("%s: overlap on/off at %d rank%s, %d steps: %d failures (max over ranks)\n", fails ? "FAIL" : "ok",
               d.size, d.size > 1 ? "s" : "", N_STEPS, fails);
    dist_finalize();
    return fails ? 1 : 0;
}
