"""``course-grade`` from a plain (not editable) install: the course root comes from
``--course-root`` or ``COURSE_ROOT``, never from where the package lies; ``release`` writes
into that course root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_course_root
from tests.submissions import venv_first_on_path

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]
LAB = "lab02_dense_autoencoder"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """This repository's two packages installed from a wheel into a folder of their own."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    wheel = next(work.glob("autoencoders_course-*.whl"))
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    return site


def run(site: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "COURSE_ROOT"}
    environment.update({"PYTHONPATH": str(site), **(env or {})})
    environment = venv_first_on_path(environment)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=600)


def test_the_wheel_holds_both_packages_and_no_course_files(installed):
    assert (installed / "course" / "checks" / "lab02.py").is_file()
    assert (installed / "course_grading" / "cli.py").is_file()
    assert not (installed / "autograder").exists() and not (installed / "tests").exists()


def test_course_grade_runs_from_the_installed_package(installed, tmp_path):
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    where = run(installed, elsewhere, "-c", "import course_grading, course; print(course_grading.__file__, "
                                            "course.__file__)")
    assert where.returncode == 0 and where.stdout.count(str(installed)) == 2, where.stdout + where.stderr
    lost = run(installed, elsewhere, "-m", "course_grading", "release", LAB)
    assert lost.returncode == 2 and "not an nbgrader course root" in lost.stderr, lost.stderr
    root = copy_course_root(tmp_path / "term" / "autograder", [LAB])
    released = run(installed, elsewhere, "-m", "course_grading", "--course-root", str(root), "release", LAB)
    assert released.returncode == 0, released.stdout + released.stderr
    assert (root / "release" / LAB / f"{LAB}.ipynb").is_file()
    assert not (installed / "labs").exists() and not (installed / "autograder").exists()
    by_env = run(installed, elsewhere, "-m", "course_grading", "release", LAB, env={"COURSE_ROOT": str(root)})
    assert by_env.returncode == 0, by_env.stderr
