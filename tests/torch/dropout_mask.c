/*
 * dropout_mask — the dropout masks a gradscope training forward applies, for
 * the PyTorch oracle (tests/torch/oracle.py), which reads them back so that
 * both sides drop the same units:
 *   dropout_mask SEED STEP LAYER ROW0 N_ROWS N_OUT P
 * prints N_ROWS lines of N_OUT characters, 1 = kept, for data-set rows
 * ROW0 .. ROW0 + N_ROWS - 1 of weight layer LAYER at STEP.
 */
#include "gradscope/net.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: dropout_mask SEED STEP LAYER ROW0 N_ROWS N_OUT P\n");
        return 2;
    }
    const uint64_t seed = strtoull(argv[1], NULL, 10);
    const long long step = atoll(argv[2]), row0 = atoll(argv[4]), n_rows = atoll(argv[5]);
    const int layer = atoi(argv[3]), n_out = atoi(argv[6]);
    const float p = strtof(argv[7], NULL);
    for (long long r = row0; r < row0 + n_rows; r++) {
        for (int j = 0; j < n_out; j++)
            putchar(net_dropout_keeps(seed, step, layer, r, j, p) ? '1' : '0');
        putchar('\n');
    }
    return 0;
}
