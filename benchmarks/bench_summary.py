"""The targets of issues 5 and 17, each with its measured value and PASS / MISS (n/a if not
measured). Issue 17's are ratios measured in one run: quiet vs busy, symbp vs PyTorch's best
setting and JAX jit."""

from __future__ import annotations

from typing import Any

import bench_report as report

THROUGHPUT_M = 100_000
SMALL_M = 1
TORCH_SPEEDUP = 4.0
SMALL_M_US = 25.0
ISSUE_TORCH_US = 65.0  # PyTorch's time at M = 1 on the issue's machine
FUSED_SHARE = 0.10
BUSY_KEEP = 0.67  # issue 17: symbp busy/quiet at M = 100 000
MNIST_TORCH, MNIST_JAX, TWO_BLOCKS_TORCH = 1.5, 1.0, 2.0

Row = dict[str, str]


def _row(target: str, measured: str, ok: bool | None) -> Row:
    status = "n/a" if ok is None else "PASS" if ok else "MISS"
    return {"target": target, "measured": measured, "status": status}


def _cli_rows(cli: dict[str, Any]) -> list[Row]:
    rows = []
    commands = (
        ("default", f"default network, --format {cli['formats']}"),
        ("28x28", "--input 28x28 --format py"),
        ("mnist-cnn", "--config examples/mnist-cnn.toml --format py"),
    )
    for key, what in commands:
        entry = cli.get(key)
        if entry is None:
            continue
        name = f"symbp derive, {what} <= {entry['target_ratio']:g}x import sympy"
        if "skipped" in entry:
            rows.append(_row(name, f"skipped ({entry['skipped']})", None))
        elif not entry["ok"]:
            rows.append(_row(name, "command failed", False))
        else:
            ratio = entry["ratio_to_import_sympy"]
            measured = f"{ratio:.1f}x ({entry['median_s']:.2f} s)"
            rows.append(_row(name, measured, ratio <= entry["target_ratio"]))
    return rows


def _derivation_rows(derivation: dict[str, Any]) -> list[Row]:
    exponent = derivation["exponents"]["derive"]
    target = derivation["exponent_target"]
    name = f"derive() time grows <= linearly in conv outputs x filter (exponent <= {target})"
    if exponent is None:
        return [_row(name, "needs two sizes", None)]
    local = derivation["exponents"]["derive_two_largest"]
    return [_row(name, f"{exponent:.2f} (two largest sizes: {local:.2f})", exponent <= target)]


def _throughput_rows(throughput: dict[str, Any]) -> list[Row]:
    by_m = throughput["by_m"]
    rows = []
    big = by_m.get(str(THROUGHPUT_M))
    names = throughput["implementations"]
    for other, need, text in (
        ("torch64", TORCH_SPEEDUP, f">= {TORCH_SPEEDUP:g}x PyTorch float64"),
        ("numpy", 1.0, "faster than hand-written NumPy"),
    ):
        name = f"M={THROUGHPUT_M}: symbp {text}"
        if big is None or other not in names:
            rows.append(_row(name, "not measured", None))
            continue
        speedup = big["symbp_speedup"][other]
        measured = (
            f"{report.ratio(speedup)} ({report.rate(big['symbp']['images_per_s'])} vs "
            f"{report.rate(big[other]['images_per_s'])} images/s)"
        )
        rows.append(_row(name, measured, speedup >= need if need > 1 else speedup > need))
    rows += _small_m_rows(by_m.get(str(SMALL_M)), names)
    return rows


def _small_m_rows(small: dict[str, Any] | None, names: dict[str, Any]) -> list[Row]:
    absolute = f"M={SMALL_M}: symbp <= {SMALL_M_US:g} us per call"
    relative = (
        f"M={SMALL_M}: symbp/torch64 time <= {SMALL_M_US:g}/{ISSUE_TORCH_US:g} "
        f"= {SMALL_M_US / ISSUE_TORCH_US:.2f} (issue's machine)"
    )
    if small is None:
        return [_row(absolute, "not measured", None), _row(relative, "not measured", None)]
    ours = small["symbp"]["median_s"] * 1e6
    rows = [_row(absolute, f"{ours:.1f} us", ours <= SMALL_M_US)]
    if "torch64" not in names:
        return [*rows, _row(relative, "torch not installed", None)]
    theirs = small["torch64"]["median_s"] * 1e6
    share = ours / theirs
    rows.append(_row(relative, f"{share:.2f} ({ours:.1f} us vs {theirs:.1f} us)", share <= 25 / 65))
    return rows


def _memory_rows(memory: dict[str, Any]) -> list[Row]:
    name = f"M={memory['m']}: symbp peak extra memory <= {memory['target_ratio']:g}x X.nbytes"
    traced = memory["tracemalloc"].get("symbp")
    if traced is None:
        return [_row(name, "not measured", None)]
    rss = memory["rss"].get("symbp", {})
    rss_text = f"; RSS {rss['ratio']:.2f}x" if "ratio" in rss else ""
    measured = f"{traced['ratio']:.2f}x (tracemalloc){rss_text}"
    return [_row(name, measured, traced["ratio"] <= memory["target_ratio"])]


