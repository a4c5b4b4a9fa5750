"""The README's commands, CI, and the notebooks' Colab cells agree with each other."""

from __future__ import annotations

import json
import re

from course_grading.publish import student_repository
from tests.conftest import REPO, all_notebooks

README = (REPO / "README.md").read_text()
# the student repository, configured in one place (publish rewrites the notebooks from it)
REPOSITORY = student_repository(REPO / "autograder")[0]


def test_readme_commands_exist_and_ci_runs_the_test_command():
    for command in ("bash scripts/run-course.sh", "bash scripts/test-course.sh"):
        assert command in README
        assert (REPO / command.split()[1]).is_file()
    ci = (REPO / ".ci" / "run").read_text()
    assert "scripts/test-course.sh" in ci
    assert not re.search(r"\bpip\b|apt-get|pytest", ci), ".ci/run must only call the README command"


def test_every_notebook_installs_itself_in_colab_from_the_repository():
    slug = REPOSITORY.removeprefix("https://github.com/")
    for path in all_notebooks():
        cells = json.loads(path.read_text())["cells"]
        first_code = next("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert '"google.colab" in sys.modules' in first_code, f"{path.name}: no Colab cell first"
        assert f"git+{REPOSITORY}" in first_code, f"{path.name}: installs from elsewhere"
        badge = "".join(cells[0]["source"])
        rel = path.relative_to(REPO)
        if rel.parts[0] != "autograder":  # sources link to their released copy
            assert f"colab.research.google.com/github/{slug}/blob/main/{rel}" in badge, path.name


def test_the_student_repository_is_named_in_one_place():
    """pyproject's Repository (what Colab installs) is the student edition's repository."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Repository"] == REPOSITORY


def test_the_two_packages_do_not_import_in_a_circle():
    """course (students) never imports course_grading (instructors); no module cycles in either."""
    import ast

    graph: dict[str, set[str]] = {}
    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for package in ("course", "course_grading") for p in (REPO / package).rglob("*.py")}
    for module, path in files.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        deps = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:  # annotations only: not imported when the code runs
                continue
            if isinstance(node, ast.ImportFrom):
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
                target = ".".join(p for p in (base, node.module or "") if p)
                for alias in node.names:
                    deps.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in files else target)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[module] = deps
    for module, deps in graph.items():
        if module.startswith("course.") or module == "course":
            assert not any(d.startswith("course_grading") for d in deps), module
    modules = set(graph)
    edges = {m: {d for d in deps if d in modules and d != m} for m, deps in graph.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in edges[node]:
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    cycles = [c for m in sorted(modules) if (c := cycle_from(m))]
    assert not cycles, cycles[0]
