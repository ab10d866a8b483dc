/* test_perf_blas_kernel — gradscope runs on the fast OpenBLAS kernel and
 * says which one and why, never keeps a choice of its own whose products
 * are wrong, and never overrides a kernel the user chose.
 *
 * With OPENBLAS_CORETYPE unset on a CPU with AVX-512 (AVX2) that this
 * OpenBLAS does not recognise (it falls back to a generic kernel, as Debian's
 * 0.3.21 does on family 6 model 207), `gradscope blas` and `gradscope train`
 * name SkylakeX (Haswell) and say that gradscope chose it; on a CPU it does
 * recognise, its own kernel is kept and no such note appears. When
 * gradscope's choice fails the GEMM check (made to, with the test-only
 * GRADSCOPE_TEST_BROKEN_KERNEL), OpenBLAS's default is kept and the reason
 * said. With OPENBLAS_CORETYPE=Prescott they name Prescott and say nothing
 * about choosing. Runs the real binary (GRADSCOPE_BIN).
 *
 * It runs other kernels than the environment's, so it skips (77) where
 * OPENBLAS_CORETYPE is set when it starts (a site sets it where other
 * kernels are wrong or crash), and on a CPU with neither AVX-512 nor AVX2.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Run `cmd` under sh, return its stdout+stderr (caller frees) and status. */
static char *capture(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    if (!out) {
        pclose(p);
        return NULL;
    }
    size_t got;
    while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    out[n] = '\0';
    *status = pclose(p);
    return out;
}

static void expect(const char *cmd, const char *must, const char *must_not)
{
    int status = -1;
    char *out = capture(cmd, &status);
    CHECK(out != NULL, "could not run %s", cmd);
    if (!out)
        return;
    CHECK(status == 0, "%s: exit status %d; output:\n%s", cmd, status, out);
    CHECK(strstr(out, must) != NULL, "%s: output lacks \"%s\"; output:\n%s", cmd, must, out);
    if (must_not)
        CHECK(strstr(out, must_not) == NULL, "%s: output has \"%s\"; output:\n%s", cmd, must_not, out);
    printf("ok: %s -> \"%s\"\n", cmd, must);
    free(out);
}

