"""Sections 3 and 4: gradient throughput of every implementation, and the bandwidth bound.

All implementations are first checked to agree on exactly the data that is then timed (float64
ones to 1e-9 relative, float32 loosely); a disagreement aborts the benchmark, because a fast
wrong answer is not a result. Timing is interleaved round by round (see bench_timing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bench_bounds
import bench_busy
import bench_jax
import bench_report as report
import bench_timing
import numpy as np
from bench_impl import JAX_NOTE, TORCH_NOTE, Array, Implementation, Params, random_problem

from symbp.spec.model import NetworkSpec

M_VALUES = (1, 100, 10_000, 100_000)
FLOAT64_RTOL = 1e-9
FLOAT32_RTOL = 1e-3
REFERENCE = "engine"
TORCH_ROWS = ("torch64", "torch64-2thr")  # PyTorch float64, 1 thread and default threads


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


def check_agreement(
    impls: list[Implementation], data: dict[int, Problem], spec: NetworkSpec | None = None
) -> dict[str, Any]:
    """Every implementation against the engine at every M; AgreementError on any mismatch.

    With `spec` and JAX installed, JAX is also checked against symbp's module (gradients and
    dL/dX) on crafted max-pool ties and activation zeros (`bench_jax.tie_check`)."""
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
    ties = None
    if spec is not None and any(impl.name == "jax" for impl in impls):
        from bench_impl import symbp_module

        ties = bench_jax.tie_check(spec, symbp_module(spec))
        checks.append(
            {
                "m": ties["m"],
                "implementation": "jax",
                "data": "crafted ties vs symbp's module, dL/dX included",
                "max_rel_error": ties["max_rel_error"],
                "tolerance": ties["tolerance"],
                "ok": ties["ok"],
            }
        )
    failed = [c for c in checks if not c["ok"]]
    result = {"reference": REFERENCE, "passed": not failed, "checks": checks, "ties": ties}
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


Timings = dict[int, dict[str, bench_timing.Series]]


def measure(
    impls: list[Implementation], data: dict[int, Problem], quick: bool, log: Any
) -> tuple[Timings, dict[str, dict[str, bench_timing.Series]]]:
    """M -> implementation -> per-call seconds over interleaved rounds, and at the largest M
    the same in both conditions, quiet and busy (see bench_busy); the table's quiet figures at
    that M are the quiet half of the quiet/busy run."""
    results: Timings = {}
    largest = max(data)
    conditions: dict[str, dict[str, bench_timing.Series]] = {}
    for m, problem in data.items():
        rounds = 3 if quick else rounds_for(m)
        min_seconds = 0.005 if quick else 0.05
        samples = {impl.name: _sample(impl, problem) for impl in impls}
        bench_timing.settle()
        if m == largest:
            conditions = bench_busy.quiet_and_busy(samples, rounds, min_seconds)
            results[m] = conditions["quiet"]
        else:
            results[m] = bench_timing.interleaved(samples, rounds, min_seconds)
        log(f"  throughput M={m}: {rounds} rounds done" + (" (quiet and busy)" * (m == largest)))
    return results, conditions


def torch_best(rates: dict[str, float]) -> str | None:
    """The faster of PyTorch float64's 1-thread and default-thread rows, by images/s."""
    found = [name for name in TORCH_ROWS if name in rates]
    return max(found, key=lambda name: rates[name]) if found else None


