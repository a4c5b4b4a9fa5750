"""Static checks of the cells a student wrote, for code that changes how the tests run.

A student's code runs in the same Python process as the tests that grade it, so it can
replace ``checks.check_...`` or ``numpy.testing.assert_allclose`` with a function that
always passes, or hook IPython so later cells never run. The sandbox cannot stop that
(it is the student's own process); this module finds it in the source instead:

* assigning to an attribute of an imported name; ``setattr``/``delattr`` on anything
  but ``self``; ``__dict__``; ``importlib``;
* ``get_ipython()`` for anything but running a magic or shell command;
* ``builtins`` / ``__builtins__``, ``sys.modules``, ``sys.settrace``, ``sys.setprofile``,
  ``sys.meta_path``, ``sys.excepthook``;
* ``exec``, ``eval``, ``compile``, ``__import__`` (code that cannot be read before it runs);
* IPython's input history (``In``, ``_ih``, ``_i3``...), which holds the tests' source.

A determined student can hide such code from any static check; the feedback's own
check (:func:`course.feedback.leaks`) still keeps hidden tests out of what students see.

Only student-editable cells are scanned (locked cells are restored by nbgrader).
"""

from __future__ import annotations

import ast

MAGIC_CALLS = {"run_line_magic", "run_cell_magic", "system", "getoutput"}
SYS_HOOKS = {"modules", "settrace", "setprofile", "meta_path", "path_hooks", "excepthook", "displayhook",
             "_getframe"}
HISTORY = {"In", "Out", "_ih", "_oh", "_i", "_ii", "_iii", "_dh"}  # IPython's history holds the tests' source
DYNAMIC = {"exec", "eval", "compile", "__import__"}


def python_source(cell_source: str) -> str:
    """The cell as plain Python: IPython magics and ``!`` commands become ``get_ipython()`` calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def imported_names(sources: list[str]) -> set[str]:
    """Names bound by import statements anywhere in the notebook."""
    names = {"builtins", "sys"}
    for source in sources:
        try:
            tree = ast.parse(python_source(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    names.add((alias.asname or alias.name).split(".")[0])
    return names


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def findings(source: str, modules: set[str]) -> list[str]:
    """What in this cell changes how tests run, one phrase per finding (empty when clean)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    found: list[str] = []
    magic_calls = {id(n.func.value) for n in ast.walk(tree) if isinstance(n, ast.Call)
                   and isinstance(n.func, ast.Attribute) and n.func.attr in MAGIC_CALLS}
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            name = _dotted(target) if isinstance(target, ast.Attribute) else None
            if name and name.split(".")[0] in modules:
                found.append(f"assigns {name}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in {"setattr", "delattr"} and node.args:
                root = _dotted(node.args[0]) or "an object"
                if root.split(".")[0] not in {"self", "cls"}:
                    found.append(f"calls {node.func.id} on {root}")
            target = (_dotted(node.args[0]) or "") if node.args else ""
            if node.func.id == "vars" and target.split(".")[0] in modules:
                found.append(f"uses vars({target}) (changes a module behind its back)")
            if node.func.id in DYNAMIC:
                found.append(f"calls {node.func.id}() (code that cannot be read before it runs)")
        if isinstance(node, ast.Call) and id(node) not in magic_calls and (
                isinstance(node.func, ast.Name) and node.func.id == "get_ipython"
                or isinstance(node.func, ast.Attribute) and node.func.attr == "get_ipython"):
            found.append("uses get_ipython() to change IPython")
        if isinstance(node, ast.Name) and node.id in {"__builtins__", "builtins"}:
            found.append(f"uses {node.id}")
        name = node.id if isinstance(node, ast.Name) else ""
        if name in HISTORY or name[:2] == "_i" and name[2:].isdigit():
            found.append(f"reads IPython's input history ({name}), which holds the test cells' source")
        if isinstance(node, ast.Attribute) and node.attr == "__dict__":
            found.append("uses __dict__ (changes an object behind its back)")
        if isinstance(node, ast.Name) and node.id == "importlib":
            found.append("uses importlib (modules chosen at run time)")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "sys" and node.attr in SYS_HOOKS:
            found.append(f"uses sys.{node.attr}")
    return sorted(set(found))
