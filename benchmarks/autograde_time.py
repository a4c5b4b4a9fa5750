"""Seconds to autograde one solved submission of each lab with nbgrader, at the grading budget.

Usage: ``.venv/bin/python benchmarks/autograde_time.py [lab ...]``

Works in a temporary copy of the course root (``autograder/``): generates each lab's
student version, files the solution as one submission, times ``nbgrader autograde`` for
that one submission (nbgrader's own start-up included), and prints a table of wall-clock
and CPU seconds (nbgrader and the kernel it starts) with the score.
The requirement: under 60 s per submission on a 2-core CPU.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nbgrader.api import Gradebook  # noqa: E402

from course_grading import batch  # noqa: E402
from course_grading.course_root import copy_course_root, lab_names, nbgrader  # noqa: E402
from tests.submissions import submission, write_submission  # noqa: E402

LIMIT_S = 60


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_lab(root: Path, lab: str) -> tuple[float, float, float, float]:
    """(wall seconds, CPU seconds, score, max score) of autograding the lab's solution."""
    nbgrader(["generate_assignment", lab, "--force"], root)
    released = root / "release" / lab / f"{lab}.ipynb"
    source = root / "source" / lab / f"{lab}.ipynb"
    write_submission(root, "solution", lab, submission(released, source))
    start, cpu = time.monotonic(), cpu_seconds()
    nbgrader(["autograde", lab, "--create", "--force"], root)
    seconds, cpu = time.monotonic() - start, cpu_seconds() - cpu
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission(lab, "solution")
        return seconds, cpu, sub.score, sub.max_score


def main(argv: list[str]) -> int:
    labs = argv or lab_names(REPO / "autograder")
    rows = []
    batch.stop_on_sigterm()  # a stop kills nbgrader and its kernel (course_root.nbgrader)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = copy_course_root(REPO / "autograder", Path(tmp) / "autograder")
            for lab in labs:
                row = (lab, *time_lab(root, lab))
                rows.append(row)
                print(f"{lab}: {row[1]:.1f} s", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("stopped: no result", file=sys.stderr)
        return batch.stop_status()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other work on the machine slows the wall time)")
    width = max(len(lab) for lab, *_ in rows)
    print(f"{'lab':{width}s}  {'wall s':>6s}  {'CPU s':>6s}  {'score':>9s}  under {LIMIT_S} s")
    for lab, seconds, cpu, score, max_score in rows:
        print(f"{lab:{width}s}  {seconds:6.1f}  {cpu:6.1f}  {score:4g}/{max_score:<4g}  "
              f"{'yes' if seconds < LIMIT_S else 'NO'}")
    print(json.dumps({"limit_seconds": LIMIT_S, "cores": os.cpu_count(), "labs": {
        lab: {"wall_seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "score": score,
              "max_score": max_score} for lab, seconds, cpu, score, max_score in rows}}))
    return 0 if all(r[1] < LIMIT_S and r[3] == r[4] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
