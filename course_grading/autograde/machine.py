"""What a grading machine prepares once, for all the jobs it runs.

* a private work area with a short path (ZMQ ipc socket paths must stay under 107 bytes);
* matplotlib's font cache, so no kernel rebuilds it;
* the graded kernels' copy of the data: the grading budget's Fashion-MNIST images without
  the held-out test images (:func:`course.data.write_grading_copy`), and its checksum, so a
  job made on another machine can tell it gets the same data;
* the sandbox users, one per slot (root only);
* Keras imported before the workers fork (the trusted checks load students' models).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..sandbox import sandbox_user


@dataclass
class Machine:
    work: Path
    mpl_cache: Path | None
    data_file: Path | None
    data_sha256: str | None
    notes: list[str]
    hide: list[Path] = field(default_factory=list)  # for the fallback without bubblewrap: what else to hide


def _work_area() -> Path:
    base = tempfile.gettempdir()
    work = Path(tempfile.mkdtemp(prefix="cg-", dir=base if len(base) < 40 else "/tmp"))
    work.chmod(0o700)
    return work


def _mpl_cache(work: Path) -> Path | None:
    cache = work / "mpl"
    cache.mkdir()
    env = {**os.environ, "MPLCONFIGDIR": str(cache)}
    try:
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                       capture_output=True, timeout=120, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    return cache


def _grading_data(work: Path) -> tuple[Path | None, str | None]:
    from course import data, runtime

    folder = work / "data"
    folder.mkdir(mode=0o755)
    try:
        path = data.write_grading_copy(folder / "fashion-mnist-grading.npz", runtime.budget("ci"))
    except data.DatasetUnavailable:
        return None, None
    path.chmod(0o644)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def preload_keras() -> None:
    """Import Keras (and TensorFlow) once, before the workers fork. Nothing runs on TensorFlow
    here before the fork (its thread pools start at the first op)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras  # noqa: F401
    except ImportError:  # grading without Keras: only labs without models can be graded
        pass


def prepare(slots: int, hide: list[Path] | None = None) -> Machine:
    """Prepare this machine for ``slots`` jobs at once (see the module doc); ``hide``: folders a
    kernel must not see that only this machine knows of (used only without bubblewrap)."""
    import nbgrader.apps.api  # noqa: F401 - imported once here, shared by every forked worker

    preload_keras()
    work = _work_area()
    notes = []
    if os.geteuid() == 0:
        for slot in range(slots):
            try:
                sandbox_user(slot)
            except (OSError, subprocess.CalledProcessError) as err:
                notes.append(f"no sandbox user for slot {slot}: {err}")
    data_file, sha = _grading_data(work)
    return Machine(work, _mpl_cache(work), data_file, sha, notes, list(hide or []))
