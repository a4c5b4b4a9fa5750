"""The one catalogue of what can happen to a submission, in words an instructor can read.

* :data:`OUTCOMES`: every outcome a student's grading record can end with, what it means,
  and whether the points come from running the tests.
* :data:`BAD_SUBMISSIONS`: every kind of bad submission we know of, how to make one from
  any lab, and the outcome and points it must get. ``tests/test_bad_submissions.py``
  runs each entry through the real pipeline; add new kinds here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from .samples import Lab, colab_round_trip, duplicate_cells, nbgrader_meta, returns_none, to_bytes, with_body


@dataclass(frozen=True)
class Outcome:
    kind: str
    graded: bool  # points come from running the tests (possibly with some zeroed)
    meaning: str


OUTCOMES = {o.kind: o for o in (
    Outcome("graded", True, "the notebook ran; points are what its tests gave"),
    Outcome("repaired", True, "the notebook was repaired (cell metadata, duplicated, edited or deleted "
                              "cells) before it ran; points are what its tests gave"),
    Outcome("timeout", True, "a cell ran past the cell time limit and was interrupted; the tests after "
                             "it score 0, because the notebook never gets past that cell"),
    Outcome("tampering", True, "a student cell changes how the tests run (patches the checks, numpy "
                               "testing, IPython or builtins); tests after it score 0, flagged for review"),
    Outcome("memory", False, "the kernel passed the memory limit and was killed: 0 points"),
    Outcome("kernel_died", False, "the student's code ended or crashed the kernel: 0 points"),
    Outcome("wall_clock", False, "grading this submission passed its time limit and was stopped: 0 points"),
    Outcome("not_json", False, "the file is not JSON, so not a notebook: 0 points"),
    Outcome("not_notebook", False, "the file is JSON but not a Jupyter notebook: 0 points"),
    Outcome("empty", False, "the file is empty: 0 points"),
    Outcome("wrong_lab", False, "the notebook is another lab's (or has none of this lab's cells): 0 points"),
    Outcome("error", False, "nbgrader failed on this notebook for another reason: 0 points"),
)}


def reason(kind: str, detail: str) -> str:
    """The sentence recorded for the instructor: the outcome's meaning, then what happened."""
    meaning = OUTCOMES[kind].meaning
    return f"{kind}: {detail}" if detail else f"{kind}: {meaning}"


# --------------------------------------------------------------------------- bad submissions


@dataclass(frozen=True)
class BadSubmission:
    """A kind of bad submission: how to make one, and what the pipeline must do with it.

    ``points``: 'full' (every test's points), 'zero', or 'last_zero' (the last exercise's
    tests score 0, the others full). ``reason`` must appear in the recorded reason.
    """

    name: str
    what: str
    outcome: str
    points: str
    reason: str
    build: Callable[[Lab, dict], bytes] = field(repr=False)


def _append_to_last(code: str, wrong: bool = False) -> Callable[[Lab, dict], bytes]:
    """The solved notebook with ``code`` run at top level after the last exercise's answer."""

    def build(lab: Lab, ctx: dict) -> bytes:
        gid, answer = lab.last_solution()
        answer = returns_none(answer) if wrong else answer
        snippet = code.replace("LAB", lab.name).replace("PORT", str(ctx.get("port", 8888)))
        return to_bytes(lab.notebook({gid: answer.rstrip("\n") + "\n\n" + snippet}))
    return build


def _last_wrong(change: Callable[[list[dict], str], None]) -> Callable[[Lab, dict], bytes]:
    """The last exercise answered wrong, then ``change(cells, last_test_id)`` applied."""

    def build(lab: Lab, ctx: dict) -> bytes:
        gid, answer = lab.last_solution()
        nb = lab.notebook({gid: returns_none(answer)})
        change(nb["cells"], lab.tests()[-1])
        return to_bytes(nb)
    return build


def _index(cells: list[dict], grade_id: str) -> int:
    return next(i for i, c in enumerate(cells) if nbgrader_meta(c).get("grade_id") == grade_id)


def _edit_test(cells: list[dict], test: str) -> None:
    cells[_index(cells, test)]["source"] = "print('OK: all tests pass')  # the student edited the test\n"


def _delete_test(cells: list[dict], test: str) -> None:
    del cells[_index(cells, test)]


