# The metrics stream and gradscope watch: the writer, the reader and the
# view on constructed streams (unit); the stream of real runs against their
# checkpoints, through kills, requeues and the doctor's repairs; watch's
# plain output and bad input; and its terminal view through tmux.
gs_unit_test(test_watch test_watch.c watch)
gs_script_test(metrics_stream test_metrics_stream.sh)
gs_script_test(watch_cli test_watch_cli.sh)
gs_script_test(watch_tmux test_watch_tmux.sh)
set_tests_properties(watch_tmux PROPERTIES SKIP_RETURN_CODE 77)
