"""The real nbgrader pipeline on lab02, in a private copy of the course root."""

from __future__ import annotations

import pytest
from nbgrader.api import Gradebook

from course_grading.course_root import nbgrader
from tests.submissions import submission, write_submission

LAB = "lab02_dense_autoencoder"
POINTS = {"ex1_test": 3, "ex2_test": 2, "ex3_test": 1, "ex4_test": 2, "ex5_test": 1}
WRONG_FACTOR = '''def compression_factor(input_dim: int, code_size: int) -> float:
    return code_size / input_dim  # upside down
'''
PASSES_ONLY_VISIBLE = '''def compression_factor(input_dim: int, code_size: int) -> float:
    return 784 / code_size  # ignores input_dim: right only for 784-pixel images
'''

pytestmark = pytest.mark.nbgrader


def scores(root, student):
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(LAB, LAB, student)
        return {g.name: g.score for g in sub.grades}, gb.find_submission(LAB, student).score


def test_solution_full_blank_zero_one_wrong_loses_its_points(course_copy):
    root = course_copy
    nbgrader(["generate_assignment", LAB, "--force"], root)
    released = root / "release" / LAB / f"{LAB}.ipynb"
    source = root / "source" / LAB / f"{LAB}.ipynb"
    write_submission(root, "solved", LAB, submission(released, source))
    write_submission(root, "blank", LAB, submission(released, source, solved=False))
    write_submission(root, "wrong_ex3", LAB,
                     submission(released, source, answers={"ex3_solution": WRONG_FACTOR}))
    write_submission(root, "hidden_ex3", LAB,
                     submission(released, source, answers={"ex3_solution": PASSES_ONLY_VISIBLE}))

    nbgrader(["autograde", LAB, "--create", "--force"], root)

    per_cell, total = scores(root, "solved")
    assert per_cell == POINTS and total == sum(POINTS.values())
    per_cell, total = scores(root, "blank")
    assert per_cell == dict.fromkeys(POINTS, 0) and total == 0
    per_cell, total = scores(root, "wrong_ex3")
    assert per_cell == {**POINTS, "ex3_test": 0} and total == sum(POINTS.values()) - 1
    per_cell, total = scores(root, "hidden_ex3")  # caught by the hidden test only
    assert per_cell == {**POINTS, "ex3_test": 0}

    # feedback: the student's failure message, never the hidden tests
    nbgrader(["generate_feedback", LAB, "--force"], root)
    html = (root / "feedback" / "wrong_ex3" / LAB / f"{LAB}.html").read_text()
    assert "compression factor of 24.5" in html
    hidden_sources = ("HIDDEN TESTS", "cases=((64, 8)", "input_dim=64", "64-5-64", "n=3, seed=11")
    for student in ("solved", "blank", "wrong_ex3", "hidden_ex3"):
        html = (root / "feedback" / student / LAB / f"{LAB}.html").read_text()
        leaked = [s for s in hidden_sources if s in html]
        assert not leaked, f"{student}'s feedback shows hidden tests: {leaked}"
    html = (root / "feedback" / "hidden_ex3" / LAB / f"{LAB}.html").read_text()
    assert "A hidden test of this exercise failed." in html  # one fixed sentence, nothing of the test
