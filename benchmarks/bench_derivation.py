"""Section 1: derivation time against input size, symbp's staged chain rule vs naive sympy.diff.

symbp's `derive(spec)` and `generate_source` are timed in this process with SymPy's cache
cleared before each (a cold start, as in the CLI). The naive baseline runs in a subprocess per
size and round (`naive_diff.py`) with a wall-clock cap, so a size that would take hours cannot
stall the suite; once a size times out, larger sizes are not attempted.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import bench_report as report
import bench_timing
import numpy as np
from bench_exprsize import distinct_nodes, tree_nodes
from sympy.core.cache import clear_cache

from symbp import NetworkSpec, derive, generate_source
from symbp.codegen import module as symbp_codegen

HERE = Path(__file__).resolve().parent
SIZES = (6, 10, 14, 20, 28)
EXPONENT_TARGET = 1.1  # "grows no faster than linearly", with 10% allowance for noise


def spec_for(size: int) -> NetworkSpec:
    """size x size input, 3x3 filter, 2x2 pool (stride 2)."""
    return NetworkSpec(input_shape=(size, size), filter_shape=(3, 3), pool_size=2)


def _cold() -> None:
    """Forget SymPy's memoized results and codegen's printed modules between timings."""
    clear_cache()
    cache_clear = getattr(symbp_codegen.module_body, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


def time_symbp(size: int) -> tuple[float, float, Any]:
    """(derive seconds, generate_source seconds, the derivation), both from a cold cache."""
    spec = spec_for(size)
    _cold()
    holder: list[Any] = []
    derive_s = bench_timing.once(lambda: holder.append(derive(spec)))
    derivation = holder[0]
    generate_s = bench_timing.once(lambda: generate_source(derivation))
    _cold()
    return derive_s, generate_s, derivation


def staged_sizes(d: Any) -> dict[str, int]:
    """Node counts of what symbp keeps: gradients in terms of the layer above's gradients."""
    gradients = [e for name in d.parameter_names for e in d.gradients[name].flat]
    backward = list(d.backward_definitions.values())
    forward = list(d.forward_definitions.values())
    program = forward + backward + gradients
    return {
        "parameter_gradients_tree": tree_nodes(gradients),
        "program_tree": tree_nodes(program),  # forward + backward + parameter gradients
        "program_distinct": distinct_nodes(program),
    }


