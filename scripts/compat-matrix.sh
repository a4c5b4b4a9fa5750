#!/usr/bin/env bash
# The Keras/TensorFlow compatibility matrix: the version-sensitive tests under every pair of
# scripts/compat-pairs.txt, each in its own virtual environment .venv-compat/NAME.
#
#   bash scripts/compat-matrix.sh                  # every pair, the default selection below
#   bash scripts/compat-matrix.sh tests/course/test_checks.py -k sparse   # every pair, this pytest selection
#   COMPAT_PAIRS=oldest bash scripts/compat-matrix.sh              # only the pairs named (space or comma)
#   COMPAT_VENVS=/somewhere/else ...   # where the venvs go (default .venv-compat in the checkout)
#
# Arguments go to pytest (they replace the default selection). A pair's venv is created once
# and reinstalled only when its line in compat-pairs.txt or pyproject.toml changes (a stamp
# with their hash, as in scripts/setup.sh). Tests run with CI=true (the notebooks' small
# budget), one process (COMPAT_WORKERS=N runs N pytest-xdist workers). The table counts
# passed/failed tests per group: checks (tests/course/test_checks.py: the labs' solutions, hidden
# tests and seeded wrong answers), notebooks (tests/test_notebooks.py: lectures and labs) and
# units (every other file). Exits non-zero if any pair fails to install or fails a test.
# Needs the offline data (Debian's dataset-fashion-mnist: scripts/setup.sh installs it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PAIRS_FILE="${COMPAT_PAIRS_FILE:-$ROOT/scripts/compat-pairs.txt}"
VENVS="${COMPAT_VENVS:-$ROOT/.venv-compat}"
PYTHON="${PYTHON:-python3}"
WORKERS="${COMPAT_WORKERS:-1}"

