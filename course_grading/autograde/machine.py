"""What a grading machine prepares once, for all the jobs it runs.

* a private work area with a short path (ZMQ ipc socket paths must stay under 107 bytes);
* matplotlib's font cache, so no kernel rebuilds it;
* the graded kernels' copy of the data: the grading budget's Fashion-MNIST images without
  the held-out test images (:func:`course.data.write_grading_copy`), and its checksum, so a
  job made on another machine can tell it gets the same data;
* the sandbox users, one per slot (root only);
* Keras imported before the workers fork (the trusted checks load students' models);
* a warm zygote per slot (:mod:`..sandbox.warm`), all launched first (:func:`launch`, which
  ``course-grade autograde`` calls before it imports the rest of the grader) so that they
  import TensorFlow side by side while this process imports nbgrader and Keras.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..sandbox import CGroups, sandbox_user


@dataclass
class Machine:
    work: Path
    mpl_cache: Path | None
    data_file: Path | None
    data_sha256: str | None
    notes: list[str]
    hide: list[Path] = field(default_factory=list)  # for the fallback without bubblewrap: what else to hide
    zygotes: dict[int, str] = field(default_factory=dict)  # slot -> its warm zygote's socket
    zygote_processes: list = field(default_factory=list, repr=False)  # in the process that started them
    files_process: subprocess.Popen | None = field(default=None, repr=False)  # see _start_files
    why_cold: str | None = None  # between launch() and prepare(): why kernels will start cold

    def slot_folder(self, slot: int) -> Path:
        """Where slot ``slot``'s jobs are laid out (inside its zygote's view when it has one)."""
        return self.work / f"slot{slot}" if slot in self.zygotes else self.work


def _work_area(warm: bool) -> Path:
    """Short paths (ZMQ ipc); outside /tmp for warm kernels, which get a fresh /tmp of their own."""
    base = tempfile.gettempdir()
    base = (
        "/run"
        if warm and os.path.isdir("/run") and os.access("/run", os.W_OK)
        else base
        if len(base) < 40
        else "/tmp"
    )
    _remove_abandoned(Path(base))
    CGroups.remove_abandoned()
    work = Path(tempfile.mkdtemp(prefix="cg-", dir=base))
    work.chmod(0o711 if warm else 0o700)
    (work / OWNER).write_text(_process_id(os.getpid()))
    return work


OWNER = "owner"  # the grader that made a work area: "pid start-time"


def _process_id(pid: int) -> str:
    """``pid`` with its start time, so a reused pid is not taken for the grader that died."""
    try:
        start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "?"
    return f"{pid} {start}"


def _remove_abandoned(base: Path) -> None:
    """Delete the work areas of graders that were killed (SIGKILL leaves no time to clean up):
    those whose owner is no longer running. A live grader's area is never touched."""
    for work in base.glob("cg-*"):
        try:
            if work.stat().st_uid != os.geteuid():
                continue
            owner = (work / OWNER).read_text().strip()
            pid = int(owner.split()[0])
        except (OSError, ValueError, IndexError):
            continue  # not ours, or still being made
        if _process_id(pid) != owner:
            shutil.rmtree(work, ignore_errors=True)


def _mpl_cache(work: Path) -> Path | None:
    cache = work / "mpl"
    cache.mkdir(exist_ok=True)
    env = {**os.environ, "MPLCONFIGDIR": str(cache)}
    try:
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env,
            capture_output=True,
            timeout=120,
            check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return cache


DATA_NAME = "fashion-mnist-grading.npz"


def _write_data(work: Path) -> Path | None:
    from course import data, runtime

    folder = work / "data"
    folder.mkdir(mode=0o755, exist_ok=True)
    try:
        path = data.write_grading_copy(folder / DATA_NAME, runtime.budget("ci"))
    except data.DatasetUnavailable:
        return None
    path.chmod(0o644)
    return path


def _checksum(path: Path | None) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else None


def _grading_data(work: Path) -> tuple[Path | None, str | None]:
    path = _write_data(work)
    return path, _checksum(path)