def _fused_row(bandwidth: dict[str, Any]) -> Row:
    title = f"optional fused backend >= {100 * FUSED_SHARE:.0f}% of the bandwidth bound"
    share = bandwidth["fraction_of_bound"].get("symbp", 0.0)
    fused = bandwidth["fraction_of_bound"].get("symbp-c")
    if fused is None:
        return _row(
            title,
            f"no C compiler, fused backend not built; pure-NumPy symbp: {100 * share:.1f}% "
            f"at M={bandwidth['m']}",
            False,
        )
    return _row(
        title,
        f"symbp-c: {100 * fused:.1f}% at M={bandwidth['m']} (NumPy module: {100 * share:.1f}%)",
        fused >= FUSED_SHARE,
    )


def _busy_rows(throughput: dict[str, Any]) -> list[Row]:
    busy = throughput.get("busy")
    keep = f"M={THROUGHPUT_M}: symbp busy/quiet >= {BUSY_KEEP:g} (issue 17)"
    faster = (
        f"M={THROUGHPUT_M}: symbp >= {TORCH_SPEEDUP:g}x PyTorch float64 at its best setting, "
        "quiet and busy (issue 17)"
    )
    if busy is None or busy["m"] != THROUGHPUT_M:
        return [_row(keep, "not measured", None), _row(faster, "not measured", None)]
    ratio = busy["busy_over_quiet"]["symbp"]
    rows = [_row(keep, report.ratio(ratio), ratio >= BUSY_KEEP)]
    quiet, loaded = busy["symbp_vs_torch_best_quiet"], busy["symbp_vs_torch_best_busy"]
    if quiet is None or loaded is None:
        return [*rows, _row(faster, "torch not installed", None)]
    measured = (
        f"quiet {report.ratio(quiet)} ({busy['torch_best_quiet']}), "
        f"busy {report.ratio(loaded)} ({busy['torch_best_busy']})"
    )
    rows.append(_row(faster, measured, min(quiet, loaded) >= TORCH_SPEEDUP))
    return rows


def _example_rows(examples: list[dict[str, Any]]) -> list[Row]:
    rows = []
    for r in examples:
        rates = r["images_per_s"]
        if r["example"] == "mnist-cnn.toml":
            torch = [rates[n] for n in ("torch64", "torch64-2thr") if n in rates]
            name = (
                f"mnist-cnn, grads + dL/dX, M={r['m']}: >= {MNIST_TORCH:g}x PyTorch float64 "
                f"(both settings), >= {MNIST_JAX:g}x JAX jit (issue 17)"
            )
            if not torch or "jax" not in rates:
                rows.append(_row(name, "torch or jax not installed", None))
                continue
            vs_torch, vs_jax = rates["symbp"] / max(torch), rates["symbp"] / rates["jax"]
            ok = vs_torch >= MNIST_TORCH and vs_jax >= MNIST_JAX
            text = f"{report.ratio(vs_torch)} PyTorch (best setting), {report.ratio(vs_jax)} JAX"
            rows.append(_row(name, text, ok))
        elif r["example"] == "two-blocks.toml" and "torch64" in rates:
            torch = max(rates[n] for n in ("torch64", "torch64-2thr") if n in rates)
            ratio = rates["symbp"] / torch
            name = f"two-blocks, M={r['m']}: >= {TWO_BLOCKS_TORCH:g}x PyTorch float64 (issue 17)"
            rows.append(_row(name, report.ratio(ratio), ratio >= TWO_BLOCKS_TORCH))
    return rows


def summarize(data: dict[str, Any], quick: bool) -> list[Row]:
    rows: list[Row] = []
    if "cli" in data:
        rows += _cli_rows(data["cli"])
    if "derivation" in data:
        rows += _derivation_rows(data["derivation"])
    if "throughput" in data:
        rows += _throughput_rows(data["throughput"])
    if "memory" in data:
        rows += _memory_rows(data["memory"])
    if "bandwidth" in data:
        rows.append(_fused_row(data["bandwidth"]))
    if "throughput" in data:
        rows += _busy_rows(data["throughput"])
    if "architectures" in data:
        rows += _example_rows(data["architectures"])
    if quick:  # smoke-run figures say nothing about the targets
        rows = [{**row, "status": "n/a (quick)"} for row in rows]
    return rows


def notes(data: dict[str, Any]) -> list[str]:
    """Context a reader needs to judge the PASS/MISS lines, derived from the same data."""
    found = []
    big = data.get("throughput", {}).get("by_m", {}).get(str(THROUGHPUT_M))
    if big and "symbp-blas1" in big:
        single = big["symbp-blas1"]["median_s"]
        default = big["symbp"]["median_s"]
        if default / single > 1.5:
            versus = ", ".join(
                f"{report.ratio(big[name]['median_s'] / single)} vs {name}"
                for name in ("numpy", "torch64")
                if name in big
            )
            found.append(
                f"symbp with OpenBLAS held to 1 thread reached "
                f"{report.rate(big['symbp-blas1']['images_per_s'])} images/s at M={THROUGHPUT_M} "
                f"({report.ratio(default / single)} the default run; {versus}); the only "
                "difference is OpenBLAS's thread count for the first layer's product "
                "(jacobian @ x), whose 2 threads stall while the shared machine's other core "
                "is busy"
            )
    return found
