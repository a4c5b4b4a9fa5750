"""``course-grade export``: the grades as CSV (long and wide) and a copy of the gradebook."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from . import records
from .autograde.gradebook import final_scores, max_scores


def run_export(root: Path, lab: str, out: Path) -> tuple[Path, Path, Path]:
    """``grades.csv`` (a row per student and test), ``grades_wide.csv`` (a row per student) and a
    consistent copy of nbgrader's SQLite gradebook, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    scores = final_scores(root, lab)
    recs = {r.student: r for r in records.load_all(root, lab)}
    tests = list(max_scores(root, lab))
    long_path, wide_path, db_path = out / "grades.csv", out / "grades_wide.csv", out / "gradebook.db"
    with long_path.open("w", newline="") as f_long, wide_path.open("w", newline="") as f_wide:
        long, wide = csv.writer(f_long), csv.writer(f_wide)
        long.writerow(["student", "lab", "exercise", "score", "max_score", "total", "max_total", "outcome",
                       "reason"])
        wide.writerow(["student", "lab", *tests, "total", "max_total", "outcome", "reason"])
        for student in sorted(set(scores) | set(recs)):
            cells = scores.get(student, {})
            record = recs.get(student, records.Record(student, lab))
            outcome = record.outcome.value if student in recs else "not graded"
            total = round(sum(s for s, _ in cells.values()), 3)
            max_total = sum(m for _, m in cells.values())
            for test in tests:
                s, m = cells.get(test, [0.0, 0.0])
                long.writerow([student, lab, test, s, m, total, max_total, outcome, record.reason])
            wide.writerow([student, lab, *(cells.get(t, [0.0])[0] for t in tests), total, max_total, outcome,
                           record.reason])
    with sqlite3.connect(root / "gradebook.db") as src, sqlite3.connect(db_path) as dst:
        src.backup(dst)
    return long_path, wide_path, db_path
