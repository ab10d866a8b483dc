/*
 * fuzz_config.c — the INI parser and validator (cfg_load_string) on any
 * bytes. Property checked besides "no crash": a config that loads writes
 * back (cfg_write_ini) to text that loads again to the same effective
 * config, which is what a checkpoint's stored config relies on.
 */
#include "gradscope/common.h"
#include "gradscope/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gs_config cfg, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cfg_defaults(&cfg);
    if (cfg_load_string(&cfg, text, "fuzz.ini") == 0) {
        size_t need = cfg_write_ini(&cfg, NULL, 0) + 1;
        char *ini = malloc(need), *ini2 = malloc(need + 1);
        if (!ini || !ini2)
            abort();
        cfg_write_ini(&cfg, ini, need);
        cfg_defaults(&again);
        if (cfg_load_string(&again, ini, "written.ini") != 0) {
            fprintf(stderr, "written config does not load back: %s\n---\n%s---\n", gs_last_error(), ini);
            abort();
        }
        size_t need2 = cfg_write_ini(&again, ini2, need + 1);
        if (need2 != need - 1 || strcmp(ini, ini2) != 0) {
            fprintf(stderr, "config round trip differs:\n---\n%s---\n%s---\n", ini, ini2);
            abort();
        }
        free(ini);
        free(ini2);
    }
    free(text);
    return 0;
}
