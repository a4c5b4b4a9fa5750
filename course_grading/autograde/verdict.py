"""Name the outcome of one autograded submission, from what the grader itself recorded.

The inputs are all the grader's own: the sandbox's report (memory kills, how the kernel
ended), nbgrader's log, the scores nbgrader gave the test cells (whose outputs the
trusted checks wrote) and the trusted checks' report (:class:`~.trusted.Report`):

* a student cell that ran past the time limit stopped the notebook there; the tests after
  it scored 0 (a test that times out only fails itself); a kernel that ignored the
  interrupt could not run the hidden tests: 0 for every test with hidden parts;
* a kernel killed by the memory limit or the process limit (at the first fork or thread
  it refused), one that exited or crashed scores 0;
* code that looks like it patches the tests (:mod:`.integrity`) is only flagged.
"""

from __future__ import annotations

from ..cells import is_locked, label
from ..outcomes import Outcome
from ..sandbox import STARTUP_FAILED, ZYGOTE_LOST, KernelReport
from . import integrity
from .job import Grade, Result
from .trusted import Report


def _without_notebook(kernel: KernelReport, log: str, limit: int) -> tuple[Outcome, str]:
    """Why nbgrader produced no graded notebook."""
    if kernel.exit == f"exit {STARTUP_FAILED}":
        return Outcome.ERROR, "the sandbox could not start the kernel (see the grader's log)"
    if kernel.exit == f"exit {ZYGOTE_LOST}":
        return (
            Outcome.ERROR,
            "the slot's warm kernel server stopped while this notebook ran"
            " (not the student's doing): grade this student again",
        )
    if kernel.exit:
        how = (
            f"was killed by {kernel.exit.split()[1]}" + (" (a crash)" if "SEGV" in kernel.exit else "")
            if kernel.exit.startswith("signal")
            else f"ended with {kernel.exit} (os._exit or exit in the student's code)"
        )
        return Outcome.KERNEL_DIED, f"the kernel {how} while running the notebook: 0 points"
    if "Kernel died" in log or "DeadKernel" in log:
        return (
            Outcome.KERNEL_DIED,
            "the kernel stopped while running the notebook (exit() or quit()?): 0 points",
        )
    if "CellTimeoutError" in log or "Timeout waiting for" in log:
        return Outcome.TIMEOUT, (
            f"a cell ran past the {limit} s time limit and the kernel did not answer the "
            "interrupt; nbgrader could not finish the notebook: 0 points"
        )
    last = [line for line in log.splitlines() if line.strip()][-1:] or ["no log"]
    return Outcome.ERROR, f"nbgrader could not grade it: {last[0][:300]}"


def _flags(executed) -> list[str]:
    code = [c.source for c in executed.cells if c.cell_type == "code"]
    modules = integrity.imported_names(code)
    flags = []
    for i, cell in enumerate(executed.cells):
        if cell.cell_type == "code" and not is_locked(cell):
            found = integrity.findings(cell.source, modules)
            if found:
                flags.append(f"{label(cell, i)} " + "; ".join(found))
    return flags


def _timeouts(report: Report, limit: int, notes: list[str]) -> tuple[Outcome | None, str]:
    others = f"; other errors: {'; '.join(notes)}" if notes else ""
    if report.unresponsive:
        where = report.stopped_at or "a test"
        how = (
            "finished, but the kernel did not end its output within the "
            f"{limit} s time limit (did the code stop the kernel's status messages?)"
            if report.output_unended
            else f"ran past the {limit} s time limit and the kernel did not answer the "
            "interrupt (does the code catch KeyboardInterrupt?)"
        )
        return Outcome.TIMEOUT, (
            f"{where} {how}: nothing after it ran and "
            "the hidden tests could not run: 0 points for their tests" + others
        )
    if report.stopped_at:
        zeroed = [g for g, v in report.verdicts.items() if v.get("detail") == "not reached"]
        after = ", ".join(zeroed) + " scored 0" if zeroed else "no test after it had points to lose"
        return Outcome.TIMEOUT, (
            f"{report.stopped_at} ran past the {limit} s time limit for a cell and was "
            "interrupted; a notebook that never finishes that cell never reaches the "
            f"tests after it: {after}" + others
        )
    if report.timeouts:
        return Outcome.TIMEOUT, "; ".join(
            f"{t} ran past the {limit} s time limit for a cell and was interrupted" for t in report.timeouts
        ) + others
    return None, "; ".join(notes)


def judge(
    executed,
    kernel: KernelReport,
    log: str,
    grades: dict[str, Grade],
    memory_mb: int,
    limit: int,
    report: Report | None,
    process_limit: int,
) -> Result:
    """The :class:`Result` of one autograded submission (without the graded notebook)."""
    result = Result(
        None, grades=grades, applied=kernel.applied, missing=kernel.missing, kernel_peak_mb=kernel.peak_mb
    )
    if kernel.process_limit:
        result.outcome = Outcome.PROCESSES
        result.detail = (
            f"the kernel's code reached the process limit of {process_limit} processes and threads "
            "and was killed with everything it started; the notebook could not finish: 0 points"
        )
        result.grades = result.zeroed()
        return result
    if kernel.oom_killed:
        result.outcome = Outcome.MEMORY
        result.detail = (
            f"the kernel used more than the {memory_mb} MB memory limit and was killed; the "
            "notebook could not finish: 0 points"
        )
        result.grades = result.zeroed()
        return result
    if executed is None:
        result.outcome, result.detail = _without_notebook(kernel, log, limit)
        result.grades = result.zeroed()
        return result
    result.flags = _flags(executed)
    if report is None:
        result.outcome, result.detail = (
            Outcome.ERROR,
            "the trusted checks left no report (see the grader's log)",
        )
        result.grades = result.zeroed()
        return result
    result.notes = list(report.errors)
    if report.output_cut:
        result.notes.append("output cut: " + "; ".join(report.output_cut))
    result.outcome, result.detail = _timeouts(report, limit, result.notes)
    result.judge_seconds = round(report.judge_seconds, 2)
    setup = sum(s for name, s in report.cell_seconds.items() if name in {"setup", "colab"})
    result.timing = {
        "startup": round(report.kernel_start_seconds + setup, 2),
        "student code": round(sum(report.cell_seconds.values()) - setup, 2),
        "checks": round(report.ask_seconds + report.judge_seconds, 2),
    }
    result.failed_tests = [
        f"{g} ({v.get('detail') or v.get('failed')})"[:200]
        for g, v in report.verdicts.items()
        if v.get("failed") is not None
    ]
    return result


def reason(result: Result, repairs: list[str]) -> tuple[Outcome, str]:
    """(outcome, reason) for the record, from the result and the repairs made."""
    kind = result.outcome or (Outcome.REPAIRED if repairs else Outcome.GRADED)
    if kind is Outcome.REPAIRED:
        detail = "; ".join(repairs) + (
            f"; errors in the student's cells: {result.detail}" if result.detail else ""
        )
    elif kind is Outcome.GRADED:
        detail = f"errors in the student's cells: {result.detail}" if result.detail else "all cells ran"
    else:
        detail = result.detail
    if result.failed_tests:
        detail += "; tests failed: " + "; ".join(result.failed_tests)
    if result.flags:
        detail += ("; flagged for the instructor (no points depend on this): " + "; ".join(result.flags))[
            :600
        ]
    return kind, kind.reason(detail)
