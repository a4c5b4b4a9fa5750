"""The phases of ``course-grade`` over every student of one lab.

ingest -> repair -> autograde -> feedback -> export. Each phase reads and updates the
students' records (:mod:`course.records`) and reports progress through a callback
``progress(phase, record, done, total)``; nbgrader's gradebook holds the scores.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

from . import batch, ingest, outcomes, records
from .autograde import (
    Job,
    Settings,
    cleanup_killed,
    course_config,
    course_id,
    db_url,
    feedback_one,
    grade_one,
    max_scores,
    merge,
    reason_for,
)
from .feedback import banner, failure_page, hidden_test_lines, leaks, with_banner
from .repair import repair
from .sandbox import default_hide, sandbox_user

REPO = Path(__file__).resolve().parent.parent
Progress = Callable[[str, records.Record, int, int], None]


def _quiet(phase: str, record: records.Record, done: int, total: int) -> None:
    pass


def ensure_assignment(root: Path, lab: str) -> Path:
    """The released notebook of ``lab``; runs ``nbgrader generate_assignment`` when it or the
    lab's entry in the gradebook is missing."""
    from nbgrader.api import Gradebook, MissingEntry

    released = root / "release" / lab / f"{lab}.ipynb"
    known = False
    if (root / "gradebook.db").exists():
        with Gradebook(db_url(root), course_id(root)) as gb:
            try:
                known = any(nb.name == lab for nb in gb.find_assignment(lab).notebooks)
            except MissingEntry:
                known = False
    if not (known and released.exists()):
        from .grading import nbgrader

        nbgrader(["generate_assignment", lab, "--force"], root)
    return released


def run_ingest(root: Path, lab: str, source: Path, roster: Path | None = None,
               progress: Progress = _quiet) -> list[records.Record]:
    found = ingest.ingest(lab, source, root, roster)
    for i, record in enumerate(found, 1):
        progress("ingest", record, i, len(found))
    return found


def run_repair(root: Path, lab: str, students: list[str] | None = None,
               progress: Progress = _quiet) -> list[records.Record]:
    """Repair every received file into ``submitted/<student>/<lab>/<lab>.ipynb`` (or record why not)."""
    released = json.loads(ensure_assignment(root, lab).read_text())
    names = students or ingest.students(root, lab)
    out = []
    for i, student in enumerate(names, 1):
        record = records.load(root, lab, student)
        source = ingest.received_file(root, lab, student)
        target = root / "submitted" / student / lab / f"{lab}.ipynb"
        if source == target:  # nbgrader's layout, never ingested: keep the original first
            keep = root / "received" / student / lab / target.name
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, keep)
            source = keep
        if source is None:
            record.outcome, record.reason = "empty", outcomes.reason("empty", "nothing was handed in")
            fixed = None
        else:
            fixed = repair(source.read_bytes(), released, lab)
            record.repairs = fixed.changes
            record.outcome = fixed.outcome or "pending"
            record.reason = outcomes.reason(fixed.outcome, fixed.detail) if fixed.outcome else ""
        if fixed is not None and fixed.notebook is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(fixed.notebook, indent=1, ensure_ascii=False) + "\n")
        elif target.exists():
            target.unlink()
        records.save(record, root)
        out.append(record)
        progress("repair", record, i, len(names))
    return out


def _mpl_cache(work: Path) -> Path | None:
    """Build matplotlib's font cache once per run, so no kernel rebuilds it."""
    cache = work / "mpl"
    cache.mkdir()
    env = {**os.environ, "MPLCONFIGDIR": str(cache)}
    try:
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                       capture_output=True, timeout=120, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    return cache


def _preload_keras() -> None:
    """Import Keras (and TensorFlow) once, before the workers fork: the trusted checks load
    students' models with it, and each worker would otherwise spend seconds importing it.
    Nothing runs on TensorFlow here before the fork (its thread pools start at the first op)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras  # noqa: F401
    except ImportError:  # grading without Keras: only labs without models can be graded
        pass


def _grading_data(work: Path) -> Path | None:
    """The Fashion-MNIST a graded kernel gets: the grading budget's images, no held-out test image."""
    from . import data, runtime

    folder = work / "data"
    folder.mkdir(mode=0o755)
    try:
        path = data.write_grading_copy(folder / "fashion-mnist-grading.npz", runtime.budget("ci"))
    except data.DatasetUnavailable:
        return None
    path.chmod(0o644)
    return path


