"""Proof (b), the bridge: each law instantiated at a spec's sizes is the element-wise derivation.

For every block of the spec, every law is instantiated exactly at that block's sizes, its
tensors bound to the element-wise derivation's own symbols (X, W1, dz1_0_0, ...), and compared
with every element of `derive(spec).gradients`: the difference must expand to 0. Both the
stated law and the derived index-form result are bridged where their forms are polynomials in
the elements (conv, pool, flatten, dense); for the activations the stated derivative is bridged
(the derived one is equal to it by proof (a) and is written in z where the element-wise
derivation writes it in a).

Only public names of symbp are used: `derive`, `Derivation`, and attributes of a derivation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sympy as sp

from . import activation, conv, head, matrix, pool
from . import index_form as F
from .delta import NotIndexForm
from .instantiate import CompiledLaw, Instantiated, Polynomial, Read, polynomial_of, to_sympy
from .proof import IndexLaw


@dataclass(frozen=True)
class BridgeCheck:
    """One law against one gradient of the element-wise derivation, every element."""

    law: str  # the law's key
    block: int | None  # the conv block (1-based), None after the blocks
    quantity: str  # 'dL/dW1'
    form: str  # 'stated' (the textbook law) or 'derived' (the index-form result)
    elements: int
    holds: bool
    detail: str

    def __str__(self) -> str:
        mark = "holds" if self.holds else "FAILS"
        where = f"block {self.block}, " if self.block is not None else ""
        return f"[{mark}] {self.law} ({where}{self.form}) {self.quantity}: {self.detail}"


class _Outside(LookupError):
    pass


Element = Callable[[str, tuple[int, ...]], sp.Expr]


class Binding:
    """The law's tensors bound to the element-wise derivation's arrays of symbols.

    Called as `binding(base, index)` it gives the symbol; an index outside the array is an
    error, never NumPy's wrap-around. A callable in `arrays` computes the element (the max-pool
    mask). `read_of` is the inverse, symbol -> (base, index), for reading the derivation's
    expressions as polynomials over the same reads."""

    def __init__(self, arrays: Mapping[str, Any]) -> None:
        self.arrays = arrays
        self._read_of: dict[sp.Basic, Read] | None = None

    def __call__(self, base: str, index: tuple[int, ...]) -> sp.Expr:
        source = self.arrays[base]
        if callable(source):
            return source(index)
        if len(index) != source.ndim or not all(
            0 <= n < e for n, e in zip(index, source.shape, strict=True)
        ):
            raise _Outside(f"{base}{list(index)} is outside {base}'s shape {source.shape}")
        return source[index]

    @property
    def read_of(self) -> dict[sp.Basic, Read]:
        if self._read_of is None:
            found: dict[sp.Basic, Read] = {}
            twice: set[sp.Basic] = set()
            for base, source in sorted(self.arrays.items()):
                if callable(source):
                    continue
                for index in np.ndindex(source.shape):
                    symbol = source[index]
                    if symbol in found:
                        twice.add(symbol)
                    found[symbol] = (base, tuple(int(n) for n in index))
            self._read_of = {s: r for s, r in found.items() if s not in twice}
        return self._read_of


def binder(arrays: Mapping[str, Any]) -> Binding:
    """base, index -> the element-wise symbol (see Binding)."""
    return Binding(arrays)


def _canonical_relations(expr: sp.Expr) -> sp.Expr:
    """Every relation in its canonical orientation (b < a for a > b): the same condition
    written two ways compares equal."""
    return expr.replace(
        lambda e: isinstance(e, sp.core.relational.Relational), lambda e: e.canonical
    )


def _equal_by_polynomial(law: Polynomial, actual: sp.Expr, binding: Binding) -> bool:
    """The fast decision: the derivation's element read as a polynomial is the law's."""
    if any(residual is not None for _, residual, _ in law):
        return False
    return polynomial_of(actual, binding.read_of) == law


def _difference(law: Polynomial, actual: sp.Expr, binding: Binding) -> sp.Expr:
    """actual - law, expanded, relations canonical: 0 exactly when they are equal."""
    difference = actual - to_sympy(law, binding)
    if difference != 0:
        difference = sp.expand(difference)
    if difference != 0:
        difference = sp.expand(_canonical_relations(difference))
    return difference


def compare(
    instantiated: Instantiated, expected: np.ndarray, binding: Binding
) -> tuple[bool, str, int]:
    """Every element: equal polynomials, or else expected minus the law must expand to 0."""
    count = 0
    for point in sorted(instantiated):
        law, actual = instantiated[point], expected[point]
        if not _equal_by_polynomial(law, actual, binding):
            try:
                difference = _difference(law, actual, binding)
            except _Outside as error:
                return False, f"at {list(point)} the law reads {error}", count
            if difference != 0:
                text = str(difference)
                text = text if len(text) <= 120 else text[:117] + "..."
                return False, f"element {list(point)} differs by {text}", count
        count += 1
    if count != expected.size:
        return False, f"the law gives {count} elements, the derivation {expected.size}", count
    return True, f"all {count} elements equal the element-wise derivation exactly", count


def bridge_law(
    law: IndexLaw,
    sizes: dict,
    arrays: Mapping[str, Any],
    expected: np.ndarray,
    block: int | None,
    quantity: str,
    forms: tuple[str, ...] = ("stated", "derived"),
) -> list[BridgeCheck]:
    """Instantiate a law (stated and/or derived) at the sizes and compare every element."""
    element = binder(arrays)
    checks = []
    for form in forms:
        try:
            compiled = law.compiled_stated if form == "stated" else law.compiled_derived
            holds, detail, count = compare(compiled.evaluate(sizes), expected, element)
        except NotIndexForm as error:
            holds, detail, count = False, f"the law cannot be instantiated: {error}", 0
        checks.append(BridgeCheck(law.key, block, quantity, form, count, holds, detail))
    return checks


# ------------------------------------------------------------------ the spec's layers
@dataclass(frozen=True)
class ConvBlockView:
    """One conv block of a derivation: sizes, element arrays, gradients (names and arrays)."""

    block: int
    input: str
    weight: str
    bias: str
    output: str
    sizes: dict
    arrays: dict
    gradients: dict  # 'dW', 'dB', 'dX' -> (quantity name, array)
    stage: Any


def conv_views(d: Any) -> list[ConvBlockView]:
    """Every conv block of a derivation, with its sizes and the element-wise symbols."""
    views = []
    for stage in d.conv_stages:
        g = stage.geometry
        (c, h, w), (k, ho, wo) = g.input, g.conv
        kh, kw = g.block.filter_shape
        weight, bias = stage.params
        sizes = {F.H: h, F.W: w, F.C: c, F.K: k, F.KH: kh, F.KW: kw, F.S: g.block.stride}
        sizes |= {F.P: g.block.padding, F.HO: ho, F.WO: wo}
        arrays = {
            "x": d.quantities[stage.input].symbols.reshape(g.input),
            "w": d.quantities[weight].symbols.reshape(k, c, kh, kw),
            "b": d.quantities[bias].symbols.reshape(k),
            "delta_z": d.gradient_symbols["d" + stage.output].symbols.reshape(g.conv),
        }
        gradients = {
            "dW": (weight, d.gradients[weight].reshape(k, c, kh, kw)),
            "dB": (bias, d.gradients[bias].reshape(k)),
            "dX": (stage.input, d.gradients[stage.input].reshape(g.input)),
        }
        views.append(
            ConvBlockView(
                stage.block,
                stage.input,
                weight,
                bias,
                stage.output,
                sizes,
                arrays,
                gradients,
                stage,
            )
        )
    return views


def _size_check(
    key: str, block: int, quantity: str, derived: tuple, sizes: dict, actual: tuple
) -> BridgeCheck:
    found = tuple(int(e.xreplace(sizes)) for e in derived)
    holds = found == tuple(actual)
    detail = f"the law gives {found[0]}x{found[1]}, the derivation has {actual[0]}x{actual[1]}"
    return BridgeCheck(key, block, quantity, "derived", 2, holds, detail)


def conv_checks(d: Any, laws: Mapping[str, IndexLaw]) -> Iterator[BridgeCheck]:
    """Output size, dW, dB, d input and the matrix view, for every conv block."""
    for view in conv_views(d):
        shape = d.quantities[view.output].symbols.shape[-2:]  # (H_o, W_o) as derived
        yield _size_check(
            "output-size", view.block, view.output, conv.derived_output_size(), view.sizes, shape
        )
        for key in ("dW", "dB", "dX"):
            name, expected = view.gradients[key]
            yield from bridge_law(
                laws[key], view.sizes, view.arrays, expected, view.block, f"dL/d{name}"
            )
        yield from matrix_checks(d, view)


def local_jacobian(d: Any, view: ConvBlockView) -> dict[tuple[int, int], sp.Expr]:
    """The derivation's own local derivatives d out / d in, keyed (row, col) of vec order."""
    step = next(s for s in d.steps if s.stage == view.stage and s.target == view.input)
    out_shape = d.quantities[view.output].symbols.shape
    in_shape = d.quantities[view.input].symbols.shape
    local = {}
    for (out_index, in_index), derivative in step.local.items():
        row = int(np.ravel_multi_index(out_index, out_shape)) if out_shape else 0
        col = int(np.ravel_multi_index(in_index, in_shape)) if in_shape else 0
        local[(row, col)] = derivative
    return local


