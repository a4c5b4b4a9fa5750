"""Run every benchmark and write benchmarks/REPORT.md with tables and PNG plots.

    python benchmarks/run_all.py [--skip-cpu-course] [--no-compare-fast-training] [--report-only]
    # or: bash scripts/benchmark.sh [the same options]

Each benchmark runs in its own process (TensorFlow state stays apart) and prints one
JSON object on its last line; raw results are kept in benchmarks/results/*.json. The
course at the student CPU budget runs twice by default, with ``course.training``'s
options off (``COURSE_FAST_TRAINING=0``) and on: the report's before and after.
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


def run(name: str, *args: str, tag: str | None = None) -> dict:
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
    tag = tag or "-".join([name, *[a.lstrip("-") for a in args]])
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
    if "models" in r and "candidates" not in next(iter(r["models"].values()), {}):
        return "Old format: rerun `python benchmarks/throughput.py`."
    models = r["models"]
    if not models:
        return "No model measured."
    first = next(iter(models.values()))
    loads = [round(x, 1) for row in r.get("load", []) for x in (row["start"][0], row.get("end", [0])[0])]
    load_range = f"{min(loads)}-{max(loads)}" if loads else "not recorded"
    out = [
        ("**A `--quick` smoke run (few images, one round): these figures say that the benchmark runs, "
         "not how fast the models train.**\n" if r.get("quick") else ""),
        f"One run of `benchmarks/throughput.py` ({r['cores']} cores, Keras {r['keras']}, TensorFlow "
        f"{r['tensorflow']}, {r['rounds']} rounds per model in alternating order, 1-minute load average "
        f"{load_range} while it ran: other jobs shared the machine). Each candidate trains "
        f"the same model from the same seed for the same epochs and batch size; images/s is the median "
        "over rounds of the epochs after the first (the first includes tracing and XLA compilation, "
        "shown apart). Same results: final training loss within the tolerance "
        f"{r['tolerance_rule']}. Training FLOPs are taken as 3x the forward FLOPs.\n",
        "**Peaks, measured in the same run** (best of the rounds; the model's own shapes are its Dense "
        "matmuls or 3x3 Conv2D layers, forward, at its batch size, looped in one compiled function):\n",
        peaks_table(models),
    ]
    out += [candidates_table(name, m) for name, m in models.items()]
    breakdown = [[name, *[m["step_breakdown"][k] for k in (
        "layer_ops_ms", "train_step_xla_ms", "train_step_ms", "fit_chosen_ms", "fit_default_ms",
        "train_step_ops", "elementwise_op_us")]] for name, m in models.items() if "step_breakdown" in m]
    if breakdown:
        bandwidth = next(m["step_breakdown"]["bandwidth_gbps"] for m in models.values()
                         if "step_breakdown" in m)
        out.append("**Where a step goes** (ms per step at the model's batch): the Dense/Conv2D ops "
                   "alone (forward and both backward ops, compiled loop) < `model.train_step` alone in a "
                   "compiled loop (adds activations, loss, Adam, metrics) < `fit` (adds Keras' loop, the "
                   "input pipeline and per-call dispatch). Also the train step's graph size and one "
                   f"cheap elementwise op on a batch-sized array; memory bandwidth "
                   f"{bandwidth:.0f} GB/s (x += y in place on two 128 MB arrays).\n\n"
                   + table(["model", "layer ops", "train_step, XLA", "train_step", "fit, chosen",
                            "fit, default", "ops in train_step", "one elementwise op (µs)"], breakdown))
    out.append(bound_account(r))
    account = [[name, label, a["fixed_ms_per_step"], a["us_per_image"], a["marginal_train_gflops"]]
               for name, m in models.items() for label, a in m.get("step_account", {}).items()]
    if account:
        out.append("**Per-step cost against batch size** (dense models; seconds per step at batch 64, 256 "
                   "and 1024 fitted as a + b x batch):\n\n"
                   + table(["model", "setting", "a: fixed ms/step", "b: µs/image",
                            "GFLOP/s at the margin (3 x forward / b)"], account))
    labels = list(first["candidates"])
    fig, ax = plt.subplots(figsize=(10, 3.8))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        vals = [m["candidates"][label].get("images_per_s", 0) for m in models.values()]
        ax.bar([j + i * width for j in range(len(vals))], vals, width, label=label)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(models))], list(models), fontsize=8)
    ax.set_ylabel("training images / s")
    ax.set_yscale("log")
    ax.legend(fontsize=6, ncol=4)
    fig.tight_layout()
    fig.savefig(REPORT.parent / "throughput.png", dpi=100)  # next to the report that shows it
    plt.close(fig)
    out.append("![throughput](throughput.png)\n")
    return "\n\n".join(part for part in out if part)


def peaks_table(models: dict[str, dict]) -> str:
    """The peaks each model is measured against (models of throughput.measure_model)."""
    return table(["model", "batch", "matmul 2048² / conv 28x28x16→16 peak (GFLOP/s)",
                  "model's own shapes (GFLOP/s)", "forward MFLOP/image", "steps/epoch"],
                 [[name, m["batch"], f"{m['peak']} {m['peak_gflops']:.0f}", m["model_shape_gflops"],
                   m["forward_mflops_per_image"], m["steps_per_epoch"]] for name, m in models.items()])


def candidates_table(name: str, m: dict) -> str:
    """One model's candidate settings side by side (a model of throughput.measure_model)."""
    rows = []
    for label, c in m["candidates"].items():
        if "error" in c:
            rows.append([label, c["error"], *[""] * 7])
            continue
        same = {True: "yes", False: "**no**", None: "(other order/seed)"}[c["same_loss"]]
        rows.append([label, c["images_per_s"], c["images_per_s_best"],
                     f"{c['speedup_vs_default']:.2f}", c["first_epoch_extra_s"],
                     f"{c['fraction_of_peak']:.1%}", f"{c['fraction_of_model_shape_peak']:.0%}",
                     f"{c['loss_diff']:.1e}", same])
    return (f"**{name}** ({m['images']:,} images, {m['epochs']} epochs, batch {m['batch']}; "
            f"default loss {m['default_loss']:.5f}, spread of the repeated defaults "
            f"{m['default_spread']:.1e}, tolerance {m['tolerance']:.1e}). "
            "Fastest with the same results: "
            f"**{m['best_same_results']}**; `course.training.training_options()` gives "
            f"`{m['chosen_options']}` (= {m['chosen']}).\n\n"
            + table(["setting", "img/s (median)", "img/s (best)", "x default (paired)",
                     "first epoch extra (s)", f"of {m['peak']} peak", "of own-shape peak",
                     "|loss - default|", "same results"], rows))


