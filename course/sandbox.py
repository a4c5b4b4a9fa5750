"""Isolation of a student's kernel while nbgrader grades it (Linux).

nbgrader starts the kernel named ``course-sandbox``, whose command is this module's
launcher: ``python course/sandbox.py POLICY.json -- python -m ipykernel_launcher -f CONN``
(run as a script: only the standard library, so it starts fast).
Before the kernel runs a single line of student code, the launcher

1. joins the job's cgroups: a memory limit and a process limit;
2. enters new network, mount, IPC, UTS and PID namespaces (plus a user namespace when
   not root): no network at all, not even loopback, so ZMQ talks over ``ipc`` sockets;
3. hides the course root, the grading work area, ``/tmp``, ``/var/tmp``, ``/dev/shm``
   and the instructor's home behind empty tmpfs mounts, then gives the kernel a fresh
   working directory at the same path holding the lab's data files but not the
   notebook (nbgrader's copy there already contains the hidden tests), and binds back
   only the kernel's own runtime directory;
4. runs the kernel as an unprivileged user of its own (one per worker slot; root only),
   with no new privileges, no core dumps and a file size limit, and a fresh ``/proc``
   showing only its own processes.

Each step that the machine refuses is skipped and recorded: the launcher writes what
it applied and how the kernel ended to the job's status file, and :class:`Sandbox`
reads it back.  Where no memory cgroup can be made, a watchdog thread polls the
kernel's resident memory instead (:class:`RssWatchdog`).
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_NAME = "course-sandbox"
STARTUP_FAILED = 121  # the launcher's exit code when it refuses or fails to start the kernel
SANDBOX_HOME = "/tmp/sandbox-home"
TEMP_DIRS = {"/tmp", "/var/tmp", "/dev/shm", os.path.realpath(tempfile.gettempdir())}
USER_PREFIX = "course-sandbox"

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND = 1, 2, 4, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

# What the kernel keeps of the grader's environment (everything else is dropped).
ENV_PREFIXES = ("NBGRADER_", "COURSE_", "TF_", "KERAS_", "OMP_", "MKL_", "LC_")
ENV_NAMES = {"CI", "LANG", "TZ", "PYTHONHASHSEED", "MPLBACKEND"}

_libc = ctypes.CDLL(None, use_errno=True)


def _sys(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def unshare(flags: int) -> None:
    _sys(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _sys(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)), f"mount {target}")


def prctl(option: int, value: int) -> None:
    _sys(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                     ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


# --------------------------------------------------------------------------- cgroups


def _cgroup_dir(controller: str) -> Path | None:
    """This process's cgroup directory for ``controller`` ('' = cgroup v2), if mounted."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            own[name] = path
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, point, fstype, options, *_ = line.split()
        if controller == "" and fstype == "cgroup2" and "" in own:
            base = Path(point)
            controllers = base / "cgroup.controllers"
            if controllers.exists() and "memory" in controllers.read_text():
                return base / own[""].lstrip("/")
        elif controller and fstype == "cgroup" and controller in options.split(",") and controller in own:
            return Path(point) / own[controller].lstrip("/")
    return None


