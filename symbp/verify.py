"""Check the compiled symbolic gradients against three independent engines.

References: the hand-written numeric engine (`engine.py`), central finite differences
(`gradcheck.py`) and PyTorch autograd (`torch_oracle.py`, when torch is installed). Cases:
random batches, and crafted ones where conventions decide the answer — every pool window tied,
Z1 exactly 0, saturated sigmoids, all labels 0 or all 1. On crafted cases the zero pattern of
every gradient must be identical, not merely close: a tie or a zero routed differently shows
up as an exact zero in one engine and a value in the other.
"""

from __future__ import annotations

import multiprocessing
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .engine import NumericNetwork
from .gradcheck import (
    finite_difference_gradients,
    finite_difference_projections,
    max_errors,
    same_zero_pattern,
)
from .spec import NetworkSpec
from .torch_oracle import torch_available, torch_gradients

Params = dict[str, np.ndarray]
Case = tuple[str, np.ndarray, np.ndarray, Params]

TOLERANCE = 1e-9  # relative, against the engine and PyTorch (float64)
FD_TOLERANCE = 1e-6  # relative, against central differences (step 1e-5)
FD_FLOOR = 1e-2  # entries below 1% of their parameter's largest are judged against that 1%


@dataclass(frozen=True)
class Row:
    reference: str
    quantity: str  # W1, B1, W2, B2, X (input gradient) or loss
    cases: int
    max_abs: float
    max_rel: float
    tolerance: float
    zero_patterns_equal: bool | None  # crafted cases only

    @property
    def passed(self) -> bool:
        exact = self.zero_patterns_equal is not False
        return exact and bool(self.max_rel <= self.tolerance)


@dataclass
class Report:
    spec: NetworkSpec
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    def table(self) -> str:
        header = f"{'reference':<31}{'grad':<6}{'cases':>6}{'max abs err':>13}{'max rel err':>13}"
        header += f"{'tolerance':>11}  {'zeros':<6}result"
        lines = [header, "-" * len(header)]
        for row in self.rows:
            zeros = {None: "-", True: "same", False: "DIFF"}[row.zero_patterns_equal]
            lines.append(
                f"{row.reference:<31}{row.quantity:<6}{row.cases:>6}{row.max_abs:>13.2e}"
                f"{row.max_rel:>13.2e}{row.tolerance:>11.0e}  {zeros:<6}"
                f"{'ok' if row.passed else 'MISMATCH'}"
            )
        return "\n".join(lines + self.notes)


# ---------------------------------------------------------------------------------- cases
def _names(spec: NetworkSpec) -> tuple[str, str, str, str]:
    """The first conv layer's weight and bias, then the dense layer's (W2, B2 at one block)."""
    dense = len(spec.blocks) + 1
    return "W1", "B1", f"W{dense}", f"B{dense}"


def _random_params(spec: NetworkSpec, rng: np.random.Generator) -> Params:
    """Weights scaled by 1/sqrt(fan-in), so activations stay of order 1 through every block."""
    params: Params = {}
    for name, shape in spec.parameter_shapes.items():
        if name.startswith("W"):
            # (K, C, kH, kW) reads C kH kW inputs; (kH, kW) and the dense (features, 1) all.
            fan_in = int(np.prod(shape[1:] if len(shape) == 4 else shape))
            params[name] = rng.normal(0, 1 / np.sqrt(fan_in), shape)
        else:
            params[name] = np.asarray(rng.normal(0, 0.1, shape))
    return params


def random_cases(spec: NetworkSpec, count: int = 6, seed: int = 0) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(count):
        m = (1, 7, 64)[k % 3]
        x = rng.normal(size=(m, *spec.image_shape))
        y = rng.integers(0, 2, size=m).astype(float)
        cases.append((f"random batch M={m}", x, y, _random_params(spec, rng)))
    return cases