def bound_account(r: dict) -> str:
    """What bounds each model, in numbers from the same run."""
    lines = ["**What bounds them** (from the tables above; training FLOPs = 3 x forward):\n"]
    for name, m in r["models"].items():
        b = m.get("step_breakdown")
        if not b:
            continue
        chosen = m["candidates"].get(m["chosen"], {})
        step_mflop = 3 * m["forward_mflops_per_image"] * m["batch"]
        at_peak_ms = step_mflop / m["peak_gflops"]
        tensor_mb = m["batch"] * 784 * 4 / 1e6  # one image-sized float32 tensor for the batch
        lines.append(
            f"- *{name}*: {step_mflop:.0f} MFLOP per training step of {m['batch']} images, "
            f"{at_peak_ms:.2f} ms at the {m['peak']} peak ({m['peak_gflops']:.0f} GFLOP/s); the model's "
            f"own {m['peak']} ops take {b['layer_ops_ms']:.2f} ms forward and backward "
            f"({step_mflop / b['layer_ops_ms']:.0f} GFLOP/s on these shapes). `train_step` alone takes "
            f"{b['train_step_ms']:.2f} ms ({b['train_step_ops']} graph ops; with XLA fusing them "
            f"{b['train_step_xla_ms']:.2f} ms), and `fit` {b['fit_chosen_ms']:.2f} ms with the chosen "
            f"setting ({b['fit_default_ms']:.2f} ms by default). So the arithmetic is "
            f"{b['layer_ops_ms'] / b['fit_chosen_ms']:.0%} of a step; the rest is the "
            + (f"element-wise work on batch-sized tensors ({tensor_mb:.1f} MB each for the 784-pixel "
               f"output side; one element-wise op on one takes {b['elementwise_op_us']:.0f} µs, "
               f"{2 * tensor_mb * 1e3 / b['elementwise_op_us']:.0f} GB/s) and "
               if m["peak"] == "matmul" else
               "activations, pooling and upsampling between the convolutions and ")
            + (f"{b['fit_chosen_ms'] - b['train_step_ms']:.2f} ms per step of Keras' loop and input pipeline"
               if b["fit_chosen_ms"] > b["train_step_ms"] else
               "Keras' loop and input pipeline (too small to see against the load's noise here)")
            + f". The library's setting ({m['chosen']}): {chosen.get('fraction_of_peak', 0):.1%} of the peak"
            f" ({1 / max(chosen.get('fraction_of_peak', 1e-9), 1e-9):.0f}x below it), "
            f"{chosen.get('fraction_of_model_shape_peak', 0):.0%} of the model's own-shape rate.")
    return "\n".join(lines)


