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
from functools import partial
from itertools import product
from typing import Any, cast

import numpy as np
import sympy as sp

from . import patterns, progress
from .derivation import Derivation, Step
from .layers import Stage, exact_number, is_indicator


class ProofError(AssertionError):
    """A proof about the derivation does not hold: the derivation or a convention is broken."""


# How a proof was established, from strongest to weakest:
SYMBOLIC = "symbolic"  # an identity in the symbols: it holds for every value of them
EXHAUSTIVE = "exhaustive"  # every case of a finite set that covers all behaviours was checked
SAMPLED = "sampled"  # exact checks on a finite sample: evidence, not a proof for all values


@dataclass(frozen=True)
class Proof:
    key: str
    title: str
    statement: str  # LaTeX, for the document
    holds: bool
    detail: str  # what was checked, or the first counterexample
    method: str = SYMBOLIC  # SYMBOLIC, EXHAUSTIVE or SAMPLED

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
def _key(base: str, block: int) -> str:
    """Proof keys: 'ties' for the first block, 'ties.2' for the second."""
    return base if block == 1 else f"{base}.{block}"


def _tex(name: str) -> str:
    """'W1' -> 'W_1', 'X' -> 'X'."""
    if len(name) == 1:
        return name
    return f"{name[0]}_{name[1:]}" if len(name) == 2 else f"{name[0]}_{{{name[1:]}}}"


def _indexed(tex: str, index: str) -> str:
    """Filter k, channel c of a tensor, as W_1[k,c]: a subscript would merge with W_1's own."""
    return f"{tex}[{index}]" if index else tex


def _partial(name: str) -> str:
    return rf"\frac{{\partial L}}{{\partial {_tex(name)}}}"


@dataclass(frozen=True)
class _ConvView:
    """One conv layer of the derivation as 4-D / 3-D object arrays (filters, channels, ...)."""

    block: int
    input: str  # X, or the previous block's output (P1, A1)
    weight: str
    bias: str
    output: str
    x: np.ndarray  # (C, H, W) symbols
    w: np.ndarray  # (K, C, kH, kW) symbols
    dz: np.ndarray  # (K, oH, oW) gradient symbols
    stride: int
    padding: int


def _conv_views(d: Derivation) -> list[_ConvView]:
    views = []
    for stage in d.conv_stages:
        assert stage.geometry is not None and stage.block is not None
        g = stage.geometry
        k, c = g.conv[0], g.input[0]
        kh, kw = g.block.filter_shape
        views.append(
            _ConvView(
                stage.block,
                stage.input,
                stage.params[0],
                stage.params[1],
                stage.output,
                d.quantities[stage.input].symbols.reshape(g.input),
                d.quantities[stage.params[0]].symbols.reshape(k, c, kh, kw),
                d.gradient_symbols["d" + stage.output].symbols.reshape(g.conv),
                g.block.stride,
                g.block.padding,
            )
        )
    return views


def _padded(view: _ConvView) -> list[np.ndarray]:
    return [patterns.zero_pad(channel, view.padding) for channel in view.x]


def _dilated(view: _ConvView) -> list[np.ndarray]:
    """dZ of each filter dilated by the stride to (Hp - kH + 1) x (Wp - kW + 1)."""
    _, h, w = view.x.shape
    kh, kw = view.w.shape[2:]
    rows, cols = h + 2 * view.padding - kh + 1, w + 2 * view.padding - kw + 1
    return [patterns.dilate(g, view.stride, rows, cols) for g in view.dz]


def _conv_words(view: _ConvView) -> tuple[str, str]:
    """How the input and dZ enter the pattern, in words: ('X', 'dL/dZ1'), or padded/dilated."""
    source = view.input if not view.padding else f"{view.input} zero-padded by {view.padding}"
    gradient = f"dL/d{view.output}"
    if view.stride != 1:
        gradient += f" dilated by {view.stride}"
    return source, gradient


