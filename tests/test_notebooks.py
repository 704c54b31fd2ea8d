"""The notebooks run top to bottom on small data, as a reader would run them (a fresh kernel,
notebooks/ as the working directory), with a timeout per cell. They run on a copy beside a
copy of configs/ and a link to ../shared, so the repository's mlruns/ and out/ stay as they
are."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, SHARED_DATA

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 600
# images each notebook must show (plots people look at rather than read)
MIN_IMAGES = {"01_quickstart": 2, "02_segments": 3, "03_churn_and_ltv": 4}
MIN_IMAGES |= {"04_recommendations": 3, "05_monitoring": 4}
# where each notebook's MLflow store is (02 trains segments in memory only)
STORES = {"02_segments": None, "05_monitoring": "out/monitoring/mlruns"}
STORES["04_recommendations"] = "out/recommendations/mlruns"


def test_every_notebook_is_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == sorted(MIN_IMAGES)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a fresh reader's environment: mlflow.set_tracking_uri (earlier tests) exports
    # MLFLOW_TRACKING_URI, which the kernel would inherit and take as the user's override
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "notebooks", repo / "notebooks")
    shutil.copytree(REPO / "configs", repo / "configs")
    if SHARED_DATA.is_dir():
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(SHARED_DATA.resolve())
    book = nbformat.read(repo / "notebooks" / path.name, as_version=4)
    for cell in book.cells:  # run from scratch, not from the committed outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        book,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(repo / "notebooks")}},
    )
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= MIN_IMAGES[path.stem]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Traceback" not in text
    assert str(tmp_path) not in text  # no machine paths in what a reader sees
    store = STORES.get(path.stem, "mlruns")
    if store is not None:  # runs went to the copy's own MLflow store
        assert (repo / store / "mlflow.db").is_file()
