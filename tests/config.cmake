# The config module: parsing, defaults, --set, round trip, error messages.
gs_unit_test(test_config test_config.c config)
# Generated docs are current and every link in the docs resolves.
gs_script_test(docs test_docs.sh)
