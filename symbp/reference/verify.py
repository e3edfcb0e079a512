"""Check the compiled symbolic gradients against three independent engines.

References: the hand-written numeric engine (`engine.py`), central finite differences
(`gradcheck.py`) and PyTorch autograd (`torch_oracle.py`, when torch is installed). Cases:
random batches, and crafted ones where conventions decide the answer — every pool window tied,
Z1 exactly 0, saturated sigmoids, all labels 0 or all 1.

How the module is judged against the engine and PyTorch, per case and per gradient q (each
parameter, X, and the loss):

* Values, by a scaled error: |a_i - b_i| <= rtol * max|b| + atol_q for every entry i, that is
  `max|a - b| / (max|b| + floor_q) <= rtol` with rtol = TOLERANCE = 1e-9 and
  floor_q = atol_q / rtol. The floor is FLOOR_FRACTION (2.3e-4, i.e. atol = 1024 ulps) of the
  gradient's rounding scale: q computed once more with every number replaced by its absolute
  value, dL/dZ_out by its bound 1/M and each sigmoid/tanh derivative by 1, so no term can cancel
  or saturate. That is the size the rounding error of any float64 backprop is proportional to:
  A - Y and 1 - A^2 are computed from a rounded A, with an absolute error of about one ulp, so a
  gradient that saturation makes 1e-8 of its usual size is accurate only to about one ulp of the
  usual size, in every engine. The floor matters only then (and for entries cancelling to about
  0); elsewhere max|b| dominates and the test is a plain normwise relative error.
* The loss, against its exact value where a reference is not exact enough: in softplus form the
  loss has no cancellation, so it is accurate to about rtol relative even when it is 5e-131
  (floor: 1024 ulps of the logits' size, relative to the loss). The exact value is the mean of
  softplus(z) - y z evaluated by mpmath in 256 bits from the engine's float64 logits z. When a
  reference is further than the tolerance from it, the module is judged against the exact value
  instead and a note names the reference as the less accurate side.
* Zeros, exactly, but only where a convention decides them: a structural backward pass through
  the engine's layers (`convention_zeros`) with the forward pass's choices — ReLU passes where
  Z > 0 (ReLU'(0) = 0), leaky ReLU everywhere (slope 0: as ReLU), max-pool to the FIRST maximum of
  its window in row-major order, avg-pool, sigmoid, tanh and identity everywhere — and every
  parameter and input entry as 1 where it is nonzero, else 0. Nonnegative arithmetic cannot
  cancel, so an entry it leaves at 0 has no live path from the loss: the conventions make it
  exactly 0 and the module and the reference must both give exactly 0 there. Every other entry is
  judged by the scaled error only (an exact 0 there can be cancellation, not a convention). A
  convention broken either way is caught: an entry it makes nonzero against the rule is a zero
  difference, and one it leaves 0 where the rule routes a value is a value error.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from symbp.spec.model import NetworkSpec
from symbp.support import progress

from .engine import (
    Conv2D,
    Dense,
    LeakyReLU,
    MaxPool2D,
    NumericNetwork,
    ReLU,
    Sigmoid,
    Tanh,
)
from .gradcheck import (
    finite_difference_gradients,
    finite_difference_projections,
    max_errors,
    nonzero_where,
    scaled_errors,
)
from .gradient_table import torch_point_answers
from .torch_oracle import torch_available, torch_gradients

Params = dict[str, np.ndarray]
Case = tuple[str, np.ndarray, np.ndarray, Params]

TOLERANCE = 1e-9  # rtol of the scaled error, against the engine and PyTorch (float64)
ROUNDING_ULPS = 1024  # atol: this many ulps of a gradient's rounding scale
FLOOR_FRACTION = ROUNDING_ULPS * float(np.finfo(np.float64).eps) / TOLERANCE  # 2.3e-4
FD_TOLERANCE = 1e-6  # relative, against central differences (step 1e-5)
FD_FLOOR = 1e-2  # entries below 1% of their parameter's largest are judged against that 1%


@dataclass(frozen=True)
class Row:
    """One line of the report: the module against one reference on one kind of case."""

    reference: str  # "engine / random", "PyTorch float64 / crafted", ...
    quantity: str  # W1, B1, W2, B2, X (input gradient) or loss
    cases: int
    max_abs: float  # the largest |module - reference| over the cases
    error: float  # the largest scaled error over the cases (finite differences: relative)
    tolerance: float
    exact_zeros: int | None = None  # entries the conventions make exactly 0 (None: no check)
    module_nonzero: int = 0  # of those, how many the module gives as nonzero
    reference_nonzero: int = 0  # ... and how many the reference does

    @property
    def zero_patterns_equal(self) -> bool | None:
        """None when no zeros were checked, else whether every convention zero was exact."""
        if self.exact_zeros is None:
            return None
        return self.module_nonzero == 0 and self.reference_nonzero == 0

    @property
    def max_rel(self) -> float:
        """The row's error (the name it had before errors were scaled per gradient)."""
        return self.error

    @property
    def zeros(self) -> str:
        """The zero column: '-' (not checked), 'none', '24 same' or '3/24 DIFF'."""
        if self.exact_zeros is None:
            return "-"
        if self.zero_patterns_equal:
            return f"{self.exact_zeros} same" if self.exact_zeros else "none"
        wrong = max(self.module_nonzero, self.reference_nonzero)
        return f"{wrong}/{self.exact_zeros} DIFF"

    @property
    def passed(self) -> bool:
        return self.zero_patterns_equal is not False and bool(self.error <= self.tolerance)


