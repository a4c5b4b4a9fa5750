"""What the grader asks a student's kernel while it grades a lab (students need not read this).

The grader replaces each test cell by a request to *ask* (never to judge): the kernel calls
the student's functions as the check's ``ask`` does and writes what they gave into an
answer folder (:func:`course.checks.answers.write_answer`). The grader reads that folder
and judges it in its own process. The functions a test named are kept, so that the
hidden tests, asked for after the last cell, use the functions as they were at the test,
with the names they used then (a later cell that rebinds ``np`` or runs ``%reset`` changes
nothing for them).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path

from . import CHECKS
from .answers import quiet_stderr, write_answer

_kept: dict[tuple[str, str], tuple] = {}


def _ask(folder: str, check: str, functions: tuple, params: dict) -> None:
    with quiet_stderr():
        data = CHECKS[check].ask(*functions, **params)
    write_answer(Path(folder), data)


def _as_they_are(functions: tuple) -> tuple:
    """The functions, each seeing a copy of the notebook's names as they are now."""
    out = []
    for fn in functions:
        if isinstance(fn, types.FunctionType):
            names = dict(fn.__globals__)
            copy = types.FunctionType(fn.__code__, names, fn.__name__, fn.__defaults__, fn.__closure__)
            copy.__kwdefaults__, copy.__dict__ = fn.__kwdefaults__, dict(fn.__dict__)
            names[fn.__name__] = copy
            out.append(copy)
        else:
            out.append(fn)
    return tuple(out)


def answer(folder: str, test: str, check: str, functions: Callable[[], tuple], params: dict) -> None:
    """Ask ``check`` of the functions named in test cell ``test``; keep them for the hidden tests."""
    try:
        found = functions()
        _kept[(test, check)] = _as_they_are(found)
        _ask(folder, check, found, params)
    except BaseException as err:  # noqa: BLE001 - the student's exception is the answer
        write_answer(Path(folder), {}, raised=err)


def keep(folder: str, test: str, check: str, functions: Callable[[], tuple]) -> None:
    """Keep the functions of a hidden test that no visible test of the cell names."""
    try:
        _kept[(test, check)] = _as_they_are(functions())
    except BaseException:  # noqa: BLE001 - then the hidden test finds nothing kept
        pass


def answer_again(folder: str, test: str, check: str, params: dict) -> None:
    """Ask ``check`` again, with other parameters, of the functions kept at test cell ``test``."""
    try:
        _ask(folder, check, _kept[(test, check)], params)
    except BaseException as err:  # noqa: BLE001
        write_answer(Path(folder), {}, raised=err)