def same_results_section(r: dict | None) -> str:
    if not r or "error" in r:
        return "Not run." if not r else f"Failed: ```{r['error'][-500:]}```"
    if not r["models"]:
        return "No model checked."
    rows = [[name, m["images"], m["epochs"], m["batch"], f"{m['final_val_loss']:.5f}",
             m["seconds"]["default"],
             *[v for s in m["settings"].values() for v in
               (f"{s['max_loss_diff']:.1e}" + ("" if s["same"] else " **differs**"), s["seconds"])]]
            for name, m in r["models"].items()]
    return ("`benchmarks/same_results.py` (Keras " + r["keras"] + "): every model the course trains, fitted "
            "from the same seed on the same data for the epochs and batch size of the "
            f"`{r.get('scale', 'cpu')}` budget; "
            "the largest per-epoch difference of training or validation loss from the default's, "
            "against max(10 x spread of two default runs, 1e-5). Seconds are whole fits, first epoch "
            f"and validation included (load average {r['load_average_start'][0]:.1f} at the start, "
            f"{r['load_average_end'][0]:.1f} at the end).\n\n"
            + table(["model (lecture)", "train images", "epochs", "batch", "default val loss",
                     "default (s)", "spe 32: loss diff", "spe 32 (s)", "XLA + spe 32: loss diff",
                     "XLA + spe 32 (s)"], rows))


