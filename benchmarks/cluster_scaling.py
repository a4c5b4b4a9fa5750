"""Grading on a Dask cluster against the local pool, and how far the cluster path scales.

The same N lab02 students (default 30: 2 in 3 solved, the others alternately with the last
exercise wrong or unanswered) are graded twice on this machine, each side in its own copy of
the course root: by the local pool of W forked workers and by a local Dask cluster of W worker
processes (``--scheduler local:W``), W = this machine's cores unless ``--workers``. Both with the
same settings: kernels forked from warm zygotes (one per pool slot; one per Dask worker process),
or all started cold with ``--cold``. Measured per side: the wall time (start-up included), the
start-up alone (to the first result, less that student's own grading), the CPU the grading used
(this process and every process it starts: the pool's forks, the cluster's workers, zygotes and
kernels, counted by a cpuacct cgroup of its own where it can make one, else by getrusage, which
misses processes nobody waits for), and in the grader the time each result takes to
merge (record, gradebook, files: serial). Then the cluster's cost per task alone (no-op tasks
carrying a job-sized argument), the size of a job (it carries the gradebook), and the merge time
in a gradebook that already holds ``--synthetic`` more students.

The model: seconds of one core per student (c: the local pool's CPU over its students, its
start-up included, so an upper bound for a long batch), the cluster's extra per task (o), the
merge per student (m, serial in the grader): machines of ``--cores`` cores needed for ``--target``
submissions in ``--hours``, and how many machines the merge alone allows.

    .venv/bin/python benchmarks/cluster_scaling.py [--students 30] [--workers N] [--cores 16] [--save]

It prints a summary on stderr and one JSON object as the last line of stdout (what
``benchmarks/run_all.py`` keeps as ``results/cluster_scaling.json``; ``--save`` writes that file
itself, for ``run_all.py --report-only``). A smoke run: ``--students 4 --synthetic 20 --tasks 20``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the test fixtures build the students' notebooks

from course_grading import pipeline  # noqa: E402
from course_grading.autograde.gradebook import merge  # noqa: E402
from course_grading.autograde.job import Grade, Settings  # noqa: E402
from course_grading.autograde.run import make_job  # noqa: E402
from course_grading.cluster import DaskExecutor  # noqa: E402
from course_grading.course_root import copy_course_root  # noqa: E402
from tests.submissions import Lab, returns_none, to_bytes  # noqa: E402

LAB = "lab02_dense_autoencoder"
RESULT = REPO / "benchmarks" / "results" / "cluster_scaling.json"  # run_all.py's name for this one


class CpuMeter:
    """CPU seconds of this process and of every process it starts, waited for or not: a cpuacct
    cgroup of its own (cgroup v1, root; a kernel's sandbox moves it into memory and pids cgroups
    only). Elsewhere getrusage: this process and the children it waited for (a kernel whose
    parent is killed is missed)."""

    def __init__(self):
        self.group: Path | None = None
        try:
            line = next(ln for ln in Path("/proc/self/cgroup").read_text().splitlines()
                        if "cpuacct" in ln.split(":")[1].split(","))
            mount = next(p for p in (Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup/cpu,cpuacct"))
                         if (p / "cpuacct.usage").exists())
            self.parent = mount / line.split(":", 2)[2].lstrip("/")
            group = self.parent / f"cluster-bench-{os.getpid()}"
            group.mkdir()
            (group / "cgroup.procs").write_text(str(os.getpid()))
            self.group = group
        except (OSError, StopIteration, IndexError):
            pass
        self.how = ("a cpuacct cgroup" if self.group else
                    "getrusage (misses processes nobody waits for)")

    def seconds(self) -> float:
        if self.group:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def close(self) -> None:
        if self.group:  # this process and what still runs of its own (multiprocessing's resource tracker)
            with contextlib.suppress(OSError):
                for pid in [os.getpid(), *(self.group / "cgroup.procs").read_text().split()]:
                    with contextlib.suppress(OSError):
                        (self.parent / "cgroup.procs").write_text(str(pid))
                self.group.rmdir()


def course(path: Path, n: int) -> Path:
    """A course root with ``n`` submissions, repaired; nothing graded."""
    root = copy_course_root(REPO / "autograder", path, [LAB])
    pipeline.ensure_assignment(root, LAB)
    lab = Lab.load(LAB, root)
    gid, answer = lab.last_solution()
    kinds = [lab.notebook(), lab.notebook({gid: returns_none(answer)}), lab.notebook(),
             lab.notebook(solved=False), lab.notebook(), lab.notebook()]
    for i in range(n):
        target = root / "submitted" / f"s{i:03d}" / LAB / f"{LAB}.ipynb"
        target.parent.mkdir(parents=True)
        target.write_bytes(to_bytes(kinds[i % len(kinds)]))
    pipeline.run_repair(root, LAB)
    return root


class Timed:
    """Wraps an executor: when its run starts, when each result comes, how long each merge takes."""

    def __init__(self, make):
        self.make, self.merges, self.arrivals = make, [], []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def start(self):
        self.built = time.monotonic()
        self.inner = self.make()
        self.ready = time.monotonic()  # the local pool prepares its machine here; Dask later, in run
        return self

    @property
    def data_sha256(self):
        return self.inner.data_sha256

    def run(self, jobs, on_done):
        self.started = time.monotonic()

        def timed(job, done):
            self.arrivals.append((time.monotonic(), done.seconds))
            began = time.perf_counter()
            on_done(job, done)
            self.merges.append(time.perf_counter() - began)

        self.inner.run(jobs, timed)


def side(root: Path, settings: Settings, make, meter: CpuMeter) -> dict:
    busy, wall = meter.seconds(), time.monotonic()
    timed = Timed(make).start()
    recs = pipeline.run_autograde(root, LAB, settings, executor=timed)
    wall, used = time.monotonic() - wall, meter.seconds() - busy
    first_at, first_seconds = min(timed.arrivals)
    scores = pipeline.final_scores(root, LAB)
    return {
        "wall_s": round(wall, 1), "cpu_core_s": round(used, 1),
        "startup_s": round(timed.ready - timed.built + first_at - timed.started - first_seconds, 1),
        "job_seconds_median": round(statistics.median(s for _, s in timed.arrivals), 1),
        "merge_s_median": round(statistics.median(timed.merges), 3),
        "merge_s_max": round(max(timed.merges), 3),
        "outcomes": sorted({str(r.outcome) for r in recs}), "workers": sorted({r.worker for r in recs}),
        "warm_kernels": sum(any(line.startswith("warm start") for line in r.isolation) for r in recs),
        "totals": {s: sum(v for v, _ in cells.values()) for s, cells in scores.items()},
    }


def noop(payload: dict) -> int:
    return len(payload["notebook"])


def task_overhead(workers: int, job: dict, n: int = 200) -> dict:
    """Seconds per task of the Dask path alone: a job-sized argument there, a number back."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        client.submit(noop, job, pure=False).result()
        began = time.perf_counter()
        for _ in range(20):  # one at a time: the latency of one task
            client.submit(noop, job, pure=False).result()
        latency = (time.perf_counter() - began) / 20
        began = time.perf_counter()
        client.gather(client.map(noop, [job] * n, pure=False))  # all at once: the throughput
        per_task = (time.perf_counter() - began) / n
    return {"latency_s": round(latency, 4), "throughput_s_per_task": round(per_task, 4)}


