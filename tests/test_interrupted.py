"""Outputs survive a crash: the swap of the output folder is one atomic step, and a `run`
killed by SIGKILL while it writes leaves the last good outputs in place and readable."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from customer_ml import files
from customer_ml.files import atomic_dir


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")
def test_the_swap_is_one_exchange_and_leaves_nothing_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "a.txt").write_text("old")
    swaps: list[bool] = []
    real = files._exchange
    monkeypatch.setattr(files, "_exchange", lambda a, b: swaps.append(real(a, b)) or swaps[-1])
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
    assert swaps == [True]
    assert (target / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_crash_between_two_renames_is_repaired_by_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no atomic exchange exists: the previous folder renamed aside, the new one never
    renamed in (the process died); the next call puts the previous one back first."""
    target = tmp_path / "out"
    (tmp_path / ".out.old-123").mkdir()
    (tmp_path / ".out.old-123" / "a.txt").write_text("last good")
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    with pytest.raises(RuntimeError), atomic_dir(target):
        raise RuntimeError("scoring failed")
    assert (target / "a.txt").read_text() == "last good"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="polls the folder while a process writes")
def test_a_run_killed_while_writing_leaves_the_last_good_outputs(trained, tmp_path) -> None:
    path, _ = trained
    out = tmp_path / "out"
    shutil.copytree(path.parent / "out", out)
    before = _files(out)
    cli = Path(sys.executable).with_name("customer-ml")
    env = os.environ | {"BENTOML_DO_NOT_TRACK": "true", "MLFLOW_ENABLE_TELEMETRY": "false"}
    cmd = [str(cli), "run", "--config", str(path), "--out", str(out), "--reuse-models"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    seen_temp = False
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.name.startswith(".out.tmp-") for p in tmp_path.iterdir()):
                seen_temp = True
                break
            time.sleep(0.005)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert seen_temp, "the run ended before it wrote its temporary folder"
    assert proc.returncode == -signal.SIGKILL
    assert _files(out) == before
    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) > 0 and scores["customer_id"].is_unique


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (campaign folders included), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
