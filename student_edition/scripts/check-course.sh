#!/usr/bin/env bash
# Install what is missing, then check that the course runs on this machine: the library, the
# data, the first lecture, and every lab up to its first exercise (about a minute).
# `--all` runs every notebook from start to end (several minutes); other arguments go to pytest.
set -euo pipefail
export COURSE_EXTRAS="${COURSE_EXTRAS:-cpu,lab,dev}"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$COURSE_ROOT"
export CI="${CI:-true}"  # the notebooks run at their small budget
if [ "${1:-}" = "--all" ]; then
    shift
    say "running every notebook"
    exec python -m pytest -q -n "${COURSE_TEST_WORKERS:-2}" tests "$@"
fi
say "checking the course"
exec python -m pytest -q -m "not full" tests "$@"