def crafted_cases(spec: NetworkSpec, seed: int = 0) -> list[Case]:
    """Cases whose answer depends on the conventions, built from small integers where exact."""
    rng = np.random.default_rng(seed)
    image = spec.image_shape
    w1, b1, w_dense, b_dense = _names(spec)
    shapes = spec.parameter_shapes
    m = 5
    cases: list[Case] = []

    tied = _random_params(spec, rng)
    tied[w1] = np.zeros(shapes[w1])
    tied[b1] = np.full(shapes[b1], 0.5)  # Z1 = 0.5 everywhere: every window is fully tied
    cases.append(
        (
            "every pool window tied (W1 = 0)",
            rng.normal(size=(m, *image)),
            rng.integers(0, 2, m).astype(float),
            tied,
        )
    )

    flat = _random_params(spec, rng)
    flat[w1] = rng.integers(-2, 3, shapes[w1]).astype(float)
    flat[b1] = np.full(shapes[b1], 1.0)
    constant = rng.integers(1, 4, (m,) + (1,) * len(image))
    cases.append(
        (
            "every window tied (constant images)",
            np.ones((m, *image)) * constant,
            rng.integers(0, 2, m).astype(float),
            flat,
        )
    )

    zeros = _random_params(spec, rng)
    zeros[w1] = rng.integers(-1, 2, shapes[w1]).astype(float)
    zeros[b1] = np.zeros(shapes[b1])
    x_int = rng.integers(-1, 2, size=(m, *image)).astype(float)
    cases.append(
        ("Z1 exactly 0 in places (integers)", x_int, rng.integers(0, 2, m).astype(float), zeros)
    )

    saturated = _random_params(spec, rng)
    saturated[w1] = np.abs(saturated[w1])
    saturated[w_dense] = np.full(shapes[w_dense], 100.0)
    saturated[b_dense] = np.array(0.0)
    x_pos = np.abs(rng.normal(size=(m, *image))) + 0.5
    x_sat = x_pos * np.array([1, 1, 1, -1, -1]).reshape((m,) + (1,) * len(image))
    # Saturated, but not past exp's range: beyond |Z| of about 700 the loss and gradients
    # underflow to 0 in one engine and not in another, which says nothing about conventions.
    logits = np.abs(NumericNetwork(spec).forward(x_sat, saturated)[f"Z{len(spec.blocks) + 1}"])
    if logits.max() > 300:
        saturated[w_dense] *= 300 / logits.max()
    cases.append(("saturated sigmoid, Y = 1", x_sat, np.ones(m), saturated))
    cases.append(("saturated sigmoid, Y = 0", x_sat, np.zeros(m), saturated))

    cases.append(
        ("all labels Y = 0", rng.normal(size=(m, *image)), np.zeros(m), _random_params(spec, rng))
    )
    cases.append(
        ("all labels Y = 1", rng.normal(size=(m, *image)), np.ones(m), _random_params(spec, rng))
    )
    return cases


def kink_margin(spec: NetworkSpec, x: np.ndarray, params: Params) -> float:
    """How far the point is from a kink: the smallest |Z| of a ReLU-like activation, and the
    smallest gap between the first and second largest value of a max-pool window."""
    values = NumericNetwork(spec).forward(x, params)
    margin = np.inf
    m = len(x)
    for n, geometry in enumerate(spec.geometry, start=1):
        block = geometry.block
        if block.activation in ("relu", "leaky_relu"):
            margin = min(margin, float(np.abs(values[f"Z{n}"]).min()))
        if block.pool_type != "max" or block.pool_size == 1:  # one-cell windows have no ties
            continue
        p, s = block.pool_size, block.pool_step
        activations = values[f"A{n}"].reshape(m, *geometry.conv)
        windows = sliding_window_view(activations, (p, p), axis=(2, 3))[:, :, ::s, ::s]
        ranked = np.sort(windows.reshape(*windows.shape[:4], p * p), axis=-1)
        live = ranked[..., -1] > 0  # a ReLU window of zeros is judged by its |Z| instead
        if block.activation != "relu":
            live = np.ones_like(live)
        gap = (ranked[..., -1] - ranked[..., -2])[live]
        margin = min(margin, float(gap.min(initial=np.inf)))
    return float(margin)


def smooth_cases(spec: NetworkSpec, count: int = 2, seed: int = 100) -> list[Case]:
    """Random cases 1e-4 away from every kink, where finite differences (step 1e-5) are
    meaningful. Large networks may yield fewer than `count`: `verify` says so."""
    rng = np.random.default_rng(seed)
    found: list[Case] = []
    for attempt in range(200):
        if len(found) == count:
            break
        m = 1 + attempt % 2  # few images: a large batch nearly always has some Z1 near 0
        x = rng.normal(size=(m, *spec.image_shape))
        y = rng.integers(0, 2, size=m).astype(float)
        params = _random_params(spec, rng)
        if kink_margin(spec, x, params) > 1e-4:
            found.append((f"smooth batch M={m}", x, y, params))
    return found


