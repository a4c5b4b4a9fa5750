"""One grading record per student and lab: what was handed in, what happened, and why.

Records live beside nbgrader's folders, in ``<course root>/grading/<lab>/<student>.json``.
The phases of ``course-grade`` (ingest, repair, autograde, feedback) each update them;
export joins them with the scores in nbgrader's gradebook. A record is written to a
temporary file and renamed into place: a killed grader leaves the old one or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .outcomes import Outcome


@dataclass
class Record:
    student: str
    lab: str
    received: str = ""  # the file as handed in, relative to the ingested folder
    outcome: Outcome = Outcome.PENDING
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)  # grade cell -> [score, max]
    total: float = 0.0
    max_total: float = 0.0
    seconds: float = 0.0
    worker_peak_mb: float | None = None  # the nbgrader process that graded this student
    kernel_peak_mb: float | None = None  # the student's kernel (cgroup peak or reaped child's maxrss)
    judge_seconds: float | None = None  # time the trusted checks took in the grader's process
    flagged: bool = False  # code that looks like it changes how tests run (a flag, no points change)
    isolation: list[str] = field(default_factory=list)
    isolation_missing: list[str] = field(default_factory=list)
    feedback: str = ""  # the feedback HTML, relative to the course root
    timing: dict[str, float] = field(default_factory=dict)  # seconds: startup, student code, checks, merge...
    worker: str = ""  # the machine (or local pool slot) that graded it

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.outcome)

    @property
    def terminal(self) -> bool:
        """True when the submission cannot be run at all (nothing to autograde)."""
        return self.outcome.unrunnable

    def set(self, outcome: Outcome, detail: str = "") -> None:
        self.outcome, self.reason = outcome, outcome.reason(detail)


def folder(course_root: Path, lab: str) -> Path:
    return course_root / "grading" / lab


def save(record: Record, course_root: Path) -> Path:
    path = folder(course_root, record.lab) / f"{record.student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = {**asdict(record), "outcome": record.outcome.value}
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def load(course_root: Path, lab: str, student: str) -> Record:
    path = folder(course_root, lab) / f"{student}.json"
    if not path.exists():
        return Record(student, lab)
    data = json.loads(path.read_text())
    names = {f.name for f in fields(Record)}
    return Record(**{k: v for k, v in data.items() if k in names})


def load_all(course_root: Path, lab: str) -> list[Record]:
    return [load(course_root, lab, p.stem) for p in sorted(folder(course_root, lab).glob("*.json"))]
