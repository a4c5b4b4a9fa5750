"""Every lab's tests catch plausible wrong answers, through the real grading pipeline.

One ``course-grade run-all`` per lab (the instructor's command: nbgrader's autograde in a
sandbox, with the trusted checks deciding the points) grades the solution, the untouched
release and the seeded wrong answers (tests/course/wrong_answers.py). To keep CI short, one
submission carries several wrong answers: the j-th wrong answer of every other exercise (odd
ones, or even ones), so that the exercises left right in it show that the wrong ones beside
them cost them nothing; and grading stops after the last test cell (the lab's ungraded
training cells after it decide no points). ``COURSE_WRONG_ANSWERS=each`` grades one
submission per wrong answer instead (about 3x slower). Required: the solution scores full
marks, the release scores 0 without a pipeline error, each wrong answer loses the points of
its own exercise, and no exercise answered right loses any. tests/course/test_checks.py also
runs each wrong answer alone through its test cell, and test_nbgrader_pipeline.py grades a
wrong answer with plain ``nbgrader autograde``. The fraction caught per lab is printed and
written to ``test-artifacts/wrong_answers/<lab>.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from course_grading import pipeline
from tests.conftest import ARTIFACTS
from tests.course.wrong_answers import WRONG_ANSWERS, wrong_answers
from tests.submissions import Lab, run_all, to_bytes

pytestmark = pytest.mark.nbgrader


def submissions_carrying(answers: list[tuple[str, str, str]]) -> dict[str, dict[str, tuple[str, str]]]:
    """{student id: {solution grade_id: (wrong answer's name, code)}}: which wrong answers
    each submission carries (see the module's docstring)."""
    by_exercise: dict[str, list[tuple[str, str]]] = {}
    for gid, name, code in answers:
        by_exercise.setdefault(gid, []).append((name, code))
    exercises = list(by_exercise)
    if os.environ.get("COURSE_WRONG_ANSWERS") == "each":
        return {f"{gid.removesuffix('_solution')}-{name}": {gid: (name, code)} for gid, name, code in answers}
    carried = {}
    for j in range(max(len(v) for v in by_exercise.values())):
        for parity in ("odd", "even"):
            chosen = {gid: by_exercise[gid][j] for i, gid in enumerate(exercises)
                      if i % 2 == (parity == "even") and j < len(by_exercise[gid])}
            if chosen:
                carried[f"wrong{j + 1}-{parity}"] = chosen
    return carried


def graded_cell(gid: str) -> str:
    return gid.replace("_solution", "_test")


def errors_in(notebook_path) -> set[str]:
    nb = json.loads(notebook_path.read_text())
    return {o["ename"] for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if o["output_type"] == "error"}


def grade(root: Path, lab: str, inbox: Path) -> float:
    """``course-grade run-all`` on ``inbox``, as an instructor runs it; returns its seconds."""
    start = time.monotonic()
    run_all(root, lab, inbox, "--workers", "2", "--cell-timeout", "300", "--timeout", "900",
            "--stop-after-last-test")
    return time.monotonic() - start


@pytest.mark.parametrize("lab", sorted(WRONG_ANSWERS))
def test_wrong_answers_lose_points_on_their_exercise_only(lab, course_copy, tmp_path):
    root = course_copy
    pipeline.ensure_assignment(root, lab)
    the_lab = Lab.load(lab, root)
    answers = wrong_answers(lab)
    carried = submissions_carrying(answers)
    notebooks = {"solution": the_lab.notebook(), "released": the_lab.notebook(solved=False)}
    for student, wrong in carried.items():
        notebooks[student] = the_lab.notebook({gid: code for gid, (_, code) in wrong.items()})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for student, nb in notebooks.items():
        (inbox / f"{student}.ipynb").write_bytes(to_bytes(nb))

    seconds = grade(root, lab, inbox)
    final = pipeline.final_scores(root, lab)
    scores = {student: {cell: score for cell, (score, _) in cells.items()}
              for student, cells in final.items()}
    max_points = {cell: top for cell, (_, top) in final["solution"].items()}
    assert set(max_points) == set(the_lab.tests()), max_points

    assert scores["solution"] == max_points, f"the solution does not score full marks: {scores['solution']}"
    assert scores["released"] == dict.fromkeys(max_points, 0), scores["released"]
    unexpected = errors_in(root / "autograded" / "released" / lab / f"{lab}.ipynb") - {
        "NotImplementedError"}
    assert not unexpected, f"the released notebook fails with {unexpected}, not only NotImplementedError"
    results, problems = [], []
    for student, wrong in carried.items():
        got = scores.get(student)
        if got is None:
            problems.append(f"{student}: not graded")
            continue
        own = {graded_cell(gid) for gid in wrong}
        collateral = sorted(cell for cell, score in got.items()
                            if cell not in own and score < max_points[cell])
        if collateral:
            problems.append(f"{student} (wrong: {sorted(own)}) also lost points on {collateral}")
        for gid, (name, _) in wrong.items():
            cell = graded_cell(gid)
            caught = got[cell] < max_points[cell]
            results.append({"exercise": cell, "wrong_answer": name, "student": student, "caught": caught,
                            "score": got[cell], "max": max_points[cell], "other_cells_lost": collateral})
            if not caught:
                problems.append(f"{student}: {name} not caught, {cell} scored {got[cell]}/{max_points[cell]}")

    n_caught = sum(r["caught"] for r in results)
    report = {"lab": lab, "caught": n_caught, "wrong_answers": len(answers),
              "fraction_caught": n_caught / len(answers), "submissions": len(carried) + 2,
              "grading_seconds": round(seconds, 1), "results": results}
    out = ARTIFACTS / "wrong_answers"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{lab}.json").write_text(json.dumps(report, indent=1))
    print(f"{lab}: caught {n_caught}/{len(answers)} wrong answers "
          f"({report['fraction_caught']:.0%}); {len(carried) + 2} submissions graded "
          f"in {seconds:.0f} s")
    assert not problems, "\n".join(problems)