@dataclass
class CGroups:
    """The cgroups of one grading job: a memory limit and a process limit, where allowed."""

    dirs: dict[str, Path] = field(default_factory=dict)  # 'memory'/'pids' -> directory
    version: str = ""
    notes: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, memory_mb: int, pids_max: int) -> CGroups:
        groups = cls()
        v2 = _cgroup_dir("")
        if v2 is not None:
            try:
                path = v2 / name
                path.mkdir()
                (path / "memory.max").write_text(str(memory_mb * 2**20))
                if (path / "memory.swap.max").exists():
                    (path / "memory.swap.max").write_text("0")
                if (path / "pids.max").exists():
                    (path / "pids.max").write_text(str(pids_max))
                groups.dirs = {"memory": path, "pids": path}
                groups.version = "v2"
                return groups
            except OSError as err:
                groups.notes.append(f"cgroup v2: {err}")
                shutil.rmtree(v2 / name, ignore_errors=True) if (v2 / name).exists() else None
        for controller, limits in (("memory", {"memory.limit_in_bytes": memory_mb * 2**20}),
                                   ("pids", {"pids.max": pids_max})):
            base = _cgroup_dir(controller)
            if base is None:
                groups.notes.append(f"no {controller} cgroup here")
                continue
            try:
                path = base / name
                path.mkdir()
                for file, value in limits.items():
                    (path / file).write_text(str(value))
                if controller == "memory" and (path / "memory.memsw.limit_in_bytes").exists():
                    try:  # no swap either, where the kernel accounts it
                        (path / "memory.memsw.limit_in_bytes").write_text(str(memory_mb * 2**20))
                    except OSError:
                        pass
                groups.dirs[controller] = path
                groups.version = "v1"
            except OSError as err:
                groups.notes.append(f"cgroup v1 {controller}: {err}")
        return groups

    @property
    def memory(self) -> Path | None:
        return self.dirs.get("memory")

    def oom_kills(self) -> int:
        """How many processes the memory limit killed."""
        if self.memory is None:
            return 0
        file = self.memory / ("memory.events" if self.version == "v2" else "memory.oom_control")
        try:
            for line in file.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def peak_bytes(self) -> int | None:
        if self.memory is None:
            return None
        file = self.memory / ("memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes")
        try:
            return int(file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill_and_remove(self) -> None:
        """Kill whatever the kernel left running, then delete the cgroups."""
        for path in set(self.dirs.values()):
            if (path / "cgroup.kill").exists():
                try:
                    (path / "cgroup.kill").write_text("1")
                except OSError:
                    pass
            for _ in range(50):
                try:
                    pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.05)
            for _ in range(20):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


# --------------------------------------------------------------------------- users


def sandbox_user(slot: int) -> tuple[int, int]:
    """(uid, gid) of the unprivileged user of worker slot ``slot``; created if root and missing."""
    name = f"{USER_PREFIX}{slot}"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if os.geteuid() != 0:
            raise PermissionError(f"user {name} does not exist and only root can create it") from None
        nologin = next((s for s in ("/usr/sbin/nologin", "/sbin/nologin") if Path(s).exists()), "/bin/false")
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", nologin, "--user-group", name], check=True, capture_output=True)
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


# --------------------------------------------------------------------------- one job


def expose_paths() -> list[str]:
    """What the kernel must read even where a hidden folder holds it: Python and the course package."""
    import course

    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)),
             str(Path(course.__file__).resolve().parent)}
    return sorted(os.path.realpath(p) for p in paths)


def keras_datasets() -> str | None:
    """The instructor's Keras data cache (Fashion-MNIST may live there), shown read-only to the kernel."""
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    path = os.path.join(base, "datasets")
    return path if os.path.isdir(path) else None


def default_hide(*extra: Path) -> list[Path]:
    """Folders the kernel must not see: temp dirs, the instructor's home, and ``extra``."""
    home = Path(os.path.expanduser("~"))
    hide = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), *extra]
    if home != Path("/"):
        hide.append(home)
    return hide


@dataclass
class Limits:
    """Per-submission limits."""

    memory_mb: int = 4096
    pids: int = 1024
    file_size_mb: int = 1024
    threads: int = 0  # CPU threads for the kernel's numeric libraries (0: leave their default)


@dataclass
class KernelReport:
    """What isolation a job got, and how its kernel ended."""

    applied: list[str]
    missing: list[str]
    exit: str | None  # 'exit 3', 'signal SIGSEGV', None if it shut down normally or never started
    oom_killed: bool
    peak_mb: float | None


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


