"""Sections 3 and 4: gradient throughput of every implementation, and the bandwidth bound.

All implementations are first checked to agree on exactly the data that is then timed (float64
ones to 1e-9 relative, float32 loosely); a disagreement aborts the benchmark, because a fast
wrong answer is not a result. Timing is interleaved round by round (see bench_timing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bench_report as report
import bench_timing
import numpy as np
from bench_impl import TORCH_NOTE, Array, Implementation, Params, random_problem

from symbp.spec.model import NetworkSpec

M_VALUES = (1, 100, 10_000, 100_000)
FLOAT64_RTOL = 1e-9
FLOAT32_RTOL = 1e-3
REFERENCE = "engine"


class AgreementError(RuntimeError):
    """Two implementations give different gradients: nothing they do is worth timing."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result  # the checks, for the JSON


def rounds_for(m: int) -> int:
    """More rounds where a sample is short and noisy; at least 7 (so the median is of >= 5)."""
    return 31 if m <= 1 else 21 if m <= 100 else 11 if m <= 10_000 else 7


Problem = tuple[Array, Array, Params]


def problems(spec: NetworkSpec, m_values: Sequence[int]) -> dict[int, Problem]:
    return {m: random_problem(spec, m, seed=m) for m in m_values}


# ------------------------------------------------------------------------------------ agreement
def relative_error(actual: dict[str, Array], expected: dict[str, Array]) -> float:
    """Worst over parameters of max |a - e| / max |e|: scale-aware, safe for zero elements."""
    worst = 0.0
    for name, value in expected.items():
        got = np.asarray(actual[name], dtype=np.float64)
        if got.shape != np.shape(value):
            return float("inf")
        scale = max(float(np.max(np.abs(value))), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(got - value))) / scale)
    return worst


def check_agreement(impls: list[Implementation], data: dict[int, Problem]) -> dict[str, Any]:
    """Every implementation against the engine at every M; AgreementError on any mismatch."""
    reference = next(impl for impl in impls if impl.name == REFERENCE)
    checks = []
    for m, (x, y, params) in data.items():
        expected = reference.gradients(x, y, params)
        for impl in impls:
            with impl.setting():
                worst = relative_error(impl.gradients(x, y, params), expected)
            tolerance = FLOAT32_RTOL if impl.loose else FLOAT64_RTOL
            checks.append(
                {
                    "m": m,
                    "implementation": impl.name,
                    "max_rel_error": worst,
                    "tolerance": tolerance,
                    "ok": worst <= tolerance,
                }
            )
    failed = [c for c in checks if not c["ok"]]
    result = {"reference": REFERENCE, "passed": not failed, "checks": checks}
    if failed:
        lines = [
            f"{c['implementation']} at M={c['m']}: relative error {c['max_rel_error']:.3g} "
            f"> {c['tolerance']:g}"
            for c in failed
        ]
        message = "implementations disagree with the engine:\n  " + "\n  ".join(lines)
        raise AgreementError(message, result)
    return result


# ------------------------------------------------------------------------------------- timing
def _sample(impl: Implementation, problem: Problem) -> bench_timing.Sample:
    x, y, params = problem
    function = impl.gradients

    def sample(n: int) -> None:
        for _ in range(n):
            function(x, y, params)

    def configured(n: int) -> None:
        with impl.setting():
            sample(n)

    return configured


def measure(
    impls: list[Implementation], data: dict[int, Problem], quick: bool, log: Any
) -> dict[int, dict[str, bench_timing.Series]]:
    """M -> implementation -> per-call seconds over interleaved rounds."""
    results = {}
    for m, problem in data.items():
        rounds = 3 if quick else rounds_for(m)
        min_seconds = 0.005 if quick else 0.05
        samples = {impl.name: _sample(impl, problem) for impl in impls}
        results[m] = bench_timing.interleaved(samples, rounds, min_seconds)
        log(f"  throughput M={m}: {rounds} rounds done")
    return results


def as_json(
    impls: list[Implementation], timings: dict[int, dict[str, bench_timing.Series]]
) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for m, series in timings.items():
        entry: dict[str, Any] = {}
        for name, s in series.items():
            entry[name] = {**s.as_json(), "images_per_s": m / s.median}
        symbp = series["symbp"].median
        entry["symbp_speedup"] = {
            name: s.median / symbp for name, s in series.items() if name != "symbp"
        }
        table[str(m)] = entry
    return {
        "implementations": {
            impl.name: {"label": impl.label, "diagnostic": impl.diagnostic} for impl in impls
        },
        "by_m": table,
    }


