/*
 * cmd_watch.c — `gradscope watch RUN_DIR [--once] [--stale SECONDS] [--interval SECONDS]`:
 * a run followed through its metrics stream (watch.h).
 *
 * In a terminal: a full-screen view (curses, in colour) redrawn as the
 * stream grows, until an end record says the run finished or failed (a
 * stop for a requeue keeps it following), or `q` / Ctrl-C; on a run's end
 * the last view stays on the screen. Without a terminal: one plain line
 * per record, no escape codes. --once: the state now, as plain text.
 * Exit status: that of the run where its end record ended the watch, 0
 * where the user quit or --once printed, 2 for a wrong command line, 4
 * where there is no metrics stream to read.
 */
#include "gradscope/ckpt.h"
#include "gradscope/commands.h"
#include "gradscope/common.h"
#include "gradscope/metrics.h"
#include "gradscope/watch.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: gradscope watch RUN_DIR [--once] [--stale SECONDS] [--interval SECONDS]\n"
    "  RUN_DIR            a run's [checkpoint] dir (its metrics.jsonl), or a metrics.jsonl file\n"
    "  --once             print the run's state now, as plain text, and exit\n"
    "  --stale SECONDS    say that the run may have been killed after this long without a record\n"
    "                     (default: 5 times the longest gap between its records, at least 60 s)\n"
    "  --interval SECONDS how often to look for new records (default 0.5)\n"
    "In a terminal: a live view; q or Ctrl-C quits. Otherwise one plain line per record.\n";

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* RUN_DIR (or a file) to the stream's path; 0, or GS_ERR_CKPT with one
 * line that says what is there instead. */
static int stream_path(const char *arg, char *path, size_t n)
{
    struct stat sb;
    if (stat(arg, &sb) != 0)
        return gs_error(GS_ERR_CKPT, "%s: %s", arg, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(path, n, "%s", arg);
        return 0;
    }
    snprintf(path, n, "%s/%s", arg, GS_METRICS_FILE);
    if (stat(path, &sb) == 0)
        return 0;
    gs_run_dir rd;
    ckpt_run_dir(arg, &rd);
    if (rd.n_ckpt + rd.n_best + rd.n_incident > 0)
        return gs_error(GS_ERR_CKPT, "%s holds checkpoints but no %s: its run was trained by a gradscope without "
                        "the metrics stream; `gradscope inspect %s` shows its newest checkpoint", arg,
                        GS_METRICS_FILE, arg);
    return gs_error(GS_ERR_CKPT, "%s holds no %s: it is not a run directory, or its run has not started yet "
                    "(training writes the stream as it starts)", arg, GS_METRICS_FILE);
}

/* The watch's exit status where the run's end record ended it: the run's. */
static int exit_of(const gs_watch *w)
{
    if (!strcmp(w->end_status, "finished"))
        return 0;
    return w->end_exit > 0 && w->end_exit < 126 ? w->end_exit : GS_ERR_RUNTIME;
}

/* ---- plain text ------------------------------------------------------------------ */

static void file_text(void *ctx, int color, const char *s)
{
    (void)color;
    fputs(s, ctx);
}

static void file_newline(void *ctx) { fputc('\n', ctx); }

