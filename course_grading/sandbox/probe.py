"""``course-grade sandbox-check``: what isolation this machine gives a graded kernel, tried for real.

It starts the launcher exactly as a grading job does (cgroups, user, bubblewrap view), but
with a short probe instead of the kernel, and reports what the probe could see and do.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .cgroups import CGroups
from .job import LAUNCHER, Limits, Sandbox
from .view import bwrap_path

PROBE = r"""
import json, os, socket, sys
paths, allowed, port = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
seen = {"uid": os.getuid(), "root": sorted(os.listdir("/")), "readable": [], "network": ""}
def shown(path):
    return any(path == a or path.startswith(a + os.sep) for a in allowed)
for top in paths:
    for dirpath, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not shown(os.path.join(dirpath, d))]
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                open(path, "rb").close()
                seen["readable"].append(path)
            except OSError:
                pass
    if os.path.isfile(top):
        try:
            open(top, "rb").close()
            seen["readable"].append(top)
        except OSError:
            pass
try:
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    seen["network"] = "reached the host's loopback"
except OSError as err:
    seen["network"] = f"no route to the host ({err.strerror})"
seen["processes"] = len([p for p in os.listdir("/proc") if p.isdigit()])
print("PROBE" + json.dumps(seen))
"""


def _secrets(extra: list[Path]) -> list[str]:
    """Paths a kernel must not read: the course root and other places checkouts live."""
    candidates = [
        Path.home(),
        Path("/home"),
        Path("/srv"),
        Path("/opt"),
        Path("/work"),
        Path("/var/tmp"),
        Path("/etc/shadow"),
        Path("/root"),
        *extra,
    ]
    return [str(p) for p in candidates if p.exists()]


def probe(course_root: Path | None = None) -> dict[str, str]:
    """What this machine allows, checked by starting a sandboxed probe the way a kernel starts."""
    found = {
        "user": "root" if os.geteuid() == 0 else f"uid {os.geteuid()} (not root)",
        "bubblewrap": bwrap_path() or "missing (apt-get install bubblewrap): files hidden by a list only",
    }
    groups = CGroups.create(f"course-grade-probe-{os.getpid()}", 64, 64)
    found["cgroups"] = (
        (f"{groups.version}: " + ", ".join(sorted(groups.dirs)))
        if groups.dirs
        else "none (" + "; ".join(groups.notes) + ")"
    )
    groups.kill_and_remove()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    threading.Thread(target=lambda: listener.accept(), daemon=True).start()
    work = Path(tempfile.mkdtemp(prefix="cg-probe-"))
    try:
        root = work / "job"
        sandbox = Sandbox(root, 0, Limits(memory_mb=512), [Path(tempfile.gettempdir()), Path.home()], "probe")
        sandbox.prepare()
        secrets = _secrets([course_root] if course_root else [])
        allowed = [*sandbox.view().read_only, *sandbox.view().writable]
        argv = [
            sys.executable,
            "-c",
            PROBE,
            json.dumps(secrets),
            json.dumps(allowed),
            str(listener.getsockname()[1]),
        ]
        proc = subprocess.run(
            [sys.executable, "-I", str(LAUNCHER), str(root / "status" / "policy.json"), "--", *argv],
            cwd=root,  # the caller's working folder stays as it was
            capture_output=True,
            text=True,
            timeout=120,
        )
        report = sandbox.finish()
        log = (root / "rt" / "kernel.log").read_text() if (root / "rt" / "kernel.log").exists() else ""
        line = next((x for x in (log + proc.stdout).splitlines() if x.startswith("PROBE")), None)
        if line is None:
            found["probe"] = f"did not run (exit {proc.returncode}): {(log + proc.stderr).strip()[-300:]}"
            return found
        seen = json.loads(line[5:])
        found["kernel uid"] = str(seen["uid"])
        found["kernel sees /"] = ", ".join(seen["root"])
        found["readable files"] = (
            ", ".join(seen["readable"][:20]) or f"none outside the view (looked in {', '.join(secrets)})"
        )
        found["network"] = seen["network"]
        found["processes seen"] = str(seen["processes"])
        found["applied"] = "; ".join(report.applied)
        if report.missing:
            found["NOT applied"] = "; ".join(report.missing)
    finally:
        listener.close()
        shutil.rmtree(work, ignore_errors=True)
    return found
