/* test_watch — the metrics stream's writer and reader, and the watch view,
 * on constructed streams:
 *  - the writer: one whole line a record, schema, kind, time and step
 *    first; numbers as the shortest decimal of their float32, NaN as null;
 *    a new writer ends the line a killed one left unfinished, and a fresh
 *    one starts the file anew;
 *  - the reader: a line waits for its newline; a line that is not a record
 *    is skipped and counted, so is a record of another schema (and said to
 *    be older or newer); a resume record at step S drops the records after
 *    S of every kind; a file started anew is read again from its start;
 *  - the view: the layer table coloured by verdict, a table cut to the
 *    window's height, the stale run said to be possibly killed, a stopped
 *    run followed on, the ETA from the pace of the progress records.
 */
#include "gradscope/common.h"
#include "gradscope/metrics.h"
#include "gradscope/stats.h"
#include "gradscope/watch.h"
#include "test_util.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/gradscope-test-watch.XXXXXX";
static char path[256];

static char *slurp(const char *p)
{
    static char buf[1 << 16];
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static void append(const char *p, const char *text)
{
    FILE *f = fopen(p, "ab");
    fputs(text, f);
    fclose(f);
}

static int count(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_writer(void)
{
    gs_metrics *m = metrics_open(dir, 1);
    CHECK(m != NULL, "metrics_open: %s", gs_last_error());
    metrics_write(m, "progress", 5, json_pack("{s:o, s:o, s:o, s:o}", "loss", metrics_number(0.1f), "lr",
                                              metrics_number(NAN), "big", metrics_number(3.0e38), "tiny",
                                              metrics_number(1.17549435e-38f)));
    metrics_write(m, "end", 5, NULL);
    metrics_close(m);
    const char *text = slurp(path);
    CHECK(count(text, '\n') == 2 && text[strlen(text) - 1] == '\n', "two whole lines: %s", text);
    CHECK(!strncmp(text, "{\"schema\":1,\"kind\":\"progress\",\"time\":", 37), "schema, kind, time first: %s", text);
    CHECK(strstr(text, "\"step\":5,\"loss\":0.1,\"lr\":null,\"big\":3e38,\"tiny\":1.1754944e-38}\n"),
          "shortest float32 decimals, NaN as null: %s", text);

    /* a killed writer's unfinished line: ended by the next writer */
    append(path, "{\"schema\":1,\"kind\":\"progr");
    m = metrics_open(dir, 0);
    metrics_write(m, "start", 0, NULL);
    metrics_close(m);
    text = slurp(path);
    CHECK(strstr(text, "\"progr\n{\"schema\":1,\"kind\":\"start\""), "the torn line ended first: %s", text);
    gs_watch w;
    CHECK(watch_open(&w, path) == 0, "watch_open");
    CHECK(watch_poll(&w, NULL, NULL) == 4, "4 lines");
    CHECK(w.n_records == 3 && w.n_bad == 1, "3 records and the torn line skipped: %lld, %lld", (long long)w.n_records,
          (long long)w.n_bad);
    CHECK(w.progress.n == 1 && w.progress.v[0].loss == 0.1 && isnan(w.progress.v[0].lr), "the progress record read");
    watch_close(&w);

    /* a fresh writer starts the file anew */
    m = metrics_open(dir, 1);
    metrics_write(m, "start", 0, NULL);
    metrics_close(m);
    CHECK(count(slurp(path), '\n') == 1, "fresh: one line");
}

/* "lines" into the model, one at a time; the last `say` */
static char said[1024];
static int feed(gs_watch *w, const char *line) { return watch_feed(w, line, strlen(line), said, sizeof said); }

#define START "{\"schema\":1,\"kind\":\"start\",\"time\":1000,\"step\":0,\"ranks\":2,\"total_steps\":100," \
              "\"steps_per_epoch\":10,\"epochs\":10,\"doctor\":\"advise\",\"layers\":[{\"n_in\":4,\"n_out\":8," \
              "\"activation\":\"relu\"},{\"n_in\":8,\"n_out\":3,\"activation\":\"identity\"}]}"
#define PROGRESS(step, time) "{\"schema\":1,\"kind\":\"progress\",\"time\":" #time ",\"step\":" #step \
                             ",\"epoch\":1,\"loss\":0.5,\"accuracy\":0.75,\"lr\":0.1,\"samples_per_s\":100," \
                             "\"eta\":70}"
#define STATS(step, v0, v1) "{\"schema\":1,\"kind\":\"stats\",\"time\":1010,\"step\":" #step ",\"record_step\":" \
                            #step ",\"grad_norm\":[1e-9,null],\"update_ratio\":[0.001,0.01],\"dead_fraction\":" \
                            "[0,0.75],\"saturated_fraction\":[0,0],\"verdict\":[\"" v0 "\",\"" v1 "\"]," \
                            "\"confirmed\":[\"" v0 "\",null]}"

static void test_reader(void)
{
    gs_watch w;
    unlink(path);
    append(path, "");
    watch_open(&w, path);
    CHECK(feed(&w, START) == W_START && w.have_start && w.n_layers == 2 && w.n_out[0] == 8, "start: %s", said);
    CHECK(feed(&w, PROGRESS(10, 1010)) == W_PROGRESS && strstr(said, "step 10/100 epoch 1 loss 0.5000 acc 0.7500"),
          "progress: %s", said);
    CHECK(feed(&w, STATS(11, "vanishing", "dead")) == W_STATS && w.stats.n == 1, "stats: %s", said);
    CHECK(w.stats.v[0].verdict[0] == GS_V_VANISHING && w.stats.v[0].confirmed[1] == -1 &&
          isnan(w.stats.v[0].grad_norm[1]) && w.stats.v[0].dead[1] == 0.75f, "stats fields");
    CHECK(feed(&w, "{\"schema\":1,\"kind\":\"checkpoint\",\"time\":1011,\"step\":20,\"path\":\"r/ckpt_20.h5\"}") ==
          W_CHECKPOINT, "checkpoint");
    feed(&w, PROGRESS(20, 1020));
    feed(&w, PROGRESS(30, 1030));
    feed(&w, STATS(31, "healthy", "healthy"));
    CHECK(feed(&w, "{\"schema\":1,\"kind\":\"diagnosis\",\"time\":1031,\"step\":31,\"text\":\"  diagnosis step 30: "
                   "layer 0 vanishing -> healthy\"}") == W_DIAGNOSIS && !strcmp(said, "diagnosis step 30: layer 0 "
                   "vanishing -> healthy"), "diagnosis: %s", said);
    feed(&w, "{\"schema\":1,\"kind\":\"eval\",\"time\":1032,\"step\":31,\"on\":\"test\",\"loss\":0.25}");
    CHECK(feed(&w, "{\"schema\":1,\"kind\":\"end\",\"time\":1033,\"step\":31,\"status\":\"stopped\",\"exit\":75}") ==
          W_END && w.ended, "end");

    /* the requeued job resumes from the checkpoint at step 20 */
    feed(&w, START);
    CHECK(!w.ended, "a start clears the end");
    CHECK(feed(&w, "{\"schema\":1,\"kind\":\"resume\",\"time\":1100,\"step\":20,\"reason\":\"checkpoint\",\"path\":"
                   "\"r/ckpt_20.h5\"}") == W_RESUME, "resume");
    CHECK(w.progress.n == 2 && w.progress.v[1].step == 20, "progress after step 20 dropped: %lld",
          (long long)w.progress.n);
    CHECK(w.stats.n == 1 && w.stats.v[0].step == 11, "stats after step 20 dropped");
    CHECK(w.notes.n == 0 && w.evals.n == 0 && w.checkpoints.n == 1, "diagnosis and eval dropped, checkpoint kept");
    CHECK(w.n_dropped == 4 && strstr(said, "resume at step 20 from r/ckpt_20.h5; 4 later records dropped"),
          "4 dropped: %s", said);

    /* lines that are not records of this schema */
    CHECK(feed(&w, "{\"schema\":1,\"kind\":") == -1 && w.n_bad == 1 && strstr(said, "not a record"), "torn: %s", said);
    CHECK(feed(&w, "[1,2]") == -1 && w.n_bad == 2, "an array");
    CHECK(feed(&w, "{\"schema\":1,\"kind\":\"progress\"}") == -1 && w.n_bad == 3 && strstr(said, "no step"),
          "no step: %s", said);
    CHECK(feed(&w, "{\"schema\":0,\"kind\":\"progress\",\"step\":1}") == -1 && w.n_foreign == 1 &&
          strstr(said, "schema 0, written by an older gradscope"), "older schema: %s", said);
    CHECK(feed(&w, "{\"schema\":7,\"kind\":\"progress\",\"step\":1}") == -1 && strstr(said, "a newer gradscope"),
          "newer schema: %s", said);
    CHECK(feed(&w, "{\"schema\":1,\"kind\":\"histogram\",\"step\":1}") == -1 && w.n_unknown == 1 && !said[0],
          "an unknown kind: skipped without a word");
    CHECK(w.progress.n == 2, "nothing of them read");
    watch_close(&w);
}

static void test_follow(void)
{
    gs_watch w;
    unlink(path);
    append(path, START "\n" PROGRESS(10, 1010) "\n{\"schema\":1,\"kind\":\"prog");
    watch_open(&w, path);
    CHECK(watch_poll(&w, NULL, NULL) == 2 && w.progress.n == 1, "two whole lines; the third waits");
    append(path, "ress\",\"time\":1020,\"step\":20,\"loss\":0.4}\n");
    CHECK(watch_poll(&w, NULL, NULL) == 1 && w.progress.n == 2 && w.progress.v[1].loss == 0.4, "the line, finished");
    CHECK(watch_poll(&w, NULL, NULL) == 0, "nothing new");
    /* a new run starts the file anew */
    FILE *f = fopen(path, "wb");
    fputs(START "\n", f);
    fclose(f);
    said[0] = '\0';
    CHECK(watch_poll(&w, NULL, NULL) == 1 && w.progress.n == 0 && w.have_start, "read again from the start");
    watch_close(&w);
}

/* a canvas that keeps the text, and the colour of each character */
static char screen[8192];
static unsigned char colors[8192];
static size_t at;
static void t_text(void *ctx, int color, const char *s)
{
    (void)ctx;
    for (; *s && at < sizeof screen - 1; s++) {
        colors[at] = (unsigned char)color;
        screen[at++] = *s;
    }
    screen[at] = '\0';
}
static void t_newline(void *ctx) { t_text(ctx, W_C_PLAIN, "\n"); }

static void render(const gs_watch *w, int width, int height, double now, double stale)
{
    at = 0;
    screen[0] = '\0';
    gs_canvas c = { .text = t_text, .newline = t_newline, .width = width, .height = height, .utf8 = 1 };
    watch_render(w, "gradscope watch r", now, stale, &c);
}

static int color_of(const char *text)
{
    const char *s = strstr(screen, text);
    return s ? colors[s - screen] : -1;
}

static void test_view(void)
{
    gs_watch w;
    unlink(path);
    append(path, "");
    watch_open(&w, path);
    feed(&w, START);
    feed(&w, PROGRESS(10, 1010));
    feed(&w, STATS(11, "vanishing", "dead"));
    feed(&w, PROGRESS(20, 1020));
    feed(&w, PROGRESS(30, 1030));
    render(&w, 120, 40, 1031, 0);
    CHECK(strstr(screen, "step  30/100 (30 %)   epoch 1/10   ETA 1m10s"), "step, epoch, ETA:\n%s", screen);
    CHECK(strstr(screen, "loss  0.5000") && strstr(screen, "▄▄▄"), "loss with a sparkline:\n%s", screen);
    CHECK(color_of("vanishing\n") == W_C_INFO && color_of("dead\n") == W_C_ALT, "verdicts coloured:\n%s", screen);
    CHECK(strstr(screen, "1.000e-09") && strstr(screen, "8x3") && strstr(screen, "status  running: last record 1s ago"),
          "table and status:\n%s", screen);
    /* no record for long: possibly killed (automatic limit: 60 s here) */
    render(&w, 120, 40, 1030 + 61, 0);
    CHECK(strstr(screen, "no record for 1m01s") && strstr(screen, "may have been killed") &&
          color_of("no record for") == W_C_BAD, "stale:\n%s", screen);
    render(&w, 120, 40, 1030 + 61, 100);
    CHECK(strstr(screen, "running: last record 1m01s ago"), "--stale 100: not yet:\n%s", screen);
    /* a table cut to the window */
    render(&w, 120, 14, 1031, 0);
    CHECK(strstr(screen, "... 2 more layers (a taller window shows them)") && count(screen, '\n') <= 14,
          "cut to 14 lines:\n%s", screen);
    /* a stop for a requeue is followed on; a failure is said */
    feed(&w, "{\"schema\":1,\"kind\":\"end\",\"time\":1040,\"step\":30,\"status\":\"stopped\",\"exit\":75}");
    render(&w, 120, 40, 1100, 0);
    CHECK(strstr(screen, "stopped at step 30 for a requeue (exit 75)") && strstr(screen, "following on"),
          "stopped:\n%s", screen);
    feed(&w, "{\"schema\":1,\"kind\":\"end\",\"time\":1040,\"step\":30,\"status\":\"failed\",\"exit\":5,\"message\":"
             "\"step 30: the loss went non-finite\"}");
    render(&w, 120, 40, 1100, 0);
    CHECK(strstr(screen, "failed at step 30 (exit 5): step 30: the loss went non-finite") &&
          color_of("failed at") == W_C_BAD, "failed:\n%s", screen);
    watch_close(&w);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s", dir, GS_METRICS_FILE);
    test_writer();
    test_reader();
    test_follow();
    test_view();
    unlink(path);
    rmdir(dir);
    if (test_failures) {
        fprintf(stderr, "%d failures\n", test_failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
