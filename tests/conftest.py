"""Shared test setup.

CI sets SYMBP_REQUIRE_TORCH=1: then a missing PyTorch is an error, not a quiet skip, so the
PyTorch comparisons can never silently stop running there.
"""

from __future__ import annotations

import os

import pytest

from symbp.torch_oracle import torch_available


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("SYMBP_REQUIRE_TORCH") == "1" and not torch_available():
        raise pytest.UsageError(
            "SYMBP_REQUIRE_TORCH=1 but PyTorch is not installed: pip install torch==2.13.0"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--grid-all",
        action="store_true",
        default=False,
        help="run every spec of the random grid in tests/test_grid.py (also: SYMBP_GRID=all), "
        "not only the subset CI runs",
    )