int main(void)
{
    const char *bin = getenv("GRADSCOPE_BIN");
    if (!bin || !*bin) {
        fprintf(stderr, "GRADSCOPE_BIN is not set (run through ctest)\n");
        return 1;
    }
    const char *site = getenv("OPENBLAS_CORETYPE");
    if (site) {
        printf("skipped: OPENBLAS_CORETYPE=%s is set (by the site or the kernel matrix); this test runs other "
               "kernels, which only a machine without a set kernel allows\n", site);
        return 77;
    }
    __builtin_cpu_init();
    const char *fast = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        fast = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        fast = "Haswell";
    if (!fast) {
        printf("skipped: this CPU has neither AVX-512 nor AVX2; there is no faster kernel to choose\n");
        return 77;
    }

    char dir[] = "/tmp/gradscope-kernel.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char ini[sizeof dir + 16];
    snprintf(ini, sizeof ini, "%s/tiny.ini", dir);
    FILE *f = fopen(ini, "w");
    if (!f) {
        perror(ini);
        return 1;
    }
    fputs("[model]\nlayers = 8, 16, 4\nactivation = tanh\ninit = xavier_normal\noutput = softmax\n"
          "[data]\nsynthetic = teacher\nn_train = 128\nn_test = 0\n"
          "[train]\nbatch_size = 32\nepochs = 1\nseed = 1\nlog_every = 100\n[checkpoint]\ndir = \"\"\n",
          f);
    fclose(f);

    /* What this OpenBLAS picks by itself (gradscope told to keep it). */
    char cmd[4096], want[256], deflt[64] = "";
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE -u GRADSCOPE_CORETYPE_SET -u GRADSCOPE_CORETYPE_REJECTED "
                              "GRADSCOPE_KEEP_BLAS_KERNEL=1 '%s' blas 2>&1", bin);
    int status = -1;
    char *out = capture(cmd, &status);
    if (!out || status != 0 || sscanf(out, "kernel %63s", deflt) != 1) {
        CHECK(0, "%s: exit %d, no \"kernel NAME\" line: %s", cmd, status, out ? out : "(no output)");
        free(out);
        return 1;
    }
    free(out);
    static const char *generic[] = { "Prescott", "Core2", "Nehalem", "generic", "unknown", "Sandybridge" };
    int is_generic = 0;
    for (size_t i = 0; i < sizeof generic / sizeof *generic; i++)
        is_generic |= !strcasecmp(deflt, generic[i]);
    printf("OpenBLAS's own choice on this CPU: %s (%s)\n", deflt, is_generic ? "generic" : "native");

    /* Unset: a generic default is replaced by `fast`, and gradscope says so;
     * a native default is kept, with no such note. */
    const char *expect_kernel = is_generic ? fast : deflt;
    const char *unset = "env -u OPENBLAS_CORETYPE -u GRADSCOPE_CORETYPE_SET -u GRADSCOPE_KEEP_BLAS_KERNEL "
                        "-u GRADSCOPE_CORETYPE_REJECTED";
    snprintf(want, sizeof want, "kernel %s\n", expect_kernel);
    snprintf(cmd, sizeof cmd, "%s '%s' blas 2>&1", unset, bin);
    expect(cmd, want, is_generic ? NULL : "chosen by gradscope");
    if (is_generic)
        snprintf(want, sizeof want, "chosen by gradscope: OPENBLAS_CORETYPE was unset and OpenBLAS's default, %s, "
                 "is generic", deflt);
    else
        snprintf(want, sizeof want, "why    OpenBLAS's choice for this CPU");
    expect(cmd, want, NULL);
    expect(cmd, "gemm   products agree with the reference", NULL);
    snprintf(cmd, sizeof cmd, "%s '%s' train '%s' 2>&1", unset, bin, ini);
    snprintf(want, sizeof want, "OpenBLAS kernel %s (%s", expect_kernel,
             is_generic ? "chosen by gradscope" : "OpenBLAS's choice");
    expect(cmd, want, is_generic ? NULL : "chosen by gradscope");

    /* gradscope's choice computing wrong products: OpenBLAS's default stays */
    if (is_generic) {
        snprintf(cmd, sizeof cmd, "%s GRADSCOPE_TEST_BROKEN_KERNEL=%s '%s' blas 2>&1", unset, fast, bin);
        snprintf(want, sizeof want, "kernel %s\n", deflt);
        expect(cmd, want, NULL);
        snprintf(want, sizeof want, "OpenBLAS's default: gradscope's choice, %s, failed its GEMM check", fast);
        expect(cmd, want, NULL);
    }
    /* blas --check says through its status whether the kernel's products are right */
    snprintf(cmd, sizeof cmd, "env OPENBLAS_CORETYPE=Prescott GRADSCOPE_TEST_BROKEN_KERNEL=Prescott '%s' blas --check "
             "> /dev/null 2>&1", bin);
    CHECK(system(cmd) != 0, "blas --check exits 0 for a kernel whose check fails");
    snprintf(cmd, sizeof cmd, "env OPENBLAS_CORETYPE=Prescott '%s' blas --check > /dev/null 2>&1", bin);
    CHECK(system(cmd) == 0, "blas --check fails for Prescott, whose products are right");

    /* The user's (or site's) choice stands, and is named. */
    snprintf(cmd, sizeof cmd, "env -u GRADSCOPE_CORETYPE_SET OPENBLAS_CORETYPE=Prescott '%s' blas 2>&1", bin);
    expect(cmd, "kernel Prescott", "chosen by gradscope");
    expect(cmd, "why    set by OPENBLAS_CORETYPE=Prescott", NULL);
    snprintf(cmd, sizeof cmd, "env -u GRADSCOPE_CORETYPE_SET OPENBLAS_CORETYPE=Prescott '%s' train '%s' 2>&1", bin,
             ini);
    expect(cmd, "OpenBLAS kernel Prescott (set by OPENBLAS_CORETYPE=Prescott)", "chosen by gradscope");

    unlink(ini);
    rmdir(dir);
    printf("%s: %d failures\n", test_failures ? "FAIL" : "ok", test_failures);
    return test_failures ? 1 : 0;
}
