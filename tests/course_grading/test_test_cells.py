"""How a test cell is read before the grader asks anything of the student's kernel."""

from __future__ import annotations

import pytest

from course_grading.autograde.test_cells import BadTestCell, split_test_cell


def test_test_cells_are_read_into_calls():
    source = (
        "# Test: the visible part\nchecks.check_compression_factor(compression_factor)\n"
        "### BEGIN HIDDEN TESTS\n# marker\n"
        "checks.check_compression_factor(compression_factor, cases=((64, 8),))\n### END HIDDEN TESTS\n"
    )
    visible, hidden = split_test_cell(source)
    assert [(c.check, c.functions) for c in visible] == [
        ("check_compression_factor", ("compression_factor",))
    ]
    assert visible[0].params == {"cases": ((784, 32), (784, 2))}
    assert hidden[0].params == {"cases": ((64, 8),)}


@pytest.mark.parametrize(
    "source, says",
    [
        ("assert f(2) == 4\n", "only calls of course.checks"),
        ("checks.check_compression_factor(lambda a, b: a / b)\n", "student function name"),
        ("checks.check_compression_factor(f, cases=make_cases())\n", "literals"),
        ("checks.check_compression_factor(f, **options)\n", "kwargs"),
        ("checks.check_compression_factor(f, bogus=1)\n", "unexpected arguments"),
        ("checks.check_compression_factor(f\n", "not Python"),
    ],
)
def test_test_cells_that_are_not_check_calls_are_the_instructors_error(source, says):
    with pytest.raises(BadTestCell, match=says):
        split_test_cell(source)
