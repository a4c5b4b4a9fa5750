"""course-grade: ingest from LMS-style names, repair, parallel autograde (equal to serial
nbgrader), feedback without hidden tests, CSV export; on lab02."""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from course_grading import pipeline, records
from course_grading.course_root import nbgrader
from course_grading.feedback.pages import hidden_test_lines, leaks
from course_grading.intake.ingest import ingest, name_from_file, slug
from course_grading.intake.repair import repair
from tests.conftest import REPO, copy_course_root
from tests.submissions import (
    Lab,
    colab_round_trip,
    duplicate_cells,
    nbgrader_meta,
    returns_none,
    run_all,
    to_bytes,
)

LAB = "lab02_dense_autoencoder"
ROSTER = "id,name,email,login\n2024101,Maria Silva,maria.silva@example.edu,\n" \
         "2024102,João Souza,joao@example.edu,souzajoao\n2024103,Pedro Alves,,\n" \
         "2024104,Lúcia Costa,lucia.costa@example.edu,\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    root = copy_course_root(tmp_path_factory.mktemp("released") / "autograder", [LAB])
    nbgrader(["generate_assignment", LAB, "--force"], root)
    return Lab.load(LAB, root)


# --------------------------------------------------------------------------- ingest


def test_names_from_lms_files():
    assert name_from_file(f"Maria Silva_48101_assignsubmission_file_{LAB}.ipynb", LAB) == \
        ("Maria Silva", "Moodle file name")
    assert name_from_file(f"souzajoao_LATE_4242_99002_{LAB}.ipynb", LAB) == ("souzajoao", "Canvas file name")
    assert name_from_file(f"{LAB} - Pedro Alves.ipynb", LAB)[0] == "Pedro Alves"
    assert name_from_file(f"Copy of {LAB} (1) lucia.costa@example.edu.ipynb", LAB)[0] == "lucia.costa"
    assert slug("Lúcia  Costa!") == "lucia_costa"


def test_ingest_maps_files_to_roster_ids(tmp_path):
    inbox, root = tmp_path / "inbox", tmp_path / "root"
    inbox.mkdir()
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    files = {
        f"Maria Silva_48101_assignsubmission_file_{LAB}.ipynb": "2024101",
        f"souzajoao_4242_99001_{LAB}.ipynb": None,  # older attempt of the same student
        f"souzajoao_LATE_4242_99002_{LAB}.ipynb": "2024102",
        f"{LAB} - Pedro Alves.ipynb": "2024103",
        f"Copy of {LAB} (1) lucia.costa@example.edu.ipynb": "2024104",
        "stranger.ipynb": "stranger",
    }
    for i, name in enumerate(files):
        (inbox / name).write_text(json.dumps({"n": i}))
        os.utime(inbox / name, (1_700_000_000 + i, 1_700_000_000 + i))
    (inbox / "2024999").mkdir()  # a folder per student
    (inbox / "2024999" / "my lab.ipynb").write_text("{}")
    found = {r.student: r for r in ingest(LAB, inbox, root, roster)}
    assert set(found) == {v for v in files.values() if v} | {"2024999"}
    joao = found["2024102"]
    assert joao.received.startswith("souzajoao_LATE") and any("also handed in" in n for n in joao.notes)
    assert any("NOT in the roster" in n for n in found["stranger"].notes)
    kept = root / "received" / "2024102" / LAB / f"souzajoao_LATE_4242_99002_{LAB}.ipynb"
    assert json.loads(kept.read_text()) == {"n": 2}
    assert records.load(root, LAB, "2024101").received.startswith("Maria Silva")

    archive = tmp_path / "moodle.zip"  # the same download as one zip
    with zipfile.ZipFile(archive, "w") as z:
        for name in files:
            z.write(inbox / name, f"lab02-submissions/{name}")
    again = {r.student for r in ingest(LAB, archive, tmp_path / "root2", roster)}
    assert again == {v for v in files.values() if v}


def test_ingest_reads_nbgrader_layout(tmp_path):
    for student in ("ana", "bruno"):
        folder = tmp_path / "submitted" / student / LAB
        folder.mkdir(parents=True)
        (folder / f"{LAB}.ipynb").write_text("{}")
    found = ingest(LAB, tmp_path, tmp_path / "root")
    assert [r.student for r in found] == ["ana", "bruno"]


def test_shipped_samples_map_to_the_roster(tmp_path):
    folder = REPO / "samples" / LAB
    with open(folder / "roster.csv") as f:
        roster_ids = {row["id"] for row in csv.DictReader(f)}
    found = ingest(LAB, folder, tmp_path, folder / "roster.csv")  # finds the files in folder/submitted
    assert {r.student for r in found} == roster_ids
    assert not any("NOT in the roster" in n for r in found for n in r.notes)


# --------------------------------------------------------------------------- repair


def test_repair_restores_colab_metadata(lab):
    fixed = repair(to_bytes(colab_round_trip(lab.notebook())), lab.released, LAB)
    assert fixed.outcome is None and "metadata restored" in fixed.changes[0]
    restored = [nbgrader_meta(c) for c in fixed.notebook["cells"]]
    assert restored == [nbgrader_meta(c) for c in lab.released["cells"]]
    assert not any("edited" in c or "missing" in c for c in fixed.changes)