def finite_difference_check(
    module: types.ModuleType, case: Case, max_elements: int = 32
) -> dict[str, tuple[float, float]]:
    """(max abs, max rel) error of the compiled gradients against central differences.

    Parameters with at most `max_elements` elements are checked element by element; larger
    ones along 8 random unit directions (g . v against the directional difference quotient).
    """
    _, x, y, params = case
    rng = np.random.default_rng(0)

    def loss(p: Params) -> float:
        return float(module.loss(x, y, p))

    analytic = module.gradients(x, y, params)
    small = {k: v for k, v in params.items() if np.size(v) <= max_elements}
    numeric = finite_difference_gradients(lambda p: loss({**params, **p}), small, eps=1e-5)
    errors = max_errors({k: analytic[k] for k in small}, numeric, floor=FD_FLOOR)
    for name in params:
        if name in small:
            continue
        directions = rng.normal(size=(8, np.size(params[name])))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        projected = finite_difference_projections(loss, params, name, directions, eps=1e-5)
        exact = directions @ analytic[name].reshape(-1)
        errors[name] = max_errors({name: exact}, {name: projected}, floor=FD_FLOOR)[name]
    return {name: errors[name] for name in params}


# ------------------------------------------------------------------------------- verify
Answer = tuple[float, Params, np.ndarray]  # loss, parameter gradients, input gradient
GradientFn = Callable[[np.ndarray, np.ndarray, Params], Answer]


def _compiled(module: types.ModuleType) -> GradientFn:
    def run(x: np.ndarray, y: np.ndarray, p: Params) -> tuple[float, Params, np.ndarray]:
        return module.loss(x, y, p), module.gradients(x, y, p), module.input_gradient(x, y, p)

    return run


def _engine(spec: NetworkSpec) -> GradientFn:
    net = NumericNetwork(spec)

    def run(x: np.ndarray, y: np.ndarray, p: Params) -> tuple[float, Params, np.ndarray]:
        return net.loss(x, y, p), net.gradients(x, y, p), net.input_gradient(x, y, p)

    return run


def _torch(spec: NetworkSpec) -> GradientFn:
    def run(x: np.ndarray, y: np.ndarray, p: Params) -> tuple[float, Params, np.ndarray]:
        return torch_gradients(spec, x, y, p)

    return run


def _compare_all(
    name: str,
    ours: GradientFn,
    theirs: GradientFn,
    cases: list[Case],
    tolerance: float,
    exact_zeros: bool,
) -> list[Row]:
    worst: dict[str, list[float]] = {}
    zeros_equal = True
    for _, x, y, params in cases:
        loss_a, grads_a, dx_a = ours(x, y, params)
        loss_b, grads_b, dx_b = theirs(x, y, params)
        a = {**grads_a, "X": dx_a, "loss": np.array(loss_a)}
        b = {**grads_b, "X": dx_b, "loss": np.array(loss_b)}
        for key, (abs_err, rel_err) in max_errors(a, b).items():
            current = worst.setdefault(key, [0.0, 0.0])
            current[0], current[1] = max(current[0], abs_err), max(current[1], rel_err)
        if exact_zeros:
            zeros_equal = zeros_equal and same_zero_pattern(a, b)
    return [
        Row(
            name,
            key,
            len(cases),
            errors[0],
            errors[1],
            tolerance,
            zeros_equal if exact_zeros else None,
        )
        for key, errors in worst.items()
    ]


def torch_answers(spec: NetworkSpec, random_count: int = 6) -> list[Answer]:
    """PyTorch's answers for every verification case, in order: random cases, then crafted."""
    cases = random_cases(spec, random_count) + crafted_cases(spec)
    return [torch_gradients(spec, x, y, params) for _, x, y, params in cases]