def _duplicated(lab: Lab, ctx: dict) -> bytes:
    first = next(iter(lab.solutions()))
    return to_bytes(duplicate_cells(lab.notebook(), [first, lab.tests()[-1]]))


def _other_lab(lab: Lab, ctx: dict) -> bytes:
    if ctx.get("other_lab"):
        return to_bytes(ctx["other_lab"])
    return to_bytes({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": "# Lab 99 · Convolutions on audio\n"},
        {"cell_type": "code", "id": "a2", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import librosa\nwave, rate = librosa.load('bird.wav')\n"},
    ]})


LOOP_IGNORES_INTERRUPT = '''import time
while True:
    try:
        time.sleep(0.2)
    except KeyboardInterrupt:  # swallows nbgrader's interrupt: the kernel never answers again
        pass
'''
LOOP_IN_FUNCTION = "import time\nwhile True:  # sleeps: the tests need not burn a core\n    time.sleep(0.2)\n"
READ_HIDDEN = '''import glob, pathlib
import course
marker = "BEGIN " + "HIDDEN TESTS"
found = []
for pattern in ["*.ipynb", "../../../**/*.ipynb", "../../../*.db", "/tmp/**/*.ipynb", "/tmp/**/*.db",
                str(pathlib.Path(course.__file__).parents[1] / "**" / "*.ipynb")]:
    for path in glob.glob(pattern, recursive=True):
        try:
            if marker in open(path, errors="replace").read():
                found.append(path)
        except OSError:
            pass
print("LEAK" + "ED hidden tests from:" if found else "no hidden tests readable", found)  # no marker in source
print(open("../../../source/LAB/LAB.ipynb").read())
'''
READ_OTHERS = '''import os
seen = []
for top in ["..", "../..", "../../..", "/tmp", "/var/tmp", "/dev/shm", "/home", "/root"]:
    for dirpath, dirs, files in os.walk(top):
        seen += [os.path.join(dirpath, f) for f in files if f.endswith((".ipynb", ".db", ".json", ".html"))]
print("files visible:", sorted(seen)[:100])
print(os.listdir("../../../submitted"))
'''
WRITE_GRADEBOOK = '''import glob, pathlib, sqlite3
import course
targets = glob.glob("../../../gradebook.db") + glob.glob("/tmp/**/gradebook.db", recursive=True)
targets.append(str(pathlib.Path(course.__file__).parents[1] / "autograder" / "gradebook.db"))
for path in targets:
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        db.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
        db.commit()
        print("WRO" + "TE gradebook", path)
    except Exception as err:
        print("gradebook not writable:", path, err)
open("../../../gradebook.db", "r+b").write(b"corrupted")
'''
WRITE_OTHERS = '''import os
wrote = []
for top in ["../..", "../../..", "/tmp"]:
    for dirpath, dirs, files in os.walk(top):
        try:
            with open(os.path.join(dirpath, "HACKED.txt"), "w") as f:
                f.write("x")
            wrote.append(dirpath)
        except OSError:
            pass
        for f in files:
            if f.endswith(".ipynb"):
                try:
                    open(os.path.join(dirpath, f), "w").write("{}")
                    wrote.append(os.path.join(dirpath, f))
                except OSError:
                    pass
print("wrote to:", wrote)
open("../../../submitted/HACKED.txt", "w").write("x")
'''
PATCH_CHECKS = '''import numpy.testing
from course import checks
numpy.testing.assert_allclose = lambda *args, **kwargs: None
for name in dir(checks):
    if name.startswith("check_"):
        setattr(checks, name, lambda *args, **kwargs: print("OK: patched"))
'''
PATCH_IPYTHON = '''ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: ["print('OK: nothing to test')\\n"])
'''
NETWORK = '''import socket
for host, port in [("127.0.0.1", PORT), ("pypi.org", 443), ("1.1.1.1", 53)]:
    try:
        socket.create_connection((host, port), timeout=3).sendall(b"LEAK")
        print("CONNEC" + "TED", host, port)
    except OSError as err:
        print("blocked", host, port, err)
socket.create_connection(("127.0.0.1", PORT), timeout=3)
'''

