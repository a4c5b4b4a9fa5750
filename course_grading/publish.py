"""``course-grade publish OUT``: the student edition, a complete repository for students.

It holds the lectures, the released labs (nbgrader's ``release/``: no solution, no hidden
test), the teaching library ``course``, a ``pyproject.toml`` that installs only that,
a README for students with its two commands (run the course, check the installation),
their scripts, a small test suite and its own CI. It holds no solution, no hidden test,
no grading code (``course_grading``), no sample submission, no benchmark.

Every notebook's Colab badge and install cell are rewritten to name the student
repository set in ``<course root>/student_edition.cfg``. Before it finishes, publish
reads back every file it wrote and refuses (removing ``OUT``) if any holds a line of a
solution or of a hidden test, nbgrader's markers, or the grading package's name.

Each term: ``course-grade release`` then ``course-grade publish OUT``, then commit ``OUT``
into the student repository (``git -C OUT add -A && git -C OUT commit``) and push.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
from pathlib import Path

import tomllib

from .cells import hidden_lines, is_solution, text
from .course_root import lab_names, released
from .release import normalized, release

SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
MARKERS = (
    "### BEGIN SOLUTION",
    "### END SOLUTION",
    "### BEGIN HIDDEN TESTS",
    "### END HIDDEN TESTS",
    "course_grading",
    "course-grade",
)
BADGE = re.compile(r"colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/")
INSTALL = re.compile(r"git\+https://github\.com/[^\s\"']+")


class PublishError(RuntimeError):
    """The student edition could not be written, or would have shown something it must not."""


def student_repository(root: Path) -> tuple[str, str]:
    """(repository URL, branch) of the student edition, from ``student_edition.cfg``."""
    config = configparser.ConfigParser()
    if not config.read(root / "student_edition.cfg"):
        raise PublishError(f"{root / 'student_edition.cfg'} is missing: it names the student repository")
    section = config["student edition"]
    return section["repository"].rstrip("/"), section.get("branch", "main")


def secrets(root: Path, public: str = "", min_length: int = 12) -> list[str]:
    """Lines of the labs' solutions and hidden tests that neither a released notebook nor
    ``public`` (the library and lectures students get anyway) shows."""
    found: set[str] = set()
    shown = public
    for lab in lab_names(root):
        source = json.loads((root / "source" / lab / f"{lab}.ipynb").read_text())
        shown += "\n".join(text(c) for c in json.loads(released(root, lab).read_text())["cells"])
        for cell in source["cells"]:
            cell_text = text(cell)
            lines = cell_text.splitlines()
            picked = [lines[n - 1] for n in hidden_lines(cell_text)]
            if is_solution(cell):
                picked += [line for block in SOLUTION.findall(cell_text) for line in block.splitlines()]
            found |= {line.strip() for line in picked if len(line.strip()) >= min_length}
    return sorted(s for s in found if s not in shown and not s.startswith("#"))


def _point_here(path: Path, repository: str, branch: str, rel: str) -> None:
    nb = json.loads(path.read_text())
    slug = repository.removeprefix("https://github.com/")
    for cell in nb["cells"]:
        source = text(cell)
        source = BADGE.sub(f"colab.research.google.com/github/{slug}/blob/{branch}/", source)
        source = INSTALL.sub(f"git+{repository}", source)
        cell["source"] = source
    path.write_text(json.dumps(normalized(nb), indent=1, ensure_ascii=False) + "\n")


def _course_map(out: Path) -> str:
    rows = ["| notebook | what it is about |", "| --- | --- |"]
    for folder in ("lectures", "labs"):
        for path in sorted((out / folder).glob("*.ipynb")):
            cells = json.loads(path.read_text())["cells"]
            title = text(cells[0]).strip().splitlines()[0].lstrip("# ").strip() if cells else path.stem
            rows.append(f"| `{folder}/{path.name}` | {title} |")
    return "\n".join(rows)


def _pyproject(repo: Path, repository: str) -> str:
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    template = (repo / "student_edition" / "pyproject.toml.in").read_text()
    return (
        template.replace("{version}", project["version"])
        .replace("{repository}", repository)
        .replace("{dependencies}", json.dumps(project["dependencies"]))
        .replace("{cpu}", json.dumps(extras["cpu"]))
        .replace("{tf}", json.dumps(extras["tf"]))
        .replace("{lab}", json.dumps(extras["lab"]))
    )


def check(out: Path, hidden: list[str]) -> list[str]:
    """What in ``out`` a student must not see: '<file>: <what>' for each finding."""
    found = []
    for path in sorted(out.rglob("*")):
        if not path.is_file() or ".git" in path.parts:
            continue
        content = path.read_text(errors="replace")
        if path.suffix == ".ipynb":  # the cells as written, not JSON-escaped
            try:
                content += "\n".join(text(c) for c in json.loads(content).get("cells", []))
            except (ValueError, AttributeError):
                pass
        rel = path.relative_to(out)
        found += [f"{rel}: {marker!r}" for marker in MARKERS if marker in content]
        found += [
            f"{rel}: a solution or hidden-test line ({line[:50]!r})" for line in hidden if line in content
        ]
    return found


def publish(root: Path, out: Path, force: bool = False) -> Path:
    """Write the student edition of the course at ``root`` into ``out`` (see the module doc)."""
    repo = root.parent
    if not (repo / "course").is_dir() or not (repo / "lectures").is_dir():
        raise PublishError(
            f"{repo} is not the instructor's repository (no course/ and lectures/ beside {root.name}/)"
        )
    if out.exists() and any(out.iterdir()):
        if not force:
            raise PublishError(f"{out} is not empty: give an empty folder, or --force to replace it")
        for child in out.iterdir():
            if child.name != ".git":  # keep the student repository's history
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    repository, branch = student_repository(root)
    templates = repo / "student_edition"
    for lab in lab_names(root):
        release(lab, root)
    out.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    shutil.copytree(repo / "course", out / "course", ignore=ignore)
    shutil.copytree(repo / "lectures", out / "lectures", ignore=ignore)
    (out / "labs").mkdir()
    for lab in lab_names(root):
        for item in released(root, lab).parent.iterdir():
            if item.is_file():
                shutil.copy2(item, out / "labs" / item.name)
    for path in [*(out / "lectures").glob("*.ipynb"), *(out / "labs").glob("*.ipynb")]:
        _point_here(path, repository, branch, str(path.relative_to(out)))
    (out / "scripts").mkdir()
    setup = (
        (repo / "scripts" / "setup.sh")
        .read_text()
        .replace('"${COURSE_EXTRAS:-cpu,lab,grader}"', '"${COURSE_EXTRAS:-cpu,lab}"')
    )
    (out / "scripts" / "setup.sh").write_text(
        setup.replace("this is the instructor's repository", "the student edition")
    )
    shutil.copy2(repo / "scripts" / "run-course.sh", out / "scripts" / "run-course.sh")
    shutil.copy2(templates / "scripts" / "check-course.sh", out / "scripts" / "check-course.sh")
    shutil.copytree(templates / "tests", out / "tests", ignore=ignore)
    shutil.copytree(templates / ".ci", out / ".ci")
    shutil.copy2(templates / "gitignore", out / ".gitignore")
    (out / "pyproject.toml").write_text(_pyproject(repo, repository))
    readme = (templates / "README.md").read_text().replace("{repository}", repository)
    (out / "README.md").write_text(readme.replace("{course_map}", _course_map(out)))
    public = "\n".join(p.read_text(errors="replace") for p in sorted((out / "course").rglob("*.py")))
    public += "\n".join(
        text(c)
        for p in sorted((out / "lectures").glob("*.ipynb"))
        for c in json.loads(p.read_text())["cells"]
    )
    found = check(out, secrets(root, public))
    if found:
        shutil.rmtree(out)
        raise PublishError(
            "the student edition would show what it must not; nothing was written:\n  "
            + "\n  ".join(found[:20])
        )
    return out
