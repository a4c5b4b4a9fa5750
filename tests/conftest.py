"""Shared helpers: where things are, and running a notebook in a real kernel."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_grading import course_root

REPO = Path(__file__).resolve().parent.parent
LECTURES = REPO / "lectures"
LABS = REPO / "labs"
COURSE_ROOT = REPO / "autograder"
ARTIFACTS = REPO / "test-artifacts"


def lab_names() -> list[str]:
    """The repository's labs."""
    return course_root.lab_names(COURSE_ROOT)


def copy_course_root(dest: Path, labs: list[str] | None = None) -> Path:
    """A private copy of the repository's course root (config and sources) at ``dest``."""
    return course_root.copy_course_root(COURSE_ROOT, dest, labs)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def all_notebooks() -> list[Path]:
    return sorted(p for p in REPO.glob("*/**/*.ipynb")
                  if not any(part.startswith(".venv") for part in p.relative_to(REPO).parts)
                  and ".ipynb_checkpoints" not in p.parts
                  and not {"release", "submitted", "autograded", "feedback"} & set(p.parts))


def execute(path: Path, cwd: Path | None = None, allow_errors: bool = False,
            env: dict[str, str] | None = None, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute a notebook top to bottom at the CI budget; return it with outputs."""
    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update({"CI": "true", **(env or {})})
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                       resources={"metadata": {"path": str(cwd or path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(cell index, error name, message) of every error output."""
    return [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"]


def text_output(nb: nbformat.NotebookNode) -> str:
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []) if o.output_type == "stream")


def images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A private copy of the nbgrader course root (sources and config only)."""
    return copy_course_root(tmp_path / "autograder")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failure."""
    outcome = yield
    setattr(item, f"rep_{outcome.get_result().when}", outcome.get_result())
