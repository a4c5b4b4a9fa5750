"""Grade one student's :class:`~.job.Job` on this machine, in a private nbgrader course root.

The job is unpacked into a folder of its own (config, the lab's source, the gradebook
copy, the submission); nbgrader's own API autogrades it there, with the kernel in the
sandbox (:mod:`course_grading.sandbox`) and every verdict judged in this process
(:mod:`.trusted`). The :class:`~.job.Result` carries the scores and the graded notebook
back; this process writes nothing anywhere else.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from ..cells import is_test
from ..course_root import course_config
from ..outcomes import Outcome
from ..sandbox import CGroups, Limits, Sandbox, default_hide, private_work_folder
from .gradebook import read_grades
from .job import Job, Result, unpack
from .machine import Machine
from .trusted import Report
from .verdict import judge

STATUS = "status"


def unpack_job(job: Job, private: Path) -> None:
    (private / "nbgrader_config.py").write_text(job.config)
    for name, content in job.source.items():
        target = (private / "source" / job.lab / name).resolve()
        if private.resolve() not in target.parents:
            raise ValueError(f"a source file outside the lab's folder: {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(content))
    unpack(job.gradebook, private / "gradebook.db")
    notebook = nbformat.reads(job.notebook, as_version=4)
    if job.settings.stop_after_last_test:
        tests = [i for i, c in enumerate(notebook.cells) if is_test(c)]
        notebook.cells = notebook.cells[: tests[-1] + 1] if tests else notebook.cells
    submitted = private / "submitted" / job.student / job.lab
    submitted.mkdir(parents=True)
    nbformat.write(notebook, submitted / f"{job.lab}.ipynb")


def _answers(zygote: str) -> bool:
    """Whether the slot's zygote still listens."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(zygote)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def cell_timeout(private: Path, job: Job) -> int:
    if job.settings.cell_timeout:
        return job.settings.cell_timeout
    return int(course_config(private).Execute.get("timeout", 30) or 30)


def tensorflow_started() -> bool:
    """Whether this process (or the one it was forked from) has run a TensorFlow op."""
    if "tensorflow" not in sys.modules:
        return False
    try:
        from tensorflow.python.eager import context

        ctx = context.context_safe()
        return ctx is not None and getattr(ctx, "_context_handle", None) is not None
    except Exception:  # noqa: BLE001 - another TensorFlow: assume it did not
        return False


def grade_job(job: Job, slot: int, machine: Machine) -> Result:
    """Autograde ``job`` with a sandboxed kernel (in worker slot ``slot``); return its result.

    The trusted checks run Keras here. TensorFlow's thread pools do not survive a fork: in a
    worker forked from a process that had already run TensorFlow (the grader used as a library
    after training a model) an op would wait for ever, so there the job is graded by a fresh
    interpreter instead (``python -m course_grading.autograde.worker``).
    """
    if tensorflow_started():
        return _grade_in_fresh_process(job, slot, machine)
    return _grade_job(job, slot, machine)


