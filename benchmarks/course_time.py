"""Wall time of every lecture and lab notebook at one budget, executed headless.

    python benchmarks/course_time.py --budget ci|cpu [--only 05_dense]

Labs run in their solution version (the source notebook). Prints a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent


def notebooks() -> list[Path]:
    return sorted((REPO / "lectures").glob("*.ipynb")) + sorted(
        p for p in (REPO / "autograder" / "source").glob("*/*.ipynb") if p.stem == p.parent.name)


def run(path: Path, budget: str, timeout: int = 1800) -> tuple[float, str]:
    """Seconds to execute ``path`` top to bottom at ``budget``, and 'ok' or the first error."""
    nb = nbformat.read(path, as_version=4)
    os.environ["COURSE_BUDGET"] = budget
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        status = "ok"
    except Exception as err:  # recorded in the report, the other notebooks still run
        status = f"{type(err).__name__}: {str(err).splitlines()[-1][:120]}"
    return time.perf_counter() - start, status


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", choices=["ci", "cpu", "gpu"], default="ci")
    parser.add_argument("--only", default="", help="substring of the notebooks to run")
    args = parser.parse_args()
    os.environ.pop("CI", None)  # COURSE_BUDGET decides
    rows = {}
    for path in notebooks():
        if args.only in path.name:
            seconds, status = run(path, args.budget)
            rows[str(path.relative_to(REPO))] = {"seconds": seconds, "status": status}
            print(f"{path.name:45s} {seconds:8.1f} s  {status}", file=sys.stderr, flush=True)
    result = {"budget": args.budget, "notebooks": rows,
              "total_seconds": sum(r["seconds"] for r in rows.values())}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
