"""A real `bentoml serve` process on a free loopback port: scores over HTTP equal the batch
scores, bad input gets 4xx with field-level messages, unknown ids a per-customer error, the API
key is enforced, a schemathesis fuzz run finds no 5xx, and a restart loses nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from customer_ml.config import load_config
from serving.launch import start_service, stop_service

KEY = "test-key"
H = {"Authorization": f"Bearer {KEY}"}


def start(config: Path) -> tuple[subprocess.Popen[bytes], str]:
    return start_service(config, env={"CUSTOMER_ML_API_KEY": KEY})


@pytest.fixture(scope="module")
def service(trained) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    path, _ = trained
    proc, url = start(path)
    yield url, path, proc
    if proc.poll() is None:
        stop_service(proc)


def post(url: str, route: str, body: object, headers: dict[str, str] = H) -> httpx.Response:
    return httpx.post(f"{url}/{route}", json=body, headers=headers, timeout=30)


def test_scores_over_http_equal_the_batch_scores(service) -> None:
    url, path, _ = service
    batch = pd.read_parquet(load_config(path).paths.out / "scores.parquet")
    sample = batch.sample(10, random_state=1)
    r = post(url, "score", {"customers": [{"customer_id": c} for c in sample.customer_id]})
    assert r.status_code == 200, r.text
    got = pd.DataFrame(r.json())
    assert got["error"].isna().all()
    for (_, want), (_, row) in zip(sample.iterrows(), got.iterrows(), strict=True):
        assert row["customer_id"] == str(want["customer_id"])
        assert row["churn_probability"] == want["churn_probability"]
        assert row["predicted_ltv"] == want["predicted_ltv"]
        assert row["segment_name"] == want["segment_name"]
        assert row["top_reasons"] == list(want["top_reasons"])
        assert row["recommended_action"] == want["recommended_action"]
        assert set(row["model_versions"]) == {"churn", "ltv", "segments"}


def test_unknown_ids_get_an_error_entry_and_others_are_scored(service) -> None:
    url, path, _ = service
    known = pd.read_parquet(load_config(path).paths.out / "scores.parquet").customer_id[0]
    r = post(url, "score", {"customers": [{"customer_id": "nobody"}, {"customer_id": known}]})
    assert r.status_code == 200
    first, second = r.json()
    assert "unknown customer_id 'nobody'" in first["error"]
    assert first["churn_probability"] is None
    assert second["error"] is None and 0 <= second["churn_probability"] <= 1


FEATURES = {"recency_days": 12, "n_purchases": 4, "frequency": 3, "recency": 150, "T": 162}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("{not json", 400, "json_invalid"),
        ({}, 400, '"loc":["customers"]'),
        ({"customers": [{}]}, 400, "customer_id"),
        ({"customers": [{"customer_id": ["a"]}]}, 400, "customer_id"),
        ({"customers": [{"customer_id": "a", "features": {"T": "NaN"}}]}, 400, "features"),
        ({"customers": []}, 400, "at least one customer"),
        ({"customers": [{"customer_id": str(i)} for i in range(51)]}, 400, "the limit is 50"),
        ({"customers": [{"customer_id": "a", "features": {"foo": 1}}]}, 400, "['foo']"),
        ({"customers": [{"customer_id": "a", "features": {"T": 3}}]}, 400, "recency_days"),
        ({"customers": [{"customer_id": "a", "extra": 1}]}, 400, "extra"),
    ],
)
def test_bad_input_gets_4xx_with_the_field(service, body, status, message) -> None:
    url, _, _ = service
    # a JSON NaN literal (Python's json writes one; strict parsers would not)
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    raw = raw.replace(b'"NaN"', b"NaN")
    r = httpx.post(f"{url}/score", content=raw, headers=H | {"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.text


def test_features_sent_are_scored_and_explained(service) -> None:
    url, _, _ = service
    r = post(url, "score", {"customers": [{"customer_id": "new-1", "features": FEATURES}]})
    assert r.status_code == 200, r.text
    assert r.json()[0]["error"] is None and r.json()[0]["top_reasons"]
    e = post(url, "explain", {"customer": {"customer_id": "new-1", "features": FEATURES}})
    assert e.status_code == 200, e.text
    body = e.json()
    assert body["churn"]["contributions"] and body["segment"]
    assert post(url, "explain", {"customer": {"customer_id": "nobody"}}).status_code == 404


def test_api_key_and_content_type(service) -> None:
    url, _, _ = service
    body = {"customers": [{"customer_id": "x"}]}
    assert post(url, "score", body, headers={}).status_code == 401
    assert post(url, "score", body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert post(url, "score", body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert post(url, "score", body, headers={"X-API-Key": KEY}).status_code == 200
    for route in ("livez", "readyz", "metrics"):
        assert httpx.get(f"{url}/{route}").status_code == 200
    r = httpx.post(
        f"{url}/score", content=b"x", headers=H | {"content-type": "multipart/form-data"}
    )
    assert r.status_code == 415


async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 65536):
        yield b" " * 65536


def test_bodies_over_the_limit_get_413(service) -> None:
    url, _, _ = service
    big = b'{"customers": [' + b'{"customer_id": "x"},' * 60_000 + b'{"customer_id": "x"}]}'
    assert len(big) > 1 << 20  # the default serving.max_body_bytes
    r = httpx.post(f"{url}/score", content=big, headers=H | {"content-type": "application/json"})
    assert r.status_code == 413 and "limit of 1048576 bytes" in r.text

    async def streamed() -> httpx.Response:  # chunked: no Content-Length
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(f"{url}/score", content=_chunks(2 << 20), headers=H)

    r = asyncio.run(streamed())
    assert r.status_code == 413, r.text
    assert post(url, "score", {"customers": [{"customer_id": "x"}]}).status_code == 200


def test_fuzzing_the_openapi_spec_finds_no_server_error(service, tmp_path: Path) -> None:
    """schemathesis over /docs.json (coverage and fuzzing phases, valid and invalid bodies,
    a bounded number of examples per operation: ~10 s): no reply is a 5xx."""
    import re

    url, _, _ = service
    st = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            *(str(st), "run", f"{url}/docs.json", "-H", f"X-API-Key: {KEY}"),
            *("--checks", "not_a_server_error", "--max-examples", "30", "--seed", "1"),
            *("--no-color", "--request-timeout", "30"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    found = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert found and int(found.group(1)) >= 50, done.stdout[-1500:]  # it did send requests
    assert found.group(1) == found.group(2)


def test_killed_mid_load_and_restarted_it_answers_the_same(service) -> None:
    url, path, proc = service
    body = {"customers": [{"customer_id": "x"}, {"customer_id": "new", "features": FEATURES}]}
    before = post(url, "score", body).json()
    stop_service(proc, kill=True)  # no clean shutdown
    again, url2 = start(path)
    try:
        assert post(url2, "score", body).json() == before
    finally:
        stop_service(again)


@pytest.fixture(scope="module")
def recommended(trained) -> Path:
    """`customer-ml recommend` on the trained project, before its service starts."""
    from typer.testing import CliRunner

    from customer_ml.cli import app

    path, _ = trained
    res = CliRunner().invoke(app, ["recommend", "--config", str(path), "--k", "5"])
    assert res.exit_code == 0, res.output
    return path


def test_recommend_over_http(recommended, service) -> None:  # type: ignore[no-untyped-def]
    _, path, _ = service
    proc2, url = start(path)  # a second service: it loads the recommendations at start-up
    try:
        from customer_ml.train.recommend import recs_folder

        table = pd.read_parquet(recs_folder(load_config(path)) / "serving.parquet")
        cid = table[table.task == "all"].customer_id.iloc[0]
        r = post(url, "recommend", {"request": {"customer_id": cid, "k": 3}})
        assert r.status_code == 200, r.text
        body = r.json()
        want = table[(table.customer_id == cid) & (table.task == "all")].head(3)
        assert [p["product_id"] for p in body["products"]] == want.product_id.tolist()
        assert all(p["reason"] for p in body["products"]) and body["note"] is None
        new = post(url, "recommend", {"request": {"customer_id": cid, "k": 5, "new_only": True}})
        assert new.status_code == 200, new.text
        new_want = table[(table.customer_id == cid) & (table.task == "new")].head(5)
        assert [p["product_id"] for p in new.json()["products"]] == new_want.product_id.tolist()
        assert not any(p["reason"].startswith("you b") for p in new.json()["products"])
        unknown = post(url, "recommend", {"request": {"customer_id": "nobody", "k": 2}}).json()
        assert unknown["note"] == "new customer" and len(unknown["products"]) == 2
        assert {p["reason"] for p in unknown["products"]} == {"new customer"}
        assert post(url, "recommend", {"request": {"customer_id": cid, "k": 0}}).status_code == 400
        assert (
            post(url, "recommend", {"request": {"customer_id": cid}}, headers={}).status_code == 401
        )
    finally:
        stop_service(proc2)
