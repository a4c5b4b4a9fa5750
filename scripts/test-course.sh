#!/usr/bin/env bash
# Install what is missing (with the dev tools), then run the whole test suite offline.
# Extra arguments go to pytest, e.g. `bash scripts/test-course.sh -k data`.
set -euo pipefail
export COURSE_EXTRAS="${COURSE_EXTRAS:-cpu,lab,grader,dev}"
# the browser tests drive Debian's Chromium; graded kernels run in Debian's bubblewrap
export COURSE_APT_EXTRA="${COURSE_APT_EXTRA:-chromium bubblewrap}"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$COURSE_ROOT"
export CI="${CI:-true}"  # notebooks run at the small CI budget
say "running the tests"
# loadgroup: each xdist_group (the browser tests' JupyterLab server, the hostile batch, the
# cluster, the published edition) runs on one worker; the slowest tests' times end the report
exec python -m pytest -n "${COURSE_TEST_WORKERS:-2}" --dist loadgroup --durations=25 "$@"
