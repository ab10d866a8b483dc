# The config module: parsing, defaults, --set, round trip, error messages.
gs_unit_test(test_config test_config.c config)