class Sandbox:
    """Sets up the isolation of one grading job in private root ``root`` (see the module doc)."""

    def __init__(self, root: Path, slot: int, limits: Limits, hide: list[Path], label: str):
        self.root, self.slot, self.limits, self.label = root, slot, limits, label
        self.hide = [str(p) for p in hide]
        self.runtime = root / "rt"
        self.status = root / "status" / "launcher.json"
        self.cgroups = CGroups()
        self.watchdog: RssWatchdog | None = None
        self.uid: int | None = None
        self.gid: int | None = None

    def prepare(self, mpl_cache: Path | None = None) -> dict[str, str]:
        """Write the kernelspec and policy, make the cgroups; return the env nbgrader needs."""
        notes: list[str] = []
        if os.geteuid() == 0:
            try:
                self.uid, self.gid = sandbox_user(self.slot)
            except (OSError, subprocess.CalledProcessError) as err:
                notes.append(f"no sandbox user: {err}")
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.status.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.uid is not None:
            os.chown(self.runtime, self.uid, self.gid)
        self.cgroups = CGroups.create(f"course-grade-{os.getpid()}-{self.label}",
                                      self.limits.memory_mb, self.limits.pids)
        notes += self.cgroups.notes
        if self.cgroups.memory is None:
            self.watchdog = RssWatchdog(self.limits.memory_mb)
        policy = {
            "uid": self.uid, "gid": self.gid, "user": f"{USER_PREFIX}{self.slot}",
            "cgroups": [str(p) for p in set(self.cgroups.dirs.values())],
            "cgroup_version": self.cgroups.version, "memory_mb": self.limits.memory_mb,
            "file_size_mb": self.limits.file_size_mb, "hide": self.hide, "threads": self.limits.threads,
            "keep": [str(self.runtime)], "expose": expose_paths(), "keras_datasets": keras_datasets(),
            "kernel_log": str(self.runtime / "kernel.log"),
            "status": str(self.status), "notes": notes, "home": str(self.root / "home"),
            "mpl_cache": str(mpl_cache) if mpl_cache else None,
        }
        policy_file = self.root / "status" / "policy.json"
        policy_file.write_text(json.dumps(policy, indent=1))
        spec = self.root / "jupyter" / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, str(Path(__file__).resolve()), str(policy_file), "--",  # a script
                     sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (course sandbox)", "language": "python",
            "interrupt_mode": "signal", "metadata": {"debugger": False},
        }, indent=1))
        if self.watchdog:
            self.watchdog.start()
        return {"JUPYTER_PATH": str(self.root / "jupyter"), "JUPYTER_RUNTIME_DIR": str(self.runtime)}

    def kernel_config(self) -> dict[str, dict[str, object]]:
        """traitlets config for nbgrader: our kernel, ZMQ over ipc sockets in the runtime directory."""
        return {"Execute": {"kernel_name": KERNEL_NAME},
                "KernelManager": {"transport": "ipc", "connection_file": str(self.runtime / "kernel.json")}}

    def finish(self) -> KernelReport:
        """Kill leftovers, remove the cgroups, and report what happened."""
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
        return KernelReport(applied, missing, status.get("exit"), oom,
                            round(peak / 2**20, 1) if peak else None)


# --------------------------------------------------------------------------- the launcher


def _open_tree(directory: str) -> list[tuple[str, int]]:
    """O_PATH descriptors of the entries of ``directory`` that are not notebooks."""
    entries = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".ipynb"):
            entries.append((name, os.open(os.path.join(directory, name), os.O_PATH)))
    return entries


def _hide(paths: list[str], size_mb: int) -> list[str]:
    """Cover each existing path (outermost first) with an empty tmpfs; return what was covered."""
    covered: list[str] = []
    for path in sorted({os.path.realpath(p) for p in paths}, key=lambda p: (len(p), p)):
        if any(path == c or path.startswith(c + os.sep) for c in covered) or not os.path.isdir(path):
            continue
        mode = "1777" if path in TEMP_DIRS else "755"  # the kernel's own scratch space, or nothing
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},size={size_mb}m")
        covered.append(path)
    return covered


def _bind(fd: int, target: str, readonly: bool) -> None:
    source = f"/proc/self/fd/{fd}"
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _kernel_env(policy: dict, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}
    env.update({
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home, "USER": policy["user"], "LOGNAME": policy["user"],
        "MPLCONFIGDIR": f"{home}/.config/matplotlib", "IPYTHONDIR": f"{home}/.ipython",
        "XDG_CACHE_HOME": f"{home}/.cache", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "JPY_PARENT_PID": "1",  # no parent poller: the kernel's parent is the sandbox's init
    })
    if policy.get("threads"):
        threads = str(policy["threads"])
        env.update({"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads,
                    "TF_NUM_INTEROP_THREADS": threads})
    return env


