/*
 * test_config.c — the config module: defaults, a full file, --set overrides,
 * the exact write/read round trip, and one clear message (file, line, key)
 * for each kind of bad input. Exit status = number of failed checks (> 0).
 */
#include "gradscope/common.h"
#include "gradscope/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_fail;
static char tmpdir[256];

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            n_fail++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

/* Write `text` to tmpdir/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    if (!fp || fputs(text, fp) < 0 || fclose(fp)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    return path;
}

static const char *full_ini =
    "; a full config: every section, comments, continuation lines\n"
    "[model]\n"
    "layers = 4, 16,\n"
    "    8, 8, 3\n"
    "activation = tanh, relu, leaky_relu   ; one per hidden layer\n"
    "output = softmax\n"
    "init = xavier_normal, he_uniform\n"
    "    orthogonal, zeros   ; no trailing comma above; a comment, here too\n"
    "init_gain = 1.5\n"
    "init_std = 0.02\n"
    "init_range = 0.1\n"
    "init_value = -0.25\n"
    "bias_init = 0.125\n"
    "leaky_slope = 0.2\n"
    "\n"
    "[data]\n"
    "synthetic = none\n"
    "train = data/train set.h5\n"
    "test = data/test.h5\n"
    "x_dataset = /images\n"
    "y_dataset = /labels\n"
    "scale = 0.00392156862745098\n"
    "n_train = 5000000000\n"
    "n_test = 0\n"
    "noise = 0.3\n"
    "data_seed = 18446744073709551615\n"
    "\n"
    "# hash comments work too\n"
    "[train]\n"
    "epochs = 7\n"
    "max_steps = 0\n"
    "batch_size = 256\n"
    "seed = 7\n"
    "shuffle = off\n"
    "eval_every = 0\n"
    "on_nonfinite = skip\n"
    "log_every = 5\n"
    "blas_threads = 2\n"
    "overlap = No\n"
    "watchdog_seconds = 30.5\n"
    "\n"
    "[optimizer]\n"
    "lr = 0.1\n"
    "momentum = 0\n"
    "nesterov = yes\n"
    "weight_decay = 5e-4\n"
    "clip_norm = 1\n"
    "schedule = cosine\n"
    "step_size = 30\n"
    "gamma = 1\n"
    "min_lr = 1e-5\n"
    "\n"
    "[checkpoint]\n"
    "dir = runs/x\n"
    "every_steps = 100\n"
    "every_seconds = 60\n"
    "keep = 1\n"
    "\n"
    "[stats]\n"
    "every_steps = 1\n"
    "vanish_ratio = 0.01\n"
    "explode_ratio = 100\n"
    "explode_norm = 1e9\n"
    "saturated_threshold = 0\n"
    "saturated_fraction = 1\n"
    "dead_fraction = 0.25\n"
    "symmetric_tol = 0\n";

static void test_defaults(void)
{
    gs_config c;
    cfg_defaults(&c);
    CHECK(cfg_validate(&c) == GS_OK, "defaults invalid: %s", gs_last_error());
    CHECK(c.n_sizes == 4 && c.sizes[0] == 2 && c.sizes[1] == 64 && c.sizes[2] == 64 && c.sizes[3] == 3,
          "layers: n_sizes %d", c.n_sizes);
    CHECK(cfg_n_layers(&c) == 3, "n_layers %d", cfg_n_layers(&c));
    CHECK(c.act[0] == GS_ACT_RELU && c.act[1] == GS_ACT_RELU && c.act[2] == GS_ACT_IDENTITY, "act");
    CHECK(c.init[0] == GS_INIT_HE_NORMAL && c.init[2] == GS_INIT_HE_NORMAL, "init");
    CHECK(c.output == GS_OUT_SOFTMAX && c.synthetic == GS_SYNTH_SPIRAL, "enums");
    CHECK(c.init_std == 0.01 && c.init_range == 0.05 && c.leaky_slope == 0.01, "init params");
    CHECK(!strcmp(c.x_name, "/X") && !strcmp(c.y_name, "/y") && c.train[0] == '\0', "names");
    CHECK(c.n_train == 3000 && c.n_test == 1000 && c.data_seed == 1234 && c.noise == 0.1, "data");
    CHECK(c.epochs == 10 && c.max_steps == -1 && c.batch_size == 64 && c.seed == 42 && c.shuffle == 1 &&
          c.eval_every == 1 && c.on_nonfinite == GS_NONFINITE_STOP && c.log_every == 50 &&
          c.blas_threads == 0 && c.overlap == GS_AUTO && c.watchdog_seconds == 600, "train");
    CHECK(c.lr == 0.05 && c.momentum == 0.9 && !c.nesterov && c.weight_decay == 0 && c.clip_norm == 0 &&
          c.schedule == GS_SCHED_CONSTANT && c.step_size == 1000 && c.gamma == 0.1 && c.min_lr == 0 &&
          c.shard == GS_AUTO, "optimizer");
    CHECK(!strcmp(c.dir, "runs/default") && c.ckpt_every_steps == 0 && c.ckpt_every_seconds == 0 && c.keep == 3,
          "checkpoint");
    CHECK(c.stats_every == 10 && c.vanish_ratio == 1e-3 && c.explode_ratio == 1e3 && c.explode_norm == 1e6 &&
          c.saturated_threshold == 0.05 && c.saturated_fraction == 0.5 && c.dead_fraction == 0.5 &&
          c.symmetric_tol == 1e-6, "stats");

    /* an empty file is the defaults */
    gs_config e;
    CHECK(cfg_load(&e, write_file("empty.ini", ""), 0, NULL) == GS_OK, "%s", gs_last_error());
    memcpy(e.source, c.source, sizeof c.source);
    CHECK(!memcmp(&c, &e, sizeof c), "empty file differs from defaults");
}

