/*
 * commands.h — the subcommands of the `gradscope` program. Each takes the
 * arguments after its name and returns the process exit status.
 */
#ifndef GRADSCOPE_COMMANDS_H
#define GRADSCOPE_COMMANDS_H

int cmd_train(int argc, char **argv);    /* gradscope train CONFIG [--set k=v]... [--resume PATH|auto] */
int cmd_inspect(int argc, char **argv);  /* gradscope inspect CKPT|RUN_DIR [--json] [--step N] */
int cmd_convert(int argc, char **argv);  /* gradscope convert idx|csv|npy|npz FILES... OUT.h5 [options] */
int cmd_eval(int argc, char **argv);     /* gradscope eval CKPT|RUN_DIR DATA.h5 [--json] */
int cmd_predict(int argc, char **argv);  /* gradscope predict CKPT|RUN_DIR DATA.h5 -o OUT.h5|OUT.csv */
int cmd_doctor(int argc, char **argv);   /* gradscope doctor CKPT|RUN_DIR [--json] */
int cmd_report(int argc, char **argv);   /* gradscope report CKPT|RUN_DIR [-o REPORT.html]: runs jobs/report.py */
int cmd_watch(int argc, char **argv);    /* gradscope watch RUN_DIR [--once] [--stale S] [--interval S] */

#endif
