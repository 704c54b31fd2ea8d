"""Recommendations: metrics by hand, point in time, planted affinities, bad input, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import customer_ml as cm
from customer_ml.cli import app
from customer_ml.config import CleaningConfig
from customer_ml.errors import DataError
from customer_ml.recs.evaluate import backtest_recommenders
from customer_ml.recs.interactions import interactions
from customer_ml.recs.metrics import per_customer, summarise
from customer_ml.recs.recommender import Recommender
from customer_ml.recs.synthetic import generate_baskets

FAST = {"n_estimators": 40, "num_leaves": 15}


def _data(tx: pd.DataFrame) -> cm.Dataset:
    return cm.from_frames(tx, cleaning=CleaningConfig(merge_same_day=False))


@pytest.fixture(scope="module")
def baskets() -> pd.DataFrame:
    return generate_baskets(500, n_groups=5, products_per_group=24, days=420, seed=3)[0]


def test_metrics_by_hand() -> None:
    recs = pd.DataFrame(
        {
            "customer_id": ["a"] * 3 + ["b"] * 3,
            "rank": [1, 2, 3] * 2,
            "product_id": ["x", "y", "z", "x", "y", "z"],
        }
    )
    truth = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "product_id": ["y", "q", "x", "x"]})
    pc = per_customer(recs, truth, k=3)
    # a: one of two found at rank 2; b: found at rank 1; c: nothing recommended
    assert pc.loc["a", "recall"] == pytest.approx(0.5)
    assert pc.loc["a", "ndcg"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert pc.loc["b", "ndcg"] == pytest.approx(1.0)
    assert pc.loc["c", "recall"] == 0.0
    s = summarise(recs, truth, k=3, n_items=10, n_boot=0)
    assert s["recall@3"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert s["coverage"] == pytest.approx(0.3)


def test_interactions_point_in_time(baskets: pd.DataFrame) -> None:
    as_of = baskets.ts.min() + pd.Timedelta(days=300)
    later = baskets[baskets.ts > as_of].copy()
    later["ts"] = later.ts + pd.Timedelta(days=1)
    extra = pd.concat([baskets, later.assign(product_id="NEW")], ignore_index=True)
    a = interactions(_data(baskets), as_of=as_of.date())
    b = interactions(_data(extra), as_of=as_of.date())
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    assert "NEW" not in set(b.items.product_id)
    assert (a.pairs.last_day <= a.day).all()


def test_recommendations_unchanged_by_later_rows(baskets: pd.DataFrame) -> None:
    as_of = (baskets.ts.min() + pd.Timedelta(days=330)).date()
    later = baskets[baskets.ts > pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    scramble = later.assign(product_id=later.product_id.sample(frac=1, random_state=0).values)
    r1 = Recommender(ranker_params=FAST).fit(_data(baskets), as_of=as_of, horizon_days=60)
    r2 = Recommender(ranker_params=FAST).fit(
        _data(
            pd.concat([baskets[baskets.ts <= pd.Timestamp(as_of) + pd.Timedelta(days=1)], scramble])
        ),
        as_of=as_of,
        horizon_days=60,
    )
    pd.testing.assert_frame_equal(r1.recommend(k=5), r2.recommend(k=5))


@pytest.mark.slow
def test_planted_affinities_found(baskets: pd.DataFrame) -> None:
    rec = Recommender(ranker_params=FAST)
    bt = backtest_recommenders(
        _data(baskets),
        as_of=baskets.ts.max().normalize(),
        horizon_days=60,
        n_boot=50,
        recommender=rec,
    )
    t = bt.table().set_index(["task", "method"])
    for task in ("all", "new"):
        # personal history and the taste group beat what everyone buys, by far
        assert t.loc[(task, "ranker"), "ndcg@10"] > 2 * t.loc[(task, "popularity"), "ndcg@10"]
        best = t.loc[task]["ndcg@10"].max()
        champion = bt.champion(task)
        assert t.loc[(task, champion), "ndcg@10"] == best
    recs = rec.recommend(k=10, task="new")
    bought = set(
        zip(
            rec.it_.customers[rec.it_.pairs.cust],
            rec.it_.items.product_id.to_numpy()[rec.it_.pairs.item],
            strict=False,
        )
    )
    assert not any(
        (c, p) in bought for c, p in zip(recs.customer_id, recs.product_id, strict=False)
    )
    # new products come from the customer's own taste group most of the time
    own = baskets.groupby("customer_id").category.agg(lambda s: s.mode().iloc[0])
    cat = dict(zip(baskets.product_id, baskets.category, strict=False))
    same = (recs.product_id.map(cat) == recs.customer_id.map(own)).mean()
    assert same > 0.7
    assert recs.reason.str.len().gt(0).all()
    new = rec.for_new_customer(k=3)
    assert (new.reason == "new customer").all() and len(new) == 3


def test_reasons_name_the_history(baskets: pd.DataFrame) -> None:
    rec = Recommender(ranker_params=FAST).fit(
        _data(baskets), as_of=baskets.ts.max().normalize(), horizon_days=60
    )
    recs = rec.recommend(k=10, task="all", method="repeat")
    assert recs.reason.str.match(r"you (buy this every \d+ days|bought this once)").mean() > 0.5
    cooc = rec.recommend(k=10, task="new", method="cooccurrence")
    assert cooc.reason.str.match(r"bought with P\d{4}, which you bought").mean() > 0.3


def test_no_product_column_names_the_config_key(baskets: pd.DataFrame) -> None:
    data = _data(baskets.drop(columns=["product_id"]))
    with pytest.raises(DataError, match=r"data\.transactions\.columns\.product_id"):
        interactions(data, as_of=baskets.ts.max())


@pytest.mark.slow
def test_cli_writes_recommendations(tmp_path, baskets: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    baskets.to_csv(tmp_path / "tx.csv", index=False)
    (tmp_path / "c.yaml").write_text(
        "data:\n  transactions:\n    path: tx.csv\n    columns: {customer_id: customer_id, ts: ts,"
        " amount: amount, product_id: product_id, category: category, order_id: order_id}\n"
        "horizon_days: 60\ncleaning: {merge_same_day: false}\n"
        "paths: {out: out, mlruns: mlruns}\n"
    )
    out = tmp_path / "recs.parquet"
    res = CliRunner().invoke(
        app, ["recommend", "--config", str(tmp_path / "c.yaml"), "--k", "5", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    recs = pd.read_parquet(out)
    assert list(recs.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert recs.groupby("customer_id")["rank"].max().max() == 5
    assert recs.customer_id.nunique() == baskets.customer_id.nunique()
    assert (tmp_path / "recs.metrics.json").is_file()
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text((tmp_path / "c.yaml").read_text().replace(" product_id: product_id,", ""))
    res = CliRunner().invoke(
        app, ["recommend", "--config", str(bad), "--out", str(tmp_path / "x.parquet")]
    )
    assert res.exit_code == 2 and "product_id" in res.output
    assert not (tmp_path / "x.parquet").exists()


def test_tuning_reads_nothing_after_the_date_and_starts_from_the_defaults(
    baskets: pd.DataFrame,
) -> None:
    from customer_ml.recs.history import History
    from customer_ml.recs.interactions import day_number
    from customer_ml.recs.tuning import tune_ranker

    as_of = (baskets.ts.min() + pd.Timedelta(days=330)).date()
    later = baskets[baskets.ts > pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    scramble = later.assign(product_id=later.product_id.sample(frac=1, random_state=0).values)
    kept = baskets[baskets.ts <= pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    runs = []
    for frame in (baskets, pd.concat([kept, scramble])):
        history = History(_data(frame), as_of=baskets.ts.max(), horizon_days=60)
        runs.append(
            tune_ranker(history, Recommender(), day=day_number(as_of), n_trials=3, timeout_s=60)
        )
    a, b = runs
    assert len(a.trials) == 3 and a.valid_cut == day_number(as_of) - 60
    assert a.train_cut == day_number(as_of) - 120
    pd.testing.assert_frame_equal(a.trials, b.trials)  # the later rows changed nothing
    assert a.trials.loc[0, "num_leaves"] == 15  # the first trial is the defaults
    assert a.trials["chosen"].sum() == 1
    chosen = a.trials[a.trials["chosen"]].iloc[0]
    assert a.params == {k: chosen[k] for k in a.params}
    assert chosen["mean"] >= a.trials.loc[0, "mean"]  # never worse than the defaults


def test_the_job_tunes_and_registers_the_champion(tmp_path, baskets: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    from customer_ml.tracking.backend import open_store
    from customer_ml.tracking.registry import version_by_alias
    from customer_ml.train.recommend import recommend_job

    cfg = cm.parse_config(
        {
            "project": "recs",
            "data": {"synthetic": {"n_customers": 10}},  # unused: data is given
            "horizon_days": 60,
            "recommend": {"n_trials": 2, "timeout_s": 60},
            "paths": {"out": str(tmp_path / "out"), "mlruns": str(tmp_path / "mlruns")},
        },
        base_dir=tmp_path,
    )
    data = _data(baskets)
    end = baskets.ts.max().date()
    res = recommend_job(cfg, data, as_of=end, out=tmp_path / "r.parquet", n_boot=0)
    assert res.tuning is not None and len(res.tuning.trials) == 2
    assert res.recommender.params_ == res.tuning.params  # the final fit reuses them
    client = open_store(cfg.paths.mlruns)
    champ = version_by_alias(client, "recs-recs", "champion")
    assert champ is not None and str(champ.version) == res.version
    assert champ.tags["as_of"] == end.isoformat()
    assert float(champ.tags["metric_value"]) == pytest.approx(
        res.backtest.score("all", res.backtest.champion("all")), abs=1e-6
    )
    assert mlflow_lightgbm_load("models:/recs-recs@champion").num_trees() > 0
    # an earlier date is registered but does not displace the later champion
    earlier = recommend_job(
        cfg, data, as_of=end - pd.Timedelta(days=30), out=tmp_path / "e.parquet", n_boot=0
    )
    assert earlier.version != res.version
    assert str(version_by_alias(client, "recs-recs", "champion").version) == res.version


def mlflow_lightgbm_load(uri: str):  # type: ignore[no-untyped-def]
    import mlflow.lightgbm

    return mlflow.lightgbm.load_model(uri)


@pytest.mark.slow
def test_scores_and_target_lists_carry_the_top_products(tmp_path, baskets: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """`recommend` then `run` as of the same date: top_products in scores and target lists,
    and a recommendations section in the report; recommendations of another date are not
    mixed in."""
    from tests.test_run import check_contract

    baskets.to_csv(tmp_path / "tx.csv", index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "data:\n  transactions:\n    path: tx.csv\n    columns: {customer_id: customer_id, ts: ts,"
        " amount: amount, product_id: product_id, category: category, order_id: order_id}\n"
        "horizon_days: 60\ncleaning: {merge_same_day: false}\n"
        "backtest: {n_origins: 1, n_train_cutoffs: 2, n_boot: 20}\n"
        "tuning: {n_trials: 2, timeout_s: 5, max_rounds: 100}\n"
        "recommend: {n_trials: 2, timeout_s: 20, in_scores: 4}\n"
        "paths: {out: out, mlruns: mlruns}\n"
    )
    env = {"COLUMNS": "200"}
    end = str(baskets.ts.max().date())
    for args in (["recommend", "--as-of", end], ["run", "--as-of", end], ["target"]):
        res = CliRunner().invoke(app, [*args, "-c", str(cfg)], env=env)
        assert res.exit_code == 0, res.output
    recs = pd.read_parquet(tmp_path / "out-recs" / "recs.parquet")
    mine = recs[recs["rank"] <= 4].groupby("customer_id").product_id.agg(list)
    s = pd.read_parquet(tmp_path / "out" / "scores.parquet").set_index("customer_id")
    assert s["top_products"].map(list).to_dict() == mine.to_dict()  # the champion's top 4
    check_contract(tmp_path / "out", baskets.customer_id.nunique())
    target = next((tmp_path / "out").glob("target_*.csv"))
    t = pd.read_csv(target, dtype={"customer_id": str}).set_index("customer_id")
    assert (t["top_products"] == mine.loc[t.index].map(" | ".join)).all()
    html = (tmp_path / "out" / "report.html").read_text()
    section = html[html.index("id='recommendations'") :]
    assert section.count("data:image/png") >= 2 and "champion" in section
    hits = pd.read_parquet(tmp_path / "out-recs" / "hits.parquet")
    assert set(hits.task) == {"all", "new"} and hits.recall.between(0, 1).all()
    # recommendations as of an earlier date: scores without top_products, and a note why
    earlier = str((baskets.ts.max() - pd.Timedelta(days=20)).date())
    res = CliRunner().invoke(app, ["recommend", "--as-of", earlier, "-c", str(cfg)], env=env)
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["score", "--as-of", end, "-c", str(cfg)], env=env)
    assert res.exit_code == 0 and f"as of {earlier}, not {end}" in res.output, res.output
    assert "top_products" not in pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert "id='recommendations'" not in (tmp_path / "out" / "report.html").read_text()
