"""The demo: the main job on the built-in synthetic data, printed as it goes."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from customer_ml.config import Config
from customer_ml.data.load import load_data
from customer_ml.data.profile import print_profile
from customer_ml.jobs.batch import run_job
from customer_ml.report.console import print_job

__all__ = ["run_demo"]


def run_demo(config: Config, *, console: Console, progress: Any = None) -> None:
    """The main job on the built-in synthetic data: generate, profile, recommend (when the
    data has products), then `run` (train, promote by the gate, score with the top products,
    report) into the config's paths.out."""
    from customer_ml.recs.published import recs_folder
    from customer_ml.train.jobs import resolve_as_of
    from customer_ml.train.recommend import recommend_job

    t = time.perf_counter()
    console.rule("customer-ml demo: data")
    data = load_data(config)
    print_profile(data, console=console)
    day = resolve_as_of(data, config, None)
    if "product_id" in data.tx_columns:
        console.rule("customer-ml demo: recommendations")
        recs = recommend_job(config, data, as_of=day, out=recs_folder(config) / "recs.parquet")
        if recs.backtest is not None:
            bt = recs.backtest
            console.print(
                ", ".join(
                    f"{task} products: {bt.champion(task)} NDCG@{bt.k} "
                    f"{bt.score(task, bt.champion(task)):.3f}"
                    for task in ("all", "new")
                )
                + f"; {recs.recs.customer_id.nunique():,} customers, top {bt.k} each"
            )
    result = run_job(config, data=data, as_of=day, progress=progress)
    print_job(result, console=console)
    console.print(f"done in {time.perf_counter() - t:.1f} s")