def prove_weight_gradient(d: Derivation, view: _ConvView) -> Proof:
    """dW[k, c] = pad(X[c]) ⋆ dilate(dZ[k]): the cross-correlation of input and gradient."""
    padded, dilated = _padded(view), _dilated(view)
    flipped = [patterns.rotate_180(g) for g in dilated]
    kh, kw = view.w.shape[2:]
    actual = d.gradients[view.weight].reshape(view.w.shape)
    holds, detail = _find(
        actual,
        {
            f"cross-correlation {view.input} ⋆ d{view.output}": lambda i: patterns.correlate_at(
                padded[i[1]], dilated[i[0]], i[2], i[3]
            ),
            f"true convolution {view.input} * d{view.output} (flipped)": lambda i: (
                patterns.correlate_at(padded[i[1]], flipped[i[0]], i[2], i[3])
            ),
            "cross-correlation rotated by 180° (a forward pass that flips the kernel)": (
                lambda i: patterns.correlate_at(
                    padded[i[1]], dilated[i[0]], kh - 1 - i[2], kw - 1 - i[3]
                )
            ),
        },
        f"dL/d{view.weight}",
    )
    source, gradient = _conv_words(view)
    simple = view.stride == 1 and not view.padding
    several = view.w.shape[0] * view.w.shape[1] > 1
    x_tex = _indexed(_tex(view.input), "c" if several else "")
    dz_tex = _indexed(_partial(view.output), "k" if several else "")
    if not view.padding and view.stride == 1:
        right = rf"{x_tex} \star {dz_tex}"
    else:
        inner = rf"\operatorname{{pad}}_{{{view.padding}}}({x_tex})" if view.padding else x_tex
        dil = rf"\operatorname{{dil}}_{{{view.stride}}}\!\Big({dz_tex}\Big)"
        right = rf"{inner} \star " + (dil if view.stride != 1 else dz_tex)
    left = _indexed(_partial(view.weight), "k,c" if several else "")
    return Proof(
        f"dW{view.block}",
        (
            f"dL/d{view.weight} is the valid cross-correlation of {source} with {gradient}"
            if simple
            else f"dL/d{view.weight} is the cross-correlation of {source} with {gradient}"
        )
        + (" (per filter k and channel c)" if several else ""),
        f"{left} = {right}",
        holds,
        detail,
    )


def prove_bias_gradient(d: Derivation, view: _ConvView) -> Proof:
    filters = view.dz.shape[0]
    actual = d.gradients[view.bias].reshape(filters)
    expected = np.empty(filters, dtype=object)
    for k in range(filters):
        expected[k] = patterns.total(view.dz[k])
    holds, detail = _compare(actual, _elements(expected), f"dL/d{view.bias}")
    out = view.output
    z_tex = f"z^{{({out[1:]})}}"
    if filters == 1:
        title = f"dL/d{view.bias} is the sum of dL/d{out}"
        statement = (
            rf"{_partial(view.bias)} = \sum_{{i,j}} \frac{{\partial L}}{{\partial {z_tex}_{{i,j}}}}"
        )
    else:
        title = f"dL/d{view.bias} is, per filter, the sum of that filter's dL/d{out}"
        element = rf"\frac{{\partial L}}{{\partial {z_tex}_{{k,i,j}}}}"
        statement = rf"{_partial(view.bias)}[k] = \sum_{{i,j}} {element}"
    return Proof(
        f"dB{view.block}",
        title,
        statement,
        holds,
        detail.replace(f"all 1 elements of dL/d{view.bias}", f"dL/d{view.bias}"),
    )


