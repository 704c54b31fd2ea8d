"""The command line: help everywhere, generate -> check round trip, atomic outputs."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.config import load_config
from customer_ml.data.load import load_data
from customer_ml.files import atomic_dir

runner = CliRunner()


def all_commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    out: list[list[str]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        out.append(path)
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    return out


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "customer-ml")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_generate_then_check_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    result = runner.invoke(app, ["data", "generate", "--customers", "300", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {
        "transactions.parquet",
        "customers.parquet",
        "events.parquet",
        "truth.parquet",
        "config.yaml",
    }
    ds = load_data(load_config(out / "config.yaml"))
    assert ds.cleaning.customers == 300
    assert ds.has_events and ds.has_customers
    assert len(pd.read_parquet(out / "truth.parquet")) == 300
    check = runner.invoke(app, ["data", "check", "--config", str(out / "config.yaml")])
    assert check.exit_code == 0, check.output
    assert "300 customers" in check.output


def test_atomic_dir_keeps_the_previous_output_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "scores.csv").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "scores.csv").write_text("half")
        raise RuntimeError("interrupted")
    assert (target / "scores.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left behind
    with atomic_dir(target) as tmp:
        (tmp / "scores.csv").write_text("new")
    assert (target / "scores.csv").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_bad_config_key_exits_2_with_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {synthetic: {}}\nhorizon: 30\n")
    result = runner.invoke(app, ["data", "check", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "horizon: unknown key" in result.output and "c.yaml" in result.output


def test_demo_runs_end_to_end_on_a_small_config(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(
        "data: {synthetic: {n_customers: 1200, with_events: false}}\n"
        "project: demo-test\n"
        "backtest: {n_origins: 2, n_train_cutoffs: 2, n_boot: 20}\n"
        "tuning: {n_trials: 3, max_rounds: 200}\n"
        "paths: {out: out, mlruns: mlruns}\n"
    )
    result = runner.invoke(app, ["demo", "--config", str(cfg)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for task in ("churn", "ltv", "segments"):
        assert f"demo-test-{task}: v1 promoted to champion" in result.output
    assert (tmp_path / "out" / "report.html").is_file()
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert "all products: " in result.output  # recommendations first, then in the scores
    assert "top_products" in pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert "id='recommendations'" in (tmp_path / "out" / "report.html").read_text()
