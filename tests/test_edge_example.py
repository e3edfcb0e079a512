"""The edge-case worked example (issue 13, addition 1): its numbers recomputed in exact rational
arithmetic by a hand-written loop, its conventions broken on purpose, and the document's
gradient-check table compared with the engine, central differences and PyTorch."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from architectures import ARCHITECTURES

from symbp.codegen.module import load
from symbp.reference import gradient_table as table_module
from symbp.reference.edge import edge_example
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradient_table import gradient_table, table_points, torch_point_answers
from symbp.reference.torch_oracle import torch_available
from symbp.spec.model import NetworkSpec
from symbp.symbolic.derivation import derive

SPECS = dict(ARCHITECTURES)
EXACT = ["default-6x6", "leaky-default-6x6", "c3-f3-pad1-6x6", "stride2-9x9-f2", "c2-f2-6x6"]


def exact_block1(spec: NetworkSpec, ex: dict) -> dict:
    """Block 1 by hand in Fractions: Z1 and A1 (channel first) from X, W1, B1."""
    g = spec.geometry[0]
    block = g.block
    k, c = g.conv[0], g.input[0]
    (kh, kw), s, pad = block.filter_shape, block.stride, block.padding
    x = np.asarray(ex["X"]).reshape(c, *spec.input_shape)
    w = np.asarray(ex["params"]["W1"]).reshape(k, c, kh, kw)
    b = np.asarray(ex["params"]["B1"]).reshape(k)
    h, wd = spec.input_shape

    def pixel(ch: int, r: int, q: int) -> Fraction:
        inside = 0 <= r < h and 0 <= q < wd
        return Fraction(float(x[ch, r, q])) if inside else Fraction(0)

    z = np.empty(g.conv, dtype=object)
    for f in range(k):
        for i in range(g.conv[1]):
            for j in range(g.conv[2]):
                total = Fraction(float(b[f]))
                for ch in range(c):
                    for p in range(kh):
                        for q in range(kw):
                            weight = Fraction(float(w[f, ch, p, q]))
                            total += pixel(ch, i * s - pad + p, j * s - pad + q) * weight
                z[f, i, j] = total
    slope = Fraction(block.leaky_slope) if block.activation == "leaky_relu" else Fraction(0)
    a = np.vectorize(lambda v: v if v > 0 else slope * v, otypes=[object])(z)
    return {"Z1": z, "A1": a}


def routed(a: np.ndarray, dp: np.ndarray, spec: NetworkSpec, rule: str = "first") -> np.ndarray:
    """dA1 from dP1 by a hand loop: each window's gradient to its first (or last) maximum."""
    g = spec.geometry[0]
    size, step = g.block.pool_size, g.block.pool_step
    out = np.full(g.conv, Fraction(0), dtype=object)
    for ch, i, j in np.ndindex(*g.output):
        cells = [
            (i * step + p, j * step + q) for p in range(size) for q in range(size)
        ]  # row-major
        top = max(a[ch, r, q] for r, q in cells)
        winners = [cell for cell in cells if a[ch, cell[0], cell[1]] == top]
        r, q = winners[0] if rule == "first" else winners[-1]
        out[ch, r, q] += Fraction(float(dp[ch, i, j]))
    return out


def through_activation(z: np.ndarray, da: np.ndarray, spec: NetworkSpec, at_zero: Fraction):
    """dZ1 = act'(Z1) dA1 for ReLU-type activations, with act'(0) = `at_zero`."""
    block = spec.blocks[0]
    left = Fraction(block.leaky_slope) if block.activation == "leaky_relu" else Fraction(0)

    def slope(v: Fraction) -> Fraction:
        return Fraction(1) if v > 0 else left if v < 0 else at_zero

    return np.vectorize(lambda v, d: slope(v) * d, otypes=[object])(z, da)


def convention_zero(spec: NetworkSpec) -> Fraction:
    block = spec.blocks[0]
    return Fraction(block.leaky_slope) if block.activation == "leaky_relu" else Fraction(0)


def engine_arrays(spec: NetworkSpec, ex: dict) -> dict:
    g = spec.geometry[0]
    return {
        "Z1": ex["forward"]["Z1"].reshape(g.conv),
        "A1": ex["forward"]["A1"].reshape(g.conv),
        "dP1": ex["intermediate"]["P1"].reshape(g.output),
        "dA1": ex["intermediate"]["A1"].reshape(g.conv),
        "dZ1": ex["intermediate"]["Z1"].reshape(g.conv),
    }


