from __future__ import annotations

from pathlib import Path

import pytest

from customer_ml.config import ConfigError, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sub" / "c.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.horizon_days > 0
    assert cfg.source == path.resolve()


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "data:\n  transactions:\n    path: tx.csv\n"
        "    columns: {customer_id: id, ts: d}\npaths: {out: out}\n",
    )
    cfg = load_config(p)
    assert cfg.data.transactions is not None
    assert cfg.data.transactions.path == tmp_path / "sub" / "tx.csv"
    assert cfg.paths.out == tmp_path / "sub" / "out"
    assert cfg.horizon_days == 90  # the default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data: {synthetic: {}}\nhorizon_dayz: 30\n", "horizon_dayz: unknown key"),
        ("data: {synthetic: {n_customer: 5}}\n", "data.synthetic.n_customer: unknown key"),
        (
            "data:\n  transactions:\n    path: x.csv\n"
            "    columns: {customer_id: a, ts: b, amout: c}\n",
            "data.transactions.columns.amout: unknown key",
        ),
        (
            "data:\n  transactions:\n    path: x.csv\n    columns: {customer_id: a}\n",
            "data.transactions.columns.ts: required key is missing",
        ),
        ("data: {synthetic: {}}\nhorizon_days: -3\n", "horizon_days: Input should be greater"),
        ("data: {synthetic: {}}\ncleaning: {returns: maybe}\n", "cleaning.returns"),
        ("horizon_days: 30\n", "data: required key is missing"),
        ("data: {}\n", "name transactions"),
    ],
)
def test_bad_keys_are_named_with_the_file(tmp_path: Path, text: str, expected: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(p.resolve()) in str(err.value)
    assert expected in str(err.value)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_config_is_frozen() -> None:
    cfg = load_config(CONFIGS[0])
    with pytest.raises(Exception, match="frozen"):
        cfg.horizon_days = 3  # type: ignore[misc]
