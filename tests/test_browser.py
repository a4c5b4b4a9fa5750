"""The course as a person sees it: JupyterLab in a real Chromium, driven by Playwright.

The server is started by the README's run command on a scratch copy of lectures/ and
labs/ (running a notebook in the browser saves outputs into it). Screenshots go to
test-artifacts/browser/; a failing test says where its screenshot is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ARTIFACTS, LABS, LECTURES, REPO
from tests.test_run_command import free_port

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ARTIFACTS / "browser"
# The flags this machine's closed network needs (no background connections, no sandbox as root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETTINGS = {
    # render every cell, so that the page holds all outputs at once; start the notebook's
    # kernel without asking (the "Select Kernel" dialog otherwise races the first click)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none", "autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser"),
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """JupyterLab from scripts/run-course.sh on a scratch copy of the course."""
    root = tmp_path_factory.mktemp("course")
    for folder in (LECTURES, LABS):
        shutil.copytree(folder, root / folder.name)
    settings = tmp_path_factory.mktemp("settings")
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = free_port(), "browser-test-token"
    log = open(root / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        ["bash", "scripts/run-course.sh", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={settings}"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "CI": "true", "COURSE_NOTEBOOK_DIR": str(root)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"JupyterLab did not start; see {root / 'server.log'}")
        yield f"{base}/lab/tree/{{path}}?token={token}", root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{request.node.name}-final.png"
    page.screenshot(path=str(shot))
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    if failed:
        print(f"\nscreenshot of the failure: {shot}")
    context.close()


def open_notebook(page, server, path: str) -> None:
    url, _ = server
    # A fresh workspace first, on a page that opens no notebook: JupyterLab answers ?reset by
    # reloading the page without it, and a notebook URL with ?reset had both pages ask for a
    # kernel; the server started two and the notebook could stay on the one it shut down, so
    # Run All reached no kernel (seen once in CI: two "Kernel started" 55 ms apart)
    page.goto(url.format(path="").replace("/tree/?", "?") + "&reset")
    page.wait_for_url(lambda u: "reset" not in u, timeout=60_000)
    page.wait_for_selector(".jp-LabShell", timeout=60_000)
    page.goto(url.format(path=path))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    ready = ".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Dialog-header"
    page.wait_for_selector(ready, timeout=60_000)
    accept_kernel_dialog(page)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    settled_kernel(server, path)


def sessions(server, path: str) -> list[dict]:
    """The server's kernel sessions of the notebook at path (its REST API)."""
    url, _ = server
    base, token = url.split("/lab/tree/")[0], url.rsplit("token=", 1)[1]
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as response:
        return [x for x in json.load(response) if x["path"] == path]


def settled_kernel(server, path: str, settle_s: float = 2.0, timeout_s: float = 60) -> str:
    """The id of the one kernel the server runs for path, once it has stayed the same and
    idle for settle_s."""
    deadline, seen, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        now = sessions(server, path)
        kernel = (now[0]["kernel"]["id"] if len(now) == 1
                  and now[0]["kernel"]["execution_state"] == "idle" else None)
        if kernel != seen:
            seen, since = kernel, time.monotonic()
        elif kernel and time.monotonic() - since >= settle_s:
            return kernel
        time.sleep(0.25)
    pytest.fail(f"{path}: no single idle kernel for {settle_s} s within {timeout_s} s: "
                f"{sessions(server, path)}")


def accept_kernel_dialog(page) -> None:
    """Answer JupyterLab's "Select Kernel" dialog, if shown, with the notebook's own kernel."""
    if page.locator(".jp-Dialog-header", has_text="Select Kernel").count():
        page.click(".jp-Dialog-button:has-text('Select')")


