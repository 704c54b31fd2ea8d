"""Target lists: the customers of a scoring run ranked by value at risk, with a playbook's
actions and a control group held out, written as a campaign that `measure` reads later."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from customer_ml.config import Config
from customer_ml.errors import DataError
from customer_ml.files import atomic_dir, atomic_file
from customer_ml.scoring.campaign import (
    MANIFEST,
    TARGET_COLUMNS,
    campaign_folder,
    campaign_manifest,
    control_draw,
    scores_as_of,
)
from customer_ml.scoring.playbook import apply_playbook
from customer_ml.scoring.playbook import playbook as rules_of

__all__ = ["target_list"]


def target_list(
    config: Config, folder: Path, *, playbook: str, top: int
) -> tuple[pd.DataFrame, Path]:
    """The `top` customers of the latest scores in `folder` by value at risk, with the
    actions of `playbook`; written to folder/target_<playbook>.csv with a `group` column
    (config.monitoring.control_share of the list held out as `control`, by a hash of the
    customer id and the campaign name <playbook>-<as_of>), and as a campaign folder
    <folder>-campaigns/<playbook>-<as_of>/ (list.csv + campaign.json) that `measure` reads.
    With recommendations in the scores, each row has its `top_products` too. The
    campaign folder lives beside the scores' folder, since a later run replaces that whole."""
    path = folder / "scores.parquet"
    if not path.is_file():
        raise DataError(f"{path}: no scores; run `customer-ml run` or `score` first")
    try:
        rules = rules_of(config, playbook)
    except KeyError as err:
        raise DataError(str(err.args[0])) from None
    s = pd.read_parquet(path)
    s[["recommended_action", "action_channel"]] = apply_playbook(s, rules)
    cols = TARGET_COLUMNS + (["top_products"] if "top_products" in s else [])
    ranked = s.sort_values("value_at_risk", ascending=False, kind="stable")[cols]
    if "top_products" in ranked:  # lists as in scores.csv
        ranked["top_products"] = ranked["top_products"].map(" | ".join)
    as_of = scores_as_of(folder)
    share = config.monitoring.control_share
    campaign = f"{playbook}-{as_of}"
    draw = control_draw(ranked["customer_id"], campaign=campaign)
    ranked["group"] = np.where(draw < share, "control", "treated")
    out = folder / f"target_{playbook}.csv"
    control = int((ranked["group"] == "control").sum())
    manifest = campaign_manifest(
        config, playbook=playbook, as_of=as_of, customers=len(ranked), control=control
    )
    with atomic_dir(campaign_folder(folder, campaign)) as tmp:
        ranked.to_csv(tmp / "list.csv", index=False)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    with atomic_file(out) as tmp:
        ranked.to_csv(tmp, index=False)
    shown = ranked[ranked["group"] == "treated"].head(top)
    return shown.reset_index(drop=True), out
