"""Run one function per item in parallel child processes, each with a wall-clock limit.

Children are forked from the grader (which has already imported nbgrader: a fresh
``nbgrader`` command costs ~5 s of imports, a fork costs milliseconds), so each
student gets a process of its own at no start-up cost. A child that crashes, hangs or
passes its time limit is killed with everything it started; its item gets a failure
result and the batch goes on.

Stopping: each child dies with its parent (``PR_SET_PDEATHSIG``), and so does everything
it starts (the sandbox launcher and bubblewrap do the same), so killing the grader in any
way, or any of its children, leaves nothing of a student running. Ctrl-C and SIGTERM
stop the batch cleanly (:func:`stop_on_sigterm`); a result is written to a file and
renamed into place, so it is never read half-written.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Done:
    """How one child ended."""

    result: dict[str, Any] | None  # what the function returned (None if it did not finish)
    failure: str | None  # 'timeout' or 'crashed: ...' or 'error: ...'
    seconds: float
    peak_rss_mb: float  # the child's own peak resident memory
    slot: int = 0


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when ``parent`` ends (Linux); leave if it already has."""
    if hasattr(os, "getppid"):
        try:
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:
            os._exit(1)


_stopped: list[str] = []  # why this process was asked to stop, once it was
_signals: list[int] = []  # the signals that asked it


class Stop(KeyboardInterrupt):
    """A requested stop (SIGTERM or Ctrl-C). A subclass, not KeyboardInterrupt itself: when a bare
    KeyboardInterrupt passes through code run from a string (``exec``, as dataclasses and
    namedtuple do at import), CPython marks it unhandled for good, and ``python -m`` then ends
    by SIGINT even after a clean stop; it checks for that exact class only."""


def stop_on_sigterm() -> None:
    """SIGTERM (a cluster's or a service manager's stop) ends the grader like Ctrl-C: cleanly.
    Both are remembered (:func:`stop_requested`): inside an import's C code the KeyboardInterrupt
    can come out as another exception (NumPy's says ImportError)."""

    def stop(signum, frame):
        why = "Ctrl-C" if signum == signal.SIGINT else f"stopped by signal {signum}"
        _stopped.append(why)
        _signals.append(signum)
        raise Stop(why)

    signal.signal(signal.SIGTERM, stop)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when SIGINT is ignored
        signal.signal(signal.SIGINT, stop)


def stop_requested() -> str | None:
    """Why this process was asked to stop (SIGTERM, Ctrl-C), or None."""
    return _stopped[0] if _stopped else None


def stop_status() -> int:
    """The exit status of a process that stopped on request: 128 + the first signal's number
    (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process the signal ended."""
    return 128 + (_signals[0] if _signals else signal.SIGINT)


def stop_child(proc: subprocess.Popen, grace: float) -> None:
    """Pass a stop on to ``proc``: SIGTERM, up to ``grace`` seconds to clean up after itself
    (``course-grade`` does), then SIGKILL for it and every process it started that is left."""
    if grace > 0 and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:  # not reaped yet, so its pid is still its own
        kill_tree(proc.pid)
        proc.wait()


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s descendants, then ``pid`` (a kernel started in a session of its own too)."""
    import psutil

    try:
        family = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        family = []
    for proc in [*family]:
        try:
            proc.kill()
        except psutil.Error:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def run(items: Iterable[Any], work: Callable[[Any, int], dict], workers: int, timeout: float,
        result_dir: Path, on_done: Callable[[Any, Done], None],
        on_kill: Callable[[Any, int], None] | None = None) -> None:
    """Call ``work(item, slot)`` for each item in a forked child, at most ``workers`` at once.

    ``slot`` (0..workers-1) is free for this child alone while it runs. ``on_done(item, done)``
    is called in this process as each child ends; ``on_kill(item, slot)`` after a child
    was killed for passing ``timeout`` seconds (to clean up what it could not).
    """
    queue = list(items)
    running: dict[int, tuple[Any, int, float, Path]] = {}  # pid -> item, slot, start, result file
    free = list(range(workers))[::-1]
    result_dir.mkdir(parents=True, exist_ok=True)
    counter = 0
    finished: list[tuple[Any, Done]] = []  # reported after the freed slots got new work
    try:
        while queue or running or finished:
            if stop_requested():  # the interrupt was swallowed on its way (an optional import's except)
                raise Stop(stop_requested())
            while queue and free:
                item, slot = queue.pop(0), free.pop()
                counter += 1
                out = result_dir / f"result-{counter}.json"
                sys.stdout.flush()
                sys.stderr.flush()
                parent = os.getpid()
                pid = os.fork()
                if pid == 0:  # the child: do the work, write the result, leave without cleanup handlers
                    code = 0
                    try:
                        os.setpgid(0, 0)
                        die_with_parent(parent)
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)
                        signal.signal(signal.SIGINT, signal.SIG_DFL)
                        result = work(item, slot)
                        _write(out, {"result": result})
                    except BaseException:  # noqa: BLE001 - report anything, then leave
                        _write(out, {"__error__": traceback.format_exc()[-4000:]})
                        code = 1
                    finally:
                        os._exit(code)
                running[pid] = (item, slot, time.monotonic(), out)
            for item, done in finished:
                on_done(item, done)
            finished.clear()
            if not running:
                continue
            pid, status, usage = next((r for r in (os.wait4(k, os.WNOHANG) for k in list(running)) if r[0]),
                                      (0, 0, None))  # only our own children: never reap someone else's
            if pid == 0:
                now = time.monotonic()
                for kid, (item, slot, start, _) in list(running.items()):
                    if now - start > timeout:
                        kill_tree(kid)
                        _, status, usage = os.wait4(kid, 0)
                        del running[kid]
                        free.append(slot)
                        if on_kill:
                            on_kill(item, slot)
                        on_done(item, Done(None, "timeout", now - start, usage.ru_maxrss / 1024, slot))
                time.sleep(0.05)
                continue
            item, slot, start, out = running.pop(pid)
            free.append(slot)
            seconds = time.monotonic() - start
            try:
                result = json.loads(out.read_text())
                result = result if "__error__" in result else result["result"]
            except (OSError, ValueError, KeyError, TypeError):
                result = None
            if isinstance(result, dict) and "__error__" in result:
                done = Done(None, "error: " + result["__error__"], seconds, usage.ru_maxrss / 1024, slot)
            elif result is None:
                how = (f"signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
                       else f"exit {os.waitstatus_to_exitcode(status)}")
                if on_kill:  # what it started may still hold cgroups
                    on_kill(item, slot)
                done = Done(None, f"crashed: the grading process ended ({how}) without a result",
                            seconds, usage.ru_maxrss / 1024, slot)
            else:
                done = Done(result, None, seconds, usage.ru_maxrss / 1024, slot)
            out.unlink(missing_ok=True)
            finished.append((item, done))
    except BaseException:  # Ctrl-C, SIGTERM or a bug here: leave no grading process behind
        for kid, (item, slot, _, _) in running.items():
            kill_tree(kid)
            try:
                os.waitpid(kid, 0)
            except ChildProcessError:
                pass
            if on_kill:
                on_kill(item, slot)
        raise
