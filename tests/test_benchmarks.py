"""The benchmark suite runs end to end (--quick) and reports every section.

Only structure and correctness are asserted: that each section is present, that the agreement
check ran and passed, and that the summary names every target. Timings are never asserted -
they belong to the benchmark's own PASS/MISS lines, not to a test on a shared machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "benchmarks" / "run.py"
SECTIONS = (
    "machine",
    "agreement",
    "derivation",
    "cli",
    "throughput",
    "bandwidth",
    "memory",
    "profile",
    "architectures",
    "summary",
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    path = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(path.read_text())


def test_quick_run_writes_every_section(quick_run):
    _, data = quick_run
    assert data["complete"] is True
    assert [s for s in SECTIONS if s not in data] == []
    assert data["machine"]["numpy"] and data["machine"]["sympy"] and data["machine"]["cpu"]


def test_agreement_check_passed_for_every_implementation(quick_run):
    _, data = quick_run
    agreement = data["agreement"]
    assert agreement["passed"] is True
    checked = {c["implementation"] for c in agreement["checks"]}
    assert {"symbp", "engine", "numpy"} <= checked
    assert all(c["ok"] for c in agreement["checks"])
    assert set(data["throughput"]["implementations"]) == checked


def test_sections_hold_their_measurements(quick_run):
    _, data = quick_run
    sizes = data["derivation"]["sizes"]
    assert [s["size"] for s in sizes] == list(data["plan"]["sizes"])
    assert all(s["derive_median_s"] > 0 and s["staged_nodes"]["program_tree"] > 0 for s in sizes)
    assert all(s["naive"]["status"] in {"ok", "timeout", "not attempted"} for s in sizes)
    assert data["cli"]["default"]["ok"], data["cli"]["default"]["error"]
    for m in data["plan"]["m_values"]:
        assert data["throughput"]["by_m"][str(m)]["symbp"]["images_per_s"] > 0
    assert data["bandwidth"]["images_per_s"] > 0
    assert "symbp" in data["memory"]["tracemalloc"] and "symbp" in data["memory"]["rss"]
    (example,) = data["architectures"]
    assert example["example"] == "two-blocks.toml" and example["parameters"] == 67
    assert example["agreement_rel"] <= 1e-9 and example["images_per_s"]["symbp"] > 0


def test_summary_lists_every_target_and_prints_tables(quick_run):
    done, data = quick_run
    targets = " ".join(row["target"] for row in data["summary"])
    for words in ("1.5 s", "28x28", "exponent", "PyTorch float64", "hand-written", "25 us", "4x"):
        assert words in targets
    for heading in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 7.", "== Summary"):
        assert heading in done.stdout
