"""Write generated data as Parquet files with a ready-to-use config (bring-your-own-data shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from customer_ml.data.synthetic import SyntheticData
from customer_ml.files import atomic_dir

__all__ = ["write_generated"]


def write_generated(data: SyntheticData, out: str | Path, *, horizon_days: int = 90) -> Path:
    """Write transactions, customers, events and truth Parquet files and `config.yaml` to `out`.

    The folder is replaced atomically: an error leaves a previous folder as it was.
    """
    out = Path(out)
    config: dict[str, Any] = {
        "data": {
            "transactions": {
                "path": "transactions.parquet",
                "columns": {c: c for c in data.transactions.columns},
            },
            "customers": {
                "path": "customers.parquet",
                "columns": {"customer_id": "customer_id", "signup_ts": "signup_ts"},
            },
        },
        "horizon_days": horizon_days,
    }
    with atomic_dir(out) as tmp:
        data.transactions.to_parquet(tmp / "transactions.parquet", index=False)
        data.customers.to_parquet(tmp / "customers.parquet", index=False)
        data.truth.to_parquet(tmp / "truth.parquet", index=False)
        if len(data.events):
            data.events.to_parquet(tmp / "events.parquet", index=False)
            config["data"]["events"] = {
                "path": "events.parquet",
                "columns": {"customer_id": "customer_id", "ts": "ts", "event_type": "event_type"},
            }
        (tmp / "config.yaml").write_text(
            "# written by `customer-ml data generate`; truth.parquet holds the planted truth\n"
            + yaml.safe_dump(config, sort_keys=False)
        )
    return out
