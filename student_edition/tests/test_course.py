"""The course runs on this machine: the library, the data, the lectures and the labs.

``bash scripts/check-course.sh`` runs the quick checks; ``--all`` also runs every notebook
from start to end (marked ``full``). Notebooks run at the small ``ci`` budget.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
REPOSITORY = re.search(r'^Repository = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def run(path: Path, until_error: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    os.environ["CI"] = "true"
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=until_error,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def errors(nb) -> list[tuple[int, str]]:
    return [(i, o["ename"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_library_and_data_are_here():
    out = subprocess.run([sys.executable, "-m", "course.data", "status"], capture_output=True, text=True,
                         check=True).stdout
    assert "Fashion-MNIST from" in out, out
    from course import data, runtime

    fashion = data.load_fashion_mnist(runtime.budget("ci"))
    assert fashion.x_train.shape == (2000, 28, 28)
    assert 0 <= fashion.x_train.min() <= fashion.x_train.max() <= 1


def test_notebooks_are_clean_and_point_here():
    slug = REPOSITORY.removeprefix("https://github.com/")
    for path in LECTURES + LABS:
        nb = json.loads(path.read_text())
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), path.name
        first_code = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert f"git+{REPOSITORY}" in first_code, path.name
        assert f"colab.research.google.com/github/{slug}/" in "".join(nb["cells"][0]["source"]), path.name


def test_the_first_lecture_runs():
    assert errors(run(LECTURES[0])) == []


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_each_lab_runs_up_to_its_first_exercise(path):
    nb = run(path, until_error=True)
    found = errors(nb)
    assert found, "an unanswered lab should stop at its first exercise"
    index, name = found[0]
    assert name == "NotImplementedError", found  # the first exercise, unanswered: nothing before it failed
    first_exercise = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    assert index > first_exercise, "an error before the first exercise: the lab's own code failed"


@pytest.mark.full
@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_lecture_runs(path):
    try:
        nb = run(path)
    except CellExecutionError as err:
        pytest.fail(re.sub(r"\x1b\[[0-9;]*m", "", str(err))[-2000:])
    assert errors(nb) == []