def busy_json(m: int, conditions: dict[str, dict[str, bench_timing.Series]]) -> dict[str, Any]:
    """Quiet and busy rates, every busy/quiet ratio and symbp's speed-ups in each condition."""
    rates = {c: {n: m / s.median for n, s in series.items()} for c, series in conditions.items()}
    result: dict[str, Any] = {
        "m": m,
        "spinner": {**bench_busy.describe(), "pids": list(bench_busy.Spinner.pids)},
        "images_per_s": rates,
        "busy_over_quiet": {n: rates["busy"][n] / rates["quiet"][n] for n in rates["quiet"]},
        "spread": {c: {n: s.spread for n, s in series.items()} for c, series in conditions.items()},
        "samples_s": {
            c: {n: s.seconds for n, s in series.items()} for c, series in conditions.items()
        },
    }
    for condition in ("quiet", "busy"):
        here = rates[condition]
        best = torch_best(here)
        result[f"symbp_speedup_{condition}"] = {
            n: here["symbp"] / r for n, r in here.items() if n != "symbp"
        }
        result[f"torch_best_{condition}"] = best
        result[f"symbp_vs_torch_best_{condition}"] = here["symbp"] / here[best] if best else None
    return result


def as_json(
    impls: list[Implementation],
    timings: Timings,
    conditions: dict[str, dict[str, bench_timing.Series]] | None = None,
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
    result: dict[str, Any] = {
        "implementations": {
            impl.name: {"label": impl.label, "diagnostic": impl.diagnostic} for impl in impls
        },
        "by_m": table,
        "jax": bench_jax.version() or bench_jax.NOT_INSTALLED,
    }
    if conditions:
        result["busy"] = busy_json(max(timings), conditions)
    return result


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
    per_image = bench_bounds.bytes_per_image(spec)
    return {"bytes_per_image": per_image, "images_per_s": bytes_per_s / per_image}


# ------------------------------------------------------------------------------------ report
def render_agreement(result: dict[str, Any]) -> str:
    checks = [c for c in result["checks"] if "data" not in c]  # the timed data only
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
    ties = result.get("ties")
    if ties:
        text += (
            f"\njax against symbp's module on crafted ties (M = {ties['m']}, small-integer images "
            "and weights: tied maxima in about a third of the pool windows, exact zeros at the "
            f"ReLUs), gradients and dL/dX: relative error {ties['max_rel_error']:.1e} "
            f"(<= {ties['tolerance']:g}); JAX's reduce_window-max gradient routes ties to the "
            "first maximum, like symbp and PyTorch, so the check compares everywhere"
        )
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
    lines.append(JAX_NOTE if "jax" in names else f"jax: {result['jax']}")
    for name in diagnostic:
        lines.append(f"{name} (diagnostic, no target): {result['implementations'][name]['label']}")
    if "busy" in result:
        lines += ["", render_busy(result["busy"])]
    return "\n".join(lines)


def busy_rows(busy: dict[str, Any]) -> list[list[str]]:
    quiet, loaded = busy["images_per_s"]["quiet"], busy["images_per_s"]["busy"]
    rows = []
    for name in quiet:
        speedups = [
            report.ratio(busy[f"symbp_speedup_{c}"][name]) if name != "symbp" else "-"
            for c in ("quiet", "busy")
        ]
        rows.append(
            [
                name,
                report.rate(quiet[name]),
                report.rate(loaded[name]),
                report.ratio(busy["busy_over_quiet"][name]),
                *speedups,
            ]
        )
    return rows


def render_busy(busy: dict[str, Any]) -> str:
    """Quiet and busy side by side at one M, with the ratios the issue's targets are stated in."""
    spinner = busy["spinner"]
    where = (
        f"pinned to CPU {spinner['pinned_cpu']} (of {spinner['cpus_allowed']})"
        if spinner["pinned"]
        else "not pinned (affinity not available)"
    )
    headers = ["implementation", "quiet img/s", "busy img/s", "busy/quiet", "symbp x quiet"]
    lines = [
        f"quiet vs busy at M={busy['m']}: 'busy' = a spinning process ({where}, started before "
        "and killed after every busy pass, self-limited to "
        f"{spinner['max_seconds']:g} s); rounds alternate quiet and busy passes",
        report.table([*headers, "symbp x busy"], busy_rows(busy)),
    ]
    summary = [f"symbp busy/quiet {report.ratio(busy['busy_over_quiet']['symbp'])}"]
    for condition in ("quiet", "busy"):
        best = busy[f"torch_best_{condition}"]
        if best:
            summary.append(
                f"{condition}: symbp {report.ratio(busy[f'symbp_vs_torch_best_{condition}'])} "
                f"PyTorch float64 at its best setting ({best})"
            )
        if "jax" in busy["images_per_s"][condition]:
            summary.append(
                f"{condition}: symbp {report.ratio(busy[f'symbp_speedup_{condition}']['jax'])} jax"
            )
    lines.append("; ".join(summary))
    lines.append(
        "symbp x: other's time / symbp's time in the same condition; PyTorch's best setting is "
        "the faster of torch64 (1 thread) and torch64-2thr (default threads) in that condition"
    )
    return "\n".join(lines)


def render_bandwidth(
    spec: NetworkSpec,
    measured: list[dict[str, Any]],
    throughput: dict[str, Any],
    m: int,
    dgemm: list[dict[str, Any]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Both bounds and every engine's share of them at the largest M (quiet, and busy where
    measured); also returns the JSON. `dgemm`: single-thread matrix-product measurements."""
    best = max(b["bytes_per_s"] for b in measured)
    bound = bandwidth_bound(spec, best)
    entry = throughput["by_m"][str(m)]
    names = list(throughput["implementations"])
    shares = {name: entry[name]["images_per_s"] / bound["images_per_s"] for name in names}
    busy = throughput.get("busy", {}).get("images_per_s", {}).get("busy", {})
    flops_per_s = max(d["flops_per_s"] for d in dgemm) if dgemm else None
    flops = bench_bounds.flops_per_image(spec)
    compute = flops_per_s / flops["total"] if flops_per_s else None
    rows = []
    for name in names:
        rate = entry[name]["images_per_s"]
        row = [name, report.rate(rate), f"{100 * shares[name]:.1f}%"]
        if compute:
            row.append(f"{100 * rate / compute:.1f}%")
        if busy:
            row += [report.rate(busy[name]), f"{100 * busy[name] / bound['images_per_s']:.1f}%"]
            if compute:
                row.append(f"{100 * busy[name] / compute:.1f}%")
        rows.append(row)
    headers = ["implementation", f"images/s at M={m}", "% of bandwidth"]
    if compute:
        headers.append("% of compute")
    if busy:
        headers += ["busy images/s", "busy % of bandwidth"]
        if compute:
            headers.append("busy % of compute")
    lines = [
        f"read bandwidth {best / 1e9:.1f} GB/s ({measured[0]['method']}, "
        f"{report.size(measured[0]['array_bytes'])} array, measured before and after the "
        "throughput runs, best taken)",
        f"bytes per image {bound['bytes_per_image']} (X {spec.input_shape[0]}x"
        f"{spec.input_shape[1]} float64 + label) -> bandwidth bound "
        f"{report.rate(bound['images_per_s'])} images/s",
    ]
    if compute and dgemm:
        lines.append(
            f"single-thread dgemm {flops_per_s / 1e9:.1f} GFLOP/s ({dgemm[0]['method']}, before "
            f"and after the throughput runs, best taken); {flops['total']} FLOP per image "
            f"(forward {flops['forward']}, weight gradients {flops['weight_gradients']}, input "
            f"gradients {flops['input_gradients']}: 2 per multiply-add of the convolutions and "
            f"the dense unit, element-wise work not counted) -> compute bound "
            f"{report.rate(compute)} images/s on one core"
        )
    lines.append(report.table(headers, rows))
    result = {
        "measurements": measured,
        "best_bytes_per_s": best,
        **bound,
        "m": m,
        "fraction_of_bound": shares,
        "compute": {
            "dgemm": dgemm,
            "best_flops_per_s": flops_per_s,
            "flops_per_image": flops,
            "images_per_s": compute,
            "fraction_of_bound": {n: entry[n]["images_per_s"] / compute for n in names}
            if compute
            else None,
        },
    }
    return "\n".join(lines), result
