"""Every outcome a student's grading record can end with, in words an instructor can read.

The kinds of bad submission that lead to them are in ``tests/course_grading/hostile.py``.
"""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    """How grading one submission ended (its value is what records and CSVs show)."""

    PENDING = "pending"
    GRADED = "graded"
    REPAIRED = "repaired"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    PROCESSES = "processes"
    KERNEL_DIED = "kernel_died"
    WALL_CLOCK = "wall_clock"
    NOT_JSON = "not_json"
    NOT_NOTEBOOK = "not_notebook"
    EMPTY = "empty"
    WRONG_LAB = "wrong_lab"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def meaning(self) -> str:
        return MEANINGS[self]

    @property
    def from_tests(self) -> bool:
        """Whether the points come from running the tests (possibly some zeroed)."""
        return self in {Outcome.GRADED, Outcome.REPAIRED, Outcome.TIMEOUT}

    @property
    def unrunnable(self) -> bool:
        """The file cannot be run at all: nothing to autograde."""
        return self in {Outcome.NOT_JSON, Outcome.NOT_NOTEBOOK, Outcome.EMPTY, Outcome.WRONG_LAB}

    def reason(self, detail: str) -> str:
        """The sentence recorded for the instructor: the outcome, then what happened (or what it means)."""
        return f"{self.value}: {detail or self.meaning}"


MEANINGS = {
    Outcome.PENDING: "not graded yet",
    Outcome.GRADED: "the notebook ran; points are what its tests gave",
    Outcome.REPAIRED: "the notebook was repaired (cell metadata, duplicated, edited or deleted cells, cut "
                      "attachments) before it ran; points are what its tests gave",
    Outcome.TIMEOUT: "a cell ran past the cell time limit and was interrupted; the tests after it score 0, "
                     "because the notebook never gets past that cell",
    Outcome.MEMORY: "the kernel passed the memory limit and was killed: 0 points",
    Outcome.PROCESSES: "the kernel's code tried to run more processes and threads at once than the "
                       "process limit allows, and was killed at the first one refused: 0 points",
    Outcome.KERNEL_DIED: "the student's code ended or crashed the kernel: 0 points",
    Outcome.WALL_CLOCK: "grading this submission passed its time limit and was stopped: 0 points",
    Outcome.NOT_JSON: "the file is not JSON, so not a notebook: 0 points",
    Outcome.NOT_NOTEBOOK: "the file is JSON but not a Jupyter notebook: 0 points",
    Outcome.EMPTY: "the file is empty: 0 points",
    Outcome.WRONG_LAB: "the notebook is another lab's (or has none of this lab's cells): 0 points",
    Outcome.ERROR: "the grader failed on this notebook for another reason: 0 points",
}
