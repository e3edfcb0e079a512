"""The table of layer rules: how each layer's output elements are written as SymPy expressions.

This is the only place where the network's mathematics is typed in. Backward rules are not
written anywhere: the derivation differentiates these element expressions with `sympy.diff`.
The conventions live in the forward definitions, where they belong:

- ReLU is `z * [z > 0]`; differentiating gives `[z > 0]`, so ReLU'(0) = 0. Leaky ReLU is
  `z * [z > 0] + slope * z * [z <= 0]`, whose derivative at 0 is the slope (as in PyTorch).
- Max-pool selects the *first* maximum of its window in row-major order: element k is chosen
  when it is strictly greater than every earlier element and at least every later one.
  Differentiating the selection gives exactly that indicator, so ties route to the first.
- Convolution is cross-correlation (no kernel flip) over zero-padded input with a stride; the
  padding zeros are simply absent from the sums.

`[c]` is an Iverson bracket, `Piecewise((1, c), (0, True))` in SymPy. Tensors are
(channels, rows, cols); a quantity with one channel drops that axis (see `spec.squeeze`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import product
from types import MappingProxyType

import numpy as np
import sympy as sp

from symbp.spec.kinds import KINDS, POOL_KINDS
from symbp.spec.model import BlockGeometry, NetworkSpec, squeeze

from .construct import times, total
from .symbols import object_array


@dataclass(frozen=True)
class Stage:
    """One layer in the pipeline: rule kind, the quantity it reads and the one it writes.

    `geometry` is the conv block the layer belongs to (None for flatten and the head); `shape`
    is the shape of the quantity it writes.
    """

    kind: str
    input: str
    output: str
    params: tuple[str, ...] = ()
    geometry: BlockGeometry | None = None
    shape: tuple[int, ...] = ()

    @property
    def block(self) -> int | None:
        """1-based number of the conv block (from the output's name), None outside blocks."""
        return int(self.output[1:]) if self.geometry is not None else None


Builder = Callable[[np.ndarray, Mapping[str, np.ndarray], Stage], np.ndarray]


def indicator(condition: sp.Basic) -> sp.Expr:
    """The Iverson bracket [condition]: 1 where it holds, 0 elsewhere.

    A decided condition gives 1 or 0; an undecided one (a relation between symbols) is kept as
    it is, without Piecewise's evaluation, which would only return it unchanged, slowly.
    """
    if condition in (sp.true, sp.false):
        return sp.S.One if condition == sp.true else sp.S.Zero
    return sp.Piecewise((sp.S.One, condition), (sp.S.Zero, sp.true), evaluate=False)


def is_indicator(expr: sp.Basic) -> bool:
    return (
        isinstance(expr, sp.Piecewise)
        and len(expr.args) == 2
        and expr.args[0].expr == 1
        and expr.args[1].expr == 0
        and expr.args[1].cond == sp.true
    )


def first_max_conditions(window: list[sp.Expr]) -> list[sp.Basic]:
    """Condition under which each window element is the first maximum (row-major order)."""
    conditions = []
    for k, candidate in enumerate(window):
        # Unevaluated: relations between distinct real symbols are undecidable anyway, and
        # asking SymPy's assumptions system for each one dominates large derivations.
        before = [sp.StrictGreaterThan(candidate, other, evaluate=False) for other in window[:k]]
        after = [sp.GreaterThan(candidate, other, evaluate=False) for other in window[k + 1 :]]
        conditions.append(sp.And(*before, *after))
    return conditions


def pool_windows(
    where: NetworkSpec | BlockGeometry,
) -> dict[tuple[int, ...], list[tuple[int, ...]]]:
    """Pool output index -> the indices of its window in the pool's input, row-major.

    Indices are those of the quantities: (row, col) for one channel, (channel, row, col) else.
    A spec means its first block.
    """
    geometry = where.geometry[0] if isinstance(where, NetworkSpec) else where
    block, (k, ph, pw) = geometry.block, geometry.output
    size, step = block.pool_size, block.pool_step
    keep = (lambda index: index[1:]) if k == 1 else (lambda index: index)
    return {
        keep((c, a, b)): [
            keep((c, a * step + r, b * step + s)) for r in range(size) for s in range(size)
        ]
        for c, a, b in product(range(k), range(ph), range(pw))
    }


def exact_number(value: float) -> sp.Rational:
    """0.01 -> 1/100: the decimal the user wrote, as an exact rational."""
    return sp.Rational(repr(float(value)))


# ----------------------------------------------------------------------------- forward builders
def _geometry(stage: Stage) -> BlockGeometry:
    assert stage.geometry is not None, f"{stage.kind} needs a conv block"
    return stage.geometry


def _conv(x: np.ndarray, params: Mapping[str, np.ndarray], stage: Stage) -> np.ndarray:
    """Z[k, i, j] = sum over c, p, q of Xpad[c, i*S + p, j*S + q] * W[k, c, p, q] + B[k]."""
    geometry = _geometry(stage)
    block = geometry.block
    images = x.reshape(geometry.input)
    k_out, c_in = geometry.conv[0], geometry.input[0]
    (kh, kw), step, pad = block.filter_shape, block.stride, block.padding
    weights = params[stage.params[0]].reshape(k_out, c_in, kh, kw)
    biases = params[stage.params[1]].reshape(k_out)
    _, h, w = geometry.input
    out = object_array(geometry.conv)
    for k, i, j in np.ndindex(*geometry.conv):
        terms = [
            times(images[c, i * step + p - pad, j * step + q - pad], weights[k, c, p, q])
            for c in range(c_in)
            for p in range(kh)
            for q in range(kw)
            if 0 <= i * step + p - pad < h and 0 <= j * step + q - pad < w
        ]
        out[k, i, j] = total([*terms, biases[k]])
    return out.reshape(stage.shape)


def _elementwise(function: Callable[[sp.Expr, Stage], sp.Expr]) -> Builder:
    def build(z: np.ndarray, params: Mapping[str, np.ndarray], stage: Stage) -> np.ndarray:
        out = object_array(z.shape)
        for index in np.ndindex(*z.shape):
            out[index] = function(z[index], stage)
        return out

    return build


def _slope(stage: Stage) -> sp.Rational:
    return exact_number(_geometry(stage).block.leaky_slope)


ACTIVATIONS: Mapping[str, Callable[[sp.Expr, Stage], sp.Expr]] = MappingProxyType(
    {
        "relu": lambda z, stage: z * indicator(z > 0),
        "leaky_relu": lambda z, stage: z * indicator(z > 0) + _slope(stage) * z * indicator(z <= 0),
        "sigmoid": lambda z, stage: 1 / (1 + sp.exp(-z)),
        "tanh": lambda z, stage: sp.tanh(z),
        "identity": lambda z, stage: z,
    }
)


def _pool(combine: Callable[[list[sp.Expr]], sp.Expr]) -> Builder:
    def build(a: np.ndarray, params: Mapping[str, np.ndarray], stage: Stage) -> np.ndarray:
        out = object_array(stage.shape)
        for index, window in pool_windows(_geometry(stage)).items():
            out[index] = combine([a[cell] for cell in window])
        return out

    return build


def _first_max(values: list[sp.Expr]) -> sp.Expr:
    chosen = first_max_conditions(values)
    return sp.Add(*(v * indicator(c) for v, c in zip(values, chosen, strict=True)))


def _mean(values: list[sp.Expr]) -> sp.Expr:
    return sp.Add(*values) / len(values)


def _flatten(p: np.ndarray, params: Mapping[str, np.ndarray], stage: Stage) -> np.ndarray:
    return p.reshape(-1).copy()  # row-major over (channels, rows, cols), as torch.flatten


def _dense(f: np.ndarray, params: Mapping[str, np.ndarray], stage: Stage) -> np.ndarray:
    w, b = params[stage.params[0]], params[stage.params[1]][()]
    out = object_array(())
    out[()] = total([*(times(f[k], w[k, 0]) for k in range(f.shape[0])), b])
    return out


def _bce(a: np.ndarray, params: Mapping[str, np.ndarray], stage: Stage) -> np.ndarray:
    y = params["Y"][()]
    out = object_array(())
    out[()] = -(y * sp.log(a[()]) + (1 - y) * sp.log(1 - a[()]))
    return out


@dataclass(frozen=True)
class LayerRule:
    """One layer kind's forward element expressions (its words are in `symbp.spec.kinds`).

    `in_output` marks elementwise layers whose derivative reads best in the layer's own output
    (sigma' = a (1 - a), tanh' = 1 - a^2): the derivation rewrites it so, which is also what
    keeps it finite where exp(-z) would overflow.
    """

    kind: str
    build: Builder
    in_output: bool = False

    @property
    def title(self) -> str:
        return KINDS[self.kind].title


def _rules(*rules: LayerRule) -> Mapping[str, LayerRule]:
    return MappingProxyType({rule.kind: rule for rule in rules})


LAYER_RULES: Mapping[str, LayerRule] = _rules(
    LayerRule("conv", _conv),
    LayerRule("relu", _elementwise(ACTIVATIONS["relu"])),
    LayerRule("leaky_relu", _elementwise(ACTIVATIONS["leaky_relu"])),
    LayerRule("sigmoid", _elementwise(ACTIVATIONS["sigmoid"]), in_output=True),
    LayerRule("tanh", _elementwise(ACTIVATIONS["tanh"]), in_output=True),
    LayerRule("identity", _elementwise(ACTIVATIONS["identity"])),
    LayerRule("maxpool", _pool(_first_max)),
    LayerRule("avgpool", _pool(_mean)),
    LayerRule("flatten", _flatten),
    LayerRule("dense", _dense),
    LayerRule("bce", _bce),
)


def network_stages(spec: NetworkSpec) -> list[Stage]:
    """The pipeline: per block conv -> activation -> pool (if any); flatten, dense, sigmoid, BCE.

    Quantities are numbered by layer: block n writes Zn, An, Pn; the dense layer after n blocks
    is number n + 1 (W2, B2, Z2, A2 in the teaching network).
    """
    stages: list[Stage] = []
    current = "X"
    for n, geometry in enumerate(spec.geometry, start=1):
        block, conv = geometry.block, squeeze(geometry.conv)
        stages.append(Stage("conv", current, f"Z{n}", (f"W{n}", f"B{n}"), geometry, conv))
        stages.append(Stage(block.activation, f"Z{n}", f"A{n}", (), geometry, conv))
        current = f"A{n}"
        if block.pooled:
            pooled = squeeze(geometry.output)
            stages.append(
                Stage(POOL_KINDS[block.pool_type], current, f"P{n}", (), geometry, pooled)
            )
            current = f"P{n}"
    head = len(spec.blocks) + 1
    stages += [
        Stage("flatten", current, "F", (), None, (spec.n_features,)),
        Stage("dense", "F", f"Z{head}", (f"W{head}", f"B{head}")),
        Stage("sigmoid", f"Z{head}", f"A{head}"),
        Stage("bce", f"A{head}", "L", ("Y",)),
    ]
    return stages
