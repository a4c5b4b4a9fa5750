"""``course-grade feedback``: an HTML page per student, with the outcome on top and nothing hidden."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from .. import batch, records
from ..course_root import course_config
from ..records import Record
from .hide import HideHiddenTestOutputs
from .pages import MAX_PAGE, banner, failure_page, hidden_test_lines, leaks, with_banner

Progress = Callable[[str, Record, int, int], None]


def _quiet(phase: str, record: Record, done: int, total: int) -> None:
    pass


def feedback_one(root: Path, lab: str, student: str) -> dict:
    """``nbgrader generate_feedback`` for one student (in a worker), via nbgrader's API."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course_config(root)
    config.CourseDirectory.root = str(root)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_feedback(lab, student, force=True)
    log = result.get("log", "") + result.get("error", "")
    return {"success": bool(result.get("success")), "log": log[-3000:]}


def run_feedback(
    root: Path, lab: str, workers: int, students: list[str] | None = None, progress: Progress = _quiet
) -> list[Record]:
    """HTML feedback per student: nbgrader's (hidden tests cleared), with the outcome on top;
    a page of its own for a submission that could not run. A page that would show a hidden
    test line, or is over :data:`MAX_PAGE` bytes, is replaced by one that says so."""
    import nbgrader.apps.api  # noqa: F401 - shared by the forked workers

    from ..autograde.run import ensure_assignment

    source = json.loads((root / "source" / lab / f"{lab}.ipynb").read_text())
    released = json.loads(ensure_assignment(root, lab).read_text())
    hidden = hidden_test_lines(source, released)
    recs = {r.student: r for r in records.load_all(root, lab) if not students or r.student in students}
    count = 0

    def write(record: Record, page: str | None) -> None:
        nonlocal count
        path = root / "feedback" / record.student / lab / f"{lab}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        box = banner(record.outcome, record.reason, record.total, record.max_total)
        page = with_banner(page, box) if page else failure_page(record.student, lab, box, record.scores)
        shown = leaks(page, hidden)
        why = (
            f"nbgrader's page showed {len(shown)} hidden-test line(s)"
            if shown
            else f"the page is {len(page) / 1e6:.1f} MB, over the {MAX_PAGE / 1e6:g} MB limit"
            if len(page) > MAX_PAGE
            else ""
        )
        if why:
            record.notes.append(f"feedback withheld: {why}")
            box = banner(
                record.outcome,
                f"feedback withheld ({why}); the scores stand; ask the instructor",
                record.total,
                record.max_total,
            )
            page = failure_page(record.student, lab, box, record.scores)
        path.write_text(page)
        record.feedback = str(path.relative_to(root))
        records.save(record, root)
        count += 1
        progress("feedback", record, count, len(recs))

    jobs = []
    for student, record in recs.items():
        if (root / "autograded" / student / lab / f"{lab}.ipynb").exists():
            jobs.append(student)
        else:
            write(record, None)

    def on_done(student: str, done: batch.Done) -> None:
        html_path = root / "feedback" / student / lab / f"{lab}.html"
        ok = done.result and done.result.get("success") and html_path.exists()
        if not ok:
            recs[student].notes.append(
                "nbgrader generate_feedback failed: "
                + ((done.result or {}).get("log") or done.failure or "")[-300:]
            )
        write(recs[student], html_path.read_text() if ok else None)

    with tempfile.TemporaryDirectory() as tmp:
        batch.run(
            jobs, lambda student, slot: feedback_one(root, lab, student), workers, 600, Path(tmp), on_done
        )
    return list(recs.values())


__all__ = ["HideHiddenTestOutputs", "feedback_one", "hidden_test_lines", "leaks", "run_feedback"]