def run_all(page, timeout_s: int = 240) -> list[str]:
    """Run > Run All Cells, then wait until nothing is queued or running (JupyterLab stops
    at the first error, as a student sees it). Returns the cells' prompts."""
    start = time.monotonic()
    deadline, quiet, clicks, clicked_at = start + timeout_s, 0, 0, -1e9
    while time.monotonic() < deadline:
        prompts = page.locator(f"{NOTEBOOK} .jp-CodeCell .jp-InputPrompt").all_inner_texts()
        started = any(re.search(r"\[(\d+|\*)\]", p) for p in prompts)
        if not started and clicks < 3 and time.monotonic() - clicked_at > 30:
            # nothing queued 30 s after a click: the click did not reach the notebook; again
            page.locator(f"{NOTEBOOK} .jp-Cell").first.click()  # make this notebook current
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            clicks, clicked_at = clicks + 1, time.monotonic()
        time.sleep(1)
        accept_kernel_dialog(page)
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() > 0
        done = started and not any("*" in p for p in prompts)
        quiet = quiet + 1 if idle and done else 0
        if quiet >= 3:
            return prompts
    dialogs = page.locator(".jp-Dialog").all_inner_texts()
    pytest.fail(f"cells not done {timeout_s} s after {clicks} click(s) on Run All Cells: "
                f"{prompts}; dialogs on screen: {dialogs}")


def save_and_read(page, server, path: str) -> dict:
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    return json.loads((server[1] / path).read_text())


def error_outputs(nb: dict) -> list[str]:
    return [f"{o['ename']}: {o['evalue']}" for c in nb["cells"] if c["cell_type"] == "code"
            for o in c.get("outputs", []) if o["output_type"] == "error"]


def pixels(locator) -> np.ndarray:
    from io import BytesIO

    import matplotlib.image as mpimg

    return mpimg.imread(BytesIO(locator.screenshot()), format="png")


def test_lecture_runs_and_shows_figures(page, server):
    path = "lectures/05_dense_autoencoder.ipynb"
    open_notebook(page, server, path)
    prompts = run_all(page)
    assert all(re.search(r"\[\d+\]", p) for p in prompts), f"not every cell ran: {prompts}"
    images = page.locator(f"{NOTEBOOK} .jp-OutputArea-output img")
    assert images.count() >= 5  # grid, curves, reconstructions, worst 8, PCA vs AE
    images.nth(2).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "lecture05-reconstructions.png"))
    assert "compression factor: 784 / 32 = 24.5" in page.locator(NOTEBOOK).inner_text()
    assert not error_outputs(save_and_read(page, server, path))


def test_latent_explorer_slider_redraws_the_decoded_image(page, server):
    path = "lectures/09_latent_space_2d.ipynb"
    open_notebook(page, server, path)
    run_all(page)
    slider = page.locator(f"{NOTEBOOK} .widget-slider").first
    slider.scroll_into_view_if_needed()
    widget = page.locator(f"{NOTEBOOK} .widget-vbox").first
    figure = widget.locator("img").first
    figure.wait_for(timeout=30_000)
    before = pixels(figure)
    page.screenshot(path=str(SHOTS / "latent-before.png"))
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("-1.5" if float(readout.inner_text()) > 0 else "1.5")
    page.keyboard.press("Enter")
    page.wait_for_timeout(3000)
    after = pixels(widget.locator("img").first)
    page.screenshot(path=str(SHOTS / "latent-after.png"))
    assert before.shape == after.shape
    assert np.abs(before - after).mean() > 0.001, "moving z1 did not change the figure"


def test_released_lab_shows_why_a_test_fails(page, server):
    path = "labs/lab02_dense_autoencoder.ipynb"
    open_notebook(page, server, path)
    prompts = run_all(page)
    # the stubs' source says NotImplementedError too: look for it in an output
    first_error = page.locator(f"{NOTEBOOK} .jp-OutputArea-output", has_text="NotImplementedError")
    assert first_error.count() >= 1, f"no cell output names NotImplementedError; prompts {prompts}"
    first_error.first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "lab02-unsolved.png"))
    nb = save_and_read(page, server, path)
    assert error_outputs(nb) and all(e.startswith("NotImplementedError") for e in error_outputs(nb))


def test_nbgrader_tools_are_there(page, server):
    open_notebook(page, server, "labs/lab02_dense_autoencoder.ipynb")
    assert page.locator(".jp-Toolbar-item", has_text="Validate").first.is_visible()
    page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    menu = page.locator(".lm-Menu-content").inner_text()
    assert "Formgrader" in menu and "Assignment List" in menu
    page.screenshot(path=str(SHOTS / "nbgrader-menu.png"))
    page.keyboard.press("Escape")
    assert page.locator(".lm-TabBar-tab", has_text="Create Assignment").count() >= 1
