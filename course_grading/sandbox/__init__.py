"""Isolation of a student's kernel while it is graded (Linux).

* :mod:`.view` what the kernel sees: an allowlist of folders, built by Debian's bubblewrap;
* :mod:`.launcher` the kernelspec's command: cgroups, limits, the view, the unprivileged user;
* :mod:`.cgroups` memory and process limits; :mod:`.users` the sandbox users;
* :mod:`.job` one grading job's folders, policy and report; :mod:`.probe` ``sandbox-check``.

None of this decides a grade: the verdicts are computed outside the kernel
(:mod:`course_grading.autograde.trusted`). Isolation keeps the kernel from the course's files, the network,
other students and the grading machine.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .cgroups import CGroups
from .job import (
    KERNEL_NAME,
    STARTUP_FAILED,
    ZYGOTE_LOST,
    KernelReport,
    Limits,
    RssWatchdog,
    Sandbox,
    private_work_folder,
)
from .probe import probe
from .users import USER_PREFIX, sandbox_user


def default_hide(*extra: Path) -> list[Path]:
    """Without bubblewrap, the folders the kernel must not see: temp dirs, home, and ``extra``."""
    home = Path(os.path.expanduser("~"))
    hide = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), *extra]
    if home != Path("/"):
        hide.append(home)
    return hide


__all__ = [
    "KERNEL_NAME",
    "STARTUP_FAILED",
    "USER_PREFIX",
    "ZYGOTE_LOST",
    "CGroups",
    "KernelReport",
    "Limits",
    "RssWatchdog",
    "Sandbox",
    "default_hide",
    "private_work_folder",
    "probe",
    "sandbox_user",
]
