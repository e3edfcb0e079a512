"""The index-form machinery under the laws: delta elimination, canonical conditions, the
instantiation engine. Each is compared with SymPy's own evaluation of concrete sums (an
independent reference: at concrete sizes `doit()` decides every delta and condition)."""

from __future__ import annotations

from itertools import product

import pytest
import sympy as sp

from symbp.laws import index_form as F
from symbp.laws.delta import (
    NotIndexForm,
    Term,
    bounds_for,
    eliminate,
    equation,
    inequality,
    same_terms,
    terms_of,
    to_expr,
)
from symbp.laws.instantiate import CompiledLaw, to_sympy

i, p, u = F.index("i"), F.index("p"), F.free_index("u")
N, K, S, P = F.size("N"), F.size("K"), F.S, F.P
d, x, w = sp.IndexedBase("d"), sp.IndexedBase("x"), sp.IndexedBase("w")


def concrete(expr: sp.Expr, values: dict) -> sp.Expr:
    """SymPy's own evaluation at concrete sizes: every sum expanded, every delta decided."""
    return sp.expand(expr.subs(values).doit())


def one_dim_loss() -> sp.Expr:
    """The issue's example: L = sum_i d_i sum_p [S i + p - P = r] x[r] w[p] (x zero-padded)."""
    r = F.index("r")
    padded = sp.Sum(sp.KroneckerDelta(S * i + p - P, r) * x[r], (r, 0, F.H - 1))
    return sp.Sum(d[i] * sp.Sum(padded * w[p], (p, 0, K - 1)), (i, 0, N - 1))


def test_the_issues_one_dimensional_example_becomes_a_transposed_convolution():
    raw = sp.diff(one_dim_loss(), x[u])
    (term,) = eliminate(terms_of(raw), ((u, 0, F.H - 1),))
    assert term.factor == d[i] * w[P - S * i + u]
    assert term.equations == frozenset()
    assert term.conditions == {inequality(u + P - S * i), inequality(K - 1 - (u + P - S * i))}
    lower, upper = bounds_for(i, term.conditions)
    assert upper == [sp.floor((P + u) / S)] and lower == [sp.ceiling((P + u - K + 1) / S)]


@pytest.mark.parametrize("sizes", [(5, 3, 1, 0), (6, 3, 2, 1), (7, 2, 3, 1), (4, 4, 1, 3)])
def test_elimination_agrees_with_sympy_at_concrete_sizes(sizes):
    h, k, s, pad = sizes
    n = (h + 2 * pad - k) // s + 1
    values = {F.H: h, K: k, S: s, P: pad, N: n}
    raw = sp.diff(one_dim_loss(), x[u])
    eliminated = to_expr(eliminate(terms_of(raw), ((u, 0, F.H - 1),)))
    nonzero = 0
    for position in range(h):
        expected = concrete(raw, {**values, u: position})
        assert concrete(eliminated, {**values, u: position}) == expected
        nonzero += expected != 0
    assert nonzero > 0  # the comparison is not between zeros only


def test_a_delta_without_a_unit_coefficient_stays_an_equation():
    expr = sp.Sum(sp.KroneckerDelta(2 * i, u) * d[i], (i, 0, N - 1))
    (term,) = eliminate(terms_of(expr))
    assert term.equations == {equation(2 * i - u)} and term.indices == (i,)
    for n, position in product(range(1, 5), range(8)):
        values = {N: n, u: position}
        assert concrete(to_expr([term]), values) == concrete(expr, values)


def test_canonical_conditions_over_the_integers():
    assert inequality(2 * i - 3) == i - 2  # 2i >= 3  <=>  i >= 2
    assert inequality(S * i - S) == i - 1  # a positive factor leaves the sign alone
    assert inequality(-S * i) == -i
    assert equation(2 * i - 3) == 1  # no integer solution: a nonzero number
    assert equation(u - i) == equation(i - u)
    for value in range(-5, 6):
        assert (2 * value - 3 >= 0) == (inequality(2 * i - 3).subs(i, value) >= 0)


