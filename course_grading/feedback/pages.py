"""The HTML a student gets: nbgrader's feedback page with the outcome on top, checked.

Each page is checked before it is written (:func:`leaks`: no line of a hidden test may
appear in it) and must stay under :data:`MAX_PAGE` bytes; a page that fails either check
is replaced by a page of its own, as is the page of a submission that could not run
(:func:`failure_page`).
"""

from __future__ import annotations

import html
import re

from ..cells import BEGIN_HIDDEN, END_HIDDEN, hidden_lines

MAX_PAGE = 5_000_000

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
            if (
                len(line) >= shortest
                and BEGIN_HIDDEN not in line
                and END_HIDDEN not in line
                and line not in released
            ):
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
    outcome = str(outcome)
    color = "#2e7d32" if outcome in {"graded", "repaired"} else "#c62828"
    return (
        f'<div class="course-outcome" style="border:2px solid {color};padding:0.8em;margin:1em;'
        f'font-family:sans-serif"><b>Grading outcome: {html.escape(outcome)}</b> '
        f"&mdash; score {total:g} / {max_total:g}<br>{html.escape(reason)}</div>"
    )


def with_banner(html_page: str, box: str) -> str:
    match = re.search(r"<body[^>]*>", html_page)
    return html_page[: match.end()] + box + html_page[match.end() :] if match else box + html_page


def failure_page(student: str, lab: str, box: str, scores: dict[str, list[float]]) -> str:
    """Feedback for a submission that could not be run at all."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{s:g} / {m:g}</td></tr>" for name, (s, m) in scores.items()
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(lab)} feedback for "
        f"{html.escape(student)}</title></head><body>{box}<table style='margin:1em'>"
        f"<tr><th>test</th><th>points</th></tr>{rows}</table></body></html>\n"
    )