def _grade_in_fresh_process(job: Job, slot: int, machine: Machine) -> Result:
    import subprocess

    from ..batch import die_with_parent

    machine_data = {
        "work": str(machine.work),
        "mpl_cache": str(machine.mpl_cache) if machine.mpl_cache else None,
        "data_file": str(machine.data_file) if machine.data_file else None,
        "data_sha256": machine.data_sha256,
        "notes": machine.notes,
        "hide": [str(p) for p in machine.hide],
        "zygotes": machine.zygotes,
    }
    with tempfile.TemporaryDirectory(dir=machine.work) as tmp:
        request, answer = Path(tmp) / "job.json", Path(tmp) / "result.json"
        request.write_text(json.dumps({"job": job.to_json(), "slot": slot, "machine": machine_data}))
        parent = os.getpid()
        proc = subprocess.run(
            [sys.executable, "-m", "course_grading.autograde.worker", str(request), str(answer)],
            preexec_fn=lambda: die_with_parent(parent),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not answer.exists():
            raise RuntimeError(
                f"the fresh grading process failed (exit {proc.returncode}): {proc.stderr[-1500:]}"
            )
        return Result.from_json(json.loads(answer.read_text()))


def _grade_job(job: Job, slot: int, machine: Machine) -> Result:
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    where = f"{socket.gethostname()}/slot {slot}"
    if job.data_sha256 and job.data_sha256 != machine.data_sha256:
        return Result(
            Outcome.ERROR,
            "this worker's copy of the data differs from the grader's "
            "(another Fashion-MNIST version?): not graded here",
            worker=where,
        )
    zygote = machine.zygotes.get(slot) if job.settings.warm else None
    if zygote and not _answers(zygote):  # it died (no kernel can signal it): this job starts cold
        zygote = None
    private = Path(
        tempfile.mkdtemp(
            prefix=f"s{job.index:03d}-", dir=machine.slot_folder(slot) if zygote else machine.work
        )
    )
    (private / STATUS).mkdir()
    unpack_job(job, private)
    limits = Limits(memory_mb=job.settings.memory_mb, threads=max(job.settings.kernel_threads, 0))
    sandbox = Sandbox(
        private,
        slot,
        limits,
        default_hide(machine.work, *machine.hide),
        label=f"{os.getpid()}",
        data_file=machine.data_file if job.data_sha256 else None,
        zygote=zygote,
    )
    tmpfs = None if zygote else private_work_folder(sandbox.kernel_dir, max(job.settings.memory_mb // 2, 64))
    sandbox.notes = (
        [] if tmpfs or zygote else ["the kernel's working folder is on disk (a private tmpfs needs root)"]
    )
    os.environ.update(sandbox.prepare(machine.mpl_cache))
    groups = json.dumps({kind: str(d) for kind, d in sandbox.cgroups.dirs.items()})
    (machine.work / f"job-{job.index}.cgroups").write_text(groups)  # for cleanup_killed
    config = course_config(private)
    config.CourseDirectory.root = str(private)
    for section, values in sandbox.kernel_config().items():
        for key, value in values.items():
            config[section][key] = value
    limit = cell_timeout(private, job)
    config.Execute.timeout = limit
    report_file = private / STATUS / "trusted.json"
    config.TrustedExecute.report_file = str(report_file)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    started = time.monotonic()
    log = api.autograde(job.lab, job.student, force=True, create=True)
    nbgrader_seconds = time.monotonic() - started
    kernel = sandbox.finish()
    (machine.work / f"job-{job.index}.cgroups").unlink(missing_ok=True)
    if tmpfs:
        kernel.applied.append(tmpfs)
    kernel.missing += sandbox.notes + machine.notes

    executed_path = private / "autograded" / job.student / job.lab / f"{job.lab}.ipynb"
    executed = nbformat.read(executed_path, as_version=4) if executed_path.exists() else None
    result = judge(
        executed,
        kernel,
        log.get("log", "") + log.get("error", ""),
        read_grades(private, job.lab, job.student),
        job.settings.memory_mb,
        limit,
        Report.read(report_file),
        limits.pids,
    )
    result.graded_notebook = executed_path.read_text() if executed is not None else None
    result.worker_peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result.worker = where
    if result.timing:  # what nbgrader itself took around the kernel's work
        result.timing["nbgrader"] = round(nbgrader_seconds - sum(result.timing.values()), 2)
    if not os.environ.get("COURSE_GRADE_KEEP"):  # set it to look at a job's folder afterwards
        shutil.rmtree(private, ignore_errors=True)
    return result


def cleanup_killed(job_index: int, machine: Machine) -> None:
    """After a worker was killed (time limit, crash, signal): kill its kernel's cgroups."""
    record = machine.work / f"job-{job_index}.cgroups"
    try:
        dirs = dict(json.loads(record.read_text()))
    except (OSError, ValueError, TypeError):
        return
    CGroups(dirs={kind: Path(d) for kind, d in dirs.items()}).kill_and_remove()
    record.unlink(missing_ok=True)
    for private in [
        *machine.work.glob(f"s{job_index:03d}-*"),
        *machine.work.glob(f"slot*/s{job_index:03d}-*"),
    ]:
        shutil.rmtree(private, ignore_errors=True)


def _main(request: str, answer: str) -> None:
    """``python -m course_grading.autograde.worker JOB.json RESULT.json`` (see :func:`grade_job`)."""
    data = json.loads(Path(request).read_text())
    m = data["machine"]
    machine = Machine(
        Path(m["work"]),
        Path(m["mpl_cache"]) if m["mpl_cache"] else None,
        Path(m["data_file"]) if m["data_file"] else None,
        m["data_sha256"],
        m["notes"],
        [Path(p) for p in m["hide"]],
        {int(slot): path for slot, path in m["zygotes"].items()},
    )
    result = _grade_job(Job.from_json(data["job"]), data["slot"], machine)
    partial = Path(answer).with_suffix(".tmp")
    partial.write_text(json.dumps(result.to_json()))
    partial.rename(answer)


if __name__ == "__main__":
    _main(*sys.argv[1:3])
