"""The code students read (library, notebooks, tests) passes ruff."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_ruff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "course", "tests", "lectures",
                           "labs", "autograder", "nbgrader_config.py"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
