"""Every bad input gets a message a user can act on, and nothing is written."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_ml.cli import app
from customer_ml.config import parse_config
from customer_ml.data.load import load_data
from customer_ml.errors import DataError

GOOD = "cid,when,value\na,2024-01-01,10.5\nb,2024-01-02,3\na,2024-01-05,7\n"


def tx_config(path: Path, **extra: object) -> dict:
    source = {"path": str(path), "columns": {"customer_id": "cid", "ts": "when", "amount": "value"}}
    source.update(extra)
    return {"data": {"transactions": source}}


def load(tmp_path: Path, text: str | bytes, name: str = "tx.csv", **extra: object):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_data(parse_config(tx_config(p, **extra), base_dir=tmp_path))


@pytest.mark.parametrize(
    ("text", "extra", "expected"),
    [
        (
            GOOD.replace("value", "price"),
            {},
            "column 'value' (mapped to amount) not found; the file has columns: cid, when, price",
        ),
        (
            GOOD.replace("2024-01-02", "02/01/2024"),
            {},
            "unparseable timestamp in column 'when' (set ts_format in the config, or "
            "cleaning.drop_bad_timestamps: true to drop such rows) at row 2 "
            "(line 3): value '02/01/2024' (1 row in all)",
        ),
        (
            GOOD.replace("2024-01-02", "2024-13-02"),
            {"ts_format": "%Y-%m-%d"},
            "with format '%Y-%m-%d' at row 2 (line 3): value '2024-13-02'",
        ),
        (
            GOOD.replace("7\n", "seven\n"),
            {},
            "non-numeric, missing or NaN amount in column 'value' at row 3 (line 4): value 'seven'",
        ),
        (GOOD.replace("10.5", ""), {}, "missing or NaN amount in column 'value' at row 1"),
        ("cid,when,value\n", {}, "file is empty (a header but no data rows)"),
        ("", {}, "file is empty"),
        (
            ",2024-01-01,1\n,2024-01-02,2\n",
            {"read_options": {"header": False}},
            "column 'cid' (mapped to customer_id) not found",
        ),
    ],
)
def test_bad_transactions(tmp_path: Path, text: str, extra: dict, expected: str) -> None:
    with pytest.raises(DataError) as err:
        load(tmp_path, text, **extra)
    assert expected in str(err.value)
    assert str(tmp_path / "tx.csv") in str(err.value)


def test_all_rows_filtered_away_names_the_steps(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load(tmp_path, "cid,when,value\n,2024-01-01,1\n,2024-01-02,2\n")
    msg = str(err.value)
    assert "all 2 rows were removed by cleaning" in msg
    assert "missing customer id: 2" in msg


def test_missing_ids_are_an_error_when_not_to_be_dropped(tmp_path: Path) -> None:
    p = tmp_path / "tx.csv"
    p.write_text("cid,when,value\na,2024-01-01,1\n,2024-01-02,2\n")
    cfg = tx_config(p)
    cfg["cleaning"] = {"drop_missing_customer_id": False}
    with pytest.raises(DataError, match=r"missing customer id in column 'cid' at row 2 \(line 3\)"):
        load_data(parse_config(cfg, base_dir=tmp_path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_data(parse_config(tx_config(tmp_path / "nope.csv"), base_dir=tmp_path))


def test_duplicate_customer_ids_in_customers_table(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("id,region\nx,north\ny,south\nx,east\nz,west\ny,north\n")
    cfg = {"data": {"customers": {"path": "c.csv", "columns": {"customer_id": "id"}}}}
    with pytest.raises(DataError) as err:
        load_data(parse_config(cfg, base_dir=tmp_path))
    msg = str(err.value)
    assert "2 duplicate customer id(s) in column 'id'" in msg
    assert "rows [1, 3]" in msg and "rows [2, 5]" in msg
    assert "'x'" not in msg and "'y'" not in msg  # error messages reach job logs: no ids


def test_personal_columns_cannot_be_mapped_and_never_load(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("id,email,Full_Name,region\nx,a@b.c,Ann,north\n")
    cfg = {"data": {"customers": {"path": "c.csv", "columns": {"customer_id": "id"}}}}
    ds = load_data(parse_config(cfg, base_dir=tmp_path))
    assert ds.customer_columns == ("customer_id", "region")
    assert any("email" in n for n in ds.cleaning.notes)
    p = tmp_path / "tx.csv"
    p.write_text("cid,when,value,email\na,2024-01-01,1,a@b.c\n")
    bad = tx_config(p, personal_columns=["cid"])
    with pytest.raises(DataError, match=r"personal column\(s\) \['cid'\] cannot be mapped"):
        load_data(parse_config(bad, base_dir=tmp_path))
    ds = load_data(parse_config(tx_config(p, personal_columns=["email"]), base_dir=tmp_path))
    assert "email" not in ds.table("transactions").columns


@pytest.mark.parametrize(
    ("name", "sep", "text"),
    [
        ("tx.csv", None, GOOD),
        ("tx.txt", ";", GOOD.replace(",", ";")),
        ("tx.tsv", "\t", GOOD.replace(",", "\t")),
        ("tx.dat", r"\s+", GOOD.replace(",", "   ")),
        ("tx.csv.gz", None, gzip.compress(GOOD.encode())),
    ],
)
def test_any_delimiter_compressed_or_not(
    tmp_path: Path, name: str, sep: str | None, text: str | bytes
) -> None:
    extra = {"read_options": {"sep": sep}} if sep else {}
    ds = load(tmp_path, text, name=name, **extra)
    tx = ds.table("transactions")
    assert len(tx) == 3
    assert sorted(tx.amount) == [3.0, 7.0, 10.5]
    assert ds.cleaning.customers == 2


def test_parquet_and_no_amount(tmp_path: Path) -> None:
    day = pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-01 11:00"])
    frame = pd.DataFrame({"id": [1, 2, 2], "day": day})
    frame.to_parquet(tmp_path / "tx.parquet")
    cfg = {
        "data": {
            "transactions": {"path": "tx.parquet", "columns": {"customer_id": "id", "ts": "day"}}
        }
    }
    ds = load_data(parse_config(cfg, base_dir=tmp_path))
    assert not ds.has_amount
    assert ds.cleaning.purchases == 2 and ds.cleaning.same_day_rows_merged == 1
    assert set(ds.table("transactions").customer_id) == {"1", "2"}


def parquet_load(tmp_path: Path, frame: pd.DataFrame, **cleaning: object):
    frame.to_parquet(tmp_path / "tx.parquet")
    cols = {"customer_id": "cid", "ts": "when", "amount": "value"}
    cfg = {"data": {"transactions": {"path": "tx.parquet", "columns": cols}}, "cleaning": cleaning}
    return load_data(parse_config(cfg, base_dir=tmp_path))


def test_parquet_errors_name_the_row_and_the_value(tmp_path: Path) -> None:
    """Parquet is read in place: the row number and the original value still come from it."""
    frame = pd.DataFrame(
        {
            "cid": ["a", "b", "a", "c"],
            "when": ["2024-01-01", "2024-01-02", "soon", "2024-01-03"],
            "value": [1.0, 2.0, 3.0, float("nan")],
        }
    )
    with pytest.raises(
        DataError,
        match=r"unparseable timestamp in column 'when'.* at row 3: value 'soon' \(1 row in all\)$",
    ):
        parquet_load(tmp_path, frame)
    frame.loc[2, "when"] = "2024-01-04"
    with pytest.raises(DataError, match=r"NaN amount in column 'value' at row 4: value ''"):
        parquet_load(tmp_path, frame)


def test_parquet_duplicates_and_a_column_named_like_the_row_number(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "cid": ["a", "a", "b"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"]),
            "value": [5.0, 5.0, 7.0],
        }
    )
    ds = parquet_load(tmp_path, frame, drop_duplicates=True)
    assert ds.cleaning.rows_kept == 2 and dict(ds.cleaning.steps)["exact duplicate rows"] == 1
    ds = parquet_load(tmp_path, frame.assign(file_row_number=[7, 8, 9]), drop_duplicates=True)
    assert ds.cleaning.rows_kept == 3  # the extra column makes the rows differ
    assert ds.con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] >= 1
    frame.loc[1, "when"] = pd.NaT
    with pytest.raises(DataError, match=r"at row 2"):
        parquet_load(tmp_path, frame.assign(file_row_number=[7, 8, 9]))


def test_cli_reports_bad_input_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "tx.csv").write_text(GOOD.replace("7\n", "seven\n"))
    (tmp_path / "c.yaml").write_text(
        "data:\n  transactions:\n    path: tx.csv\n"
        "    columns: {customer_id: cid, ts: when, amount: value}\n"
    )
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, ["data", "check", "--config", "c.yaml"])
    assert result.exit_code == 2
    assert "non-numeric, missing or NaN amount in column 'value'" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_events_bad_timestamp_names_the_row_and_the_value(tmp_path: Path) -> None:
    (tmp_path / "tx.csv").write_text(GOOD)
    (tmp_path / "ev.csv").write_text("cid,when,kind\na,2024-01-01,browse\na,whenever,browse\n")
    cfg = tx_config(tmp_path / "tx.csv")
    cfg["data"]["events"] = {
        "path": str(tmp_path / "ev.csv"),
        "columns": {"customer_id": "cid", "ts": "when", "event_type": "kind"},
    }
    with pytest.raises(
        DataError,
        match=r"ev.csv: unparseable timestamp in column 'when' at row 2 \(line 3\): "
        r"value 'whenever' \(1 row in all\)$",
    ):
        load_data(parse_config(cfg, base_dir=tmp_path))