def prove_input_gradient(d: Derivation, view: _ConvView) -> Proof:
    """dX[c] = crop_P( sum_k pad_{k-1}(dilate(dZ[k])) ⋆ rot180(W[k, c]) ): full convolution."""
    kh, kw = view.w.shape[2:]
    dilated = [patterns.zero_pad(g, kh - 1, kw - 1) for g in _dilated(view)]
    filters, channels = view.w.shape[:2]
    pad = view.padding

    def full(kernel_of: Callable[[int, int], np.ndarray]) -> Element:
        def element(index: tuple[int, ...]) -> sp.Expr:
            c, i, j = index
            return sp.Add(
                *(
                    patterns.correlate_at(dilated[k], kernel_of(k, c), i + pad, j + pad)
                    for k in range(filters)
                )
            )

        return element

    actual = d.gradients[view.input].reshape(view.x.shape)
    holds, detail = _find(
        actual,
        {
            f"full cross-correlation of d{view.output} with rot180({view.weight})": full(
                lambda k, c: patterns.rotate_180(view.w[k, c])
            ),
            f"full cross-correlation of d{view.output} with {view.weight} (unrotated)": full(
                lambda k, c: view.w[k, c]
            ),
        },
        f"dL/d{view.input}",
    )
    if holds:
        # Correlating with the rotated kernel is, by definition, true convolution with W.
        detail += f"; that is, the full true convolution d{view.output} * {view.weight}"
    several = filters * channels > 1
    dz_tex = _indexed(_partial(view.output), "k" if several else "")
    w_tex = _indexed(_tex(view.weight), "k,c" if several else "")
    inner = (
        rf"\operatorname{{dil}}_{{{view.stride}}}\!\Big({dz_tex}\Big)"
        if view.stride != 1
        else dz_tex
    )
    # pad by kernel size - 1: written k-1 when that k cannot be confused with a filter index
    amount = (
        "k-1" if kh == kw and not several else (f"{kh - 1}" if kh == kw else f"{kh - 1},{kw - 1}")
    )
    body = (
        rf"\operatorname{{pad}}_{{{amount}}}\!\Big({inner}\Big) \star "
        rf"\operatorname{{rot}}_{{180}}({w_tex})"
    )
    if several:
        body = rf"\sum_k {body}"
    if pad:
        body = rf"\operatorname{{crop}}_{{{pad}}}\!\Big({body}\Big)"
    left = _indexed(_partial(view.input), "c" if several else "")
    words = "the full convolution of dL/d" + view.output
    if view.stride != 1:
        words += f" dilated by {view.stride}"
    words += f" with {view.weight} rotated by 180°"
    if pad:
        words += f", cropped by the padding {pad}"
    if filters > 1:
        words += ", summed over filters"
    return Proof(
        "d" + view.input,
        f"dL/d{view.input} is {words}",
        f"{left} = {body}",
        holds,
        detail,
    )


def prove_head_collapses(d: Derivation) -> Proof:
    head = d.head
    a2, y = d.quantities[d.prediction].symbols[()], d.quantities["Y"].symbols[()]
    z2 = d.quantities[d.logit].symbols[()]
    sigmoid = 1 / (1 + sp.exp(-z2))
    in_z2 = head.product.subs(a2, sigmoid)
    difference = sp.simplify(in_z2 - (sigmoid - y))
    holds = difference == 0 and sp.expand(head.result - (a2 - y)) == 0
    a, z = d.prediction, d.logit
    detail = (
        f"simplify((dL/d{a})(d{a}/d{z}) - (sigma({z.lower()}) - y)) = 0"
        if holds
        else f"the product differs from {a} - Y by {difference}; found {head.result}"
    )
    return Proof(
        "head",
        f"(dL/d{a})(d{a}/d{z}) = {a} - Y",
        rf"\frac{{\partial L}}{{\partial {_tex(a)}}}"
        rf"\frac{{\partial {_tex(a)}}}{{\partial {_tex(z)}}}"
        rf" = {_tex(a)} - Y",
        holds,
        detail,
    )


def prove_stable_loss(d: Derivation) -> Proof:
    """The compiled loss uses softplus(z2) - y z2; it must equal BCE(y, sigma(z2))."""
    y, z2 = d.quantities["Y"].symbols[()], d.quantities[d.logit].symbols[()]
    a2 = d.quantities[d.prediction].symbols[()]
    bce = cast(sp.Expr, d.forward[-1].expressions[()]).subs(a2, 1 / (1 + sp.exp(-z2)))
    softplus_form = sp.log(1 + sp.exp(z2)) - y * z2
    difference = sp.simplify(sp.expand_log(bce - softplus_form, force=True))
    # The compiled form: softplus(z) = max(z, 0) + log(1 + exp(-|z|)), on each side of 0.
    positive = sp.Symbol("u", positive=True)
    branches = (
        sp.simplify(sp.log(1 + sp.exp(positive)) - positive - sp.log(1 + sp.exp(-positive))),
        sp.simplify(sp.log(1 + sp.exp(-positive)) - sp.log(1 + sp.exp(-positive))),
    )
    holds = difference == 0 and branches == (0, 0)
    return Proof(
        "stable-loss",
        "BCE(y, sigma(z)) = softplus(z) - y z (the form the compiled loss uses)",
        r"-\big(y\log\sigma(z) + (1-y)\log(1-\sigma(z))\big) = \log(1+e^{z}) - y z",
        holds,
        "simplify of the difference is 0, and softplus(z) = max(z, 0) + log(1 + exp(-|z|)) "
        "for z > 0 and z < 0"
        if holds
        else f"difference {difference}, branches {branches}",
    )


