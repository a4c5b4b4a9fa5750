"""``course-grade autograde``: every repaired submission of a lab, graded and merged.

The grader makes one self-contained :class:`~.job.Job` per student, hands them to an
executor (the local pool of forked workers by default, :class:`LocalPool`; a Dask
cluster with ``--scheduler``, :mod:`course_grading.cluster`) and, as each result comes
back, merges it alone: the graded notebook into ``autograded/``, the scores into
nbgrader's gradebook, the record into ``grading/``. A student is merged exactly once;
the command run again after an interruption grades only who has no result yet
(``--regrade`` grades everyone again).
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .. import batch, records
from ..cells import grade_id, is_solution, text
from ..course_root import nbgrader, released
from ..intake.ingest import students as students_of
from ..outcomes import Outcome
from ..records import Record
from .gradebook import max_scores, merge
from .job import Job, Result, Settings, pack
from .machine import Machine, prepare, release
from .verdict import reason
from .worker import cleanup_killed, grade_job

Progress = Callable[[str, Record, int, int], None]


def _quiet(phase: str, record: Record, done: int, total: int) -> None:
    pass


@dataclass
class Done:
    """How one job ended, as an executor reports it."""

    result: Result | None  # None if the job did not finish
    failure: str | None = None  # 'timeout', 'crashed: ...', 'error: ...'
    seconds: float = 0.0
    peak_rss_mb: float | None = None
    worker: str = ""


class Executor(Protocol):
    def run(self, jobs: list[Job], on_done: Callable[[Job, Done], None]) -> None: ...

    @property
    def data_sha256(self) -> str | None: ...


class LocalPool:
    """Forked workers on this machine, ``settings.workers`` at once (:mod:`course_grading.batch`)."""

    def __init__(self, settings: Settings, root: Path | None = None, launched: Machine | None = None):
        self.settings = settings
        hide = [root, *([root.parent] if root and (root.parent / ".git").exists() else [])] if root else []
        self.machine: Machine = prepare(settings.workers, hide, settings.warm, settings.memory_mb, launched)

    @property
    def data_sha256(self) -> str | None:
        return self.machine.data_sha256

    def run(self, jobs: list[Job], on_done: Callable[[Job, Done], None]) -> None:
        machine = self.machine

        def work(job: Job, slot: int) -> dict:
            return grade_job(job, slot, machine).to_json()

        def done(job: Job, d: batch.Done) -> None:
            result = Result.from_json(d.result) if d.result is not None else None
            on_done(job, Done(result, d.failure, d.seconds, d.peak_rss_mb, f"local slot {d.slot}"))

        try:
            batch.run(
                jobs,
                work,
                self.settings.workers,
                self.settings.timeout,
                machine.work / "results",
                done,
                on_kill=lambda job, slot: cleanup_killed(job.index, machine),
            )
        finally:
            release(machine)


def ensure_assignment(root: Path, lab: str) -> Path:
    """The released notebook of ``lab``; runs ``nbgrader generate_assignment`` when it or the
    lab's entry in the gradebook is missing."""
    from nbgrader.api import Gradebook, MissingEntry

    from ..course_root import course_id, db_url

    known = False
    if (root / "gradebook.db").exists():
        with Gradebook(db_url(root), course_id(root)) as gb:
            try:
                known = any(nb.name == lab for nb in gb.find_assignment(lab).notebooks)
            except MissingEntry:
                known = False
    if not (known and released(root, lab).exists()):
        nbgrader(["generate_assignment", lab, "--force"], root)
    return released(root, lab)


def make_job(root: Path, lab: str, student: str, index: int, settings: Settings, data_sha: str | None) -> Job:
    source = root / "source" / lab
    files = {
        str(p.relative_to(source)): base64.b64encode(p.read_bytes()).decode()
        for p in sorted(source.rglob("*"))
        if p.is_file()
    }
    notebook = (root / "submitted" / student / lab / f"{lab}.ipynb").read_text()
    return Job(
        lab,
        student,
        index,
        notebook,
        (root / "nbgrader_config.py").read_text(),
        files,
        pack(root / "gradebook.db"),
        settings,
        data_sha,
    )


def longest_first(jobs: list[Job], stubs: Path) -> list[Job]:
    """``jobs`` with the students who answered more exercises first: unanswered notebooks stop at
    their first test, so they go last and fill the cores while the last long jobs finish (in index
    order a long job may end the batch alone, on one core of two). Only the order changes.
    ``stubs``: the released notebook, whose answer cells are the stubs."""
    given = {grade_id(c): text(c) for c in json.loads(stubs.read_text())["cells"] if is_solution(c)}

    def answered(job: Job) -> int:
        try:
            cells = json.loads(job.notebook)["cells"]
            return sum(1 for c in cells if is_solution(c) and text(c) != given.get(grade_id(c)))
        except (ValueError, KeyError, TypeError, AttributeError):  # not a notebook: it fails fast
            return 0

    return sorted(jobs, key=lambda job: -answered(job))  # stable: index order among equals


