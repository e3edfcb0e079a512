"""Section 7: the shipped example architectures, derived and timed.

For each `examples/*.toml` beyond the teaching network: how long the symbolic steps take
(derive, the pattern proofs, printing and loading the module) and how fast the compiled module
computes every gradient, dL/dX included, against the numeric engine and PyTorch float64 (one
thread, autograd, which also returns dL/dX), interleaved round by round. All three are first
checked to agree to 1e-9 relative on the timed data.

    python benchmarks/bench_architectures.py      # this section alone
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_report as report
import bench_timing
import numpy as np

from symbp.spec.config import load_config
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import max_errors
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
        "symbp": lambda x, y, p: {**module.gradients(x, y, p), "X": module.input_gradient(x, y, p)},
        "engine": lambda x, y, p: {
            **engine.gradients(x, y, p),
            "X": engine.input_gradient(x, y, p),
        },
    }
    try:
        import torch
    except ImportError:
        return contenders
    from symbp.reference.torch_oracle import torch_gradients

    torch.set_num_threads(1)

    def autograd(x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]) -> Answer:
        _, grads, grad_x = torch_gradients(spec, x, y, p)
        return {**grads, "X": grad_x}

    contenders["torch64"] = autograd
    return contenders


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


def run(
    log: Callable[[str], None], rounds: int = 5, cases: tuple[tuple[str, int], ...] = CASES
) -> list[dict[str, Any]]:
    from symbp.codegen.module import generate_source, load
    from symbp.symbolic.derivation import derive
    from symbp.proofs import prove_all

    results = []
    for name, m in cases:
        spec = load_config(EXAMPLES / name)
        log(f"  {name}: derive, prove, compile ...")
        times: dict[str, float] = {}
        times["derive_s"], d = _timed(derive, spec)
        times["proofs_s"], proofs = _timed(prove_all, d)
        times["compile_s"], module = _timed(load, d)
        source_bytes = len(generate_source(d).encode())
        assert all(p.holds for p in proofs), "a proof failed: nothing to time"
        x, y, params = _problem(spec, m)
        contenders = _contenders(spec, module)
        answers = {k: f(x, y, params) for k, f in contenders.items()}
        worst = max(
            rel for k in answers for _, rel in max_errors(answers[k], answers["engine"]).values()
        )
        if worst > 1e-9:
            raise SystemExit(f"{name}: implementations disagree (relative error {worst:.1e})")
        log(f"  {name}: timing M = {m} ...")
        series = bench_timing.interleaved(
            {k: _sample(f, x, y, params) for k, f in contenders.items()},
            rounds,
            0.2,
        )
        results.append(
            {
                "example": name,
                "label": spec.label,
                "parameters": spec.parameter_count,
                "symbolic_cost": spec.symbolic_cost,
                "source_bytes": source_bytes,
                "m": m,
                "agreement_rel": worst,
                **times,
                "images_per_s": {k: m / s.median for k, s in series.items()},
                "spread": {k: s.spread for k, s in series.items()},
            }
        )
    return results


def render(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        rates = r["images_per_s"]
        torch = rates.get("torch64")
        rows.append(
            [
                r["example"],
                str(r["parameters"]),
                report.seconds(r["derive_s"]),
                report.seconds(r["proofs_s"]),
                report.seconds(r["compile_s"]),
                report.size(r["source_bytes"]),
                str(r["m"]),
                report.rate(rates["symbp"]),
                report.rate(rates["engine"]),
                report.rate(torch) if torch else "-",
                report.ratio(rates["symbp"] / torch) if torch else "-",
                f"{r['agreement_rel']:.1e}",
            ]
        )
    headers = [
        "example", "params", "derive", "proofs", "compile", "module", "M",
        "symbp img/s", "engine img/s", "torch64 img/s", "symbp/torch", "max rel diff",
    ]  # fmt: skip
    note = (
        "\nimg/s: every parameter gradient and dL/dX (symbp: gradients() + input_gradient();"
        " engine likewise; PyTorch: one autograd pass, 1 thread), medians of interleaved rounds."
    )
    return report.table(headers, rows) + note


if __name__ == "__main__":
    measured = run(lambda message: print(message, file=sys.stderr, flush=True))
    print(report.heading("7. Example architectures"))
    print(render(measured))
