"""The course's nbgrader gradebook: read a lab's grade cells, merge one student's grades.

nbgrader's SQLite gradebook does not like concurrent writers, so workers never touch the
course's gradebook: the grader merges each result into it through nbgrader's API, one at
a time, in one transaction (a student's grades are all written or none).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..course_root import course_id, db_url
from .job import Grade


def read_grades(root: Path, lab: str, student: str) -> dict[str, Grade]:
    """grade cell -> its :class:`Grade` in a student's submission (empty if none)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url(root), course_id(root)) as gb:
        try:
            sub = gb.find_submission(lab, student)
        except MissingEntry:
            return {}
        return {
            g.name: Grade(g.auto_score, float(g.max_score), bool(g.needs_manual_grade))
            for nb in sub.notebooks
            for g in nb.grades
        }


def max_scores(root: Path, lab: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url(root), course_id(root)) as gb:
        notebooks = gb.find_assignment(lab).notebooks
        return {c.name: float(c.max_score) for nb in notebooks for c in nb.grade_cells}


def merge(
    root: Path, lab: str, student: str, grades: dict[str, Grade], flagged: bool
) -> dict[str, list[float]]:
    """Write a student's grades into the course gradebook (missing cells score 0); return them."""
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, list[float]] = {}
    with Gradebook(db_url(root), course_id(root)) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's add_submission makes SQLAlchemy warn, harmlessly
        gb.update_or_create_student(student)
        try:
            sub = gb.find_submission(lab, student)
        except MissingEntry:
            sub = gb.add_submission(lab, student)
        for nb in sub.notebooks:
            nb.flagged = flagged
            for grade in nb.grades:
                g = grades.get(grade.name)
                grade.auto_score = 0.0 if g is None or g.score is None and not g.manual else g.score
                grade.needs_manual_grade = bool(g and g.manual)
                score = grade.manual_score if grade.manual_score is not None else grade.auto_score
                scores[grade.name] = [float(score or 0.0), float(grade.max_score)]
        gb.db.commit()
    return scores


def final_scores(root: Path, lab: str) -> dict[str, dict[str, list[float]]]:
    """student -> grade cell -> [score, max] as the gradebook has them now (manual grades included)."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, list[float]]] = {}
    with Gradebook(db_url(root), course_id(root)) as gb:
        for sub in gb.assignment_submissions(lab):
            out[sub.student.id] = {
                g.name: [float(g.score or 0.0), float(g.max_score)] for nb in sub.notebooks for g in nb.grades
            }
    return out
