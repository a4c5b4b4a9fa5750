"""``course-grade autograde --scheduler``: the same jobs, graded on a Dask cluster.

``DaskExecutor("tcp://HOST:PORT", settings)`` sends each self-contained :class:`~.autograde.job.Job`
to the workers of a running Dask scheduler; ``DaskExecutor("local:N", settings)`` starts a local
cluster of N worker processes and closes it after. The grader alone merges the results.

Each worker process prepares itself once as it starts (:class:`GradingMachine`): its own copy of
the data (:func:`~.autograde.machine.prepare`) and a ``sandbox-check``. Only a worker whose
kernels get every essential isolation (:func:`refusal`) offers the Dask resource :data:`SANDBOX`
that grading tasks need: a worker that refuses gets no job, and with none that can isolate, each
student's result is an error that says why. A worker whose data or grading code differ from the
grader's returns an error instead of grading. A job runs in a forked process with its time limit
(:func:`course_grading.batch.run`), as the sandbox user of a slot no other job of the machine holds
(a lock file). A worker that grades also claims one slot for its whole life and starts that slot's
warm zygote (:mod:`.sandbox.warm`, as the local pool does for each of its slots): its jobs fork their
kernels from it, one at a time; a job that finds it busy (a worker of several threads) or gone
takes a free slot of its own and starts its kernel cold. Dask reschedules the job of a worker that
dies (up to the scheduler's ``allowed-failures``); a lost scheduler stops the batch
(:class:`ClusterError`), keeping what was merged; stopping the grader cancels its tasks and kills
its jobs still running on the workers.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

from . import batch
from .autograde.job import Job, Result, Settings
from .autograde.machine import Machine, _grading_data, prepare, stop
from .autograde.run import Done
from .autograde.worker import cleanup_killed, grade_job
from .outcomes import Outcome
from .sandbox import probe, sandbox_user
from .sandbox import warm as warming

try:
    import distributed as dd
    from distributed.core import Status
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # Dask is optional: DaskExecutor says what to install
    dd, Status, WorkerPlugin = None, None, object  # type: ignore[misc,assignment]

SANDBOX = "course-grade-sandbox"  # the Dask resource of the workers that can isolate a kernel
SLOTS, SLOT_BASE = Path("/tmp/course-grade-slots"), 100  # per machine; apart from a local pool's 0..N-1
ALLOWED_FAILURES = 3  # workers a job may see die before its student gets an error (local clusters)


class ClusterError(RuntimeError):
    """The cluster cannot be used, or was lost mid-batch (what was merged is kept)."""


def refusal(found: dict[str, str]) -> str | None:
    """Why a worker must not grade, from its ``sandbox-check`` (:func:`~.sandbox.probe`); None: it may."""
    if "probe" in found:
        return f"the sandbox probe did not run ({found['probe']})"
    why = []
    if "bubblewrap view" not in found.get("applied", ""):
        why.append(f"no bubblewrap view (bubblewrap: {found.get('bubblewrap', '?')})")
    if not found.get("network", "").startswith("no route"):
        why.append(f"no network namespace (the probe {found.get('network', 'did not try')})")
    if found.get("kernel uid", "0") == "0":
        why.append("the kernel would run as root")
    if not found.get("readable files", "").startswith("none"):
        why.append(f"the kernel could read {found.get('readable files', '?')[:100]}")
    return "; ".join(why) or None


def code_sha256() -> str:
    """Checksum of the code that reaches verdicts: ``course/checks`` and ``course_grading/autograde``."""
    import course.checks

    digest = hashlib.sha256()
    for folder in (Path(course.checks.__file__).parent, Path(__file__).parent / "autograde"):
        for path in sorted(folder.glob("*.py")):
            digest.update(f"{folder.name}/{path.name}\0".encode() + path.read_bytes())
    return digest.hexdigest()


_state: tuple[Machine | None, str | None, str] | None = None  # machine, why it refuses, code_sha256()
_lock = threading.Lock()
_warm_slot: int | None = None  # the slot this process holds for its life, with its warm zygote
_warm_busy = threading.Lock()  # held by the job that forks its kernel from that zygote


def worker_state() -> tuple[Machine | None, str | None, str]:
    """This process's prepared machine, why it refuses to grade (None: it grades), its code checksum."""
    global _state
    with _lock:
        if _state is None:
            machine, why = None, None
            warnings.filterwarnings("ignore", message=r"Object of type <Submitted")  # as run_autograde
            try:
                machine = prepare(0)  # a sandbox user comes per slot, when a job needs it
                atexit.register(leave, machine)
                found: list[batch.Done] = []  # the probe changes the working folder: in a child
                batch.run(
                    [None],
                    lambda _, slot: probe(),
                    1,
                    180,
                    machine.work / "probe",
                    lambda _, d: found.append(d),
                )
                why = refusal(found[0].result or {"probe": found[0].failure or "no result"})
                if not why:
                    keep_warm(machine)
            except Exception as err:  # noqa: BLE001 - a worker that cannot prepare refuses, saying why
                why = f"cannot prepare this machine ({type(err).__name__}: {err})"
            _state = (machine, why, code_sha256())
    return _state