def as_exact(array: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: Fraction(float(v)), otypes=[object])(array)


@pytest.mark.parametrize("name", EXACT)
def test_forward_is_exact_and_the_facts_hold(name):
    spec = SPECS[name]
    ex = edge_example(spec)
    exact, engine = exact_block1(spec, ex), engine_arrays(spec, ex)
    assert (as_exact(engine["Z1"]) == exact["Z1"]).all()  # every sum exact, not merely close
    # A leaky slope such as 0.01 is not dyadic: its product is the correctly rounded one
    assert (engine["A1"] == exact["A1"].astype(float)).all()
    f = ex["facts"]
    assert f.zero is not None and exact["Z1"][f.zero] == 0 and engine["dA1"][f.zero] != 0
    assert f.tie is not None and engine["A1"][f.tie] == engine["A1"][f.tie_other] > 0
    assert exact["A1"][f.tie] == exact["A1"][f.tie_other]
    assert f.tie < f.tie_other  # row-major: the first maximum gets the gradient


@pytest.mark.parametrize("name", EXACT)
def test_gradient_routing_is_the_convention(name):
    spec = SPECS[name]
    ex = edge_example(spec)
    exact, engine = exact_block1(spec, ex), engine_arrays(spec, ex)
    da = routed(exact["A1"], engine["dP1"], spec, "first")
    assert (as_exact(engine["dA1"]) == da).all()
    dz = through_activation(exact["Z1"], da, spec, convention_zero(spec))
    assert np.allclose(engine["dZ1"].astype(float), dz.astype(float), rtol=1e-15, atol=0)
    assert (engine["dZ1"] == 0).tolist() == (dz == 0).tolist()
    f = ex["facts"]
    assert engine["dA1"][f.tie_other] == 0 and engine["dA1"][f.tie] == engine["dP1"][f.window]


def test_broken_conventions_are_detected():
    """A tie sent to the last maximum, or ReLU'(0) = 1, disagrees with the engine exactly where
    the edge example put its tie and its zero."""
    spec = NetworkSpec()
    ex = edge_example(spec)
    exact, engine = exact_block1(spec, ex), engine_arrays(spec, ex)
    f = ex["facts"]
    last = routed(exact["A1"], engine["dP1"], spec, "last")
    wrong = as_exact(engine["dA1"]) != last
    assert wrong.any() and wrong[f.tie] and wrong[f.tie_other]
    first = routed(exact["A1"], engine["dP1"], spec, "first")
    relu_one = through_activation(exact["Z1"], first, spec, Fraction(1))
    wrong = as_exact(engine["dZ1"]) != relu_one
    assert wrong[f.zero] and wrong.sum() == 1  # only the exact zero differs
    half = through_activation(exact["Z1"], first, spec, Fraction(1, 2))  # Heaviside(0) = 1/2
    assert (as_exact(engine["dZ1"]) != half)[f.zero]


def test_the_default_edge_example():
    """The numbers the chapter shows for the default network (a regression that can fail)."""
    f = edge_example()["facts"]
    assert (f.tie, f.tie_other, f.window, f.zero) == ((0, 2, 3), (0, 3, 3), (0, 1, 1), (0, 2, 0))
    assert f.unread_rows == f.unread_cols == () and f.padding == 0


def test_unread_rows_and_columns_get_zero_gradient():
    spec = NetworkSpec(input_shape=(9, 9), filter_shape=(2, 2), stride=2, filters=2)
    ex = edge_example(spec)
    f = ex["facts"]
    assert f.unread_rows == (8,) and f.unread_cols == (8,)
    dx = ex["input_gradient"]
    assert not dx[8, :].any() and not dx[:, 8].any() and dx[:8, :8].any()  # (9, 9): 1 channel
    module = load(derive(spec))
    x, p = ex["X"][None], ex["params"]
    assert not module.input_gradient(x, np.array([1.0]), p)[0][8, :].any()


