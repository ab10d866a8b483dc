#!/usr/bin/env bash
# The test command: install what is missing, build, run the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs/deps.sh
jobs/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 "$@"