def _torch_worker(connection: Connection, spec: NetworkSpec, random_count: int) -> None:
    """Runs in the worker process: send PyTorch's answers, then leave at once.

    `os._exit` skips PyTorch's interpreter teardown (a few tenths of a second), which the
    parent would otherwise wait for before it can exit.
    """
    try:
        connection.send(torch_answers(spec, random_count))
    except BaseException as error:  # the parent reports it and runs PyTorch itself
        connection.send(error)
    finally:
        connection.close()
        os._exit(0)


class TorchReference:
    """PyTorch's answers, computed in a second process while SymPy works in this one.

    Importing torch alone takes about a second; on a two-core machine it overlaps the
    derivation instead of adding to it.
    """

    def __init__(self, spec: NetworkSpec, random_count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_torch_worker, args=(child, spec, random_count), daemon=True
        )
        self._process.start()
        child.close()

    def result(self, timeout: float) -> list[Answer]:
        try:
            if not self._connection.poll(timeout):
                raise TimeoutError(f"no answer from the PyTorch worker in {timeout:.0f} s")
            answer = self._connection.recv()
        finally:
            self._connection.close()
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
        if isinstance(answer, BaseException):
            raise answer
        return cast(list[Answer], answer)


def start_torch_reference(spec: NetworkSpec, random_count: int = 6) -> TorchReference | None:
    """Start PyTorch on the verification cases in parallel; None when torch is not installed."""
    if not torch_available():
        return None
    return TorchReference(spec, random_count)


def _precomputed(cases: list[Case], answers: list[Answer]) -> GradientFn:
    # Cases may share arrays (two labelings of one batch): key on all three objects.
    by_case = {
        (id(x), id(y), id(p)): answer for (_, x, y, p), answer in zip(cases, answers, strict=True)
    }

    def run(x: np.ndarray, y: np.ndarray, p: Params) -> Answer:
        return by_case[(id(x), id(y), id(p))]

    return run


def _collect(future: TorchReference, report: Report) -> list[Answer] | None:
    """The parallel answers, or None (PyTorch then runs here) if the worker failed."""
    try:
        return future.result(timeout=600)
    except Exception as error:  # a broken worker must not lose the comparison
        report.notes.append(f"PyTorch worker failed ({type(error).__name__}); ran it here.")
        return None


def verify(
    spec: NetworkSpec,
    module: types.ModuleType,
    use_torch: bool | None = None,
    random_count: int = 6,
    torch_future: TorchReference | None = None,
) -> Report:
    """Compare the compiled module with every reference on random and crafted cases.

    `torch_future` (from `start_torch_reference`) supplies PyTorch's answers computed in
    parallel; without it PyTorch runs here, when installed (or when `use_torch` says so).
    """
    report = Report(spec)
    compiled = _compiled(module)
    randoms = random_cases(spec, random_count)
    crafted = crafted_cases(spec)
    references: list[tuple[str, GradientFn]] = [("engine", _engine(spec))]
    if use_torch is None:
        use_torch = torch_future is not None or torch_available()
    answers = _collect(torch_future, report) if use_torch and torch_future else None
    if answers is not None:
        references.append(("PyTorch float64", _precomputed(randoms + crafted, answers)))
    elif use_torch:
        references.append(("PyTorch float64", _torch(spec)))
    else:
        report.notes.append("PyTorch not installed: pip install torch==2.13.0 to add it.")
    for name, reference in references:
        report.rows += _compare_all(
            f"{name} / random", compiled, reference, randoms, TOLERANCE, exact_zeros=False
        )
        report.rows += _compare_all(
            f"{name} / crafted", compiled, reference, crafted, TOLERANCE, exact_zeros=True
        )

    smooth = smooth_cases(spec)
    if not smooth:
        report.notes.append(
            "finite differences: no random point 1e-4 away from every ReLU and pool kink was "
            "found for a network this large, so this check did not run"
        )
    worst: dict[str, list[float]] = {}
    for case in smooth:
        for key, (abs_err, rel_err) in finite_difference_check(module, case).items():
            current = worst.setdefault(key, [0.0, 0.0])
            current[0], current[1] = max(current[0], abs_err), max(current[1], rel_err)
    report.rows += [
        Row("finite differences / smooth", key, len(smooth), e[0], e[1], FD_TOLERANCE, None)
        for key, e in worst.items()
    ]
    return report