def _become_kernel(policy: dict, argv: list[str], cwd: str, env: dict[str, str]) -> None:
    """In the kernel's process: drop privileges and limits, then exec the kernel (never returns)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if os.geteuid() == 0 and policy.get("uid") is not None:
            os.setgroups([])
            os.setresgid(policy["gid"], policy["gid"], policy["gid"])
            os.setresuid(policy["uid"], policy["uid"], policy["uid"])
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        size = policy["file_size_mb"] * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        os.umask(0o077)
        if policy.get("kernel_log"):  # TensorFlow's C++ chatter goes to the job's log, not the terminal
            log = os.open(policy["kernel_log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(log, 1)
            os.dup2(log, 2)
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    except BaseException as err:  # noqa: BLE001 - report and die, never run the kernel unconfined
        os.write(2, f"course.sandbox: cannot start the kernel: {err}\n".encode())
    os._exit(STARTUP_FAILED)


def _exit_text(code: int) -> str | None:
    if code == 0:
        return None
    if code > 128 and code - 128 < signal.NSIG:
        return f"signal {signal.Signals(code - 128).name}"
    return f"exit {code}"


@dataclass
class _Status:
    """What the launcher applied and what it could not; written to the job's status file."""

    fd: int
    applied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def write(self, exit_text: str | None = None) -> None:
        data = json.dumps({"applied": self.applied, "missing": self.missing, "exit": exit_text}, indent=1)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data.encode(), 0)


def _join_cgroups(policy: dict, status: _Status) -> None:
    """Memory and process limits for the kernel and everything it starts."""
    for group in policy["cgroups"]:
        try:
            Path(group, "cgroup.procs").write_text(str(os.getpid()))
        except OSError as err:
            status.missing.append(f"cannot join cgroup {group}: {err}")
    if policy["cgroups"]:
        status.applied.append(f"memory limit {policy['memory_mb']} MB and process limit "
                              f"(cgroup {policy['cgroup_version']})")
    else:
        status.missing.append("no cgroup: memory is watched by polling instead")


def _enter_namespaces(status: _Status) -> bool:
    """New network, mount, IPC, UTS and PID namespaces (and a user namespace when not root)."""
    flags = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID
    try:
        if os.geteuid() == 0:
            unshare(flags)
        else:  # the instructor's uid maps to itself: no capabilities left once the kernel execs
            uid, gid = os.getuid(), os.getgid()
            unshare(flags | CLONE_NEWUSER)
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
            status.applied.append("user namespace (not root: the kernel keeps the instructor's uid)")
    except OSError as err:
        status.missing.append(f"no namespaces ({err}): the kernel shares the network and sees the files")
        return False
    status.applied.append("no network: own network namespace without interfaces")
    status.applied.append("own PID, IPC and UTS namespaces")
    return True


def _isolate_files(policy: dict, cwd: str, home: str, status: _Status) -> None:
    """Hide the course, the work area and temp folders; rebuild the working directory and home."""
    uid, gid = policy.get("uid"), policy.get("gid")
    mpl = Path(policy["mpl_cache"]) if policy.get("mpl_cache") else None
    mpl_files = {p.name: p.read_bytes() for p in mpl.glob("fontlist-*.json")} if mpl and mpl.is_dir() else {}
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    expose = [(p, os.open(p, os.O_PATH)) for p in policy["expose"] if os.path.exists(p)]
    keep = [(p, os.open(p, os.O_PATH)) for p in policy["keep"]]
    keras = policy.get("keras_datasets")
    keras_fd = os.open(keras, os.O_PATH) if keras and os.path.isdir(keras) else None
    data = _open_tree(cwd)
    covered = _hide(policy["hide"], policy["memory_mb"])
    for path, fd in expose:  # the Python installation, where a hidden folder holds it
        if any(path.startswith(c + os.sep) for c in covered):
            _bind(fd, path, readonly=True)
            _hide([h for h in policy["hide"] if h.startswith(path + os.sep)], policy["memory_mb"])
    for path, fd in keep:
        _bind(fd, path, readonly=False)
    os.makedirs(cwd, exist_ok=True)
    for name, fd in data:
        _bind(fd, os.path.join(cwd, name), readonly=True)
    os.makedirs(f"{home}/.config/matplotlib", exist_ok=True)
    for name, content in mpl_files.items():
        Path(home, ".config", "matplotlib", name).write_bytes(content)
    if uid is not None:
        for dirpath, _, files in os.walk(home):
            os.chown(dirpath, uid, gid)
            for f in files:
                os.chown(os.path.join(dirpath, f), uid, gid)
        os.chown(cwd, uid, gid)
    os.chmod(cwd, 0o700)
    if keras_fd is not None:
        _bind(keras_fd, f"{home}/.keras/datasets", readonly=True)
    status.applied.append("hidden behind empty tmpfs: " + ", ".join(sorted(covered)))
    status.applied.append("fresh working directory with the lab's data files read-only, no notebook")


