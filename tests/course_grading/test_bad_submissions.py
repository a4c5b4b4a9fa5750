"""Every kind of bad submission in tests/course_grading/hostile.py, through the real pipeline, in one batch.

One run of ``course-grade run-all`` (2 workers) grades them all at once, beside a good and
a wrong student, in a private copy of the course root whose hidden tests carry a planted
random marker (a comment and a number only the hidden tests use). Canary "checkouts" of
the course are planted around the file system. The run is shared by every test here
(and across pytest-xdist workers, through a file lock).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import threading
import zlib
from pathlib import Path

import pytest

from course_grading import pipeline, records
from course_grading.feedback.pages import hidden_test_lines, leaks
from course_grading.outcomes import Outcome
from tests.conftest import COURSE_ROOT, copy_course_root
from tests.course_grading.hostile import BAD_SUBMISSIONS, PARTIAL, SCAN_WORDS
from tests.submissions import Lab, returns_none, run_all, to_bytes

LAB = "lab02_dense_autoencoder"
CELL_TIMEOUT = 60
FEEDBACK_LIMIT = 5_000_000  # bytes of one feedback page
pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]
if os.environ.get("PYTEST_XDIST_WORKER"):  # the marker exists only with xdist
    pytestmark.append(pytest.mark.xdist_group("bad_submissions"))  # one worker builds the shared fixture once


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


def plant_marker(root: Path, marker: str, number: int) -> None:
    """Put ``marker`` (a comment) in every hidden block, and ``number`` in one hidden test's inputs."""
    path = root / "source" / LAB / f"{LAB}.ipynb"
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if "### BEGIN HIDDEN TESTS" in source:
            begin = "### BEGIN HIDDEN TESTS\n"
            source = source.replace(begin, f"{begin}# marker {marker}\n")
            source = source.replace("(784, 784)))", f"(784, 784), ({number}, 1)))")
            cell["source"] = source
    path.write_text(json.dumps(nb, indent=1))


def plant_canaries(canary: str, marker: str) -> list[Path]:
    """Other 'checkouts' of the course where a kernel must not see them."""
    roots = [Path(f"/srv/{canary}"), Path(f"/opt/{canary}"), Path(f"/var/tmp/{canary}"),
             Path(f"/home/{canary}"),
             COURSE_ROOT.parent.parent / canary]
    made = []
    for top in roots:
        target = top / "autograder" / "source" / LAB / f"{LAB}-{canary}.ipynb"
        try:
            target.parent.mkdir(parents=True)
            source = f"### BEGIN HIDDEN TESTS\n# {marker} {canary}"
            target.write_text(json.dumps({"cells": [{"source": source}]}))
            made.append(top)
        except OSError:
            continue
    return made


def run_batch(home: Path) -> dict:
    root = copy_course_root(home / "autograder", [LAB])
    marker, number, canary = secrets.token_hex(12), 700_000_000 + secrets.randbelow(99_999_999), \
        f"CANARY{secrets.token_hex(6)}"
    plant_marker(root, marker, number)
    pipeline.ensure_assignment(root, LAB)
    lab = Lab.load(LAB, root)
    others = [p for p in sorted((COURSE_ROOT.parent / "labs").glob("*.ipynb")) if p.stem != LAB]
    listener = Listener()
    listener.start()
    ctx = {"port": listener.port, "other_lab": json.loads(others[0].read_text()) if others else None,
           "canary": canary}
    inbox = home / "inbox"
    inbox.mkdir()
    for bad in BAD_SUBMISSIONS:
        (inbox / f"{bad.name}.ipynb").write_bytes(bad.build(lab, ctx))
    gid, answer = lab.last_solution()
    (inbox / "good_student.ipynb").write_bytes(to_bytes(lab.notebook()))
    (inbox / "wrong_student.ipynb").write_bytes(to_bytes(lab.notebook({gid: returns_none(answer)})))
    planted = plant_canaries(canary, marker)
    try:
        # --stop-after-last-test: the ungraded training cells at the end take ~60% of the time
        proc = run_all(root, LAB, inbox, "--workers", "2", "--cell-timeout", str(CELL_TIMEOUT),
                       "--memory-mb", "2000", "--timeout", "480", "--stop-after-last-test")
    finally:
        for top in planted:
            shutil.rmtree(top, ignore_errors=True)
    (home / "run.log").write_text(proc.stdout + "\n" + proc.stderr)
    hacked = [str(p) for p in home.rglob("HACKED.txt")] + [str(p) for p in COURSE_ROOT.rglob("HACKED.txt")]
    return {"connections": listener.connections, "hacked": hacked, "stdout": proc.stdout,
            "hidden": hidden_test_lines(lab.source, lab.released), "points": lab.points(),
            "tests": lab.tests(), "marker": marker, "number": number, "canary": canary,
            "planted": [str(p) for p in planted]}


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


# --------------------------------------------------------------------------- a planted marker, encoded

TOKENS = (re.compile(r"[A-Za-z0-9+/=_-]{16,}"), re.compile(r"[A-Z2-7=]{16,}"),
          re.compile(r"[0-9A-Fa-f]{16,}"),
          re.compile(r"\S{16,}"))


def _decodings(blob: str) -> list[bytes]:
    out = []
    for text in (blob, blob[::-1]):
        for decode in (base64.b64decode, base64.urlsafe_b64decode, base64.b32decode, base64.b16decode,
                       base64.b85decode, base64.a85decode):
            for candidate in (text, text.upper()) if decode is base64.b16decode else (text,):
                for pad in ("", "=", "==", "==="):
                    try:
                        raw = decode(candidate + pad)
                    except (binascii.Error, ValueError, TypeError):
                        continue
                    out.append(raw)
                    try:
                        out.append(zlib.decompress(raw))
                    except zlib.error:
                        pass
                    break
    return out


