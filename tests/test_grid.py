"""A seeded random grid of specs through the whole check: `verify` with PyTorch and every proof.

Candidates are drawn over every option (input sizes, rectangular ones too, channels, filter
sizes including 1x1 and rectangular, filters, stride, padding, every activation and several
leaky slopes, max/avg/no pool, pool sizes and strides, overlapping windows) for one block, and
for two blocks. A candidate the spec validation refuses must be refused for one of the reasons
the README gives; every accepted one must pass `verify` (engine, PyTorch, crafted cases, finite
differences) and `prove_all`.

CI runs the first GRID_CI accepted specs; `pytest --grid-all` (or SYMBP_GRID=all) runs all
GRID_ALL. The summary test prints the counts and the worst scaled error against PyTorch.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter

import numpy as np
import pytest

from symbp.codegen.module import load
from symbp.proofs import prove_all
from symbp.reference.torch_oracle import torch_available
from symbp.reference.verify import verify
from symbp.spec.model import ConvBlock, NetworkSpec, SpecError, spec_from_strings
from symbp.symbolic.derivation import derive

SEED = 20261124
GRID_ALL = 200  # accepted specs in the full grid
GRID_CI = 60  # the fixed subset CI runs
# Symbolic products per spec. The full-composition proof (run by prove_all for piecewise-linear
# networks of at most 400 products) grows fast with the size: those specs are kept smaller, and
# CI's subset takes only the ones where it costs well under a second.
MAX_COST = 400
MAX_COST_COMPOSED = 150
QUICK_COST_COMPOSED = 48

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "identity")
SLOPES = (0.0, 0.01, 0.1, 0.25, 0.5, 0.9)

# Why a spec may be refused: the README's "Other architectures" section names these.
REASONS = {
    "padding as large as the filter": r"padding \d+ is not smaller than the \d+x\d+ filter",
    "output smaller than 1 (filter larger than the input)": r"filter \d+x\d+ is larger than the",
    "pool larger than its input": r"pool \d+x\d+ is larger than the",
    "pool not covering its input": r"pool windows with stride \d+ do not cover",
    "pool stride larger than the window": r"pool stride \d+ is larger than the \d+x\d+ window",
    "unknown activation": r"unknown activation",
    "over the symbolic budget": r"symbolic products .* over the budget",
}


def refusal_reason(error: SpecError) -> str | None:
    text = str(error)
    for reason, pattern in REASONS.items():
        if re.search(pattern, text):
            return reason
    return None


def _size(rng: np.random.Generator, low: int, high: int) -> tuple[int, int]:
    rows = int(rng.integers(low, high + 1))
    cols = rows if rng.random() < 0.6 else int(rng.integers(low, high + 1))
    return rows, cols


def _block(rng: np.random.Generator, first: bool) -> dict:
    activation = str(rng.choice(ACTIVATIONS))
    if rng.random() < 0.02:
        activation = "softplus"  # not an activation symbp has: must be refused as unknown
    pool_type = str(rng.choice(("max", "max", "avg", "none")))
    pool = int(rng.integers(1, 4))
    filter_shape = _size(rng, 1, 4 if first else 3)
    # Mostly a padding the filter allows; now and then any, which may be refused.
    allowed = min(2, min(filter_shape) - 1)
    widest = min(2, allowed + 1) if rng.random() < 0.1 else allowed
    block = {
        "filter_shape": filter_shape,
        "filters": int(rng.integers(1, 4 if first else 3)),
        "stride": int(rng.choice((1, 1, 2, 3) if first else (1, 1, 2))),
        "padding": int(rng.integers(0, widest + 1)),
        "activation": activation,
        "pool_type": pool_type,
        "pool_size": pool,
        "pool_stride": None if rng.random() < 0.5 else int(rng.integers(1, pool + 2)),
    }
    if activation == "leaky_relu":
        block["leaky_slope"] = float(rng.choice(SLOPES))
    return block


def _text(shape: tuple[int, int]) -> str:
    return f"{shape[0]}x{shape[1]}"


def draw(rng: np.random.Generator) -> tuple[str, NetworkSpec | SpecError]:
    """One candidate: a one-block spec built from command-line strings, as `symbp verify
    --input ... --pool-type ...` builds it, or a two-block spec; or the error refusing it."""
    two = rng.random() < 0.45
    big = rng.random() < 0.02  # an input far over the symbolic budget
    input_shape = (200, 200) if big else _size(rng, 3, 10 if two else 9)
    channels = int(rng.integers(1, 4))
    try:
        if not two:
            b = _block(rng, first=True)
            flags = {
                "channels": channels,
                "filters": b["filters"],
                "stride": b["stride"],
                "padding": b["padding"],
                "activation": b["activation"],
                "pool_type": b["pool_type"],
            }
            if "leaky_slope" in b:
                flags["leaky_slope"] = b["leaky_slope"]
            stride = b["pool_stride"]
            spec = spec_from_strings(
                _text(input_shape),
                _text(b["filter_shape"]),
                str(b["pool_size"]),
                None if stride is None else str(stride),
                **{k: str(v) for k, v in flags.items()},
            )
        else:
            blocks = (ConvBlock(**_block(rng, True)), ConvBlock(**_block(rng, False)))
            spec = NetworkSpec(input_shape=input_shape, channels=channels, blocks=blocks)
    except SpecError as error:
        return "refused", error
    return "accepted", spec


def candidates() -> tuple[list[NetworkSpec], list[SpecError], int]:
    """The grid: GRID_ALL accepted specs small enough for the test, every refusal on the way,
    and how many accepted specs were skipped for their size."""
    rng = np.random.default_rng(SEED)
    accepted: list[NetworkSpec] = []
    refused: list[SpecError] = []
    too_large = 0
    while len(accepted) < GRID_ALL:
        verdict, result = draw(rng)
        if isinstance(result, SpecError):
            refused.append(result)
        elif result.symbolic_cost > (MAX_COST_COMPOSED if composed(result) else MAX_COST):
            too_large += 1
        else:
            accepted.append(result)
    return accepted, refused, too_large


def composed(spec: NetworkSpec) -> bool:
    """Whether prove_all runs its full-composition proof on this spec (its own rule)."""
    linear = all(b.activation in ("relu", "leaky_relu", "identity") for b in spec.blocks)
    return linear and spec.symbolic_cost <= 400


def quick(spec: NetworkSpec) -> bool:
    return not composed(spec) or spec.symbolic_cost <= QUICK_COST_COMPOSED


ACCEPTED, REFUSED, TOO_LARGE = candidates()
CI_SUBSET = [spec for spec in ACCEPTED if quick(spec)][:GRID_CI]


def run_all(config: pytest.Config) -> bool:
    return bool(config.getoption("--grid-all")) or os.environ.get("SYMBP_GRID") == "all"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "grid_spec" in metafunc.fixturenames:
        specs = ACCEPTED if run_all(metafunc.config) else CI_SUBSET
        metafunc.parametrize("grid_spec", specs, ids=[f"spec{k:03d}" for k in range(len(specs))])


RESULTS: dict[str, dict] = {}  # spec label -> what the grid test measured


def test_refusals_name_a_reason_the_readme_gives():
    unexplained = [str(error)[:200] for error in REFUSED if refusal_reason(error) is None]
    assert unexplained == []
    reasons = Counter(refusal_reason(error) for error in REFUSED)
    assert set(reasons) == set(REASONS), reasons  # the grid meets every one of them


def test_the_grid_covers_every_option():
    for specs, everything in ((ACCEPTED, True), (CI_SUBSET, False)):
        blocks = [b for spec in specs for b in spec.blocks]
        assert {b.activation for b in blocks} == set(ACTIVATIONS)
        assert {b.pool_type for b in blocks} == {"max", "avg", "none"}
        assert any(s.n_blocks == 2 for s in specs) and any(s.n_blocks == 1 for s in specs)
        assert any(b.pooled and b.pool_step < b.pool_size for b in blocks)  # overlapping
        assert {s.channels for s in specs} == {1, 2, 3}
        if not everything:
            continue
        assert any(s.input_shape[0] != s.input_shape[1] for s in specs)
        assert {b.filters for b in blocks} == {1, 2, 3}
        assert {b.stride for b in blocks} == {1, 2, 3}
        assert {b.padding for b in blocks} == {0, 1, 2}
        assert any(b.filter_shape == (1, 1) for b in blocks)
        assert any(b.filter_shape[0] != b.filter_shape[1] for b in blocks)
        assert {b.pool_size for b in blocks if b.pooled} == {1, 2, 3}
        slopes = {b.leaky_slope for b in blocks if b.activation == "leaky_relu"}
        assert slopes == set(SLOPES)


@pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed")
def test_every_accepted_spec_verifies_and_proves(grid_spec: NetworkSpec):
    start = time.perf_counter()
    derivation = derive(grid_spec)
    failed = [str(p) for p in prove_all(derivation) if not p.holds]
    report = verify(grid_spec, load(derivation), use_torch=True)
    torch_rows = [row for row in report.rows if row.reference.startswith("PyTorch")]
    worst = max(torch_rows, key=lambda row: row.error)
    RESULTS[grid_spec.label] = {
        "passed": report.passed and not failed,
        "worst_torch_error": worst.error,
        "worst_torch_row": f"{worst.reference} {worst.quantity}",
        "notes": report.notes,
        "seconds": time.perf_counter() - start,
    }
    assert failed == []
    assert report.passed, f"{grid_spec.label}\n{report.table()}"


def test_grid_summary(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]):
    """The figures for the notes: counts, refusals by reason, the worst error against PyTorch.
    Printed; written as JSON too when SYMBP_GRID_REPORT names a file."""
    selected = ACCEPTED if run_all(request.config) else CI_SUBSET
    ran = [RESULTS[spec.label] for spec in selected if spec.label in RESULTS]
    reasons = Counter(refusal_reason(error) for error in REFUSED)
    summary = {
        "drawn": len(ACCEPTED) + len(REFUSED) + TOO_LARGE,
        "accepted": len(ACCEPTED) + TOO_LARGE,
        "accepted_in_grid": len(ACCEPTED),
        "accepted_too_large_for_the_test": TOO_LARGE,
        "two_block_in_grid": sum(spec.n_blocks == 2 for spec in ACCEPTED),
        "refused": len(REFUSED),
        "refused_by_reason": dict(reasons.most_common()),
        "selected": len(selected),
        "verified": sum(result["passed"] for result in ran),
        "ran": len(ran),
        "seconds": round(sum(result["seconds"] for result in ran), 1),
    }
    if ran:
        label, worst = max(RESULTS.items(), key=lambda item: item[1]["worst_torch_error"])
        summary["worst_scaled_error_against_pytorch"] = worst["worst_torch_error"]
        summary["worst_at"] = f"{label}: {worst['worst_torch_row']}"
        summary["notes"] = sorted({note for r in ran for note in r["notes"]})
    with capsys.disabled():
        print("\ngrid summary: " + json.dumps(summary, indent=2))
    if os.environ.get("SYMBP_GRID_REPORT"):
        with open(os.environ["SYMBP_GRID_REPORT"], "w", encoding="utf-8") as file:
            json.dump(summary, file, indent=2)
    assert summary["verified"] == summary["ran"]
