# The training command end to end: real processes, real mpirun.
gs_script_test(train_spiral test_train_spiral.sh)
foreach(np 2 3 4)
  gs_script_test(train_ranks_${np} test_train_ranks.sh ${np})
endforeach()
gs_script_test(train_ranks_tcp test_train_ranks.sh 2 tcp)
foreach(np 2 3 4)
  gs_script_test(train_ranks_${np}_remedies test_train_ranks.sh ${np} remedies)
endforeach()
gs_script_test(train_faults test_train_faults.sh)
gs_script_test(cli_errors test_cli_errors.sh)
gs_script_test(resume_1_1 test_resume.sh 1 1)
gs_script_test(resume_2_2 test_resume.sh 2 2)
gs_script_test(resume_2_1 test_resume.sh 2 1)
gs_script_test(resume_1_1_remedies test_resume.sh 1 1 remedies)
gs_script_test(resume_2_2_remedies test_resume.sh 2 2 remedies)
gs_script_test(train_nonfinite test_nonfinite.sh)
# Gradient and pre-activation histograms: row sums at 1-4 ranks in every
# exchange, bits in the reproducible mode, bounds from the statistics, bad files
gs_script_test(histograms test_histograms.sh)
set_tests_properties(histograms PROPERTIES TIMEOUT 300)
# [train] reproducible: the same bits at 1-4 ranks, the default mode's
# difference as the control, and a kill-and-resume across rank counts
gs_script_test(reproducible_ranks test_reproducible.sh ranks)
gs_script_test(reproducible_remedies test_reproducible.sh ranks remedies)
gs_script_test(reproducible_default test_reproducible.sh default)
gs_script_test(reproducible_resume test_reproducible.sh resume)
# Safe run directories (refusal, --overwrite, --resume auto across models),
# default checkpoints, keep_best, early stopping, truthful failure messages,
# and the command line's small truths (--help, exit codes, plurals).
gs_script_test(run_dir test_run_dir.sh)
# eval and predict: [data] normalize, the validation split, the same numbers
# at 1-3 ranks, and bad input
gs_script_test(eval_predict test_eval_predict.sh)
# jobs/export_torch.py: PyTorch predicts what gradscope predict does, for
# every layer kind
gs_script_test(export_torch test_export.sh)
set_tests_properties(export_torch PROPERTIES TIMEOUT 300)
