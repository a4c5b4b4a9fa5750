#!/usr/bin/env bash
# Install what is missing, then run every benchmark and write benchmarks/REPORT.md
# (about an hour on a 2-core CPU; `--skip-cpu-course` leaves out the longest part).
set -euo pipefail
export COURSE_EXTRAS="${COURSE_EXTRAS:-cpu,lab,grader,dev}"
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$COURSE_ROOT"
unset CI
exec python benchmarks/run_all.py "$@"