def _start_files(work: Path) -> subprocess.Popen:
    """Write the font cache and the grading data in a process of their own (``python -m`` this
    module), beside the grader's imports: :func:`_files_written` collects them."""
    from ..batch import die_with_parent

    (work / "mpl").mkdir(exist_ok=True)
    parent = os.getpid()
    return subprocess.Popen(
        [sys.executable, "-m", __name__, str(work)],
        env={**os.environ, "MPLCONFIGDIR": str(work / "mpl")},
        preexec_fn=lambda: die_with_parent(parent),  # the grader killed (SIGKILL): so is this
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _files_written(machine: Machine) -> None:
    """Wait for :func:`_start_files`; do here what it could not."""
    process, machine.files_process = machine.files_process, None
    try:
        code = process.wait(timeout=300) if process else None
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = None
    if code in (0, FONTS_FAILED):
        data = machine.work / "data" / DATA_NAME
        machine.data_file = data if data.exists() else None
        machine.data_sha256 = _checksum(machine.data_file)
        machine.mpl_cache = machine.work / "mpl" if code == 0 else None
    else:
        machine.data_file, machine.data_sha256 = _grading_data(machine.work)
        machine.mpl_cache = _mpl_cache(machine.work)


FONTS_FAILED = 3  # the exit status of _start_files' process when it wrote the data but no font cache


def preload_keras() -> None:
    """Import Keras (and TensorFlow) once, before the workers fork. Nothing runs on TensorFlow
    here before the fork (its thread pools start at the first op)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras  # noqa: F401
    except ImportError:  # grading without Keras: only labs without models can be graded
        pass


def launch(slots: int, warm: bool = True, memory_mb: int = 4096) -> Machine:
    """The first half of :func:`prepare`, which costs its caller little: the work area, the sandbox
    users and a warm zygote per slot, launched so that they import TensorFlow in the background
    while the caller goes on (the grader's own imports, its gradebook). Pass the result to
    :func:`prepare`; :func:`release` it if it is not used."""
    from ..sandbox import warm as warming

    why_cold = warming.can_warm() if warm else "cold start asked for"
    work = _work_area(why_cold is None)
    machine = Machine(work, None, None, None, [])
    if os.geteuid() == 0:
        for slot in range(slots):
            try:
                sandbox_user(slot)
            except (OSError, subprocess.CalledProcessError) as err:
                machine.notes.append(f"no sandbox user for slot {slot}: {err}")
    data_dir = work / "data"  # the zygotes see this folder; the data is written into it after they start
    data_dir.mkdir(mode=0o755)
    try:
        machine.files_process = _start_files(work)
        if why_cold is None:
            try:
                for slot in range(slots):
                    machine.zygote_processes.append(warming.launch(slot, work, data_dir, memory_mb))
            except (RuntimeError, OSError) as err:
                why_cold = f"kernels start cold: {err}"
                stop(machine)
    except BaseException:  # Ctrl-C while the zygotes start: none of them stays
        release(machine)
        raise
    machine.why_cold = why_cold if warm else None
    return machine


def prepare(
    slots: int,
    hide: list[Path] | None = None,
    warm: bool = True,
    memory_mb: int = 4096,
    launched: Machine | None = None,
) -> Machine:
    """Prepare this machine for ``slots`` jobs at once (see the module doc); ``hide``: folders a
    kernel must not see that only this machine knows of (used only without bubblewrap);
    ``warm``: start a warm zygote per slot where the machine allows (:mod:`..sandbox.warm`);
    ``launched``: what :func:`launch` started earlier for the same slots."""
    machine = launched or launch(slots, warm, memory_mb)
    machine.hide = list(hide or [])
    try:
        import nbgrader.apps.api  # noqa: F401 - imported once here, shared by every forked worker

        preload_keras()
        gc.collect()
        gc.freeze()  # what the forked workers share stays shared: their collectors skip it
        _files_written(machine)
        try:
            for zygote in machine.zygote_processes:
                zygote.wait_ready()
            machine.zygotes = {z.slot: z.socket for z in machine.zygote_processes}
        except RuntimeError as err:
            machine.why_cold = f"kernels start cold: {err}"
            stop(machine)
    except BaseException:  # Ctrl-C while the zygotes start: none of them stays
        release(machine)
        raise
    if machine.why_cold is not None:
        machine.notes.append(machine.why_cold)
        machine.why_cold = None
    return machine


def stop(machine: Machine) -> None:
    """Stop the machine's zygotes (their kernels die with them)."""
    if machine.files_process is not None:
        machine.files_process.kill()
        machine.files_process.wait()
        machine.files_process = None
    for zygote in machine.zygote_processes:
        zygote.stop()
    machine.zygote_processes, machine.zygotes = [], {}


def release(machine: Machine) -> None:
    """Stop the zygotes and remove the work area (kept when ``COURSE_GRADE_KEEP`` is set)."""
    stop(machine)
    if not os.environ.get("COURSE_GRADE_KEEP"):
        shutil.rmtree(machine.work, ignore_errors=True)


if __name__ == "__main__":  # _start_files' process: python -m course_grading.autograde.machine WORK
    _write_data(Path(sys.argv[1]))
    try:
        import matplotlib.font_manager  # noqa: F401 - builds the font cache in $MPLCONFIGDIR
    except Exception:  # noqa: BLE001 - no cache: each kernel builds its own, slower
        sys.exit(FONTS_FAILED)
