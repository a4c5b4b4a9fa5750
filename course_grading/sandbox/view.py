"""What a graded kernel sees of the machine: an allowlist, built by Debian's ``bubblewrap``.

The kernel's file system is an empty one with only these in it:

* the system's programs and libraries (``/usr`` and its ``/bin``, ``/lib`` links), read-only,
  with ``/usr/share/datasets`` emptied (Debian's full Fashion-MNIST: the held-out test images);
* the Python environment (the interpreter's prefix, the virtual environment, and the
  ``course`` package where it is installed in place), read-only;
* the job's own folders: the kernel's working directory (the lab's data files and the
  answers it writes), its home and its runtime folder (ZMQ sockets), writable;
* the lab's data, read-only; a fresh ``/proc``, a minimal ``/dev`` and an empty ``/tmp``.

Nothing else exists for it: not the course root, not other checkouts, not ``/home``,
``/srv``, ``/opt`` or ``/work``. It has no network (its own network namespace), its own
PID, IPC and UTS namespaces, and no capabilities.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/os-release",
)
HIDDEN_DATA = ("/usr/share/datasets",)  # holds every Fashion-MNIST test image


def bwrap_path() -> str | None:
    """Debian's ``bwrap``, if installed (``apt-get install bubblewrap``); ``COURSE_SANDBOX_BWRAP=0``
    makes the sandbox use its fallback instead (for testing it)."""
    if os.environ.get("COURSE_SANDBOX_BWRAP") == "0":
        return None
    return shutil.which("bwrap")


def python_paths() -> list[str]:
    """What the kernel's Python needs: its prefix, the virtual environment, the course package."""
    spec = importlib.util.find_spec("course")  # where it is, without importing it (and NumPy)
    if spec is None or not spec.origin:
        raise RuntimeError("the course package is not installed in this Python")
    paths = {
        sys.base_prefix,
        sys.prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        str(Path(spec.origin).resolve().parent),
    }
    real = sorted({os.path.realpath(p) for p in paths if os.path.exists(p)}, key=len)
    return [p for i, p in enumerate(real) if not any(p.startswith(q + os.sep) for q in real[:i])]


@dataclass
class View:
    """The folders of one job's kernel: read-only ones, writable ones, the working directory."""

    read_only: list[str]
    writable: list[str]
    cwd: str
    files: dict[str, str] = field(default_factory=dict)  # target -> source, read-only single files
    tmp_mb: int = 512

    def shown(self) -> list[str]:
        """Every path the kernel can see, for ``sandbox-check`` and the grading record."""
        system = [p for p in ("/usr", *SYSTEM_LINKS) if os.path.lexists(p)]
        return sorted(
            {
                *system,
                *self.read_only,
                *self.writable,
                *self.files,
                "/proc",
                "/dev",
                "/tmp",
                *(p for p in ETC_FILES if os.path.exists(p)),
                "/etc/passwd",
                "/etc/group",
            }
        )


def _dirs(path: str, made: set[str]) -> list[str]:
    """``--dir`` arguments (world-readable) for every parent of ``path`` not yet made."""
    args = []
    parts = Path(path).parts
    for i in range(2, len(parts)):
        parent = str(Path(*parts[:i]))
        if parent not in made and parent not in {"/usr"} and not parent.startswith("/usr/"):
            made.add(parent)
            args += ["--perms", "0755", "--dir", parent]
    return args


def bwrap_args(view: View, env: dict[str, str], privileged: bool) -> list[str]:
    """bwrap's arguments for ``view`` (the command goes after them, behind ``--``).

    ``privileged``: bwrap runs as root (no user namespace; the command must drop to the
    sandbox user itself); otherwise it runs as the caller, in a user namespace of its own.
    """
    args = [
        "--die-with-parent",
        "--new-session",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
    ]
    if privileged:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # for the drop, then gone
    else:
        args += ["--unshare-user", "--disable-userns"]
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(view.tmp_mb * 2**20),
        "--tmpfs",
        "/tmp",
        "--size",
        str(64 * 2**20),
        "--tmpfs",
        "/dev/shm",
    ]
    args += ["--ro-bind", "/usr", "/usr"]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for hidden in HIDDEN_DATA:
        if os.path.isdir(hidden):
            args += ["--tmpfs", hidden]
    args += ["--perms", "0755", "--dir", "/etc"]
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    made = {"/etc", "/tmp", "/dev", "/proc"}
    for path in view.read_only:
        args += _dirs(path, made) + ["--ro-bind", path, path]
        made.add(path)
    for path in view.writable:
        args += _dirs(path, made) + ["--bind", path, path]
        made.add(path)
    for target, source in view.files.items():
        args += _dirs(target, made) + ["--ro-bind", source, target]
    args += ["--chdir", view.cwd, "--clearenv"]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return args
