"""The instructor's command, ``course-grade``: release labs and grade a class with nbgrader.

* ``release``   regenerate ``labs/`` from ``autograder/source/``;
* ``ingest``    file a folder (or zip) of submissions under student ids;
* ``repair``    restore the cell metadata Colab / VS Code dropped or duplicated;
* ``autograde`` grade many submissions at once, each isolated (``course.sandbox``);
* ``feedback``  HTML per student, without hidden tests;
* ``export``    grades CSV per student and exercise, plus the SQLite gradebook;
* ``run-all``   all of the above after release; ``sandbox-check`` shows what isolation
  this machine allows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

REPO = Path(__file__).resolve().parent.parent
COURSE_ROOT = REPO / "autograder"
LABS = REPO / "labs"


def lab_names(course_root: Path = COURSE_ROOT) -> list[str]:
    """The labs that have an nbgrader source notebook, in order."""
    return sorted(p.parent.name for p in (course_root / "source").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def copy_course_root(dest: Path, labs: list[str] | None = None) -> Path:
    """A private nbgrader course root at ``dest``: the config and the sources of ``labs``
    (default: all), nothing graded. For tests, benchmarks and samples."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE_ROOT / "nbgrader_config.py", dest)
    for lab in labs or lab_names():
        shutil.copytree(COURSE_ROOT / "source" / lab, dest / "source" / lab)
    return dest


def nbgrader(args: list[str], course_root: Path) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course_root``; raise with its log if it fails."""
    env = dict(os.environ)  # nbgrader calls `alembic` by name: put this Python's bin first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course_root,
        capture_output=True, text=True, env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def normalized(notebook: dict) -> dict:
    """A notebook without outputs and execution counts (what gets committed)."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def release(lab: str, course_root: Path = COURSE_ROOT, labs_dir: Path = LABS) -> Path:
    """``nbgrader generate_assignment`` for ``lab``, then copy the student notebook to ``labs/``."""
    nbgrader(["generate_assignment", lab, "--force"], course_root)
    released = course_root / "release" / lab / f"{lab}.ipynb"
    notebook = normalized(json.loads(released.read_text()))
    labs_dir.mkdir(parents=True, exist_ok=True)
    target = labs_dir / f"{lab}.ipynb"
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    for extra in (course_root / "release" / lab).iterdir():  # data files beside the notebook
        if extra.name != released.name and extra.is_file():
            shutil.copy2(extra, labs_dir / extra.name)
    return target


