"""The default engine's DuckDB memory: a limit below DuckDB's own by default, the config's
when set, and spilling to the configured directory gives the same features."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from customer_ml.config import parse_config
from customer_ml.data import load
from customer_ml.data.load import MEMORY_SHARE, connect, load_data
from customer_ml.features.materialise import build_features


def setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return str(con.execute(f"SELECT current_setting('{name}')").fetchone()[0])


def test_the_default_limit_is_a_share_of_the_machine_and_spills_to_the_system_temp() -> None:
    con = connect()
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    want = duckdb.connect()
    want.execute(f"SET memory_limit = '{int(total * MEMORY_SHARE / 2**20)}MB'")
    assert setting(con, "memory_limit") == setting(want, "memory_limit")
    assert setting(con, "memory_limit") != setting(duckdb.connect(), "memory_limit")  # not 80 %
    spill = Path(setting(con, "temp_directory"))
    assert spill.parent == Path(load.tempfile.gettempdir())
    assert str(os.getpid()) in spill.name


def rows(n_customers: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_customers * 8
    return pd.DataFrame(
        {
            "customer_id": [f"customer-{c:07d}" for c in rng.integers(0, n_customers, n)],
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, n), "h"),
            "amount": np.round(rng.gamma(2.0, 20.0, n), 2),
            "order_id": [f"order-{k:09d}" for k in rng.permutation(n)],
            "product_id": [f"product-{k:05d}" for k in rng.integers(0, 5000, n)],
        }
    )


def test_a_configured_limit_and_directory_are_used_and_spilling_changes_no_feature(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tx.parquet"
    rows(40_000).to_parquet(path, index=False)
    cols = {c: c for c in ("customer_id", "ts", "amount", "order_id", "product_id")}
    base = {"data": {"transactions": {"path": str(path), "columns": cols}}}
    spill = tmp_path / "spill"
    small = parse_config(
        base | {"duckdb": {"memory_limit": "40MB", "temp_directory": str(spill)}},
        base_dir=tmp_path,
    )
    data = load_data(small)
    assert setting(data.con, "memory_limit") == setting(
        duckdb.connect(config={"memory_limit": "40MB"}), "memory_limit"
    )
    assert Path(setting(data.con, "temp_directory")) == spill
    got = build_features(data, as_of="2024-10-01", config=small)
    (spilled,) = data.con.execute(
        "SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files()"
    ).fetchone()
    assert spilled > 0 and spill.is_dir()  # the tables did not fit in 40 MB: they spilled
    roomy = parse_config(base, base_dir=tmp_path)
    want = build_features(load_data(roomy), as_of="2024-10-01", config=roomy)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("bad", ["lots", "8 GBs", "8GB; SET threads = 1", "-1GB"])
def test_a_bad_limit_is_refused_with_its_field(bad: str, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="memory_limit"):
        parse_config(
            {"data": {"synthetic": {"n_customers": 100}}, "duckdb": {"memory_limit": bad}},
            base_dir=tmp_path,
        )
