#!/usr/bin/env bash
# Installs what the course needs, idempotently. Sourced by run-course.sh and test-course.sh.
#   - Debian/Ubuntu packages: Fashion-MNIST (offline data), python3-venv (and, with
#     COURSE_APT_EXTRA, anything else a caller asks for);
#   - a virtual environment in .venv with the course package and its extras.
# Set COURSE_EXTRAS to choose the extras (default: cpu,lab,grader: this is the instructor's repository).
set -euo pipefail

COURSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${COURSE_VENV:-$COURSE_ROOT/.venv}"
EXTRAS="${COURSE_EXTRAS:-cpu,lab,grader}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else say "not root and no sudo: run as root: $*"; return 1
    fi
}

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
    packages=(dataset-fashion-mnist ${COURSE_APT_EXTRA:-})
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
    apt_install "${packages[@]}"
else
    say "no apt-get: Fashion-MNIST will be downloaded into Keras' cache on first use"
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when pyproject.toml changed or an extra is asked for that is not installed.
stamp="$VENV/.course-install-stamp"
hash="$(sha256sum < "$COURSE_ROOT/pyproject.toml" | cut -d" " -f1)"
old_hash="" old_extras=""
[ -f "$stamp" ] && read -r old_hash old_extras < "$stamp"
union="$EXTRAS"
if [ "${old_hash:-}" = "$hash" ]; then
    union="$(printf '%s\n' ${old_extras//,/ } ${EXTRAS//,/ } | sort -u | paste -sd, -)"
fi
if [ "${old_hash:-}" != "$hash" ] || [ "$union" != "$(printf '%s\n' ${old_extras//,/ } | sort -u | paste -sd, -)" ]; then
    say "installing the course package with extras [$union] (a few minutes the first time)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$COURSE_ROOT[$union]"
    echo "$hash $union" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
