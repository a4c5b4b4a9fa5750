"""The benchmarks run, and stop as every command of the course must.

benchmarks/gpu_full_scale.py runs where no GPU is (``--quick``: the ci budget), so the day a
GPU is lent it measures instead of failing: it once imported a function throughput.py no
longer had and had never run. Ctrl-C or SIGTERM keeps the figures it finished and leaves no
kernel; autograde_time.py's stop leaves neither nbgrader nor the kernel nbgrader started."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from course import runtime, training

from .submissions import venv_first_on_path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_full_scale.py"
sys.path.insert(0, str(REPO / "benchmarks"))

import run_all  # noqa: E402
import throughput  # noqa: E402

pytestmark = pytest.mark.slow


def default_sigint() -> None:
    """In the child: Ctrl-C as a terminal gives it (a test worker may have set it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(save: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--save", str(save), *args],
                            cwd=REPO, env=venv_first_on_path(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)


def test_every_part_runs_and_the_report_shows_it(tmp_path):
    save = tmp_path / "gpu.json"
    proc = start(save, "--only", "dense 784", "--notebooks", "00_start")
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    saved = json.loads(save.read_text())
    assert json.loads(out.strip().splitlines()[-1]) == saved  # run_all.run keeps the last line
    assert saved["complete"] and saved["stopped"] is None and saved["gpus"] == 0
    kinds = [f["figure"] for f in saved["figures"]]
    assert kinds == ["device", "throughput", *["results_table"] * 6, "denoising", "anomaly",
                     "notebook", "total"]
    (measured,) = [f for f in saved["figures"] if f["figure"] == "throughput"]
    assert measured["model"] == "dense 784-32-784" and measured["peak_gflops"] > 1
    assert set(measured["candidates"]) == {c.label for c in throughput.CANDIDATES}
    for label, row in measured["candidates"].items():
        assert "error" in row or 0 < row["fraction_of_peak"] < 1.5, (label, row)
    assert measured["candidates"]["default (repeat)"]["same_loss"]  # a CPU repeats itself
    assert measured["best_same_results"] in throughput.SAME_ORDER
    assert measured["chosen_options"] == training.training_options(runtime.budget("cpu"))
    rows = {f["key"]: f for f in saved["figures"] if f["figure"] == "results_table"}
    assert rows["pca128"]["test MSE"] < rows["pca32"]["test MSE"]  # a bigger code keeps more
    (noise,) = [f for f in saved["figures"] if f["figure"] == "denoising"]
    assert noise["PSNR denoised"] > noise["PSNR noisy"]
    (anomaly,) = [f for f in saved["figures"] if f["figure"] == "anomaly"]
    assert anomaly["ROC AUC"] > 0.6
    (notebook,) = [f for f in saved["figures"] if f["figure"] == "notebook"]
    assert notebook["notebook"] == "lectures/00_start_here.ipynb" and notebook["status"] == "ok"
    assert notebook["under_target"]
    section = run_all.gpu_section(saved)
    assert "smoke run without a GPU" in section and "Cut short" not in section
    assert "| lectures/00_start_here.ipynb |" in section and "**dense 784-32-784**" in section
    assert "| dense 784-32-784 | 5 | 2000 |" in section  # the results table at the ci budget


def kernels_of(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in children if "ipykernel" in " ".join(p.cmdline())]


def stop_once_a_kernel_runs(proc: subprocess.Popen, stop: signal.Signals) -> tuple[list[str], str]:
    """Send ``stop`` to ``proc`` a few seconds after a kernel started under it, and check that it
    exits 128 + the signal and that none of its processes is left (the kernel included, which
    jupyter_client starts in a session of its own). Their command lines, and its stderr."""
    deadline = time.monotonic() + 120
    while not kernels_of(proc) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert kernels_of(proc), "no kernel started"
    time.sleep(3)  # the notebook is running its cells
    family = psutil.Process(proc.pid).children(recursive=True)
    commands = []
    for p in family:
        with contextlib.suppress(psutil.Error):
            commands.append(" ".join(p.cmdline()))
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 128 + stop, err[-3000:]
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"left running: {alive}"
    return commands, err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_keeps_the_finished_figures_and_leaves_no_kernel(tmp_path, stop):
    save = tmp_path / "gpu.json"
    proc = start(save, "--parts", "course", "--notebooks", "04_auto")  # over a minute at ci
    _, err = stop_once_a_kernel_runs(proc, stop)
    saved = json.loads(save.read_text())
    assert not saved["complete"] and saved["stopped"].startswith(signal.Signals(stop).name)
    assert [f["figure"] for f in saved["figures"]] == ["device"]  # the notebook did not finish
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu.json"]  # no half-written file
    assert "figures kept" in err


def test_a_stopped_nbgrader_takes_its_kernel_with_it():
    proc = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "autograde_time.py"),
                             "lab01_curse_and_pca"], cwd=REPO, env=venv_first_on_path(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    commands, err = stop_once_a_kernel_runs(proc, signal.SIGTERM)
    assert any("nbgrader autograde" in c for c in commands), commands  # both were running, and
    assert any("ipykernel" in c for c in commands), commands  # stop_once_a_kernel_runs saw them go
    assert "stopped: no result" in err


def test_an_unknown_part_is_refused_with_the_choices(tmp_path):
    proc = start(tmp_path / "gpu.json", "--parts", "throughput,speed")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "unknown part(s) speed" in err and "throughput, quality, course" in err
    assert not (tmp_path / "gpu.json").exists()