def _activation_step(d: Derivation, output: str) -> Any:
    return next(s for s in d.steps if s.stage.output == output and s.target == s.stage.input)


def prove_activation_derivative(d: Derivation, stage: Stage) -> Proof | None:
    """ReLU'(0) = 0 and leaky ReLU'(0) = slope at the kink; sigma' = a(1 - a), tanh' = 1 - a^2."""
    assert stage.geometry is not None and stage.block is not None
    step = _activation_step(d, stage.output)
    (out_index, in_index), local = next(iter(step.local.items()))
    z = d.quantities[stage.input].symbols[in_index]
    a = d.quantities[stage.output].symbols[out_index]
    n = stage.block
    if stage.kind in ("relu", "leaky_relu"):
        slope = exact_number(stage.geometry.block.leaky_slope) if stage.kind == "leaky_relu" else 0
        values = {v: local.subs(z, v) for v in (-1, 0, 1)}
        holds = values == {-1: slope, 0: slope, 1: 1}
        detail = f"d {stage.kind}(z)/dz from sympy.diff = {local}; at z = -1, 0, 1: " + ", ".join(
            str(values[v]) for v in (-1, 0, 1)
        )
        # The derivative is constant on z < 0, z = 0 and z > 0 (an indicator of the sign):
        # one point of each class decides it everywhere.
        if stage.kind == "relu":
            return Proof(
                _key("relu0", n),
                "ReLU'(0) = 0",
                r"\operatorname{ReLU}'(0) = 0",
                holds,
                detail,
                EXHAUSTIVE,
            )
        return Proof(
            _key("leaky0", n),
            f"LeakyReLU'(0) = {slope} (its slope, as in PyTorch)",
            rf"\operatorname{{LeakyReLU}}'(0) = {sp.latex(slope)}",
            holds,
            detail,
            EXHAUSTIVE,
        )
    if stage.kind in ("sigmoid", "tanh"):
        forward = d.forward[d.stages.index(stage)].expressions[out_index]
        difference = sp.simplify(local.subs(a, forward) - sp.diff(forward, z))
        holds = difference == 0
        name = "sigma" if stage.kind == "sigmoid" else "tanh"
        tex = r"\sigma" if stage.kind == "sigmoid" else r"\tanh"
        return Proof(
            _key(stage.kind, n),
            f"{name}'(z) = {local.xreplace({a: sp.Symbol('a')})} with a = {name}(z)",
            rf"{tex}'(z) = {sp.latex(local.xreplace({a: sp.Symbol('a')}))},\ a = {tex}(z)",
            holds,
            f"the derivative in the output, with a = {name}(z) put back, minus sympy.diff of "
            f"{name}(z): " + ("simplifies to 0" if holds else f"{difference}"),
        )
    return None


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


def _pool_step(d: Derivation, stage: Stage) -> Step:
    return next(s for s in d.steps if s.stage == stage and s.target == stage.input)


