"""The instructor's command, ``course-grade``: release labs, publish the student edition, grade a class.

* ``release``   the student version of each lab (nbgrader's ``release/``, and ``labs/`` beside it);
* ``publish``   the student edition: a repository without solutions, hidden tests or grading code;
* ``ingest``    file a folder (or zip) of submissions under student ids;
* ``repair``    restore the cell metadata Colab / VS Code dropped or duplicated;
* ``autograde`` grade many submissions at once, each isolated, verdicts judged outside the kernel;
* ``feedback``  HTML per student, without hidden tests;
* ``export``    grades CSV per student and exercise, plus the SQLite gradebook;
* ``run-all``   ingest to export in one go; ``sandbox-check`` shows what a graded kernel can see.

The course root comes from ``--course-root``, else ``COURSE_ROOT``, else the working
directory (or its ``autograder/`` folder).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from .course_root import NoCourseRoot, find_course_root, lab_names


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
        where = f" [{record.worker}]" if phase == "autograde" and record.worker else ""
        line = (
            f"{phase:<9} [{bar}] {done}/{total} {time.monotonic() - self.start[phase]:5.0f}s "
            f"{record.student}: {record.outcome}{where}"
        )
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120) + ("\n" if done == total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def summary(recs: list, stream: TextIO = sys.stdout, reason_width: int = 90) -> None:
    """The table printed after a phase: one row per student."""
    rows = [("student", "outcome", "score", "time s", "worker MB", "kernel MB", "worker", "reason")]
    for r in recs:
        rows.append(
            (
                r.student,
                str(r.outcome),
                f"{r.total:g}/{r.max_total:g}",
                f"{r.seconds:g}",
                f"{r.worker_peak_mb:g}" if r.worker_peak_mb else "-",
                f"{r.kernel_peak_mb:g}" if r.kernel_peak_mb else "-",
                r.worker or "-",
                r.reason if len(r.reason) <= reason_width else r.reason[: reason_width - 3] + "...",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for n, row in enumerate(rows):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        stream.write("  ".join(cells) + "  " + row[-1] + "\n")
        if n == 0:
            stream.write("  ".join("-" * w for w in widths) + "  " + "-" * 6 + "\n")
    counts: dict[str, int] = {}
    for r in recs:
        counts[str(r.outcome)] = counts.get(str(r.outcome), 0) + 1
    stream.write(f"{len(recs)} students: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + "\n")
    isolation = {line for r in recs for line in r.isolation}
    missing = {line for r in recs for line in r.isolation_missing}
    if isolation or missing:
        stream.write("isolation applied: " + "; ".join(sorted(isolation)) + "\n")
        if missing:
            stream.write("isolation NOT applied: " + "; ".join(sorted(missing)) + "\n")


def _settings(args: argparse.Namespace):
    from .autograde.job import Settings

    settings = Settings(
        memory_mb=args.memory_mb,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        stop_after_last_test=args.stop_after_last_test,
        kernel_threads=args.kernel_threads,
        warm=not args.cold,
    )
    if args.workers:
        settings.workers = args.workers
    return settings


def _add_grading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="submissions graded at once on this machine (default: CPU cores + 1)",
    )
    p.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        help="seconds a cell may run (default: Execute.timeout in nbgrader_config.py)",
    )
    p.add_argument(
        "--timeout", type=int, default=1200, help="seconds per submission, wall clock (default 1200)"
    )
    p.add_argument(
        "--memory-mb", type=int, default=4096, help="memory limit of a student's kernel (default 4096)"
    )
    p.add_argument(
        "--kernel-threads",
        type=int,
        default=0,
        help="CPU threads per kernel for TensorFlow/OpenMP (default: theirs, all cores)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="start every kernel from scratch, not forked from a warm zygote per slot (for comparison)",
    )
    p.add_argument(
        "--stop-after-last-test",
        action="store_true",
        help="do not run the ungraded cells after the last test (faster; feedback shows less)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="grade on a Dask cluster: tcp://HOST:PORT of its scheduler, or 'local:N' for a "
        "local cluster of N worker processes (default: this machine's own pool)",
    )
    p.add_argument(
        "--regrade",
        action="store_true",
        help="grade everyone again (default: only students without a result yet)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course-grade", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--course-root",
        type=Path,
        default=None,
        help="nbgrader course root (default: $COURSE_ROOT, else . or ./autograder)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="the student version of each lab (release/ and labs/)")
    rel.add_argument("labs", nargs="*", help="lab names (default: all)")
    pub = sub.add_parser("publish", help="write the student edition (a repository) into a folder")
    pub.add_argument("out", type=Path, help="the folder to write (created; replaced with --force)")
    pub.add_argument("--force", action="store_true", help="replace what is in OUT")
    ing = sub.add_parser("ingest", help="file a folder or zip of submissions under student ids")
    rep = sub.add_parser("repair", help="restore nbgrader cell metadata; record unusable files")
    aut = sub.add_parser("autograde", help="grade in parallel, each submission isolated")
    fee = sub.add_parser("feedback", help="HTML feedback per student, without hidden tests")
    exp = sub.add_parser("export", help="grades CSV and a copy of the SQLite gradebook")
    run = sub.add_parser("run-all", help="ingest, repair, autograde, feedback and export")
    chk = sub.add_parser("sandbox-check", help="show what a graded kernel can see and do on this machine")
    chk.add_argument("--strict", action="store_true", help="exit 1 unless every isolation step is applied")
    for p in (ing, rep, aut, fee, exp, run):
        p.add_argument("lab", help="lab name, e.g. lab02_dense_autoencoder")
    for p in (ing, run):
        p.add_argument(
            "source", type=Path, help="folder or .zip of submissions (LMS download, nbgrader layout)"
        )
        p.add_argument("--roster", type=Path, help="CSV with an id column and any of name, email, login")
    for p in (rep, aut, fee):
        p.add_argument("students", nargs="*", help="only these students (default: everyone)")
    for p in (aut, run):
        _add_grading_options(p)
    fee.add_argument(
        "--workers", type=int, default=0, help="feedback pages made at once (default: CPU cores)"
    )
    for p in (exp, run):
        p.add_argument(
            "--out", type=Path, default=None, help="folder for the CSVs (default: COURSE_ROOT/export/LAB)"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    # jsonschema, imported by nbformat, builds a grammar for the "iri" format at import when
    # rfc3987-syntax is installed (a Jupyter dependency): 1 to 3 s before the grader can start.
    # nbformat, nbconvert and nbgrader never check formats, so the grader does without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    parser = _parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines, in every kernel too
    try:
        root = find_course_root(args.course_root)
    except NoCourseRoot as err:
        parser.error(str(err))
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
        from .release import release

        for lab in args.labs or known:
            print(f"released {lab} -> " + ", ".join(str(p) for p in release(lab, root)))
        return 0
    if args.command == "publish":
        from .publish import PublishError, publish

        try:
            print(f"student edition written to {publish(root, args.out, force=args.force)}")
        except PublishError as err:
            parser.error(str(err))
        return 0
    if args.command == "sandbox-check":
        from .sandbox import probe

        found = probe(root)
        for key, value in found.items():
            print(f"{key:>16}: {value}")
        return 1 if args.strict and "NOT applied" in found else 0

    from .batch import stop_on_sigterm, stop_requested

    stop_on_sigterm()
    bar = ProgressBar()
    out = args.out or root / "export" / args.lab if args.command in {"export", "run-all"} else None
    launched = None
    try:
        if args.command in {"autograde", "run-all"} and not getattr(args, "scheduler", None):
            from .autograde.machine import launch

            settings = _settings(args)  # the zygotes import TensorFlow while the grader imports the rest
            launched = launch(settings.workers, settings.warm, settings.memory_mb)
        recs = _run_phases(args, root, getattr(args, "students", None) or None, bar, out, launched)
    except KeyboardInterrupt as stop:
        return _stopped(str(stop) or "Ctrl-C")
    except Exception as err:
        if stop_requested():  # the signal came out of C code (an import) as another exception
            return _stopped(stop_requested())
        from .cluster import ClusterError  # imported only here: it costs seconds

        if not isinstance(err, ClusterError):
            raise
        print(
            f"\ncourse-grade: {err}. The results merged so far are kept; run the same command "
            "again to grade the rest.",
            file=sys.stderr,
        )
        return 3
    finally:
        if launched is not None:  # what the pool did not use (nothing to grade, an error)
            from .autograde.machine import release

            release(launched)
    summary(recs)
    if out is not None:
        print(f"grades: {out / 'grades.csv'}\n        {out / 'grades_wide.csv'}")
        print(f"gradebook (SQLite): {out / 'gradebook.db'} (copy of {root / 'gradebook.db'})")
    if args.command in {"feedback", "run-all"}:
        print(f"feedback: {root / 'feedback'}/<student>/{args.lab}/{args.lab}.html")
    failed = [r.student for r in recs if str(r.outcome) == "error"]
    if failed:  # the grader failed (not the student): say so in the exit status, unlike nbgrader
        print(f"grading failed for {len(failed)} student(s): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _stopped(why: str | None) -> int:
    import signal

    # stopping now: a second Ctrl-C or SIGTERM would cut the clean-up short; further signals
    # are ignored until the grader exits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(
        f"\nstopped ({why or 'Ctrl-C'}): nothing of the batch is left running; the results merged so "
        "far are kept. Run the same command again to grade the rest.",
        file=sys.stderr,
    )
    return 130


def _executor(args: argparse.Namespace, settings):
    if not getattr(args, "scheduler", None):
        return None
    from .cluster import DaskExecutor

    return DaskExecutor(args.scheduler, settings)


def _run_phases(
    args: argparse.Namespace,
    root: Path,
    students: list[str] | None,
    bar: ProgressBar,
    out: Path | None,
    launched=None,
) -> list:
    from . import records

    recs: list = []
    if args.command in {"ingest", "run-all"}:
        from .intake import run_ingest

        recs = run_ingest(root, args.lab, args.source, args.roster, bar)
    if args.command in {"repair", "run-all"}:
        from .intake import run_repair

        recs = run_repair(root, args.lab, students, bar)
    if args.command in {"autograde", "run-all"}:
        from .autograde.run import run_autograde

        settings = _settings(args)
        recs = run_autograde(
            root,
            args.lab,
            settings,
            students,
            bar,
            _executor(args, settings),
            regrade=args.regrade or args.command == "run-all",
            launched=launched,
        )
    if args.command in {"feedback", "run-all"}:
        from .feedback import run_feedback

        recs = run_feedback(root, args.lab, args.workers or os.cpu_count() or 1, students, bar)
    if args.command in {"export", "run-all"}:
        from .export import run_export

        run_export(root, args.lab, out)
        recs = recs or records.load_all(root, args.lab)
    return recs


if __name__ == "__main__":
    raise SystemExit(main())
