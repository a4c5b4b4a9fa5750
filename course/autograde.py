"""Grade one student with nbgrader's own API in a private course root, then judge and merge.

Each student is graded in a forked process of its own (:mod:`course.batch`), in a
private copy of the course root (config, the lab's source, a copy of the gradebook,
the repaired notebook), with the kernel in :mod:`course.sandbox`. The verdict of every
test is computed in that process, never in the kernel (:mod:`course.trusted`). nbgrader's
SQLite gradebook does not like concurrent writers, so the workers never touch the
course's gradebook: the parent merges each result into it through nbgrader's API, one
at a time.

After nbgrader has run, :func:`judge` names the outcome from what the trusted side
recorded (its report) and the sandbox's report:

* a student cell that ran past the time limit stops the notebook there: the tests after
  it score 0 (a test that times out only fails itself); a kernel that ignores the
  interrupt scores 0 everywhere, since the hidden tests can no longer run;
* a kernel killed by the memory limit, one that exited or crashed, and a submission
  that passed the wall-clock limit score 0;
* code that looks like it patches the tests (:mod:`course.integrity`) is only flagged for
  the instructor: no grade depends on that scan.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import integrity, outcomes
from .sandbox import STARTUP_FAILED, CGroups, KernelReport, Limits, Sandbox, private_work_folder


def default_workers() -> int:
    """One more worker than cores: a worker spends ~20% of its time waiting (kernel start-up,
    nbgrader's files and gradebook), and the extra one keeps the cores busy. On 2 cores, 12
    students of lab02: 1.56x serial nbgrader with 2 workers, 1.91x with 3."""
    return (os.cpu_count() or 1) + 1


@dataclass
class Settings:
    workers: int = field(default_factory=default_workers)
    cell_timeout: int | None = None  # seconds per cell; None: Execute.timeout of nbgrader_config.py
    timeout: int = 1200  # seconds per submission, wall clock, everything included
    memory_mb: int = 4096
    stop_after_last_test: bool = False  # skip the ungraded cells after the last test (faster, less feedback)
    kernel_threads: int = 0  # CPU threads per kernel for TF/OpenMP; 0: the libraries' default


@dataclass
class Job:
    lab: str
    student: str
    index: int
    course_root: str
    notebook: str  # the repaired notebook
    work: str  # the run's private work area
    settings: Settings
    hide: list[str]
    mpl_cache: str | None = None
    data_file: str | None = None  # the grader's copy of the lab's data, without held-out images

    @property
    def private_root(self) -> Path:
        return Path(self.work) / f"s{self.index:03d}"


def course_config(root: Path):
    """The traitlets config of the course root's ``nbgrader_config.py``."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def cell_timeout(root: Path, settings: Settings) -> int:
    if settings.cell_timeout:
        return settings.cell_timeout
    return int(course_config(root).Execute.get("timeout", 30) or 30)


def db_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def course_id(root: Path) -> str:
    return course_config(root).CourseDirectory.get("course_id", "default_course")


def read_grades(root: Path, lab: str, student: str) -> dict[str, dict]:
    """grade cell -> {'score', 'max', 'manual'} of a student's submission (empty if none)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url(root), course_id(root)) as gb:
        try:
            sub = gb.find_submission(lab, student)
        except MissingEntry:
            return {}
        return {g.name: {"score": g.auto_score, "max": float(g.max_score),
                         "manual": bool(g.needs_manual_grade)} for nb in sub.notebooks for g in nb.grades}


def max_scores(root: Path, lab: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url(root), course_id(root)) as gb:
        notebooks = gb.find_assignment(lab).notebooks
        return {c.name: float(c.max_score) for nb in notebooks for c in nb.grade_cells}


# --------------------------------------------------------------------------- in the worker


def grade_one(job: Job, slot: int) -> dict:
    """Autograde one student in a private root with a sandboxed kernel; return a JSON-able result."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    root, lab, student = Path(job.course_root), job.lab, job.student
    private = job.private_root
    private.mkdir(mode=0o700)
    shutil.copy2(root / "nbgrader_config.py", private / "nbgrader_config.py")
    shutil.copytree(root / "source" / lab, private / "source" / lab)
    shutil.copy2(Path(job.work) / "template.db", private / "gradebook.db")
    submitted = private / "submitted" / student / lab
    submitted.mkdir(parents=True)
    notebook = nbformat.read(job.notebook, as_version=4)
    if job.settings.stop_after_last_test:
        graded = [i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade")]
        notebook.cells = notebook.cells[: graded[-1] + 1] if graded else notebook.cells
    nbformat.write(notebook, submitted / f"{lab}.ipynb")

    limits = Limits(memory_mb=job.settings.memory_mb, threads=max(job.settings.kernel_threads, 0))
    sandbox = Sandbox(private, slot, limits, [Path(h) for h in job.hide], label=f"{os.getpid()}",
                      data_file=Path(job.data_file) if job.data_file else None)
    tmpfs = private_work_folder(sandbox.kernel_dir, max(job.settings.memory_mb // 2, 64))
    sandbox.notes = [] if tmpfs else ["the kernel's working folder is on disk (a private tmpfs needs root)"]
    os.environ.update(sandbox.prepare(Path(job.mpl_cache) if job.mpl_cache else None))
    cgroups = [str(d) for d in sandbox.cgroups.dirs.values()]
    (private / "status" / "cgroups.json").write_text(json.dumps(cgroups))
    config = course_config(private)
    config.CourseDirectory.root = str(private)
    for section, values in sandbox.kernel_config().items():
        for key, value in values.items():
            config[section][key] = value
    limit = cell_timeout(root, job.settings)
    config.Execute.timeout = limit
    report_file = private / "status" / "trusted.json"
    config.TrustedExecute.report_file = str(report_file)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.autograde(lab, student, force=True, create=True)
    kernel = sandbox.finish()
    if tmpfs:
        kernel.applied.append(tmpfs)
    kernel.missing += sandbox.notes

    executed_path = private / "autograded" / student / lab / f"{lab}.ipynb"
    executed = nbformat.read(executed_path, as_version=4) if executed_path.exists() else None
    try:
        report = json.loads(report_file.read_text())
    except (OSError, ValueError):
        report = None
    grades = read_grades(private, lab, student)
    verdict = judge(executed, kernel, result.get("log", "") + result.get("error", ""), grades,
                    job.settings.memory_mb, limit, report)
    return {
        **verdict, "kernel": asdict(kernel), "autograded": str(executed_path.parent) if executed else None,
        "worker_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "judge_seconds": round((report or {}).get("judge_seconds", 0.0), 2),
    }


def _label(cell, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def judge(executed, kernel: KernelReport, log: str, grades: dict[str, dict], memory_mb: int,
          limit: int, report: dict | None = None) -> dict:
    """The outcome, its detail, notes and final grades of one autograded submission."""
    zero_all = {name: {**g, "score": 0.0 if not g["manual"] else g["score"]} for name, g in grades.items()}
    if kernel.oom_killed:
        return {"outcome": "memory", "grades": zero_all, "notes": [], "flagged": False,
                "detail": f"the kernel used more than the {memory_mb} MB memory limit and was killed; "
                          "the notebook could not finish: 0 points"}
    if executed is None:
        if kernel.exit == f"exit {STARTUP_FAILED}":
            kind, detail = "error", "the sandbox could not start the kernel (see the grader's log)"
        elif "CellTimeoutError" in log or "Timeout waiting for" in log:
            preview = log.split("preview of the cell contents:")[-1].split("-------------------")
            first = next((line.strip() for line in (preview[1] if len(preview) > 1 else "").splitlines()
                          if line.strip()), "?")
            kind = "timeout"
            detail = (f"the cell starting {first[:80]!r} ran past the {limit} s time limit and the kernel "
                      "did not answer nbgrader's interrupt (does the code catch KeyboardInterrupt?); "
                      "nbgrader could not finish the notebook: 0 points")
        elif kernel.exit:
            how = (f"was killed by {kernel.exit.split()[1]}" + (" (a crash)" if "SEGV" in kernel.exit else "")
                   if kernel.exit.startswith("signal") else
                   f"ended with {kernel.exit} (os._exit or exit in the student's code)")
            kind, detail = "kernel_died", f"the kernel {how} while running the notebook: 0 points"
        elif "Kernel died" in log or "DeadKernel" in log:
            kind = "kernel_died"
            detail = "the kernel stopped while running the notebook (exit() or quit()?): 0 points"
        else:
            last = [line for line in log.splitlines() if line.strip()][-1:] or ["no log"]
            kind, detail = "error", f"nbgrader could not grade it: {last[0][:300]}"
        return {"outcome": kind, "detail": detail, "grades": zero_all, "notes": [], "flagged": False}

    notes = list((report or {}).get("errors", []))
    code = [c.source for c in executed.cells if c.cell_type == "code"]
    modules = integrity.imported_names(code)
    flags = []
    for i, cell in enumerate(executed.cells):
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("locked", False):
            found = integrity.findings(cell.source, modules)
            if found:
                flags.append(f"{_label(cell, i)} " + "; ".join(found))
    if report is None:
        return {"outcome": "error", "detail": "the trusted checks left no report (see the grader's log)",
                "grades": zero_all, "notes": notes, "flagged": bool(flags), "flags": flags}
    cut = report.get("output_cut", [])
    if cut:
        notes.append("output cut: " + "; ".join(cut))
    verdicts = report.get("verdicts", {})
    kind, detail = None, "; ".join(notes)
    if report.get("unresponsive") or report.get("stopped_at"):
        where = report.get("stopped_at") or "a test"
        zeroed = [g for g, v in verdicts.items() if v.get("detail") == "not reached"]
        kind = "timeout"
        if report.get("unresponsive"):
            detail = (f"{where} ran past the {limit} s time limit and the kernel did not answer nbgrader's "
                      "interrupt (does the code catch KeyboardInterrupt?): nothing after it ran and the "
                      "hidden tests could not run: 0 points for their tests")
        else:
            detail = (f"{where} ran past the {limit} s time limit for a cell and was interrupted; a notebook "
                      "that never finishes that cell never reaches the tests after it: "
                      + (", ".join(zeroed) + " scored 0" if zeroed else
                         "no test after it had points to lose"))
        detail += f"; other errors: {'; '.join(notes)}" if notes else ""
    elif report.get("timeouts"):
        kind = "timeout"
        detail = "; ".join(f"{t} ran past the {limit} s time limit for a cell and was interrupted"
                           for t in report["timeouts"])
        detail += f"; other errors: {'; '.join(notes)}" if notes else ""
    final = {name: dict(g) for name, g in grades.items()}
    failed = [f"{g} ({v.get('detail') or v.get('failed')})"[:200] for g, v in verdicts.items()
              if v.get("failed") is not None]
    return {"outcome": kind, "detail": detail, "grades": final, "notes": notes, "flagged": bool(flags),
            "flags": flags, "failed_tests": failed}


def cleanup_killed(job: Job) -> None:
    """After a worker was killed for its wall-clock limit: kill its kernel's cgroups."""
    try:
        dirs = json.loads((job.private_root / "status" / "cgroups.json").read_text())
    except (OSError, ValueError):
        return
    CGroups(dirs={str(i): Path(d) for i, d in enumerate(dirs)}).kill_and_remove()


# --------------------------------------------------------------------------- in the parent


def merge(root: Path, lab: str, student: str, grades: dict[str, dict],
          flagged: bool) -> dict[str, list[float]]:
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
                grade.auto_score = 0.0 if g is None or g["score"] is None and not g["manual"] else g["score"]
                grade.needs_manual_grade = bool(g and g["manual"])
                score = grade.manual_score if grade.manual_score is not None else grade.auto_score
                scores[grade.name] = [float(score or 0.0), float(grade.max_score)]
        gb.db.commit()
    return scores


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


def reason_for(verdict: dict, repairs: list[str]) -> tuple[str, str]:
    """(outcome, reason) for the record, from the judge's verdict and the repairs made."""
    kind = verdict["outcome"] or ("repaired" if repairs else "graded")
    if kind == "repaired":
        detail = "; ".join(repairs) + (f"; errors in the student's cells: {verdict['detail']}"
                                       if verdict["detail"] else "")
    elif kind == "graded":
        detail = "all cells ran"
        if verdict["detail"]:
            detail = f"errors in the student's cells: {verdict['detail']}"
    else:
        detail = verdict["detail"]
    if verdict.get("failed_tests"):
        detail += "; tests failed: " + "; ".join(verdict["failed_tests"])
    if verdict.get("flags"):
        detail += ("; flagged for the instructor (no points depend on this): "
                   + "; ".join(verdict["flags"]))[:600]
    return kind, outcomes.reason(kind, detail)


def elapsed(start: float) -> float:
    return round(time.monotonic() - start, 1)
