"""The kernelspec's command when a warm zygote serves the slot (standard library only).

nbgrader starts ``python -I zygote_client.py POLICY.json -- CONNECTION_FILE``. This process
stands for the kernel towards nbgrader: it asks the slot's zygote (:mod:`.zygote`) to fork
a kernel for the job, puts that kernel into the job's cgroups, lets it start, and ends with
the kernel's exit code. It dies with nbgrader's process; when it dies, for any reason, its
connection closes and the zygote kills the kernel.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

STARTUP_FAILED = 121
ZYGOTE_LOST = 122  # the zygote ended while its kernel ran: the grader's trouble, not the student's


def _exit_text(code: int) -> str | None:
    if code == 0:
        return None
    if code > 128 and code - 128 < signal.NSIG:
        return f"signal {signal.Signals(code - 128).name}"
    return f"exit {code}"


def _lines(conn: socket.socket):
    buffer = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield json.loads(line)


def host_pid(conn: socket.socket, pid_there: int) -> int:
    """The kernel's pid on this side: the zygote's child whose pid in the zygote's namespace is
    ``pid_there`` (the zygote found by the credentials of the connection)."""
    import struct

    zygote = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    for task in Path(f"/proc/{zygote}/task").iterdir():
        for child in (task / "children").read_text().split():
            status = Path(f"/proc/{child}/status").read_text()
            nspid = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
            if nspid and int(nspid[-1]) == pid_there:
                return int(child)
    raise OSError(f"the zygote's child {pid_there} is not there")


def main(argv: list[str]) -> int:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: nbgrader gone, so are we
    policy = json.loads(Path(argv[0]).read_text())
    connection_file = argv[2]
    status = Path(policy["status"])
    applied = list(policy["zygote_applied"])
    missing = list(policy.get("notes", []))

    def write(exit_text: str | None) -> None:
        status.write_text(json.dumps({"applied": applied, "missing": missing, "exit": exit_text}, indent=1))

    if policy.get("uid") is not None:
        os.chown(connection_file, policy["uid"], policy["gid"])
    staging = Path(policy["data_staging"])
    staging.mkdir(exist_ok=True)
    for item in sorted(Path.cwd().iterdir()):  # the lab's data files nbgrader put beside the notebook
        if item.suffix != ".ipynb" and not item.name.startswith(".") and not item.is_symlink():
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, staging / item.name)
    job = {
        "kernel_dir": policy["kernel_dir"],
        "answers_dir": policy["answers_disk"],
        "data_dir": str(staging),
        "connection_file": connection_file,
        "env": policy["env"],
        "log": policy["kernel_log"],
        "tmp_mb": policy["tmp_mb"],
        "work_mb": policy["work_mb"],
        "file_size_mb": policy["file_size_mb"],
    }
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(policy["zygote_socket"])
        conn.sendall(json.dumps({"job": job}).encode() + b"\n")
        replies = _lines(conn)
        pid = host_pid(conn, next(replies)["pid"])
        for group in policy["cgroups"]:
            Path(group, "cgroup.procs").write_text(str(pid))
        conn.sendall(json.dumps({"go": True}).encode() + b"\n")
        write(None)
        code = next(replies, {"exit": ZYGOTE_LOST})["exit"]
        if code == ZYGOTE_LOST:
            missing.append("the slot's zygote stopped while the kernel ran")
    except (OSError, StopIteration, ValueError, KeyError) as err:
        missing.append(f"the warm kernel could not start: {err}")
        code = STARTUP_FAILED
    write(_exit_text(code))
    return code


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) != 3 or args[1] != "--":
        print("usage: python zygote_client.py POLICY.json -- CONNECTION_FILE", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(args))
