/*
 * config_keys.h — inside the config module: the key table and what reads it
 * (shared by config_keys.c, which owns the table and each value's parsing,
 * checking and formatting, and config.c, which reads INI text and --set).
 */
#ifndef GRADSCOPE_CONFIG_KEYS_H
#define GRADSCOPE_CONFIG_KEYS_H

#include "gradscope/config.h"

#include <stddef.h>

#define CFG_VALUE_MAX 4096   /* one value, continuation lines included */
#define CFG_FILE_MAX (1 << 20)
#define WRAP_COLUMN 100      /* cfg_write_ini keeps lines well under inih's 200 */
#define INI_LINE_MAX 190     /* longest line the validator lets the writer produce */
#define CFG_N_KEYS 85  /* entries of cfg_keys (checked where the table is defined) */

typedef enum {
    T_INT, T_INT64, T_UINT64, T_DOUBLE, T_BOOL, T_STRING, T_ENUM,
    T_SIZES,  /* `layers`: int list into sizes[] and n_sizes */
    T_ACTS,   /* one name for all hidden layers, or one per hidden layer */
    T_NORMS,  /* the same, for the normalizations */
    T_INITS,  /* one name for all weight layers, or one per weight layer */
    T_HIDDEN_DOUBLES /* one number for all hidden layers, or one per hidden layer (in range) */
} key_type;

/* lo <= v <= hi, or lo < v / v < hi when the bound is open; +-INFINITY = none */
typedef struct { double lo, hi; unsigned char lo_open, hi_open; } key_range;

typedef struct {
    const char *section;
    const char *key;
    key_type type;
    size_t offset;             /* of the field in gs_config */
    size_t size;               /* of the field (capacity of a string) */
    const char *def;           /* default, as INI text */
    key_range range;           /* numbers, and each entry of `layers` */
    const char *const *names;  /* enum values in enum order, NULL-terminated */
    const char *doc;
} cfg_key;

extern const cfg_key cfg_keys[CFG_N_KEYS];

/* Lists of names (T_ACTS, T_NORMS, T_INITS) and of numbers (T_HIDDEN_DOUBLES):
 * how many entries the network has for them. */
int cfg_list_len(const cfg_key *k, const gs_config *cfg);
static inline int cfg_is_name_list(const cfg_key *k) { return k->type == T_ACTS || k->type == T_NORMS || k->type == T_INITS; }
static inline int cfg_is_list(const cfg_key *k) { return cfg_is_name_list(k) || k->type == T_HIDDEN_DOUBLES; }

/* A bounded string builder that, like snprintf, counts what did not fit. */
typedef struct { char *buf; size_t cap, len, line_start; } sbuf;

void cfg_sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cfg_key_parse(const cfg_key *k, const char *text, gs_config *cfg, int *n_given, char *why, size_t n);
int cfg_key_check(const cfg_key *k, const gs_config *cfg, char *why, size_t n);
void cfg_key_format(const cfg_key *k, const gs_config *cfg, sbuf *b, int wrap);
int cfg_key_index(const char *section, const char *key);
int cfg_section_known(const char *section);
void *cfg_field_of(const gs_config *cfg, const cfg_key *k);
void cfg_allowed_text(const cfg_key *k, sbuf *b);

#endif
