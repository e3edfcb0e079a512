"""Shared test setup.

CI sets SYMBP_REQUIRE_TORCH=1: then a missing PyTorch is an error, not a quiet skip, so the
PyTorch comparisons can never silently stop running there. CI=1 does the same for every
optional package a test imports with `pytest.importorskip` (`OPTIONAL`).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from symbp.reference.torch_oracle import torch_available

# module -> the extra that installs it: tests skip without them, except in CI
OPTIONAL = {
    "dask": "scale",
    "sklearn": "train",
    "matplotlib": "train",
    "IPython": "test",
    "jsonschema": "test",
    "nbformat": "test",
    "nbclient": "test",
    "ipykernel": "test",
    "markdown_it": "html",
    "latex2mathml": "html",
    "selenium": "browser",
}


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("SYMBP_REQUIRE_TORCH") == "1" and not torch_available():
        raise pytest.UsageError(
            "SYMBP_REQUIRE_TORCH=1 but PyTorch is not installed: pip install torch==2.13.0"
        )
    missing = [name for name in OPTIONAL if importlib.util.find_spec(name) is None]
    if os.environ.get("CI") == "1" and missing:
        extras = ",".join(sorted({OPTIONAL[name] for name in missing}))
        raise pytest.UsageError(
            f"CI=1 but {', '.join(missing)} not installed, so their tests would be skipped: "
            f"pip install -e '.[{extras}]'"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--grid-all",
        action="store_true",
        default=False,
        help="run every spec of the random grid in tests/test_grid.py (also: SYMBP_GRID=all), "
        "not only the subset CI runs",
    )
