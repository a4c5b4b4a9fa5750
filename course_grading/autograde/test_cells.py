"""Read a test cell before the grader asks anything of the student's kernel.

A test cell may hold only calls of the course's checks, ``checks.check_x(student_fn, ...,
key=literal, ...)``, visible ones and, between nbgrader's markers, hidden ones. Anything
else is the instructor's mistake (:class:`BadTestCell`): a verdict must never depend on
running a test's code in the kernel.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from course.checks import CHECKS

from ..cells import BEGIN_HIDDEN, END_HIDDEN


class BadTestCell(ValueError):
    """A test cell holds something other than calls of the course's checks (the instructor's fix)."""


@dataclass(frozen=True)
class Call:
    """One ``checks.check_x(student_fn, ..., key=literal, ...)`` line of a test cell."""

    check: str
    functions: tuple[str, ...]
    params: dict


def _calls(source: str, where: str) -> list[Call]:
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise BadTestCell(f"{where}: not Python ({err.msg})") from None
    calls = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        func = call.func if isinstance(call, ast.Call) else None
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in CHECKS:
            raise BadTestCell(
                f"{where}, line {node.lineno}: only calls of course.checks.check_* may be "
                "in a test cell (a test's verdict is computed outside the student's kernel)"
            )
        check = CHECKS[name]
        if len(call.args) != check.functions or not all(isinstance(a, ast.Name) for a in call.args):
            raise BadTestCell(
                f"{where}, line {node.lineno}: {name} takes {check.functions} student "
                "function name(s), then keyword arguments"
            )
        try:
            given = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        except ValueError:
            raise BadTestCell(f"{where}, line {node.lineno}: {name}'s arguments must be literals") from None
        if len(given) != len(call.keywords):
            raise BadTestCell(f"{where}, line {node.lineno}: no **kwargs in a test cell")
        try:
            params = check.params(given)
        except TypeError as err:
            raise BadTestCell(f"{where}, line {node.lineno}: {err}") from None
        calls.append(Call(name, tuple(a.id for a in call.args), params))
    return calls


def split_test_cell(source: str, where: str = "test cell") -> tuple[list[Call], list[Call]]:
    """(visible calls, hidden calls) of a test cell's source, hidden tests included."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        elif line.strip() == END_HIDDEN:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return _calls("\n".join(visible), where), _calls("\n".join(hidden), f"{where} (hidden tests)")
