"""One grading job's sandbox: its folders, limits, kernelspec and policy, and its report.

``Sandbox(root, slot, limits, hide, label)`` lays out, inside the job's private root:

* ``kernel/`` the kernel's working directory (the lab's data files, the answers it writes);
  as root it is a tmpfs of the job's own (see :func:`private_work_folder`), so what the
  kernel writes there counts against its memory limit;
* ``home/`` its home, ``rt/`` its runtime folder (ZMQ sockets), ``data/`` the lab's data;
* ``jupyter/kernels/course-sandbox/`` the kernelspec nbgrader starts, whose command is
  the launcher (:mod:`course_grading.sandbox.launcher`) with ``status/policy.json``.

:meth:`Sandbox.finish` kills what is left, removes the cgroups and says what isolation the
kernel got and how it ended (:class:`KernelReport`).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .cgroups import CGroups
from .launcher import STARTUP_FAILED
from .users import USER_PREFIX, sandbox_user
from .view import View, bwrap_args, bwrap_path, python_paths
from .zygote_client import ZYGOTE_LOST

KERNEL_NAME = "course-sandbox"
LAUNCHER = Path(__file__).resolve().parent / "launcher.py"
ZYGOTE_CLIENT = Path(__file__).resolve().parent / "zygote_client.py"
# What the kernel keeps of the grader's environment (everything else is dropped).
ENV_PREFIXES = ("NBGRADER_", "COURSE_", "TF_", "KERAS_BACKEND", "OMP_", "MKL_", "LC_")
ENV_NAMES = {"CI", "LANG", "TZ", "PYTHONHASHSEED", "MPLBACKEND"}
CLONE_NEWNS, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x00020000, 16384, 1 << 18, 2, 4

__all__ = [
    "KERNEL_NAME",
    "STARTUP_FAILED",
    "ZYGOTE_LOST",
    "KernelReport",
    "Limits",
    "ProcessLimitWatch",
    "RssWatchdog",
    "Sandbox",
    "private_work_folder",
]


def process_limit(threads: int = 0) -> int:
    """Processes and threads a kernel may run at once: room for the numeric libraries' thread
    pools (a few per CPU thread they use) and 128 more for the student's own.

    It is low on purpose: a fork bomb must reach it within seconds, long before the memory
    limit or a cell's time limit, so that it ends the same way on a slow machine and a fast one.
    """
    return 128 + 4 * (threads or os.cpu_count() or 1)


@dataclass
class Limits:
    """Per-submission limits."""

    memory_mb: int = 4096
    pids: int = 0  # 0: process_limit(threads)
    file_size_mb: int = 256
    threads: int = 0  # CPU threads for the kernel's numeric libraries (0: leave their default)

    def __post_init__(self) -> None:
        self.pids = self.pids or process_limit(self.threads)


@dataclass
class KernelReport:
    """What isolation a job got, and how its kernel ended."""

    applied: list[str]
    missing: list[str]
    exit: str | None  # 'exit 3', 'signal SIGSEGV', None if it shut down normally or never started
    oom_killed: bool
    peak_mb: float | None
    process_limit: bool = False  # a fork or thread was refused by the process limit: all was killed


def private_work_folder(path: Path, size_mb: int) -> str | None:
    """Make ``path`` a tmpfs of this process alone (its own mount namespace; root only).

    Whatever the kernel writes there counts against its memory limit instead of filling
    the disk, and it disappears with the process. Returns what was done, or None.
    """
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return None
    libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None)
    options = f"size={size_mb}m,mode=0755".encode()
    if libc.mount(b"tmpfs", os.fsencode(str(path)), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV), options):
        return None
    return f"working folder: a private tmpfs of {size_mb} MB (writes count against the memory limit)"


class RssWatchdog(threading.Thread):
    """Fallback memory limit: kill the grader's child processes when their RSS passes the limit."""

    def __init__(self, limit_mb: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.limit, self.interval = limit_mb * 2**20, interval
        self.peak, self.fired = 0, False
        self._stop = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.interval):
            try:
                kids = me.children(recursive=True)
                rss = sum(k.memory_info().rss for k in kids)
            except psutil.Error:
                continue
            self.peak = max(self.peak, rss)
            if rss > self.limit:
                self.fired = True
                for kid in kids:
                    try:
                        kid.kill()
                    except psutil.Error:
                        pass

    def stop(self) -> None:
        self._stop.set()


