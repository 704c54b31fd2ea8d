"""The main job, step by step; grows as features, models and scoring land."""

from __future__ import annotations

import time

from rich.console import Console

from customer_ml.config import Config
from customer_ml.data.load import load_data
from customer_ml.data.profile import print_profile

__all__ = ["run_demo"]


def run_demo(config: Config, *, console: Console) -> None:
    """Generate (or load) the demo data, clean and profile it."""
    t = time.perf_counter()
    console.rule("customer-ml demo: data")
    ds = load_data(config)
    print_profile(ds, console=console)
    console.print(f"done in {time.perf_counter() - t:.1f} s")