@pytest.mark.parametrize("name", [n for n, _ in ARCHITECTURES if n != "mnist-28x28"])
def test_every_spec_gets_an_edge_example(name):
    spec = SPECS[name]
    ex = edge_example(spec)
    f = ex["facts"]
    block = spec.blocks[0]
    if block.pool_type != "max" or not block.pooled:
        assert f.tie is None
    if block.activation not in ("relu", "leaky_relu"):
        assert f.zero is None
    if f.zero is not None:
        assert ex["forward"]["Z1"].reshape(spec.geometry[0].conv)[f.zero] == 0


# ----------------------------------------------------------------- the gradient-check table
@pytest.fixture(scope="module")
def default_table():
    spec = NetworkSpec()
    return spec, gradient_table(spec, load(derive(spec)))


def test_table_numbers_are_the_engines(default_table):
    spec, table = default_table
    net = NumericNetwork(spec)
    points = {name: (x, y, p) for name, x, y, p in table_points(spec)}
    assert [r.point for r in table["rows"]] == ["worked"] * 4 + ["edge"] * 4
    for row in table["rows"]:
        x, y, p = points[row.point]
        engine = net.gradients(x, y, p)[row.name]
        scale = float(np.max(np.abs(engine)))
        assert abs(row.module - float(np.asarray(engine)[row.index])) <= 1e-12 * scale
        assert float(np.max(np.abs(engine))) == pytest.approx(abs(row.module), rel=1e-12)
        if not row.kink:
            assert abs(row.central - row.module) <= 1e-6 * scale
        if row.torch is not None:
            assert abs(row.torch - float(np.asarray(engine)[row.index])) <= 1e-12 * scale
    assert table["passed"]


def test_kinks_are_marked_where_central_differences_fail(default_table):
    """At the edge point W1 and B1 sit on the exact zero: their central difference averages two
    one-sided slopes, and the table marks them instead of reporting a mismatch."""
    _, table = default_table
    kinks = {(r.point, r.name) for r in table["rows"] if r.kink}
    assert kinks == {("edge", "W1"), ("edge", "B1")}
    for row in table["rows"]:
        if row.kink:
            assert row.central_error > 1e-3 and row.status == "agree"  # a real gap, no failure


def test_a_wrong_module_is_caught(default_table):
    spec, _ = default_table
    module = load(derive(spec))

    class Off:
        loss = staticmethod(module.loss)

        @staticmethod
        def gradients(x, y, p):
            grads = module.gradients(x, y, p)
            return {**grads, "W2": grads["W2"] * 1.001}

    assert not gradient_table(spec, Off, torch_answers=None)["passed"]


@pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed")
def test_torch_column_is_pytorch(default_table):
    spec, table = default_table
    assert table["torch"]
    assert all(r.torch is not None and r.torch_error <= 1e-9 for r in table["rows"])


def test_without_torch_the_document_says_so(monkeypatch):
    from symbp.document.build import render_document, render_markdown
    from symbp.proofs import prove_all

    monkeypatch.setattr(table_module, "torch_available", lambda: False)
    spec = NetworkSpec()
    d = derive(spec)
    table = gradient_table(spec, load(d))
    assert not table["torch"] and all(r.torch is None for r in table["rows"])
    proofs = prove_all(d, full_composition=False)
    md = render_markdown(d, proofs, "t", checks=table)
    tex = render_document(d, proofs, "t", checks=table)
    sentence = "PyTorch was not installed when this document was generated"
    assert sentence in md and sentence in tex
    assert "| PyTorch |" not in md and "& PyTorch" not in tex
    with_torch = {**table, "torch": True}
    assert sentence not in render_markdown(d, proofs, "t", checks=with_torch)


def test_one_kink_on_the_line_is_one_sided_two_are_pytorchs(default_table):
    """At the edge point B1's line crosses only the zeros, and the module equals the slope from
    the left (ReLU'(0) = 0); W1's largest element also moves the tied window, and its value is
    neither slope (the table then leans on PyTorch alone)."""
    _, table = default_table
    edge = {r.name: r for r in table["rows"] if r.point == "edge"}
    assert edge["B1"].side == "left" and edge["B1"].one_sided_error < 1e-6
    assert edge["W1"].side is None and edge["W1"].one_sided_error > 1e-2


