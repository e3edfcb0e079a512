"""The document's gradient-check table: the generated module's gradient beside central
differences and PyTorch, for a few elements of every parameter, at two points: the worked
example's (off every kink, chosen so) and the edge example's (on kinks on purpose).

For each parameter the element shown is its largest-magnitude gradient (the first, row-major,
on a tie). At a kink the loss has two one-sided slopes along that element and a central
difference is their average, not a derivative: such an element is marked `kink` (its forward
and backward one-sided differences differ by more than KINK of the parameter's gradient scale)
and is not compared with central differences; the module is then compared with PyTorch only,
which follows the same one-sided conventions.

Differences are scaled as `gradcheck.scaled_errors` scales them: |a - b| / max|b| over the
parameter's whole gradient, so a small element is judged against its parameter's size.

The module is passed in (anything with `loss(X, Y, params)` and `gradients(X, Y, params)`), so
this reference never imports the code it checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    central_error: float  # scaled |module - central|
    torch_error: float | None  # scaled |module - PyTorch|

    @property
    def agrees(self) -> bool:
        central_ok = self.kink or self.central_error <= CENTRAL_TOLERANCE
        torch_ok = self.torch_error is None or self.torch_error <= TORCH_TOLERANCE
        return central_ok and torch_ok


def _shifted(params: Params, name: str, index: tuple[int, ...], step: float) -> Params:
    moved = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    moved[name][index] += step
    return moved


def _scaled(a: float, b: float, scale: float) -> float:
    diff = abs(a - b)
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def gradient_table(
    spec: NetworkSpec,
    module: Any,
    torch_answers: Sequence[Mapping[str, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """{"rows": [CheckRow...], "torch": whether PyTorch's column is there, "passed"}.

    `torch_answers` are PyTorch's gradients at `table_points(spec)` (computed elsewhere, e.g. in
    the verification's worker); without them PyTorch runs here when it is installed."""
    points = table_points(spec)
    if torch_answers is None and torch_available():
        torch_answers = torch_point_answers(spec)
    rows: list[CheckRow] = []
    for number, (point, x, y, params) in enumerate(points):

        def loss(p: Mapping[str, np.ndarray], x: np.ndarray = x, y: np.ndarray = y) -> float:
            return float(module.loss(x, y, p))

        grads = {
            k: np.asarray(v, dtype=np.float64) for k, v in module.gradients(x, y, params).items()
        }
        for name in spec.parameter_shapes:
            g = grads[name]
            index = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(g))), g.shape))
            scale = float(np.max(np.abs(g), initial=0.0))
            at = loss(params)
            up = (loss(_shifted(params, name, index, STEP)) - at) / STEP
            down = (at - loss(_shifted(params, name, index, -STEP))) / STEP
            kink = _scaled(up, down, scale) > KINK
            central = (up + down) / 2  # the central difference, from the two one-sided ones
            reference = None if torch_answers is None else np.asarray(torch_answers[number][name])
            rows.append(
                CheckRow(
                    point,
                    name,
                    index,
                    float(g[index]),
                    central,
                    None if reference is None else float(reference[index]),
                    kink,
                    _scaled(float(g[index]), central, scale),
                    None
                    if reference is None
                    else _scaled(float(g[index]), float(reference[index]), scale),
                )
            )
    return {
        "rows": rows,
        "torch": torch_answers is not None,
        "passed": all(row.agrees for row in rows),
    }