# ------------------------------------------------------------------------------ naive baseline
def run_naive(size: int, timeout: float) -> dict[str, Any]:
    """One naive run in a subprocess: its status, seconds and (when it finished) node counts."""
    command = [sys.executable, str(HERE / "naive_diff.py"), str(size)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        stdout, status = done.stdout, "ok" if done.returncode == 0 else "error"
        stderr = done.stderr
    except subprocess.TimeoutExpired as expired:
        stdout = _text(expired.stdout)
        stderr, status = "", "timeout"
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = {"status": status, "timeout_s": timeout}
    composed = [e for e in events if e["event"] == "composed"]
    diffs = [e for e in events if e["event"] == "diff"]
    result["compose_s"] = composed[0]["seconds"] if composed else None
    result["diff_s"] = sum(e["seconds"] for e in diffs)
    result["parameters_done"] = len(diffs)
    finished = [e for e in events if e["event"] == "done"]
    if finished and status == "ok":
        result["total_s"] = result["compose_s"] + result["diff_s"]
        result["tree_nodes"] = finished[0]["tree_nodes"]
        result["distinct_nodes"] = finished[0]["distinct_nodes"]
    if status == "error":
        result["stderr"] = stderr[-2000:]
    return result


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


# ------------------------------------------------------------------------------------- fitting
def fit_exponent(costs: list[int], seconds: list[float]) -> float | None:
    """Slope of log(seconds) against log(cost): 1 means linear growth."""
    if len(costs) < 2:
        return None
    slope, _ = np.polyfit(np.log(costs), np.log(seconds), 1)
    return float(slope)


def local_exponent(costs: list[int], seconds: list[float]) -> float | None:
    """The slope between the two largest sizes: the growth the fit's small sizes may hide."""
    if len(costs) < 2:
        return None
    return math.log(seconds[-1] / seconds[-2]) / math.log(costs[-1] / costs[-2])


# --------------------------------------------------------------------------------- the section
@dataclass
class SizeResult:
    size: int
    derive_s: list[float] = field(default_factory=list)
    generate_s: list[float] = field(default_factory=list)
    naive: list[dict[str, Any]] = field(default_factory=list)
    staged: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        spec = spec_for(self.size)
        ok = [run for run in self.naive if run["status"] == "ok"]
        naive: dict[str, Any] = {"runs": self.naive}
        if ok:
            naive["status"] = "ok"
            naive["median_total_s"] = median(run["total_s"] for run in ok)
            naive["tree_nodes"] = ok[0]["tree_nodes"]
            naive["distinct_nodes"] = ok[0]["distinct_nodes"]
        else:
            naive["status"] = self.naive[0]["status"] if self.naive else "not attempted"
        return {
            "size": self.size,
            "conv_outputs_x_filter": spec.symbolic_cost,
            "derive_median_s": median(self.derive_s),
            "generate_source_median_s": median(self.generate_s),
            "derive_samples_s": self.derive_s,
            "generate_source_samples_s": self.generate_s,
            "rounds": len(self.derive_s),
            "staged_nodes": self.staged,
            "naive": naive,
        }


def run(
    sizes: tuple[int, ...], rounds: int, naive_rounds: int, naive_timeout: float, log: Any
) -> dict[str, Any]:
    """Every size once per round (symbp, then the naive baseline while it still finishes)."""
    results = {size: SizeResult(size) for size in sizes}
    naive_alive = list(sizes)
    for r in range(rounds):
        for size in sizes:
            derive_s, generate_s, derivation = time_symbp(size)
            results[size].derive_s.append(derive_s)
            results[size].generate_s.append(generate_s)
            if r == 0:
                results[size].staged = staged_sizes(derivation)
            del derivation
        if r < naive_rounds:
            naive_alive = _naive_round(results, naive_alive, naive_timeout)
        log(f"  derivation round {r + 1}/{rounds} done")
    entries = [results[size].as_json() for size in sizes]
    return {
        "sizes": entries,
        "rounds": rounds,
        "naive_rounds": naive_rounds,
        "naive_timeout_s": naive_timeout,
        "exponents": _exponents(entries),
        "exponent_target": EXPONENT_TARGET,
    }


def _naive_round(results: dict[int, SizeResult], alive: list[int], timeout: float) -> list[int]:
    """One naive run per size still alive; a timeout ends the attempts at that size and above."""
    for position, size in enumerate(alive):
        outcome = run_naive(size, timeout)
        results[size].naive.append(outcome)
        if outcome["status"] != "ok":
            return alive[:position]
    return alive


def _exponents(entries: list[dict[str, Any]]) -> dict[str, float | None]:
    costs = [e["conv_outputs_x_filter"] for e in entries]
    derive_s = [e["derive_median_s"] for e in entries]
    generate_s = [e["generate_source_median_s"] for e in entries]
    both = [a + b for a, b in zip(derive_s, generate_s, strict=True)]
    return {
        "derive": fit_exponent(costs, derive_s),
        "generate_source": fit_exponent(costs, generate_s),
        "derive_plus_generate": fit_exponent(costs, both),
        "derive_two_largest": local_exponent(costs, derive_s),
    }


# ------------------------------------------------------------------------------------ report
def _naive_cell(naive: dict[str, Any], symbp_s: float) -> str:
    if naive["status"] == "ok":
        total = naive["median_total_s"]
        return f"{total:.1f} s ({total / symbp_s:.0f}x)"
    runs = naive["runs"]
    if naive["status"] == "timeout" and runs:
        done = runs[-1]["parameters_done"]
        return f"timeout >{runs[-1]['timeout_s']:.0f} s ({done}/15 diffs)"
    return naive["status"]


def render(result: dict[str, Any]) -> str:
    rows = []
    for e in result["sizes"]:
        staged, naive = e["staged_nodes"], e["naive"]
        naive_nodes = naive.get("tree_nodes")
        rows.append(
            [
                f"{e['size']}x{e['size']}",
                report.count(e["conv_outputs_x_filter"]),
                report.seconds(e["derive_median_s"]),
                report.seconds(e["generate_source_median_s"]),
                _naive_cell(naive, e["derive_median_s"]),
                report.count(staged["program_tree"]),
                report.count(naive_nodes) if naive_nodes else "-",
                f"{naive_nodes / staged['program_tree']:.0f}x" if naive_nodes else "-",
            ]
        )
    headers = [
        "input",
        "conv x filter",
        "derive",
        "generate_source",
        "naive compose+diff",
        "staged nodes",
        "naive nodes",
        "naive/staged",
    ]
    x = result["exponents"]
    lines = [
        report.table(headers, rows),
        "derive, generate_source: median of "
        f"{result['rounds']} interleaved rounds, cold SymPy cache; naive (naive_diff.py, own "
        f"process, cap {result['naive_timeout_s']:.0f} s): median of up to "
        f"{result['naive_rounds']} rounds, (Nx) = naive time / symbp derive time",
        "nodes: expression-tree nodes written out in full; staged = symbp's forward + backward "
        "+ parameter-gradient assignments, naive = the 15 derivatives of the composed loss",
        f"growth exponent of derive time vs conv outputs x filter (log-log fit, all sizes): "
        f"{_exponent(x['derive'])} (target <= {result['exponent_target']}); between the two "
        f"largest sizes: {_exponent(x['derive_two_largest'])}; generate_source: "
        f"{_exponent(x['generate_source'])}; derive + generate_source: "
        f"{_exponent(x['derive_plus_generate'])}",
    ]
    return "\n".join(lines)


def _exponent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
