"""Section 7: the shipped example architectures, derived and timed.

For each `examples/*.toml` beyond the teaching network: how long the symbolic steps take
(derive, the pattern proofs, printing and loading the module) and how fast the compiled module
computes every gradient, dL/dX included, against the numeric engine, PyTorch float64 (autograd,
which also returns dL/dX; 1 thread and its default threads) and JAX jit float64 (optional;
`bench_jax.py`), interleaved round by round, quiet and with the other core busy (`bench_busy`).
All are first checked to agree to 1e-9 relative on the timed data, and JAX also against symbp's
module on crafted max-pool ties. Beside the rates: the compute and bandwidth bounds
(`bench_bounds`), from the single-thread dgemm rate and read bandwidth measured in section 4 (or
here, when the section runs alone).

    python benchmarks/bench_architectures.py      # this section alone
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_bounds
import bench_busy
import bench_jax
import bench_report as report
import bench_throughput
import bench_timing
import numpy as np
from bench_impl import torch_threads

from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import max_errors
from symbp.spec.config import load_config
from symbp.spec.model import NetworkSpec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CASES = (("two-blocks.toml", 10_000), ("rgb-strided.toml", 10_000), ("mnist-cnn.toml", 2_000))
Answer = dict[str, np.ndarray]


def _problem(spec: NetworkSpec, m: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    params = {}
    for name, shape in spec.parameter_shapes.items():
        fan_in = int(np.prod(shape[1:] if len(shape) == 4 else shape))
        params[name] = rng.normal(0, 1 / np.sqrt(fan_in), shape)
    x = rng.normal(size=(m, *spec.image_shape))
    return x, rng.integers(0, 2, m).astype(float), params


def _contenders(spec: NetworkSpec, module: Any) -> dict[str, Callable[..., Answer]]:
    engine = NumericNetwork(spec)
    contenders: dict[str, Callable[..., Answer]] = {
        "symbp": module.gradients_with_input,
        "engine": lambda x, y, p: {
            **engine.gradients(x, y, p),
            "X": engine.input_gradient(x, y, p),
        },
    }
    from symbp.reference.torch_oracle import torch_available, torch_gradients

    if torch_available():

        def autograd(x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]) -> Answer:
            _, grads, grad_x = torch_gradients(spec, x, y, p)
            return {**grads, "X": grad_x}

        def one_thread(x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]) -> Answer:
            with torch_threads(1):
                return autograd(x, y, p)

        contenders["torch64"] = one_thread
        contenders["torch64-2thr"] = autograd
    if bench_jax.available():
        contenders["jax"] = bench_jax.jax_gradients(spec, input_gradient=True)
    return contenders


RTOL = 1e-9


def _agreement(answers: dict[str, Answer]) -> tuple[float, float, float | None]:
    """(worst element-wise relative error of symbp and PyTorch, worst scale-aware error of every
    contender, JAX's element-wise error), all against the engine.

    Element-wise (`max_errors`, floor 1e-12 of the gradient's scale) is this section's policy for
    symbp and PyTorch. JAX is held to section 3's policy, max |a - e| / max |e| per gradient:
    XLA sums the transposed convolution of dL/dX in another order, and on two-blocks an entry
    4e-8 of dL/dX's scale (a near-cancelled sum) then differs by 1.5e-9 of itself while the
    scale-aware error is 1.5e-15 (measured); the element-wise figure is reported, not enforced.
    """
    reference = answers["engine"]
    elementwise = {
        k: max(rel for _, rel in max_errors(a, reference).values()) for k, a in answers.items()
    }
    scaled = max(bench_throughput.relative_error(a, reference) for a in answers.values())
    worst = max(v for k, v in elementwise.items() if k != "jax")
    return worst, scaled, elementwise.get("jax")


def _timed(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(wall seconds, result) of one call."""
    box: dict[str, Any] = {}
    seconds = bench_timing.once(lambda: box.update(result=function(*args)))
    return seconds, box["result"]


def _sample(function: Callable[..., Answer], *args: Any) -> Callable[[int], None]:
    def sample(n: int) -> None:
        for _ in range(n):
            function(*args)

    return sample


def _rates(rates: tuple[float | None, float | None]) -> tuple[float, float]:
    """(FLOP/s, bytes/s): the ones section 4 measured, or measured now."""
    flops, bandwidth = rates
    if flops is None:
        flops = bench_bounds.dgemm()["flops_per_s"]
    if bandwidth is None:
        bandwidth = bench_throughput.bandwidth(400, 7)["bytes_per_s"]
    return flops, bandwidth


def run(
    log: Callable[[str], None],
    rounds: int = 5,
    cases: tuple[tuple[str, int], ...] = CASES,
    min_seconds: float = 0.2,
    rates: tuple[float | None, float | None] = (None, None),
) -> list[dict[str, Any]]:
    from symbp.codegen.module import generate_source, load, resolve_stages
    from symbp.proofs import prove_all
    from symbp.symbolic.derivation import derive

    flops_per_s, bytes_per_s = _rates(rates)
    results = []
    for name, m in cases:
        spec = load_config(EXAMPLES / name)
        log(f"  {name}: derive, prove, compile ...")
        times: dict[str, float] = {}
        times["derive_s"], d = _timed(derive, spec)
        times["proofs_s"], proofs = _timed(prove_all, d)
        # the module `symbp derive` writes: --stages auto (array-level where licensed and large)
        times["compile_s"], module = _timed(load, d, "auto", proofs)
        stages = resolve_stages(d, "auto", proofs)
        source_bytes = len(generate_source(d, stages="auto", proofs=proofs).encode())
        assert all(p.holds for p in proofs), "a proof failed: nothing to time"
        x, y, params = _problem(spec, m)
        contenders = _contenders(spec, module)
        answers = {k: f(x, y, params) for k, f in contenders.items()}
        worst, scaled, jax_elementwise = _agreement(answers)
        if worst > RTOL or scaled > RTOL:
            raise SystemExit(
                f"{name}: implementations disagree (relative error {worst:.1e}, "
                f"scaled {scaled:.1e})"
            )
        ties = bench_jax.tie_check(spec, module) if "jax" in contenders else None
        if ties is not None and not ties["ok"]:
            raise SystemExit(f"{name}: jax disagrees with symbp on ties: {ties}")
        log(f"  {name}: timing M = {m}, quiet and busy ...")
        bench_timing.settle()
        conditions = bench_busy.quiet_and_busy(
            {k: _sample(f, x, y, params) for k, f in contenders.items()}, rounds, min_seconds
        )
        series = conditions["quiet"]
        busy = bench_throughput.busy_json(m, conditions)
        results.append(
            {
                "example": name,
                "label": spec.label,
                "parameters": spec.parameter_count,
                "symbolic_cost": spec.symbolic_cost,
                "source_bytes": source_bytes,
                "stages": stages,
                "m": m,
                "agreement_rel": worst,
                "agreement_scaled": scaled,
                "jax_elementwise_rel": jax_elementwise,
                "ties": ties,
                **times,
                "images_per_s": {k: m / s.median for k, s in series.items()},
                "spread": {k: s.spread for k, s in series.items()},
                "busy": busy,
                "bounds": bench_bounds.bounds(spec, flops_per_s, bytes_per_s, True),
            }
        )
    return results


def render(results: list[dict[str, Any]]) -> str:
    rows, busy_rows, bound_rows = [], [], []
    for r in results:
        rates = r["images_per_s"]
        torch = rates.get("torch64")
        jax = rates.get("jax")
        rows.append(
            [
                r["example"],
                str(r["parameters"]),
                report.seconds(r["derive_s"]),
                report.seconds(r["proofs_s"]),
                report.seconds(r["compile_s"]),
                report.size(r["source_bytes"]),
                r.get("stages", "elementwise"),
                str(r["m"]),
                report.rate(rates["symbp"]),
                report.rate(rates["engine"]),
                report.rate(torch) if torch else "-",
                report.rate(jax) if jax else bench_jax.NOT_INSTALLED.split(" (")[0],
                report.ratio(rates["symbp"] / torch) if torch else "-",
                report.ratio(rates["symbp"] / jax) if jax else "-",
                f"{r['agreement_rel']:.1e}",
            ]
        )
        busy_rows.append(_busy_row(r))
        bound_rows.append(_bound_row(r))
    headers = [
        "example", "params", "derive", "proofs", "compile", "module", "stages", "M", "symbp img/s",
        "engine img/s", "torch64 img/s", "jax img/s", "symbp/torch", "symbp/jax", "max rel diff",
    ]  # fmt: skip
    names = list(dict.fromkeys(n for r in results for n in r["busy"]["busy_over_quiet"]))
    busy_headers = [
        "example", *(f"{n} busy/quiet" for n in names),
        "symbp/torch-best quiet", "symbp/torch-best busy", "symbp/jax quiet", "symbp/jax busy",
    ]  # fmt: skip
    bound_headers = [
        "example", "FLOP/image", "compute bound", "bytes/image", "bandwidth bound",
        "symbp quiet", "% of compute", "% of bandwidth", "symbp busy", "busy % of compute",
    ]  # fmt: skip
    ties = [r["ties"] for r in results if r["ties"]]
    note = [
        "img/s: every parameter gradient and dL/dX (symbp: gradients_with_input(), one"
        " pass per block; engine: gradients() + input_gradient(); PyTorch: one autograd pass,"
        " torch64 1 thread; jax: jit(value_and_grad)"
        " float64), medians of interleaved rounds, quiet condition.",
    ]
    if ties:
        elementwise = max(r["jax_elementwise_rel"] for r in results if r["ties"])
        scaled = max(r["agreement_scaled"] for r in results)
        note.append(
            "max rel diff: element-wise, symbp and PyTorch against the engine; jax is held to "
            f"max |a - e| / max |e| per gradient (all contenders: {scaled:.1e}; jax element-wise: "
            f"{elementwise:.1e}, in near-cancelled dL/dX entries). jax against symbp's module on "
            "crafted ties (small-integer data, dL/dX included): worst relative error "
            f"{max(t['max_rel_error'] for t in ties):.1e}"
        )
    return "\n".join(
        [
            report.table(headers, rows),
            *note,
            "",
            "quiet vs busy (the other core spinning during every busy pass; ratios of one run; "
            "torch-best = faster of torch64 and torch64-2thr in the same condition)",
            report.table(
                busy_headers, [row + ["-"] * (len(busy_headers) - len(row)) for row in busy_rows]
            ),
            "",
            "bounds (images/s on one core; FLOPs: 2 per multiply-add of convolutions and dense "
            "unit in forward, weight and input gradients, dL/dX included; bytes: X + label)",
            report.table(bound_headers, bound_rows),
        ]
    )


def _busy_row(r: dict[str, Any]) -> list[str]:
    busy = r["busy"]
    row = [r["example"], *(report.ratio(v) for v in busy["busy_over_quiet"].values())]
    for key in ("symbp_vs_torch_best_quiet", "symbp_vs_torch_best_busy"):
        row.append(report.ratio(busy[key]) if busy[key] else "-")
    for condition in ("quiet", "busy"):
        jax = busy[f"symbp_speedup_{condition}"].get("jax")
        row.append(report.ratio(jax) if jax else "-")
    return row


def _bound_row(r: dict[str, Any]) -> list[str]:
    b = r["bounds"]
    quiet = r["images_per_s"]["symbp"]
    busy = r["busy"]["images_per_s"]["busy"]["symbp"]
    compute, bandwidth = b["compute_images_per_s"], b["bandwidth_images_per_s"]
    return [
        r["example"],
        report.count(b["flops_per_image"]["total"]),
        report.rate(compute),
        report.count(b["bytes_per_image"]),
        report.rate(bandwidth),
        report.rate(quiet),
        f"{100 * quiet / compute:.2f}%",
        f"{100 * quiet / bandwidth:.2f}%",
        report.rate(busy),
        f"{100 * busy / compute:.2f}%",
    ]


if __name__ == "__main__":
    measured = run(lambda message: print(message, file=sys.stderr, flush=True))
    print(report.heading("7. Example architectures"))
    print(render(measured))
