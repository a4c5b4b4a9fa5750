"""Grading throughput: ``course-grade autograde`` (parallel, isolated) against serial
``nbgrader autograde``, on the same machine and the same submissions.

N students (default 30) hand in lab02: most solved, some with the last exercise
wrong, some unanswered. Both sides start from the same course root; the serial side
runs ``nbgrader autograde LAB --create --force`` (nbgrader grades one notebook at a
time) with nbgrader's own Execute step (``--serial trusted``: with the course's
configuration, whose verdicts are computed outside the kernel); ours runs
``course-grade autograde`` after ingest and repair (timed apart). The
class is graded in rounds that alternate which side goes first, so that the load of other
programs on a shared machine falls on both sides alike; the CPU those programs used is
printed too. Prints wall times, the speed-up, both sides' total scores (they must agree)
and the peak resident memory of each worker process and each student's kernel.

    .venv/bin/python benchmarks/grading_throughput.py [--students 30] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the test fixtures build the students' notebooks

from course_grading import batch, pipeline, records  # noqa: E402
from course_grading.autograde.job import default_workers  # noqa: E402
from course_grading.course_root import copy_course_root, nbgrader  # noqa: E402
from tests.submissions import Lab, returns_none, to_bytes, venv_first_on_path  # noqa: E402

LAB = "lab02_dense_autoencoder"
GRACE = 60  # seconds a stopped course-grade gets to stop its jobs (nbgrader is killed at once)


STOCK = """
# the benchmark's baseline: nbgrader's own autograde steps, tests run in the student's kernel
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, Execute, IgnorePattern,
                                    LimitOutput, SaveAutoGrades)