def _transposed_product(entries: matrix.Entries, view: ConvBlockView) -> Instantiated:
    """J^T vec(dZ) from J's entries, as one polynomial per input element (c, u, v)."""
    shape = view.arrays["delta_z"].shape
    columns = view.arrays["x"].shape
    out: Instantiated = {index: {} for index in np.ndindex(columns)}
    for (row, col), entry in entries.items():
        dz = ("delta_z", tuple(int(n) for n in np.unravel_index(row, shape)))
        target = out[tuple(int(n) for n in np.unravel_index(col, columns))]
        for (plain, residual, inner), coefficient in entry.items():
            key = (tuple(sorted((*plain, dz))), residual, inner)
            total = target.get(key, 0) + coefficient
            if total == 0:
                target.pop(key, None)
            else:
                target[key] = total
    return out


def matrix_checks(d: Any, view: ConvBlockView) -> Iterator[BridgeCheck]:
    """J from the law against the derivation's local Jacobian; J^T vec(dZ) against dX."""
    binding = binder(view.arrays)
    entries = matrix.jacobian_entries(view.sizes)
    local = local_jacobian(d, view)
    mismatch = None
    for key in sorted(set(local) | set(entries)):
        law, actual = entries.get(key, {}), local.get(key, sp.S.Zero)
        if not _equal_by_polynomial(law, actual, binding) and _difference(law, actual, binding):
            mismatch = key
            break
    sizes = view.sizes
    rows = sizes[F.K] * sizes[F.HO] * sizes[F.WO]
    cols = sizes[F.C] * sizes[F.H] * sizes[F.W]
    quantity = f"d{view.output}/d{view.input}"
    detail = (
        f"the {rows}x{cols} J (nonzeros: {len(entries)}) equals the derivation's local "
        "Jacobian entry by entry"
        if mismatch is None
        else f"entry {list(mismatch)}: law {to_sympy(entries.get(mismatch, {}), binding)}, "
        f"derivation {local.get(mismatch, 0)}"
    )
    yield BridgeCheck(
        "matrix", view.block, quantity, "derived", rows * cols, mismatch is None, detail
    )
    expected = view.gradients["dX"][1]
    holds, detail, count = compare(_transposed_product(entries, view), expected, binding)
    if holds:
        detail = f"J^T vec(dL/d{view.output}) equals all {count} elements of dL/d{view.input}"
    else:
        detail = f"J^T vec(dL/d{view.output}) against dL/d{view.input}: {detail}"
    yield BridgeCheck("matrix", view.block, f"dL/d{view.input}", "derived", count, holds, detail)


