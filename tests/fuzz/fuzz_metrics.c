/*
 * fuzz_metrics.c — the metrics stream reader (watch.h) on any bytes: the
 * file followed through watch_poll (whole lines only, the last one left
 * waiting), every line parsed into a run's state, resume records applied,
 * and the view drawn on a small canvas and on a large one. Checked besides
 * "no crash": every line is counted once, as a record or as skipped.
 */
#include "gradscope/watch.h"
#include "fuzz_util.h"

static void text(void *ctx, int color, const char *s)
{
    (void)color;
    *(size_t *)ctx += strlen(s);
}
static void newline(void *ctx) { *(size_t *)ctx += 1; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write(0, "metrics.jsonl", data, size);
    static gs_watch w; /* (large) */
    if (watch_open(&w, path) != 0)
        return 0;
    watch_poll(&w, NULL, NULL);
    if (w.n_records + w.n_bad + w.n_foreign + w.n_unknown != w.n_lines) {
        fprintf(stderr, "%lld lines, but %lld records + %lld bad + %lld of another schema + %lld unknown\n",
                (long long)w.n_lines, (long long)w.n_records, (long long)w.n_bad, (long long)w.n_foreign,
                (long long)w.n_unknown);
        abort();
    }
    size_t drawn = 0;
    gs_canvas small = { .text = text, .newline = newline, .ctx = &drawn, .width = 20, .height = 6, .utf8 = 1 };
    gs_canvas large = { .text = text, .newline = newline, .ctx = &drawn, .width = 400, .height = 1000, .utf8 = 0 };
    watch_render(&w, "fuzz", 2e9, 0, &small);
    watch_render(&w, "fuzz", 2e9, 5, &large);
    watch_close(&w);
    return 0;
}
