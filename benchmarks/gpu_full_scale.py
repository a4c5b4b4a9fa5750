"""The course's figures at the lecture's full scale, for a GPU machine, in one command.

Three parts, each a list of figures (one JSON line each on stdout as it is measured):

* ``throughput``: each model of ``benchmarks/throughput.py`` with every candidate compile
  setting side by side and the matmul or conv peak measured in the same run: images/s, the
  fraction of the peak, whether the losses match the default's (on a GPU the repeated default
  runs may differ: cuDNN's kernels need not be deterministic, and the tolerance grows with that
  spread), the fastest setting with the same results, and the one the library picks;
* ``quality``: the results table, denoising and anomaly detection at the budget (epochs capped
  by ``--epochs`` to fit one command's time limit);
* ``course``: every lecture and lab executed at the budget, uncapped, its seconds against the
  10-minute target.

``--save`` rewrites ``benchmarks/results/gpu_full_scale.json`` whole (a new file moved into
place) after each figure, so a run cut short keeps what it finished; ``run_all.py
--report-only`` then puts it in the report's GPU section. Ctrl-C or SIGTERM (``timeout``'s)
stops it at once: the saved file says where it stopped, no kernel is left running, and it
exits 130 or 143.

    python benchmarks/gpu_full_scale.py [--parts throughput,quality,course] [--epochs 20]
        [--only dense] [--notebooks 08_] [--save [FILE]]
    python benchmarks/gpu_full_scale.py --quick ...   # the ci budget and a few images: runs anywhere
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import course_time  # noqa: E402
import keras  # noqa: E402
import quality  # noqa: E402
import tensorflow as tf  # noqa: E402
import throughput  # noqa: E402

from course import data, results, runtime, training  # noqa: E402
from course_grading import batch  # noqa: E402

PARTS = ("throughput", "quality", "course")
NOTEBOOK_TARGET_S = 600  # every notebook at full scale under 10 minutes on one GPU
SAVED = HERE / "results" / "gpu_full_scale.json"


class Figures:
    """The figures so far: printed one per line, and saved whole after each one when asked."""

    def __init__(self, save: Path | None, meta: dict) -> None:
        self.save, self.meta, self.items = save, meta, []

    def add(self, figure: str, **values) -> None:
        item = {"figure": figure, **values}
        self.items.append(item)
        print(json.dumps(item), flush=True)
        self.write(complete=False)

    def write(self, complete: bool, stopped: str | None = None) -> dict:
        whole = {**self.meta, "complete": complete, "stopped": stopped, "figures": self.items}
        if self.save is not None:  # written beside, then moved: a reader never sees half a file
            self.save.parent.mkdir(parents=True, exist_ok=True)
            part = self.save.with_name(f".{self.save.name}.{os.getpid()}.part")
            part.write_text(json.dumps(whole, indent=1))
            os.replace(part, self.save)
        return whole


def measure_throughput(figures: Figures, only: str, quick: bool, rounds: int) -> None:
    for spec in throughput.specs(only, quick):
        m = throughput.measure_model(spec, rounds, load=[])
        figures.add("throughput", model=spec.name, **m)


def measure_quality(figures: Figures, budget: runtime.Budget) -> None:
    fashion = data.load_fashion_mnist(budget)
    for row in results.results_table(budget, fashion):
        figures.add("results_table", **row)
    figures.add("denoising", **quality.denoising(fashion, budget))
    figures.add("anomaly", **quality.anomaly_auc(fashion, budget))


def measure_course(figures: Figures, scale: str, notebooks: str) -> None:
    for path in course_time.notebooks():
        if notebooks not in path.name:
            continue
        seconds, status, cpu = course_time.run(path, scale)
        figures.add("notebook", notebook=str(path.relative_to(HERE.parent)), budget=scale,
                    seconds=seconds, status=status, cpu_seconds=cpu,
                    under_target=status == "ok" and seconds < NOTEBOOK_TARGET_S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--budget", choices=runtime.SCALES, default=None,
                        help="default gpu (ci with --quick)")
    parser.add_argument("--epochs", type=int, default=20, help="cap on the quality part's epochs")
    parser.add_argument("--rounds", type=int, default=1, help="throughput rounds per model")
    parser.add_argument("--only", default="", help="substring of the throughput models to measure")
    parser.add_argument("--notebooks", default="", help="substring of the notebooks to run")
    parser.add_argument("--quick", action="store_true",
                        help="a check that it all runs: the ci budget, throughput.py's --quick sizes")
    parser.add_argument("--save", nargs="?", type=Path, const=SAVED, default=None, metavar="FILE",
                        help=f"keep the figures in FILE (default {SAVED.relative_to(HERE.parent)})")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}: choose from {', '.join(PARTS)}")
    batch.stop_on_sigterm()
    for gpu in tf.config.list_physical_devices("GPU"):  # TensorFlow takes all of it by default, and
        tf.config.experimental.set_memory_growth(gpu, True)  # the notebooks' kernels need it after us
    scale = args.budget or ("ci" if args.quick else "gpu")
    budget = runtime.budget(scale)
    capped = dataclasses.replace(budget, epochs=min(budget.epochs, args.epochs))
    figures = Figures(args.save, {
        "device": runtime.device_name(), "gpus": len(tf.config.list_physical_devices("GPU")),
        "versions": runtime.versions(), "budget": budget.describe(), "quality_budget": capped.describe(),
        "quick": args.quick, "parts": parts, "library_options_at_budget": training.training_options(budget),
        "keras": keras.__version__})
    start = time.perf_counter()
    try:
        figures.add("device", name=runtime.device_name(), budget=budget.describe())
        if "throughput" in parts:
            measure_throughput(figures, args.only, args.quick, args.rounds)
        if "quality" in parts:
            measure_quality(figures, capped)
        if "course" in parts:
            measure_course(figures, scale, args.notebooks)
    except KeyboardInterrupt:
        name = signal.Signals(batch.stop_status() - 128).name
        figures.write(complete=False, stopped=f"{name} after {time.perf_counter() - start:.0f} s")
        print(f"stopped by {name}: {len(figures.items)} figures kept", file=sys.stderr)
        return batch.stop_status()
    figures.add("total", seconds=time.perf_counter() - start)
    print(json.dumps(figures.write(complete=True)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
