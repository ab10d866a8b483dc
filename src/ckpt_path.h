/*
 * ckpt_path.h — what the checkpoint modules share (ckpt_path.c): the file
 * names of a run directory, its listing, and HDF5 error silencing and
 * messages. The modules form a chain, each using only those before it:
 *   ckpt_path.c -> ckpt_write.c -> ckpt_read.c (read, verify) -> ckpt_find.c
 */
#ifndef GRADSCOPE_CKPT_PATH_H
#define GRADSCOPE_CKPT_PATH_H

#include "gradscope/ckpt.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#define CKPT_LAYER_FMT "layer_%03d"   /* /model/layer_000 ... */
#define CKPT_PREFIX "ckpt"            /* DIR/ckpt_00000040.h5 */
#define CKPT_LATEST "latest"          /* DIR/latest holds the file name of the newest */
#define CKPT_BEST GS_CKPT_BEST         /* DIR/best_00000040.h5 */
#define CKPT_INCIDENT GS_CKPT_INCIDENT /* DIR/nonfinite_00000040.h5 */

/* HDF5 prints its error stack by default; gradscope reports its own
 * messages. Save the handler and silence it; restore it before returning. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} ckpt_h5_quiet;

void ckpt_h5_silence(ckpt_h5_quiet *q);
void ckpt_h5_restore(const ckpt_h5_quiet *q);

/* The most specific message on the HDF5 error stack (for an OS failure the
 * strerror text, e.g. "No space left on device"), written to buf. */
const char *ckpt_h5_why(char *buf, size_t n);

/* 1 and *step if `name` is PREFIX_<digits>.h5 (nothing before or after). */
int ckpt_parse_name(const char *name, const char *prefix, long long *step);

/* Steps of the DIR/ckpt_<step>.h5 files, newest first (malloc'd, *n
 * entries; NULL and 0 when the directory cannot be read). With remove_tmp,
 * leftovers of interrupted writes (ckpt_*.tmp) are deleted on the way. */
long long *ckpt_list_steps(const char *dir, int remove_tmp, size_t *n);
/* The same for the files DIR/<prefix>_<step>.h5 (e.g. "nonfinite"). */
long long *ckpt_list_steps_of(const char *dir, const char *prefix, int remove_tmp, size_t *n);

#endif
