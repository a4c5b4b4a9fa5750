"""Grading on a Dask cluster (``course-grade autograde --scheduler``), with real processes.

A scheduler and workers run as separate ``dask`` processes on this machine, each worker with
its own scratch folder: w3 first, started with ``COURSE_SANDBOX_BWRAP=0`` (no bubblewrap view:
it must refuse every job), then w1 and w2. One batch of lab02 (good, wrong and hostile
students) is graded by the local pool and by the cluster: the scores and each kernel's isolation
(warm, forked from the zygote of a slot the worker holds) must agree. Then a worker
is killed while it grades, the grader is stopped with SIGTERM, and the scheduler is killed
mid-batch: every student ends with exactly one result, merged once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from course_grading import course_root, pipeline, records
from course_grading.autograde.job import Settings
from course_grading.batch import die_with_parent
from course_grading.cluster import ClusterError, DaskExecutor, claim_slot, refusal
from tests.conftest import copy_course_root
from tests.course_grading.hostile import BAD_SUBMISSIONS
from tests.submissions import Lab, returns_none, to_bytes, venv_first_on_path

LAB = "lab02_dense_autoencoder"
SETTINGS = dict(cell_timeout=60, memory_mb=2000, stop_after_last_test=True)
HOSTILE = ("write_gradebook", "kill_all")
pytestmark = [
    pytest.mark.nbgrader,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process control"),
]
if os.environ.get("PYTEST_XDIST_WORKER"):  # the marker exists only with xdist (not under -p no:xdist)
    pytestmark.append(pytest.mark.xdist_group("cluster"))  # one cluster for the file, its tests in order
distributed = pytest.importorskip("distributed")

GOOD_PROBE = {"bubblewrap": "/usr/bin/bwrap", "kernel uid": "995", "network": "no route to the host (x)",
              "readable files": "none outside the view (looked in /work)",
              "applied": "memory limit; bubblewrap view: the kernel sees only /usr; no network"}


def test_refusal_rule():
    assert refusal(GOOD_PROBE) is None
    assert "no bubblewrap view" in refusal({**GOOD_PROBE, "bubblewrap": "missing", "applied": "hidden"})
    assert "no network namespace" in refusal({**GOOD_PROBE, "network": "reached the host's loopback"})
    assert "run as root" in refusal({**GOOD_PROBE, "kernel uid": "0"})
    assert "could read /work/x" in refusal({**GOOD_PROBE, "readable files": "/work/x"})
    assert "did not run" in refusal({"probe": "did not run (exit 1)"})


def test_each_running_job_of_a_machine_has_its_own_slot(tmp_path):
    first, lock = claim_slot(tmp_path)
    second, other = claim_slot(tmp_path)
    assert first != second
    os.close(lock)
    assert claim_slot(tmp_path)[0] == first  # freed when its job ends (or its process dies)
    os.close(other)


def test_without_dask_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr("course_grading.cluster.dd", None)  # as if `import distributed` had failed
    with pytest.raises(ClusterError, match="pip install distributed"):
        DaskExecutor("local:2", Settings())


# --------------------------------------------------------------------------- a real cluster


class Cluster:
    """A ``dask scheduler`` and ``dask worker`` processes, each worker with its own scratch folder."""

    def __init__(self, home: Path):
        self.home, self.workers = home, {}
        self.file = home / "scheduler.json"
        self.env = venv_first_on_path()
        self.scheduler = self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0",
                                                   "--no-dashboard", "--scheduler-file", str(self.file)])
        deadline = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = json.loads(self.file.read_text())["address"]
        self.client = distributed.Client(self.address, timeout=30)

    def _start(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        dask = Path(sys.executable).parent / "dask"
        command = [str(dask), *args] if dask.exists() else \
            [sys.executable, "-m", f"distributed.cli.dask_{args[0]}", *args[1:]]
        log = open(self.home / f"{name}.log", "ab")  # the process keeps it open
        env, parent = {**self.env, **(env or {})}, os.getpid()
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=lambda: die_with_parent(parent))  # even if pytest is killed

    def start(self, name: str, **env: str) -> None:
        if name not in self.workers or self.workers[name].poll() is not None:
            scratch = self.home / name
            scratch.mkdir(exist_ok=True)
            self.workers[name] = self._start(name, [
                "worker", "--scheduler-file", str(self.file), "--nworkers", "1", "--nthreads", "1",
                "--local-directory", str(scratch), "--name", name], env)
        self.wait_for(lambda names: name in names)

    def stop(self, name: str) -> None:
        nanny = self.workers.pop(name, None)
        if nanny and nanny.poll() is None:
            nanny.terminate()
            nanny.wait(60)
        self.wait_for(lambda names: name not in names)

    def names(self) -> dict[str, str]:
        """name -> address of the workers the scheduler knows."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return {str(w["name"]): address for address, w in info.items()}

    def wait_for(self, ready, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not ready(self.names()):
            if time.monotonic() > deadline:
                raise AssertionError(f"workers: {self.names()}\n{self.logs()}")
            time.sleep(0.3)

    def worker_process(self, name: str) -> psutil.Process:
        """The worker process itself (the nanny's child), which runs the tasks."""
        kids = psutil.Process(self.workers[name].pid).children()
        return next(k for k in kids if "spawn_main" in " ".join(k.cmdline()))

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.home.glob("*.log")))

    def close(self) -> None:
        try:
            self.client.close(timeout=10)
        except Exception:  # noqa: BLE001 - the scheduler may be gone already
            pass
        for proc in [*self.workers.values(), self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers.values(), self.scheduler]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    found = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        found.start("w3", COURSE_SANDBOX_BWRAP="0")  # isolation it cannot have: refuses every job
        yield found
    finally:
        found.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The lab's sources, copied once: every course root of this file is made from them (the
    repository's may change while these tests run, and the released notebook with them)."""
    return copy_course_root(tmp_path_factory.mktemp("lab") / "autograder", [LAB])