def _averaging(spec, table):
    """The module, but at the edge point B1's gradient is the central difference's value (as
    ReLU'(0) = 1/2 would give)."""
    module = load(derive(spec))
    central = {r.name: r.central for r in table["rows"] if r.point == "edge"}
    edge_x = table_points(spec)[1][1]

    class Averaging:
        loss = staticmethod(module.loss)

        @staticmethod
        def gradients(x, y, p):
            grads = dict(module.gradients(x, y, p))
            if np.array_equal(x, edge_x):
                grads["B1"] = np.full_like(np.asarray(grads["B1"], dtype=np.float64), central["B1"])
            return grads

    return Averaging


@pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed")
def test_a_module_averaging_at_the_kink_is_caught(default_table, monkeypatch):
    """Against PyTorch the averaged B1 differs; without it the row is unchecked, never agree."""
    spec, table = default_table
    averaging = _averaging(spec, table)
    caught = gradient_table(spec, averaging, torch_point_answers(spec))
    bad = [(r.point, r.name) for r in caught["rows"] if r.status != "agree"]
    assert not caught["passed"] and bad == [("edge", "B1")]
    monkeypatch.setattr(table_module, "torch_available", lambda: False)
    alone = {r.name: r.status for r in gradient_table(spec, averaging)["rows"] if r.point == "edge"}
    assert alone == {"W1": "unchecked", "B1": "unchecked", "W2": "agree", "B2": "agree"}


@pytest.mark.parametrize("name", [n for n, _ in ARCHITECTURES if n != "mnist-28x28"])
def test_the_edge_example_is_never_a_dead_network(name):
    """Among examples that show as many edge cases, the search keeps one whose gradient reaches
    block 1 (overlapping 3x3 pools once got one where every dZ1 was 0)."""
    ex = edge_example(SPECS[name])
    assert np.count_nonzero(ex["intermediate"]["Z1"]) > 0


def test_overlapping_pool_example_is_live_and_its_table_flags_all_zero_rows():
    from symbp.spec.config import load_config

    spec = load_config(
        str(Path(__file__).resolve().parent.parent / "examples/overlapping-pool.toml")
    )
    assert np.count_nonzero(edge_example(spec)["intermediate"]["Z1"]) > 0
    # a network whose gradient is all 0 at a point: the row says so instead of a bare "agree"
    module = load(derive(spec))

    class Dead:
        loss = staticmethod(module.loss)

        @staticmethod
        def gradients(x, y, p):
            return {k: np.zeros_like(np.asarray(v)) for k, v in module.gradients(x, y, p).items()}

    rows = gradient_table(spec, Dead, torch_answers=None)["rows"]
    assert all(r.all_zero for r in rows)


def test_the_words_fit_the_network():
    """No 'walks into the kinks' or 'exact tie' for a smooth network; channels named when the
    first block has several filters."""
    from symbp.document.build import render_markdown
    from symbp.proofs import prove_all

    def text(spec):
        d = derive(spec)
        return render_markdown(d, prove_all(d, full_composition=False), "t", checks=None)

    smooth = text(NetworkSpec(activation="tanh", pool_type="avg"))
    edge = smooth[smooth.index("Edge cases, worked") :]
    assert "walks into them" not in edge and "true tie" not in edge
    assert "The first block has no kink" in edge
    several = text(NetworkSpec(filters=2))
    edge = several[several.index("Edge cases, worked") :]
    assert "of channel" in edge


def test_the_search_is_bounded(monkeypatch):
    """A network whose edge cases cannot all occur (one-cell pool windows never tie; an
    overlapping pool here finds no zero) stops after MAX_TRIALS trials, not 36 x every response
    (a 28x28 image once took minutes)."""
    from symbp.reference import edge as edge_module

    calls = []
    real = edge_module.run
    monkeypatch.setattr(edge_module, "run", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(edge_module, "MAX_TRIALS", 50)
    edge_module._search.cache_clear()
    ex = edge_module.edge_example(NetworkSpec(input_shape=(14, 14), pool_size=1))
    assert ex["facts"].tie is None and ex["facts"].zero is not None  # no tie is possible
    edge_module._search.cache_clear()
    spec = SPECS["max-overlap-7x7-p3s2"]
    edge_module.edge_example(spec)
    assert len(calls) <= 1 + 50
    edge_module._search.cache_clear()
