"""course_grading.sandbox isolates a real kernel; course_grading.batch survives crashes and hangs;
course.integrity finds code that patches the tests."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from course_grading import batch
from course_grading.autograde.integrity import findings, imported_names
from course_grading.sandbox import Limits, Sandbox, default_hide
from course_grading.sandbox.view import python_paths

linux_root = pytest.mark.skipif(os.geteuid() != 0, reason="full isolation needs root")


def run_in_kernel(sandbox: Sandbox, cwd: Path, code: str, timeout: float = 60) -> tuple[str, str | None]:
    """(stdout, error name) of ``code`` run in a kernel started through the sandbox."""
    from jupyter_client import KernelManager

    env = sandbox.prepare()
    old = dict(os.environ)
    os.environ.update(env)
    km = KernelManager(kernel_name="course-sandbox", **sandbox.kernel_config()["KernelManager"])
    try:
        km.start_kernel(cwd=str(cwd))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=timeout)
        msg_id = kc.execute(code)
        out, error = "", None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=2)
            except Exception:  # noqa: BLE001 - queue.Empty, or the kernel is gone
                if not km.is_alive():
                    break
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            elif msg["msg_type"] == "error":
                error = msg["content"]["ename"]
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        kc.stop_channels()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        os.environ.clear()
        os.environ.update(old)
    return out, error


@pytest.fixture
def job(tmp_path: Path):
    """A private root like a grading job's: a course folder to hide, a working directory."""
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "source" / "secret.ipynb").write_text("BEGIN HIDDEN TESTS")
    (course / "gradebook.db").write_text("scores")
    root = tmp_path / "job"
    cwd = root / "autograded" / "ana" / "lab"
    cwd.mkdir(parents=True)
    (cwd / "lab.ipynb").write_text("the notebook with hidden tests")
    (cwd / "data.csv").write_text("1,2,3\n")
    return course, root, cwd


ISOLATION_PROBE = '''
import os, socket
print("uid", os.getuid())
print("cwd", sorted(n for n in os.listdir(".") if not n.startswith(".")), open("data.csv").read().strip())
for path in PATHS:
    try:
        open(path).read(); print("READ", path)
    except OSError as err:
        print("blocked", type(err).__name__)
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2); print("CONNECTED")
except OSError as err:
    print("net", err.strerror)
try:
    open(HACK, "w").write("x"); print("WROTE")
except OSError as err:
    print("write", type(err).__name__)
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
'''


def _isolation(job, env_bwrap: str | None, monkeypatch, label: str, allowlist: bool = True):
    course, root, cwd = job
    if env_bwrap is not None:
        monkeypatch.setenv("COURSE_SANDBOX_BWRAP", env_bwrap)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    port = server.getsockname()[1]
    repo_secret = Path(__file__).resolve().parents[1] / "autograder" / "nbgrader_config.py"
    paths = [str(course / "source" / "secret.ipynb"), str(course / "gradebook.db"), "lab.ipynb"]
    if allowlist:  # a folder nobody listed: hidden only because it is not in the view
        paths.append(str(repo_secret))
    sandbox = Sandbox(root, 0, Limits(memory_mb=1024), default_hide(course, root), label=label)
    code = (ISOLATION_PROBE.replace("PATHS", repr(paths)).replace("PORT", str(port))
            .replace("HACK", repr(str(course / "HACKED.txt"))))
    out, error = run_in_kernel(sandbox, cwd, code)
    report = sandbox.finish()
    assert error is None, out
    assert "uid 0" not in out and "cwd ['data.csv'] 1,2,3" in out
    assert "READ" not in out and out.count("blocked") == len(paths), out
    assert "CONNECTED" not in out and "net " in out
    assert "WROTE" not in out and not (course / "HACKED.txt").exists()
    pids = eval(out.split("pids ")[1].splitlines()[0])  # noqa: S307 - our own kernel's output
    assert max(pids) < 10, "the kernel sees processes outside its PID namespace"
    with pytest.raises(socket.timeout):
        server.accept()
    assert report.exit is None and not report.oom_killed
    return report