def merge_in_big_gradebook(root: Path, extra: int, grades: dict[str, Grade]) -> dict:
    """Merge time once the gradebook already holds ``extra`` more students of the lab."""
    from nbgrader.api import Gradebook

    from course_grading.course_root import course_id, db_url

    big = Path(tempfile.mkdtemp(prefix="bigbook-")) / "root"
    shutil.copytree(root, big, ignore=shutil.ignore_patterns("autograded", "feedback", "submitted"))
    began = time.perf_counter()
    with Gradebook(db_url(big), course_id(big)) as gb:
        for i in range(extra):
            gb.update_or_create_student(f"x{i:05d}")
            gb.add_submission(LAB, f"x{i:05d}")
    filled = time.perf_counter() - began
    times = []
    for i in range(10):
        began = time.perf_counter()
        merge(big, LAB, f"x{i:05d}", grades, False)
        times.append(time.perf_counter() - began)
    size = (big / "gradebook.db").stat().st_size
    shutil.rmtree(big.parent, ignore_errors=True)
    return {"students": extra, "merge_s_median": round(statistics.median(times), 3),
            "gradebook_bytes": size, "fill_s": round(filled, 1)}


def model(c: float, serial: float, cores: int, target: int, hours: float) -> dict:
    """Machines of ``cores`` cores for ``target`` submissions in ``hours``, and the serial ceiling."""
    seconds = hours * 3600
    per_machine = cores / c  # students per second of one machine, one worker per core kept busy
    return {
        "assumptions": f"{cores}-core machines with one worker process per core (nthreads 1) kept busy; "
                       "a student costs the same core-seconds there as here; the grader merges one result "
                       "at a time and the scheduler handles one task at a time (serial per student: "
                       "merge + scheduler)",
        "students_per_second_needed": round(target / seconds, 3),
        "students_per_second_per_machine": round(per_machine, 3),
        "machines": math.ceil(target / seconds / per_machine),
        "serial_bound_students_per_second": round(1 / serial, 2),
        "serial_seconds_for_target": round(target * serial),
        "machines_before_serial_bound": math.floor(1 / serial / per_machine),
        "fits_in_time": target * serial < seconds,
    }