class ProgressBar:
    """One line per phase on a terminal (redrawn in place), one line per student otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 24):
        self.stream, self.width = stream, width
        self.tty = stream.isatty()
        self.start: dict[str, float] = {}

    def __call__(self, phase: str, record, done: int, total: int) -> None:
        self.start.setdefault(phase, time.monotonic())
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"{phase:<9} [{bar}] {done}/{total} {time.monotonic() - self.start[phase]:5.0f}s "
                f"{record.student}: {record.outcome}")
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120) + ("\n" if done == total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def summary(recs: list, stream: TextIO = sys.stdout, reason_width: int = 90) -> None:
    """The table printed after a phase: one row per student."""
    rows = [("student", "outcome", "score", "time s", "worker MB", "kernel MB", "reason")]
    for r in recs:
        rows.append((r.student, r.outcome, f"{r.total:g}/{r.max_total:g}", f"{r.seconds:g}",
                     f"{r.worker_peak_mb:g}" if r.worker_peak_mb else "-",
                     f"{r.kernel_peak_mb:g}" if r.kernel_peak_mb else "-",
                     r.reason if len(r.reason) <= reason_width else r.reason[: reason_width - 3] + "..."))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for n, row in enumerate(rows):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        stream.write("  ".join(cells) + "  " + row[-1] + "\n")
        if n == 0:
            stream.write("  ".join("-" * w for w in widths) + "  " + "-" * 6 + "\n")
    counts: dict[str, int] = {}
    for r in recs:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    stream.write(f"{len(recs)} students: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + "\n")
    isolation = {line for r in recs for line in r.isolation}
    missing = {line for r in recs for line in r.isolation_missing}
    if isolation or missing:
        stream.write("isolation applied: " + "; ".join(sorted(isolation)) + "\n")
        if missing:
            stream.write("isolation NOT applied: " + "; ".join(sorted(missing)) + "\n")


def _settings(args: argparse.Namespace):
    from .autograde import Settings

    settings = Settings(memory_mb=args.memory_mb, timeout=args.timeout, cell_timeout=args.cell_timeout,
                        stop_after_last_test=args.stop_after_last_test, kernel_threads=args.kernel_threads)
    if args.workers:
        settings.workers = args.workers
    return settings


def _add_grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=0,
                   help="submissions graded at once (default: CPU cores + 1)")
    p.add_argument("--cell-timeout", type=int, default=None,
                   help="seconds a cell may run (default: Execute.timeout in nbgrader_config.py)")
    p.add_argument("--timeout", type=int, default=1200,
                   help="seconds per submission, wall clock (default 1200)")
    p.add_argument("--memory-mb", type=int, default=4096,
                   help="memory limit of a student's kernel (default 4096)")
    p.add_argument("--kernel-threads", type=int, default=0,
                   help="CPU threads per kernel for TensorFlow/OpenMP (default: theirs, all cores)")
    p.add_argument("--stop-after-last-test", action="store_true",
                   help="do not run the ungraded cells after the last test (faster; feedback shows less)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course-root", type=Path, default=COURSE_ROOT,
                        help="nbgrader course root (default: the repository's autograder/)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate labs/ from autograder/source/")
    rel.add_argument("labs", nargs="*", help="lab names (default: all)")
    ing = sub.add_parser("ingest", help="file a folder or zip of submissions under student ids")
    rep = sub.add_parser("repair", help="restore nbgrader cell metadata; record unusable files")
    aut = sub.add_parser("autograde", help="grade in parallel, each submission isolated")
    fee = sub.add_parser("feedback", help="HTML feedback per student, without hidden tests")
    exp = sub.add_parser("export", help="grades CSV and a copy of the SQLite gradebook")
    run = sub.add_parser("run-all", help="ingest, repair, autograde, feedback and export")
    sub.add_parser("sandbox-check", help="show what isolation this machine allows")
    for p in (ing, rep, aut, fee, exp, run):
        p.add_argument("lab", help="lab name, e.g. lab02_dense_autoencoder")
    for p in (ing, run):
        p.add_argument("source", type=Path,
                       help="folder or .zip of submissions (LMS download, nbgrader layout)")
        p.add_argument("--roster", type=Path, help="CSV with an id column and any of name, email, login")
    for p in (rep, aut, fee):
        p.add_argument("students", nargs="*", help="only these students (default: everyone)")
    for p in (aut, run):
        _add_grading_options(p)
    fee.add_argument("--workers", type=int, default=0,
                     help="feedback pages made at once (default: CPU cores)")
    for p in (exp, run):
        p.add_argument("--out", type=Path, default=None,
                       help="folder for the CSVs (default: COURSE_ROOT/export/LAB)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines, in every kernel too
    root = args.course_root.resolve()
    known = lab_names(root)
    if not known:
        parser.error(f"{root} has no source/<lab>/<lab>.ipynb: is --course-root an nbgrader course root?")
    for lab in getattr(args, "labs", None) or [getattr(args, "lab", known[0])]:
        if lab not in known:
            parser.error(f"no lab named {lab!r} in {root / 'source'}; the labs are: {', '.join(known)}")
    source = getattr(args, "source", None)
    if source is not None and not source.exists():
        parser.error(f"{source} does not exist: give the folder (or .zip) that holds the submissions")
    roster = getattr(args, "roster", None)
    if roster is not None and not roster.is_file():
        parser.error(f"{roster} is not a file: give a CSV with an id column (and name, email or login)")

    if args.command == "release":
        for lab in args.labs or known:
            print(f"released {lab} -> {release(lab, root).relative_to(REPO)}")
        return 0
    from . import sandbox

    if args.command == "sandbox-check":
        for key, value in sandbox.probe(root).items():
            print(f"{key:>16}: {value}")
        return 0
    from .batch import stop_on_sigterm

    stop_on_sigterm()
    bar = ProgressBar()
    out = args.out or root / "export" / args.lab if args.command in {"export", "run-all"} else None
    students = getattr(args, "students", None) or None
    try:
        recs = _run_phases(args, root, students, bar)
    except KeyboardInterrupt as stop:
        print(f"\nstopped ({stop or 'Ctrl-C'}): nothing of the batch is left running; records of the "
              "students graded so far are kept. Run the same command again to grade the rest.",
              file=sys.stderr)
        return 130
    summary(recs)
    if out is not None:
        long_csv, wide_csv, db = (out / "grades.csv", out / "grades_wide.csv", out / "gradebook.db")
        print(f"grades: {long_csv}\n        {wide_csv}")
        print(f"gradebook (SQLite): {db} (copy of {root / 'gradebook.db'})")
    if args.command in {"feedback", "run-all"}:
        print(f"feedback: {root / 'feedback'}/<student>/{args.lab}/{args.lab}.html")
    failed = [r.student for r in recs if r.outcome == "error"]
    if failed:  # the grader failed (not the student): say so in the exit status, unlike nbgrader
        print(f"grading failed for {len(failed)} student(s): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run_phases(args: argparse.Namespace, root: Path, students: list[str] | None, bar: ProgressBar) -> list:
    from . import pipeline

    out = args.out or root / "export" / args.lab if args.command in {"export", "run-all"} else None
    recs: list = []
    if args.command in {"ingest", "run-all"}:
        recs = pipeline.run_ingest(root, args.lab, args.source, args.roster, bar)
    if args.command in {"repair", "run-all"}:
        recs = pipeline.run_repair(root, args.lab, students, bar)
    if args.command in {"autograde", "run-all"}:
        recs = pipeline.run_autograde(root, args.lab, _settings(args), students, bar)
    if args.command in {"feedback", "run-all"}:
        workers = args.workers or os.cpu_count() or 1
        recs = pipeline.run_feedback(root, args.lab, workers, students, bar)
    if args.command in {"export", "run-all"}:
        pipeline.run_export(root, args.lab, out)
        recs = recs or pipeline.records.load_all(root, args.lab)
    return recs


if __name__ == "__main__":
    raise SystemExit(main())
