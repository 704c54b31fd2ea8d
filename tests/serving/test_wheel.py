"""The built wheel serves: installed into a fresh virtual environment outside the checkout,
`customer-ml serve` starts the HTTP service from the installed `serving` package and answers
/readyz and /score with the trained champions and the feature store.

How the environment is made, and why: the wheel is built (``uv build --wheel``, setuptools
in uv's build isolation, from the uv cache when it is warm) from a copy of the project's
files that go into it, so nothing is written into the checkout. A fresh venv gets the wheel
with ``uv pip install --no-deps``. Its dependencies (MLflow, BentoML, LightGBM, ...) are not
reinstalled, which would take minutes and the network: one ``.pth`` line appends the project
venv's site-packages to the fresh venv's path. ``uv venv --system-site-packages`` cannot do
this, because a venv made from the project venv's python sees the *base* interpreter's
site-packages, not the project venv's. Only a site directory's own ``.pth`` files run, so
the project venv's editable install (a path finder started from its ``.pth``) stays off, and
`customer_ml` and `serving` can come from the wheel alone. The test asserts that they do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest

from customer_ml.config import load_config
from serving.launch import free_port, stop_service

REPO = Path(__file__).resolve().parents[2]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
SHIPPED = ("pyproject.toml", "README.md", "src", "serving")


def _run(*cmd: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with only the built wheel installed in it."""
    if UV is None:
        pytest.skip("uv is not installed (make install puts it in .venv)")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in SHIPPED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(src, source / name)
    _run(UV, "build", "--wheel", "--quiet", "-o", root / "dist", source, cwd=root)
    (whl,) = (root / "dist").glob("customer_ml-*.whl")
    venv = root / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, venv, cwd=root)
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
    Path(site.strip(), "_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(UV, "pip", "install", "--quiet", "--no-deps", "--python", python, whl, cwd=root)
    return venv


def test_the_wheel_ships_the_service_and_not_the_checkout(wheel_venv: Path) -> None:
    where = _run(
        wheel_venv / "bin" / "python",
        "-c",
        "import customer_ml, serving.service; print(customer_ml.__file__); "
        "print(serving.service.__file__)",
        cwd=wheel_venv.parent,
    ).split()
    site = wheel_venv / "lib"
    for path in where:
        assert Path(path).is_relative_to(site), path
        assert not Path(path).is_relative_to(REPO), path


@pytest.fixture(scope="module")
def served(wheel_venv: Path, trained) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:  # type: ignore[no-untyped-def]
    """`customer-ml serve` of the installed wheel, run from a folder outside the checkout."""
    path, _ = trained
    port = free_port()
    elsewhere = wheel_venv.parent / "elsewhere"
    elsewhere.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    env |= {"BENTOML_DO_NOT_TRACK": "true", "PATH": f"{wheel_venv / 'bin'}:{env['PATH']}"}
    log = (wheel_venv.parent / "serve.log").open("wb")
    cmd = [str(wheel_venv / "bin" / "customer-ml"), "serve", "--config", str(path)]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (wheel_venv.parent / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the service did not become ready in 120 s"
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url, path, proc
    finally:
        stop_service(proc)
        log.close()


def test_the_installed_wheel_serves_the_champions(served, wheel_venv: Path) -> None:  # type: ignore[no-untyped-def]
    url, path, proc = served
    assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    batch = pd.read_parquet(load_config(path).paths.out / "scores.parquet").head(5)
    body = {"customers": [{"customer_id": c} for c in batch.customer_id]}
    r = httpx.post(f"{url}/score", json=body, timeout=30)
    assert r.status_code == 200, r.text
    got = pd.DataFrame(r.json())
    assert got["error"].isna().all()
    assert got.customer_id.tolist() == batch.customer_id.astype(str).tolist()
    assert got.churn_probability.tolist() == batch.churn_probability.tolist()
    assert got.predicted_ltv.tolist() == batch.predicted_ltv.tolist()
    # the service runs from the wheel's files: bentoml serve ... --working-dir <site-packages>
    serve = [p.cmdline() for p in psutil.Process(proc.pid).children(recursive=True)]
    serve = [c for c in serve if "--working-dir" in c]
    assert serve, "no bentoml serve process"
    root = Path(serve[0][serve[0].index("--working-dir") + 1])
    assert root.is_relative_to(wheel_venv / "lib") and (root / "serving" / "service.py").is_file()
    bad = httpx.post(f"{url}/score", json={"customers": []}, timeout=30)
    assert bad.status_code == 400 and "at least one customer" in bad.text


def test_serve_without_the_service_package_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from typer.testing import CliRunner

    from customer_ml.cli import app
    from tests.conftest import TRAINED_CONFIG

    path = tmp_path / "svc.yaml"
    path.write_text(TRAINED_CONFIG)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "serving.service" else real(name, *a),
    )
    res = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert res.exit_code == 2
    assert "`serving` is not importable" in res.output
