"""Write the sample submissions the repository ships: samples/<lab>/submitted/ and a roster.

Made from each lab's solutions with seeded wrong answers and the round trips students
really do (Colab download, pasted cells, a cut download); no real student's work.
File names follow Moodle's "download all submissions" pattern, so `course-grade ingest`
maps them to the roster's ids. The folder is named ``submitted`` (nbgrader's name) so
the repository's notebook checks, which skip such folders, leave these files alone.
Run again after changing a lab:

    .venv/bin/python scripts/make_samples.py [LAB ...]
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the test fixtures build the notebooks

from course_grading.course_root import copy_course_root, nbgrader  # noqa: E402
from tests.submissions import Lab, colab_round_trip, duplicate_cells, returns_none, to_bytes  # noqa: E402

STUDENTS = [  # (roster id, name, e-mail, what they hand in)
    ("2024001", "Ana Souza", "ana.souza@example.edu", "solved"),
    ("2024002", "Bruno Lima", "bruno.lima@example.edu", "last exercise wrong"),
    ("2024003", "Carla Dias", "carla.dias@example.edu", "unanswered"),
    ("2024004", "Davi Rocha", "davi.rocha@example.edu", "Colab download of a solved notebook"),
    ("2024005", "Eva Nunes", "eva.nunes@example.edu", "cells pasted twice, first exercise wrong"),
    ("2024006", "Felipe Melo", "felipe.melo@example.edu", "a cut download (not JSON)"),
]


def notebook_for(lab: Lab, what: str) -> bytes:
    first_id, first = next(iter(lab.solutions().items()))
    last_id, last = lab.last_solution()
    if what == "solved":
        return to_bytes(lab.notebook())
    if what == "last exercise wrong":
        return to_bytes(lab.notebook({last_id: returns_none(last)}))
    if what == "unanswered":
        return to_bytes(lab.notebook(solved=False))
    if what.startswith("Colab"):
        return to_bytes(colab_round_trip(lab.notebook()))
    if what.startswith("cells pasted"):
        wrong_first = lab.notebook({first_id: returns_none(first)})
        return to_bytes(duplicate_cells(wrong_first, [first_id, lab.tests()[-1]]))
    return b'{"cells": [{"cell_type": "code", "source": "def f('  # a download cut short


def make(lab_name: str, out: Path) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:  # release in a scratch copy: labs/ may lag behind the source
        root = Path(tmp) / "autograder"
        copy_course_root(REPO / "autograder", root, [lab_name])
        nbgrader(["generate_assignment", lab_name, "--force"], root)
        lab = Lab.load(lab_name, root)
    folder = out / lab_name / "submitted"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    written = []
    for number, (_, name, _, what) in enumerate(STUDENTS, start=48101):  # Moodle's participant number
        stem = f"Copy of {lab_name}" if what.startswith("Colab") else lab_name
        path = folder / f"{name}_{number}_assignsubmission_file_{stem}.ipynb"
        path.write_bytes(notebook_for(lab, what))
        written.append(path)
    with (out / lab_name / "roster.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "email", "hands_in"])
        writer.writerows(STUDENTS)
    return written


def main(argv: list[str]) -> int:
    for lab in argv or ["lab02_dense_autoencoder"]:  # the repository ships lab02's
        for path in make(lab, REPO / "samples"):
            print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