@pytest.fixture(scope="module")
def lab(source) -> Lab:
    pipeline.ensure_assignment(source, LAB)
    return Lab.load(LAB, source)


def slow(lab: Lab, seconds: int) -> dict:
    first, answer = next(iter(lab.solutions().items()))
    return lab.notebook({first: answer + f"\nimport time\ntime.sleep({seconds})\n"})


def course(source: Path, path: Path, notebooks: dict[str, bytes]) -> Path:
    root = course_root.copy_course_root(source, path, [LAB])
    pipeline.ensure_assignment(root, LAB)
    for student, data in notebooks.items():
        target = root / "submitted" / student / LAB / f"{LAB}.ipynb"
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
    pipeline.run_repair(root, LAB)
    return root


class Counting:
    """An executor that counts how often each student's result reaches the merge."""

    def __init__(self, inner):
        self.inner, self.results, self.jobs = inner, Counter(), []

    @property
    def data_sha256(self):
        return self.inner.data_sha256

    def run(self, jobs, on_done):
        self.jobs += [job.student for job in jobs]

        def counted(job, done):
            self.results[job.student] += 1
            on_done(job, done)

        self.inner.run(jobs, counted)


def grade(root: Path, executor, students: list[str]) -> tuple[dict, Counter, Counting]:
    merged: Counter = Counter()
    counting = Counting(executor)
    recs = pipeline.run_autograde(root, LAB, Settings(workers=2, **SETTINGS), students,
                                  lambda phase, rec, done, total: merged.update([rec.student]), counting)
    return {r.student: r for r in recs}, merged, counting


def exactly_once(root: Path, students: list[str], merged: Counter, counting: Counting | None) -> None:
    """One record, one gradebook submission with every test cell, one merge per student."""
    assert merged == Counter(students), merged
    if counting is not None:
        assert counting.results == Counter(students), counting.results
    assert sorted(r.student for r in records.load_all(root, LAB)) == sorted(students)
    scores = pipeline.final_scores(root, LAB)
    assert sorted(scores) == sorted(students)
    assert len({len(cells) for cells in scores.values()}) == 1


def test_no_worker_that_can_isolate_means_an_error_that_says_so(cluster, source, lab, tmp_path):
    for name in ("w1", "w2"):
        cluster.stop(name)
    root = course(source, tmp_path / "root", {"alone": to_bytes(lab.notebook())})
    executor = DaskExecutor(cluster.address, Settings())
    recs, merged, counting = grade(root, executor, ["alone"])
    rec = recs["alone"]
    assert rec.outcome == "error" and rec.total == 0, rec.reason
    assert "no Dask worker can isolate a kernel (w3: no bubblewrap view" in rec.reason, rec.reason
    assert len(executor.refused) == 1
    exactly_once(root, ["alone"], merged, counting)


