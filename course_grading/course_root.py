"""Where a course lives: the nbgrader course root (``nbgrader_config.py`` and ``source/``).

``course-grade`` finds it from ``--course-root``, else the ``COURSE_ROOT`` environment
variable, else the working directory (or its ``autograder/`` folder, the instructor
repository's layout); never from where this package is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV = "COURSE_ROOT"


class NoCourseRoot(ValueError):
    """No nbgrader course root where one was looked for; the message says where to point."""


def is_course_root(path: Path) -> bool:
    return (path / "nbgrader_config.py").is_file() and (path / "source").is_dir()


def find_course_root(given: Path | None = None) -> Path:
    """The course root to work on (see the module doc)."""
    candidates = [given] if given else [Path(os.environ[ENV])] if os.environ.get(ENV) else \
        [Path.cwd(), Path.cwd() / "autograder"]
    for path in candidates:
        if is_course_root(path):
            return path.resolve()
    where = ", ".join(str(p) for p in candidates)
    raise NoCourseRoot(f"{where}: not an nbgrader course root (no nbgrader_config.py and source/ there). "
                       f"Give --course-root PATH or set {ENV}=PATH.")


def lab_names(root: Path) -> list[str]:
    """The labs that have an nbgrader source notebook, in order."""
    return sorted(p.parent.name for p in (root / "source").glob("*/*.ipynb") if p.stem == p.parent.name)


def copy_course_root(source: Path, dest: Path, labs: list[str] | None = None) -> Path:
    """A private nbgrader course root at ``dest``: ``source``'s config and the sources of
    ``labs`` (default: all), nothing graded. For tests, benchmarks and samples."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "nbgrader_config.py", dest)
    for lab in labs or lab_names(source):
        shutil.copytree(source / "source" / lab, dest / "source" / lab)
    return dest


def nbgrader(args: list[str], root: Path) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``root``; raise with its log if it fails."""
    env = dict(os.environ)  # nbgrader calls `alembic` by name: put this Python's bin first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    command = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        out, err = proc.communicate()
    except BaseException:  # Ctrl-C, SIGTERM: nbgrader goes, and any kernel it started goes at once
        from .batch import kill_tree

        kill_tree(proc.pid)
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{out}\n{err}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def course_config(root: Path):
    """The traitlets config of the course root's ``nbgrader_config.py``."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def db_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}"


def course_id(root: Path) -> str:
    return course_config(root).CourseDirectory.get("course_id", "default_course")


def released(root: Path, lab: str) -> Path:
    return root / "release" / lab / f"{lab}.ipynb"
