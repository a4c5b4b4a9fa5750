"""Every notebook runs headless, offline, at the CI budget; none is committed with outputs;
the released labs match what nbgrader makes from their sources."""

from __future__ import annotations

import json

import nbformat
import pytest

from course_grading.release import release
from tests.conftest import (
    COURSE_ROOT,
    LABS,
    LECTURES,
    REPO,
    all_notebooks,
    errors,
    execute,
    images,
    lab_names,
    text_output,
)

LECTURE_NOTEBOOKS = sorted(LECTURES.glob("*.ipynb"))
LAB_SOURCES = [COURSE_ROOT / "source" / lab / f"{lab}.ipynb" for lab in lab_names()]


def test_there_is_something_to_test():
    assert LECTURE_NOTEBOOKS and LAB_SOURCES
    assert {p.stem for p in LABS.glob("*.ipynb")} == set(lab_names())


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(REPO)))
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.notebook
@pytest.mark.parametrize("path", LECTURE_NOTEBOOKS, ids=lambda p: p.name)
def test_lecture_runs(path):
    nb = execute(path)
    assert not errors(nb)
    out = text_output(nb)
    assert "budget : ci" in out and "device : " in out  # the banner comes first
    assert images(nb) >= 1


@pytest.mark.notebook
@pytest.mark.parametrize("path", LAB_SOURCES, ids=lambda p: p.parent.name)
def test_lab_solution_runs_and_passes_its_tests(path):
    nb = execute(path)
    assert not errors(nb)
    assert text_output(nb).count("OK: ") >= 3


@pytest.mark.notebook
@pytest.mark.parametrize("lab", lab_names())
def test_released_lab_runs_and_fails_only_where_unsolved(lab):
    nb = execute(LABS / f"{lab}.ipynb", allow_errors=True)
    found = errors(nb)
    assert found, "an unsolved lab must fail its tests"
    assert {name for _, name, _ in found} <= {"NotImplementedError"}
    assert "budget : ci" in text_output(nb)


@pytest.mark.nbgrader
@pytest.mark.parametrize("lab", lab_names())
def test_released_lab_is_up_to_date(lab, course_copy, tmp_path):
    fresh = release(lab, course_copy, labs_dir=tmp_path / "labs")[-1]
    committed = LABS / f"{lab}.ipynb"
    assert json.loads(fresh.read_text()) == json.loads(committed.read_text()), (
        f"labs/{lab}.ipynb is stale: run `course-grade release {lab}` and commit it")
    assert "BEGIN SOLUTION" not in committed.read_text()
    assert "HIDDEN TESTS" not in committed.read_text()
    nbformat.validate(nbformat.read(committed, as_version=4))


@pytest.mark.parametrize("lab", lab_names())
def test_released_lab_contains_no_solution(lab):
    """No line written between the solution or hidden-test markers reaches the students."""
    source = json.loads((COURSE_ROOT / "source" / lab / f"{lab}.ipynb").read_text())
    released = json.loads((LABS / f"{lab}.ipynb").read_text())
    released_lines = {line.strip() for c in released["cells"] for line in "".join(c["source"]).splitlines()}
    assert not any("BEGIN SOLUTION" in line or "HIDDEN TESTS" in line for line in released_lines)
    secret, inside = [], False
    for cell in source["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 12 and not line.strip().startswith("#"):
                secret.append(line.strip())
    assert secret, "the source has no solution to check"
    shown = [line for line in secret if line in released_lines]
    assert not shown, f"labs/{lab}.ipynb shows solution or hidden-test lines: {shown}"
