"""Pooling: max-pool routes each window's gradient to its first maximum (ties as PyTorch),
overlapping windows accumulate, and average pooling spreads the gradient evenly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import product

import numpy as np
import sympy as sp

from symbp.symbolic import patterns
from symbp.symbolic.derivation import Derivation, Step
from symbp.symbolic.layers import Stage, is_indicator

from .result import (
    EXHAUSTIVE,
    SAMPLED,
    Proof,
    compare,
    elements_of,
    formula,
    grad,
    partial_of,
    proof_key,
)


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
    key, title = (
        proof_key("ties", stage.block),
        "Max-pool ties route to the first maximum (row-major)",
    )
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
        return Proof.of(
            key,
            (title,),
            statement,
            False,
            ("The local derivatives are not 0/1 indicators: ", formula(sp.Tuple(*derivatives))),
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
                f"Window values {list(values)} route to {got}, expected {expected}",
                method,
            )
    return Proof(
        key,
        title,
        statement,
        True,
        f"All {checked} window values ({described}, ties included) route the whole gradient "
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
    holds, detail = compare(actual, elements_of(expected), grad(stage.input))
    overlap = g.block.pool_step < g.block.pool_size
    return Proof.of(
        proof_key("avg-spread", stage.block),
        (
            "Average pool spreads each window's gradient evenly (",
            formula(sp.Rational(1, size)),
            " to each cell)" + ("; overlapping windows add up" if overlap else ""),
        ),
        rf"{partial_of(stage.input)}_{{i,j}} = \sum_{{\text{{windows }} w \ni (i,j)}} "
        rf"\frac{{1}}{{{size}}} {partial_of(stage.output)}_{{w}}",
        holds,
        detail,
    )


def prove_max_pool_accumulates(d: Derivation, stage: Stage) -> Proof | None:
    """The whole layer's dA, as a function, equals an independent NumPy routing on samples.

    Every sampled layer input is drawn from {0, 1, 2} (ties everywhere), dP from small
    integers; the reference loops over windows, takes np.argmax (the first maximum) and adds
    dP there, so overlapping windows accumulate. Exact integers: equality is exact. Disjoint
    windows need no such proof (the tie proof covers each window alone): None.
    """
    assert stage.geometry is not None and stage.block is not None
    g = stage.geometry
    if g.block.pool_step >= g.block.pool_size:
        return None
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
                proof_key("max-accumulate", stage.block),
                "Max-pool gradients accumulate over overlapping windows",
                "",
                False,
                f"At {list(index)}: derived {got[index]:g}, reference {expected[index]}",
                SAMPLED,
            )
    overlap = g.block.pool_step < g.block.pool_size
    title = (
        "Overlapping max-pool windows accumulate: each cell gets the sum over the windows it wins"
        if overlap
        else "Max-pool routes each window's gradient to its first maximum, windows disjoint"
    )
    return Proof.of(
        proof_key("max-accumulate", stage.block),
        (title,),
        rf"{partial_of(stage.input)}_{{i,j}} = \sum_{{w \ni (i,j)}} "
        rf"[(i,j) = \operatorname{{argmax}}_w]"
        rf"\, {partial_of(stage.output)}_{{w}}",
        True,
        (
            "The derived ",
            grad(stage.input),
            " equals a NumPy reference (the first maximum of each window by np.argmax, added "
            f"up over windows) exactly on {samples} integer samples with ties",
        ),
        SAMPLED,
    )