def keep_warm(machine: Machine, memory_mb: int = Settings.memory_mb) -> None:
    """Claim a slot for this process's life and start its warm zygote (:func:`.sandbox.warm.start`,
    as the local pool's :func:`~.autograde.machine.prepare` does per slot); say why not in
    ``machine.notes`` (its jobs then start their kernels cold)."""
    global _warm_slot
    if warming.can_warm():  # prepare() noted why
        return
    slot, lock = claim_slot()  # held until this process ends
    started: queue.Queue = queue.Queue()

    def keeper() -> None:
        data = machine.data_file.parent if machine.data_file else None
        try:
            for attempt in range(5):  # useradd fails while another worker's useradd holds /etc/passwd
                try:
                    sandbox_user(slot)
                    break
                except subprocess.CalledProcessError:
                    if attempt == 4:
                        raise
                    time.sleep(1 + attempt)
            started.put(warming.start(slot, machine.work, data, memory_mb))
        except Exception as err:  # noqa: BLE001 - no zygote: this worker's kernels start cold, saying why
            started.put(err)
            return
        threading.Event().wait()  # its launcher dies with the thread that started it (PR_SET_PDEATHSIG)

    threading.Thread(target=keeper, name="course-grade-zygote", daemon=True).start()
    zygote = started.get()
    if isinstance(zygote, Exception):
        machine.notes.append(f"kernels start cold: {zygote}")
        os.close(lock)
        return
    machine.zygote_processes.append(zygote)
    machine.zygotes = {slot: zygote.socket}
    _warm_slot = slot


def leave(machine: Machine) -> None:
    """As this worker process ends: stop its zygote (it would die anyway, but leave its cgroups) and
    remove its work area, as the local pool does after a batch."""
    stop(machine)
    if not os.environ.get("COURSE_GRADE_KEEP"):
        shutil.rmtree(machine.work, ignore_errors=True)


def verdict(dask_worker) -> tuple[str, str | None]:
    """On a worker: its name and why it refuses to grade (None: it grades; 'preparing' until it knows)."""
    return str(dask_worker.name), "preparing" if _state is None else _state[1]


class GradingMachine(WorkerPlugin):
    """Prepares each worker process as it starts; offers :data:`SANDBOX` if its kernels are isolated."""

    idempotent = True  # a grader run again keeps what the workers prepared

    async def setup(self, worker) -> None:
        _, why, _ = await asyncio.get_running_loop().run_in_executor(None, worker_state)
        await worker.set_resources(**{SANDBOX: 0 if why else worker.state.nthreads})
        if not why and worker.status == Status.running:  # Dask looks again at tasks that found no
            worker.status = Status.paused  # worker when one resumes, not when its resources change
            worker.status = Status.running


