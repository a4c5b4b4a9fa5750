"""``course-grade publish``: a student edition with nothing a student must not see, that works
from a fresh clone with its README's commands."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from course_grading.feedback.pages import hidden_test_lines
from course_grading.publish import PublishError, check, publish, secrets
from tests.conftest import REPO, lab_names

pytestmark = [pytest.mark.slow]
if os.environ.get("PYTEST_XDIST_WORKER"):  # the marker exists only with xdist
    pytestmark.append(pytest.mark.xdist_group("publish"))  # one worker builds the shared fixture once
PARTS = ("course", "lectures", "labs", "scripts", "student_edition", "pyproject.toml", "README.md")


def instructor_copy(dest: Path) -> Path:
    """The parts of the instructor's repository that publish reads, in a scratch folder."""
    for part in PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(
                source, dest / part, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
            )
        else:
            shutil.copy2(source, dest / part)
    (dest / "autograder").mkdir()
    shutil.copy2(REPO / "autograder" / "nbgrader_config.py", dest / "autograder")
    shutil.copy2(REPO / "autograder" / "student_edition.cfg", dest / "autograder")
    shutil.copytree(REPO / "autograder" / "source", dest / "autograder" / "source")
    return dest / "autograder"


def code_without_links(path: Path) -> list[str]:
    """The notebook's cells with the Colab badge's and the install line's repository blanked out."""
    cells = json.loads(path.read_text())["cells"]
    return [re.sub(r"github\.com/\S+|git\+\S+", "LINK", "".join(c["source"])) for c in cells]


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> tuple[Path, Path]:
    root = instructor_copy(tmp_path_factory.mktemp("instructor"))
    out = publish(root, tmp_path_factory.mktemp("published") / "autoencoders-course")
    return root, out


def test_the_edition_holds_the_course_and_nothing_of_the_grading(edition):
    root, out = edition
    assert {p.name for p in out.iterdir()} == {
        "course",
        "lectures",
        "labs",
        "scripts",
        "tests",
        ".ci",
        ".gitignore",
        "README.md",
        "pyproject.toml",
    }
    assert {p.stem for p in (out / "labs").glob("*.ipynb")} == set(lab_names())
    assert len(list((out / "lectures").glob("*.ipynb"))) == len(list((REPO / "lectures").glob("*.ipynb")))
    assert not (out / "course_grading").exists() and not (out / "autograder").exists()
    assert (
        "grader" not in (out / "pyproject.toml").read_text()
        and "nbgrader" not in (out / "pyproject.toml").read_text()
    )
    assert (out / "scripts" / "run-course.sh").is_file() and (out / "scripts" / "check-course.sh").is_file()


def test_no_solution_or_hidden_test_is_in_it(edition):
    root, out = edition
    everything = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    for lab in lab_names():
        source = json.loads((root / "source" / lab / f"{lab}.ipynb").read_text())
        released = json.loads((root / "release" / lab / f"{lab}.ipynb").read_text())
        hidden = hidden_test_lines(source, released)
        assert hidden and not [line for line in hidden if line in everything], lab
    public = "\n".join(p.read_text() for p in (out / "course").rglob("*.py"))
    public += "\n".join(
        "".join(c["source"])
        for p in (out / "lectures").glob("*.ipynb")
        for c in json.loads(p.read_text())["cells"]
    )
    assert (
        check(out, secrets(root, public)) == []
    )  # what students get anyway (the library, the lectures) is public
    for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "course_grading"):
        assert marker not in everything


