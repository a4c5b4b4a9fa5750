"""All the code (the library, the grading pipeline, notebooks, tests, scripts) passes ruff."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_ruff_is_clean():
    folders = ["course", "course_grading", "tests", "lectures", "labs", "autograder", "nbgrader_config.py",
               "student_edition", "benchmarks", "scripts"]
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", *folders],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