def prove_pool_routes_to_first_max(d: Derivation, stage: Stage) -> Proof:
    assert stage.block is not None
    step = _pool_step(d, stage)
    key, title = _key("ties", stage.block), "Max-pool ties route to the first maximum (row-major)"
    statement = r"\partial p / \partial a_k = [k \text{ is the first maximum}]"
    a1 = d.quantities[stage.input].symbols
    first_out = next(iter(np.ndindex(*stage.shape)))
    cells = [cell for (out, cell) in step.local if out == first_out]
    window = [a1[cell] for cell in cells]
    derivatives = [step.local[(first_out, cell)] for cell in cells]
    if derivatives == [1]:
        return Proof(
            key, title, statement, True, "one-cell windows: the single cell gets the gradient"
        )
    if not all(is_indicator(e) for e in derivatives):
        return Proof(
            key, title, statement, False, f"local derivatives are not 0/1 indicators: {derivatives}"
        )
    route: Callable[..., list[int]] = sp.lambdify(window, derivatives, modules="math")
    checked = 0
    described, assignments = _window_assignments(len(window))
    method = SAMPLED if described.startswith("random") else EXHAUSTIVE
    for values in assignments:
        got = [int(v) for v in route(*values)]
        expected = [0] * len(window)
        expected[values.index(max(values))] = 1
        checked += 1
        if got != expected:
            return Proof(
                key,
                title,
                statement,
                False,
                f"window values {list(values)} route to {got}, expected {expected}",
                method,
            )
    return Proof(
        key,
        title,
        statement,
        True,
        f"{checked} window values ({described}, ties included) route the whole gradient "
        "to the first maximum",
        method,
    )


def _layer_windows(stage: Stage) -> tuple[int, dict[tuple[int, int], list[tuple[int, int]]]]:
    assert stage.geometry is not None
    g = stage.geometry
    _, rows, cols = g.conv
    return g.conv[0], patterns.window_cells(rows, cols, g.block.pool_size, g.block.pool_step)


def prove_average_pool_spreads(d: Derivation, stage: Stage) -> Proof:
    """dA[c, cell] = sum over the windows holding the cell of dP[c, window] / (window size)."""
    assert stage.geometry is not None and stage.block is not None
    g = stage.geometry
    channels, windows = _layer_windows(stage)
    dp = d.gradient_symbols["d" + stage.output].symbols.reshape(g.output)
    size = g.block.pool_size**2
    expected = np.empty(g.conv, dtype=object)
    expected[...] = sp.S.Zero
    for c in range(channels):
        for (a, b), cells in windows.items():
            for cell in cells:
                expected[(c, cell[0], cell[1])] += dp[c, a, b] * sp.Rational(1, size)
    actual = d.gradients[stage.input].reshape(g.conv)
    holds, detail = _compare(actual, _elements(expected), f"dL/d{stage.input}")
    overlap = g.block.pool_step < g.block.pool_size
    return Proof(
        _key("avg-spread", stage.block),
        f"Average pool spreads each window's gradient evenly (1/{size} to each cell)"
        + ("; overlapping windows add up" if overlap else ""),
        rf"{_partial(stage.input)}_{{i,j}} = \sum_{{\text{{windows }} w \ni (i,j)}} "
        rf"\frac{{1}}{{{size}}} {_partial(stage.output)}_{{w}}",
        holds,
        detail,
    )


def prove_max_pool_accumulates(d: Derivation, stage: Stage) -> Proof:
    """The whole layer's dA, as a function, equals an independent NumPy routing on samples.

    Every sampled layer input is drawn from {0, 1, 2} (ties everywhere), dP from small
    integers; the reference loops over windows, takes np.argmax (the first maximum) and adds
    dP there, so overlapping windows accumulate. Exact integers: equality is exact.
    """
    assert stage.geometry is not None and stage.block is not None
    g = stage.geometry
    channels, windows = _layer_windows(stage)
    a_symbols = list(d.quantities[stage.input].symbols.reshape(-1))
    dp_symbols = list(d.gradient_symbols["d" + stage.output].symbols.reshape(-1))
    actual = list(d.gradients[stage.input].reshape(-1))
    function: Callable[..., list[float]] = sp.lambdify(
        a_symbols + dp_symbols, actual, modules="math"
    )
    rng = np.random.default_rng(0)
    samples = 300
    for _ in range(samples):
        a = rng.integers(0, 3, size=g.conv)
        dp = rng.integers(-3, 4, size=g.output)
        expected = np.zeros(g.conv, dtype=np.int64)
        for c in range(channels):
            for (wa, wb), cells in windows.items():
                values = [a[c, r, s] for r, s in cells]
                winner = cells[int(np.argmax(values))]
                expected[c, winner[0], winner[1]] += dp[c, wa, wb]
        got = np.array(function(*a.reshape(-1), *dp.reshape(-1)), dtype=float).reshape(g.conv)
        if not np.array_equal(got, expected):
            index = tuple(int(i) for i in np.argwhere(got != expected)[0])
            return Proof(
                _key("max-accumulate", stage.block),
                "Max-pool gradients accumulate over overlapping windows",
                "",
                False,
                f"at {list(index)}: derived {got[index]:g}, reference {expected[index]}",
                SAMPLED,
            )
    overlap = g.block.pool_step < g.block.pool_size
    title = (
        "Overlapping max-pool windows accumulate: each cell gets the sum over the windows it wins"
        if overlap
        else "Max-pool routes each window's gradient to its first maximum, windows disjoint"
    )
    return Proof(
        _key("max-accumulate", stage.block),
        title,
        rf"{_partial(stage.input)}_{{i,j}} = \sum_{{w \ni (i,j)}} "
        rf"[(i,j) = \operatorname{{argmax}}_w]"
        rf"\, {_partial(stage.output)}_{{w}}",
        True,
        f"the derived dL/d{stage.input} equals a NumPy reference (np.argmax per window, += over "
        f"windows) exactly on {samples} integer samples with ties",
        SAMPLED,
    )