@linux_root
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs Debian's bubblewrap")
def test_kernel_is_isolated_by_bubblewrap(job, monkeypatch):
    report = _isolation(job, None, monkeypatch, "t1")
    applied = " ".join(report.applied)
    assert "bubblewrap view" in applied and "no network" in applied and "unprivileged user" in applied
    assert not report.missing, report.missing


@linux_root
def test_kernel_is_isolated_without_bubblewrap(job, monkeypatch):
    report = _isolation(job, "0", monkeypatch, "t1b", allowlist=False)  # hides what is listed, no more
    assert "hidden behind empty tmpfs" in " ".join(report.applied)
    assert any("no bubblewrap" in m for m in report.missing)  # said, not silent


def test_memory_limit_kills_the_kernel(job):
    course, root, cwd = job
    sandbox = Sandbox(root, 0, Limits(memory_mb=300), default_hide(course, root), label="t2")
    out, error = run_in_kernel(sandbox, cwd, "x = []\nwhile True:\n    x.append(bytearray(32 * 2**20))\n")
    report = sandbox.finish()
    assert report.oom_killed, report


def test_the_process_limit_leaves_room_for_the_libraries_threads():
    cores = os.cpu_count() or 1
    assert Limits().pids == 128 + 4 * cores
    assert Limits(threads=2).pids == 136 and Limits(pids=50).pids == 50


def test_the_first_fork_the_process_limit_refuses_ends_the_kernel(job):
    course, root, cwd = job
    sandbox = Sandbox(root, 0, Limits(memory_mb=2048, pids=40), default_hide(course, root), label="t2p")
    started = time.monotonic()
    # the parent catches the refusal and goes on: the whole job is ended instead (within the
    # watch's 0.1 s, so long before the 20 s it means to go on for)
    out, _ = run_in_kernel(
        sandbox, cwd, FORK_UNTIL_REFUSED + "import time\ntime.sleep(20)\nprint('survived', len(kids))\n"
    )
    seconds = time.monotonic() - started
    report = sandbox.finish()
    if sandbox.cgroups.pids is None:
        pytest.skip("no pids cgroup here: " + "; ".join(sandbox.cgroups.notes))
    assert report.process_limit and "survived" not in out, (report, out)
    assert seconds < 15, f"{seconds:.1f} s"  # not the 20 s of the cell: the limit ended it


def test_a_kernel_under_the_process_limit_is_not_stopped(job):
    course, root, cwd = job
    sandbox = Sandbox(root, 0, Limits(memory_mb=1024), default_hide(course, root), label="t2q")
    out, _ = run_in_kernel(sandbox, cwd, FORK_SOME + "print('fine', n)\n")
    report = sandbox.finish()
    assert "fine 8" in out and not report.process_limit, (report, out)


def test_a_job_that_spins_60_processes_gets_one_jobs_share_of_the_cpu(job):
    """However many processes one job runs, the job graded beside it keeps its part of the cores
    (otherwise a student could make a neighbour's cells pass the time limit)."""
    from jupyter_client import KernelManager

    course, root, cwd = job
    hog = Sandbox(root / "hog", 0, Limits(memory_mb=2048), default_hide(course, root), label="t2h")
    (root / "hog").mkdir()
    old = dict(os.environ)
    os.environ.update(hog.prepare())
    km = KernelManager(kernel_name="course-sandbox", **hog.kernel_config()["KernelManager"])
    try:
        try:
            km.start_kernel(cwd=str(cwd))
        finally:
            os.environ.clear()
            os.environ.update(old)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.execute(SPIN_60)
        deadline = time.monotonic() + 30
        while _tasks(hog) < 60 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _tasks(hog) >= 60, "the spinning children never started"
        if "cpu" not in hog.cgroups.dirs:
            pytest.skip("no cpu cgroup here: " + "; ".join(hog.cgroups.notes))
        other = Sandbox(root, 1, Limits(memory_mb=1024), default_hide(course, root), label="t2o")
        out, _ = run_in_kernel(other, cwd, MEASURE_SHARE, timeout=90)
        other.finish()
        kc.stop_channels()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        hog.finish()
    share = float(out.split("share")[1])
    # without a CPU group of its own (and with the scheduler's autogroups, which split the CPU
    # by session) the spinners, each in a session of its own, take 60 parts in 61
    assert share > 0.15, f"the other job got {share:.3f} of a core"


