"""Bad input through the CLI: one line naming the file, column and row (or the config key),
exit code 2, and nothing written (no output folder, no MLflow store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from customer_ml.cli import app

GOOD = "cid,when,value\na,2024-01-01,10.5\nb,2024-01-02,3\na,2024-01-05,7\nc,2024-02-01,4\n"
CONFIG = (
    "data:\n  transactions:\n    path: tx.csv\n"
    "    columns: {customer_id: cid, ts: when, amount: value}\n"
    "paths: {out: out, mlruns: mlruns}\n"
)


def bad_ts(text: str) -> str:
    return text.replace("2024-01-02", "yesterday").replace("2024-01-05", "13/13/13")


CASES: dict[str, tuple[str | None, str | None, list[str], list[str]]] = {
    # name: (config text or None for no file, data text or None, extra args, expected parts)
    "config missing": (None, GOOD, [], ["c.yaml: config file not found"]),
    "data missing": (CONFIG.replace("tx.csv", "nope.csv"), None, [], ["nope.csv: file not found"]),
    "malformed yaml": (
        "data: [transactions\n",
        GOOD,
        [],
        ["c.yaml: not valid YAML: ", "at line 2"],
    ),
    "unknown config key": (
        CONFIG + "horizon_dayz: 30\n",
        GOOD,
        [],
        ["c.yaml: invalid config", "horizon_dayz: unknown key"],
    ),
    "mapped column absent": (
        CONFIG,
        GOOD.replace("value", "price"),
        [],
        ["tx.csv", "column 'value' (mapped to amount) not found", "cid, when, price"],
    ),
    "garbage timestamps": (
        CONFIG,
        bad_ts(GOOD),
        [],
        [
            "tx.csv",
            "unparseable timestamp in column 'when'",
            "at row 2 (line 3): value 'yesterday'; row 3 (line 4): '13/13/13' (2 rows in all)",
            "cleaning.drop_bad_timestamps",
        ],
    ),
    "NaN amount": (
        CONFIG,
        GOOD.replace("10.5", "NaN"),
        [],
        ["tx.csv", "NaN amount in column 'value' at row 1 (line 2): value 'NaN'"],
    ),
    "infinite amount": (CONFIG, GOOD.replace(",3\n", ",inf\n"), [], ["at row 2 (line 3)"]),
    "text amount": (
        CONFIG,
        GOOD.replace(",7\n", ",7 EUR\n"),
        [],
        ["row 3 (line 4): value '7 EUR'"],
    ),
    "header only": (CONFIG, "cid,when,value\n", [], ["tx.csv", "a header but no data rows"]),
    "empty customer ids": (
        CONFIG,
        "cid,when,value\n ,2024-01-01,1\n,2024-01-02,2\n",
        [],
        ["tx.csv", "all 2 rows were removed by cleaning (missing customer id: 2)"],
    ),
    "empty customer id kept": (
        CONFIG + "cleaning: {drop_missing_customer_id: false}\n",
        GOOD.replace("b,", ","),
        [],
        ["tx.csv", "missing customer id in column 'cid' at row 2 (line 3)"],
    ),
    "as-of before the data": (
        CONFIG,
        GOOD,
        ["--as-of", "2023-12-31"],
        [
            "--as-of 2023-12-31 is before the first transaction",
            "2024-01-01 to 2024-02-01",
            "tx.csv",
        ],
    ),
    "as-of after the data": (
        CONFIG,
        GOOD,
        ["--as-of", "2024-02-02"],
        ["--as-of 2024-02-02 is after the last transaction", "2024-01-01 to 2024-02-01"],
    ),
    "config as_of after the data": (
        CONFIG + "as_of: 2025-01-01\n",
        GOOD,
        [],
        ["c.yaml: as_of 2025-01-01 is after the last transaction"],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, data, args, expected = CASES[case]
    if config is not None:
        (tmp_path / "c.yaml").write_text(config)
    if data is not None:
        (tmp_path / "tx.csv").write_text(data)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, ["run", "--config", "c.yaml", *args])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("error: "), message
    assert "Traceback" not in message
    for part in expected:
        assert part in message, (part, message)
    if case != "unknown config key":  # the config's errors list one key a line
        assert "\n" not in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no out/, no mlruns/


def test_bad_timestamps_can_be_dropped_and_are_counted(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CONFIG + "cleaning: {drop_bad_timestamps: true}\n")
    (tmp_path / "tx.csv").write_text(bad_ts(GOOD))
    result = CliRunner().invoke(app, ["data", "check", "--config", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    assert "unparseable timestamp" in result.output and "2 customers" in result.output


def test_negative_amounts_are_returns_counted_not_errors(tmp_path: Path) -> None:
    """A negative amount is a return (cleaning.returns decides: drop, net or keep)."""
    from customer_ml.config import load_config
    from customer_ml.data.load import load_data

    (tmp_path / "c.yaml").write_text(CONFIG)
    (tmp_path / "tx.csv").write_text(GOOD.replace(",7\n", ",-7\n"))
    ds = load_data(load_config(tmp_path / "c.yaml"))
    assert dict(ds.cleaning.steps)["returns and cancellations"] == 1
    assert ds.cleaning.rows_kept == 3