def _stages(d: Any, kinds: tuple[str, ...]) -> Iterator[Any]:
    """The block layers of these kinds (the head's sigmoid belongs to no block)."""
    return (s for s in d.stages if s.kind in kinds and s.geometry is not None)


def activation_checks(d: Any) -> Iterator[BridgeCheck]:
    """Every block's activation: the stated derivative at the block's sizes."""
    for stage in _stages(d, tuple(activation.KEYS)):
        g = stage.geometry
        law = activation.activation_law(stage.kind)
        slope = g.block.leaky_slope if stage.kind == "leaky_relu" else 0
        sizes = {F.K: g.conv[0], F.HO: g.conv[1], F.WO: g.conv[2]}
        sizes[F.ALPHA] = sp.Rational(repr(float(slope)))  # the decimal, exactly
        arrays = {
            "z": d.quantities[stage.input].symbols.reshape(g.conv),
            "a": d.quantities[stage.output].symbols.reshape(g.conv),
            "delta_a": d.gradient_symbols["d" + stage.output].symbols.reshape(g.conv),
        }
        compiled = CompiledLaw(list(law.stated), activation.SIZES, activation.FREE)
        expected = d.gradients[stage.input].reshape(g.conv)
        holds, detail, count = compare(compiled.evaluate(sizes), expected, binder(arrays))
        yield BridgeCheck(
            law.key, stage.block, f"dL/d{stage.input}", "stated", count, holds, detail
        )


