"""Section 5: peak extra memory of one gradients() call, as a multiple of X.nbytes.

Two measurements, because neither sees everything:
- tracemalloc, in this process, for the NumPy implementations: NumPy reports its array buffers
  to tracemalloc, so the traced peak during the call is exactly the temporaries it allocates.
  PyTorch's allocator does not report to tracemalloc, so torch is not measured this way.
- resident memory (RSS high-water mark) in a fresh subprocess per implementation
  (memory_probe.py), torch included: page-granular and subject to the C allocator's caching,
  but the same yardstick for every engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import bench_report as report
from bench_impl import Implementation, random_problem

from symbp.spec.model import NetworkSpec

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 4.0
TRACED = ("symbp", "engine", "numpy")


def traced_peak(impl: Implementation, m: int, spec: NetworkSpec) -> dict[str, Any]:
    """Peak bytes NumPy allocates during one call, above what was allocated before it."""
    x, y, params = random_problem(spec, m)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        impl.gradients(x, y, params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    extra = peak - base
    return {"extra_bytes": extra, "x_bytes": x.nbytes, "ratio": extra / x.nbytes}


def rss_peak(name: str, m: int, spec: NetworkSpec) -> dict[str, Any]:
    """The probe's answer for one implementation in a fresh process."""
    command = [
        sys.executable,
        str(HERE / "memory_probe.py"),
        name,
        str(m),
        str(spec.input_shape[0]),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        return {"error": done.stderr[-1000:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["ratio"] = result["extra_bytes"] / result["x_bytes"]
    return result


def run(impls: list[Implementation], m: int, spec: NetworkSpec, log: Any) -> dict[str, Any]:
    measured = [impl for impl in impls if not impl.diagnostic]
    traced = {impl.name: traced_peak(impl, m, spec) for impl in measured if impl.name in TRACED}
    log("  memory: tracemalloc done")
    rss = {impl.name: rss_peak(impl.name, m, spec) for impl in measured}
    log("  memory: RSS probes done")
    return {
        "m": m,
        "x_bytes": m * spec.input_shape[0] * spec.input_shape[1] * 8,
        "target_ratio": TARGET_RATIO,
        "tracemalloc": traced,
        "rss": rss,
        "notes": [
            "tracemalloc: peak traced bytes during the call minus traced bytes before it; "
            "torch is absent because its allocator does not report to tracemalloc",
            "rss: VmHWM (reset via /proc/self/clear_refs) minus VmRSS before the call, in a "
            "fresh process per implementation after a warm-up at M=100; includes torch",
        ],
    }


def render(result: dict[str, Any]) -> str:
    rows = []
    for name, rss in result["rss"].items():
        traced = result["tracemalloc"].get(name)
        traced_cells = (
            [report.size(traced["extra_bytes"]), f"{traced['ratio']:.2f}x"]
            if traced
            else ["-", "-"]
        )
        rss_cells = (
            [report.size(rss["extra_bytes"]), f"{rss['ratio']:.2f}x"]
            if "error" not in rss
            else ["error", "-"]
        )
        rows.append([name, *traced_cells, *rss_cells])
    headers = ["implementation", "tracemalloc peak", "/ X", "RSS peak", "/ X"]
    return "\n".join(
        [
            f"peak extra memory during one gradients() call at M={result['m']} "
            f"(X = {report.size(result['x_bytes'])}; target for symbp <= "
            f"{result['target_ratio']:g}x X)",
            report.table(headers, rows),
            *(f"{note}" for note in result["notes"]),
        ]
    )
