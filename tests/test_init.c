/*
 * test_init — every initialization scheme on a large layer: sample mean and
 * variance against the formula (within 2% for the std, mean within 4
 * standard errors), zeros are zero, constant is constant, orthogonal is
 * orthogonal, and values are a function of (seed, layer) only.
 */
#include "gradscope/init.h"
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static void moments(const float *W, size_t n, double *mean, double *sd, double *absmax)
{
    double s = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        s += W[i];
        s2 += (double)W[i] * W[i];
        m = fmax(m, fabs(W[i]));
    }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
    *absmax = m;
}

/* ||Q Q^T - gain^2 I||_max over the rows of Q (rows x cols) */
static double ortho_error(const float *Q, int rows, int cols, int by_cols, double gain)
{
    double worst = 0;
    int n = by_cols ? cols : rows;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double dot = 0;
            for (int k = 0; k < (by_cols ? rows : cols); k++)
                dot += by_cols ? (double)Q[(size_t)k * cols + a] * Q[(size_t)k * cols + b]
                               : (double)Q[(size_t)a * cols + k] * Q[(size_t)b * cols + k];
            worst = fmax(worst, fabs(dot - (a == b ? gain * gain : 0)));
        }
    return worst;
}

int main(void)
{
    const int fan_out = 1000, fan_in = 600;
    const size_t n = (size_t)fan_out * fan_in;
    float *W = malloc(1000 * 1000 * sizeof *W), *W2 = malloc(n * sizeof *W2); /* W also holds the 1000x1000 orthogonal case */
    const struct { gs_init_kind k; double expect_sd; } cases[] = {
        { GS_INIT_UNIFORM, 0.05 / sqrt(3.0) },
        { GS_INIT_NORMAL, 0.01 },
        { GS_INIT_XAVIER_UNIFORM, sqrt(6.0 / (fan_in + fan_out)) / sqrt(3.0) },
        { GS_INIT_XAVIER_NORMAL, sqrt(2.0 / (fan_in + fan_out)) },
        { GS_INIT_HE_UNIFORM, sqrt(2.0) * sqrt(3.0 / fan_in) / sqrt(3.0) },
        { GS_INIT_HE_NORMAL, sqrt(2.0 / fan_in) },
        { GS_INIT_LECUN_NORMAL, sqrt(1.0 / fan_in) },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        gs_init_spec s = { .kind = cases[c].k, .std = 0.01, .range = 0.05 };
        CHECK(init_weights(W, fan_out, fan_in, &s, 42, 3) == 0, "init %d", (int)s.kind);
        double mean, sd, absmax;
        moments(W, n, &mean, &sd, &absmax);
        double want = cases[c].expect_sd;
        CHECK(fabs(sd / want - 1) < 0.02, "scheme %d: std %.6g, formula %.6g", (int)s.kind, sd, want);
        CHECK(fabs(mean) < 4 * want / sqrt((double)n), "scheme %d: mean %.3g", (int)s.kind, mean);
        CHECK(fabs(init_target_std(&s, fan_out, fan_in) / want - 1) < 1e-9, "init_target_std %d", (int)s.kind);
        if (s.kind == GS_INIT_UNIFORM || s.kind == GS_INIT_XAVIER_UNIFORM || s.kind == GS_INIT_HE_UNIFORM)
            CHECK(absmax <= want * sqrt(3.0) * (1 + 1e-6), "uniform scheme %d exceeds its bound", (int)s.kind);
        /* gain multiplies the std */
        s.gain = 3.0;
        init_weights(W2, fan_out, fan_in, &s, 42, 3);
        double sd3;
        moments(W2, n, &mean, &sd3, &absmax);
        if (s.kind != GS_INIT_UNIFORM && s.kind != GS_INIT_NORMAL) {
            double base = (s.kind == GS_INIT_HE_NORMAL || s.kind == GS_INIT_HE_UNIFORM) ? sqrt(2.0) : 1.0;
            CHECK(fabs(sd3 / (sd * 3.0 / base) - 1) < 1e-4, "scheme %d: gain 3 gives std %.6g", (int)s.kind, sd3);
        }
        /* same (seed, layer) -> same bits; another layer or seed -> other values */
        s.gain = 0;
        init_weights(W2, fan_out, fan_in, &s, 42, 3);
        CHECK(memcmp(W, W2, n * sizeof *W) == 0, "scheme %d not deterministic", (int)s.kind);
        init_weights(W2, fan_out, fan_in, &s, 42, 4);
        CHECK(memcmp(W, W2, n * sizeof *W) != 0, "scheme %d: layers 3 and 4 drew the same values", (int)s.kind);
        init_weights(W2, fan_out, fan_in, &s, 43, 3);
        CHECK(memcmp(W, W2, n * sizeof *W) != 0, "scheme %d: seeds 42 and 43 drew the same values", (int)s.kind);
    }

    gs_init_spec z = { .kind = GS_INIT_ZEROS };
    W[0] = 1;
    init_weights(W, fan_out, fan_in, &z, 1, 0);
    size_t nz = 0;
    for (size_t i = 0; i < n; i++) nz += W[i] != 0.0f;
    CHECK(nz == 0, "zeros: %zu non-zero values", nz);

    gs_init_spec k = { .kind = GS_INIT_CONSTANT, .value = 0.25 };
    init_weights(W, fan_out, fan_in, &k, 1, 0);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) off += W[i] != 0.25f;
    CHECK(off == 0, "constant: %zu values differ from 0.25", off);

    /* orthogonal: rows orthonormal when fan_out <= fan_in, columns otherwise */
    gs_init_spec o = { .kind = GS_INIT_ORTHOGONAL, .gain = 1.5 };
    CHECK(init_weights(W, 200, 300, &o, 5, 1) == 0, "orthogonal 200x300");
    double e1 = ortho_error(W, 200, 300, 0, 1.5);
    CHECK(e1 < 1e-5, "orthogonal 200x300: |W W^T - g^2 I| = %.3g", e1);
    CHECK(init_weights(W, 300, 200, &o, 5, 1) == 0, "orthogonal 300x200");
    double e2 = ortho_error(W, 300, 200, 1, 1.5);
    CHECK(e2 < 1e-5, "orthogonal 300x200: |W^T W - g^2 I| = %.3g", e2);
    o.gain = 1.0;
    CHECK(init_weights(W, 1000, 1000, &o, 5, 1) == 0, "orthogonal 1000x1000");
    double e3 = ortho_error(W, 1000, 1000, 0, 1.0);
    CHECK(e3 < 1e-5, "orthogonal 1000x1000: |W W^T - I| = %.3g", e3);
    printf("orthogonal errors: %.2e %.2e %.2e\n", e1, e2, e3);

    free(W);
    free(W2);
    printf("%s: %d failures\n", test_failures ? "FAIL" : "ok", test_failures);
    return test_failures ? 1 : 0;
}