def recoverable(page: str, secrets_: list[str]) -> list[str]:
    """Which of ``secrets_`` can be read back from ``page``: plainly, reversed, rot13, or inside
    any base64/32/16/85 (possibly reversed, possibly zlib-compressed) blob on it."""
    import html as html_lib

    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", page))
    texts = [page, text, text[::-1], codecs.encode(text, "rot13")]
    for pattern in TOKENS:
        for blob in set(pattern.findall(text)):
            for raw in _decodings(blob):
                decoded = raw.decode("utf-8", "replace")
                texts += [decoded, decoded[::-1], codecs.encode(decoded, "rot13")]
    return [s for s in secrets_ if any(s in t for t in texts)]


def test_the_marker_check_finds_encoded_markers():
    import html as html_lib

    secret = "5f2a9c81d04be7a6"
    for encoded in (secret, secret[::-1], codecs.encode(secret, "rot13"),
                    base64.b64encode(f"x = {secret}!".encode()).decode(),
                    base64.b32encode(secret.encode()).decode(),
                    base64.b85encode(zlib.compress(f"hist {secret}".encode())).decode()[::-1]):
        page = f"<pre>{html_lib.escape(encoded)}</pre>"  # as nbconvert writes it
        assert recoverable(page, [secret]) == [secret], encoded
    assert recoverable("<pre>nothing here</pre>", [secret]) == []


# --------------------------------------------------------------------------- the batch


def test_catalogue_is_consistent():
    names = [b.name for b in BAD_SUBMISSIONS]
    assert len(names) == len(set(names))
    outcomes = {o.value for o in Outcome}
    assert all(b.outcome in outcomes and b.points in {"full", "zero", "last_zero", "partial"}
               for b in BAD_SUBMISSIONS)
    hidden = [b for b in BAD_SUBMISSIONS if b.hidden]
    kinds = {b.kind for b in hidden}
    for kind in kinds:
        assert sum(b.kind == kind for b in hidden) >= 3, kind
    from tests.submissions import Lab as _Lab  # noqa: F401 - the builders run on the real lab below

    lab = Lab.load(LAB, COURSE_ROOT, COURSE_ROOT.parent / "labs")
    for bad in hidden:
        if bad.kind == "huge output":
            continue
        nb = json.loads(bad.build(lab, {"port": 1, "canary": "CANARYx"}))
        sources = "".join("".join(c["source"]) for c in nb["cells"])
        for word in SCAN_WORDS:
            assert word not in sources, (bad.name, word)


@pytest.mark.parametrize("bad", BAD_SUBMISSIONS, ids=lambda b: b.name)
def test_outcome_reason_and_points(batch, bad):
    home, info = batch
    rec = record(home, bad.name)
    assert rec.outcome == bad.outcome, rec.reason
    assert any(part in rec.reason for part in bad.reason.split("|")), rec.reason
    points, last = info["points"], info["tests"][-1]
    if bad.points == "partial":
        expected = {t: PARTIAL[bad.name].get(t, points[t]) for t in info["tests"]}
    else:
        zero = {t for t in info["tests"] if bad.points == "zero" or (bad.points == "last_zero" and t == last)}
        expected = {t: (0.0 if t in zero else points[t])
                    for t in info["tests"]}
    assert {t: rec.scores[t][0] for t in info["tests"]} == expected, rec.reason


@pytest.mark.parametrize("bad", BAD_SUBMISSIONS, ids=lambda b: b.name)
def test_feedback_shows_outcome_and_nothing_hidden(batch, bad):
    home, info = batch
    rec = record(home, bad.name)
    path = home / "autograder" / rec.feedback
    assert path.stat().st_size < FEEDBACK_LIMIT, f"{path.stat().st_size:,} bytes"
    html = path.read_text()
    assert f"Grading outcome: {bad.outcome}" in html
    assert not leaks(html, info["hidden"])
    assert recoverable(html, [info["marker"], str(info["number"]), info["canary"]]) == []
    assert "_course_requests.answer_again" not in html
    for word in ("LEAKED", "WROTE gradebook", "CONNECTED"):
        assert word not in html


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
    assert info["planted"], "no canary could be planted"
    assert info["connections"] == [], "a kernel reached the host's loopback"
    assert info["hacked"] == [], "a kernel wrote into the course or another student's folder"
    for name in ("read_hidden_tests", "read_other_students", "write_gradebook", "write_other_students",
                 "network", "walk_root", "walk_glob", "walk_proc"):
        nb = json.loads((home / "autograder" / "autograded" / name / LAB / f"{LAB}.ipynb").read_text())
        shown = json.dumps([o.get("text") for c in nb["cells"] for o in c.get("outputs", [])])
        words = ("LEAKED", "WROTE gradebook", "CONNECTED", "good_student", "wrong_student", info["canary"])
        for marker in words:
            assert marker not in shown, f"{name}'s kernel: {marker}"
        assert "nothing" in shown or name not in {"walk_root", "walk_glob"}, shown[:500]
    if os.geteuid() == 0:
        applied = " ".join(record(home, "good_student").isolation)
        for what in ("no network", "unprivileged user", "memory limit", "bubblewrap view"):
            assert what in applied


def test_scan_only_flags(batch):
    home, _ = batch
    for name in ("patch_checks", "patch_ipython", "print_history"):
        rec = record(home, name)
        assert rec.flagged and "no points depend on this" in rec.reason


def test_summary_table_lists_everyone(batch):
    home, info = batch
    for bad in BAD_SUBMISSIONS:
        assert bad.name in info["stdout"]
    assert "isolation applied:" in info["stdout"]