def isolation(recs: dict) -> dict[str, tuple[list[str], list[str]]]:
    """Each student's kernel isolation, applied and missing, slot numbers left out."""
    return {s: tuple(sorted(re.sub(r"\d+", "N", line) for line in lines)
                     for lines in (r.isolation, r.isolation_missing)) for s, r in recs.items()}


@pytest.fixture(scope="module")
def reference(source, lab, tmp_path_factory) -> tuple[dict[str, bytes], dict, dict]:
    """Good, wrong and hostile students, graded by the local pool (its kernels warm)."""
    gid, answer = lab.last_solution()
    notebooks = {"good": to_bytes(lab.notebook()),
                 "wrong": to_bytes(lab.notebook({gid: returns_none(answer)}))}
    notebooks |= {b.name: b.build(lab, {}) for b in BAD_SUBMISSIONS if b.name in HOSTILE}
    root = course(source, tmp_path_factory.mktemp("local") / "autograder", notebooks)
    recs, merged, counting = grade(root, pipeline.LocalPool(Settings(workers=2, **SETTINGS), root),
                                   list(notebooks))
    exactly_once(root, list(notebooks), merged, counting)
    assert all(any(line.startswith("warm start") for line in r.isolation) for r in recs.values())
    return notebooks, pipeline.final_scores(root, LAB), isolation(recs)


def test_the_cluster_grades_like_the_local_pool(cluster, source, reference, tmp_path):
    notebooks, expected, isolated = reference
    cluster.start("w1")
    cluster.start("w2")
    root = course(source, tmp_path / "root", notebooks)
    executor = DaskExecutor(cluster.address, Settings())
    recs, merged, counting = grade(root, executor, list(notebooks))
    assert pipeline.final_scores(root, LAB) == expected
    assert {r.outcome for r in recs.values()} == {"graded"}, {s: r.reason for s, r in recs.items()}
    assert {r.worker.split("@")[0] for r in recs.values()} <= {"w1", "w2"}
    assert all(re.search(r"slot 1\d\d$", r.worker) for r in recs.values()), [r.worker for r in recs.values()]
    assert any("w3: no bubblewrap view" in why for why in executor.refused.values()), executor.refused
    assert isolation(recs) == isolated  # warm kernels on the workers too, isolated as the pool's
    exactly_once(root, list(notebooks), merged, counting)


def test_workers_refuse_another_version_of_the_grading_code(cluster, source, lab, tmp_path, monkeypatch):
    cluster.start("w1")
    cluster.start("w2")
    monkeypatch.setattr("course_grading.cluster.code_sha256", lambda: "another version")
    root = course(source, tmp_path / "root", {"alone": to_bytes(lab.notebook())})
    recs, _, _ = grade(root, DaskExecutor(cluster.address, Settings()), ["alone"])
    assert recs["alone"].outcome == "error"
    reason = recs["alone"].reason
    assert re.search(r"Dask worker w[12]@\S+ has other grading code than the grader", reason), reason


def kernels_of(proc: psutil.Process) -> list[psutil.Process]:
    """The students' kernels under ``proc``: started cold, or forked from its warm zygote (named so)."""
    found = []
    try:
        for p in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if p.name() in {"ipykernel", "ipykernel-init"} or "ipykernel" in " ".join(p.cmdline()):
                    found.append(p)
    except psutil.Error:
        pass
    return found


def zygotes_of(proc: psutil.Process) -> list[psutil.Process]:
    found = []
    with contextlib.suppress(psutil.Error):
        for p in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if p.name() == "course-zygote":
                    found.append(p)
    return found


def graded_index(proc: psutil.Process) -> int | None:
    """The batch index of a job running under ``proc``, from the job folder in a command line there
    (the cold kernel's launcher, or the warm kernel's zygote client)."""
    for p in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            found = re.search(r"/s(\d{3})-", " ".join(p.cmdline()))
            if found:
                return int(found.group(1))
    return None


