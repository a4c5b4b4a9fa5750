"""Stopping the grader stops everything it started: real processes killed mid-batch, in every order.

Each scenario starts ``course-grade autograde`` on three students whose notebooks sleep in a
cell (so kernels are running), kills some of its real processes, and then checks that no
process of the batch is left (worker, launcher, bubblewrap, zygote, kernel, or anything a
sandbox user runs in the batch's work area), that every record on disk is whole, and that a
second run grades every student with the right score.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from course_grading import pipeline, records
from course_grading.sandbox import USER_PREFIX
from tests.conftest import copy_course_root
from tests.submissions import Lab, to_bytes, venv_first_on_path

LAB = "lab02_dense_autoencoder"
STUDENTS = 3  # two workers: one student waits, so a kill also meets a queue
pytestmark = [
    pytest.mark.nbgrader,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process control"),
]


def sandbox_uids() -> set[int]:
    return {p.pw_uid for p in pwd.getpwall() if p.pw_name.startswith(USER_PREFIX)}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[Path, Lab]:
    home = tmp_path_factory.mktemp("stopping")
    root = copy_course_root(home / "autograder", [LAB])
    pipeline.ensure_assignment(root, LAB)
    return root, Lab.load(LAB, root)


def start(root: Path, lab: Lab, tag: str) -> subprocess.Popen:
    first, answer = next(iter(lab.solutions().items()))
    slow = lab.notebook({first: answer + "\nimport time\ntime.sleep(20)\n"})
    for n in range(STUDENTS):
        path = root / "submitted" / f"{tag}{n}" / LAB / f"{LAB}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_bytes(slow))
    pipeline.run_repair(root, LAB, [f"{tag}{n}" for n in range(STUDENTS)])
    env = venv_first_on_path()
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "course_grading",
            "--course-root",
            str(root),
            "autograde",
            LAB,
            *[f"{tag}{n}" for n in range(STUDENTS)],
            "--workers",
            "2",
            "--cell-timeout",
            "60",
            "--memory-mb",
            "2000",
            "--stop-after-last-test",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def family(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def wait_for_kernels(main: subprocess.Popen, timeout: float = 120) -> list[psutil.Process]:
    """The grader's processes once at least one kernel of it is running inside its sandbox."""
    uids = sandbox_uids()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = family(main.pid)
        running = [p for p in procs if _uid(p) in uids and _is_kernel(p)]
        if running or (not uids and any(_is_kernel(p) for p in procs)):
            time.sleep(1.0)  # let the kernel import what it needs
            return family(main.pid)
        if main.poll() is not None:
            raise AssertionError(f"the grader ended before any kernel ran:\n{main.stdout.read()}")
        time.sleep(0.2)
    raise AssertionError("no kernel started")


def _is_kernel(p: psutil.Process) -> bool:
    """A kernel started cold (its command line) or forked warm from a zygote (its name)."""
    try:
        return "ipykernel" in " ".join(p.cmdline()) or p.name().startswith("ipykernel")
    except psutil.Error:
        return False


def _uid(p: psutil.Process) -> int | None:
    try:
        return p.uids().real
    except psutil.Error:
        return None


