#!/usr/bin/env bash
# Install what is missing, then start JupyterLab on the course (extra arguments go to jupyter lab).
# COURSE_NOTEBOOK_DIR serves another folder (e.g. a scratch copy of lectures/ and labs/).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$COURSE_ROOT"
args=(--notebook-dir="${COURSE_NOTEBOOK_DIR:-$COURSE_ROOT}")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
say "starting JupyterLab: open lectures/ for the lectures, labs/ for the labs"
exec jupyter lab "${args[@]}" "$@"
