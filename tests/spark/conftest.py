"""One Spark session for the whole suite, on a real standalone cluster: a master and one
worker (1 core, small memory) started from pyspark's own bin/spark-class on free ports, and
stopped at the end. The tests skip cleanly when pyspark (the spark extra) is not installed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pyspark = pytest.importorskip("pyspark")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Spark daemon exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"Spark daemon not listening on {port}: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """spark://127.0.0.1:<port> of a master with one worker (1 core, 1 GB)."""
    from customer_ml.data.spark import find_java

    home = Path(pyspark.__file__).parent
    root = tmp_path_factory.mktemp("spark-cluster")
    env = os.environ | {
        "SPARK_HOME": str(home),
        "JAVA_HOME": find_java()[0],
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOG_DIR": str(root),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_WORKER_DIR": str(root / "work"),
    }
    cls = str(home / "bin" / "spark-class")
    port, ui = _free_port(), _free_port()
    procs = []
    try:
        master_log = root / "master.log"
        master = subprocess.Popen(
            [cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)],
            env=env, stdout=master_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(master)
        _wait_for(port, master, master_log)
        url = f"spark://127.0.0.1:{port}"
        worker_port, worker_log = _free_port(), root / "worker.log"
        worker = subprocess.Popen(
            [cls, "org.apache.spark.deploy.worker.Worker", url, "--cores", "1",
             "--memory", "1g", "--host", "127.0.0.1", "--port", str(worker_port),
             "--webui-port", str(_free_port())],
            env=env, stdout=worker_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(worker)
        _wait_for(worker_port, worker, worker_log)
        yield url
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture(scope="session")
def spark(standalone: str) -> Iterator[object]:
    """The suite's SparkSession, a client of the standalone cluster."""
    from customer_ml.config import SparkConfig
    from customer_ml.data.spark import spark_session

    cfg = SparkConfig(
        master=standalone,
        app_name="customer-ml-tests",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.executor.memory": "768m",
            "spark.ui.enabled": "false",
        },
    )
    session = spark_session(cfg)
    yield session
    session.stop()
