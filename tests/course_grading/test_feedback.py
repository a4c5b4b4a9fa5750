"""course.feedback finds hidden-test lines and the line a traceback points at."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_output

from course_grading.cells import hidden_lines
from course_grading.feedback.hide import HideHiddenTestOutputs, failing_line

SOURCE = "visible()\n### BEGIN HIDDEN TESTS\nhidden(64)\n### END HIDDEN TESTS\n"


def cell_with_error(line: int) -> nbformat.NotebookNode:
    cell = new_code_cell(SOURCE)
    cell.outputs = [
        new_output("stream", name="stdout", text="OK: 64-5-64\n"),
        new_output("error", ename="AssertionError", evalue="wrong for 64",
                   traceback=["\x1b[0;31mAssertionError\x1b[0m Traceback",
                              f"Cell \x1b[0;32mIn[7], line {line}\x1b[0m\n----> {line} ...",
                              "AssertionError: wrong for 64"]),
    ]
    return cell


def test_hidden_lines_and_failing_line():
    assert hidden_lines(SOURCE) == {2, 3, 4}
    assert failing_line(cell_with_error(3).outputs[1].traceback) == 3
    assert failing_line(["no cell frame here"]) is None


def test_hidden_failure_becomes_generic_and_prints_are_dropped():
    cell, _ = HideHiddenTestOutputs().preprocess_cell(cell_with_error(3), {}, 0)
    assert len(cell.outputs) == 1
    assert "hidden test of this exercise failed" in cell.outputs[0].evalue
    assert "64" not in str(cell.outputs)


def test_visible_failure_keeps_its_message_only():
    cell, _ = HideHiddenTestOutputs().preprocess_cell(cell_with_error(1), {}, 0)
    assert cell.outputs[0].traceback == ["AssertionError: wrong for 64"]


def test_cells_without_hidden_tests_are_untouched():
    cell = new_code_cell("visible()")
    cell.outputs = [new_output("stream", name="stdout", text="OK\n")]
    assert HideHiddenTestOutputs().preprocess_cell(cell, {}, 0)[0].outputs == cell.outputs