ProofTask = tuple[str, Callable[[], "Proof | None"]]  # what it proves, and the prover


def proof_tasks(d: Derivation) -> list[ProofTask]:
    """Every pattern proof the spec at hand calls for, in the order the document shows them,
    not yet run (so that progress can be reported between them)."""
    tasks: list[ProofTask] = [
        ("head", lambda: prove_head_collapses(d)),
        ("stable loss", lambda: prove_stable_loss(d)),
    ]
    for stage in d.stages:
        if stage.geometry is None or stage.kind == "conv":
            continue
        where = f"{stage.kind} {stage.output}"
        if stage.kind == "maxpool":
            tasks.append((where, partial(prove_pool_routes_to_first_max, d, stage)))
            if stage.geometry.block.pool_step < stage.geometry.block.pool_size:
                tasks.append((where, partial(prove_max_pool_accumulates, d, stage)))
        elif stage.kind == "avgpool":
            tasks.append((where, partial(prove_average_pool_spreads, d, stage)))
        else:
            tasks.append((where, partial(prove_activation_derivative, d, stage)))
    for view in _conv_views(d):
        for what, prover in (
            ("dB", prove_bias_gradient),
            ("dW", prove_weight_gradient),
            ("d input", prove_input_gradient),
        ):
            tasks.append((f"{what} of block {view.block}", partial(prover, d, view)))
    return tasks


def _run(tasks: list[ProofTask]) -> list[Proof]:
    results = []
    for done, (what, prover) in enumerate(tasks):
        progress.step("proofs", done, len(tasks), what)
        proof = prover()
        if proof is not None:
            results.append(proof)
    progress.step("proofs", len(tasks), len(tasks))
    return results


def derivation_proofs(d: Derivation) -> list[Proof]:
    """Every pattern proof the spec at hand calls for, run, in the document's order."""
    return _run(proof_tasks(d))


def prove_all(
    d: Derivation, full_composition: bool | None = None, patterns: int = 1
) -> list[Proof]:
    """Run every proof. The full-composition proof runs by default only for small networks
    whose activations are piecewise linear, on `patterns` activation patterns (each costs
    about 0.4 s at 6x6)."""
    from .composition import prove_full_composition  # heavy; kept in its own module

    tasks = proof_tasks(d)
    if full_composition is None:
        linear = all(b.activation in ("relu", "leaky_relu", "identity") for b in d.spec.blocks)
        full_composition = linear and d.spec.symbolic_cost <= 400
    if full_composition:
        seeds = tuple(range(1, patterns + 1))
        tasks.append(("full composition", lambda: prove_full_composition(d, seeds=seeds)))
    return _run(tasks)


def check(d: Derivation, full_composition: bool | None = None, patterns: int = 1) -> list[Proof]:
    """Like prove_all, but raise ProofError when any proof fails."""
    results = prove_all(d, full_composition, patterns)
    failed = [p for p in results if not p.holds]
    if failed:
        raise ProofError("; ".join(str(p) for p in failed))
    return results
