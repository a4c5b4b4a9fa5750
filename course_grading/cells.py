"""What an nbgrader cell is, written once: its source, its nbgrader metadata, its role."""

from __future__ import annotations

BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def text(cell) -> str:
    """The cell's source as one string (notebooks store it as a string or a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_test(cell) -> bool:
    """An autograded test cell: a graded code cell that is not the student's answer."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_locked(cell) -> bool:
    return bool(nbgrader_meta(cell).get("locked"))


def label(cell, index: int) -> str:
    """How the instructor's records name a cell: its grade_id, else its position."""
    return grade_id(cell) or f"cell {index + 1}"


def hidden_lines(source: str) -> set[int]:
    """1-based line numbers of ``source`` that lie inside hidden-test blocks (markers included)."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        if inside:
            lines.add(number)
        if line.strip() == END_HIDDEN:
            inside = False
    return lines