def test_repair_keeps_one_copy_of_pasted_cells(lab):
    first = next(iter(lab.solutions()))
    fixed = repair(to_bytes(duplicate_cells(lab.notebook(), [first, lab.tests()[-1]])), lab.released, LAB)
    ids = [nbgrader_meta(c).get("grade_id") for c in fixed.notebook["cells"]]
    assert ids.count(first) == 1 and ids.count(lab.tests()[-1]) == 1
    assert len(fixed.notebook["cells"]) == len(lab.released["cells"]) + 1  # the answer's copy stays as code
    assert any("duplicate of test cell" in c and "removed" in c for c in fixed.changes)


def test_repair_puts_back_deleted_and_edited_tests(lab):
    nb = lab.notebook()
    test = lab.tests()[-1]
    index = next(i for i, c in enumerate(nb["cells"]) if nbgrader_meta(c).get("grade_id") == test)
    deleted = copy.deepcopy(nb)
    del deleted["cells"][index]
    fixed = repair(to_bytes(deleted), lab.released, LAB)
    assert nbgrader_meta(fixed.notebook["cells"][index]).get("grade_id") == test
    assert f"test cell {test} was missing: put back as released" in fixed.changes
    nb["cells"][index]["source"] = "pass\n"
    fixed = repair(to_bytes(nb), lab.released, LAB)
    assert fixed.notebook["cells"][index]["source"] == "".join(lab.released["cells"][index]["source"])
    assert f"test cell {test} was edited: restored as released" in fixed.changes


def test_repair_leaves_a_good_notebook_alone(lab):
    fixed = repair(to_bytes(lab.notebook()), lab.released, LAB)
    assert fixed.outcome is None and fixed.changes == []


@pytest.mark.parametrize("data, outcome", [
    (b"", "empty"), (b"   \n", "empty"), (b"PK\x03\x04 a zip file", "not_json"),
    (b'{"cells": 3}', "not_notebook"), (b"[1, 2]", "not_notebook"),
    (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "wrong_lab"),
])
def test_repair_refuses_what_is_not_this_lab(lab, data, outcome):
    assert repair(data, lab.released, LAB).outcome == outcome


# --------------------------------------------------------------------------- the whole pipeline


def course_root(path: Path) -> Path:
    return copy_course_root(path, [LAB])


def test_students_who_answered_more_are_graded_first(tmp_path, lab):
    """The batch's order (not its grades): unanswered notebooks, which stop at their first test,
    go last, so they fill the cores while the long jobs end; equals keep their index order."""
    from course_grading.autograde.job import Job
    from course_grading.autograde.run import longest_first

    released = tmp_path / "released.ipynb"
    released.write_text(json.dumps(lab.released))
    first, answer = next(iter(lab.solutions().items()))
    handed_in = {
        "unanswered": json.dumps(lab.notebook(solved=False)),
        "solved": json.dumps(lab.notebook()),
        "one answer": json.dumps(lab.notebook({first: answer}, solved=False)),
        "not a notebook": "{",
        "solved too": json.dumps(lab.notebook()),
    }
    settings = pipeline.Settings()
    jobs = [Job(LAB, name, i, nb, "", {}, "", settings) for i, (name, nb) in enumerate(handed_in.items())]
    order = [job.student for job in longest_first(jobs, released)]
    assert order == ["solved", "solved too", "one answer", "unanswered", "not a notebook"]


