"""Start and stop one warm zygote (:mod:`.zygote`) per worker slot, for a grading run.

Each zygote runs through the same launcher as a cold kernel (its own cgroup, the slot's
user, bubblewrap with a view of the system, Python, the data and the slot's folder). Jobs
of slot N are then laid out inside ``<work>/slotN/`` so that the zygote sees them. Warm
zygotes need root (for the slot users and for bubblewrap to leave user namespaces to the
kernels); elsewhere every kernel starts cold, as before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .cgroups import CGroups
from .job import LAUNCHER, USER_PREFIX, sandbox_user
from .view import View, bwrap_args, bwrap_path, python_paths

ZYGOTE = Path(__file__).resolve().parent / "zygote.py"
READY_TIMEOUT = 180  # seconds for the imports on a cold, loaded machine


@dataclass
class Zygote:
    slot: int
    folder: Path  # <work>/slotN: the zygote's control folder and the slot's jobs
    process: subprocess.Popen
    cgroups: CGroups

    @property
    def socket(self) -> str:
        return str(self.folder / "control" / "zygote.sock")

    def alive(self) -> bool:
        return self.process.poll() is None and Path(self.socket).exists()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        self.cgroups.kill_and_remove()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> Zygote:
        """Wait until the zygote has imported everything and listens; stop it and raise if it ends
        or takes longer than ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.folder / "control" / "ready").exists() and Path(self.socket).exists():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        log = self.folder / "state" / "zygote.log"
        self.stop()
        raise RuntimeError(
            f"the warm zygote of slot {self.slot} did not start: "
            + (log.read_text()[-500:] if log.exists() else "no log")
        )


def can_warm() -> str | None:
    """Why zygotes cannot be used here (None if they can)."""
    if os.environ.get("COURSE_GRADE_COLD"):
        return "cold start asked for (COURSE_GRADE_COLD)"
    if os.geteuid() != 0:
        return "warm kernels need root (kernels start cold)"
    if not bwrap_path():
        return "warm kernels need bubblewrap (kernels start cold)"
    return None


def start(slot: int, work: Path, data_dir: Path | None, memory_mb: int) -> Zygote:
    """Start the zygote of ``slot`` under ``work`` and wait until it has imported everything."""
    return launch(slot, work, data_dir, memory_mb).wait_ready()


def launch(slot: int, work: Path, data_dir: Path | None, memory_mb: int) -> Zygote:
    """Start the zygote of ``slot`` under ``work``; :meth:`Zygote.wait_ready` waits for its imports
    (several zygotes launched first import side by side)."""
    uid, gid = sandbox_user(slot)
    folder = work / f"slot{slot}"
    for sub in (folder, folder / "control", folder / "state", folder / "state" / "empty"):
        sub.mkdir(mode=0o711, parents=True, exist_ok=True)
    os.chown(folder / "control", uid, gid)  # the rest stays root's: a kernel may not rename its job's folder
    home = folder / "control"
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": str(home / "mpl"),
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "KERAS_HOME": str(home / "keras"),
    }
    env.update(
        {k: v for k, v in os.environ.items() if k in {"CI", "LANG"} or k.startswith(("NBGRADER_", "COURSE_"))}
    )
    read_only = [*python_paths(), str(ZYGOTE)] + ([str(data_dir)] if data_dir else [])
    view = View(read_only, [str(folder)], str(folder / "control"), tmp_mb=64)
    groups = CGroups.create(f"course-grade-zygote-{os.getpid()}-{slot}", max(memory_mb, 1024), 4096)
    policy = {
        "uid": uid,
        "gid": gid,
        "user": f"{USER_PREFIX}{slot}",
        "python": sys.executable,
        "cgroups": [str(p) for p in set(groups.dirs.values())],
        "cgroup_version": groups.version,
        "memory_mb": max(memory_mb, 1024),
        "file_size_mb": 1024,  # the most a kernel forked from it may be given
        "env": env,
        "kernel_dir": str(folder / "state" / "empty"),
        "bwrap": bwrap_path(),
        "bwrap_args": bwrap_args(view, env, privileged=True),
        "view_applied": [],
        "hide": [],
        "keep": [],
        "expose": [],
        "threads": 0,
        "home": str(home),
        "kernel_log": str(folder / "state" / "zygote.log"),
        "status": str(folder / "state" / "status.json"),
        "notes": [],
    }
    policy_file = folder / "state" / "policy.json"
    policy_file.write_text(json.dumps(policy))
    process = subprocess.Popen(
        [
            sys.executable,
            "-I",
            str(LAUNCHER),
            str(policy_file),
            "--",
            sys.executable,
            "-I",
            str(ZYGOTE),
            str(folder / "control"),
        ],
        cwd=folder / "control",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Zygote(slot, folder, process, groups)


def clear_slot(folder: Path) -> None:
    """Remove what the previous job of a slot left in its folder (not the zygote's control folder)."""
    for child in folder.iterdir():
        if child.name not in {"control", "state"}:
            shutil.rmtree(child, ignore_errors=True)