def claim_slot(folder: Path = SLOTS) -> tuple[int, int]:
    """The lowest slot no other job of this machine holds, and its locked file (close it to free it)."""
    folder.mkdir(mode=0o1777, parents=True, exist_ok=True)
    for slot in range(SLOT_BASE, SLOT_BASE + 10_000):
        fd = os.open(folder / f"{slot}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, fd
        except BlockingIOError:
            os.close(fd)
    raise RuntimeError(f"no free grading slot in {folder}")


def grade_task(data: dict, code: str, run: str) -> dict:
    """On a worker: grade one job in a forked process with its time limit (see the module doc)."""
    from distributed import get_worker

    (machine, why, own_code), worker = worker_state(), get_worker()
    where = f"{worker.name}@{worker.address.split('://')[-1]}"
    if why:  # it offers no SANDBOX: only a task sent here by hand gets this far
        raise RuntimeError(f"Dask worker {where} refuses to grade: {why}")
    job = Job.from_json(data)
    warm = _warm_slot is not None and job.settings.warm and _warm_busy.acquire(blocking=False)
    slot, lock = (_warm_slot, None) if warm else claim_slot()
    pid_file, ended = machine.work / f"{run}-{job.index}.pid", []

    def work(job: Job, _: int) -> dict:
        pid_file.write_text(str(os.getpid()))
        if (machine.work / f"{run}.stopped").exists():
            raise ClusterError("the grader stopped this batch")
        if code != own_code:
            return Result(
                Outcome.ERROR,
                f"Dask worker {where} has other grading code than the grader "
                "(course/checks, course_grading/autograde): not graded there",
            ).to_json()
        return grade_job(job, slot, machine).to_json()  # it refuses data that differ from the grader's

    try:
        batch.run(
            [job],
            work,
            1,
            job.settings.timeout,
            machine.work / f"results-{run}",
            lambda _, d: ended.append(d),
            on_kill=lambda j, _: cleanup_killed(j.index, machine),
        )
    finally:
        if lock is None:
            _warm_busy.release()
        else:
            os.close(lock)
        pid_file.unlink(missing_ok=True)
    return {**dataclasses.asdict(ended[0]), "worker": f"{where} slot {slot}"}


def stop_run(run: str) -> None:
    """On a worker: kill what still runs of the grader's batch ``run``; no job of it starts after."""
    if _state and _state[0]:
        (_state[0].work / f"{run}.stopped").touch()
        for pid_file in _state[0].work.glob(f"{run}-*.pid"):
            with contextlib.suppress(OSError, ValueError):  # its sandbox and kernel die with it
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


class DaskExecutor:
    """:class:`~.autograde.run.Executor` on a Dask cluster (see the module doc)."""

    def __init__(self, address: str, settings: Settings, wait_s: float = 300):
        if dd is None:
            raise ClusterError(
                "grading on a Dask cluster needs Dask's distributed: pip install distributed "
                "(or this repository's grader extra: pip install '.[grader]')"
            )
        if not re.fullmatch(r"local:[1-9]\d*|(tcp|tls|ws|wss)://.+", address):
            raise ClusterError(f"--scheduler {address!r}: give tcp://HOST:PORT of a scheduler, or local:N")
        self.address, self.settings, self.wait_s = address, settings, wait_s
        self.refused: dict[str, str] = {}  # worker address -> 'NAME: why it refuses to grade'

    @functools.cached_property
    def data_sha256(self) -> str | None:
        """The grader's own grading copy of the data: what every worker must have too."""
        with tempfile.TemporaryDirectory() as tmp:
            return _grading_data(Path(tmp))[1]

    def _connect(self):
        if self.address.startswith("local:"):
            cluster = dd.LocalCluster(
                n_workers=int(self.address[6:]),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES},
            )
            return dd.Client(cluster), cluster
        try:
            return dd.Client(self.address, timeout=30), None
        except (OSError, TimeoutError) as err:
            raise ClusterError(f"cannot reach the Dask scheduler at {self.address}: {err}") from None

    def _graders(self, client) -> tuple[int, bool]:
        """Workers that can grade now, and whether one is still preparing; says once why others refuse."""
        try:
            found = client.run(verdict, on_error="ignore")
        except OSError as err:
            raise ClusterError(f"lost the Dask scheduler at {self.address} ({err})") from None
        for address, (name, why) in found.items():
            if why not in (None, "preparing") and address not in self.refused:
                self.refused[address] = f"{name}: {why}"
                print(
                    f"course-grade: Dask worker {name} ({address}) refuses to grade: {why}", file=sys.stderr
                )
        whys = [why for _, why in found.values()]
        return whys.count(None), "preparing" in whys

    def run(self, jobs: list[Job], on_done: Callable[[Job, Done], None]) -> None:
        client, cluster = self._connect()
        run, code, seen, had, next_check = uuid.uuid4().hex[:12], code_sha256(), time.monotonic(), False, 0.0
        pending: dict = {}  # future -> its job

        try:
            try:
                client.wait_for_workers(1, timeout=self.wait_s)
            except TimeoutError:
                raise ClusterError(f"no Dask worker joined {self.address} in {self.wait_s:.0f} s") from None
            client.register_plugin(GradingMachine(), name="course-grade-machine")
            pending = {
                client.submit(
                    grade_task,
                    job.to_json(),
                    code,
                    run,
                    key=f"grade-{run}-{job.index}",
                    resources={SANDBOX: 1},
                    retries=0,
                ): job
                for job in jobs
            }
            finished = dd.as_completed(pending)
            while pending:
                ready = finished.next_batch(block=False) if finished.has_ready() else []
                for future in ready:
                    self._finish(pending.pop(future), future, on_done)
                if not pending or time.monotonic() < next_check:
                    time.sleep(0 if ready else 0.05)
                    continue
                next_check = time.monotonic() + 10
                able, preparing = self._graders(client)
                if able or preparing:
                    seen, had = time.monotonic(), had or bool(able)
                elif not had and self.refused or time.monotonic() - seen > self.wait_s:  # nobody can grade
                    why = "; ".join(self.refused.values()) or f"no worker for {self.wait_s:.0f} s"
                    client.cancel(list(pending), force=True)
                    for job in pending.values():
                        on_done(
                            job,
                            Done(None, f"error:\nnot graded: no Dask worker can isolate a kernel ({why})"),
                        )
                    pending.clear()
        except BaseException:  # Ctrl-C, SIGTERM, a lost scheduler: leave nothing of ours running
            if pending and client.status == "running":
                with contextlib.suppress(Exception):
                    client.cancel(list(pending), force=True)
                    client.run(stop_run, run, on_error="ignore")
            raise
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
            if cluster is not None:
                cluster.close(timeout=30)

    def _finish(self, job: Job, future, on_done: Callable[[Job, Done], None]) -> None:
        if future.status == "finished":
            out = future.result()
            result = Result.from_json(out["result"]) if out["result"] is not None else None
            on_done(job, Done(result, out["failure"], out["seconds"], out["peak_rss_mb"], out["worker"]))
        elif future.status == "error":
            err = future.exception()
            text = " ".join(f"{type(err).__name__}: {err}".split())
            if isinstance(err, dd.KilledWorker):  # allowed-failures workers died while grading it
                on_done(job, Done(None, f"crashed:\nevery Dask worker that graded it died ({text})"))
            else:
                on_done(job, Done(None, f"error:\n{text}"))
        else:  # cancelled: the client lost the scheduler
            raise ClusterError(f"lost the Dask scheduler at {self.address} ({future.status})")