LEGEND = (
    "scaled err: max|module - reference| / (max|reference| + floor), per gradient and case;"
    f" floor:\n  {FLOOR_FRACTION:.1e} x the gradient's rounding scale (finite differences:"
    " relative error, floor 1%)\n"
    "exact zeros: entries with no live path from the loss (zero weights or inputs, ReLU'(0) = 0,\n"
    "  first maximum of a pool window): module and reference must both give exactly 0 there"
)


@dataclass
class Report:
    spec: NetworkSpec
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # PyTorch's gradients at the document's gradient-check points (gradient_table.table_points),
    # when its worker computed them; None otherwise.
    torch_points: list[dict[str, np.ndarray]] | None = None

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    def table(self) -> str:
        header = f"{'reference':<28}{'grad':<6}{'cases':>5}{'max abs err':>13}{'scaled err':>12}"
        header += f"{'tolerance':>11}  {'exact zeros':<16}result"
        lines = [header, "-" * len(header)]
        for row in self.rows:
            lines.append(
                f"{row.reference:<28}{row.quantity:<6}{row.cases:>5}{row.max_abs:>13.2e}"
                f"{row.error:>12.2e}{row.tolerance:>11.0e}  {row.zeros:<16}"
                f"{'ok' if row.passed else 'MISMATCH'}"
            )
        return "\n".join([*lines, LEGEND, *self.notes])


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
    w1, b1, _, _ = _names(spec)
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

    cases += _saturated_cases(spec, rng, m)

    cases.append(
        ("all labels Y = 0", rng.normal(size=(m, *image)), np.zeros(m), _random_params(spec, rng))
    )
    cases.append(
        ("all labels Y = 1", rng.normal(size=(m, *image)), np.ones(m), _random_params(spec, rng))
    )
    return cases


def _saturated_cases(spec: NetworkSpec, rng: np.random.Generator, m: int) -> list[Case]:
    """Logits of about ±300: sigmoid saturated both ways, with Y = 1 and with Y = 0."""
    image = spec.image_shape
    w1, _, w_dense, b_dense = _names(spec)
    saturated = _random_params(spec, rng)
    saturated[w1] = np.abs(saturated[w1])
    saturated[w_dense] = np.full(spec.parameter_shapes[w_dense], 100.0)
    saturated[b_dense] = np.array(0.0)
    x_pos = np.abs(rng.normal(size=(m, *image))) + 0.5
    x_sat = x_pos * np.array([1, 1, 1, -1, -1]).reshape((m,) + (1,) * len(image))
    # Saturated, but not past exp's range: beyond |Z| of about 700 the loss and gradients
    # underflow to 0 in one engine and not in another, which says nothing about conventions.
    logits = np.abs(NumericNetwork(spec).forward(x_sat, saturated)[f"Z{len(spec.blocks) + 1}"])
    if logits.max() > 300:
        saturated[w_dense] *= 300 / logits.max()
    return [
        ("saturated sigmoid, Y = 1", x_sat, np.ones(m), saturated),
        ("saturated sigmoid, Y = 0", x_sat, np.zeros(m), saturated),
    ]


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