def record_result(root: Path, lab: str, record: Record, job: Job, done: Done, settings: Settings) -> list:
    """Fill ``record`` from how its job ended; return the grades to merge and whether it is flagged."""
    record.seconds = round(done.seconds, 1)
    record.worker = done.worker
    record.notes = [n for n in record.notes if n.startswith(("filed as", "also handed in"))]
    autograded = root / "autograded" / record.student / lab
    shutil.rmtree(autograded, ignore_errors=True)
    if done.failure == "timeout" or done.result is None:
        record.worker_peak_mb = round(done.peak_rss_mb or 0, 1) or None
        if done.failure == "timeout":
            record.set(
                Outcome.WALL_CLOCK,
                f"grading took longer than the {settings.timeout} s limit for one "
                "submission and was stopped: 0 points",
            )
        else:
            record.set(Outcome.ERROR, (done.failure or "no result").strip().splitlines()[-1][:300])
        return [{}, False]
    result = done.result
    record.outcome, record.reason = reason(result, record.repairs)
    record.notes += result.notes
    record.isolation, record.isolation_missing = result.applied, result.missing
    record.kernel_peak_mb, record.worker_peak_mb = result.kernel_peak_mb, result.worker_peak_mb
    record.judge_seconds, record.flagged = result.judge_seconds, result.flagged
    record.timing = dict(result.timing)
    if result.graded_notebook is not None:
        autograded.mkdir(parents=True)
        (autograded / f"{lab}.ipynb").write_text(result.graded_notebook)
    if settings.stop_after_last_test:
        record.notes.append("cells after the last test were not run (--stop-after-last-test)")
    return [result.grades, result.flagged]


def run_autograde(
    root: Path,
    lab: str,
    settings: Settings,
    students: list[str] | None = None,
    progress: Progress = _quiet,
    executor: Executor | None = None,
    regrade: bool = True,
    launched: Machine | None = None,
) -> list[Record]:
    """Autograde every repaired submission, isolated; record and merge each result as it comes.

    ``regrade=False`` skips students whose record already has a result; ``launched``: the local
    pool's zygotes, started early (:func:`.machine.launch`); the caller releases it if unused.
    """
    # nbgrader's own submission bookkeeping makes SQLAlchemy warn, harmlessly, for every student
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
    ensure_assignment(root, lab)
    names = students or students_of(root, lab)
    recs = {s: records.load(root, lab, s) for s in names}
    maxima = max_scores(root, lab)
    done_count = 0

    def finish(record: Record, grades: dict, flagged: bool) -> None:
        nonlocal done_count
        started = time.monotonic()
        record.scores = merge(root, lab, record.student, grades, flagged)
        record.total = round(sum(s for s, _ in record.scores.values()), 3)
        record.max_total = sum(maxima.values())
        if record.timing:
            record.timing["merge"] = round(time.monotonic() - started, 3)
        records.save(record, root)
        done_count += 1
        progress("autograde", record, done_count, len(recs))

    todo = []
    for index, (student, record) in enumerate(recs.items()):
        notebook = root / "submitted" / student / lab / f"{lab}.ipynb"
        if not regrade and record.outcome not in {Outcome.PENDING, Outcome.ERROR} and record.scores:
            done_count += 1
            progress("autograde", record, done_count, len(recs))
            continue
        if record.terminal or not notebook.exists():
            if not record.terminal:
                record.set(Outcome.ERROR, "no repaired notebook: run `course-grade repair`")
            shutil.rmtree(root / "autograded" / student / lab, ignore_errors=True)
            finish(record, {}, False)
            continue
        todo.append((index, student))
    if not todo:
        return [recs[s] for s in names]
    executor = executor or LocalPool(settings, root, launched)
    jobs = [make_job(root, lab, student, index, settings, executor.data_sha256) for index, student in todo]
    jobs = longest_first(jobs, released(root, lab))
    merged: set[str] = set()

    def on_done(job: Job, done: Done) -> None:
        if job.student in merged:  # a result that came twice (a retried task): merged once only
            return
        merged.add(job.student)
        record = recs[job.student]
        grades, flagged = record_result(root, lab, record, job, done, settings)
        finish(record, grades, flagged)

    executor.run(jobs, on_done)
    return [recs[s] for s in names]


__all__ = ["Done", "Executor", "LocalPool", "ensure_assignment", "longest_first", "make_job", "run_autograde"]
