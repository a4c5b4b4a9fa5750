"""Build student submissions from a lab's nbgrader source: the released notebook with
solution cells filled in (right answers, or seeded wrong ones)."""

from __future__ import annotations

import json
import re
from pathlib import Path

SOLUTION = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.S)


def grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_sources(source_nb: Path) -> dict[str, str]:
    """grade_id -> the instructor's solution cell with the solution markers removed."""
    nb = json.loads(source_nb.read_text())
    return {grade_id(c): SOLUTION.sub(r"\1", "".join(c["source"]))
            for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")}


def submission(released_nb: Path, source_nb: Path, answers: dict[str, str] | None = None,
               solved: bool = True) -> dict:
    """The released notebook with every solution cell answered.

    ``answers`` replaces chosen solution cells (by grade_id) with other code, e.g. a wrong
    answer; ``solved=False`` leaves the other cells as released (unanswered).
    """
    nb = json.loads(released_nb.read_text())
    right = solution_sources(source_nb) if solved else {}
    for cell in nb["cells"]:
        gid = grade_id(cell)
        if answers and gid in answers:
            cell["source"] = answers[gid]
        elif gid in right:
            cell["source"] = right[gid]
    return nb


def write_submission(course_root: Path, student: str, lab: str, nb: dict) -> Path:
    path = course_root / "submitted" / student / lab / f"{lab}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path
