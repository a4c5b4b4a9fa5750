"""``course-grade publish``: a student edition with nothing a student must not see, that works
from a fresh clone with its README's commands."""

from __future__ import annotations

import json
import os
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


def test_a_fresh_clone_runs_its_readme_commands_and_every_notebook(edition, tmp_path):
    _, out = edition
    git = ["git", "-c", "user.email=course@example.edu", "-c", "user.name=course"]
    subprocess.run([*git, "init", "-q"], cwd=out, check=True)
    subprocess.run([*git, "add", "-A"], cwd=out, check=True)
    subprocess.run([*git, "commit", "-qm", "student edition"], cwd=out, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(out), str(clone)], check=True)
    env = {**os.environ, "COURSE_VENV": str(tmp_path / "venv")}
    env.pop("CI", None)
    readme = (clone / "README.md").read_text()
    assert "bash scripts/run-course.sh" in readme and "bash scripts/check-course.sh" in readme
    checked = subprocess.run(
        ["bash", "scripts/check-course.sh", "--all"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert " passed" in checked.stdout and " failed" not in checked.stdout
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
