"""What a student's feedback may show of a graded cell that holds hidden tests.

nbgrader's ``ClearHiddenTests`` removes hidden tests from a cell's *source*, but the
cell's *outputs* still show them: an IPython traceback quotes the lines around the
failing call, and a passing hidden check may print its inputs. This preprocessor
rewrites those outputs before ``ClearHiddenTests`` runs:

* an error raised by a visible line keeps its message (``AssertionError: ...``),
  without the traceback;
* an error raised inside the hidden block becomes a generic sentence;
* printed output of such a cell is dropped.

``course-grade feedback`` then checks each student's page (:func:`leaks`: no line of a
hidden test may appear in it), puts the grading outcome on top (:func:`banner`) and
writes a page of its own for a submission that could not run (:func:`failure_page`).
"""

from __future__ import annotations

import html
import re

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from traitlets import Bool

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CELL_LINE = re.compile(r"(?:Cell In\[\d+\]|<ipython-input-[^>]*>|<cell line: \d+>)\D*?(\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
HIDDEN_FAILED = (
    "A hidden test of this exercise failed ({ename}). The visible test passes; "
    "check your function on other sizes and inputs than the visible test uses."
)


def hidden_lines(source: str) -> set[int]:
    """1-based line numbers of the cell that lie inside hidden-test blocks."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == BEGIN:
            inside = True
        if inside:
            lines.add(number)
        if line.strip() == END:
            inside = False
    return lines


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
        from .trusted import judged_outside_kernel

        self._trusted = judged_outside_kernel(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if getattr(self, "_trusted", False):  # its test outputs were written outside the kernel
            return cell, resources
        if cell.cell_type != "code" or BEGIN not in cell.source:
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


# --------------------------------------------------------------------------- the HTML a student gets

TAG = re.compile(r"<[^>]+>")
SPACE = re.compile(r"\s+")


def hidden_test_lines(source_nb: dict, released_nb: dict, shortest: int = 12) -> list[str]:
    """Lines of the hidden tests that appear nowhere in the released notebook (whitespace collapsed)."""

    def cells(nb: dict) -> list[str]:
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"]]

    released = SPACE.sub(" ", "\n".join(cells(released_nb)))
    found = []
    for source in cells(source_nb):
        lines = source.splitlines()
        for number in sorted(hidden_lines(source)):
            line = SPACE.sub(" ", lines[number - 1]).strip()
            if len(line) >= shortest and BEGIN not in line and END not in line and line not in released:
                found.append(line)
    return found


def visible_text(html_page: str) -> str:
    """The page's text as a reader (or view-source) sees it: tags removed, entities decoded."""
    return SPACE.sub(" ", html.unescape(TAG.sub("", html_page)))


def leaks(html_page: str, hidden: list[str]) -> list[str]:
    """The hidden-test lines that ``html_page`` shows."""
    text = visible_text(html_page)
    return [line for line in hidden if line in text]


def banner(outcome: str, reason: str, total: float, max_total: float) -> str:
    """A box for the top of a student's feedback: the grading outcome and why."""
    color = "#2e7d32" if outcome in {"graded", "repaired"} else "#c62828"
    return (f'<div class="course-outcome" style="border:2px solid {color};padding:0.8em;margin:1em;'
            f'font-family:sans-serif"><b>Grading outcome: {html.escape(outcome)}</b> '
            f"&mdash; score {total:g} / {max_total:g}<br>{html.escape(reason)}</div>")


def with_banner(html_page: str, box: str) -> str:
    match = re.search(r"<body[^>]*>", html_page)
    return html_page[: match.end()] + box + html_page[match.end():] if match else box + html_page


def failure_page(student: str, lab: str, box: str, scores: dict[str, list[float]]) -> str:
    """Feedback for a submission that could not be run at all."""
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{s:g} / {m:g}</td></tr>"
                   for name, (s, m) in scores.items())
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(lab)} feedback for "
            f"{html.escape(student)}</title></head><body>{box}<table style='margin:1em'>"
            f"<tr><th>test</th><th>points</th></tr>{rows}</table></body></html>\n")
