"""`make run`'s launcher, on other ports: it brings everything up, prints the URLs, and on
Ctrl-C (SIGINT) stops every process it started."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil
from tessera_dev.harness import free_port_base
from tessera_dev.platform import PortPlan

ROOT = Path(__file__).resolve().parents[1]
START_UP_SECONDS = 150


def test_the_launcher_starts_everything_prints_the_urls_and_stops_all_on_sigint(
    tmp_path: Path,
) -> None:
    base = free_port_base()
    ports = PortPlan.from_base(base)
    argv = [sys.executable, "-m", "tessera_dev.launcher", "--port-base", str(base)]
    launcher = subprocess.Popen(
        [*argv, "--var-dir", str(tmp_path / "var")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    output: list[str] = []
    up = threading.Event()

    def read() -> None:
        assert launcher.stdout is not None
        for line in launcher.stdout:
            output.append(line)
            if "Tessera is up" in line:
                up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert up.wait(START_UP_SECONDS), "".join(output[-60:])
        children = psutil.Process(launcher.pid).children(recursive=True)
        gateway = f"http://127.0.0.1:{ports.gateway}"

        assert len(children) >= 4
        assert httpx.get(f"{gateway}/.well-known/jwks.json").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports.orders}/readyz").status_code == 200
        assert (tmp_path / "var" / "auth.db").exists()

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(60) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    reader.join(10)

    text = "".join(output)
    for url in (f"http://localhost:{ports.gateway}/", f"127.0.0.1:{ports.billing_grpc}"):
        assert url in text
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
