"""Starting the HTTP service as a `bentoml serve` process on loopback: the command line that
`customer-ml serve` runs, and start / stop helpers for the service tests and the benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

__all__ = ["REPO", "free_port", "service_command", "service_root", "start_service", "stop_service"]

REPO = Path(__file__).resolve().parents[1]  # a checkout's root (benchmarks' defaults only)
SERVICE = "serving.service:CustomerScoring"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_root() -> Path:
    """The folder holding the `serving` package (this file's): a checkout, or the
    site-packages of an installed wheel."""
    return Path(__file__).resolve().parents[1]


def service_command(host: str, port: int) -> list[str]:
    """`bentoml serve` of serving.service:CustomerScoring, run by this interpreter (no
    `bentoml` script on PATH needed), from wherever `serving` is installed."""
    cmd = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--working-dir", str(service_root())]
    return [*cmd, "--host", host, "--port", str(port)]


def start_service(
    config: Path, *, env: dict[str, str] | None = None, timeout_s: float = 120.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the service for `config` on a free loopback port in its own process group and
    wait until /readyz answers 200; returns the process and the base URL."""
    import httpx

    port = free_port()
    full = os.environ | {"CUSTOMER_ML_CONFIG": str(config), "BENTOML_DO_NOT_TRACK": "true"}
    # the service's output goes to an unlinked file: read back if start-up fails, freed when
    # the service exits (a pipe nobody reads would block it once full)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            service_command("127.0.0.1", port),
            env=full | (env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bentoml serve exited during start-up:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        stop_service(proc)
        raise RuntimeError(
            f"the service did not become ready in {timeout_s:.0f} s; its output ends:\n{_tail(log)}"
        )


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode(errors="replace")


def stop_service(proc: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL) the service's process group and wait for it."""
    os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