static void test_full(void)
{
    gs_config c;
    const char *path = write_file("full.ini", full_ini);
    int rc = cfg_load(&c, path, 0, NULL);
    CHECK(rc == GS_OK, "%s", gs_last_error());
    if (rc)
        return;
    CHECK(!strcmp(c.source, path), "source %s", c.source);
    CHECK(c.n_sizes == 5 && c.sizes[0] == 4 && c.sizes[1] == 16 && c.sizes[2] == 8 && c.sizes[3] == 8 &&
          c.sizes[4] == 3 && c.sizes[5] == 0, "layers with a continuation line");
    CHECK(c.act[0] == GS_ACT_TANH && c.act[1] == GS_ACT_RELU && c.act[2] == GS_ACT_LEAKY_RELU &&
          c.act[3] == GS_ACT_IDENTITY, "act list");
    CHECK(c.init[0] == GS_INIT_XAVIER_NORMAL && c.init[1] == GS_INIT_HE_UNIFORM &&
          c.init[2] == GS_INIT_ORTHOGONAL && c.init[3] == GS_INIT_ZEROS, "init list");
    CHECK(c.init_gain == 1.5 && c.init_std == 0.02 && c.init_range == 0.1 && c.init_value == -0.25 &&
          c.bias_init == 0.125 && c.leaky_slope == 0.2, "model numbers");
    CHECK(c.synthetic == GS_SYNTH_NONE && !strcmp(c.train, "data/train set.h5") && !strcmp(c.test, "data/test.h5") &&
          !strcmp(c.x_name, "/images") && !strcmp(c.y_name, "/labels"), "data strings");
    CHECK(c.scale == 0.00392156862745098 && c.n_train == 5000000000LL && c.n_test == 0 && c.noise == 0.3 &&
          c.data_seed == UINT64_MAX, "data numbers");
    CHECK(c.epochs == 7 && c.max_steps == 0 && c.batch_size == 256 && c.seed == 7 && c.shuffle == 0 &&
          c.eval_every == 0 && c.on_nonfinite == GS_NONFINITE_SKIP && c.log_every == 5 && c.blas_threads == 2 &&
          c.overlap == 0 && c.watchdog_seconds == 30.5, "train");
    CHECK(c.lr == 0.1 && c.momentum == 0 && c.nesterov == 1 && c.weight_decay == 5e-4 && c.clip_norm == 1 &&
          c.schedule == GS_SCHED_COSINE && c.step_size == 30 && c.gamma == 1 && c.min_lr == 1e-5, "optimizer");
    CHECK(!strcmp(c.dir, "runs/x") && c.ckpt_every_steps == 100 && c.ckpt_every_seconds == 60 && c.keep == 1,
          "checkpoint");
    CHECK(c.stats_every == 1 && c.vanish_ratio == 0.01 && c.explode_ratio == 100 && c.explode_norm == 1e9 &&
          c.saturated_threshold == 0 && c.saturated_fraction == 1 && c.dead_fraction == 0.25 &&
          c.symmetric_tol == 0, "stats");
}

