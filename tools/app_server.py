"""The real app (`python app.py`, as Spaces runs it) on a free loopback port, for the app's tests and
bench/soak_app.py: one way to start it, so both exercise the same server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class AppDidNotStart(RuntimeError):
    """The app exited, or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_app(tmp: Path, timeout_s: float = 120, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start `python app.py` offline (HF_HUB_OFFLINE=1) with its temporary and result folders under
    `tmp` and these extra environment variables; yield (URL, process) once it answers /config, and
    stop it afterwards. Its log is tmp/server.log."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(tmp / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
           "COLORIZER_WORK_DIR": str(tmp / "work"), **env}
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(url + "config", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait(timeout=30)
                    raise AppDidNotStart(f"app did not start:\n{log_path.read_text()[-3000:]}") from None
                time.sleep(0.5)
        try:
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(timeout=30)