def _work_area() -> Path:
    """A private folder with a short path (ZMQ ipc socket paths must stay under 107 bytes)."""
    base = tempfile.gettempdir()
    work = Path(tempfile.mkdtemp(prefix="cg-", dir=base if len(base) < 40 else "/tmp"))
    work.chmod(0o700)
    return work


def hidden_paths(root: Path, work: Path) -> list[str]:
    """What no kernel may see: temp folders, home, the course root, the work area, the repository."""
    extra = [root, work]
    if (REPO / "autograder").is_dir():  # an editable checkout: sources, samples, tests, .git
        extra.append(REPO)
    return [str(p) for p in default_hide(*extra)]


def run_autograde(root: Path, lab: str, settings: Settings, students: list[str] | None = None,
                  progress: Progress = _quiet) -> list[records.Record]:
    """Autograde every repaired submission in parallel, isolated; record and merge each result."""
    import nbgrader.apps.api  # noqa: F401 - imported once here, shared by every forked worker

    _preload_keras()

    # nbgrader's own submission bookkeeping makes SQLAlchemy warn, harmlessly, for every student
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted")
    ensure_assignment(root, lab)
    names = students or ingest.students(root, lab)
    recs = {s: records.load(root, lab, s) for s in names}
    maxima = max_scores(root, lab)
    total_count, done_count = len(recs), 0
    work = _work_area()
    shutil.copy2(root / "gradebook.db", work / "template.db")
    setup_notes: list[str] = []
    if os.geteuid() == 0:
        for slot in range(settings.workers):
            try:
                sandbox_user(slot)
            except (OSError, subprocess.CalledProcessError) as err:
                setup_notes.append(f"no sandbox user for slot {slot}: {err}")
    mpl = _mpl_cache(work)
    hide = hidden_paths(root, work)
    data_file = _grading_data(work)

    def finish(record: records.Record, grades: dict, flagged: bool) -> None:
        nonlocal done_count
        record.scores = merge(root, lab, record.student, grades, flagged)
        record.total = round(sum(s for s, _ in record.scores.values()), 3)
        record.max_total = sum(maxima.values())
        records.save(record, root)
        done_count += 1
        progress("autograde", record, done_count, total_count)

    jobs = []
    for index, (student, record) in enumerate(recs.items()):
        notebook = root / "submitted" / student / lab / f"{lab}.ipynb"
        if record.terminal or not notebook.exists():
            if not record.terminal:
                record.outcome = "error"
                record.reason = outcomes.reason("error", "no repaired notebook: run `course-grade repair`")
            shutil.rmtree(root / "autograded" / student / lab, ignore_errors=True)
            finish(record, {}, False)
            continue
        jobs.append(Job(lab, student, index, str(root), str(notebook), str(work), settings, hide,
                        str(mpl) if mpl else None, str(data_file) if data_file else None))

    def on_done(job: Job, done: batch.Done) -> None:
        record = recs[job.student]
        record.seconds = round(done.seconds, 1)
        autograded = root / "autograded" / job.student / lab
        shutil.rmtree(autograded, ignore_errors=True)
        grades, flagged = {}, False
        record.notes = [n for n in record.notes if n.startswith(("filed as", "also handed in"))]
        if done.failure == "timeout":
            record.outcome = "wall_clock"
            record.reason = outcomes.reason("wall_clock", f"grading took longer than the {settings.timeout} s"
                                            " limit for one submission and was stopped: 0 points")
            record.worker_peak_mb = round(done.peak_rss_mb, 1)
        elif done.failure:
            record.outcome = "error"
            record.reason = outcomes.reason("error", done.failure.strip().splitlines()[-1][:300])
            record.worker_peak_mb = round(done.peak_rss_mb, 1)
        else:
            result = done.result or {}
            record.outcome, record.reason = reason_for(result, record.repairs)
            record.notes += result.get("notes", [])
            grades, flagged = result.get("grades", {}), result.get("flagged", False)
            kernel = result.get("kernel", {})
            record.isolation = kernel.get("applied", [])
            record.isolation_missing = setup_notes + kernel.get("missing", [])
            record.kernel_peak_mb = kernel.get("peak_mb")
            record.worker_peak_mb = result.get("worker_peak_mb")
            record.judge_seconds = result.get("judge_seconds")
            record.flagged = bool(result.get("flagged"))
            if result.get("autograded"):
                shutil.copytree(result["autograded"], autograded)
            if settings.stop_after_last_test:
                record.notes.append("cells after the last test were not run (--stop-after-last-test)")
        finish(record, grades, flagged)
        shutil.rmtree(job.private_root, ignore_errors=True)

    try:
        batch.run(jobs, grade_one, settings.workers, settings.timeout, work / "results", on_done,
                  on_kill=lambda job, slot: cleanup_killed(job))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [recs[s] for s in names]