@pytest.mark.nbgrader
@pytest.mark.slow
def test_run_all_equals_serial_nbgrader(tmp_path, lab):
    gid, answer = lab.last_solution()
    notebooks = {"solved": lab.notebook(), "wrong_last": lab.notebook({gid: returns_none(answer)})}
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for student, nb in notebooks.items():
        (inbox / f"{student}.ipynb").write_bytes(to_bytes(nb))
    (inbox / "colab.ipynb").write_bytes(to_bytes(colab_round_trip(notebooks["solved"])))

    serial = course_root(tmp_path / "serial")  # plain nbgrader, one notebook after another
    nbgrader(["generate_assignment", LAB, "--force"], serial)
    for student, nb in notebooks.items():
        folder = serial / "submitted" / student / LAB
        folder.mkdir(parents=True)
        (folder / f"{LAB}.ipynb").write_bytes(to_bytes(nb))
    start = time.monotonic()
    nbgrader(["autograde", LAB, "--create", "--force"], serial)
    serial_seconds = time.monotonic() - start

    parallel = course_root(tmp_path / "parallel")
    start = time.monotonic()
    proc = run_all(parallel, LAB, inbox, "--workers", "2", "--cell-timeout", "120", "--out",
                   str(tmp_path / "out"), timeout=900)
    parallel_seconds = time.monotonic() - start
    print(f"serial nbgrader: {serial_seconds:.0f} s for 2; run-all: {parallel_seconds:.0f} s for 3")

    expected = pipeline.final_scores(serial, LAB)
    got = pipeline.final_scores(parallel, LAB)
    assert got["solved"] == expected["solved"] and got["wrong_last"] == expected["wrong_last"]
    assert got["colab"] == expected["solved"]  # repaired, then graded like the original
    assert sum(s for s, _ in got["solved"].values()) == sum(lab.points().values())

    hidden = hidden_test_lines(lab.source, lab.released)
    assert hidden
    for student in got:
        rec = records.load(parallel, LAB, student)
        html = (parallel / rec.feedback).read_text()
        assert not leaks(html, hidden) and f"Grading outcome: {rec.outcome}" in html
    assert records.load(parallel, LAB, "colab").outcome == "repaired"

    with open(tmp_path / "out" / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(lab.tests())
    for row in rows:
        assert float(row["score"]) == got[row["student"]][row["exercise"]][0]
        assert row["outcome"] in {"graded", "repaired"} and row["reason"]
    assert (tmp_path / "out" / "gradebook.db").stat().st_size > 0
    assert "students: " in proc.stdout and "gradebook (SQLite)" in proc.stdout


@pytest.mark.nbgrader
def test_wall_clock_limit_stops_a_submission_and_its_kernel(tmp_path, lab, monkeypatch, request):
    import tempfile

    import psutil

    from course_grading.autograde.job import Settings

    work = tempfile.mkdtemp(prefix="cgw", dir="/tmp")  # a work area of its own, to find its kernels
    monkeypatch.setattr(tempfile, "tempdir", work)
    request.addfinalizer(lambda: shutil.rmtree(work, ignore_errors=True))
    root = course_root(tmp_path / "root")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first, answer = next(iter(lab.solutions().items()))  # a solution that then sleeps for 10 minutes
    slow = lab.notebook({first: answer + "\nimport time\ntime.sleep(600)\n"})
    (inbox / "slow.ipynb").write_bytes(to_bytes(slow))
    pipeline.run_ingest(root, LAB, inbox)
    pipeline.run_repair(root, LAB)
    start = time.monotonic()
    [rec] = pipeline.run_autograde(root, LAB, Settings(workers=1, timeout=6, cell_timeout=900))
    assert time.monotonic() - start < 60
    assert rec.outcome == "wall_clock" and "6 s" in rec.reason and rec.total == 0
    time.sleep(1)
    left = [p.info for p in psutil.process_iter(["pid", "cmdline"])
            if work in " ".join(p.info["cmdline"] or [])]
    assert left == [], "the kernel outlived its submission's time limit"


@pytest.mark.nbgrader
def test_a_grader_that_already_ran_tensorflow_still_grades(tmp_path, lab):
    """TensorFlow's thread pools do not survive a fork: a worker forked from a process that had
    run an op would hang in the trusted checks' Keras. Such a worker grades in a fresh process."""
    import tensorflow as tf

    from course_grading.autograde.job import Settings
    from course_grading.autograde.worker import tensorflow_started

    float(tf.reduce_sum(tf.ones((4, 4))))  # this process has now run TensorFlow
    assert tensorflow_started()
    root = course_root(tmp_path / "root")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "after_tf.ipynb").write_bytes(to_bytes(lab.notebook()))
    pipeline.run_ingest(root, LAB, inbox)
    pipeline.run_repair(root, LAB)
    [rec] = pipeline.run_autograde(root, LAB, Settings(workers=1, timeout=300))
    assert (rec.outcome, rec.total) == ("graded", sum(lab.points().values())), rec.reason


@pytest.mark.parametrize("argv,says", [
    (["autograde", "lab99"], "no lab named 'lab99'"),
    (["release", "lab02_dense_autoencoder", "lab9"], "the labs are: lab01_curse_and_pca"),
    (["run-all", LAB, "/no/such/folder"], "does not exist: give the folder"),
    (["ingest", LAB, str(REPO / "samples"), "--roster", "/no/roster.csv"], "is not a file"),
])
def test_command_refuses_bad_arguments_with_a_clear_message(argv, says, capsys):
    from course_grading.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert says in capsys.readouterr().err


def test_command_refuses_a_folder_that_is_no_course_root(tmp_path, capsys):
    from course_grading.cli import main

    with pytest.raises(SystemExit):
        main(["--course-root", str(tmp_path), "autograde", LAB])
    err = capsys.readouterr().err
    assert "not an nbgrader course root" in err and "Give --course-root PATH or set COURSE_ROOT=PATH" in err


def test_course_root_comes_from_the_environment_or_the_working_folder(tmp_path, monkeypatch):
    from course_grading.course_root import NoCourseRoot, find_course_root

    root = copy_course_root(tmp_path / "elsewhere" / "autograder", [LAB])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoCourseRoot):
        find_course_root()
    monkeypatch.setenv("COURSE_ROOT", str(root))
    assert find_course_root() == root.resolve()
    monkeypatch.delenv("COURSE_ROOT")
    monkeypatch.chdir(root.parent)  # the instructor repository's layout: ./autograder
    assert find_course_root() == root.resolve()