static void test_overrides(void)
{
    gs_config c;
    char *sets[] = {"optimizer.lr=0.2", " train . batch_size = 128 ", "model.layers=4,32,3",
                    "model.activation=sigmoid", "model.init=normal"};
    int rc = cfg_load(&c, write_file("full.ini", full_ini), 5, sets);
    CHECK(rc == GS_OK, "%s", gs_last_error());
    CHECK(c.lr == 0.2 && c.batch_size == 128, "lr %g batch %lld", c.lr, (long long)c.batch_size);
    CHECK(c.n_sizes == 3 && c.sizes[1] == 32 && c.sizes[3] == 0 && c.sizes[4] == 0, "layers override");
    CHECK(c.act[0] == GS_ACT_SIGMOID && c.act[1] == GS_ACT_IDENTITY && c.act[2] == 0, "act override");
    CHECK(c.init[0] == GS_INIT_NORMAL && c.init[1] == GS_INIT_NORMAL && c.init[2] == 0, "init override");

    /* no file: defaults and overrides */
    char *one[] = {"stats.every_steps=3"};
    CHECK(cfg_load(&c, NULL, 1, one) == GS_OK && c.stats_every == 3, "%s", gs_last_error());

    /* a key that gradscope may decide: auto, or any spelling of a boolean */
    char *tri[][1] = {{"train.overlap=AUTO"}, {"train.overlap=on"}, {"train.overlap=0"},
                      {"optimizer.shard=auto"}, {"optimizer.shard=yes"}, {"optimizer.shard=false"}};
    const int tri_want[] = {GS_AUTO, 1, 0, GS_AUTO, 1, 0};
    for (int i = 0; i < 6; i++) {
        const int *field = i < 3 ? &c.overlap : &c.shard;
        CHECK(cfg_load(&c, NULL, 1, tri[i]) == GS_OK && *field == tri_want[i], "%s: %d (%s)", tri[i][0], *field,
              gs_last_error());
    }

    /* a failed load leaves the struct alone */
    gs_config before;
    cfg_defaults(&c);
    memcpy(&before, &c, sizeof c);
    char *bad[] = {"optimizer.lr=0.5", "optimizer.lr=-1"};
    CHECK(cfg_load(&c, NULL, 2, bad) == GS_ERR_USAGE, "negative lr accepted");
    CHECK(!memcmp(&before, &c, sizeof c), "failed load changed the struct");
}

/* Write, read back, compare bytes (cfg_defaults zeroes the padding) and text. */
static void check_round_trip(const char *what, const gs_config *c)
{
    size_t n = cfg_write_ini(c, NULL, 0);
    char *text = malloc(n + 1), *again = malloc(n + 1);
    if (!text || !again)
        exit(1);
    CHECK(cfg_write_ini(c, text, n + 1) == n && strlen(text) == n, "%s: write length", what);
    gs_config r;
    int rc = cfg_load_string(&r, text, "stored");
    CHECK(rc == GS_OK, "%s: reading the written config: %s\n%s", what, gs_last_error(), text);
    CHECK(!strcmp(r.source, "stored"), "%s: source %s", what, r.source);
    memcpy(r.source, c->source, sizeof r.source);
    CHECK(!memcmp(&r, c, sizeof r), "%s: round trip differs:\n%s", what, text);
    CHECK(cfg_write_ini(&r, again, n + 1) == n && !strcmp(text, again), "%s: text differs", what);
    for (const char *line = text; *line; line = strchr(line, '\n') + 1)
        CHECK(strcspn(line, "\n") < 120, "%s: written line too long: %.40s", what, line);
    free(text);
    free(again);
}