def run_feedback(root: Path, lab: str, workers: int, students: list[str] | None = None,
                 progress: Progress = _quiet) -> list[records.Record]:
    """HTML feedback per student: nbgrader's (hidden tests cleared), with the outcome on top;
    a page of its own for a submission that could not run. A page that would show a hidden
    test line is withheld."""
    import nbgrader.apps.api  # noqa: F401 - shared by the forked workers

    source = json.loads((root / "source" / lab / f"{lab}.ipynb").read_text())
    released = json.loads(ensure_assignment(root, lab).read_text())
    hidden = hidden_test_lines(source, released)
    recs = {r.student: r for r in records.load_all(root, lab) if not students or r.student in students}
    count = 0

    def write(record: records.Record, page: str | None) -> None:
        nonlocal count
        path = root / "feedback" / record.student / lab / f"{lab}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        box = banner(record.outcome, record.reason, record.total, record.max_total)
        page = with_banner(page, box) if page else failure_page(record.student, lab, box, record.scores)
        shown = leaks(page, hidden)
        if shown:
            record.notes.append(f"feedback withheld: nbgrader's page showed {len(shown)} hidden-test line(s)")
            box = banner(record.outcome, "feedback withheld (it would show hidden tests); ask the instructor",
                         record.total, record.max_total)
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
            recs[student].notes.append("nbgrader generate_feedback failed: "
                                       + ((done.result or {}).get("log") or done.failure or "")[-300:])
        write(recs[student], html_path.read_text() if ok else None)

    with tempfile.TemporaryDirectory() as tmp:
        batch.run(jobs, lambda student, slot: feedback_one(root, lab, student), workers, 600, Path(tmp),
                  on_done)
    return list(recs.values())


def final_scores(root: Path, lab: str) -> dict[str, dict[str, list[float]]]:
    """student -> grade cell -> [score, max] as the gradebook has them now (manual grades included)."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, list[float]]] = {}
    with Gradebook(db_url(root), course_id(root)) as gb:
        for sub in gb.assignment_submissions(lab):
            out[sub.student.id] = {g.name: [float(g.score or 0.0), float(g.max_score)]
                                   for nb in sub.notebooks for g in nb.grades}
    return out


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
            record = recs.get(student, records.Record(student, lab, outcome="not graded"))
            total = round(sum(s for s, _ in cells.values()), 3)
            max_total = sum(m for _, m in cells.values())
            for test in tests:
                s, m = cells.get(test, [0.0, 0.0])
                long.writerow([student, lab, test, s, m, total, max_total, record.outcome, record.reason])
            wide.writerow([student, lab, *(cells.get(t, [0.0])[0] for t in tests), total, max_total,
                           record.outcome, record.reason])
    with sqlite3.connect(root / "gradebook.db") as src, sqlite3.connect(db_path) as dst:
        src.backup(dst)
    return long_path, wide_path, db_path


def uses_config(root: Path) -> bool:
    """True when ``root`` is an nbgrader course root (has nbgrader_config.py and source/)."""
    return (root / "nbgrader_config.py").exists() and (root / "source").is_dir() and bool(course_config(root))
