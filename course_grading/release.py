"""``course-grade release``: the student version of each lab, made by nbgrader.

``nbgrader generate_assignment`` writes ``<course root>/release/<lab>/``; the notebook is
also saved without outputs into the ``labs/`` folder beside the course root when there is
one (the instructor repository's layout), which is what ``course-grade publish`` copies
into the student edition.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .course_root import nbgrader, released


def normalized(notebook: dict) -> dict:
    """A notebook without outputs and execution counts (what gets committed)."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def labs_folder(root: Path) -> Path | None:
    """The ``labs/`` folder beside the course root, if the layout has one."""
    folder = root.parent / "labs"
    return folder if folder.is_dir() else None


def release(lab: str, root: Path, labs_dir: Path | None = None) -> list[Path]:
    """``nbgrader generate_assignment`` for ``lab``; the paths of the released notebook(s)."""
    nbgrader(["generate_assignment", lab, "--force"], root)
    path = released(root, lab)
    path.write_text(json.dumps(normalized(json.loads(path.read_text())), indent=1, ensure_ascii=False) + "\n")
    written = [path]
    target_dir = labs_dir or labs_folder(root)
    if target_dir is not None:
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target_dir / path.name)
        for extra in path.parent.iterdir():  # data files beside the notebook
            if extra.name != path.name and extra.is_file():
                shutil.copy2(extra, target_dir / extra.name)
        written.append(target_dir / path.name)
    return written
