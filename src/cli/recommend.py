"""Command: recommend (the next products for each customer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from customer_ml.cli.common import AsOfOpt, ConfigOpt, app, console, err_console, user_errors
from customer_ml.config import load_config


@app.command()
@user_errors
def recommend(
    config: ConfigOpt,
    as_of: AsOfOpt = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Products per customer.")] = 10,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Parquet file; default <paths.out>-recs/recs.parquet"),
    ] = None,
    new_only: Annotated[
        bool, typer.Option("--new-only", help="Only products the customer never bought.")
    ] = False,
) -> None:
    """Backtest every recommender, keep the best, and write the top k products per customer
    (customer_id, rank, product_id, score, reason) from rows up to as-of only."""
    from customer_ml.data.load import load_data
    from customer_ml.train.jobs import resolve_as_of
    from customer_ml.train.recommend import recommend_job, recs_folder

    cfg = load_config(config)
    data = load_data(cfg)
    day = resolve_as_of(data, cfg, as_of)
    path = out or recs_folder(cfg) / "recs.parquet"
    result = recommend_job(cfg, data, as_of=day, out=path, k=k, new_only=new_only)
    if result.warning:
        err_console.print(f"[yellow]warning:[/yellow] {result.warning}")
    if result.backtest is not None:
        t = result.backtest.table()
        console.print(
            t[["task", "method", f"recall@{k}", f"ndcg@{k}", "coverage"]]
            .round(4)
            .to_string(index=False)
        )
    if result.tuning is not None and not result.tuning.trials.empty:
        t = result.tuning
        base, best = t.trials["mean"].iloc[0], t.trials["mean"].max()
        verdict = (
            f"kept the defaults (best trial {best:.4f}, within one standard error)"
            if bool(t.trials["chosen"].iloc[0])
            else f"-> {t.trials.loc[t.trials['chosen'], 'mean'].iloc[0]:.4f}"
        )
        console.print(
            f"ranker tuned with Optuna: {len(t.trials)} trials in {t.seconds:.0f} s, inner "
            f"NDCG@{k} {base:.4f} (defaults) {verdict}"
        )
    registered = f"; registered {cfg.project_name}-recs v{result.version}" if result.version else ""
    console.print(
        f"champion: {result.champion}{registered}; wrote {len(result.recs):,} rows to {path}"
    )
