"""A warm start for graded kernels: one process per worker slot that has already imported
TensorFlow, Keras, IPython and the course, and forks a fresh kernel for each student.

Start-up was most of a lab's grading time (a new kernel, then TensorFlow and Keras imported
by the lab's first cell: about 10 s of 16 on 2 cores). The zygote pays it once per slot.
It runs in a bubblewrap sandbox like a kernel's (the slot's user, no network, a view of the
system, Python and the slot's folder), never runs student code, and is not dumpable, so
its children cannot trace it or read its memory. Each kernel it forks is a process nobody
used before; before any student code runs, the kernel gets namespaces of its own (user,
mount, network, IPC, UTS) with a fresh ``/tmp`` and ``/dev/shm``, a private working folder
(a tmpfs, counted in its memory), the slot's control folder covered, no capabilities and
no way to gain any; the grader puts it into the job's cgroups before it starts. Shared with
the students graded before it on the same slot, one at a time: the zygote's PID namespace
(their processes are all killed first) and the zygote's memory as it was after the imports.

Run inside bubblewrap as ``python -I zygote.py CONTROL_DIR`` (standard library here; the
imports are the warm-up). Protocol, one connection per kernel, one JSON object per line:
the grader sends the job; the zygote answers ``{"pid": N}``; the grader puts N into the
job's cgroups and sends ``{"go": true}``; the zygote answers ``{"exit": code}`` when the
kernel ends. If the connection closes first, the zygote kills the kernel.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import sys

NEWUSER, NEWNS, NEWIPC, NEWNET, NEWUTS, NEWPID = (
    0x10000000,
    0x00020000,
    0x08000000,
    0x40000000,
    0x04000000,
    0x20000000,
)
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 4096, 8192, 16384, 1 << 18, 2, 4
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NAME, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 15, 24, 38
WARM = [
    "numpy",
    "tensorflow",
    "keras",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib_inline.backend_inline",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "IPython",
    "sklearn.datasets",
    "course",
    "course.checks",
    "course.checks.requests",
    "course.data",
    "course.plots",
    "course.models",
    "course.runtime",
]

_libc = ctypes.CDLL(None, use_errno=True)


def _sys(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _name(name: str) -> None:
    """What ``ps`` and ``top`` call this process (a fork keeps the zygote's command line)."""
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def _enc(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(_enc(source), _enc(target), _enc(fstype), ctypes.c_ulong(flags), _enc(data))
    _sys(result, f"mount {target}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def mounts_below(folder: str) -> list[str]:
    """The outermost mount points inside ``folder`` (a nested one comes along with MS_REC)."""
    with open("/proc/self/mountinfo") as f:  # field 5 is the mount point, octal-escaped
        points = {line.split()[4].encode().decode("unicode_escape") for line in f}
    inside = sorted(p for p in points if p.startswith(folder.rstrip("/") + "/"))
    return [p for p in inside if not any(p.startswith(q + "/") for q in inside if q != p)]


def fresh_tmp(size_mb: int) -> None:
    """An empty ``/tmp`` of this kernel's own that keeps what the view binds below ``/tmp``.

    A checkout, its venv or a work area may live under ``/tmp``; a plain tmpfs over ``/tmp``
    would hide them. The new tmpfs is made aside (in this kernel's own ``/dev/shm``), those
    mounts are bound into it as they are (read-only stays read-only), and it is moved over
    ``/tmp``.
    """
    staging = "/dev/shm/.tmp"
    os.mkdir(staging, 0o700)
    _mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode=0755")
    for point in mounts_below("/tmp"):
        target = staging + point[len("/tmp") :]
        if os.path.isdir(point):
            os.makedirs(target, 0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            open(target, "x").close()
        _mount(point, target, None, MS_BIND | MS_REC)
    _mount(staging, "/tmp", None, MS_MOVE)
    os.rmdir(staging)


def isolate(job: dict, control_dir: str) -> None:
    """In the forked kernel, before any student code: namespaces of its own and its folders."""
    uid, gid = os.getuid(), os.getgid()
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the zygote is not; its own /proc files need it to be
    _sys(_libc.unshare(NEWUSER | NEWNS | NEWIPC | NEWNET | NEWUTS | NEWPID), "unshare")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # nobody traces the kernel or its parent, nor reads their memory
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=0755")
    fresh_tmp(job["tmp_mb"])
    _mount("tmpfs", control_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    kernel = job["kernel_dir"]
    _mount("tmpfs", kernel, "tmpfs", MS_NOSUID | MS_NODEV, f"size={job['work_mb']}m,mode=0700")
    answers = os.path.join(kernel, ".answers")
    os.mkdir(answers)
    _mount(job["answers_dir"], answers, None, MS_BIND | MS_REC)
    for name in sorted(os.listdir(job["data_dir"])):
        source = os.path.join(job["data_dir"], name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(kernel, name))
        elif os.path.isfile(source):
            shutil.copy2(source, os.path.join(kernel, name))


def drop_capabilities() -> None:
    """No capability left, none to gain (the user namespace gave this process all of its own)."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    _sys(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()), "capset")
    _sys(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def become_kernel(job: dict, control_dir: str, go: int) -> None:
    """The forked child: wait for the grader's go, isolate, then fork the kernel as the first
    process of a PID namespace of its own (it cannot see the zygote or signal it); wait for it
    and leave with its exit code (never returns)."""
    code = 1
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        if os.read(go, 1) != b"g":  # the grader put us into the job's cgroups first
            os._exit(1)
        os.close(go)
        isolate(job, control_dir)
        kernel = os.fork()
        if kernel:
            _name("ipykernel-init")
            drop_capabilities()
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _, status = os.waitpid(kernel, 0)
            os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _name("ipykernel")
        drop_capabilities()  # (no /proc of its own: bwrap's /proc cannot be remounted in here)
        os.setsid()
        size = job["file_size_mb"] * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.umask(0o077)
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(job["env"])
        os.chdir(job["kernel_dir"])
        sys.path[0:0] = [""]
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(["-f", job["connection_file"]])
        if "matplotlib.pyplot" in sys.modules:  # imported before the shell existed: show figures inline now
            app.shell.enable_matplotlib("inline")
        app.start()
        code = 0
    except BaseException as err:  # noqa: BLE001 - report, then leave: never a half-isolated kernel
        try:
            os.write(2, f"course_grading.sandbox.zygote: cannot start the kernel: {err}\n".encode())
        except OSError:
            pass
    os._exit(code)


def _warm_up() -> list[str]:
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    loaded = []
    for name in WARM:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception:  # noqa: BLE001 - a module the course does not have here: not warmed
            pass
    gc.collect()
    gc.freeze()  # the imports' objects: no kernel's collector scans them, so their pages stay shared
    return loaded


def serve(control_dir: str) -> None:
    """Listen on ``CONTROL_DIR/zygote.sock``; fork a kernel per connection (see the module doc)."""
    _name("course-zygote")
    loaded = _warm_up()
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = os.path.join(control_dir, "zygote.sock")
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(8)
    with open(os.path.join(control_dir, "ready"), "w") as f:
        json.dump({"pid": os.getpid(), "warm": loaded}, f)
    kids: dict[int, socket.socket] = {}  # kernel pid -> its grader's connection
    pending: dict[socket.socket, tuple[int, int]] = {}  # connection -> (kernel pid, go pipe)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listen")
    selector.register(wake_r, selectors.EVENT_READ, "child")

    def close(conn: socket.socket) -> None:
        pid, go = pending.pop(conn, (0, -1))
        if go >= 0:
            os.close(go)
        if kids.get(pid) is conn:
            del kids[pid]
        try:
            selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    while True:
        for key, _ in selector.select():
            if key.data == "listen":
                conn, _ = listener.accept()
                selector.register(conn, selectors.EVENT_READ, "conn")
                pending[conn] = (0, -1)
            elif key.data == "child":
                os.read(wake_r, 4096)
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    conn = kids.pop(pid, None)
                    if conn is not None:
                        code = (
                            os.waitstatus_to_exitcode(status)
                            if os.WIFEXITED(status)
                            else 128 + os.WTERMSIG(status)
                        )
                        try:
                            conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
                        except OSError:
                            pass
                        close(conn)
            elif key.fileobj in pending:
                conn = key.fileobj
                try:
                    data = conn.recv(1 << 20)
                    message = json.loads(data.decode().splitlines()[0]) if data else None
                except (OSError, ValueError, IndexError):
                    data, message = b"", None
                pid, go = pending[conn]
                if message is None:  # the grader is gone (or spoke nonsense): so is its kernel
                    if pid:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    close(conn)
                elif "job" in message and not pid:
                    go_r, go_w = os.pipe()
                    pid = os.fork()
                    if pid == 0:
                        os.close(go_w)
                        listener.close()
                        become_kernel(message["job"], control_dir, go_r)
                    os.close(go_r)
                    kids[pid] = conn
                    pending[conn] = (pid, go_w)
                    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                elif message.get("go") and go >= 0:
                    os.write(go, b"g")
                    os.close(go)
                    pending[conn] = (pid, -1)


if __name__ == "__main__":
    serve(sys.argv[1])