def _tasks(sandbox: Sandbox) -> int:
    try:
        return int((sandbox.cgroups.pids / "pids.current").read_text())
    except (OSError, ValueError, TypeError):
        return 0


SPIN_60 = """import os, time
for _ in range(60):
    if os.fork() == 0:
        os.setsid()  # a session of its own: the scheduler's autogroups would count it as a job
        while True:
            pass
time.sleep(60)
"""
MEASURE_SHARE = """import time
wall, cpu = time.perf_counter(), time.process_time()
while time.perf_counter() - wall < 3:
    pass
print("share", (time.process_time() - cpu) / (time.perf_counter() - wall))
"""
FORK_UNTIL_REFUSED = """import os, signal
kids = []
try:
    while True:
        pid = os.fork()
        if pid == 0:
            signal.pause()
        kids.append(pid)
except OSError:
    pass
"""
FORK_SOME = """import os
n = 0
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    n += 1
"""


@linux_root
def test_the_cgroups_of_a_killed_grader_are_removed_with_what_runs_in_them():
    import subprocess

    from course_grading.sandbox import CGroups

    dead = subprocess.Popen(["true"])
    dead.wait()  # its number now belongs to no process (a reuse would only leave the group alone)
    left = CGroups.create(f"course-grade-{dead.pid}-t9", 256, 16)
    mine = CGroups.create(f"course-grade-{os.getpid()}-t9", 256, 16)
    if not left.dirs:
        pytest.skip("no cgroups here: " + "; ".join(left.notes))
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        for path in set(left.dirs.values()):
            (path / "cgroup.procs").write_text(str(sleeper.pid))
        gone = CGroups.remove_abandoned()
        assert f"course-grade-{dead.pid}-t9" in gone
        assert f"course-grade-{os.getpid()}-t9" not in gone
        assert sleeper.wait(timeout=10) == -9
        assert not any(p.exists() for p in left.dirs.values())
        assert all(p.exists() for p in mine.dirs.values())
    finally:
        sleeper.kill()
        mine.kill_and_remove()
        left.kill_and_remove()


def test_kernel_exit_status_is_recorded(job):
    course, root, cwd = job
    sandbox = Sandbox(root, 0, Limits(memory_mb=1024), default_hide(course, root), label="t3")
    run_in_kernel(sandbox, cwd, "import os\nos._exit(7)\n", timeout=20)
    assert sandbox.finish().exit == "exit 7"


@linux_root
def test_sandbox_check_reports_the_view():
    from course_grading.sandbox import probe

    here = os.getcwd()
    found = probe(Path(__file__).resolve().parents[1] / "autograder")
    assert os.getcwd() == here, "the probe changed the caller's working folder"
    assert found["readable files"].startswith("none outside the view"), found
    assert "no route to the host" in found["network"]
    assert found["kernel uid"] != "0"


def _work(item, slot):
    if item == "hang":
        time.sleep(60)
    if item == "crash":
        os._exit(3)
    if item == "raise":
        raise ValueError("boom")
    return {"item": item, "slot": slot}


def test_batch_goes_on_after_crash_hang_and_error(tmp_path):
    done = {}
    start = time.monotonic()
    batch.run(["ok1", "hang", "crash", "raise", "ok2"], _work, workers=2, timeout=2,
              result_dir=tmp_path, on_done=lambda item, d: done.setdefault(item, d))
    assert time.monotonic() - start < 20
    assert done["ok1"].result["item"] == "ok1" and done["ok2"].result["slot"] in {0, 1}
    assert done["hang"].failure == "timeout"
    assert done["crash"].failure.startswith("crashed") and "exit 3" in done["crash"].failure
    assert "ValueError: boom" in done["raise"].failure


