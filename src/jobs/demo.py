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
    """The main job on the built-in synthetic data: generate, profile, then `run` (train,
    promote by the gate, score, report) into the config's paths.out."""
    t = time.perf_counter()
    console.rule("customer-ml demo: data")
    data = load_data(config)
    print_profile(data, console=console)
    result = run_job(config, data=data, progress=progress)
    print_job(result, console=console)
    console.print(f"done in {time.perf_counter() - t:.1f} s")