c.Autograde.autograde_preprocessors = [Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
"""


def course_copy(path: Path, stock: bool = False) -> Path:
    copy_course_root(REPO / "autograder", path, [LAB])
    if stock:
        with (path / "nbgrader_config.py").open("a") as f:
            f.write(STOCK)
    nbgrader(["generate_assignment", LAB, "--force"], path)
    return path


def class_of(lab: Lab, n: int) -> dict[str, bytes]:
    """n students: 2 in 3 solved, then alternately last exercise wrong and unanswered."""
    gid, answer = lab.last_solution()
    kinds = [lab.notebook(), lab.notebook({gid: returns_none(answer)}), lab.notebook(),
             lab.notebook(solved=False), lab.notebook(), lab.notebook()]
    return {f"s{i:03d}": to_bytes(kinds[i % len(kinds)]) for i in range(n)}


def busy_core_seconds() -> float:
    """CPU time all programs on this machine have used since boot (from /proc/stat)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timed:
    """One command's wall time, the CPU its process tree used, the CPU everything else used meanwhile."""

    wall: float = 0.0
    cpu: float = 0.0
    others: float = 0.0
    peak_mb: float = 0.0

    def add(self, other: Timed) -> None:
        self.wall, self.cpu = self.wall + other.wall, self.cpu + other.cpu
        self.others += other.others
        self.peak_mb = max(self.peak_mb, other.peak_mb)


def run(command: list[str], cwd: Path | None = None, grace: float = 0) -> tuple[Timed, str]:
    """Run ``command`` and time it. A stop (Ctrl-C, SIGTERM) is passed on to it: ``grace`` seconds
    to stop by itself (``course-grade`` cleans up after its jobs), then what is left is killed."""
    env = venv_first_on_path()
    busy, start = busy_core_seconds(), time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # usage covers the process and the children it waited for
    except BaseException:
        batch.stop_child(proc, grace)
        raise
    wall, busy = time.monotonic() - start, busy_core_seconds() - busy
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(command)} failed:\n{out[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Timed(wall, cpu, max(busy - cpu, 0.0), usage.ru_maxrss / 1024), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="course-grade's workers (default: its default, CPU cores + 1)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="split the class in rounds, alternating which side goes first, so that "
                             "other programs' load falls on both sides alike (default 3)")
    parser.add_argument("--kernel-threads", type=int, default=None,
                        help="passed to course-grade autograde (default: its own default)")
    parser.add_argument("--serial", choices=("stock", "trusted"), default="stock",
                        help="the serial side's Execute step: nbgrader's own (default) or the course's")
    parser.add_argument("--cold", action="store_true",
                        help="course-grade starts every kernel cold (no warm zygotes), for comparison")
    parser.add_argument("--ours-first", action="store_true",
                        help="course-grade goes first in the first round (to pair with a run without it)")
    parser.add_argument("--keep", action="store_true", help="keep the course roots (printed)")
    args = parser.parse_args(argv)
    batch.stop_on_sigterm()
    work = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    try:
        return measure(args, work)
    except KeyboardInterrupt:
        print("stopped: no result", file=sys.stderr)
        return batch.stop_status()
    finally:
        if args.keep:
            print(f"course roots kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path) -> int:
    serial, ours = course_copy(work / "serial", stock=args.serial == "stock"), course_copy(work / "ours")
    lab = Lab.load(LAB, ours)
    students = class_of(lab, args.students)
    inbox, waiting = work / "inbox", work / "waiting"
    for sid, data in students.items():
        for folder in (waiting / sid / LAB, inbox / sid / LAB):
            folder.mkdir(parents=True)
            (folder / f"{LAB}.ipynb").write_bytes(data)
    grade = [sys.executable, "-m", "course_grading", "--course-root", str(ours)]
    prep = (run([*grade, "ingest", LAB, str(inbox)], grace=GRACE)[0].wall
            + run([*grade, "repair", LAB], grace=GRACE)[0].wall)

    ids = list(students)
    rounds = [ids[i::args.rounds] for i in range(args.rounds)]
    serial_t, ours_t, out = Timed(), Timed(), ""
    (serial / "submitted").mkdir()
    for number, group in enumerate(rounds):
        for sid in group:  # plain nbgrader grades whatever is in submitted/: just this round
            shutil.move(waiting / sid, serial / "submitted" / sid)

        def serial_side(group: list[str] = group) -> None:
            timed, _ = run([sys.executable, "-m", "nbgrader", "autograde", LAB, "--create", "--force"],
                           cwd=serial)
            serial_t.add(timed)
            for sid in group:
                shutil.move(serial / "submitted" / sid, work / "done" / sid)

        def our_side(group: list[str] = group) -> None:
            nonlocal out
            threads = [] if args.kernel_threads is None else ["--kernel-threads", str(args.kernel_threads)]
            threads += ["--cold"] if args.cold else []
            timed, out = run([*grade, "autograde", LAB, *group, "--workers", str(args.workers), *threads],
                             grace=GRACE)
            ours_t.add(timed)

        (work / "done").mkdir(exist_ok=True)
        serial_first = (number + args.ours_first) % 2 == 0
        for side in ((serial_side, our_side) if serial_first else (our_side, serial_side)):
            side()
    feedback = run([*grade, "feedback", LAB, "--workers", str(args.workers)], grace=GRACE)[0].wall

    serial_scores, our_scores = pipeline.final_scores(serial, LAB), pipeline.final_scores(ours, LAB)
    totals = {s: sum(v for v, _ in cells.values()) for s, cells in serial_scores.items()}
    mismatched = [s for s in ids if totals.get(s) != sum(v for v, _ in our_scores.get(s, {}).values())]
    recs = records.load_all(ours, LAB)
    workers_mb = [r.worker_peak_mb for r in recs if r.worker_peak_mb]
    kernels_mb = [r.kernel_peak_mb for r in recs if r.kernel_peak_mb]
    seconds = [r.seconds for r in recs if r.seconds]
    judged = [r.judge_seconds for r in recs if r.judge_seconds is not None]
    phases = ("startup", "student code", "checks", "nbgrader", "merge")
    split = {p: round(statistics.median(r.timing.get(p, 0.0) for r in recs if r.timing), 2) for p in phases} \
        if any(r.timing for r in recs) else {}
    n = len(ids)
    rows = [
        ("", f"serial nbgrader autograde ({args.serial} Execute)",
         f"course-grade autograde --workers {args.workers}"),
        ("wall time (s)", f"{serial_t.wall:.0f}", f"{ours_t.wall:.0f}"),
        ("per student (s)", f"{serial_t.wall / n:.1f}", f"{ours_t.wall / n:.1f}"),
        ("speed-up", "1.00", f"{serial_t.wall / ours_t.wall:.2f}"),
        ("CPU used by the grading (core-s)", f"{serial_t.cpu:.0f}", f"{ours_t.cpu:.0f}"),
        ("CPU used by other programs meanwhile (core-s)", f"{serial_t.others:.0f}", f"{ours_t.others:.0f}"),
        ("peak RSS, grader process (MB)", f"{serial_t.peak_mb:.0f} (largest process)",
         f"median {statistics.median(workers_mb):.0f}, max {max(workers_mb):.0f} per worker"),
        ("peak RSS, student kernel (MB)", "(in the line above)",
         f"median {statistics.median(kernels_mb):.0f}, max {max(kernels_mb):.0f}"),
        ("one student, start to merge (s)", "-",
         f"median {statistics.median(seconds):.0f}, max {max(seconds):.0f}"),
        ("trusted checks per student (s)", "-",
         f"median {statistics.median(judged):.2f}, max {max(judged):.2f}" if judged else "-"),
        ("one student, median split (s)", "-", ", ".join(f"{k} {v:g}" for k, v in split.items()) or "-"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{n} students x {LAB}, {os.cpu_count()} CPU cores, {args.rounds} alternating rounds")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)))
    print(f"not timed above: ingest + repair {prep:.0f} s, feedback {feedback:.0f} s (course-grade)")
    print("scores: " + ("identical on both sides" if not mismatched else f"DIFFER for {mismatched}"))
    print("\n".join(line for line in out.splitlines() if line.startswith("isolation")))
    print(json.dumps({
        "students": n, "lab": LAB, "cores": os.cpu_count(), "workers": args.workers, "rounds": args.rounds,
        "ours_first": args.ours_first,
        "serial_seconds": round(serial_t.wall, 1), "ours_seconds": round(ours_t.wall, 1),
        "speedup": round(serial_t.wall / ours_t.wall, 2),
        "serial_cpu_core_s": round(serial_t.cpu), "ours_cpu_core_s": round(ours_t.cpu),
        "others_cpu_core_s": [round(serial_t.others), round(ours_t.others)],
        "serial_peak_mb": round(serial_t.peak_mb),
        "worker_peak_mb_median": round(statistics.median(workers_mb)),
        "worker_peak_mb_max": round(max(workers_mb)),
        "kernel_peak_mb_median": round(statistics.median(kernels_mb)),
        "kernel_peak_mb_max": round(max(kernels_mb)), "ingest_repair_seconds": round(prep, 1),
        "feedback_seconds": round(feedback, 1), "scores_identical": not mismatched, "serial": args.serial,
        "judge_seconds_median": round(statistics.median(judged), 2) if judged else None,
        "judge_seconds_max": round(max(judged), 2) if judged else None, "per_student_split_s": split,
        "warm": not args.cold,
        "isolation": [line for line in out.splitlines() if line.startswith("isolation")]}))
    return 1 if mismatched else 0


if __name__ == "__main__":
    raise SystemExit(main())
