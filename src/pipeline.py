"""What the commands print, the demo, and the target list (thin layers over the library)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from customer_ml.config import Config
from customer_ml.data.io import DataError
from customer_ml.data.load import load_data
from customer_ml.data.profile import print_profile
from customer_ml.scoring.campaign import campaign_folder, scores_as_of

__all__ = [
    "campaign_folder",
    "print_backtest",
    "print_job",
    "print_segments",
    "print_target",
    "run_demo",
    "target_list",
]


def print_backtest(bt: Any, title: str, *, console: Console) -> None:
    """Every candidate's headline metrics with 95 % CIs, best first."""
    t = bt.table()
    n = bt.per_origin.groupby("origin")["n"].first()
    sizes = ", ".join(f"{int(v):,}" for v in n)
    table = Table(title=f"{title}; customers per origin {sizes}", title_justify="left")
    table.add_column("candidate", no_wrap=True)
    for c in t.columns:
        table.add_column(str(c), justify="right")
    for name, row in t.iterrows():
        table.add_row(str(name), *(str(v) for v in row))
    console.print(table)


def print_segments(seg: Any, title: str, *, console: Console) -> None:
    """Segment names, sizes, revenue shares and the chosen solution's quality."""
    q = seg.quality
    table = Table(
        title=f"{title}: {seg.params['algorithm']}, k={seg.params['k']}, "
        f"{seg.params['transform']}; silhouette {q['silhouette']:.3f}, "
        f"stability (ARI) {q['stability']:.3f}",
        title_justify="left",
    )
    for c in ("segment", "name", "customers", "share", "revenue share"):
        table.add_column(c, justify="left" if c in ("segment", "name") else "right")
    for k, row in seg.profile.iterrows():
        rev = f"{row['revenue_share']:.1%}" if "revenue_share" in row else ""
        table.add_row(
            str(k), seg.names[k], f"{int(row['customers']):,}", f"{row['share']:.1%}", rev
        )
    console.print(table)


def print_job(result: Any, *, console: Console) -> None:
    """What a run or score wrote: the gate's verdicts, segments, actions, the folder."""
    for task, verdict in result.promotions.items():
        console.print(f"{task}: {verdict}")
    s = result.scores
    table = Table(title=f"customers as of {result.as_of}", title_justify="left")
    for c in ("segment", "customers", "mean churn", "value at risk"):
        table.add_column(c, justify="left" if c == "segment" else "right")
    g = s.groupby("segment_name")
    for name, n in g.size().sort_values(ascending=False).items():
        rows = g.get_group(name)
        table.add_row(
            str(name),
            f"{n:,}",
            f"{rows['churn_probability'].mean():.1%}",
            f"{rows['value_at_risk'].sum():,.0f}",
        )
    console.print(table)
    actions = s["recommended_action"].value_counts()
    console.print("actions: " + ", ".join(f"{k} {v:,}" for k, v in actions.items()))
    console.print(
        f"wrote {result.out.resolve()}: scores.parquet, scores.csv, metrics.json, report.html"
    )


def target_list(
    config: Config, folder: Path, *, playbook: str, top: int
) -> tuple[pd.DataFrame, Path]:
    """The `top` customers of the latest scores in `folder` by value at risk, with the
    actions of `playbook`; written to folder/target_<playbook>.csv with a `group` column
    (config.monitoring.control_share of the list held out as `control`, by a hash of the
    customer id and the campaign name <playbook>-<as_of>), and as a campaign folder
    <folder>-campaigns/<playbook>-<as_of>/ (list.csv + campaign.json) that `measure` reads. The
    campaign folder lives beside the scores' folder, since a later run replaces that whole."""
    from customer_ml.files import atomic_dir, atomic_file
    from customer_ml.scoring.campaign import (
        MANIFEST,
        TARGET_COLUMNS,
        campaign_manifest,
        control_draw,
    )
    from customer_ml.scoring.playbook import apply_playbook
    from customer_ml.scoring.playbook import playbook as rules_of

    path = folder / "scores.parquet"
    if not path.is_file():
        raise DataError(f"{path}: no scores; run `customer-ml run` or `score` first")
    try:
        rules = rules_of(config, playbook)
    except KeyError as err:
        raise DataError(str(err.args[0])) from None
    s = pd.read_parquet(path)
    s[["recommended_action", "action_channel"]] = apply_playbook(s, rules)
    ranked = s.sort_values("value_at_risk", ascending=False, kind="stable")[TARGET_COLUMNS]
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


def print_target(table: pd.DataFrame, *, title: str, console: Console) -> None:
    t = Table(title=title, title_justify="left")
    shown = ["customer_id", "segment_name", "churn_probability", "predicted_ltv"]
    shown += ["value_at_risk", "recommended_action"]
    table = table[shown]
    for c in table.columns:
        t.add_column(c.replace("_", " "), justify="right" if table[c].dtype.kind == "f" else "left")
    for row in table.itertuples(index=False):
        t.add_row(*(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row))
    console.print(t)


def run_demo(config: Config, *, console: Console, progress: Any = None) -> None:
    """The main job on the built-in synthetic data: generate, profile, then `run` (train,
    promote by the gate, score, report) into the config's paths.out."""
    from customer_ml.jobs.batch import run_job

    t = time.perf_counter()
    console.rule("customer-ml demo: data")
    data = load_data(config)
    print_profile(data, console=console)
    result = run_job(config, data=data, progress=progress)
    print_job(result, console=console)
    console.print(f"done in {time.perf_counter() - t:.1f} s")
