# The config module: parsing, defaults, --set, round trip, error messages.
gs_unit_test(test_config test_config.c config)
# Generated docs are current and every link in the docs resolves.
gs_script_test(docs test_docs.sh)
# the README's "Train on your own data", run as written (convert, train,
# eval, predict, export) and run twice
gs_script_test(readme test_readme.sh)
set_tests_properties(readme PROPERTIES TIMEOUT 300)
