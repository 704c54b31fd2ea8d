"""report.html rendered in a real headless Chromium (Debian's package): it loads without
errors, fetches nothing, shows every plot, and its sections answer the questions it promises.
The unit tests below it check the findings' arithmetic on a hand-made case."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from customer_ml.config import load_config
from customer_ml.jobs.batch import score_job
from customer_ml.report.sections import moved_share

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARGS = [  # no sandbox as root; no calls home from a closed network
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECTIONS = ("summary", "data", "segments", "tags", "churn", "ltv", "migration", "recommendations")


def _chromium() -> str:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have Chromium ({CHROMIUM}); `make test` installs it")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def report(trained, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A scoring folder scored twice, so that the report has a migration section, the second
    time with recommendations as of the same date."""
    from customer_ml.data.load import load_data
    from customer_ml.recs.published import recs_folder
    from customer_ml.train.recommend import recommend_job

    path, result = trained
    cfg = load_config(path)
    out = tmp_path_factory.mktemp("report") / "scores"
    score_job(cfg, as_of=result.as_of - pd.Timedelta(days=120), out=out)
    recs = recs_folder(cfg) / "recs.parquet"
    recommend_job(cfg, load_data(cfg), as_of=result.as_of, out=recs, n_boot=20)
    return out, score_job(cfg, as_of=result.as_of, out=out)


def test_report_renders_in_chromium_with_every_plot(report, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    out, result = report
    html = out / "report.html"
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth, e.clientWidth])"
        )
        visible = {s: page.is_visible(f"section#{s}") for s in SECTIONS}
        links = page.eval_on_selector_all("nav a", "els => els.map(e => e.hash.slice(1))")
        text = page.inner_text("main")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert problems == []
    # self-contained: the page itself and data: URIs only
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    alts = [a for a, *_ in images]
    for plot in ("segments segment sizes", "churn gains", "churn calibration", "ltv deciles"):
        assert plot in alts
    assert any(a.startswith("segment name") for a in alts)  # the migration heatmaps
    assert all(ok and w > 100 and shown > 100 for _, ok, w, shown in images), images
    assert all(visible.values()), visible
    assert set(links) == set(SECTIONS)
    for name in result.scores["segment_name"].unique():
        assert name in text
    assert "changed segment" in text and "best BTYD baseline" in text
    assert (tmp_path / "report.png").stat().st_size > 50_000


def test_report_states_data_and_models_as_in_metrics(report) -> None:
    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())
    html = (out / "report.html").read_text()
    rows = metrics["data"]["transactions"]["rows"]
    assert metrics["data"]["cleaning"]["rows_kept"] == rows
    assert f"{rows:,}" in html
    for task in ("churn", "ltv"):
        chosen = metrics["models"][task]["params"]["chosen"]
        assert f"<tr class='chosen'>\n      <th>{chosen}</th>" in html
    assert "<script" not in html


@pytest.mark.parametrize(
    ("cells", "moved"),
    [
        ({"a": [8, 2], "b": [0, 10]}, 0.1),  # 2 of 20 customers present in both changed
        ({"a": [5, 0, 1], "b": [0, 5, 0], "(gone)": [0, 0, 0]}, 0.0),  # (new) row not counted
    ],
)
def test_moved_share(cells: dict[str, list[int]], moved: float) -> None:
    index = ["a", "b", "(new)"][: len(next(iter(cells.values())))]
    table = pd.DataFrame(cells, index=index)
    assert moved_share(table) == pytest.approx(moved)
