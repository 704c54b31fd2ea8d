"""The model registry: one registered model per project and task, aliases `challenger` and
`champion`, and the promotion gate (a challenger must be better on the same backtest than
the champion it replaces, and at least as good as the best baseline of that backtest)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

__all__ = [
    "Promotion",
    "champion_spec",
    "list_versions",
    "promote",
    "register_challenger",
    "version_by_alias",
]

CHALLENGER, CHAMPION = "challenger", "champion"
TIE = 1e-9  # both scores are tagged with six decimals: closer than this is equal


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def champion_spec(client: MlflowClient, name: str) -> tuple[str, dict] | None:
    """(version, scorer spec) of the current champion, to re-score it on a new backtest."""
    mv = version_by_alias(client, name, CHAMPION)
    if mv is None or "spec" not in mv.tags:
        return None
    return str(mv.version), json.loads(mv.tags["spec"])


def register_challenger(
    client: MlflowClient, name: str, *, model_uri: str, run_id: str, tags: dict[str, str]
) -> str:
    """Register a new version with `tags` (metric, CI, backtest key, spec, and the champion's
    score on the same backtest) and point `challenger` at it. Returns the version."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    mv = client.create_model_version(name, source=model_uri, run_id=run_id, tags=tags)
    client.set_registered_model_alias(name, CHALLENGER, mv.version)
    return str(mv.version)


@dataclass
class Promotion:
    promoted: bool
    message: str
    version: str | None = None


def promote(client: MlflowClient, name: str, *, force: bool = False) -> Promotion:
    """Move `champion` to the challenger if it is better on the same backtest than the
    current champion, and at least as good as the best baseline of that backtest
    (`best_baseline_metric`).

    The challenger's tags carry the champion's score on the challenger's own backtest (the
    champion re-scored during training); without that comparison, or when it is worse,
    promotion is refused unless `force`, which is recorded on the version. A tie keeps the
    champion, except for the champion's own recipe fit on later data (a refit: the same spec,
    a later as_of), which renews it.
    """
    ch = version_by_alias(client, name, CHALLENGER)
    if ch is None:
        return Promotion(False, f"{name}: no challenger; train a model first")
    champ = version_by_alias(client, name, CHAMPION)
    metric = ch.tags.get("primary_metric", "score")
    value = float(ch.tags.get("metric_value", "nan"))
    if champ is not None and champ.version == ch.version:
        return Promotion(False, f"{name}: version {ch.version} is already the champion")
    if not np.isfinite(value) and not force:
        return Promotion(False, f"{name}: refused: challenger has no finite {metric}", ch.version)
    floor = _below_best_baseline(ch.tags, value, metric)
    if floor is not None and not force:
        return Promotion(False, f"{name}: refused: {floor}", ch.version)
    if champ is None:
        verdict, ok = f"no champion yet; {metric} {value:.4f}", True
    elif ch.tags.get("champion_version") == str(champ.version):
        other = float(ch.tags.get("champion_metric", "nan"))
        ok, verdict = _against_champion(ch, champ, value, other, metric, "on the same backtest")
    elif ch.tags.get("backtest_key") and ch.tags["backtest_key"] == champ.tags.get("backtest_key"):
        other = float(champ.tags.get("metric_value", "nan"))
        ok, verdict = _against_champion(ch, champ, value, other, metric, "(same backtest)")
    else:
        ok = False
        verdict = (
            f"champion v{champ.version} was not scored on this challenger's backtest; retrain "
            "so both are compared on the same data"
        )
    if not ok and not force:
        return Promotion(False, f"{name}: refused: {verdict}", ch.version)
    if floor is not None:
        ok, verdict = False, f"{floor}; {verdict}"
    if not ok:
        client.set_model_version_tag(
            name,
            ch.version,
            "forced_promotion",
            json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S"), "reason": verdict}),
        )
    if champ is not None:
        client.set_model_version_tag(name, champ.version, "replaced_by", str(ch.version))
    client.set_registered_model_alias(name, CHAMPION, ch.version)
    how = "forced" if not ok else "promoted"
    return Promotion(True, f"{name}: v{ch.version} {how} to champion: {verdict}", ch.version)


def _against_champion(
    ch: ModelVersion, champ: ModelVersion, value: float, other: float, metric: str, how: str
) -> tuple[bool, str]:
    """Whether the challenger beats the champion's score on the same backtest, and why."""
    verdict = f"{metric} {value:.4f} vs champion v{champ.version} {other:.4f} {how}"
    if value > other + TIE:
        return True, verdict
    if value < other - TIE:
        return False, verdict
    if _refit(ch, champ):
        return True, f"{verdict}; the champion's recipe refit on data up to {ch.tags['as_of']}"
    return False, f"{verdict}; a tie keeps the champion"


def _refit(ch: ModelVersion, champ: ModelVersion) -> bool:
    """The champion's own spec fit on data up to a later as_of."""
    spec, as_of = ch.tags.get("spec"), ch.tags.get("as_of", "")
    if not spec or champ.tags.get("spec") is None:
        return False
    same = json.loads(spec) == json.loads(champ.tags["spec"])
    return same and as_of > champ.tags.get("as_of", "")


def _below_best_baseline(tags: dict[str, str], value: float, metric: str) -> str | None:
    """Why a challenger scores below the best baseline of its own backtest, or None."""
    best = float(tags.get("best_baseline_metric", "nan"))
    if not np.isfinite(best) or value >= best:
        return None
    return (
        f"{metric} {value:.4f} is below the best baseline {tags.get('best_baseline')} "
        f"({best:.4f}) on the same backtest"
    )


def list_versions(client: MlflowClient, prefix: str = "") -> pd.DataFrame:
    """Every version of the registered models (optionally those starting with `prefix`):
    aliases, chosen candidate, headline metric with its CI, backtest origins."""
    rows = []
    for rm in client.search_registered_models():
        if not rm.name.startswith(prefix):
            continue
        aliases: dict[str, list[str]] = {}
        for alias, version in (rm.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in client.search_model_versions(f"name = '{rm.name}'"):
            t = mv.tags
            rows.append(
                {
                    "model": rm.name,
                    "version": int(mv.version),
                    "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
                    "candidate": t.get("candidate", ""),
                    "metric": t.get("primary_metric", ""),
                    "value": float(t.get("metric_value", "nan")),
                    "ci_low": float(t.get("ci_low", "nan")),
                    "ci_high": float(t.get("ci_high", "nan")),
                    "as_of": t.get("as_of", ""),
                    "created": pd.Timestamp(mv.creation_timestamp, unit="ms"),
                }
            )
    cols = ["model", "version", "aliases", "candidate", "metric", "value", "ci_low", "ci_high"]
    if not rows:
        return pd.DataFrame(columns=[*cols, "as_of", "created"])
    return pd.DataFrame(rows).sort_values(["model", "version"]).reset_index(drop=True)
