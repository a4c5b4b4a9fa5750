"""Memory, process and CPU limits for one grading job: a cgroup (v2, or v1's memory, pids, cpu).

The launcher puts the kernel into the job's cgroups before it starts, so everything the
kernel starts is counted and limited too; :meth:`CGroups.kill_and_remove` ends whatever is
left when the job is over (or was killed).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path


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
    """The cgroups of one grading job, where allowed: a memory limit, a process limit, and a
    CPU group, so that however many processes a job runs, together they weigh as one job
    against the others on the machine."""

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
                if (path / "cpu.weight").exists():
                    groups.dirs["cpu"] = path
                else:
                    groups.notes.append("cgroup v2: no cpu controller for the job, so no equal CPU share")
                groups.version = "v2"
                return groups
            except OSError as err:
                groups.notes.append(f"cgroup v2: {err}")
                shutil.rmtree(v2 / name, ignore_errors=True) if (v2 / name).exists() else None
        for controller, limits in (
            ("memory", {"memory.limit_in_bytes": memory_mb * 2**20}),
            ("pids", {"pids.max": pids_max}),
            ("cpu", {}),  # a group of its own: its processes share one job's part of the CPU
        ):
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

    @classmethod
    def remove_abandoned(cls, prefix: str = "course-grade-") -> list[str]:
        """Kill and delete the job cgroups of graders that were killed (SIGKILL leaves no time to
        clean up): those whose creator, the number after ``prefix``, no longer runs. Returns
        their names."""
        found: dict[str, dict[str, Path]] = {}
        for controller, kinds in (
            ("", ("memory", "pids", "cpu")),
            ("memory", ("memory",)),
            ("pids", ("pids",)),
            ("cpu", ("cpu",)),
        ):
            base = _cgroup_dir(controller)
            for path in base.glob(f"{prefix}*") if base else []:
                found.setdefault(path.name, {}).update(dict.fromkeys(kinds, path))
        gone = []
        for name, dirs in sorted(found.items()):
            creator = next((part for part in name[len(prefix):].split("-") if part.isdigit()), None)
            if creator is None or Path(f"/proc/{creator}").exists():
                continue  # not ours, or its grader still runs (or its number was reused: left alone)
            cls(dirs=dirs).kill_and_remove()
            gone.append(name)
        return gone

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

    @property
    def pids(self) -> Path | None:
        return self.dirs.get("pids")

    def process_limit_hits(self) -> int:
        """How many times a fork or a new thread failed because the process limit was reached."""
        if self.pids is None:
            return 0
        try:
            for line in (self.pids / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self) -> None:
        """Kill every process in the cgroups, forking ones too: new processes are refused first."""
        if self.pids is not None:
            try:
                (self.pids / "pids.max").write_text("0")
            except OSError:
                pass
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
        self.kill_all()
        for path in set(self.dirs.values()):
            for _ in range(20):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
