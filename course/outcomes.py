"""Every outcome a student's grading record can end with, in words an instructor can read.

:data:`OUTCOMES` says what each one means and whether the points come from the tests.
The kinds of bad submission that lead to them are in ``tests/hostile.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    kind: str
    graded: bool  # points come from running the tests (possibly with some zeroed)
    meaning: str


OUTCOMES = {o.kind: o for o in (
    Outcome("graded", True, "the notebook ran; points are what its tests gave"),
    Outcome("repaired", True, "the notebook was repaired (cell metadata, duplicated, edited or deleted "
                              "cells) before it ran; points are what its tests gave"),
    Outcome("timeout", True, "a cell ran past the cell time limit and was interrupted; the tests after "
                             "it score 0, because the notebook never gets past that cell"),
    Outcome("memory", False, "the kernel passed the memory limit and was killed: 0 points"),
    Outcome("kernel_died", False, "the student's code ended or crashed the kernel: 0 points"),
    Outcome("wall_clock", False, "grading this submission passed its time limit and was stopped: 0 points"),
    Outcome("not_json", False, "the file is not JSON, so not a notebook: 0 points"),
    Outcome("not_notebook", False, "the file is JSON but not a Jupyter notebook: 0 points"),
    Outcome("empty", False, "the file is empty: 0 points"),
    Outcome("wrong_lab", False, "the notebook is another lab's (or has none of this lab's cells): 0 points"),
    Outcome("error", False, "nbgrader failed on this notebook for another reason: 0 points"),
)}


def reason(kind: str, detail: str) -> str:
    """The sentence recorded for the instructor: the outcome's meaning, then what happened."""
    meaning = OUTCOMES[kind].meaning
    return f"{kind}: {detail}" if detail else f"{kind}: {meaning}"