def _cmd(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def workers(main: subprocess.Popen) -> list[psutil.Process]:
    """The forked grading workers: direct children of the grader with its very command line
    (the warm zygotes' launchers are children too, with a command of their own)."""
    try:
        grader = psutil.Process(main.pid)
        kids, command = grader.children(), grader.cmdline()
    except psutil.Error:
        return []
    return [k for k in kids if _cmd(k) == command]


def zygote_launchers(main: subprocess.Popen) -> list[psutil.Process]:
    """The launchers of the slots' warm zygotes (none when kernels start cold)."""
    try:
        kids = psutil.Process(main.pid).children()
    except psutil.Error:
        return []
    return [k for k in kids if "launcher.py" in " ".join(_cmd(k)) and "zygote.py" in " ".join(_cmd(k))]


def work_areas(procs: list[psutil.Process]) -> set[str]:
    """The grader's private work areas (``.../cg-XXXX``), as its processes' command lines name them."""
    found = set()
    for p in procs:
        found.update(re.findall(r"(/(?:run|tmp)/cg-[a-z0-9_]+)", " ".join(_cmd(p))))
    return found


def _in_area(p: psutil.Process, areas: set[str]) -> bool:
    """A sandbox process of this batch (not of a grader another test runs meanwhile): its
    command line or working folder lies in one of this batch's work areas."""
    try:
        where = " ".join(p.cmdline()) + " " + p.cwd()
    except psutil.Error:
        where = " ".join(_cmd(p))
    return any(area in where for area in areas)


def leftovers(snapshot: list[psutil.Process], areas: set[str] | None, timeout: float = 20) -> list[str]:
    """What of ``snapshot`` (and, given the batch's work ``areas``, anything a sandbox user runs
    in them) is still alive after ``timeout`` s."""
    uids = sandbox_uids() if areas else set()
    assert areas is None or areas, "no work area named by the grader's processes"
    areas = areas or set()
    deadline = time.monotonic() + timeout
    alive: list[str] = []
    while time.monotonic() < deadline:
        alive = [
            f"{p.pid} {' '.join(_cmd(p))[:100]}"
            for p in snapshot
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        ]
        alive += [
            f"{p.pid} uid {_uid(p)} {' '.join(_cmd(p))[:100]}"
            for p in psutil.process_iter()
            if _uid(p) in uids
            and _in_area(p, areas)
            and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            return []
        time.sleep(0.3)
    return alive


def records_are_whole(root: Path) -> list[records.Record]:
    out = []
    for path in (root / "grading" / LAB).glob("*.json"):
        json.loads(path.read_text())  # never half-written
        out.append(records.load(root, LAB, path.stem))
    assert not list((root / "grading" / LAB).glob(".*.tmp")), "a record was left half-written"
    return out


def regrade_everyone(root: Path, lab: Lab, tag: str) -> None:
    """A second run after the interruption grades every student, with full marks."""
    students = [f"{tag}{n}" for n in range(STUDENTS)]
    recs = pipeline.run_autograde(
        root,
        LAB,
        pipeline.Settings(workers=2, cell_timeout=60, memory_mb=2000, stop_after_last_test=True),
        students,
    )
    full = sum(lab.points().values())
    assert [(r.outcome, r.total) for r in recs] == [("graded", full)] * STUDENTS, [r.reason for r in recs]


def kill_main_sigkill(main, procs):
    os.kill(main.pid, signal.SIGKILL)


def kill_main_sigterm(main, procs):
    os.kill(main.pid, signal.SIGTERM)


def kill_main_then_sigterm_workers(main, procs):
    """The order that once left launchers and kernels running as orphans."""
    forked = workers(main)
    os.kill(main.pid, signal.SIGKILL)
    for w in forked:
        try:
            w.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass


def kill_launchers_then_main(main, procs):
    for p in procs:
        if "launcher.py" in " ".join(_cmd(p)):
            p.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    os.kill(main.pid, signal.SIGTERM)


@pytest.mark.parametrize(
    "kill",
    [kill_main_sigkill, kill_main_sigterm, kill_main_then_sigterm_workers, kill_launchers_then_main],
    ids=lambda f: f.__name__,
)
def test_killing_the_grader_leaves_nothing_running(course, kill):
    root, lab = course
    tag = kill.__name__[:12] + "-"
    main = start(root, lab, tag)
    procs = wait_for_kernels(main)
    snapshot, areas = [psutil.Process(main.pid), *procs], work_areas(procs)
    kill(main, procs)
    main.wait(timeout=60)
    assert leftovers(snapshot, areas) == []
    records_are_whole(root)
    if kill is kill_main_then_sigterm_workers:  # one scenario is enough to show a rerun mends all
        regrade_everyone(root, lab, tag)
        # the killed grader could not clean up; the next one removed its work area
        assert not [area for area in areas if Path(area).exists()]


def starting(main: subprocess.Popen, timeout: float = 60) -> list[psutil.Process]:
    """The grader's processes as soon as it has started what it starts first (the slots' zygotes,
    the process that writes the data), before any kernel runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = family(main.pid)
        if work_areas(procs) and not any(_is_kernel(p) for p in procs):
            return procs
        assert main.poll() is None, main.stdout.read()
        time.sleep(0.05)
    raise AssertionError("the grader started nothing")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_killing_the_grader_while_it_starts_leaves_nothing_running(course, sig):
    """Killed while its zygotes import TensorFlow and it imports the rest: nothing stays; after
    SIGTERM it removed its work area itself (after SIGKILL the next grader does)."""
    root, lab = course
    tag = f"starting-{sig.name.lower()}-"
    main = start(root, lab, tag)
    procs = starting(main)
    snapshot, areas = [psutil.Process(main.pid), *procs], work_areas(procs)
    os.kill(main.pid, sig)
    out, _ = main.communicate(timeout=60)
    assert leftovers(snapshot, areas) == []
    if sig == signal.SIGTERM:
        assert "nothing of the batch is left running" in out, out
        assert main.returncode == 130, out
        assert not [area for area in areas if Path(area).exists()]
    records_are_whole(root)


def test_a_killed_worker_costs_only_its_student(course):
    root, lab = course
    tag = "one-worker-"
    main = start(root, lab, tag)
    procs, areas = wait_for_kernels(main), work_areas(family(main.pid))
    victim = workers(main)[0]
    victim_family = [victim, *family(victim.pid)]
    victim.send_signal(signal.SIGTERM)
    assert leftovers(victim_family, None) == []  # the other students go on meanwhile
    out, _ = main.communicate(timeout=600)
    assert main.returncode == 1, out  # one student's grading failed: said in the exit status
    recs = {r.student: r for r in records_are_whole(root) if r.student.startswith(tag)}
    errors = [r for r in recs.values() if r.outcome == "error"]
    assert len(errors) == 1 and "crashed" in errors[0].reason, [r.reason for r in recs.values()]
    full = sum(lab.points().values())
    assert sorted(r.total for r in recs.values() if r.outcome != "error") == [full, full]
    assert leftovers(procs, areas) == []


def test_a_killed_zygote_costs_only_its_student(course):
    """A warm slot's zygote killed mid-kernel: that student's record says to grade again (no
    zero for the grader's trouble), the slot's next student starts cold, the others are graded."""
    root, lab = course
    tag = "one-zygote-"
    main = start(root, lab, tag)
    procs, areas = wait_for_kernels(main), work_areas(family(main.pid))
    if not zygote_launchers(main):
        main.kill()
        main.wait()
        pytest.skip("kernels start cold here (no bubblewrap or not root): no zygote to kill")
    kernel = next(p for p in procs if _is_kernel(p) and p.name() == "ipykernel")
    victim = kernel.parent().parent()  # ipykernel <- ipykernel-init <- the zygote
    assert victim.name() == "course-zygote", victim
    victim.kill()
    out, _ = main.communicate(timeout=600)
    assert main.returncode == 1, out
    recs = {r.student: r for r in records_are_whole(root) if r.student.startswith(tag)}
    errors = [r for r in recs.values() if r.outcome == "error"]
    reasons = [r.reason for r in recs.values()]
    assert len(errors) == 1 and "grade this student again" in errors[0].reason, reasons
    full = sum(lab.points().values())
    assert sorted(r.total for r in recs.values() if r.outcome != "error") == [full, full]
    assert leftovers(procs, areas) == []
