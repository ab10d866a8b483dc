# gradscope report (docs/report.md): real runs -> the HTML report.
# report_browser loads it in headless Chromium (label browser: kept out of
# the sanitizer pass in .ci/run, and skipped, 77, without chromium);
# report_content checks the doctor's findings in it; report_bad_input the
# clear errors and partial reports on bad input.
gs_script_test(report_browser test_report.sh browser)
set_tests_properties(report_browser PROPERTIES LABELS "script;browser" SKIP_RETURN_CODE 77 TIMEOUT 300)
gs_script_test(report_content test_report.sh content)
gs_script_test(report_bad_input test_report.sh bad ${CMAKE_BINARY_DIR} ${CMAKE_COMMAND})
set_tests_properties(report_bad_input PROPERTIES TIMEOUT 420)
