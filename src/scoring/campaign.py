"""Control groups for target lists, and the measured effect of a campaign.

A customer's group is a pure function of the campaign name and the customer id (sha256 of
both, read as a number in [0, 1), below `control_share` = control), so re-running `target`
gives the same groups and two campaigns draw independent ones. `measure` compares treated
and control over the campaign's horizon (as_of, as_of + horizon]: retention (a purchase in
the window) and spend, each as a difference with a confidence interval and a p-value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from customer_ml.config import Config
from customer_ml.data.dataset import Dataset
from customer_ml.errors import DataError
from customer_ml.features.labels import build_labels

__all__ = [
    "MANIFEST",
    "TARGET_COLUMNS",
    "campaign_folder",
    "campaign_manifest",
    "compare_groups",
    "control_draw",
    "measure_campaign",
    "read_campaign",
    "scores_as_of",
]

MANIFEST = "campaign.json"
#: the columns of a target list (with ``group``: treated or control)
TARGET_COLUMNS = [
    "customer_id",
    "segment_name",
    "value_tier",
    "lifecycle_stage",
    "churn_probability",
    "predicted_ltv",
    "expected_purchases",
    "value_at_risk",
    "recommended_action",
    "action_channel",
]


def campaign_folder(folder: Path, campaign: str) -> Path:
    """Where `target` keeps a campaign: beside the scores' folder, one folder per campaign."""
    return folder.with_name(f"{folder.name}-campaigns") / campaign


def campaign_manifest(
    config: Config, *, playbook: str, as_of: str, customers: int, control: int
) -> dict[str, Any]:
    """campaign.json of a target list: what `measure` needs to compare the groups later."""
    return {
        "campaign": f"{playbook}-{as_of}",
        "playbook": playbook,
        "as_of": as_of,
        "horizon_days": config.horizon_days,
        "control_share": config.monitoring.control_share,
        "customers": customers,
        "control": control,
    }


def scores_as_of(folder: Path) -> str:
    """The as_of of the scores in `folder` (from its feature store or metrics.json)."""
    for name in ("features.json", "metrics.json"):
        path = folder / name
        if path.is_file():
            return str(json.loads(path.read_text())["as_of"])
    raise DataError(f"{folder}: no features.json or metrics.json beside the scores")


def control_draw(ids: pd.Series, *, campaign: str) -> np.ndarray:
    """A uniform number in [0, 1) per customer from sha256(campaign + NUL + customer_id)."""
    out = np.empty(len(ids))
    for i, cid in enumerate(ids.astype(str)):
        digest = hashlib.sha256(f"{campaign}\0{cid}".encode()).digest()
        out[i] = int.from_bytes(digest[:8], "big") / 2.0**64
    return out


def _proportions(t: np.ndarray, c: np.ndarray, z: float) -> dict[str, float]:
    pt, pc = t.mean(), c.mean()
    se = np.sqrt(pt * (1 - pt) / len(t) + pc * (1 - pc) / len(c))
    pooled = (t.sum() + c.sum()) / (len(t) + len(c))
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / len(t) + 1 / len(c)))
    p = 2 * stats.norm.sf(abs(pt - pc) / se0) if se0 > 0 else 1.0
    d = pt - pc
    return {"treated": pt, "control": pc, "difference": d, "ci_low": d - z * se,
            "ci_high": d + z * se, "p_value": float(p)}  # fmt: skip


def _means(t: np.ndarray, c: np.ndarray, level: float) -> dict[str, float]:
    test = stats.ttest_ind(t, c, equal_var=False)
    ci = test.confidence_interval(level)
    return {"treated": t.mean(), "control": c.mean(), "difference": t.mean() - c.mean(),
            "ci_low": ci.low, "ci_high": ci.high, "p_value": float(test.pvalue)}  # fmt: skip


def compare_groups(outcomes: pd.DataFrame, *, level: float = 0.95) -> dict[str, Any]:
    """Treated against control: retention (normal approximation, unpooled CI, pooled
    z-test) and spend (Welch's t), and the value per treated customer (the spend
    difference). `outcomes` has `group` ('treated' / 'control'), `retained` (0/1) and
    optionally `spend`."""
    t = outcomes[outcomes["group"] == "treated"]
    c = outcomes[outcomes["group"] == "control"]
    if len(t) < 2 or len(c) < 2:
        raise DataError(
            f"measure needs two customers per group (treated {len(t)}, control {len(c)})"
        )
    z = float(stats.norm.ppf(0.5 + level / 2))
    out: dict[str, Any] = {"level": level, "treated": len(t), "control": len(c)}
    ret = _proportions(t["retained"].to_numpy(float), c["retained"].to_numpy(float), z)
    out["retention"] = {k: float(v) for k, v in ret.items()}
    if "spend" in outcomes:
        sp = _means(t["spend"].to_numpy(float), c["spend"].to_numpy(float), level)
        out["spend"] = {k: float(v) for k, v in sp.items()}
        out["value_per_treated_customer"] = out["spend"]["difference"]
    return out


def read_campaign(folder: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The manifest and the list (with its `group` column) of a campaign folder."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file() or not (folder / "list.csv").is_file():
        raise DataError(f"--campaign {folder}: no {MANIFEST} + list.csv; run `customer-ml target`")
    manifest = json.loads((folder / MANIFEST).read_text())
    listed = pd.read_csv(folder / "list.csv", dtype={"customer_id": str})
    return manifest, listed


def measure_campaign(
    data: Dataset, folder: str | Path, *, as_of: str | dt.date, level: float = 0.95
) -> dict[str, Any]:
    """The campaign's effect over (campaign as_of, + horizon]; needs `as_of` at least that
    far on. Reads rows with ts <= campaign as_of + horizon only."""
    manifest, listed = read_campaign(folder)
    start = dt.date.fromisoformat(manifest["as_of"])
    h = int(manifest["horizon_days"])
    day = pd.Timestamp(as_of).date()
    if day < start + dt.timedelta(days=h):
        raise DataError(
            f"--as-of {day}: the campaign's horizon runs to {start + dt.timedelta(days=h)}; "
            "measure after it"
        )
    labels = build_labels(data, as_of=start, horizon_days=h)
    labels = labels.assign(customer_id=labels["customer_id"].astype(str))
    joined = listed[["customer_id", "group"]].merge(labels, on="customer_id", how="inner")
    outcomes = pd.DataFrame(
        {"group": joined["group"], "retained": (~joined["churned"]).astype(int)}
    )
    if "future_spend" in joined:
        outcomes["spend"] = joined["future_spend"].astype(float)
    return manifest | {"measured_as_of": day.isoformat()} | compare_groups(outcomes, level=level)
