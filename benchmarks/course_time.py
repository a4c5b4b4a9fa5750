"""Wall time of every lecture and lab notebook at one budget, executed headless.

    python benchmarks/course_time.py --budget ci|cpu [--only 05_dense] [--compare VAR] [--keep DIR]

Labs run in their solution version (the source notebook). ``--compare VAR`` runs every
notebook twice, with ``VAR=0`` and ``VAR=1`` (e.g. ``COURSE_FAST_TRAINING``), alternating
which goes first so the machine's load falls on both alike. ``--keep DIR`` writes each
executed notebook there (with ``--compare``, the ``VAR=1`` run), to read its printed figures.
Prints a JSON object. Ctrl-C or SIGTERM stops it at once: the running notebook's kernel is
killed, nothing is printed as a result, and it exits 130 or 143.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_grading import batch

REPO = Path(__file__).resolve().parent.parent


def notebooks() -> list[Path]:
    return sorted((REPO / "lectures").glob("*.ipynb")) + sorted(
        p for p in (REPO / "autograder" / "source").glob("*/*.ipynb") if p.stem == p.parent.name)


def run(path: Path, budget: str, timeout: int = 1800, keep: Path | None = None) -> tuple[float, str, float]:
    """Seconds to execute ``path`` top to bottom at ``budget``, 'ok' or the first error, and the
    CPU seconds its kernel used (less sensitive than wall time to other jobs on the machine).

    The notebook runs in a thread, where nbclient installs no signal handlers of its own (in the
    main thread it takes SIGTERM and Ctrl-C for itself, shuts the kernel down, and the caller
    carries on with the next notebook). A KeyboardInterrupt here kills the kernel and what it
    started, and is raised again."""
    nb = nbformat.read(path, as_version=4)
    os.environ["COURSE_BUDGET"] = budget
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    failure: list[BaseException] = []

    def execute() -> None:
        try:
            client.execute()
        except BaseException as err:  # reported by the main thread
            failure.append(err)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    worker = threading.Thread(target=execute, name=f"notebook {path.name}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        deadline = time.monotonic() + 30
        while worker.is_alive() and time.monotonic() < deadline:  # again if it was still starting
            process = getattr(getattr(client.km, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                batch.kill_tree(process.pid)
            worker.join(0.5)
        raise
    seconds = time.perf_counter() - start
    status = "ok"
    if failure:  # recorded in the report, the other notebooks still run
        err = failure[0]
        status = f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[-1][:120]}"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the kernel, once it has exited
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / path.name)
    return seconds, status, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", choices=["ci", "cpu", "gpu"], default="ci")
    parser.add_argument("--only", default="", help="substring of the notebooks to run")
    parser.add_argument("--compare", default="", metavar="VAR",
                        help="run each notebook with VAR=0 and VAR=1; 'notebooks' holds VAR=1")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="write the executed notebooks (the VAR=1 side) to DIR")
    args = parser.parse_args()
    batch.stop_on_sigterm()
    os.environ.pop("CI", None)  # COURSE_BUDGET decides
    sides = ("0", "1") if args.compare else ("",)
    rows: dict[str, dict] = {side: {} for side in sides}
    chosen = [path for path in notebooks() if args.only in path.name]
    for i, path in enumerate(chosen):
        for side in (sides if i % 2 == 0 else sides[::-1]):
            if args.compare:
                os.environ[args.compare] = side
            load = os.getloadavg()[0]
            keep = args.keep if side == sides[-1] else None
            seconds, status, cpu = run(path, args.budget, keep=keep)
            rows[side][str(path.relative_to(REPO))] = {"seconds": seconds, "status": status,
                                                       "cpu_seconds": cpu, "load_1min": load}
            label = f" {args.compare}={side}" if args.compare else ""
            print(f"{path.name:45s}{label} {seconds:8.1f} s  {status}  (CPU {cpu:.0f} s, load {load:.1f})",
                  file=sys.stderr, flush=True)
    result = {"budget": args.budget, "notebooks": rows[sides[-1]],
              "total_seconds": sum(r["seconds"] for r in rows[sides[-1]].values())}
    if args.compare:
        result.update({"compare": args.compare, "notebooks_off": rows["0"],
                       "total_seconds_off": sum(r["seconds"] for r in rows["0"].values())})
    for key, side in (("total_cpu_seconds", sides[-1]), ("total_cpu_seconds_off", "0")):
        if side in rows:
            result[key] = sum(r["cpu_seconds"] for r in rows[side].values())
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("stopped: no result", file=sys.stderr)
        sys.exit(batch.stop_status())
