"""TrustedExecute on its own, in a plain local kernel: how it waits for a cell's output."""

from __future__ import annotations

import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_grading.autograde.trusted import Report, TrustedExecute
from course_grading.autograde.verdict import _timeouts
from course_grading.outcomes import Outcome

PRINTS = 30  # messages; at 0.3 s each the grader needs 9 s to take them all in


class LoadedGrader(TrustedExecute):
    """The grading process on a busy machine: each output message takes 0.3 s to handle, so
    the kernel has long replied when the grader reaches the end of the cell's output."""

    def output(self, outs, msg, display_id, cell_index):
        time.sleep(0.3)
        return super().output(outs, msg, display_id, cell_index)


def run(tmp_path, source: str, timeout: int) -> tuple[nbformat.NotebookNode, Report]:
    nb = new_notebook(cells=[new_code_cell(source)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    report = tmp_path / "trusted.json"
    grader = LoadedGrader(timeout=timeout, report_file=str(report), answers_dir=str(tmp_path / "answers"))
    nb, _ = grader.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb, Report.read(report)


@pytest.mark.slow
def test_a_cell_that_ended_in_time_keeps_its_output_on_a_slow_grader(tmp_path):
    """nbclient's default 4 s wait for output after the reply made this a timeout with an
    'unresponsive' kernel (0 points after it): stop 21's CI graded a print-heavy cell so."""
    start = time.monotonic()
    nb, report = run(tmp_path, f"for i in range({PRINTS}):\n    print(i, flush=True)\n", timeout=30)
    seconds = time.monotonic() - start
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream")
    assert (report.timeouts, report.unresponsive, report.stopped_at) == ([], False, None), report
    assert printed.split() == [str(i) for i in range(PRINTS)], printed
    assert seconds > 0.3 * PRINTS * 0.8  # the grader really was slower than the kernel


@pytest.mark.slow
def test_an_interrupted_cell_still_times_out(tmp_path):
    nb, report = run(tmp_path, "import time\nwhile True:\n    time.sleep(0.1)\n", timeout=3)
    assert report.timeouts and report.stopped_at and not report.unresponsive, report
    assert any(o.get("ename") == "KeyboardInterrupt" for o in nb.cells[0].outputs), nb.cells[0].outputs


@pytest.mark.slow
def test_a_cell_whose_output_never_ends_is_not_called_an_ignored_interrupt(tmp_path):
    """The cell replies at once, then its kernel sends no more status messages: nbclient
    waits for an idle that never comes. No interrupt was sent, and the report says so."""
    silence = "get_ipython().kernel._publish_status = lambda *args, **kwargs: None\n"
    start = time.monotonic()
    _, report = run(tmp_path, silence, timeout=3)
    assert report.unresponsive and report.output_unended and report.stopped_at, report
    assert time.monotonic() - start < 60
    _, looped = run(tmp_path, "import time\nwhile True:\n    time.sleep(0.1)\n", timeout=3)
    assert not looped.output_unended, looped
    outcome, why = _timeouts(report, 3, [])
    assert outcome is Outcome.TIMEOUT and "did not end its output" in why and "interrupt" not in why, why