static void test_round_trip(void)
{
    gs_config c;
    cfg_defaults(&c);
    check_round_trip("defaults", &c);
    if (cfg_load(&c, write_file("full.ini", full_ini), 0, NULL) == GS_OK)
        check_round_trip("full", &c);

    /* the largest network and a path longer than inih's line buffer */
    char *text = malloc(8192);
    char *p = text;
    p += sprintf(p, "[model]\nlayers = 2");
    for (int i = 0; i < GS_MAX_LAYERS; i++)
        p += sprintf(p, ",%s%d", i % 20 == 19 ? "\n  " : " ", 100000 + i);
    p += sprintf(p, "\ninit = uniform, ");
    for (int i = 1; i < GS_MAX_LAYERS; i++)
        p += sprintf(p, "%s%s", i % 10 == 0 ? "\n  " : "", i % 2 ? "normal, " : "orthogonal, ");
    p -= 2; /* the last ", " */
    p += sprintf(p, "\n[data]\ntest = /scratch");
    for (int i = 0; i < 40; i++)
        p += sprintf(p, "\n   /dir%02d;x#y", i);
    sprintf(p, "\n");
    int rc = cfg_load_string(&c, text, "big");
    CHECK(rc == GS_OK, "big config: %s", gs_last_error());
    if (rc == GS_OK) {
        CHECK(c.n_sizes == GS_MAX_LAYERS + 1 && c.sizes[GS_MAX_LAYERS] == 100000 + GS_MAX_LAYERS - 1, "big layers");
        CHECK(c.init[0] == GS_INIT_UNIFORM && c.init[1] == GS_INIT_NORMAL && c.init[2] == GS_INIT_ORTHOGONAL &&
              c.init[GS_MAX_LAYERS - 1] == GS_INIT_NORMAL, "big init list");
        CHECK(strlen(c.test) == 8 + 40 * 10 && !strncmp(c.test, "/scratch/dir00;x#y/dir01", 24), "long path: %s", c.test);
        check_round_trip("big", &c);
    }
    free(text);

    /* a buffer that is too small gets a terminated prefix */
    char small[16];
    cfg_defaults(&c);
    size_t n = cfg_write_ini(&c, small, sizeof small);
    CHECK(n > sizeof small && strlen(small) == sizeof small - 1, "truncation: n %zu", n);
}

