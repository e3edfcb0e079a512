"""The document's gradient-check table: the generated module's gradient beside central
differences and PyTorch, for a few elements of every parameter, at two points: the worked
example's (off every kink, chosen so) and the edge example's (on kinks on purpose).

For each parameter the element shown is its largest-magnitude gradient (the first, row-major,
on a tie). At a kink the loss has two one-sided slopes along that element and a central
difference is their average, not a derivative: such an element is marked `kink` (its forward
and backward one-sided differences differ by more than KINK of the parameter's gradient scale)
and is not compared with central differences. A convention (ReLU'(0) = 0, the first maximum)
picks one of the two one-sided slopes where one kink lies on that element's line, so the module
is compared with the nearer one-sided difference (`side`: "left" for the backward difference,
"right" for the forward). Where two kinks meet on the line (a zero and a tie, say), the
conventions' value can be neither slope; then only PyTorch, which follows the same conventions,
can check it, and without PyTorch the row says "unchecked" rather than guessing.

Differences are scaled as `gradcheck.scaled_errors` scales them: |a - b| / max|b| over the
parameter's whole gradient, so a small element is judged against its parameter's size.

The module is passed in (anything with `loss(X, Y, params)` and `gradients(X, Y, params)`), so
this reference never imports the code it checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symbp.spec.model import NetworkSpec

from .edge import edge_example
from .example import example_input, example_parameters
from .torch_oracle import torch_available, torch_gradients

STEP = 1e-6  # central and one-sided difference step
KINK = 1e-4  # one-sided slopes this far apart (scaled) mark a kink
CENTRAL_TOLERANCE = 1e-6  # scaled, module against central differences
ONE_SIDED_TOLERANCE = 1e-4  # scaled, module against a one-sided difference (error O(STEP))
TORCH_TOLERANCE = 1e-9  # scaled, module against PyTorch float64

Params = dict[str, np.ndarray]
Point = tuple[str, np.ndarray, np.ndarray, Params]  # name, X (1, ...), Y (1,), parameters


def table_points(spec: NetworkSpec) -> list[Point]:
    """The worked example's point and the edge example's, one image labelled 1 each."""
    edge = edge_example(spec)
    worked_x = np.asarray(example_input(spec), dtype=np.float64)
    return [
        ("worked", worked_x[None], np.array([1.0]), example_parameters(spec)),
        ("edge", np.asarray(edge["X"])[None], np.array([1.0]), dict(edge["params"])),
    ]


def torch_point_answers(spec: NetworkSpec) -> list[dict[str, np.ndarray]]:
    """PyTorch's parameter gradients at every table point, in order (needs torch)."""
    return [torch_gradients(spec, x, y, p)[1] for _, x, y, p in table_points(spec)]


@dataclass(frozen=True)
class CheckRow:
    point: str  # "worked" or "edge"
    name: str  # the parameter
    index: tuple[int, ...]
    module: float
    central: float
    torch: float | None
    kink: bool  # one-sided slopes differ: central differences do not apply
    side: str | None  # at a kink, the one-sided slope the module equals ("left", "right")
    one_sided_error: float  # scaled |module - the nearer one-sided difference|
    central_error: float  # scaled |module - central|
    torch_error: float | None  # scaled |module - PyTorch|
    all_zero: bool = False  # the parameter's whole gradient is 0 here: the check says little

    @property
    def status(self) -> str:
        """ "agree", "differ", or "unchecked" (a kink off both one-sided slopes, no PyTorch)."""
        torch_ok = self.torch_error is None or self.torch_error <= TORCH_TOLERANCE
        if not self.kink:
            return "agree" if torch_ok and self.central_error <= CENTRAL_TOLERANCE else "differ"
        if not torch_ok:
            return "differ"
        if self.side is not None or self.torch_error is not None:
            return "agree"
        return "unchecked"


def _shifted(params: Params, name: str, index: tuple[int, ...], step: float) -> Params:
    moved = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    moved[name][index] += step
    return moved


def _scaled(a: float, b: float, scale: float) -> float:
    diff = abs(a - b)
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def _row(
    point: str,
    name: str,
    gradient: np.ndarray,
    loss: Callable[[Params], float],
    params: Params,
    at: float,
    reference: np.ndarray | None,
) -> CheckRow:
    """The row of parameter `name` at one point: its largest-magnitude element, the module's
    value beside the one-sided and central differences there, and PyTorch's."""
    index = tuple(
        int(i) for i in np.unravel_index(int(np.argmax(np.abs(gradient))), gradient.shape)
    )
    scale = float(np.max(np.abs(gradient), initial=0.0))
    value = float(gradient[index])  # `at` is the loss at `params`
    right = (loss(_shifted(params, name, index, STEP)) - at) / STEP
    left = (at - loss(_shifted(params, name, index, -STEP))) / STEP
    central = (right + left) / 2  # the central difference, from the two one-sided ones
    nearer = "left" if abs(value - left) <= abs(value - right) else "right"
    one_sided_error = _scaled(value, left if nearer == "left" else right, scale)
    torch = None if reference is None else float(reference[index])
    return CheckRow(
        point=point,
        name=name,
        index=index,
        module=value,
        central=central,
        torch=torch,
        kink=_scaled(right, left, scale) > KINK,
        side=nearer if one_sided_error <= ONE_SIDED_TOLERANCE else None,
        one_sided_error=one_sided_error,
        central_error=_scaled(value, central, scale),
        torch_error=None if torch is None else _scaled(value, torch, scale),
        all_zero=scale == 0,
    )


def gradient_table(
    spec: NetworkSpec,
    module: Any,
    torch_answers: Sequence[Mapping[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """{"rows": [CheckRow...], "torch": whether PyTorch's column is there, "passed": no row
    differs}.

    `torch_answers` are PyTorch's gradients at `table_points(spec)` (computed elsewhere, e.g. in
    the verification's worker); without them PyTorch runs here when it is installed."""
    points = table_points(spec)
    if torch_answers is None and torch_available():
        torch_answers = torch_point_answers(spec)
    rows: list[CheckRow] = []
    for number, (point, x, y, params) in enumerate(points):

        def loss(p: Params, x: np.ndarray = x, y: np.ndarray = y) -> float:
            return float(module.loss(x, y, p))

        grads, at = module.gradients(x, y, params), loss(params)
        for name in spec.parameter_shapes:
            gradient = np.asarray(grads[name], dtype=np.float64)
            reference = None if torch_answers is None else np.asarray(torch_answers[number][name])
            rows.append(_row(point, name, gradient, loss, params, at, reference))
    return {
        "rows": rows,
        "torch": torch_answers is not None,
        "passed": all(row.status != "differ" for row in rows),
    }