# ------------------------------------------------------------- what a case's answer must be
class _Gate:
    """ReLU (slope 0) or leaky ReLU on the forward pass's own mask: passes where Z > 0, else
    multiplies by the slope, forward and backward."""

    def __init__(self, mask: np.ndarray, slope: float) -> None:
        self.mask, self.slope = mask, slope

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.where(self.mask, x, self.slope * x)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.where(self.mask, grad, self.slope * grad)


class _Bounded:
    """Sigmoid (output bound 1, never 0) or tanh (|tanh z| <= min(|z|, 1)); the derivative
    counts as 1: never exactly 0, and its rounding error is absolute, about one ulp."""

    def __init__(self, never_zero: bool) -> None:
        self.never_zero = never_zero

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.ones_like(x) if self.never_zero else np.minimum(x, 1.0)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad


class _FirstMax:
    """Max-pool on the forward pass's own choices: the first maximum of each window, row-major."""

    def __init__(self, pool: MaxPool2D) -> None:
        self.pool = pool

    def forward(self, x: np.ndarray) -> np.ndarray:
        p, s = self.pool.size, self.pool.stride
        windows = sliding_window_view(x, (p, p), axis=(2, 3))[:, :, ::s, ::s]
        flat = windows.reshape(*windows.shape[:4], p * p)
        chosen: np.ndarray = np.take_along_axis(flat, self.pool.argmax[..., None], axis=-1)
        return chosen[..., 0]

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return self.pool.backward(grad)  # routes to the chosen cells, adding where windows overlap


def _nonnegative_layer(real: object, built: object) -> object:
    """The layer of the nonnegative pass: `built` (conv, dense, avg-pool, flatten, identity on
    the pass's own numbers) unless the real layer made a choice the pass must follow."""
    if isinstance(real, ReLU):
        return _Gate(real.mask, 0.0)
    if isinstance(real, LeakyReLU):
        return _Gate(real.mask, real.slope)
    if isinstance(real, (Sigmoid, Tanh)):
        return _Bounded(never_zero=isinstance(real, Sigmoid))
    if isinstance(real, MaxPool2D):
        return _FirstMax(real)
    return built


@dataclass(frozen=True)
class CaseFacts:
    """What the forward pass and the conventions decide about one case, before any engine is
    asked for its gradients."""

    exact_zeros: dict[str, np.ndarray]  # per parameter and "X": True where exactly 0 by rule
    floors: dict[str, float]  # per parameter, "X" and "loss": the magnitude floor
    exact_loss: float  # the loss of the engine's float64 logits, evaluated in 256 bits


