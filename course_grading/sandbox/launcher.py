"""The kernelspec's command while grading: isolate, then run the kernel (standard library only).

nbgrader starts ``python course_grading/sandbox/launcher.py POLICY.json -- python -m ipykernel_launcher
-f CONN``.
Before the kernel runs a line, the launcher

1. dies with nbgrader's process (``PR_SET_PDEATHSIG``), so no kernel outlives its grader;
2. joins the job's cgroups (memory and process limits) and sets no core dumps and a file
   size limit;
3. starts the kernel in Debian's ``bubblewrap`` with the job's view
   (:mod:`course_grading.sandbox.view`): as root, ``bwrap`` builds the view and the kernel then drops
   to the job's unprivileged user; as another user, ``bwrap`` runs in a user namespace;
4. waits for the kernel and writes how it ended to the job's status file.

Without ``bwrap`` it falls back to namespaces of its own: new network, mount, IPC, UTS and
PID namespaces, with a list of folders (course root, temp folders, home) hidden behind
empty tmpfs mounts. That hides what is listed, not everything else: the record says so.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_FAILED = 121  # the launcher's exit code when it refuses or fails to start the kernel
SANDBOX_HOME = "/tmp/sandbox-home"
TEMP_DIRS = {"/tmp", "/var/tmp", "/dev/shm"}
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND = 1, 2, 4, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

# Run by the kernel's own Python inside bwrap (root only): become the job's user, for good.
DROP = (
    "import ctypes, os, sys\n"
    "u, g = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.setgroups([]); os.setresgid(g, g, g); os.setresuid(u, u, u)\n"
    "ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)\n"  # no new privileges
    "os.execv(sys.argv[4], sys.argv[4:])\n"
)

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
    _sys(
        _libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(value),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        ),
        "prctl",
    )


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


def _exit_text(code: int) -> str | None:
    if code == 0:
        return None
    if code > 128 and code - 128 < signal.NSIG:
        return f"signal {signal.Signals(code - 128).name}"
    return f"exit {code}"


def _join_cgroups(policy: dict, status: _Status) -> None:
    """Memory and process limits for the kernel and everything it starts."""
    for group in policy["cgroups"]:
        try:
            Path(group, "cgroup.procs").write_text(str(os.getpid()))
        except OSError as err:
            status.missing.append(f"cannot join cgroup {group}: {err}")
    if policy["cgroups"]:
        status.applied.append(
            f"memory limit {policy['memory_mb']} MB and process limit (cgroup {policy['cgroup_version']})"
        )
    else:
        status.missing.append("no cgroup: memory is watched by polling instead")


def _limits(policy: dict, status: _Status) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    size = policy["file_size_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    status.applied.append(f"no core dumps; files up to {policy['file_size_mb']} MB")


def _copy_data(cwd: str, target: str, uid, gid) -> None:
    """The lab's data files (nbgrader put them beside the notebook) into the kernel's folder."""
    for name in sorted(os.listdir(cwd)):
        source = os.path.join(cwd, name)
        if name.endswith(".ipynb") or name.startswith(".") or os.path.islink(source):
            continue
        dest = os.path.join(target, name)
        if os.path.isdir(source):
            shutil.copytree(source, dest, dirs_exist_ok=True)
        elif os.path.isfile(source):
            shutil.copy2(source, dest)
        if uid is not None:
            for dirpath, _, files in os.walk(dest) if os.path.isdir(dest) else [(target, [], [name])]:
                os.chown(dirpath, uid, gid) if dirpath != target else None
                for f in files:
                    os.chown(os.path.join(dirpath, f), uid, gid)


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _run_bwrap(policy: dict, argv: list[str], status: _Status) -> int:
    """Start the kernel in bwrap with the job's view; wait for it; return its exit code."""
    uid, gid = policy.get("uid"), policy.get("gid")
    root = os.geteuid() == 0
    _copy_data(os.getcwd(), policy["kernel_dir"], uid if root else None, gid)
    command = list(argv)
    if root and uid is not None:
        if "-f" in argv:  # the connection file: the kernel must read its key
            os.chown(argv[argv.index("-f") + 1], uid, gid)
        command = [policy["python"], "-I", "-c", DROP, str(uid), str(gid), "--", *argv]
        status.applied.append(
            f"runs as unprivileged user {policy['user']} (uid {uid}), no capabilities, no new privileges"
        )
    elif root:
        status.missing.append("kernel runs as root (no sandbox user), without capabilities")
    else:
        status.applied.append("user namespace: the kernel keeps the instructor's uid, without capabilities")
    status.applied += policy["view_applied"]
    status.write()
    pid = os.fork()
    if pid == 0:
        try:
            if policy.get("kernel_log"):  # TensorFlow's C++ chatter goes to the job's log
                log = os.open(policy["kernel_log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.dup2(log, 1)
                os.dup2(log, 2)
            os.execv(policy["bwrap"], [policy["bwrap"], *policy["bwrap_args"], "--", *command])
        except BaseException as err:  # noqa: BLE001 - never run the kernel unconfined
            os.write(2, f"course_grading.sandbox: cannot start bwrap: {err}\n".encode())
        os._exit(STARTUP_FAILED)
    return _wait(pid)


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
    """The job's environment for the kernel (nothing else of the grader's), with ``home``."""
    env = dict(policy["env"])
    env.update(
        {
            "HOME": home,
            "MPLCONFIGDIR": f"{home}/.config/matplotlib",
            "IPYTHONDIR": f"{home}/.ipython",
            "XDG_CACHE_HOME": f"{home}/.cache",
            "KERAS_HOME": f"{home}/.keras",
        }
    )
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
        os.write(2, f"course_grading.sandbox: cannot start the kernel: {err}\n".encode())
    os._exit(STARTUP_FAILED)


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
    data = [] if cwd in policy["keep"] else _open_tree(cwd)
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
    for name, content in mpl_files.items():  # the font cache, so matplotlib need not rebuild it
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
            os.write(2, f"course_grading.sandbox: /proc: {err}\n".encode())
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
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the kernel; SIGTERM ends us all
    return exit_code(os.waitpid(pid, 0)[1])


def _fallback(policy: dict, argv: list[str], status: _Status) -> int:
    """Without bwrap: the launcher's own namespaces and a list of hidden folders."""
    status.missing.append(
        "no bubblewrap (apt-get install bubblewrap): the kernel's files are hidden by a "
        "list (course root, temp folders, home), not limited to an allowlist"
    )
    cwd = policy["kernel_dir"]
    _copy_data(os.getcwd(), cwd, None, None)
    namespaces = _enter_namespaces(status)
    home = SANDBOX_HOME if namespaces else policy["home"]
    if namespaces:
        try:
            _isolate_files(policy, cwd, home, status)
        except OSError as err:  # namespaces but no hiding: refuse rather than run exposed
            status.missing.append(f"could not hide the course files ({err}): kernel not started")
            status.write(f"exit {STARTUP_FAILED}")
            return STARTUP_FAILED
    else:
        os.makedirs(home, mode=0o700, exist_ok=True)
    uid, gid = policy.get("uid"), policy.get("gid")
    if os.geteuid() == 0 and uid is not None:
        if "-f" in argv:
            os.chown(argv[argv.index("-f") + 1], uid, gid)
        status.applied.append(f"runs as unprivileged user {policy['user']} (uid {uid}), no new privileges")
    elif os.geteuid() == 0:
        status.missing.append("kernel runs as root: no sandbox user")
    status.write()
    return _run_kernel(policy, argv, cwd, _kernel_env(policy, home), namespaces)


def launch(policy_file: str, argv: list[str]) -> int:
    """The kernelspec's command: isolate, then run ``argv`` (the kernel). Returns its exit code."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # nbgrader's process gone: so is the kernel
    policy = json.loads(Path(policy_file).read_text())
    if os.getppid() == 1:
        return STARTUP_FAILED
    status = _Status(
        os.open(policy["status"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        missing=list(policy.get("notes", [])),
    )
    _join_cgroups(policy, status)
    _limits(policy, status)
    if policy.get("bwrap"):
        code = _run_bwrap(policy, argv, status)
    else:
        code = _fallback(policy, argv, status)
    status.write(_exit_text(code))
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--" not in args or args.index("--") != 1:
        print("usage: python -m course_grading.sandbox.launcher POLICY.json -- KERNEL ARGV...",
              file=sys.stderr)
        return 2
    return launch(args[0], args[2:])


if __name__ == "__main__":
    raise SystemExit(main())