def test_publish_refuses_an_edition_that_would_leak(tmp_path):
    root = instructor_copy(tmp_path / "instructor")
    source = json.loads(
        (root / "source" / "lab02_dense_autoencoder" / "lab02_dense_autoencoder.ipynb").read_text()
    )
    hidden = next(c for c in source["cells"] if "### BEGIN HIDDEN TESTS" in "".join(c["source"]))
    lecture = root.parent / "lectures" / "05_dense_autoencoder.ipynb"
    nb = json.loads(lecture.read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "oops", "metadata": {}, "source": hidden["source"]})
    lecture.write_text(json.dumps(nb))
    with pytest.raises(PublishError, match="must not"):
        publish(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def imported_modules(edition: Path) -> set[str]:
    """Top-level names of every module the edition's notebooks and library import, at any depth."""
    sources = [p.read_text() for p in (edition / "course").rglob("*.py")]
    for path in [*(edition / "lectures").glob("*.ipynb"), *(edition / "labs").glob("*.ipynb")]:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                # a shell or magic line (`!pip install`, `%matplotlib`) becomes `pass` at its indentation
                sources.append("\n".join(
                    line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in "!%" else line
                    for line in code.splitlines()
                ))
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.split(".")[0])
    return names - {"course", "__future__"}


def test_a_fresh_clone_runs_its_readme_commands(edition, tmp_path):
    """The README's two commands from a fresh clone: the check (first lecture, every lab up to its
    first exercise) and JupyterLab. Every notebook's full run is tests/test_notebooks.py's job (the
    edition's notebooks differ from the instructor's only in their links, checked here); what the
    edition could still lack is a dependency, so every module its code imports that the
    instructor's environment has must import in the edition's own environment too."""
    _, out = edition
    for folder in ("lectures", "labs"):
        for path in (out / folder).glob("*.ipynb"):
            ours = REPO / folder / path.name
            assert ours.exists(), path.name
            assert code_without_links(path) == code_without_links(ours), f"{folder}/{path.name} differs"
    git = ["git", "-c", "user.email=course@example.edu", "-c", "user.name=course"]
    subprocess.run([*git, "init", "-q"], cwd=out, check=True)
    subprocess.run([*git, "add", "-A"], cwd=out, check=True)
    subprocess.run([*git, "commit", "-qm", "student edition"], cwd=out, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(out), str(clone)], check=True)
    venv = tmp_path / "venv"
    env = {**os.environ, "COURSE_VENV": str(venv)}
    env.pop("CI", None)
    readme = (clone / "README.md").read_text()
    assert "bash scripts/run-course.sh" in readme and "bash scripts/check-course.sh" in readme
    checked = subprocess.run(
        ["bash", "scripts/check-course.sh"], cwd=clone, env=env, capture_output=True, text=True, timeout=2400
    )
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    ran = re.search(r"(\d+) passed", checked.stdout)
    assert ran and " failed" not in checked.stdout, checked.stdout[-2000:]
    # the library, the data, the links, the first lecture and each lab up to its first exercise
    assert int(ran.group(1)) == 3 + len(list((clone / "labs").glob("*.ipynb"))), checked.stdout[-2000:]

    # --all (the edition's CI) selects every notebook
    collected = subprocess.run(
        ["bash", "scripts/check-course.sh", "--all", "--collect-only"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-2000:]
    for path in [*(clone / "lectures").glob("*.ipynb")]:
        assert f"test_every_lecture_runs[{path.stem}]" in collected.stdout, path.name

    wanted = sorted(m for m in imported_modules(clone) if importlib.util.find_spec(m) is not None)
    assert {"keras", "numpy", "matplotlib", "ipywidgets"} <= set(wanted), wanted
    probe = ("import importlib.util, sys; "
             "print([m for m in sys.argv[1:] if importlib.util.find_spec(m) is None])")
    missing = subprocess.run([str(venv / "bin" / "python"), "-c", probe, *wanted], capture_output=True,
                             text=True, check=True, cwd=tmp_path).stdout.strip()
    assert missing == "[]", f"the student edition's environment lacks {missing}: add them to its dependencies"

    port, token = 18000 + os.getpid() % 1000, "student-edition-token"
    server = subprocess.Popen(
        [
            "bash",
            "scripts/run-course.sh",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
        ],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, listing = time.monotonic() + 180, None
        while time.monotonic() < deadline and listing is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/contents/lectures?token={token}", timeout=5
                ) as response:
                    listing = json.loads(response.read())
            except OSError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(1)
        assert listing and "04_autoencoder_framework.ipynb" in {item["name"] for item in listing["content"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
