"""What grading one student takes and gives: a self-contained job and its result, as data.

A :class:`Job` carries everything a worker needs, on this machine or another one with
no shared file system: the lab's nbgrader configuration and source folder, a copy of the
gradebook with the lab in it, the repaired submission, the limits, and the checksum of
the data the kernel is to get (the worker makes that copy itself from its own data set).
A :class:`Result` carries back everything grading produced: the scores, the outcome's
details, the graded notebook, what isolation the kernel had. Both travel as JSON.
"""

from __future__ import annotations

import base64
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..outcomes import Outcome


def default_workers() -> int:
    """One more worker than cores: a worker spends part of its time waiting (kernel start-up,
    nbgrader's files and gradebook), and the extra one keeps the cores busy. On 2 cores, 30
    students of lab02 in one command: 131.6 s with 2 workers, 110.4 s with 3; 4 gained no more
    than the noise (98.2 s against 101.2 s)."""
    return (os.cpu_count() or 1) + 1


@dataclass
class Settings:
    workers: int = field(default_factory=default_workers)
    cell_timeout: int | None = None  # seconds per cell; None: Execute.timeout of nbgrader_config.py
    timeout: int = 1200  # seconds per submission, wall clock, everything included
    memory_mb: int = 4096
    stop_after_last_test: bool = False  # skip the ungraded cells after the last test (faster, less feedback)
    kernel_threads: int = 0  # CPU threads per kernel for TF/OpenMP; 0: the libraries' default
    warm: bool = True  # fork kernels from a warm zygote per slot where the machine allows


@dataclass
class Job:
    """One student's grading, self-contained (see the module doc)."""

    lab: str
    student: str
    index: int  # the student's place in the batch (names the job's folder)
    notebook: str  # the repaired submission, as JSON text
    config: str  # the course's nbgrader_config.py
    source: dict[str, str]  # the lab's source folder: relative path -> base64 content
    gradebook: str  # base64 of a gradebook that knows the lab
    settings: Settings
    data_sha256: str | None = None  # of the grading copy of the data the kernel gets (None: no data)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Job:
        return cls(**{**data, "settings": Settings(**data["settings"])})


def pack(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def unpack(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(text))
    return path


@dataclass
class Grade:
    """One test cell's points as nbgrader scored it."""

    score: float | None
    max: float
    manual: bool = False


@dataclass
class Result:
    """What grading one student produced (see the module doc); ``outcome`` None: graded as usual."""

    outcome: Outcome | None
    detail: str = ""
    grades: dict[str, Grade] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # what the static scan saw (no points depend on it)
    failed_tests: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # isolation the kernel had
    missing: list[str] = field(default_factory=list)  # isolation it could not have
    kernel_peak_mb: float | None = None
    worker_peak_mb: float | None = None
    judge_seconds: float = 0.0
    graded_notebook: str | None = None  # the autograded notebook, as JSON text
    worker: str = ""  # where it ran
    timing: dict[str, float] = field(default_factory=dict)  # seconds: startup, student code, checks, nbgrader

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_json(self) -> dict:
        data = asdict(self)
        data["outcome"] = self.outcome.value if self.outcome else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> Result:
        grades = {k: Grade(**v) for k, v in data.get("grades", {}).items()}
        outcome = Outcome(data["outcome"]) if data.get("outcome") else None
        return cls(**{**data, "grades": grades, "outcome": outcome})

    def zeroed(self) -> dict[str, Grade]:
        """Every test at 0 (manually graded cells keep theirs)."""
        return {k: Grade(0.0 if not g.manual else g.score, g.max, g.manual) for k, g in self.grades.items()}