BAD_SUBMISSIONS: tuple[BadSubmission, ...] = (
    BadSubmission("not_json", "a file that is not JSON (a cut download)", "not_json", "zero",
                  "not JSON", lambda lab, ctx: b'{"cells": [{"cell_type": "code", "source": "def f('),
    BadSubmission("not_notebook", "JSON that is not a notebook (a kernel connection file)", "not_notebook",
                  "zero", "not a Jupyter notebook",
                  lambda lab, ctx: json.dumps({"shell_port": 5, "transport": "tcp", "key": "x"}).encode()),
    BadSubmission("empty", "an empty file", "empty", "zero", "empty", lambda lab, ctx: b""),
    BadSubmission("other_lab", "another lab's notebook", "wrong_lab", "zero", "not the", _other_lab),
    BadSubmission("colab_stripped", "a Colab round trip: every cell's metadata and id dropped",
                  "repaired", "full", "metadata",
                  lambda lab, ctx: to_bytes(colab_round_trip(lab.notebook()))),
    BadSubmission("duplicated_cells", "a solution cell and a test cell pasted twice, metadata and all",
                  "repaired", "full", "duplicate", _duplicated),
    BadSubmission("edited_test", "the last test cell edited to always pass, the last answer wrong",
                  "repaired", "last_zero", "edited", _last_wrong(_edit_test)),
    BadSubmission("deleted_test", "the last test cell deleted, the last answer wrong",
                  "repaired", "last_zero", "missing", _last_wrong(_delete_test)),
    BadSubmission("loop_in_function", "an infinite loop inside the last exercise's function",
                  "timeout", "last_zero", "time limit",
                  lambda lab, ctx: to_bytes(lab.notebook({lab.last_solution()[0]: with_body(
                      lab.last_solution()[1], LOOP_IN_FUNCTION)}))),
    BadSubmission("loop_top_level", "`while True: pass` at top level after the last exercise's right answer",
                  "timeout", "last_zero", "time limit", _append_to_last("while True:\n    pass\n")),
    BadSubmission("loop_ignores_interrupt", "a top-level loop that catches KeyboardInterrupt, so the "
                  "kernel never answers again", "timeout", "zero", "did not answer",
                  _append_to_last(LOOP_IGNORES_INTERRUPT)),
    BadSubmission("memory_bomb", "allocates memory until something gives", "memory", "zero", "memory limit",
                  _append_to_last("hog = []\nwhile True:\n    hog.append(bytearray(64 * 2**20))\n")),
    BadSubmission("sys_exit", "sys.exit() at top level after a right answer", "graded", "full", "SystemExit",
                  _append_to_last("import sys\nsys.exit('done here')\n")),
    BadSubmission("os_exit", "os._exit(3) at top level", "kernel_died", "zero", "exit 3",
                  _append_to_last("import os\nos._exit(3)\n")),
    BadSubmission("kernel_crash", "a segmentation fault (ctypes reads address 0)", "kernel_died", "zero",
                  "SIGSEGV", _append_to_last("import ctypes\nctypes.string_at(0)\n")),
    BadSubmission("read_hidden_tests", "reads the source notebook, the gradebook and its own copy with "
                  "hidden tests", "graded", "full", "FileNotFoundError", _append_to_last(READ_HIDDEN)),
    BadSubmission("read_other_students", "walks the file system for other students' notebooks",
                  "graded", "full", "FileNotFoundError", _append_to_last(READ_OTHERS)),
    BadSubmission("write_gradebook", "finds gradebook.db and sets every score to 0", "graded", "full",
                  "FileNotFoundError", _append_to_last(WRITE_GRADEBOOK)),
    BadSubmission("write_other_students", "writes into other students' folders", "graded", "full",
                  "FileNotFoundError", _append_to_last(WRITE_OTHERS)),
    BadSubmission("patch_checks", "replaces numpy.testing.assert_allclose and the lab's checks with no-ops, "
                  "the last answer wrong", "tampering", "last_zero", "assigns",
                  _append_to_last(PATCH_CHECKS, wrong=True)),
    BadSubmission("patch_ipython", "an IPython input transformer that replaces every later cell, "
                  "the last answer wrong", "tampering", "last_zero", "get_ipython",
                  _append_to_last(PATCH_IPYTHON, wrong=True)),
    BadSubmission("print_history", "prints IPython's input history (In), which holds the hidden tests of "
                  "the cells before, the last answer wrong", "tampering", "last_zero", "input history",
                  _append_to_last("print(In)\n", wrong=True)),
    BadSubmission("network", "opens TCP connections (loopback, PyPI, a public DNS server)", "graded", "full",
                  "Network is unreachable", _append_to_last(NETWORK)),
)