# ---------------------------------------------------------------------------------- bandwidth
def bandwidth(megabytes: int, repeats: int) -> dict[str, Any]:
    """Best single-thread read bandwidth of `.sum()` over a freshly touched float64 array."""
    array = np.ones(megabytes * 1_000_000 // 8)
    array.sum()  # warm up: page tables, code paths
    seconds = [bench_timing.once(array.sum) for _ in range(repeats)]
    best = min(seconds)
    return {
        "array_bytes": array.nbytes,
        "method": f"np.ndarray.sum (np.add.reduce), one thread, best of {repeats}",
        "repeats": repeats,
        "samples_s": seconds,
        "bytes_per_s": array.nbytes / best,
    }


def bandwidth_bound(spec: NetworkSpec, bytes_per_s: float) -> dict[str, float]:
    """Images/s if the only cost were reading each image's pixels and its label once."""
    h, w = spec.input_shape
    per_image = h * w * 8 + 8
    return {"bytes_per_image": per_image, "images_per_s": bytes_per_s / per_image}


# ------------------------------------------------------------------------------------ report
def render_agreement(result: dict[str, Any]) -> str:
    checks = result["checks"]
    m_values = sorted({c["m"] for c in checks})
    names = list(dict.fromkeys(c["implementation"] for c in checks))
    strict = [c["max_rel_error"] for c in checks if c["tolerance"] == FLOAT64_RTOL]
    loose = [c["max_rel_error"] for c in checks if c["tolerance"] == FLOAT32_RTOL]
    text = (
        f"all {len(names)} implementations agree with the {result['reference']} on the timed "
        f"data at M = {', '.join(map(str, m_values))}: worst float64 relative error "
        f"{max(strict):.1e} (<= {FLOAT64_RTOL:g})"
    )
    if loose:
        text += f", float32 {max(loose):.1e} (<= {FLOAT32_RTOL:g})"
    return text


def render(result: dict[str, Any]) -> str:
    by_m = result["by_m"]
    names = list(result["implementations"])
    header = ["M", *names]
    rates, micros, speedups = [], [], []
    for m, entry in by_m.items():
        rates.append([m, *(report.rate(entry[n]["images_per_s"]) for n in names)])
        micros.append([m, *(report.seconds(entry[n]["median_s"]) for n in names)])
        speedups.append([m, *(report.ratio(entry["symbp_speedup"][n]) for n in names[1:])])
    rounds = ", ".join(f"M={m}: {entry['symbp']['rounds']}" for m, entry in by_m.items())
    diagnostic = [n for n, v in result["implementations"].items() if v["diagnostic"]]
    lines = [
        "images/s (median over interleaved rounds; " + rounds + ")",
        report.table(header, rates),
        "",
        "time per gradients() call",
        report.table(header, micros),
        "",
        "symbp speed-up: other's time / symbp's time (> 1: symbp is faster)",
        report.table(["M", *(f"vs {n}" for n in names[1:])], speedups),
        "numpy = hand-written shifted slices (benchmarks/bench_impl.py); torch = autograd, "
        "tensor conversion included, dL/dX not requested",
    ]
    lines.append(TORCH_NOTE)
    for name in diagnostic:
        lines.append(f"{name} (diagnostic, no target): {result['implementations'][name]['label']}")
    return "\n".join(lines)


def render_bandwidth(
    spec: NetworkSpec, measured: list[dict[str, Any]], throughput: dict[str, Any], m: int
) -> tuple[str, dict[str, Any]]:
    """The bound and every engine's share of it at the largest M; also returns the JSON."""
    best = max(b["bytes_per_s"] for b in measured)
    bound = bandwidth_bound(spec, best)
    entry = throughput["by_m"][str(m)]
    shares = {
        name: entry[name]["images_per_s"] / bound["images_per_s"]
        for name in throughput["implementations"]
    }
    rows = [
        [name, report.rate(entry[name]["images_per_s"]), f"{100 * share:.1f}%"]
        for name, share in shares.items()
    ]
    text = "\n".join(
        [
            f"read bandwidth {best / 1e9:.1f} GB/s ({measured[0]['method']}, "
            f"{report.size(measured[0]['array_bytes'])} array, measured before and after the "
            "throughput runs, best taken)",
            f"bytes per image {bound['bytes_per_image']} (X {spec.input_shape[0]}x"
            f"{spec.input_shape[1]} float64 + label) -> bound "
            f"{report.rate(bound['images_per_s'])} images/s",
            report.table(["implementation", f"images/s at M={m}", "% of bound"], rows),
        ]
    )
    result = {
        "measurements": measured,
        "best_bytes_per_s": best,
        **bound,
        "m": m,
        "fraction_of_bound": shares,
    }
    return text, result