def _run_kernel(policy: dict, argv: list[str], cwd: str, env: dict[str, str], namespaces: bool) -> int:
    """Fork the PID namespace's init (mounts /proc, reaps), which forks the kernel; wait for it."""

    def exit_code(status: int) -> int:
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)

    pid = os.fork()
    if pid == 0:
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if namespaces:
                mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV, "hidepid=2")
        except OSError as err:
            os.write(2, f"course.sandbox: /proc: {err}\n".encode())
            os._exit(STARTUP_FAILED)
        kid = os.fork()
        if kid == 0:
            _become_kernel(policy, argv, cwd, env)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        while True:  # reap everything; leave with the kernel's status
            try:
                done, status = os.wait()
            except ChildProcessError:
                os._exit(0)
            if done == kid:
                os._exit(exit_code(status))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the interrupt is for the kernel
        signal.signal(sig, signal.SIG_IGN)
    return exit_code(os.waitpid(pid, 0)[1])


def launch(policy_file: str, argv: list[str]) -> int:
    """The kernelspec's command: isolate, then run ``argv`` (the kernel). Returns its exit code."""
    policy = json.loads(Path(policy_file).read_text())
    status = _Status(os.open(policy["status"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                     missing=list(policy.get("notes", [])))
    cwd = os.getcwd()
    _join_cgroups(policy, status)
    namespaces = _enter_namespaces(status)
    home = SANDBOX_HOME if namespaces else policy["home"]
    if namespaces:
        try:
            _isolate_files(policy, cwd, home, status)
        except OSError as err:  # namespaces but no hiding: unexpected, so refuse rather than run exposed
            status.missing.append(f"could not hide the course files ({err}): kernel not started")
            status.write(f"exit {STARTUP_FAILED}")
            return STARTUP_FAILED
    else:
        os.makedirs(home, mode=0o700, exist_ok=True)
    uid, gid = policy.get("uid"), policy.get("gid")
    if os.geteuid() == 0 and uid is not None:
        if "-f" in argv:  # the connection file: the kernel must read its key
            os.chown(argv[argv.index("-f") + 1], uid, gid)
        status.applied.append(f"runs as unprivileged user {policy['user']} (uid {uid}), no new privileges")
    elif os.geteuid() == 0:
        status.missing.append("kernel runs as root: no sandbox user")
    status.applied.append(f"no core dumps; files up to {policy['file_size_mb']} MB")
    status.write()
    code = _run_kernel(policy, argv, cwd, _kernel_env(policy, home), namespaces)
    status.write(_exit_text(code))
    return code


# --------------------------------------------------------------------------- probe


def probe() -> dict[str, str]:
    """What this machine allows, checked by trying it in a throw-away child process."""
    found = {"user": "root" if os.geteuid() == 0 else f"uid {os.geteuid()} (not root)"}
    script = (
        "import os, socket, sys; from course import sandbox as s\n"
        "root = os.geteuid() == 0\n"
        "s.unshare(s.CLONE_NEWNET | s.CLONE_NEWNS | (0 if root else s.CLONE_NEWUSER))\n"
        "try:\n socket.create_connection(('127.0.0.1', 9), timeout=1); print('loopback open')\n"
        "except OSError as e: print('network:', e.strerror)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    found["namespaces"] = (proc.stdout.strip() or proc.stderr.strip().splitlines()[-1]
                           if proc.stdout.strip() or proc.stderr.strip() else "unknown")
    groups = CGroups.create(f"course-grade-probe-{os.getpid()}", 64, 64)
    found["cgroups"] = (f"{groups.version}: " + ", ".join(sorted(groups.dirs))) if groups.dirs \
        else "none (" + "; ".join(groups.notes) + ")"
    groups.kill_and_remove()
    found["sandbox user"] = ("can create" if os.geteuid() == 0 and shutil.which("useradd")
                             else "not available: the kernel keeps the instructor's uid")
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--" not in args or args.index("--") != 1:
        print("usage: python -m course.sandbox POLICY.json -- KERNEL ARGV...", file=sys.stderr)
        return 2
    return launch(args[0], args[2:])


if __name__ == "__main__":
    raise SystemExit(main())