# What differs between Keras/TensorFlow versions: the labs' checks, every notebook that runs
# Keras, the library units, the training options. Not the nbgrader release tests, the pipeline, sandbox or browser.
DEFAULT_SELECTION=(
    tests/course tests/test_training_options.py
    tests/test_notebooks.py::test_lecture_runs tests/test_notebooks.py::test_lab_solution_runs_and_passes_its_tests
)
if [ $# -gt 0 ]; then selection=("$@"); else selection=("${DEFAULT_SELECTION[@]}"); fi

FORMAT='%-10s %-8s %-8s %-10s %-10s %-10s %9s %6s  %s'
say() { printf '\033[1m[compat]\033[0m %s\n' "$*"; }

# name -> requirement line, in file order
names=()
declare -A specs=()
while read -r name rest || [ -n "${name:-}" ]; do
    [ -z "${name:-}" ] || [ "${name:0:1}" = "#" ] && continue
    [ -n "${rest:-}" ] || { say "$PAIRS_FILE: '$name' names no requirements"; exit 2; }
    names+=("$name"); specs[$name]="$rest"
done < "$PAIRS_FILE"
if [ -n "${COMPAT_PAIRS:-}" ]; then
    wanted=(${COMPAT_PAIRS//,/ })
    for w in "${wanted[@]}"; do
        [ -n "${specs[$w]+x}" ] || { say "no pair '$w' in $PAIRS_FILE (pairs: ${names[*]})"; exit 2; }
    done
    names=("${wanted[@]}")
fi
[ ${#names[@]} -gt 0 ] || { say "no pairs in $PAIRS_FILE"; exit 2; }
[ -d /usr/share/datasets/fashion-mnist ] || [ -d "${KERAS_HOME:-$HOME/.keras}/datasets/fashion-mnist" ] ||
    say "warning: no offline Fashion-MNIST (run scripts/setup.sh first); the notebooks will fail"

install_pair() {  # name requirements... ; returns 1 if the install failed
    local name=$1; shift
    local venv="$VENVS/$name" stamp="$VENVS/$name/.compat-stamp" hash old=""
    hash="$( { echo "$*"; "$PYTHON" --version; cat "$ROOT/pyproject.toml"; } | sha256sum | cut -d" " -f1)"
    [ -f "$stamp" ] && old="$(cat "$stamp")"
    [ "$old" = "$hash" ] && [ -x "$venv/bin/python" ] && return 0
    say "$name: installing the course with $* (about a minute)"
    local log="$VENVS/$name.install.log"
    mkdir -p "$VENVS"
    # called from `if`, where set -e does not apply: every step says it failed itself
    if rm -rf "$venv" &&
        "$PYTHON" -m venv "$venv" &&
        "$venv/bin/python" -m pip install -q --upgrade pip > "$log" 2>&1 &&
        # editable: the notebooks' kernels must import this checkout's course, not a copy
        "$venv/bin/python" -m pip install -q -e "$ROOT[lab,dev]" "$@" >> "$log" 2>&1; then
        echo "$hash" > "$stamp"
    else
        tail -20 "$log"
        say "$name: the install failed (the whole log: $log)"
        return 1
    fi
}

# junit XML -> one line "passed/failed" per group (checks notebooks units), then the failing tests
summarize() {  # venv_python junit_xml
    "$1" - "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
groups = {"checks": [0, 0], "notebooks": [0, 0], "units": [0, 0]}
failed = []
try:
    cases = list(ET.parse(sys.argv[1]).getroot().iter("testcase"))
except (OSError, ET.ParseError):
    cases = []
for case in cases:
    cls = case.get("classname", "")
    group = ("checks" if cls.startswith(("tests.course.test_checks", "tests.test_checks")) else
             "notebooks" if cls.startswith("tests.test_notebooks") else "units")
    bad = case.find("failure") is not None or case.find("error") is not None
    if case.find("skipped") is not None and not bad:
        continue
    groups[group][bad] += 1
    if bad:
        failed.append(f"{cls.removeprefix('tests.')}::{case.get('name')}")
print(" ".join(f"{p}/{f}" for p, f in groups.values()))
for name in failed:
    print(name)
PY
}

rows=() failures=() status=0
for name in "${names[@]}"; do
    read -r -a reqs <<< "${specs[$name]}"
    venv="$VENVS/$name"
    start=$(date +%s)
    if ! install_pair "$name" "${reqs[@]}"; then
        rows+=("$(printf "$FORMAT" "$name" - - - - - "$(( $(date +%s) - start ))" - "INSTALL FAILED")")
        status=1
        continue
    fi
    installed=$(date +%s)
    tf="$("$venv/bin/python" -c 'import importlib.metadata as m
for d in ("tensorflow", "tensorflow-cpu"):
    try: print(m.version(d)); break
    except m.PackageNotFoundError: pass
else: print("none")')"
    keras="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("keras"))')"
    say "$name: TensorFlow $tf, Keras $keras: pytest ${selection[*]}"
    xdist=(-p no:xdist)
    [ "$WORKERS" -gt 1 ] && xdist=(-n "$WORKERS")
    junit="$venv/junit.xml"
    rm -f "$junit"
    rc=0
    # the notebooks' kernel is this venv's python: no kernelspec from the user's Jupyter dirs
    (cd "$ROOT" && env -u JUPYTER_PATH JUPYTER_DATA_DIR="$venv/share/jupyter" CI=true \
        TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" -m pytest "${xdist[@]}" \
        -p no:cacheprovider -q --junitxml="$junit" "${selection[@]}") || rc=$?
    secs=$(( $(date +%s) - installed ))
    mapfile -t summary < <(summarize "$venv/bin/python" "$junit")
    read -r checks notebooks units <<< "${summary[0]}"
    # pytest's 5: nothing collected (a selection that skips every test of a pair is fine)
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ]; then verdict=ok; else verdict=FAIL; status=1; fi
    rows+=("$(printf "$FORMAT" "$name" "$tf" "$keras" "$checks" "$notebooks" "$units" \
        "$(( installed - start ))" "$secs" "$verdict")")
    for t in "${summary[@]:1}"; do failures+=("$name  $t"); done
done

echo
printf "$FORMAT\n" pair TF Keras checks notebooks units install_s test_s result
printf "$FORMAT\n" "" "" "" pass/fail pass/fail pass/fail "" "" ""
printf '%s\n' "${rows[@]}"
if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "failing tests:"
    printf '  %s\n' "${failures[@]}"
fi
exit "$status"
