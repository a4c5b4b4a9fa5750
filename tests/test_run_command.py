"""The README's run command starts JupyterLab on the course with nbgrader's extensions."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


@pytest.fixture
def lab_server():
    port, token = free_port(), "course-test-token"
    proc = subprocess.Popen(
        ["bash", "scripts/run-course.sh", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"run-course.sh exited early:\n{proc.stdout.read()}")
            try:
                get(f"{base}/api/status?token={token}")
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("JupyterLab did not answer within 120 s")
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_run_command_serves_the_course_with_nbgrader(lab_server):
    base, token = lab_server
    page = get(f"{base}/lab?token={token}")
    config = json.loads(page.split('id="jupyter-config-data" type="application/json">')[1]
                        .split("</script>")[0])
    extensions = {e["name"] for e in config["federated_extensions"]}
    assert "@jupyter/nbgrader" in extensions
    assert "@jupyter-widgets/jupyterlab-manager" in extensions  # ipywidgets render
    listing = json.loads(get(f"{base}/api/contents/lectures?token={token}"))
    assert "05_dense_autoencoder.ipynb" in {item["name"] for item in listing["content"]}
    # the formgrader finds the course root through the repository's nbgrader_config.py
    formgrader = get(f"{base}/formgrader/api/assignments?token={token}")
    assert "lab02_dense_autoencoder" in formgrader
