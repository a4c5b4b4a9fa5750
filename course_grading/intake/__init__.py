"""``course-grade ingest`` and ``repair``: from what students handed in to notebooks nbgrader can grade."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from .. import records
from ..outcomes import Outcome
from ..records import Record
from .ingest import ingest, received_file, students
from .repair import repair

Progress = Callable[[str, Record, int, int], None]


def _quiet(phase: str, record: Record, done: int, total: int) -> None:
    pass


def run_ingest(
    root: Path, lab: str, source: Path, roster: Path | None = None, progress: Progress = _quiet
) -> list[Record]:
    found = ingest(lab, source, root, roster)
    for i, record in enumerate(found, 1):
        progress("ingest", record, i, len(found))
    return found


def run_repair(
    root: Path, lab: str, names: list[str] | None = None, progress: Progress = _quiet
) -> list[Record]:
    """Repair every received file into ``submitted/<student>/<lab>/<lab>.ipynb`` (or record why not)."""
    from ..autograde.run import ensure_assignment

    released = json.loads(ensure_assignment(root, lab).read_text())
    names = names or students(root, lab)
    out = []
    for i, student in enumerate(names, 1):
        record = records.load(root, lab, student)
        source = received_file(root, lab, student)
        target = root / "submitted" / student / lab / f"{lab}.ipynb"
        if source == target:  # nbgrader's layout, never ingested: keep the original first
            keep = root / "received" / student / lab / target.name
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, keep)
            source = keep
        fixed = None
        if source is None:
            record.set(Outcome.EMPTY, "nothing was handed in")
        else:
            fixed = repair(source.read_bytes(), released, lab)
            record.repairs = fixed.changes
            if fixed.outcome:
                record.set(fixed.outcome, fixed.detail)
            else:
                record.outcome, record.reason = Outcome.PENDING, ""
        if fixed is not None and fixed.notebook is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(fixed.notebook, indent=1, ensure_ascii=False) + "\n")
        elif target.exists():
            target.unlink()
        records.save(record, root)
        out.append(record)
        progress("repair", record, i, len(names))
    return out


__all__ = ["received_file", "repair", "run_ingest", "run_repair", "students"]
