"""The instructor's side: ``course-grade release`` turns the nbgrader sources
(``autograder/source/<lab>/<lab>.ipynb``, with solutions and hidden tests) into the
student notebooks committed under ``labs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COURSE_ROOT = REPO / "autograder"
LABS = REPO / "labs"


def lab_names(course_root: Path = COURSE_ROOT) -> list[str]:
    """The labs that have an nbgrader source notebook, in order."""
    return sorted(p.parent.name for p in (course_root / "source").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def nbgrader(args: list[str], course_root: Path) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course_root``; raise with its log if it fails."""
    env = dict(os.environ)  # nbgrader calls `alembic` by name: put this Python's bin first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course_root,
        capture_output=True, text=True, env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def normalized(notebook: dict) -> dict:
    """A notebook without outputs and execution counts (what gets committed)."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def release(lab: str, course_root: Path = COURSE_ROOT, labs_dir: Path = LABS) -> Path:
    """``nbgrader generate_assignment`` for ``lab``, then copy the student notebook to ``labs/``."""
    nbgrader(["generate_assignment", lab, "--force"], course_root)
    released = course_root / "release" / lab / f"{lab}.ipynb"
    notebook = normalized(json.loads(released.read_text()))
    labs_dir.mkdir(parents=True, exist_ok=True)
    target = labs_dir / f"{lab}.ipynb"
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    for extra in (course_root / "release" / lab).iterdir():  # data files beside the notebook
        if extra.name != released.name and extra.is_file():
            shutil.copy2(extra, labs_dir / extra.name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate labs/ from autograder/source/")
    rel.add_argument("labs", nargs="*", help="lab names (default: all)")
    args = parser.parse_args(argv)
    if args.command == "release":
        for lab in args.labs or lab_names():
            print(f"released {lab} -> {release(lab).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