def test_a_stop_inside_code_run_from_a_string_still_ends_with_130(tmp_path):
    """SIGTERM landing in exec'd code (dataclasses and namedtuple build methods that way at
    import): a bare KeyboardInterrupt there makes ``python -m`` die by SIGINT after a clean stop."""
    import subprocess
    import sys

    (tmp_path / "stopper.py").write_text(
        "from course_grading.batch import stop_on_sigterm\n"
        "from course_grading.cli import _stopped\n"
        "stop_on_sigterm()\n"
        "try:\n"
        "    exec('import os, signal, time\\nos.kill(os.getpid(), signal.SIGTERM)\\ntime.sleep(30)')\n"
        "except KeyboardInterrupt as stop:\n"
        "    raise SystemExit(_stopped(str(stop)))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).parents[2])])}
    done = subprocess.run([sys.executable, "-m", "stopper"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "stopped (stopped by signal 15)" in done.stderr


@pytest.mark.parametrize("source, found", [
    ("def f(x):\n    return x + 1\n", []),
    ("import numpy as np\nnp.random.seed(0)\nmodel.trainable = False\n", []),
    ("%pip install -q numpy\n!ls\n", []),
    ("import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n",
     ["assigns numpy.testing.assert_allclose"]),
    ("from course import checks\nsetattr(checks, 'check_x', print)\n", ["calls setattr on checks"]),
    ("get_ipython().input_transformers_cleanup.append(str)\n", ["uses get_ipython() to change IPython"]),
    ("import builtins\nbuiltins.print = None\n", ["assigns builtins.print", "uses builtins"]),
    ("exec('x = 1')\n", ["calls exec() (code that cannot be read before it runs)"]),
    ("import sys\nsys.modules['course.checks'] = None\n", ["uses sys.modules"]),
    ("print(In[3])\n", ["reads IPython's input history (In), which holds the test cells' source"]),
    ("import IPython\nIPython.get_ipython().events.register('pre_run_cell', print)\n",
     ["uses get_ipython() to change IPython"]),
    ("import importlib\nt = importlib.import_module('numpy.testing')\nsetattr(t, 'assert_allclose', print)\n",
     ["calls setattr on t", "uses importlib (modules chosen at run time)"]),
    ("vars(np)['testing'] = None\n", ["uses vars(np) (changes a module behind its back)"]),
    ("class A:\n    def __init__(self):\n        setattr(self, 'x', 1)\n", []),
])
def test_integrity_findings(source, found):
    modules = imported_names(["import numpy as np\nfrom course import checks\n", source])
    assert findings(source, modules) == found


WARM_PROBE = '''
import os, signal, socket
print("pid", os.getpid())
print("tmp", os.listdir("/tmp"), "shm", os.listdir("/dev/shm"))
print("control", os.listdir(CONTROL))
for path in (SLOT, OTHER):
    try:
        print("LISTED", path, os.listdir(path))
    except OSError as err:
        print("unlisted", type(err).__name__)
try:
    os.kill(-1, signal.SIGKILL)
    print("KILLED SOMETHING")
except OSError as err:
    print("kill", type(err).__name__)
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2); print("CONNECTED")
except OSError as err:
    print("net", type(err).__name__)
status = open("/proc/self/status").read()
print("caps", status.split("CapEff:")[1].split()[0], "nonewprivs", status.split("NoNewPrivs:")[1].split()[0])
print("uid", os.getuid(), "files", sorted(n for n in os.listdir(".") if not n.startswith(".")))
open(".answers/mine.txt", "w").write("answer")
'''


@linux_root
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs Debian's bubblewrap")
def test_a_warm_kernel_is_a_fresh_isolated_process(job, tmp_path):
    from course_grading.sandbox import warm

    course, _, cwd = job
    work = Path("/run") / f"cg-test-{os.getpid()}"
    work.mkdir(mode=0o711)
    zygote = warm.start(0, work, None, 1024)
    try:
        other = work / "slot0" / "s999-other"
        other.mkdir(mode=0o700)
        (other / "secret.txt").write_text("another student's")
        root = work / "slot0" / "s001-mine"
        root.mkdir(mode=0o700)
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        code = (WARM_PROBE.replace("CONTROL", repr(str(work / "slot0" / "control")))
                .replace("SLOT", repr(str(work / "slot0"))).replace("OTHER", repr(str(other)))
                .replace("PORT", str(server.getsockname()[1])))
        sandbox = Sandbox(root, 0, Limits(memory_mb=1024), default_hide(course), label="warm",
                          zygote=zygote.socket)
        out, error = run_in_kernel(sandbox, cwd, code)
        report = sandbox.finish()
        assert error is None, out
        assert "pid 1\n" in out, out  # the first process of a PID namespace of its own
        # /tmp is empty but for the way to what the view binds below it (a checkout under /tmp)
        below_tmp = sorted({Path(p).parts[2] for p in [*python_paths(), str(warm.ZYGOTE)]
                            if Path(p).parts[:2] == ("/", "tmp") and len(Path(p).parts) > 2})
        assert f"tmp {below_tmp} shm []" in out and "control []" in out, out
        assert "LISTED" not in out and out.count("unlisted") == 2
        assert "KILLED SOMETHING" not in out and "kill ProcessLookupError" in out
        assert "CONNECTED" not in out and "caps 0000000000000000 nonewprivs 1" in out
        assert "uid 0" not in out and "files ['data.csv']" in out
        assert (root / "answers" / "mine.txt").read_text() == "answer"  # what the grader reads
        assert any("warm start" in a for a in report.applied) and report.exit is None
        assert zygote.alive(), "the zygote must outlive its kernels"
    finally:
        zygote.stop()
        shutil.rmtree(work, ignore_errors=True)


TMP_PROBE = '''
import os
print("shared", open(os.path.join(SHARED, "ro.txt")).read())
try:
    open(os.path.join(SHARED, "w.txt"), "w"); print("WROTE SHARED")
except OSError as err:
    print("shared read-only", type(err).__name__)
print("left over", os.path.exists("/tmp/left-by-the-last-kernel"))
open("/tmp/left-by-the-last-kernel", "w").write("x")
print("tmp writable")
'''


@linux_root
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs Debian's bubblewrap")
def test_a_warm_kernel_keeps_what_the_view_binds_below_tmp(job, tmp_path):
    """A checkout, its venv or the data under /tmp (a CI clone, say) stay visible to a warm
    kernel, read-only, while its /tmp is still a fresh one nobody else wrote into."""
    from course_grading.sandbox import warm

    course, _, cwd = job
    shared = tmp_path / "shared"  # pytest's tmp_path lives under /tmp
    shared.mkdir()
    (shared / "ro.txt").write_text("visible")
    assert str(shared).startswith("/tmp/")
    work = Path("/run") / f"cg-test-{os.getpid()}"
    work.mkdir(mode=0o711)
    zygote = warm.start(0, work, shared, 1024)
    try:
        outs = []
        for n in range(2):
            root = work / "slot0" / f"s00{n}-tmp"
            root.mkdir(mode=0o700)
            sandbox = Sandbox(root, 0, Limits(memory_mb=1024), default_hide(course), label="warm",
                              zygote=zygote.socket)
            out, error = run_in_kernel(sandbox, cwd, TMP_PROBE.replace("SHARED", repr(str(shared))))
            sandbox.finish()
            assert error is None, out
            outs.append(out)
        for out in outs:
            assert "shared visible" in out and "shared read-only" in out and "WROTE" not in out, out
            assert "left over False" in out and "tmp writable" in out, out
        assert not (shared / "w.txt").exists()
    finally:
        zygote.stop()
        shutil.rmtree(work, ignore_errors=True)
