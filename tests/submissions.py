"""Student notebooks built from a lab's nbgrader source: solved, seeded wrong, or bad.

Test fixtures, not course code: used by the tests, by ``scripts/make_samples.py`` (the
samples the repository ships) and by the benchmarks. Nothing here is a real student's work.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course_grading.cells import grade_id, nbgrader_meta, text

SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.S)


@dataclass
class Lab:
    """A lab's source notebook (solutions, hidden tests) and its released student notebook."""

    name: str
    source: dict
    released: dict

    @classmethod
    def load(cls, name: str, course_root: Path, labs_dir: Path | None = None) -> Lab:
        released = course_root / "release" / name / f"{name}.ipynb"
        if not released.exists() and labs_dir is not None:
            released = labs_dir / f"{name}.ipynb"
        source = course_root / "source" / name / f"{name}.ipynb"
        return cls(name, json.loads(source.read_text()), json.loads(released.read_text()))

    def solutions(self) -> dict[str, str]:
        """grade_id -> the instructor's answer (solution markers removed), in notebook order."""
        return {
            nbgrader_meta(c)["grade_id"]: SOLUTION.sub(r"\1", text(c))
            for c in self.source["cells"]
            if nbgrader_meta(c).get("solution")
        }

    def tests(self) -> list[str]:
        """grade_ids of the autograded test cells, in notebook order."""
        return [
            nbgrader_meta(c)["grade_id"]
            for c in self.released["cells"]
            if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")
        ]

    def points(self) -> dict[str, float]:
        return {
            nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points", 0))
            for c in self.released["cells"]
            if nbgrader_meta(c).get("grade")
        }

    def notebook(self, answers: dict[str, str] | None = None, solved: bool = True) -> dict:
        """The released notebook with solution cells answered (``answers`` override by grade_id)."""
        nb = copy.deepcopy(self.released)
        right = self.solutions() if solved else {}
        for cell in nb["cells"]:
            gid = nbgrader_meta(cell).get("grade_id")
            if answers and gid in answers:
                cell["source"] = answers[gid]
            elif gid in right:
                cell["source"] = right[gid]
        return nb

    def last_solution(self) -> tuple[str, str]:
        """(grade_id, answer) of the last exercise's solution cell."""
        return list(self.solutions().items())[-1]


def returns_none(source: str) -> str:
    """A seeded wrong answer: the last top-level function returns None instead of its result."""
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not funcs:
        return source + "\nraise ValueError('seeded wrong answer')\n"
    func = funcs[-1]
    lines = source.splitlines(keepends=True)
    head = lines[: func.body[0].lineno - 1]
    doc = func.body[0]
    keep = (
        lines[doc.lineno - 1 : doc.end_lineno]
        if isinstance(doc, ast.Expr) and isinstance(getattr(doc, "value", None), ast.Constant)
        else []
    )
    indent = " " * func.body[0].col_offset
    rest = lines[func.end_lineno :]
    return "".join(head + keep + [f"{indent}return None  # seeded wrong answer\n"] + rest)


def with_body(source: str, body: str) -> str:
    """The last top-level function of ``source`` with its body replaced by ``body`` (unindented)."""
    tree = ast.parse(source)
    func = [n for n in tree.body if isinstance(n, ast.FunctionDef)][-1]
    lines = source.splitlines(keepends=True)
    indent = " " * func.body[0].col_offset
    new = "".join(indent + line if line.strip() else line for line in body.splitlines(keepends=True))
    return "".join(lines[: func.body[0].lineno - 1]) + new + "".join(lines[func.end_lineno :])


def venv_first_on_path(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this venv's ``bin`` first on PATH, as after
    ``source .venv/bin/activate``: the grader's commands find the venv's tools."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_all(
    root: Path, lab: str, inbox: Path, *options: str, timeout: int = 2400
) -> subprocess.CompletedProcess:
    """``course-grade run-all LAB INBOX OPTIONS`` as an instructor runs it, with this venv's
    tools first on PATH; fails the test unless it exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "course_grading", "--course-root", str(root), "run-all", lab, str(inbox),
         *options],
        capture_output=True, text=True, env=venv_first_on_path(), timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def to_bytes(nb: dict) -> bytes:
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def colab_round_trip(nb: dict) -> dict:
    """What a Colab download of the notebook looks like: cell metadata and ids gone."""
    out = copy.deepcopy(nb)
    out["nbformat_minor"] = 0
    out["metadata"] = {
        "colab": {"provenance": []},
        "language_info": {"name": "python"},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
    }
    for i, cell in enumerate(out["cells"]):
        cell.pop("id", None)
        cell["metadata"] = {"id": f"colab{i:04d}"}
    return out


def duplicate_cells(nb: dict, grade_ids: list[str]) -> dict:
    """``nb`` with the cells ``grade_ids`` pasted twice, metadata and id included (VS Code, Colab)."""
    out = copy.deepcopy(nb)
    for gid in grade_ids:
        cell = next(c for c in out["cells"] if nbgrader_meta(c).get("grade_id") == gid)
        out["cells"].insert(out["cells"].index(cell) + 1, copy.deepcopy(cell))
    return out


def solution_sources(source_nb: Path) -> dict[str, str]:
    """grade_id -> the instructor's solution cell with the solution markers removed."""
    nb = json.loads(source_nb.read_text())
    return {
        grade_id(c): SOLUTION.sub(r"\1", text(c)) for c in nb["cells"] if nbgrader_meta(c).get("solution")
    }


def write_submission(course_root: Path, student: str, lab: str, nb: dict) -> Path:
    path = course_root / "submitted" / student / lab / f"{lab}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path


def submission(
    released_nb: Path, source_nb: Path, answers: dict[str, str] | None = None, solved: bool = True
) -> dict:
    """The released notebook with every solution cell answered (``answers`` override by grade_id)."""
    lab = Lab("", json.loads(source_nb.read_text()), json.loads(released_nb.read_text()))
    return lab.notebook(answers, solved)
