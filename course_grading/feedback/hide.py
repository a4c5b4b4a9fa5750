"""What a student's feedback may show of a graded cell that holds hidden tests.

nbgrader's ``ClearHiddenTests`` removes hidden tests from a cell's *source*, but the
cell's *outputs* still show them: an IPython traceback quotes the lines around the
failing call, and a passing hidden check may print its inputs. This preprocessor
rewrites those outputs before ``ClearHiddenTests`` runs:

* an error raised by a visible line keeps its message (``AssertionError: ...``),
  without the traceback;
* an error raised inside the hidden block becomes a generic sentence;
* printed output of such a cell is dropped.

A notebook graded by :class:`course_grading.autograde.trusted.TrustedExecute` is left
as it is: its test cells' outputs were written outside the kernel and hold nothing of the
hidden tests. ``course-grade feedback`` then checks each page (:mod:`.pages`).
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from traitlets import Bool

from ..cells import BEGIN_HIDDEN, hidden_lines

CELL_LINE = re.compile(r"(?:Cell In\[\d+\]|<ipython-input-[^>]*>|<cell line: \d+>)\D*?(\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
HIDDEN_FAILED = (
    "A hidden test of this exercise failed ({ename}). The visible test passes; "
    "check your function on other sizes and inputs than the visible test uses."
)


def failing_line(traceback: list[str]) -> int | None:
    """The line of the cell itself (the first frame) where the error was raised."""
    for entry in traceback:
        match = CELL_LINE.search(ANSI.sub("", entry))
        if match:
            return int(match.group(1))
    return None


class HideHiddenTestOutputs(Preprocessor):
    """Strip hidden-test traces from the outputs of grade cells (see the module doc)."""

    enabled = Bool(True)  # nbconvert skips preprocessors that are not enabled

    def preprocess(self, nb, resources):
        from ..autograde.trusted import judged_outside_kernel

        self._trusted = judged_outside_kernel(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if getattr(self, "_trusted", False):  # its test outputs were written outside the kernel
            return cell, resources
        if cell.cell_type != "code" or BEGIN_HIDDEN not in cell.source:
            return cell, resources
        hidden = hidden_lines(cell.source)
        outputs = []
        for out in cell.get("outputs", []):
            if out.output_type != "error":
                continue
            if failing_line(out.traceback) in hidden:
                text = HIDDEN_FAILED.format(ename=out.ename)
            else:
                text = f"{out.ename}: {out.evalue}"
            outputs.append(new_output("error", ename=out.ename, evalue=text, traceback=[text]))
        cell.outputs = outputs
        return cell, resources