typedef struct {
    const char *what;
    const char *ini;      /* NULL: no file */
    const char *set;      /* one override, or NULL */
    const char *want[5];  /* substrings of the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"auto where a boolean is due", NULL, "train.shuffle=auto", {"shuffle", "not a boolean", "true or false"}},
    {"overlap neither auto nor a boolean", NULL, "train.overlap=maybe",
     {"overlap", "not auto or a boolean", "auto, true or false"}},
    {"unknown section", "[model]\nlayers = 2, 8, 3\n\n[optimiser]\nlr = 1\n", NULL,
     {"bad.ini:4: ", "unknown section [optimiser]", "[optimizer]"}},
    {"unknown key", "[model]\nlayers = 2, 8, 3\nwidths = 8\n", NULL,
     {"bad.ini:3: ", "unknown key [model] widths", "keys of [model] are: layers, activation"}},
    {"key outside a section", "lr = 0.1\n[model]\n", NULL, {"bad.ini:1: ", "lr", "outside any section"}},
    {"malformed number", "[optimizer]\nmomentum = 0.5\nlr = 0.1x\n", NULL,
     {"bad.ini:3: ", "[optimizer] lr = 0.1x", "not a number", "> 0"}},
    {"lr = 0", "[optimizer]\nlr = 0\n", NULL, {"bad.ini:2: ", "[optimizer] lr = 0", "must be > 0"}},
    {"lr < 0", "\n[optimizer]\nlr = -1\n", NULL, {"bad.ini:3: [optimizer] lr = -1: must be > 0"}},
    {"lr not finite", "[optimizer]\nlr = 1e999\n", NULL, {"bad.ini:2: ", "lr = 1e999", "finite"}},
    {"lr nan", "[optimizer]\nlr = nan\n", NULL, {"bad.ini:2: ", "lr = nan", "finite"}},
    {"momentum = 1", "[optimizer]\nmomentum = 1\n", NULL, {"bad.ini:2: ", "momentum = 1", "must be >= 0 and < 1"}},
    {"batch_size = 0", "[train]\nepochs = 1\nbatch_size = 0\n", NULL,
     {"bad.ini:3: ", "[train] batch_size = 0", "must be >= 1"}},
    {"int overflow", "[train]\nepochs = 99999999999\n", NULL, {"bad.ini:2: ", "epochs", "out of range"}},
    {"negative seed", "[train]\nseed = -1\n", NULL, {"bad.ini:2: ", "seed = -1", "unsigned"}},
    {"layer of width 0", "[model]\nlayers = 2, 0, 3\n", NULL, {"bad.ini:2: ", "[model] layers", "entry 2 is 0", ">= 1"}},
    {"one layer", "[model]\nlayers = 5\n", NULL, {"bad.ini:2: ", "[model] layers = 5", "at least 2"}},
    {"too many layers", "[model]\nlayers = 2" /* + 257 entries, built below */, NULL, {"bad.ini:2: ", "layers", "more than 257"}},
    {"empty list entry", "[model]\nlayers = 2, , 3\n", NULL, {"bad.ini:2: ", "layers", "entry 2 is empty"}},
    {"unknown activation", "[model]\nactivation = relu6\n", NULL,
     {"bad.ini:2: ", "[model] activation = relu6", "relu6", "sigmoid, tanh, relu, leaky_relu, identity"}},
    {"unknown init", "[model]\ninit = glorot\n", NULL, {"bad.ini:2: ", "[model] init = glorot", "he_normal"}},
    {"activation list too long", "[model]\nlayers = 2, 8, 8, 3\nactivation = relu, tanh, relu\n", NULL,
     {"bad.ini:3: ", "[model] activation = relu, tanh, relu", "[model] layers = 2, 8, 8, 3 (", "bad.ini:2)", "expected one name for all, or 2"}},
    {"init list too short", "[model]\ninit = zeros, normal\n", NULL,
     {"bad.ini:2: ", "[model] init = zeros, normal", "[model] layers", "or 3"}},
    {"syntax error", "[train]\nepochs = 3\nthis is not ini\nseed = 1\n", NULL,
     {"bad.ini:3: ", "syntax error", "this is not ini"}},
    {"unclosed section", "[train\nepochs = 3\n", NULL, {"bad.ini:1: ", "syntax error", "[train"}},
    {"first error wins", "[optimizer]\nlr = abc\nnot ini\n", NULL, {"bad.ini:2: ", "lr = abc"}},
    {"bad bool", "[train]\nshuffle = maybe\n", NULL, {"bad.ini:2: ", "[train] shuffle = maybe", "true or false"}},
    {"bad enum", "[model]\noutput = sigmoid\n", NULL, {"bad.ini:2: ", "output = sigmoid", "softmax, linear"}},
    {"key given twice", "[optimizer]\nlr = 0.1\n\nlr = 0.2\n", NULL, {"bad.ini:4: ", "lr", "twice", "line 2"}},
    {"scalar continued", "[optimizer]\nlr = 0.1\n  momentum = 0.5\n", NULL,
     {"bad.ini:3: ", "[optimizer] lr", "remove the indentation"}},
    {"line too long", "[data]\ntrain = " /* + 300 characters, built below */, NULL,
     {"bad.ini:2: ", "characters long", "indented lines"}},
    {"softmax needs 2 outputs", "[model]\nlayers = 2, 8, 1\n", NULL,
     {"bad.ini:2: ", "[model] layers = 2, 8, 1", "output = softmax (default)", "at least 2"}},
    {"spiral needs 2 inputs", "[model]\nlayers = 784, 10\n", NULL,
     {"bad.ini:2: ", "[model] layers = 784, 10", "synthetic = spiral (default)"}},
    {"synthetic = none needs train", "[data]\nsynthetic = none\n", NULL,
     {"bad.ini:2: ", "[data] synthetic = none", "[data] train"}},
    {"cosine floor above lr", "[optimizer]\nschedule = cosine\nlr = 0.01\nmin_lr = 0.1\n", NULL,
     {"bad.ini:4: ", "min_lr", "[optimizer] lr = 0.01 (", "bad.ini:3)"}},
    {"--set unknown key", NULL, "optimizer.lrate=0.1", {"--set optimizer.lrate=0.1: ", "unknown key [optimizer] lrate"}},
    {"--set unknown section", NULL, "optim.lr=0.1", {"--set optim.lr=0.1: ", "unknown section [optim]"}},
    {"--set without =", NULL, "optimizer.lr", {"--set optimizer.lr: ", "'='"}},
    {"--set without .", NULL, "lr=0.1", {"--set lr=0.1: ", "'.'"}},
    {"--set bad number", NULL, "optimizer.lr=abc", {"--set optimizer.lr=abc: ", "lr = abc", "not a number"}},
    {"--set string INI cannot keep", NULL, "data.train=a ;b", {"--set data.train=a ;b: ", "comment"}},
    {"--set layers vs file list", "[model]\nactivation = relu, tanh\n", "model.layers=2,3",
     {"bad.ini:2: ", "[model] activation = relu, tanh", "(--set model.layers=2,3)", "no hidden layer"}},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *t = &bad_cases[i];
        char ini[2048];
        snprintf(ini, sizeof ini, "%s", t->ini ? t->ini : "");
        if (!strcmp(t->what, "too many layers"))
            for (int j = 0; j < GS_MAX_LAYERS + 1; j++)
                strcat(ini, j % 30 == 29 ? ",\n 5" : ", 5");
        if (!strcmp(t->what, "line too long"))
            for (int j = 0; j < 30; j++)
                strcat(ini, "/abcdefghi");
        const char *path = t->ini ? write_file("bad.ini", ini) : NULL;
        char *sets[1] = {(char *)t->set};
        gs_config c;
        gs_clear_error();
        int rc = cfg_load(&c, path, t->set ? 1 : 0, sets);
        const char *msg = gs_last_error();
        CHECK(rc == GS_ERR_USAGE, "%s: status %d, message: %s", t->what, rc, msg);
        for (int j = 0; j < 5 && t->want[j]; j++)
            CHECK(strstr(msg, t->want[j]), "%s: message lacks \"%s\": %s", t->what, t->want[j], msg);
        if (rc)
            printf("  %-30s %s\n", t->what, msg);
    }

    gs_config c;
    int rc = cfg_load(&c, "/nonexistent/run.ini", 0, NULL);
    CHECK(rc == GS_ERR_USAGE && strstr(gs_last_error(), "/nonexistent/run.ini") &&
          strstr(gs_last_error(), "No such file"), "missing file: %d %s", rc, gs_last_error());
    rc = cfg_load(&c, tmpdir, 0, NULL);
    CHECK(rc == GS_ERR_USAGE && strstr(gs_last_error(), tmpdir), "directory: %d %s", rc, gs_last_error());

    /* cfg_validate on a struct built in code */
    cfg_defaults(&c);
    c.clip_norm = -1;
    CHECK(cfg_validate(&c) == GS_ERR_USAGE && strstr(gs_last_error(), "[optimizer] clip_norm = -1: must be >= 0"),
          "validate: %s", gs_last_error());
    cfg_defaults(&c);
    c.act[cfg_n_layers(&c) - 1] = GS_ACT_RELU;
    CHECK(cfg_validate(&c) == GS_ERR_USAGE && strstr(gs_last_error(), "activation"), "validate act: %s",
          gs_last_error());
}