static void print_view(const gs_watch *w, const char *title, double stale_after)
{
    struct winsize ws;
    const int tty = isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0;
    gs_canvas c = { .text = file_text, .newline = file_newline, .ctx = stdout, .width = tty ? ws.ws_col : 100,
                    .height = 1 << 30, .utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8") };
    watch_render(w, title, wall_clock(), stale_after, &c);
    fflush(stdout);
}

static void say_line(void *ctx, const char *text)
{
    (void)ctx;
    printf("%s\n", text);
    fflush(stdout);
}

/* No terminal: a line per record as it comes, and one when the records
 * stop coming. */
static int follow_plain(gs_watch *w, double stale_after, double interval)
{
    int stale_said = 0;
    for (;;) {
        if (w->ended && strcmp(w->end_status, "stopped"))
            return exit_of(w);
        if (interrupted)
            return 0;
        struct timespec ts = { (time_t)interval, (long)(fmod(interval, 1) * 1e9) };
        nanosleep(&ts, NULL);
        const int got = watch_poll(w, say_line, NULL);
        if (got < 0) {
            fprintf(stderr, "gradscope watch: %s\n", gs_last_error());
            return GS_ERR_RUNTIME;
        }
        stale_said &= got == 0;
        char status[768];
        int stale;
        watch_status(w, wall_clock(), stale_after, status, sizeof status, &stale);
        if (stale && !stale_said) {
            say_line(NULL, status);
            stale_said = 1;
        }
    }
}

/* ---- the terminal ---------------------------------------------------------------- */

static void curses_text(void *ctx, int color, const char *s)
{
    (void)ctx;
    static const attr_t extra[W_N_COLORS] = { [W_C_TITLE] = A_BOLD, [W_C_DIM] = A_DIM, [W_C_BAD] = A_BOLD };
    attrset(COLOR_PAIR(color) | extra[color]);
    addstr(s);
    attrset(A_NORMAL);
}

static void curses_newline(void *ctx)
{
    (void)ctx;
    int y, x;
    getyx(stdscr, y, x);
    (void)x;
    move(y + 1, 0);
}

static void draw(const gs_watch *w, const char *title, double stale_after, double interval)
{
    int rows, cols;
    getmaxyx(stdscr, rows, cols);
    erase();
    gs_canvas c = { .text = curses_text, .newline = curses_newline, .width = cols, .height = rows - 1,
                    .utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8") };
    watch_render(w, title, wall_clock(), stale_after, &c);
    attrset(COLOR_PAIR(W_C_DIM) | A_DIM);
    mvprintw(rows - 1, 0, "q quits; following %.*s every %gs", cols > 40 ? cols - 40 : 0, w->path, interval);
    attrset(A_NORMAL);
    refresh();
}

static int follow_terminal(gs_watch *w, const char *title, double stale_after, double interval)
{
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) /* (a terminal curses does not know: plain lines, then) */
        return follow_plain(w, stale_after, interval);
    cbreak();
    noecho();
    curs_set(0);
    keypad(stdscr, TRUE);
    if (has_colors()) {
        start_color();
        use_default_colors();
        static const short fg[W_N_COLORS] = { -1, -1, -1, COLOR_GREEN, COLOR_YELLOW, COLOR_RED, COLOR_CYAN,
                                              COLOR_MAGENTA };
        for (int i = 1; i < W_N_COLORS; i++)
            init_pair((short)i, fg[i], -1);
    }
    timeout((int)(interval * 1000));
    int rc = 0, done = 0;
    while (!done) {
        if (watch_poll(w, NULL, NULL) < 0) {
            rc = GS_ERR_RUNTIME;
            break;
        }
        draw(w, title, stale_after, interval);
        if (w->ended && strcmp(w->end_status, "stopped")) {
            rc = exit_of(w);
            break;
        }
        const int key = getch();
        done = interrupted || key == 'q' || key == 'Q';
    }
    endwin();
    delscreen(scr);
    if (rc == GS_ERR_RUNTIME && !w->ended)
        fprintf(stderr, "gradscope watch: %s\n", gs_last_error());
    else if (!done) /* the run ended: its last view stays on the screen */
        print_view(w, title, stale_after);
    return rc;
}

int cmd_watch(int argc, char **argv)
{
    const char *dir = NULL;
    int once = 0;
    double stale_after = 0, interval = 0.5;
    for (int i = 0; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--once"))
            once = 1;
        else if ((!strcmp(argv[i], "--stale") || !strcmp(argv[i], "--interval")) && i + 1 < argc) {
            const double v = strtod(argv[i + 1], &end);
            if (end == argv[i + 1] || *end || !(v > 0) || v > 1e6) {
                fprintf(stderr, "gradscope watch: %s %s: expected a number of seconds > 0\n%s", argv[i], argv[i + 1],
                        usage);
                return GS_ERR_USAGE;
            }
            *(!strcmp(argv[i], "--stale") ? &stale_after : &interval) = v;
            i++;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "gradscope watch: unexpected argument '%s'%s\n%s", argv[i],
                    !strcmp(argv[i], "--stale") || !strcmp(argv[i], "--interval") ? " (needs a value)" : "", usage);
            return GS_ERR_USAGE;
        } else
            dir = argv[i];
    }
    if (!dir) {
        fprintf(stderr, "gradscope watch: no run directory given\n%s", usage);
        return GS_ERR_USAGE;
    }
    setlocale(LC_ALL, "");
    static char path[GS_PATH_MAX + 64];
    static gs_watch w; /* (large) */
    if (stream_path(dir, path, sizeof path) || watch_open(&w, path)) {
        fprintf(stderr, "gradscope watch: %s\n", gs_last_error());
        return GS_ERR_CKPT;
    }
    const int tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    const int plain = !once && !tty;
    int rc = watch_poll(&w, NULL, NULL) < 0 ? GS_ERR_RUNTIME : 0;
    if (!rc && w.n_records == 0 && w.n_lines > 0) { /* lines, and not one record this gradscope reads */
        if (w.n_foreign)
            fprintf(stderr, "gradscope watch: %s: its records are of schema %d, written by %s gradscope; this one "
                    "reads schema %d\n", path, w.foreign_schema,
                    w.foreign_schema < GS_METRICS_SCHEMA ? "an older" : "a newer", GS_METRICS_SCHEMA);
        else
            fprintf(stderr, "gradscope watch: %s: none of its %lld line%s is a record of a metrics stream\n", path,
                    (long long)w.n_lines, GS_PLURAL(w.n_lines));
        watch_close(&w);
        return GS_ERR_CKPT;
    }
    if (!rc && plain) { /* a line for each record there is (read again: the check above says nothing) */
        watch_reset(&w);
        rc = watch_poll(&w, say_line, NULL) < 0 ? GS_ERR_RUNTIME : 0;
    }
    if (rc) {
        fprintf(stderr, "gradscope watch: %s\n", gs_last_error());
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);   /* (curses restores the terminal on every way out) */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        char title[GS_PATH_MAX + 80];
        snprintf(title, sizeof title, "gradscope watch %s", dir);
        if (once)
            print_view(&w, title, stale_after);
        else if (plain)
            rc = follow_plain(&w, stale_after, interval);
        else
            rc = follow_terminal(&w, title, stale_after, interval);
    }
    watch_close(&w);
    return rc;
}