def exact_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean of softplus(z) - y z, in 256-bit arithmetic (mpmath), rounded once to float64.

    max(z, 0) - y z is exact at that precision, so log(1 + exp(-|z|)) is not lost next to it:
    a saturated loss of 5e-131 comes out as 5e-131, not 0."""
    import mpmath  # a SymPy dependency; imported here, only when verifying

    with mpmath.workprec(256):
        total = mpmath.mpf(0)
        for z_value, y_value in zip(logits.tolist(), labels.tolist(), strict=True):
            z, y = mpmath.mpf(z_value), mpmath.mpf(y_value)
            total += (max(z, 0) - y * z) + mpmath.log1p(mpmath.exp(-abs(z)))
        return float(total / len(logits))


def case_facts(spec: NetworkSpec, x: np.ndarray, y: np.ndarray, params: Params) -> CaseFacts:
    """The convention zeros, the magnitude floors and the exact loss of one case.

    Both the zeros and the floors come from one nonnegative backward pass through the engine's
    layers, on the forward pass's ReLU masks and max-pool choices: with every input and parameter
    entry replaced by 1 where it is nonzero (reachability: 0 means no live path), and by its
    absolute value (the rounding scale). See the module docstring."""
    net = NumericNetwork(spec)
    images = np.asarray(x, dtype=np.float64).reshape(len(x), spec.channels, *spec.input_shape)
    real_params = {k: np.asarray(params[k], dtype=np.float64) for k in spec.parameter_shapes}
    real_layers, values = net._forward(images, real_params)
    labels = np.asarray(y, dtype=np.float64).reshape(-1)
    m = len(images)

    def run(data: np.ndarray, data_params: Params) -> tuple[dict[str, np.ndarray], np.ndarray]:
        layers = [
            _nonnegative_layer(real, built)
            for real, built in zip(real_layers, net._layers(data_params), strict=True)
        ]
        value = data
        for layer in layers:
            value = layer.forward(value)  # type: ignore[attr-defined]
        logits = value
        grad = np.full(m, 1.0 / m)  # |A - Y| / M <= 1 / M, and never exactly 0 by rule
        for layer in reversed(layers):
            grad = layer.backward(grad)  # type: ignore[attr-defined]
        weighted = [layer for layer in layers if isinstance(layer, (Conv2D, Dense))]
        grads: dict[str, np.ndarray] = {}
        for n, layer in enumerate(weighted, start=1):
            grads[f"W{n}"] = layer.grad_weight.reshape(spec.parameter_shapes[f"W{n}"])
            grads[f"B{n}"] = layer.grad_bias.reshape(spec.parameter_shapes[f"B{n}"])
        grads["X"] = grad.reshape(m, *spec.image_shape)
        return grads, logits

    reach, _ = run(
        (images != 0).astype(float), {k: (v != 0).astype(float) for k, v in real_params.items()}
    )
    scale, logit_scale = run(np.abs(images), {k: np.abs(v) for k, v in real_params.items()})
    exact = exact_loss(values[net.intermediate_names()[-1]], labels)
    floors = {k: FLOOR_FRACTION * float(np.max(v, initial=0.0)) for k, v in scale.items()}
    # The loss is relatively accurate up to its logits' rounding, |dz| ~ ulps of their size.
    floors["loss"] = FLOOR_FRACTION * float(np.max(logit_scale, initial=0.0)) * abs(exact)
    return CaseFacts({k: v == 0 for k, v in reach.items()}, floors, exact)


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


def _worst(current: float, new: float) -> float:
    """max, except that NaN sticks (a plain max can drop it for a later number)."""
    if math.isnan(current) or math.isnan(new):
        return math.nan
    return max(current, new)


@dataclass
class _Tally:
    """The worst errors and the zero counts of one row, over its cases."""

    max_abs: float = 0.0
    error: float = 0.0
    exact_zeros: int | None = None
    module_nonzero: int = 0
    reference_nonzero: int = 0
    first_case: dict[str, str] = field(default_factory=dict)  # "module"/"reference" -> case

    def add(self, abs_err: float, error: float) -> None:
        self.max_abs, self.error = _worst(self.max_abs, abs_err), _worst(self.error, error)

    def zeros(
        self, case: str, where: np.ndarray, module: np.ndarray, reference: np.ndarray
    ) -> None:
        self.exact_zeros = (self.exact_zeros or 0) + int(np.count_nonzero(where))
        for side, value in (("module", module), ("reference", reference)):
            wrong = nonzero_where(value, where)
            if wrong:
                self.first_case.setdefault(side, case)
                if side == "module":
                    self.module_nonzero += wrong
                else:
                    self.reference_nonzero += wrong


def _loss_judgement(
    reference: str, case: str, module_loss: float, reference_loss: float, facts: CaseFacts
) -> tuple[float, float, str | None]:
    """(abs error, scaled error, note) of the module's loss: against the reference's, unless
    the reference is further than the tolerance from the exact value; then against that."""
    exact, floor = facts.exact_loss, facts.floors["loss"]

    def scaled(value: float, target: float) -> tuple[float, float]:
        diff = abs(value - target)
        size = abs(target) + floor
        return diff, (diff / size if size > 0 else (0.0 if diff == 0 else math.inf))

    reference_ok = scaled(reference_loss, exact)[1] <= TOLERANCE
    module_ok = scaled(module_loss, exact)[1] <= TOLERANCE
    abs_err, error = scaled(module_loss, reference_loss if reference_ok else exact)
    ours, theirs, truth = _short(module_loss), _short(reference_loss), _short(exact)
    note = None
    if not reference_ok and module_ok:
        note = f"{reference} loss is the less accurate side on {case!r}: {theirs} vs exact "
        note += f"{truth}; module {ours}"
    elif not module_ok and reference_ok:
        note = f"the module's loss is the less accurate side on {case!r}: {ours} vs exact "
        note += f"{truth}; {reference} {theirs}"
    elif not module_ok:
        note = f"the module's and {reference}'s losses both differ from the exact value on "
        note += f"{case!r}: module {ours}, {reference} {theirs}, exact {truth}"
    return abs_err, error, note


def _short(value: float) -> str:
    """2 significant digits, with 0 printed as 0.0 so it reads as a float."""
    return "0.0" if value == 0 else f"{value:.2g}"


def _compare_all(
    name: str,
    ours: GradientFn,
    theirs: GradientFn,
    cases: list[Case],
    facts: list[CaseFacts],
    tolerance: float,
) -> tuple[list[Row], list[str]]:
    """Rows for the module against one reference on one kind of case, and notes saying which
    side was wrong where that is known (a loss off its exact value, a convention zero)."""
    reference = name.split(" / ")[0]
    tallies: dict[str, _Tally] = {}
    notes: list[str] = []
    for (case, x, y, params), fact in zip(cases, facts, strict=True):
        loss_a, grads_a, dx_a = ours(x, y, params)
        loss_b, grads_b, dx_b = theirs(x, y, params)
        a, b = {**grads_a, "X": dx_a}, {**grads_b, "X": dx_b}
        for key, (abs_err, error) in scaled_errors(a, b, fact.floors).items():
            tally = tallies.setdefault(key, _Tally())
            tally.add(abs_err, error)
            tally.zeros(case, fact.exact_zeros[key], np.asarray(a[key]), np.asarray(b[key]))
        abs_err, error, note = _loss_judgement(reference, case, loss_a, loss_b, fact)
        tallies.setdefault("loss", _Tally()).add(abs_err, error)
        if note is not None:
            notes.append(note)
    rows = []
    for key, tally in tallies.items():
        row = Row(
            name,
            key,
            len(cases),
            tally.max_abs,
            tally.error,
            tolerance,
            tally.exact_zeros,
            tally.module_nonzero,
            tally.reference_nonzero,
        )
        rows.append(row)
        for side, count in (("module", row.module_nonzero), (reference, row.reference_nonzero)):
            if count:
                first = tally.first_case["module" if side == "module" else "reference"]
                notes.append(
                    f"{name} {key}: the {side} is nonzero on {count} of the {row.exact_zeros} "
                    f"entries the conventions make exactly 0 (first in {first!r})"
                )
    return rows, notes


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
        connection.send((torch_answers(spec, random_count), torch_point_answers(spec)))
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

    def result(self, timeout: float) -> tuple[list[Answer], list[dict[str, np.ndarray]]]:
        """PyTorch's answers for the verification cases, and its gradients at the table's
        points (`gradient_table.table_points`)."""
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
        return cast(tuple[list[Answer], list[dict[str, np.ndarray]]], answer)


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
    """The parallel answers, or None (PyTorch then runs here) if the worker failed; the table
    points' answers go to `report.torch_points`."""
    try:
        answers, report.torch_points = future.result(timeout=600)
        return answers
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
    facts = {
        "random": [case_facts(spec, x, y, p) for _, x, y, p in randoms],
        "crafted": [case_facts(spec, x, y, p) for _, x, y, p in crafted],
    }
    total = len(references) * 2 + 1
    for done, (name, reference) in enumerate(references):
        for offset, (kind, cases) in enumerate((("random", randoms), ("crafted", crafted))):
            step = 2 * done + offset
            progress.step("verification", step, total, f"{name}, {len(cases)} {kind} cases")
            rows, notes = _compare_all(
                f"{name} / {kind}", compiled, reference, cases, facts[kind], TOLERANCE
            )
            report.rows += rows
            report.notes += notes

    progress.step("verification", total - 1, total, "finite differences")
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
        Row("finite differences / smooth", key, len(smooth), e[0], e[1], FD_TOLERANCE)
        for key, e in worst.items()
    ]
    return report