static void test_names_and_doc(void)
{
    CHECK(!strcmp(cfg_act_name(GS_ACT_LEAKY_RELU), "leaky_relu") && !strcmp(cfg_act_name(GS_ACT_IDENTITY), "identity"),
          "act names");
    CHECK(!strcmp(cfg_init_name(GS_INIT_HE_NORMAL), "he_normal") && !strcmp(cfg_init_name(GS_INIT_ORTHOGONAL), "orthogonal"),
          "init names");
    CHECK(!strcmp(cfg_output_name(GS_OUT_LINEAR), "linear") && !strcmp(cfg_act_name(GS_N_ACT), "?"), "names");

    /* the reference: a row for every key written by cfg_write_ini */
    char path[512];
    snprintf(path, sizeof path, "%s/doc.md", tmpdir);
    fflush(stdout);
    int saved = dup(1);
    if (saved < 0 || !freopen(path, "w", stdout))
        exit(1);
    cfg_print_doc();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    FILE *fp = fopen(path, "r");
    char *doc = calloc(1, 65536), ini[8192];
    size_t len = fp ? fread(doc, 1, 65535, fp) : 0;
    if (fp)
        fclose(fp);
    gs_config c;
    cfg_defaults(&c);
    cfg_write_ini(&c, ini, sizeof ini);
    int n_keys = 0;
    char section[64] = "";
    for (char *line = strtok(ini, "\n"); line; line = strtok(NULL, "\n")) {
        char key[64], row[160];
        if (sscanf(line, "[%63[^]]]", section) == 1)
            continue;
        if (sscanf(line, "%63s =", key) != 1)
            continue;
        snprintf(row, sizeof row, "| %s | %s | `", section, key);
        CHECK(strstr(doc, row), "doc has no row %s", row);
        n_keys++;
    }
    CHECK(len > 0 && n_keys == 91, "doc: %zu bytes, %d keys", len, n_keys);
    CHECK(strstr(doc, "| optimizer | lr | `0.05` | number > 0 | learning rate |"), "doc row for lr");
    free(doc);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/gs_config_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_full();
    test_overrides();
    test_round_trip();
    test_errors();
    test_names_and_doc();

    const char *files[] = {"empty.ini", "full.ini", "bad.ini", "doc.md"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    if (n_fail)
        fprintf(stderr, "test_config: %d check(s) failed\n", n_fail);
    else
        printf("test_config: all checks passed\n");
    return n_fail ? 1 : 0;
}
