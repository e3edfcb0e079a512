"""Symbolic proofs about a derivation: each one exact, each one able to fail.

A proof compares what the chain rule produced with an independently built statement and
reports whether the difference is exactly zero (after `expand` / `cancel`), never by sampling
numbers. `check(derivation)` raises `ProofError` listing every proof that does not hold.

Where the derivation has a choice (which operation is dW1?), the proof tries the textbook
candidates and reports which one the derivation matches: the tool *finds* the pattern.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import cast

import numpy as np
import sympy as sp

from . import patterns
from .derivation import Derivation
from .layers import is_indicator


class ProofError(AssertionError):
    """A proof about the derivation does not hold: the derivation or a convention is broken."""


@dataclass(frozen=True)
class Proof:
    key: str
    title: str
    statement: str  # LaTeX, for the document
    holds: bool
    detail: str  # what was checked, or the first counterexample

    def __str__(self) -> str:
        mark = "holds" if self.holds else "FAILS"
        return f"[{mark}] {self.title}: {self.detail}"


Element = Callable[[tuple[int, ...]], sp.Expr]  # a candidate, element by element


def _elements(array: np.ndarray) -> Element:
    return lambda index: array[index]


def _first_difference(
    actual: np.ndarray, expected: Element
) -> tuple[tuple[int, ...], sp.Expr] | None:
    for index in np.ndindex(*actual.shape):
        difference = actual[index] - expected(index)  # equal sums of products cancel here
        if difference != 0:
            difference = sp.expand(difference)  # anything left must vanish when expanded
        if difference != 0:
            return index, difference
    return None


def _compare(actual: np.ndarray, expected: Element, what: str) -> tuple[bool, str]:
    mismatch = _first_difference(actual, expected)
    if mismatch is None:
        return True, f"all {actual.size} elements of {what}: difference expands to 0"
    index, difference = mismatch
    text = str(difference)
    text = text if len(text) <= 120 else text[:117] + "..."
    return False, f"element {list(index)} of {what} differs by {text}"


def _find(actual: np.ndarray, candidates: dict[str, Element], what: str) -> tuple[bool, str]:
    """Try each textbook candidate, computed element by element; the first is the expected one.

    A rejected candidate needs only one differing element, so rejecting costs little.
    """
    expected_name = next(iter(candidates))
    holds, detail = _compare(actual, candidates[expected_name], what)
    if holds:
        others = [
            name
            for name, element in candidates.items()
            if name != expected_name and _first_difference(actual, element) is not None
        ]
        if others:
            detail += f"; not {', '.join(others)}"
        return True, detail
    matches = [
        name for name, element in candidates.items() if _first_difference(actual, element) is None
    ]
    found = f"; it is the {matches[0]}" if matches else ""
    return False, detail + found


# ------------------------------------------------------------------------------ the proofs
def prove_dw1_is_cross_correlation(d: Derivation) -> Proof:
    x, dz1 = d.quantities["X"].symbols, d.gradient_symbols["dZ1"].symbols
    flipped = patterns.rotate_180(dz1)
    kh, kw = d.gradients["W1"].shape
    holds, detail = _find(
        d.gradients["W1"],
        {
            "cross-correlation X ⋆ dZ1": lambda i: patterns.correlate_at(x, dz1, *i),
            "true convolution X * dZ1 (flipped)": lambda i: patterns.correlate_at(x, flipped, *i),
            "cross-correlation rotated by 180° (a forward pass that flips the kernel)": (
                lambda i: patterns.correlate_at(x, dz1, kh - 1 - i[0], kw - 1 - i[1])
            ),
        },
        "dL/dW1",
    )
    return Proof(
        "dW1",
        "dL/dW1 is the valid cross-correlation of X with dL/dZ1",
        r"\frac{\partial L}{\partial W_1} = X \star \frac{\partial L}{\partial Z_1}",
        holds,
        detail,
    )


def prove_db1_is_sum(d: Derivation) -> Proof:
    dz1 = d.gradient_symbols["dZ1"].symbols
    actual = d.gradients["B1"]
    expected = np.empty((), dtype=object)
    expected[()] = patterns.total(dz1)
    holds, detail = _compare(actual, _elements(expected), "dL/dB1")
    return Proof(
        "dB1",
        "dL/dB1 is the sum of dL/dZ1",
        r"\frac{\partial L}{\partial B_1} = \sum_{i,j} \frac{\partial L}{\partial z^{(1)}_{i,j}}",
        holds,
        detail.replace("all 1 elements of dL/dB1", "dL/dB1"),
    )


def prove_dx_is_full_convolution(d: Derivation) -> Proof:
    w1, dz1 = d.quantities["W1"].symbols, d.gradient_symbols["dZ1"].symbols
    kh, kw = w1.shape
    padded = patterns.zero_pad(dz1, kh - 1, kw - 1)
    rotated = patterns.rotate_180(w1)
    holds, detail = _find(
        d.gradients["X"],
        {
            "full cross-correlation of dZ1 with rot180(W1)": lambda i: patterns.correlate_at(
                padded, rotated, *i
            ),
            "full cross-correlation of dZ1 with W1 (unrotated)": lambda i: patterns.correlate_at(
                padded, w1, *i
            ),
        },
        "dL/dX",
    )
    if holds:
        # Correlating with the rotated kernel is, by definition, true convolution with W1.
        detail += "; that is, the full true convolution dZ1 * W1"
    return Proof(
        "dX",
        "dL/dX is the full convolution of dL/dZ1 with W1 rotated by 180°",
        r"\frac{\partial L}{\partial X} = \operatorname{pad}_{k-1}\!\Big(\frac{\partial L}"
        r"{\partial Z_1}\Big) \star \operatorname{rot}_{180}(W_1)",
        holds,
        detail,
    )


def prove_head_collapses(d: Derivation) -> Proof:
    head = d.head
    a2, y = d.quantities["A2"].symbols[()], d.quantities["Y"].symbols[()]
    z2 = d.quantities["Z2"].symbols[()]
    sigmoid = 1 / (1 + sp.exp(-z2))
    in_z2 = head.product.subs(a2, sigmoid)
    difference = sp.simplify(in_z2 - (sigmoid - y))
    holds = difference == 0 and sp.expand(head.result - (a2 - y)) == 0
    detail = (
        "simplify((dL/dA2)(dA2/dZ2) - (sigma(z2) - y)) = 0"
        if holds
        else f"the product differs from A2 - Y by {difference}; found {head.result}"
    )
    return Proof(
        "head",
        "(dL/dA2)(dA2/dZ2) = A2 - Y",
        r"\frac{\partial L}{\partial A_2}\frac{\partial A_2}{\partial Z_2} = A_2 - Y",
        holds,
        detail,
    )


def prove_stable_loss(d: Derivation) -> Proof:
    """The compiled loss uses softplus(z2) - y z2; it must equal BCE(y, sigma(z2))."""
    y, z2 = d.quantities["Y"].symbols[()], d.quantities["Z2"].symbols[()]
    a2 = d.quantities["A2"].symbols[()]
    bce = cast(sp.Expr, d.forward[-1].expressions[()]).subs(a2, 1 / (1 + sp.exp(-z2)))
    softplus_form = sp.log(1 + sp.exp(z2)) - y * z2
    difference = sp.simplify(sp.expand_log(bce - softplus_form, force=True))
    holds = difference == 0
    return Proof(
        "stable-loss",
        "BCE(y, sigma(z2)) = softplus(z2) - y z2 (the form the compiled loss uses)",
        r"-\big(y\log\sigma(z) + (1-y)\log(1-\sigma(z))\big) = \log(1+e^{z}) - y z",
        holds,
        "simplify of the difference is 0" if holds else f"difference {difference}",
    )


def prove_relu_derivative_at_zero(d: Derivation) -> Proof:
    step = next(s for s in d.steps if s.stage.kind == "relu")
    (out_index, in_index), local = next(iter(step.local.items()))
    z = d.quantities["Z1"].symbols[in_index]
    values = {v: local.subs(z, v) for v in (-1, 0, 1)}
    holds = values == {-1: 0, 0: 0, 1: 1}
    detail = f"d relu(z)/dz from sympy.diff = {local}; at z = -1, 0, 1: " + ", ".join(
        str(values[v]) for v in (-1, 0, 1)
    )
    return Proof("relu0", "ReLU'(0) = 0", r"\operatorname{ReLU}'(0) = 0", holds, detail)


def _window_assignments(n: int) -> tuple[str, Iterator[tuple[int, ...]]]:
    """Window values to try, and how to describe them.

    All assignments of {0, 1, 2} cover every tie pattern among three distinct values; past
    20,000 of them, all of {0, 1}; past 70,000, 20,000 random ones from {0, 1, 2}.
    """
    if 3**n <= 20_000:
        return "every assignment of the values 0, 1, 2", product((0, 1, 2), repeat=n)
    if 2**n <= 70_000:
        return "every assignment of the values 0, 1", product((0, 1), repeat=n)
    rng = np.random.default_rng(0)
    sampled = (tuple(int(v) for v in rng.integers(0, 3, size=n)) for _ in range(20_000))
    return "random assignments of the values 0, 1, 2", sampled


def prove_pool_routes_to_first_max(d: Derivation) -> Proof:
    step = next(s for s in d.steps if s.stage.kind == "maxpool")
    a1 = d.quantities["A1"].symbols
    first_out = (0,) * len(d.spec.pool_shape)
    cells = [cell for (out, cell) in step.local if out == first_out]
    window = [a1[cell] for cell in cells]
    derivatives = [step.local[(first_out, cell)] for cell in cells]
    if not all(is_indicator(e) for e in derivatives):
        return Proof(
            "ties",
            "Max-pool ties route to the first maximum",
            "",
            False,
            f"local derivatives are not 0/1 indicators: {derivatives}",
        )
    route: Callable[..., list[int]] = sp.lambdify(window, derivatives, modules="math")
    checked = 0
    described, assignments = _window_assignments(len(window))
    for values in assignments:
        got = [int(v) for v in route(*values)]
        expected = [0] * len(window)
        expected[values.index(max(values))] = 1
        checked += 1
        if got != expected:
            return Proof(
                "ties",
                "Max-pool ties route to the first maximum (row-major)",
                r"\partial p / \partial a_k = [k \text{ is the first maximum}]",
                False,
                f"window values {list(values)} route to {got}, expected {expected}",
            )
    return Proof(
        "ties",
        "Max-pool ties route to the first maximum (row-major)",
        r"\partial p / \partial a_k = [k \text{ is the first maximum}]",
        True,
        f"{checked} window values ({described}, ties included) route the whole gradient "
        "to the first maximum",
    )


PROOFS: tuple[Callable[[Derivation], Proof], ...] = (
    prove_head_collapses,
    prove_stable_loss,
    prove_relu_derivative_at_zero,
    prove_pool_routes_to_first_max,
    prove_db1_is_sum,
    prove_dw1_is_cross_correlation,
    prove_dx_is_full_convolution,
)


def prove_all(
    d: Derivation, full_composition: bool | None = None, patterns: int = 1
) -> list[Proof]:
    """Run every proof. The full-composition proof runs by default only for small networks,
    on `patterns` activation patterns (each costs about 0.4 s at 6x6)."""
    from .composition import prove_full_composition  # heavy; kept in its own module

    results = [proof(d) for proof in PROOFS]
    if full_composition is None:
        full_composition = d.spec.symbolic_cost <= 400
    if full_composition:
        results.append(prove_full_composition(d, seeds=tuple(range(1, patterns + 1))))
    return results


def check(d: Derivation, full_composition: bool | None = None, patterns: int = 1) -> list[Proof]:
    """Like prove_all, but raise ProofError when any proof fails."""
    results = prove_all(d, full_composition, patterns)
    failed = [p for p in results if not p.holds]
    if failed:
        raise ProofError("; ".join(str(p) for p in failed))
    return results