def course_section(ci: dict | None, cpu: dict | None) -> str:
    if not ci or "error" in ci:
        return "Not run." if not ci else f"Failed: ```{ci['error'][-500:]}```"
    failed = ""
    if cpu and "error" in cpu:
        failed, cpu = f"\n\nThe student-CPU run failed: ```{cpu['error'][-500:]}```", None
    names = list(ci["notebooks"]) + [n for n in (cpu or {}).get("notebooks", {}) if n not in ci["notebooks"]]
    compare = bool(cpu and cpu.get("notebooks_off"))
    with_cpu = compare and "total_cpu_seconds_off" in cpu
    rows = []
    for n in names:
        c = ci["notebooks"].get(n) or {"seconds": "not run", "status": ""}
        p = (cpu or {}).get("notebooks", {}).get(n)
        row = [n, c["seconds"], c["status"], p["seconds"] if p else "not run", p["status"] if p else ""]
        if compare:
            off = cpu["notebooks_off"].get(n)
            row[3:3] = [off["seconds"] if off else "not run"]
            if off and off["status"] != "ok":  # one status column: 'on', and 'off' where it failed
                row[5] = f"{row[5]}; defaults: {off['status']}"
            row.append(f"{off['seconds'] / p['seconds']:.2f}" if off and p else "")
            if with_cpu:
                both = off and p and p["cpu_seconds"] > 0
                row += [off["cpu_seconds"] if off else "", p["cpu_seconds"] if p else "",
                        f"{off['cpu_seconds'] / p['cpu_seconds']:.2f}" if both else ""]
        rows.append(row)
    total = ["**total**", ci["total_seconds"], "", cpu["total_seconds"] if cpu else "", ""]
    header = ["notebook", "CI budget (s)", "", "student CPU budget (s)", ""]
    if compare:
        total[3:3] = [cpu["total_seconds_off"]]
        total.append(f"**{cpu['total_seconds_off'] / cpu['total_seconds']:.2f}**")
        header = ["notebook", "CI budget (s)", "", f"CPU budget, Keras defaults ({cpu['compare']}=0) (s)",
                  "CPU budget, `training_options()` (s)", "", "wall speed-up"]
        if with_cpu:
            total += [cpu["total_cpu_seconds_off"], cpu["total_cpu_seconds"],
                      f"**{cpu['total_cpu_seconds_off'] / cpu['total_cpu_seconds']:.2f}**"]
            header += ["kernel CPU, defaults (core-s)", "kernel CPU, options (core-s)", "CPU speed-up"]
    rows.append(total)
    note = ""
    if compare:
        loads = [r["load_1min"] for side in ("notebooks", "notebooks_off") for r in cpu[side].values()]
        note = ("\n\nThe student-CPU columns come from one run of `benchmarks/course_time.py --budget cpu "
                f"--compare {cpu['compare']}`: each notebook ran with the library's training options off "
                "and on, alternating which went first (1-minute load average "
                f"{min(loads):.1f}-{max(loads):.1f} at the notebooks' starts, the benchmark's own kernels "
                "included).")
    ci_loads = [r["load_1min"] for r in ci["notebooks"].values() if "load_1min" in r]
    if ci_loads:  # the CI column is timed on its own, often on another day: the host's speed varies
        note += ("\n\nThe CI-budget column comes from one run of `benchmarks/course_time.py --budget ci` "
                 f"(1-minute load average {min(ci_loads):.1f}-{max(ci_loads):.1f} at the notebooks' starts); "
                 "`lectures/00_start_here.ipynb`, which trains nothing, shows the host's speed that day.")
    return table(header, rows) + note + failed


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
    parser.add_argument("--no-compare-fast-training", action="store_true",
                        help="time the CPU-budget course once, with course.training's options, instead of "
                        "with them off and on (before and after: twice as long)")
    args = parser.parse_args()
    if not args.report_only:
        run("throughput")
        run("same_results")
        run("course_time", "--budget", "ci")
        if not args.skip_cpu_course:
            compare = [] if args.no_compare_fast_training else ["--compare", "COURSE_FAST_TRAINING"]
            run("course_time", "--budget", "cpu", *compare, tag="course_time-budget-cpu")
        run("feedback_latency")
        run("autograde_time")
        run("grading_throughput")
        run("cluster_scaling")
        run("quality")
    sections = [
        "# Benchmarks\n",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU. "
        "Written by `benchmarks/run_all.py`; raw figures in `benchmarks/results/`.\n",
        "## 1. Training throughput against the hardware limit\n",
        throughput_section(load("throughput") or {"error": "not run"}),
        "### Same results at the student CPU budget\n",
        same_results_section(load("same_results")),
        "## 2. Time of the whole course\n",
        course_section(load("course_time-budget-ci"), load("course_time-budget-cpu")),
        "## 3. Student feedback latency\n",
        latency_section(load("feedback_latency") or {"error": "not run"}),
        "## 4. Grading\n",
        "### One submission per lab, plain `nbgrader autograde`\n",
        autograde_section(load("autograde_time")),
        "### A class: `course-grade autograde` against serial `nbgrader autograde`\n",
        grading_section(load("grading_throughput")),
        "### The same class on a Dask cluster, and how far it scales\n",
        cluster_section(load("cluster_scaling")),
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
    runs = [r] + [x for x in [load("grading_throughput-ours-first")] if x and "error" not in x]

    def each(key, fmt="{}"):
        return " / ".join(fmt.format(x[key]) for x in runs)

    rows = [[f"run {i + 1} ({'course-grade' if x.get('ours_first') else 'serial nbgrader'} first): "
             "wall time (s)", x["serial_seconds"], x["ours_seconds"], f"{x['speedup']:.2f}"]
            for i, x in enumerate(runs)]
    serial, ours = sum(x["serial_seconds"] for x in runs), sum(x["ours_seconds"] for x in runs)
    if len(runs) > 1:
        rows.append(["**both runs** (s)", serial, ours, f"**{serial / ours:.2f}**"])
    n = r["students"] * len(runs)
    rows += [
        ["per student (s)", serial / n, ours / n, ""],
        ["CPU used by the grading (core-s)", each("serial_cpu_core_s"), each("ours_cpu_core_s"), ""],
        ["CPU of other processes meanwhile (core-s; for course-grade: its sandboxed kernels and zygotes)",
         " / ".join(str(x["others_cpu_core_s"][0]) for x in runs),
         " / ".join(str(x["others_cpu_core_s"][1]) for x in runs), ""],
        ["peak RSS per worker process (MB)", f"{r['serial_peak_mb']} (largest process)",
         f"median {r['worker_peak_mb_median']}, max {r['worker_peak_mb_max']}", ""],
        ["peak RSS per student kernel (MB)", "-", f"median {r['kernel_peak_mb_median']}, "
         f"max {r['kernel_peak_mb_max']}", ""],
    ]
    for i, x in enumerate(runs):
        split = x.get("per_student_split_s") or {}
        if split:
            rows.append([f"run {i + 1}: one student, median split (s)", "-",
                         ", ".join(f"{phase} {seconds:g}" for phase, seconds in split.items()), ""])
    tags = {"840788e": "grading_throughput-at-840788e", "9d85cb9": "grading_throughput-at-9d85cb9",
            "ea21674": "grading_throughput-prev"}
    at = {code: [x for x in (load(tag), load(f"{tag}-ours-first")) if x and "error" not in x]
          for code, tag in tags.items()}  # the same two runs at earlier commits
    for code, then in at.items():
        if then:
            ratio = sum(x["serial_seconds"] for x in then) / sum(x["ours_seconds"] for x in then)
            rows.append([f"at {code} ({len(then)} runs as above): wall time (s)",
                         " / ".join(f"{x['serial_seconds']:.1f}" for x in then),
                         " / ".join(f"{x['ours_seconds']:.1f}" for x in then), f"{ratio:.2f}"])
    earlier = at["ea21674"]
    before = load("grading_throughput-before")
    if before and "error" not in before:
        rows.append([f"before (code {before.get('code', '?')}, {before['rounds']} rounds): wall time (s)",
                     before["serial_seconds"], before["ours_seconds"], f"{before['speedup']:.2f}"])
        split = before.get("per_student_split_s") or {}
        rows.append(["before: one student, median split (s)", "-",
                     ", ".join(f"{phase} {seconds:g}" for phase, seconds in split.items()), ""])
    cold = load("grading_throughput-cold")
    if cold and "error" not in cold and r.get("warm", True):
        cold_split = cold.get("per_student_split_s") or {}
        rows += [
            ["course-grade `--cold` (every kernel started from scratch): wall time (s)",
             cold["serial_seconds"], cold["ours_seconds"], f"{cold['speedup']:.2f}"],
            ["`--cold`: one student, median split (s)", "-",
             ", ".join(f"{phase} {seconds:g}" for phase, seconds in cold_split.items()) or "-", ""],
        ]
    same = all(x["scores_identical"] for x in runs)
    serial_cpu = sum(x["serial_cpu_core_s"] + x["others_cpu_core_s"][0] for x in runs) / n
    ours_cpu = sum(x["ours_cpu_core_s"] + x["others_cpu_core_s"][1] for x in runs) / n
    busy = ours_cpu * n / (r["cores"] * ours)
    bound = (f"\n\n**What bounds it.** Per student the serial side uses {serial_cpu:.2f} core-s (one core: "
             f"kernel start and imports, the student's code, nbgrader) and course-grade {ours_cpu:.2f} "
             "core-s (its grader, workers, zygotes and kernels together), most of it the student's own "
             f"code, which both sides run. On {r['cores']} cores that allows at most "
             f"{r['cores'] * serial_cpu / ours_cpu:.2f}x; course-grade kept the cores {busy:.0%} busy "
             "(idle: the command's first second, before the zygotes it launches first are importing, and "
             "the last students, when fewer jobs than cores are left; the students who answered more go "
             "first so that the short jobs come last).")
    if at["9d85cb9"]:
        bound += (" Since 9d85cb9 the student's code costs less on both sides: at the grading "
                  "budget `course.training.training_options()` keeps Keras' defaults (an epoch is 16 "
                  "batches, and tracing the 32-step loop cost more than it saved; `course/training.py`).")
    if earlier:
        then = sum(x["serial_seconds"] for x in earlier) / sum(x["students"] for x in earlier)
        bound += (f" The serial side took {serial / n:.1f} s per student here, {then:.1f} s at ea21674 on "
                  "the same kind of machine: the host's speed moves both sides, and the bound with them.")
    return (f"{r['students']} students x `{r['lab']}` on {r['cores']} cores, the whole class in one "
            f"command per side, {len(runs)} run(s) that alternate which side goes first; scores "
            + ("identical on both sides in every run" if same else "**differ**") + ". Not timed: "
            f"ingest + repair {r['ingest_repair_seconds']:.0f} s, feedback {r['feedback_seconds']:.0f} s.\n\n"
            + table(["", "serial nbgrader", f"course-grade, {r['workers']} workers", "speed-up"], rows)
            + bound + "\n\n" + "\n".join(f"- {line}" for line in r["isolation"]))


def cluster_section(r: dict | None) -> str:
    if not r or "error" in r:
        return "Not run." if not r else f"Failed: ```{r['error'][-500:]}```"
    local, dask, m = r["local_pool"], r["dask_local_cluster"], r["model"]
    rows = [[k, local[v], dask[v]] for k, v in (("wall time (s)", "wall_s"), ("start-up (s)", "startup_s"),
                                                ("CPU used (core-s)", "cpu_core_s"),
                                                ("one job, median (s)", "job_seconds_median"),
                                                ("merge per student, median (s)", "merge_s_median"))]
    return (f"{r['students']} students x `{r['lab']}`, {r['workers']} workers on both sides, "
            f"{r['cores']} cores (load average {r['load_average_at_start'][0]} at the start); scores "
            + ("identical" if r["scores_identical"] else "**differ**")
            + (f"; kernels {r['kernels']} on both sides, CPU counted by {r['cpu_measured_by']}"
               if "kernels" in r else "")
            + f". Dask's own cost per task: {r['dask_task']['latency_s']} s alone, "
            f"{r['dask_task']['throughput_s_per_task']} s in a stream; a job is {r['job_bytes']:,} bytes.\n\n"
            + table(["", "local pool", "local Dask cluster"], rows)
            + f"\n\nThe cluster path costs {r['cluster_overhead_wall_s_per_student']} s of wall time per "
            + (f"student ({r['cluster_overhead_wall_s_per_student_after_startup']} s after start-up) and "
               if "cluster_overhead_wall_s_per_student_after_startup" in r else "student and ")
            + f"{r['cluster_overhead_core_s_per_student']} core-s.\n\n"
            + f"Model ({m['assumptions']}): {r['core_s_per_student']} core-s per student, "
            f"{r['merge_s_per_student_at_target_mean']} s of merge per student at the target's mean "
            f"gradebook size: **{m['machines']} machines** for the target; the serial part allows "
            f"{m['serial_bound_students_per_second']} students/s ({m['machines_before_serial_bound']} "
            "machines).\n")


def wrong_answers_section() -> str:
    found = sorted((HERE.parent / "test-artifacts" / "wrong_answers").glob("*.json"))
    if not found:  # a checkout where the suite has not run: keep the table the report already has
        heading = "### Seeded wrong answers caught (from the test suite)\n\n\n"
        kept = REPORT.read_text().partition(heading)[2].partition("\n\n#")[0] if REPORT.exists() else ""
        return kept.strip() or "Not run (written by `tests/test_wrong_answers.py`)."
    rows = []
    for path in found:
        r = json.loads(path.read_text())
        rows.append([r["lab"], f"{r['caught']}/{r['wrong_answers']}", f"{r['fraction_caught']:.0%}",
                     r["submissions"], r.get("grading_seconds", r.get("autograde_seconds"))])
    return ("Every wrong answer in `tests/course/wrong_answers.py`, graded by `course-grade run-all` "
            "(2 workers, up to the last test cell; `tests/course_grading/test_wrong_answers.py`).\n\n"
            + table(["lab", "caught", "fraction", "submissions graded", "grading (s)"], rows))


def quality_section(r: dict | None) -> str:
    if not r or "error" in r:
        return "Not run." if not r else f"Failed: ```{r['error'][-500:]}```"
    note = f"\n\n*{r['note']}*" if r.get("note") else ""
    return r.get("markdown", "") + note


def gpu_section(r: dict | None) -> str:
    if not r:
        return ("`benchmarks/gpu_full_scale.py` measures the training settings side by side against the "
                "peaks, the quality figures and every notebook at the full lecture scale on a GPU. "
                "**It was not run for this report: no GPU machine was available to this session.**")
    if "error" in r or "figures" not in r:
        return f"Failed or old format: ```{json.dumps(r)[-500:]}```"

    def kind(name: str) -> list[dict]:
        return [f for f in r["figures"] if f["figure"] == name]

    v = r["versions"]
    out = [f"One run of `benchmarks/gpu_full_scale.py --parts {','.join(r['parts'])}` on {r['device']} "
           f"(TensorFlow {v['tensorflow']}, Keras {v['keras']}): budget {r['budget']}; the quality "
           f"figures at {r['quality_budget']}; `course.training.training_options()` at this budget: "
           f"`{r['library_options_at_budget']}`."]
    if r["quick"] or not r["gpus"]:
        out.append("**A smoke run without a GPU: these figures say that the benchmark runs, not what a "
                   "GPU does.**")
    if not r["complete"]:
        out.append(f"**Cut short ({r['stopped']}): below are the figures it finished.**")
    measured = {f["model"]: f for f in kind("throughput")}
    if measured:
        out.append("**Peaks, measured in the same run:**\n\n" + peaks_table(measured))
        out += [candidates_table(name, m) for name, m in measured.items()]
    rows = kind("results_table")
    if rows:
        out.append(table(["model", "epochs", "train images", "test MSE", "test BCE", "PSNR (dB)",
                          "seconds"], [[x["model"], x["epochs"], x["train images"], f"{x['test MSE']:.4f}",
                                       f"{x['test BCE']:.4f}", f"{x['PSNR (dB)']:.2f}", x["seconds"]]
                                      for x in rows]))
    for d in kind("denoising"):
        out.append(f"Denoising (Gaussian std {d['noise std']}, {d['train images']:,} images): PSNR "
                   f"{d['PSNR noisy']:.2f} dB noisy -> {d['PSNR denoised']:.2f} dB denoised "
                   f"(**{d['gain dB']:+.2f} dB**).")
    for a in kind("anomaly"):
        out.append(f"Anomaly detection ({a['normal']} normal): precision {a['precision']:.3f}, recall "
                   f"{a['recall']:.3f}, **ROC AUC {a['ROC AUC']:.3f}**.")
    notebooks = kind("notebook")
    if notebooks:
        under = sum(n["under_target"] for n in notebooks)
        out.append(f"Every notebook at the `{notebooks[0]['budget']}` budget, uncapped: **{under} of "
                   f"{len(notebooks)} under 10 minutes**, {sum(n['seconds'] for n in notebooks):,.0f} s "
                   "in all.\n\n" + table(
                       ["notebook", "seconds", "status", "under 10 min"],
                       [[n["notebook"], n["seconds"], n["status"], "yes" if n["under_target"] else "**no**"]
                        for n in notebooks]))
    return "\n\n".join(out)


if __name__ == "__main__":
    main()
