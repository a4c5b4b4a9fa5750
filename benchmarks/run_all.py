"""Run every benchmark and write benchmarks/REPORT.md with tables and PNG plots.

    python benchmarks/run_all.py [--skip-cpu-course]   # or: bash scripts/benchmark.sh

Each benchmark runs in its own process (TensorFlow state stays apart) and prints one
JSON object on its last line; raw results are kept in benchmarks/results/*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPORT = HERE / "REPORT.md"


def run(name: str, *args: str) -> dict:
    """Run benchmarks/<name>.py and keep its JSON (last stdout line)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args], capture_output=True,
                          text=True, cwd=HERE.parent, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        result = {"error": (proc.stderr or proc.stdout)[-2000:]}
    else:
        result = json.loads(lines[-1])
    result["benchmark_seconds"] = time.perf_counter() - start
    tag = "-".join([name, *[a.lstrip("-") for a in args]])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{tag}.json").write_text(json.dumps(result, indent=1))
    print(f"{tag}: {result['benchmark_seconds']:.0f} s", file=sys.stderr, flush=True)
    return result


def load(tag: str) -> dict | None:
    path = RESULTS / f"{tag}.json"
    return json.loads(path.read_text()) if path.exists() else None


def table(header: list[str], rows: list[list[object]]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
        return str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def throughput_section(r: dict) -> str:
    if "error" in r:
        return f"Failed: ```{r['error'][-500:]}```"
    settings = list(next(iter(r["models"].values()))["images_per_s"])
    rows = []
    for name, m in r["models"].items():
        rows.append([name, m["forward_mflops_per_image"],
                     *[v if isinstance(v, float) else v for v in m["images_per_s"].values()],
                     m["best"], m["best_train_gflops"], f"{m['fraction_of_peak']:.0%}"])
    fig, ax = plt.subplots(figsize=(9, 3.5))
    width = 0.8 / len(settings)
    for i, s in enumerate(settings):
        vals = [m["images_per_s"][s] if isinstance(m["images_per_s"][s], float) else 0
                for m in r["models"].values()]
        ax.bar([j + i * width for j in range(len(vals))], vals, width, label=s)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(r["models"]))], list(r["models"]))
    ax.set_ylabel("training images / s")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "throughput.png", dpi=100)
    plt.close(fig)
    return (f"Measured peaks on this machine ({r['cores']} cores): float32 matmul "
            f"**{r['matmul_gflops']:.1f} GFLOP/s**, 3x3 conv **{r['conv_gflops']:.1f} GFLOP/s**. "
            "Training costs about 3x the forward FLOPs; the last column is the best setting's "
            "training GFLOP/s over the matching peak (matmul for dense models, conv for conv).\n\n"
            + table(["model", "forward MFLOP/image", *[f"img/s: {s}" for s in settings], "best",
                     "train GFLOP/s", "of peak"], rows)
            + "\n\n![throughput](throughput.png)\n")


def course_section(ci: dict | None, cpu: dict | None) -> str:
    if not ci:
        return "Not run."
    names = list(ci["notebooks"])
    rows = []
    for n in names:
        c = ci["notebooks"][n]
        p = (cpu or {}).get("notebooks", {}).get(n)
        rows.append([n, c["seconds"], c["status"], p["seconds"] if p else "not run",
                     p["status"] if p else ""])
    rows.append(["**total**", ci["total_seconds"], "", cpu["total_seconds"] if cpu else "", ""])
    return table(["notebook", "CI budget (s)", "", "student CPU budget (s)", ""], rows)