class ProcessLimitWatch(threading.Thread):
    """The process limit, enforced: the first fork or thread it refuses ends the whole job.

    A kernel at its limit would otherwise spin on as many processes as the limit allows,
    taking the cores from the students graded beside it, until a time limit or the memory
    limit ended it, whichever came first. Stopping it here makes the outcome the same on
    every machine and frees the cores within ``interval`` seconds.
    """

    def __init__(self, groups: CGroups, interval: float = 0.1):
        super().__init__(daemon=True)
        self.groups, self.interval, self.fired = groups, interval, False
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.groups.process_limit_hits():
                self.fired = True
                self.groups.kill_all()
                return

    def stop(self) -> None:
        self._stop.set()


def _passwd(uid: int, gid: int, user: str) -> tuple[str, str]:
    return (
        f"root:x:0:0:root:/root:/usr/sbin/nologin\n{user}:x:{uid}:{gid}:{user}:/nonexistent:/usr/sbin/nologin\n",
        f"root:x:0:\n{user}:x:{gid}:\n",
    )


class Sandbox:
    """Sets up the isolation of one grading job in private root ``root`` (see the module doc).

    ``hide`` is used only without bubblewrap (the fallback hides a list of folders).
    """

    def __init__(
        self,
        root: Path,
        slot: int,
        limits: Limits,
        hide: list[Path],
        label: str,
        data_file: Path | None = None,
        zygote: str | None = None,
    ):
        self.root, self.slot, self.limits, self.label = root, slot, limits, label
        self.hide = [str(p) for p in hide]
        self.runtime, self.kernel_dir, self.home = root / "rt", root / "kernel", root / "home"
        self.status = root / "status" / "launcher.json"
        self.data_file = data_file
        self.zygote = zygote  # the slot's warm zygote's socket: kernels are forked from it
        self.cgroups = CGroups()
        self.watchdog: RssWatchdog | None = None
        self.process_watch: ProcessLimitWatch | None = None
        self.uid: int | None = None
        self.gid: int | None = None
        self.notes: list[str] = []

    @property
    def answers(self) -> Path:
        """Where the grader reads the kernel's answers (a warm kernel's own folder is a tmpfs
        only it sees: its answers come through a folder on disk bound into it)."""
        return self.root / "answers" if self.zygote else self.kernel_dir / ".answers"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}
        home, user = str(self.home), f"{USER_PREFIX}{self.slot}"
        env.update(
            {
                "PATH": os.pathsep.join(
                    [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
                ),
                "HOME": home,
                "USER": user,
                "LOGNAME": user,
                "MPLCONFIGDIR": f"{home}/.config/matplotlib",
                "IPYTHONDIR": f"{home}/.ipython",
                "XDG_CACHE_HOME": f"{home}/.cache",
                "KERAS_HOME": f"{home}/.keras",
                "PYTHONNOUSERSITE": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "JPY_PARENT_PID": "1",  # no parent poller: the kernel's parent is the sandbox's init
            }
        )
        if self.data_file:
            env["COURSE_GRADING_FASHION_MNIST"] = str(self.data_file)
        if self.limits.threads:
            threads = str(self.limits.threads)
            env.update(
                {
                    "OMP_NUM_THREADS": threads,
                    "TF_NUM_INTRAOP_THREADS": threads,
                    "TF_NUM_INTEROP_THREADS": threads,
                }
            )
        return env

    def view(self) -> View:
        read_only = python_paths()
        if self.data_file:
            read_only.append(str(self.data_file.parent))
        files = {}
        if self.uid is not None:
            passwd, group = _passwd(self.uid, self.gid, f"{USER_PREFIX}{self.slot}")
            (self.root / "status" / "passwd").write_text(passwd)
            (self.root / "status" / "group").write_text(group)
            files = {
                "/etc/passwd": str(self.root / "status" / "passwd"),
                "/etc/group": str(self.root / "status" / "group"),
            }
        return View(
            read_only,
            [str(self.runtime), str(self.kernel_dir), str(self.home)],
            str(self.kernel_dir),
            files,
            tmp_mb=min(512, self.limits.memory_mb),
        )

    def prepare(self, mpl_cache: Path | None = None) -> dict[str, str]:
        """Write the kernelspec and policy, make the cgroups; return the env nbgrader needs."""
        notes = list(self.notes)
        if os.geteuid() == 0:
            try:
                self.uid, self.gid = sandbox_user(self.slot)
            except (OSError, subprocess.CalledProcessError) as err:
                notes.append(f"no sandbox user: {err}")
        for folder in (self.runtime, self.kernel_dir, self.home, self.status.parent):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.answers.mkdir(exist_ok=True)
        if self.zygote:
            self.root.chmod(0o711)  # the warm kernel passes through, and may not list or rename
            (self.root / "data-in").mkdir(mode=0o700, exist_ok=True)
        (self.home / ".config" / "matplotlib").mkdir(parents=True, exist_ok=True)
        for font_list in mpl_cache.glob("fontlist-*.json") if mpl_cache and mpl_cache.is_dir() else []:
            shutil.copy2(font_list, self.home / ".config" / "matplotlib" / font_list.name)
        if self.uid is not None:
            mine = [self.runtime, self.kernel_dir, self.home] + (
                [self.answers, self.root / "data-in"] if self.zygote else []
            )
            for folder in mine:
                for dirpath, _, files in os.walk(folder):
                    os.chown(dirpath, self.uid, self.gid)
                    for f in files:
                        os.chown(os.path.join(dirpath, f), self.uid, self.gid)
        self.cgroups = CGroups.create(
            f"course-grade-{os.getpid()}-{self.label}", self.limits.memory_mb, self.limits.pids
        )
        notes += self.cgroups.notes
        if self.cgroups.memory is None:
            self.watchdog = RssWatchdog(self.limits.memory_mb)
        if self.cgroups.pids is not None:
            self.process_watch = ProcessLimitWatch(self.cgroups)
        env = self.environment()
        view = self.view()
        bwrap = bwrap_path()
        policy = {
            "uid": self.uid,
            "gid": self.gid,
            "user": f"{USER_PREFIX}{self.slot}",
            "python": sys.executable,
            "cgroups": [str(p) for p in set(self.cgroups.dirs.values())],
            "cgroup_version": self.cgroups.version,
            "memory_mb": self.limits.memory_mb,
            "file_size_mb": self.limits.file_size_mb,
            "env": env,
            "kernel_dir": str(self.kernel_dir),
            "bwrap": bwrap,
            "bwrap_args": bwrap_args(view, env, privileged=os.geteuid() == 0) if bwrap else [],
            "view_applied": [
                "bubblewrap view: the kernel sees only "
                + ", ".join(
                    p.replace(str(self.root), "<job>").replace(
                        str(self.data_file.parent) if self.data_file else "\0", "<data>"
                    )
                    for p in view.shown()
                ),
                "no network: own network namespace (loopback only)",
                "own PID, IPC and UTS namespaces",
            ],
            # the fallback (no bwrap) hides these folders instead
            "hide": self.hide,
            "keep": [str(self.runtime), str(self.kernel_dir)],
            "expose": python_paths(),
            "keras_datasets": None,
            "mpl_cache": str(mpl_cache) if mpl_cache else None,
            "threads": self.limits.threads,
            "home": str(self.home),
            "kernel_log": str(self.runtime / "kernel.log"),
            "status": str(self.status),
            "notes": notes,
        }
        if self.data_file and not bwrap:
            policy["keep"].append(str(self.data_file.parent))
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        command = [sys.executable, "-I", str(LAUNCHER), "{policy}", "--", *argv]
        if self.zygote:
            policy.update(self._warm_policy(notes))
            command = [sys.executable, "-I", str(ZYGOTE_CLIENT), "{policy}", "--", "{connection_file}"]
        policy_file = self.root / "status" / "policy.json"
        policy_file.write_text(json.dumps(policy, indent=1))
        spec = self.root / "jupyter" / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [str(policy_file) if a == "{policy}" else a for a in command],
                    "display_name": "Python 3 (course sandbox)",
                    "language": "python",
                    # a signal to the launcher would not reach the kernel in bwrap
                    "interrupt_mode": "message",
                    "metadata": {"debugger": False},
                },
                indent=1,
            )
        )
        if self.watchdog:
            self.watchdog.start()
        if self.process_watch:
            self.process_watch.start()
        return {"JUPYTER_PATH": str(self.root / "jupyter"), "JUPYTER_RUNTIME_DIR": str(self.runtime)}

    def _warm_policy(self, notes: list[str]) -> dict:
        """What the zygote client passes on for a kernel forked from the slot's zygote."""
        return {
            "zygote_socket": self.zygote,
            "answers_disk": str(self.answers),
            "data_staging": str(self.root / "data-in"),
            "tmp_mb": min(512, self.limits.memory_mb),
            "work_mb": max(self.limits.memory_mb // 2, 64),
            "zygote_applied": [
                f"memory limit {self.limits.memory_mb} MB and process limit (cgroup {self.cgroups.version})",
                f"no core dumps; files up to {self.limits.file_size_mb} MB",
                f"runs as unprivileged user {USER_PREFIX}{self.slot} (uid {self.uid}), no capabilities, "
                "no new privileges",
                "warm start: a fresh process forked from the slot's zygote (TensorFlow, Keras, IPython and "
                "the course already imported), in the zygote's bubblewrap view (system, Python, data, the "
                "slot's folder), then user, mount, PID, network, IPC and UTS namespaces of its own: fresh "
                "/tmp and /dev/shm, its working folder a private tmpfs (writes count against the memory "
                "limit), not dumpable",
                "no network: own network namespace (loopback only)",
            ],
        }

    def kernel_config(self) -> dict[str, dict[str, object]]:
        """traitlets config for nbgrader: our kernel, ZMQ over ipc sockets in the runtime directory."""
        return {
            "Execute": {"kernel_name": KERNEL_NAME},
            "TrustedExecute": {
                "answers_dir": str(self.answers),
                "kernel_answers_dir": str(self.kernel_dir / ".answers"),
            },
            "KernelManager": {"transport": "ipc", "connection_file": str(self.runtime / "kernel.json")},
        }

    def finish(self) -> KernelReport:
        """Kill leftovers, remove the cgroups, and report what happened."""
        if self.process_watch:
            self.process_watch.stop()
        over_processes = self.cgroups.process_limit_hits() > 0
        oom = self.cgroups.oom_kills() > 0
        peak = self.cgroups.peak_bytes()
        if self.watchdog:
            self.watchdog.stop()
            oom = oom or self.watchdog.fired
            peak = peak or self.watchdog.peak or None
        self.cgroups.kill_and_remove()
        if peak is None:  # the largest descendant this process reaped (the kernel)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        try:
            status = json.loads(self.status.read_text())
        except (OSError, ValueError):
            status = {"applied": [], "missing": ["the kernel launcher never ran"]}
        applied, missing = list(status.get("applied", [])), list(status.get("missing", []))
        if self.watchdog:
            applied.append(f"memory limit {self.limits.memory_mb} MB (RSS watchdog, polled every 0.2 s)")
        if "cpu" in self.cgroups.dirs:
            applied.append("a CPU group of its own: all its processes together get one job's share")
        return KernelReport(
            applied,
            missing,
            status.get("exit"),
            oom,
            round(peak / 2**20, 1) if peak else None,
            over_processes,
        )
