"""Every lab's tests catch plausible wrong answers, through the real nbgrader pipeline.

One ``nbgrader autograde`` call per lab grades the solution, the untouched release and the
seeded wrong answers (tests/wrong_answers.py). To keep CI short, one submission carries
several wrong answers: the j-th wrong answer of every other exercise (odd ones, or even
ones), so that the exercises left right in it show that the wrong ones beside them cost
them nothing. ``COURSE_WRONG_ANSWERS=each`` grades one submission per wrong answer instead
(about 3x slower). Required: the solution scores full marks, the release scores 0 without a
pipeline error, each wrong answer loses the points of its own exercise, and no exercise
answered right loses any. tests/course/test_checks.py also runs each wrong answer alone through
its test cell. The fraction caught per lab is printed and written to
``test-artifacts/wrong_answers/<lab>.json``.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from nbgrader.api import Gradebook

from course_grading.course_root import nbgrader
from tests.conftest import ARTIFACTS
from tests.course.wrong_answers import WRONG_ANSWERS, wrong_answers
from tests.submissions import submission, write_submission

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


def gradebook_scores(root, lab: str) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """{student: {test cell: score}} and {test cell: max points}."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment(lab)
        max_points = {cell.name: cell.max_score for nb in assignment.notebooks
                      for cell in nb.grade_cells}
        scores = {}
        for student in gb.students:
            try:
                sub = gb.find_submission_notebook(lab, lab, student.id)
            except Exception:  # not graded: counts as a pipeline failure below
                continue
            scores[student.id] = {g.name: g.score for g in sub.grades}
    return scores, max_points


def errors_in(notebook_path) -> set[str]:
    nb = json.loads(notebook_path.read_text())
    return {o["ename"] for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if o["output_type"] == "error"}


@pytest.mark.parametrize("lab", sorted(WRONG_ANSWERS))
def test_wrong_answers_lose_points_on_their_exercise_only(lab, course_copy):
    root = course_copy
    nbgrader(["generate_assignment", lab, "--force"], root)
    released = root / "release" / lab / f"{lab}.ipynb"
    source = root / "source" / lab / f"{lab}.ipynb"
    answers = wrong_answers(lab)
    write_submission(root, "solution", lab, submission(released, source))
    write_submission(root, "released", lab, submission(released, source, solved=False))
    carried = submissions_carrying(answers)
    for student, wrong in carried.items():
        write_submission(root, student, lab, submission(
            released, source, answers={gid: code for gid, (_, code) in wrong.items()}))

    start = time.monotonic()
    nbgrader(["autograde", lab, "--create", "--force"], root)
    seconds = time.monotonic() - start
    scores, max_points = gradebook_scores(root, lab)

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
              "autograde_seconds": round(seconds, 1), "results": results}
    out = ARTIFACTS / "wrong_answers"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{lab}.json").write_text(json.dumps(report, indent=1))
    print(f"{lab}: caught {n_caught}/{len(answers)} wrong answers "
          f"({report['fraction_caught']:.0%}); {len(carried) + 2} submissions autograded "
          f"in {seconds:.0f} s")
    assert not problems, "\n".join(problems)
