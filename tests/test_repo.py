"""The README's commands, CI, and the notebooks' Colab cells agree with each other."""

from __future__ import annotations

import json
import re

import tomllib

from tests.conftest import REPO, all_notebooks

README = (REPO / "README.md").read_text()
REPOSITORY = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


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