def latency_section(r: dict) -> str:
    if "error" in r:
        return f"Failed: ```{r['error'][-500:]}```"
    rows = [[lab, row["setup_seconds"], test, seconds]
            for lab, row in r.items() if isinstance(row, dict)
            for test, seconds in row["tests"].items()]
    return ("Time from running a visible test cell (answers filled in) to its verdict, in a "
            "warm kernel; the one-time set-up cell (imports, banner) is shown apart.\n\n"
            + table(["lab", "set-up cell (s)", "test cell", "verdict after (s)"], rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-cpu-course", action="store_true",
                        help="skip timing every notebook at the student CPU budget (the longest part)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from results/")
    args = parser.parse_args()
    if not args.report_only:
        run("throughput")
        run("course_time", "--budget", "ci")
        if not args.skip_cpu_course:
            run("course_time", "--budget", "cpu")
        run("feedback_latency")
        run("autograde_time")
        run("grading_throughput")
        run("quality")
    sections = [
        "# Benchmarks\n",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU. "
        "Written by `benchmarks/run_all.py`; raw figures in `benchmarks/results/`.\n",
        "## 1. Training throughput against the hardware limit\n",
        throughput_section(load("throughput") or {"error": "not run"}),
        "## 2. Time of the whole course\n",
        course_section(load("course_time-budget-ci"), load("course_time-budget-cpu")),
        "## 3. Student feedback latency\n",
        latency_section(load("feedback_latency") or {"error": "not run"}),
        "## 4. Grading\n",
        "### One submission per lab, plain `nbgrader autograde`\n",
        autograde_section(load("autograde_time")),
        "### A class: `course-grade autograde` against serial `nbgrader autograde`\n",
        grading_section(load("grading_throughput")),
        "### Seeded wrong answers caught (from the test suite)\n",
        wrong_answers_section(),
        "## 5. Quality\n",
        quality_section(load("quality")),
        "## GPU\n",
        gpu_section(load("gpu_full_scale")),
    ]
    REPORT.write_text("\n\n".join(sections) + "\n")
    print(f"wrote {REPORT}", file=sys.stderr)


def autograde_section(r: dict | None) -> str:
    if not r or "error" in r:
        return "Not run." if not r else f"Failed: ```{r['error'][-500:]}```"
    rows = [[lab, v["wall_seconds"], v["cpu_seconds"], f"{v['score']:g}/{v['max_score']:g}",
             "yes" if v["wall_seconds"] < r["limit_seconds"] else "**no**"] for lab, v in r["labs"].items()]
    return ("The solved notebook of each lab, graded alone at the grading budget (nbgrader's own "
            "start-up included).\n\n"
            + table(["lab", "wall (s)", "CPU (core-s)", "score", f"under {r['limit_seconds']} s"], rows))


def grading_section(r: dict | None) -> str:
    if not r or "error" in r:
        return "Not run." if not r else f"Failed: ```{r['error'][-500:]}```"
    rows = [
        ["wall time (s)", r["serial_seconds"], r["ours_seconds"]],
        ["per student (s)", r["serial_seconds"] / r["students"], r["ours_seconds"] / r["students"]],
        ["speed-up", 1.0, r["speedup"]],
        ["CPU used by the grading (core-s)", r["serial_cpu_core_s"], r["ours_cpu_core_s"]],
        ["CPU used by other programs meanwhile (core-s)", *r["others_cpu_core_s"]],
        ["peak RSS per worker process (MB)", f"{r['serial_peak_mb']} (largest process)",
         f"median {r['worker_peak_mb_median']}, max {r['worker_peak_mb_max']}"],
        ["peak RSS per student kernel (MB)", "-", f"median {r['kernel_peak_mb_median']}, "
         f"max {r['kernel_peak_mb_max']}"],
    ]
    return (f"{r['students']} students x `{r['lab']}` on {r['cores']} cores ({r['rounds']} rounds that "
            "alternate which side goes first); scores "
            + ("identical on both sides" if r["scores_identical"] else "**differ**") + ". Not timed: "
            f"ingest + repair {r['ingest_repair_seconds']:.0f} s, feedback {r['feedback_seconds']:.0f} s.\n\n"
            + table(["", "serial nbgrader", f"course-grade, {r['workers']} workers"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in r["isolation"]))


def wrong_answers_section() -> str:
    found = sorted((HERE.parent / "test-artifacts" / "wrong_answers").glob("*.json"))
    if not found:
        return "Not run (written by `tests/test_wrong_answers.py`)."
    rows = []
    for path in found:
        r = json.loads(path.read_text())
        rows.append([r["lab"], f"{r['caught']}/{r['wrong_answers']}", f"{r['fraction_caught']:.0%}",
                     r["submissions"], r["autograde_seconds"]])
    return ("Every wrong answer in `tests/wrong_answers.py`, graded by real nbgrader "
            "(`tests/test_wrong_answers.py`).\n\n"
            + table(["lab", "caught", "fraction", "submissions graded", "autograde (s)"], rows))


def quality_section(r: dict | None) -> str:
    if not r or "error" in r:
        return "Not run." if not r else f"Failed: ```{r['error'][-500:]}```"
    note = f"\n\n*{r['note']}*" if r.get("note") else ""
    return r.get("markdown", "") + note


def gpu_section(r: dict | None) -> str:
    if not r:
        return ("`benchmarks/gpu_full_scale.py` runs the same figures at the full lecture scale "
                "on a GPU and prints one JSON line per figure. **It was not run for this report: "
                "no GPU machine was available to this session.**")
    return "```json\n" + json.dumps(r, indent=1) + "\n```"


if __name__ == "__main__":
    main()