def test_a_product_of_sums_with_the_same_index_is_renamed_apart():
    expr = sp.Sum(d[i], (i, 0, N - 1)) * sp.Sum(w[i], (i, 0, N - 1))
    (term,) = terms_of(expr)
    assert len(set(term.indices)) == 2
    compiled = CompiledLaw([term], (N,), ())
    (polynomial,) = compiled.evaluate({N: 3}).values()
    assert sp.expand(to_sympy(polynomial, lambda b, idx: sp.IndexedBase(b)[idx])) == concrete(
        expr, {N: 3}
    )


def test_shapes_outside_the_machinery_are_refused_not_guessed():
    with pytest.raises(NotIndexForm):
        terms_of(sp.Sum(d[i], (i, 0, N - 1)) ** 2)
    with pytest.raises(NotIndexForm):
        terms_of(sp.exp(sp.Sum(d[i], (i, 0, N - 1))))


def test_same_terms_is_up_to_index_names_only():
    j = F.index("j")
    a = Term(d[i], frozenset({inequality(u - i)}), limits=((i, 0, N - 1),))
    b = Term(d[j], frozenset({inequality(u - j)}), limits=((j, 0, N - 1),))
    c = Term(d[j], frozenset({inequality(u - j - 1)}), limits=((j, 0, N - 1),))
    assert same_terms([a], [b])
    assert not same_terms([a], [c])
    assert not same_terms([a], [b, b])


def test_the_compiled_engine_agrees_with_sympy():
    raw = sp.diff(one_dim_loss(), x[u])
    terms = eliminate(terms_of(raw), ((u, 0, F.H - 1),))
    sizes = (F.H, K, S, P, N)
    compiled = CompiledLaw(terms, sizes, ((u, 0, F.H - 1),))
    for h, k, s, pad in [(5, 3, 1, 0), (7, 3, 2, 1), (6, 2, 3, 1)]:
        values = {F.H: h, K: k, S: s, P: pad, N: (h + 2 * pad - k) // s + 1}
        for (position,), polynomial in compiled.evaluate(values).items():
            law = to_sympy(polynomial, lambda b, idx: sp.IndexedBase(b)[idx])
            assert sp.expand(law) == concrete(raw, {**values, u: position})


def test_polynomial_of_reads_only_plain_products_of_elements():
    from symbp.laws.instantiate import polynomial_of

    a, b = sp.symbols("a_0 a_1")
    read_of = {a: ("x", (0,)), b: ("x", (1,))}
    assert polynomial_of(3 * a * b + a**2 / 2, read_of) == {
        ((("x", (0,)), ("x", (1,))), None, ()): 3,
        ((("x", (0,)), ("x", (0,))), None, ()): sp.Rational(1, 2),
    }
    assert polynomial_of(sp.S.Zero, read_of) == {}
    assert polynomial_of(a * (a + b), read_of) is None  # not expanded: decided the slow way
    assert polynomial_of(a * sp.Symbol("c"), read_of) is None  # no element
    assert polynomial_of(a * sp.Piecewise((1, b > 0), (0, True)), read_of) is None
    assert polynomial_of(a / b, read_of) is None


def test_the_bridge_finds_a_single_wrong_element():
    """Tamper with one element of the derivation's dX: the comparison must name it."""
    from symbp import NetworkSpec, derive
    from symbp.laws import catalog
    from symbp.laws.bridge import binder, compare, conv_views

    d = derive(NetworkSpec((6, 6), padding=1))
    (view,) = conv_views(d)
    law = catalog.index_laws()["dX"]
    instantiated = law.compiled_derived.evaluate(view.sizes)
    _, expected = view.gradients["dX"]
    assert compare(instantiated, expected, binder(view.arrays))[0]
    for change in (lambda e: e + view.arrays["w"][0, 0, 0, 0], lambda e: 2 * e, lambda e: 0):
        tampered = expected.copy()
        tampered[0, 2, 3] = change(tampered[0, 2, 3])
        holds, detail, count = compare(instantiated, tampered, binder(view.arrays))
        assert not holds and detail.startswith("element [0, 2, 3] differs by") and count == 15