def summary(r: dict) -> str:
    """The figures, for a person."""
    local, dask, m = r["local_pool"], r["dask_local_cluster"], r["model"]
    rows = [("wall time (s)", "wall_s"), ("start-up (s)", "startup_s"), ("CPU used (core-s)", "cpu_core_s"),
            ("one job, median (s)", "job_seconds_median"),
            ("merge per student, median (s)", "merge_s_median"), ("kernels started warm", "warm_kernels")]
    lines = [f"{r['students']} students x {r['lab']}, {r['workers']} workers on both sides, "
             f"{r['cores']} cores (load average {r['load_average_at_start'][0]} at the start, "
             f"{r['load_average_at_end'][0]} at the end), kernels {r['kernels']}; scores "
             + ("identical" if r["scores_identical"] else "DIFFER")
             + f"; CPU counted by {r['cpu_measured_by']}",
             f"{'':32} {'local pool':>12} {'Dask cluster':>13}"]
    lines += [f"{label:32} {local[key]:>12} {dask[key]:>13}" for label, key in rows]
    big = r["merge_in_bigger_gradebook"]
    lines += [
        f"cluster path, per student: {r['cluster_overhead_wall_s_per_student']} s of wall time "
        f"({r['cluster_overhead_wall_s_per_student_after_startup']} s after start-up), "
        f"{r['cluster_overhead_core_s_per_student']} core-s",
        f"Dask's own cost per task: {r['dask_task']['latency_s']} s alone, "
        f"{r['dask_task']['throughput_s_per_task']} s in a stream; a job is {r['job_bytes']:,} bytes",
        f"merge with {big['students']} more students in the gradebook: {big['merge_s_median']} s",
        f"model: {r['core_s_per_student']} core-s per student -> {m['machines']} machines of "
        f"{r['model_cores']} cores for {r['target']} submissions in {r['hours']} h; the serial part "
        f"(merge + scheduler) allows {m['serial_bound_students_per_second']} students/s "
        f"({m['machines_before_serial_bound']} machines), {m['serial_seconds_for_target']} s for the target",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=30, help="lab02 submissions per side (default 30)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="both sides: the pool's forked workers, the cluster's worker processes "
                        "(default: this machine's cores)")
    parser.add_argument("--cores", type=int, default=16, help="cores of a machine in the model (default 16)")
    parser.add_argument("--target", type=int, default=5000, help="submissions in the model (default 5000)")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--synthetic", type=int, default=300,
                        help="students added to a gradebook copy to time the merge there (default 300)")
    parser.add_argument("--tasks", type=int, default=200,
                        help="no-op tasks that time Dask's own cost per task (default 200)")
    parser.add_argument("--cold", action="store_true",
                        help="start every kernel cold on both sides (default: warm zygotes on both)")
    parser.add_argument("--save", action="store_true",
                        help=f"also write {RESULT.relative_to(REPO)} (what run_all.py reads)")
    args = parser.parse_args(argv)
    if args.students < 1 or args.workers < 1:
        parser.error("--students and --workers must be at least 1")
    load = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    settings = Settings(workers=args.workers, warm=not args.cold)
    meter = CpuMeter()
    local_root = course(work / "local", args.students)
    dask_root = work / "dask"  # the same sources, release and submissions: one copy made once
    shutil.copytree(local_root, dask_root)
    try:
        local = side(local_root, settings, lambda: pipeline.LocalPool(settings, local_root), meter)
        dask = side(dask_root, settings, lambda: DaskExecutor(f"local:{args.workers}", settings), meter)
    finally:
        meter.close()
    n = args.students
    job = make_job(dask_root, LAB, "s000", 0, settings, None).to_json()
    job_bytes = len(json.dumps(job))
    gradebook_bytes = (dask_root / "gradebook.db").stat().st_size
    overhead = task_overhead(args.workers, job, args.tasks)
    grades = {g: Grade(1.0, 1.0) for g in pipeline.max_scores(dask_root, LAB)}
    big = merge_in_big_gradebook(dask_root, args.synthetic, grades)
    c = local["cpu_core_s"] / n
    m_small, m_big = local["merge_s_median"], big["merge_s_median"]
    slope = (m_big - m_small) / max(args.synthetic, 1)  # merge seconds per student already in the book
    m_target = max(m_small + slope * args.target / 2, m_small)  # the mean over a batch that fills the book
    book_per_student = (big["gradebook_bytes"] - gradebook_bytes) / max(args.synthetic, 1)
    out = {
        "students": n, "lab": LAB, "cores": os.cpu_count(), "workers": args.workers,
        "kernels": "cold" if args.cold else "warm", "cpu_measured_by": meter.how,
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "local_pool": local, "dask_local_cluster": dask,
        "scores_identical": local["totals"] == dask["totals"],
        "cluster_overhead_wall_s_per_student": round((dask["wall_s"] - local["wall_s"]) / n, 2),
        "cluster_overhead_core_s_per_student": round((dask["cpu_core_s"] - local["cpu_core_s"]) / n, 2),
        "cluster_overhead_wall_s_per_student_after_startup": round(
            (dask["wall_s"] - dask["startup_s"] - local["wall_s"] + local["startup_s"]) / n, 2),
        "dask_task": overhead, "job_bytes": job_bytes, "gradebook_bytes": gradebook_bytes,
        "merge_in_bigger_gradebook": big, "gradebook_bytes_per_student": round(book_per_student),
        "core_s_per_student": round(c, 2),
        "merge_s_per_student_now": m_small, "merge_s_per_student_at_target_mean": round(m_target, 3),
        "jobs_bytes_first_run_at_target": job_bytes * args.target,  # all jobs are made before the first merge
        "job_bytes_rerun_at_target": round(job_bytes + book_per_student * args.target),
        "model_cores": args.cores, "target": args.target, "hours": args.hours,
        "model": model(c, m_target + overhead["throughput_s_per_task"], args.cores, args.target, args.hours),
    }
    for key in ("local_pool", "dask_local_cluster"):
        out[key].pop("totals")
    shutil.rmtree(work, ignore_errors=True)
    print(summary(out), file=sys.stderr)
    if args.save:
        RESULT.parent.mkdir(exist_ok=True)
        RESULT.write_text(json.dumps(out, indent=1))
    print(json.dumps(out))
    return 0 if out["scores_identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