def wait_until(condition, timeout: float = 180, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_while_it_grades_loses_no_student(cluster, source, lab, reference, tmp_path):
    _, expected, _ = reference
    cluster.start("w1")
    cluster.start("w2")
    gid, answer = lab.last_solution()
    notebooks = {f"slow{n}": to_bytes(slow(lab, 8)) for n in range(2)}
    notebooks["slow_wrong"] = to_bytes(lab.notebook({gid: returns_none(answer)}))
    students = list(notebooks)
    root = course(source, tmp_path / "root", notebooks)
    victim = cluster.worker_process("w1")
    address = cluster.names()["w1"]
    out: dict = {}

    def run() -> None:
        out["recs"], out["merged"], out["counting"] = grade(root, DaskExecutor(cluster.address, Settings()),
                                                            students)

    batch = threading.Thread(target=run)
    batch.start()
    wait_until(lambda: kernels_of(victim), what="a kernel on w1")
    index = graded_index(victim)
    assert index is not None
    family = [victim, *victim.children(recursive=True)]
    assert zygotes_of(victim)  # the worker's warm zygote: it must die with the worker too
    victim.kill()  # SIGKILL: the worker process, its forked job, the sandbox and the kernel
    batch.join(600)
    print(f"killed w1 ({address}) while it graded {students[index]}; that student then ran on "
          f"{out['recs'][students[index]].worker}")
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    recs = out["recs"]
    assert address not in {r.worker.split()[0].split("@")[-1] for r in recs.values()}
    assert {r.outcome for r in recs.values()} == {"graded"}, {s: r.reason for s, r in recs.items()}
    scores = pipeline.final_scores(root, LAB)
    assert all(scores[s] == expected["good"] for s in students if s != "slow_wrong")
    assert scores["slow_wrong"] == expected["wrong"]
    exactly_once(root, students, out["merged"], out["counting"])


def command(root: Path, address: str, students: list[str]) -> subprocess.Popen:
    env = venv_first_on_path()
    return subprocess.Popen(
        [sys.executable, "-m", "course_grading", "--course-root", str(root), "autograde", LAB, *students,
         "--scheduler", address, "--cell-timeout", "60", "--memory-mb", "2000", "--stop-after-last-test"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigterm_to_the_grader_stops_its_jobs_on_the_workers(cluster, source, lab, tmp_path):
    cluster.start("w1")
    cluster.start("w2")
    students = ["stop0", "stop1"]
    root = course(source, tmp_path / "root", {s: to_bytes(slow(lab, 50)) for s in students})
    main = command(root, cluster.address, students)
    workers = [cluster.worker_process(name) for name in ("w1", "w2")]
    wait_until(lambda: all(kernels_of(w) for w in workers), what="a kernel on both workers")
    started = time.monotonic()
    main.send_signal(signal.SIGTERM)
    out, _ = main.communicate(timeout=120)
    assert main.returncode == 130, out[-3000:]
    wait_until(lambda: not any(kernels_of(w) for w in workers), 30, "the kernels to end")
    assert time.monotonic() - started < 30  # killed, not left to finish their 50 s
    assert all(w.is_running() for w in workers)  # the workers themselves stay, for the next grader
    assert all(zygotes_of(w) for w in workers)  # and so do their warm zygotes
    assert pipeline.final_scores(root, LAB) == {}  # nothing merged: a rerun grades both


def test_a_lost_scheduler_stops_the_command_and_a_rerun_grades_who_is_missing(cluster, source, lab,
                                                                               tmp_path):
    cluster.start("w1")
    cluster.start("w2")
    notebooks = {"fast0": to_bytes(lab.notebook()), "fast1": to_bytes(lab.notebook()),
                 "slow": to_bytes(slow(lab, 15))}
    students = list(notebooks)
    root = course(source, tmp_path / "root", notebooks)
    main = command(root, cluster.address, students)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(main.stdout), daemon=True)
    reader.start()
    wait_until(lambda: any(" 2/3 " in line for line in lines), 300, "two students merged")
    cluster.scheduler.kill()
    main.wait(120)
    reader.join(10)
    out = "".join(lines)
    assert main.returncode == 3, out[-3000:]
    assert "lost the Dask scheduler" in out and "run the same command again" in out
    kept = {r.student: r for r in records.load_all(root, LAB)}
    merged = {s for s, r in kept.items() if r.outcome == "graded"}
    [missing] = set(students) - merged  # (usually the slow one)
    print(f"scheduler killed after {sorted(merged)} were merged, while {missing} was graded")
    assert sorted(pipeline.final_scores(root, LAB)) == sorted(merged)

    local = Counting(pipeline.LocalPool(Settings(workers=1, **SETTINGS), root))
    recs = pipeline.run_autograde(root, LAB, Settings(workers=1, **SETTINGS), students, executor=local,
                                  regrade=False)
    assert local.jobs == [missing]  # only who had no result
    assert [r.outcome for r in recs] == ["graded"] * 3
    scores = pipeline.final_scores(root, LAB)
    assert sorted(scores) == sorted(students) and scores[missing] == scores[next(iter(merged))]
