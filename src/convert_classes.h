/*
 * convert_classes.h — the class names of a CSV's label column
 * (convert_classes.c): the distinct label texts, collected while the file
 * is surveyed, then numbered in sorted (byte) order. At most
 * CLASS_MAX_NAMES names of at most CLASS_MAX_BYTES bytes in all are kept,
 * so memory does not grow with the number of rows; past either bound the
 * set is marked full (a label column with that many names is an id or a
 * numeric column, not classes).
 */
#ifndef GRADSCOPE_CONVERT_CLASSES_H
#define GRADSCOPE_CONVERT_CLASSES_H

#include <stddef.h>
#include <stdint.h>

#define CLASS_MAX_NAMES 65536
#define CLASS_MAX_BYTES ((size_t)16 << 20)

/* An open-addressing hash set of names; all zero is the empty set. */
typedef struct {
    char **name;    /* [cap], NULL for an empty slot */
    int32_t *cls;   /* [cap], the class index of name[i] once numbered */
    uint64_t n, cap;
    size_t bytes;   /* of all names, NULs included */
    int full;       /* a name was left out: past a bound */
} convert_classes;

/* Add the NUL-terminated name s (len bytes) unless present. Returns 0 (also
 * when the set is full) or GS_ERR_RUNTIME (out of memory). */
int convert_classes_add(convert_classes *c, const char *s, size_t len);

/* Number the names 0..n-1 in sorted order; *sorted (malloc'd, n entries)
 * lists them by class index, pointing into the set. */
int convert_classes_number(convert_classes *c, char ***sorted);

/* The class index of s, or -1 if s is not in the set. */
int32_t convert_classes_find(const convert_classes *c, const char *s);

void convert_classes_free(convert_classes *c);

#endif
