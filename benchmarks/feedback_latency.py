"""Student feedback latency: seconds from running a lab's visible test cell to its verdict.

Each lab is opened in one kernel with the solutions filled in (as a student who has
answered); the set-up cell (imports, banner) is timed apart, then every cell in order,
and the graded test cells are reported. Prints a JSON object.

    python benchmarks/feedback_latency.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from course_grading.course_root import lab_names  # noqa: E402
from course_grading.release import release  # noqa: E402
from tests.submissions import submission  # noqa: E402


def latencies(lab: str) -> dict:
    source = REPO / "autograder" / "source" / lab / f"{lab}.ipynb"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "autograder"  # a private course root: the real one is untouched
        shutil.copytree(REPO / "autograder" / "source", root / "source")
        shutil.copy2(REPO / "autograder" / "nbgrader_config.py", root)
        released = release(lab, root, labs_dir=Path(tmp))[-1]
        nb = nbformat.reads(json.dumps(submission(released, source)), as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": tmp}})
        tests, setup = {}, 0.0
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                start = time.perf_counter()
                client.execute_cell(cell, index)
                seconds = time.perf_counter() - start
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade_id") == "setup":
                    setup = seconds
                elif meta.get("grade"):
                    tests[meta["grade_id"]] = seconds
    return {"setup_seconds": setup, "tests": tests}


def main() -> dict:
    os.environ["CI"] = "true"  # the grading budget, as in a student's quick check
    result = {lab: latencies(lab) for lab in lab_names(REPO / "autograder")}
    for lab, row in result.items():
        print(f"{lab}: setup {row['setup_seconds']:.1f} s; " + ", ".join(
            f"{k} {v:.2f} s" for k, v in row["tests"].items()), file=sys.stderr)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
