"""Every kind of bad submission in course.outcomes.BAD_SUBMISSIONS, through the real pipeline.

One run of ``course-grade run-all`` (2 workers) grades them all at once, beside a good
and a wrong student, in a private copy of the course root; the run is shared by every
test here (and across pytest-xdist workers, through a file lock).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from course import pipeline, records
from course.feedback import hidden_test_lines, leaks
from course.grading import copy_course_root
from course.outcomes import BAD_SUBMISSIONS, OUTCOMES
from course.samples import Lab, returns_none, to_bytes
from tests.conftest import COURSE_ROOT, REPO

LAB = "lab02_dense_autoencoder"
CELL_TIMEOUT = 60
pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]


class Listener(threading.Thread):
    """A TCP server on the host's loopback that records every connection it gets."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections: list[str] = []

    def run(self):
        while True:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            self.connections.append(f"{addr}")
            conn.close()


def run_batch(home: Path) -> dict:
    root = copy_course_root(home / "autograder", [LAB])
    pipeline.ensure_assignment(root, LAB)
    lab = Lab.load(LAB, root)
    others = [p for p in sorted((REPO / "labs").glob("*.ipynb")) if p.stem != LAB]
    listener = Listener()
    listener.start()
    ctx = {"port": listener.port, "other_lab": json.loads(others[0].read_text()) if others else None}
    inbox = home / "inbox"
    inbox.mkdir()
    for bad in BAD_SUBMISSIONS:
        (inbox / f"{bad.name}.ipynb").write_bytes(bad.build(lab, ctx))
    gid, answer = lab.last_solution()
    (inbox / "good_student.ipynb").write_bytes(to_bytes(lab.notebook()))
    (inbox / "wrong_student.ipynb").write_bytes(to_bytes(lab.notebook({gid: returns_none(answer)})))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-m", "course.grading", "--course-root", str(root), "run-all", LAB, str(inbox),
         "--workers", "2", "--cell-timeout", str(CELL_TIMEOUT), "--memory-mb", "2000", "--timeout", "480",
         "--stop-after-last-test"],  # the ungraded training cells at the end take ~60% of the time
        capture_output=True, text=True, env=env, timeout=1500)
    (home / "run.log").write_text(proc.stdout + "\n" + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    hacked = [str(p) for p in home.rglob("HACKED.txt")] + [str(p) for p in COURSE_ROOT.rglob("HACKED.txt")]
    return {"connections": listener.connections, "hacked": hacked, "stdout": proc.stdout,
            "hidden": hidden_test_lines(lab.source, lab.released), "points": lab.points(),
            "tests": lab.tests()}


@pytest.fixture(scope="session")
def batch(tmp_path_factory, worker_id) -> tuple[Path, dict]:
    base = tmp_path_factory.getbasetemp()
    base = base.parent if worker_id != "master" else base
    if os.environ.get("COURSE_BAD_BATCH"):  # reuse an earlier run's folder while working on the tests
        base = Path(os.environ["COURSE_BAD_BATCH"])
    home = base / "bad-batch"
    with open(base / "bad-batch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = base / "bad-batch.json"
        if not done.exists():
            home.mkdir(exist_ok=True)
            done.write_text(json.dumps(run_batch(home)))
        return home, json.loads(done.read_text())


def record(home: Path, student: str) -> records.Record:
    return records.load(home / "autograder", LAB, student)


def test_catalogue_is_consistent():
    names = [b.name for b in BAD_SUBMISSIONS]
    assert len(names) == len(set(names))
    assert all(b.outcome in OUTCOMES and b.points in {"full", "zero", "last_zero"} for b in BAD_SUBMISSIONS)


@pytest.mark.parametrize("bad", BAD_SUBMISSIONS, ids=lambda b: b.name)
def test_outcome_reason_and_points(batch, bad):
    home, info = batch
    rec = record(home, bad.name)
    assert rec.outcome == bad.outcome, rec.reason
    assert bad.reason in rec.reason, rec.reason
    points, last = info["points"], info["tests"][-1]
    expected = {t: (0.0 if bad.points == "zero" or (bad.points == "last_zero" and t == last) else points[t])
                for t in info["tests"]}
    assert {t: rec.scores[t][0] for t in info["tests"]} == expected, rec.reason


@pytest.mark.parametrize("bad", BAD_SUBMISSIONS, ids=lambda b: b.name)
def test_feedback_shows_outcome_and_no_hidden_test(batch, bad):
    home, info = batch
    rec = record(home, bad.name)
    html = (home / "autograder" / rec.feedback).read_text()
    assert f"Grading outcome: {bad.outcome}" in html
    assert not leaks(html, info["hidden"])
    assert "LEAKED" not in html and "WROTE gradebook" not in html and "CONNECTED" not in html


def test_other_students_keep_their_grades(batch):
    home, info = batch
    points, last = info["points"], info["tests"][-1]
    good, wrong = record(home, "good_student"), record(home, "wrong_student")
    assert good.outcome == "graded" and {t: s for t, (s, _) in good.scores.items()} == points
    assert {t: s for t, (s, _) in wrong.scores.items()} == {**points, last: 0.0}
    with open(home / "autograder" / "export" / LAB / "grades_wide.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["good_student"]["total"]) == sum(points.values())
    assert set(rows) == {b.name for b in BAD_SUBMISSIONS} | {"good_student", "wrong_student"}


def test_isolation_held(batch):
    home, info = batch
    assert info["connections"] == [], "a kernel reached the host's loopback"
    assert info["hacked"] == [], "a kernel wrote into the course or another student's folder"
    for name in ("read_hidden_tests", "read_other_students", "write_gradebook", "write_other_students",
                 "network"):
        nb = json.loads((home / "autograder" / "autograded" / name / LAB / f"{LAB}.ipynb").read_text())
        shown = json.dumps([o.get("text") for c in nb["cells"] for o in c.get("outputs", [])])
        for marker in ("LEAKED", "WROTE gradebook", "CONNECTED", "good_student", "wrong_student"):
            assert marker not in shown, f"{name}'s kernel: {marker}"
    if os.geteuid() == 0:
        applied = " ".join(record(home, "good_student").isolation)
        for what in ("no network", "unprivileged user", "hidden behind empty tmpfs", "memory limit"):
            assert what in applied


def test_summary_table_lists_everyone(batch):
    home, info = batch
    for bad in BAD_SUBMISSIONS:
        assert bad.name in info["stdout"]
    assert "isolation applied:" in info["stdout"]