def _mask_of(a: np.ndarray, size: int, step: int) -> Callable[[tuple[int, ...]], sp.Expr]:
    """mu[k,m,n,r,s] over the element-wise symbols of window (m, n): the first-max indicator
    (each built once: the stated and the derived law read the same ones)."""

    @cache
    def mu(index: tuple[int, ...]) -> sp.Expr:
        k, m, n, r, s = index
        if not (0 <= r < size and 0 <= s < size):
            raise _Outside(f"mu{list(index)} is outside the {size}x{size} window")
        window = [a[k, m * step + rr, n * step + ss] for rr in range(size) for ss in range(size)]
        return pool.mask(window, r * size + s)

    return mu


def pool_checks(d: Any) -> Iterator[BridgeCheck]:
    """Every block's pool: output size and the gradient through the pool."""
    for stage in _stages(d, ("maxpool", "avgpool")):
        g, block = stage.geometry, stage.geometry.block
        kind = "max" if stage.kind == "maxpool" else "avg"
        (k, ho, wo), (_, hp, wp) = g.conv, g.output
        sizes = {F.K: k, F.HO: ho, F.WO: wo, F.R: block.pool_size, F.T: block.pool_step}
        sizes |= {F.HP: hp, F.WP: wp}
        a = d.quantities[stage.input].symbols.reshape(g.conv)
        arrays = {
            "a": a,
            "delta_p": d.gradient_symbols["d" + stage.output].symbols.reshape(g.output),
            "mu": _mask_of(a, block.pool_size, block.pool_step),
        }
        shape = d.quantities[stage.output].symbols.shape[-2:]
        yield _size_check(
            "pool-size", stage.block, stage.output, pool.derived_pool_size(), sizes, shape
        )
        expected = d.gradients[stage.input].reshape(g.conv)
        yield from bridge_law(
            pool.pool_law(kind), sizes, arrays, expected, stage.block, f"dL/d{stage.input}"
        )


def flatten_checks(d: Any) -> Iterator[BridgeCheck]:
    """The flatten after the last block, against the gradient of its input."""
    stage = next(s for s in d.stages if s.kind == "flatten")
    g = d.spec.geometry[-1]
    k, hp, wp = g.output
    sizes = {F.K: k, F.HP: hp, F.WP: wp, F.N: k * hp * wp}
    arrays = {
        "p": d.quantities[stage.input].symbols.reshape(g.output),
        "delta_F": d.gradient_symbols["d" + stage.output].symbols.reshape(-1),
    }
    expected = d.gradients[stage.input].reshape(g.output)
    yield from bridge_law(head.flatten_law(), sizes, arrays, expected, None, f"dL/d{stage.input}")


def dense_checks(d: Any) -> Iterator[BridgeCheck]:
    """dW, dB and dF of the dense unit."""
    stage = next(s for s in d.stages if s.kind == "dense")
    weight, bias = stage.params
    features = d.quantities[stage.input].symbols.reshape(-1)
    arrays = {
        "F": features,
        "w": d.quantities[weight].symbols.reshape(-1),
        "delta_z_o": d.gradient_symbols["d" + stage.output].symbols,
    }
    sizes = {F.N: len(features)}
    expected = [
        (weight, d.gradients[weight].reshape(-1)),
        (bias, d.gradients[bias].reshape(())),
        (stage.input, d.gradients[stage.input].reshape(-1)),
    ]
    for law, (name, array) in zip(head.dense_laws(), expected, strict=True):
        yield from bridge_law(law, sizes, arrays, array, None, f"dL/d{name}")


def head_checks(d: Any) -> Iterator[BridgeCheck]:
    """dL/dz_o = a_o - y against the derivation's head."""
    a = d.quantities[d.prediction].symbols[()]
    y = d.quantities["Y"].symbols[()]
    actual = d.gradients[d.logit][()]
    _, _, derived = head.head_gradient()
    for form, law in (("stated", head.stated_head()), ("derived", derived)):
        instance = law.xreplace({F.A_OUT: a, F.Y: y})
        holds = sp.expand(actual - instance) == 0
        detail = (
            f"dL/d{d.logit} = {actual}, as the law says"
            if holds
            else f"the derivation has {actual}, the law {instance}"
        )
        yield BridgeCheck("head", None, f"dL/d{d.logit}", form, 1, holds, detail)


def all_checks(d: Any, laws: Mapping[str, IndexLaw]) -> list[BridgeCheck]:
    """Every bridge check the spec calls for, in the order of the layers."""
    return [
        *conv_checks(d, laws),
        *activation_checks(d),
        *pool_checks(d),
        *flatten_checks(d),
        *dense_checks(d),
        *head_checks(d),
    ]
