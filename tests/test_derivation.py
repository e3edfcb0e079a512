"""The chain-rule derivation: what it finds, and the proofs that check it (and can fail)."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
import sympy as sp
from broken_rules import last_max_pool, with_rule

from symbp.proofs import ProofError, check, prove_all
from symbp.spec.model import NetworkSpec
from symbp.symbolic.derivation import derive
from symbp.symbolic.layers import indicator
from symbp.symbolic.symbols import object_array

SPECS = [
    NetworkSpec(),
    NetworkSpec((8, 8)),
    NetworkSpec((10, 10), (5, 5)),
    NetworkSpec((7, 7), (3, 3), 3, 2),
]


@pytest.fixture(scope="module")
def default():
    return derive()


def test_steps_walk_from_the_loss_to_the_input(default):
    order = [(s.stage.kind, s.target) for s in default.steps]
    assert order == [
        ("bce", "A2"),
        ("sigmoid", "Z2"),
        ("dense", "F"),
        ("dense", "W2"),
        ("dense", "B2"),
        ("flatten", "P1"),
        ("maxpool", "A1"),
        ("relu", "Z1"),
        ("conv", "X"),
        ("conv", "W1"),
        ("conv", "B1"),
    ]
    assert default.parameter_count == 15
    assert default.chain("W1") == ["L", "A2", "Z2", "F", "P1", "A1", "Z1", "W1"]


def test_gradients_have_the_shapes_of_their_parameters(default):
    for name, shape in NetworkSpec().parameter_shapes.items():
        assert default.gradients[name].shape == shape


def test_head_collapses_to_a2_minus_y(default):
    a2, y = sp.symbols("a2 y", real=True)
    assert sp.expand(default.head.result - (a2 - y)) == 0
    # SymPy's intermediate forms are kept for the document, not replaced by the answer.
    assert default.head.product.has(sp.exp)
    assert sp.expand(default.head.dprediction_in_output - a2 * (1 - a2)) == 0


def test_dw1_element_is_the_explicit_sum_of_16_products(default):
    expr = default.gradients["W1"][0, 1]
    assert isinstance(expr, sp.Add) and len(expr.args) == 16
    dz, x = default.gradient_symbols["dZ1"].symbols, default.quantities["X"].symbols
    assert sp.expand(expr - sum(dz[i, j] * x[i, j + 1] for i in range(4) for j in range(4))) == 0


def test_local_derivatives_come_from_sympy_diff(default):
    relu = next(s for s in default.steps if s.stage.kind == "relu")
    z = default.quantities["Z1"].symbols[1, 2]
    assert relu.local[((1, 2), (1, 2))] == sp.Piecewise((1, z > 0), (0, True))
    conv = next(s for s in default.steps if s.target == "W1")
    assert conv.local[((2, 1), (0, 2))] == default.quantities["X"].symbols[2, 3]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label)
def test_every_proof_holds(spec):
    proofs = check(derive(spec))
    assert all(p.holds for p in proofs)
    assert {p.key for p in proofs} >= {"dW1", "dB1", "dX", "head", "relu0", "ties", "stable-loss"}


def test_full_composition_proof_runs_for_the_default_network(default):
    keys = {p.key: p for p in prove_all(default, patterns=3)}
    assert (
        keys["composition"].holds
        and "All 15 parameters on 3 activation" in keys["composition"].detail
    )


@pytest.mark.parametrize("name, index, change", [("W1", (1, 2), 2), ("B2", (), 1)])
def test_full_composition_proof_reports_a_wrong_gradient(name, index, change):
    """A chain-rule gradient doubled (W1) or shifted by 1 (B2) no longer equals sympy.diff of
    the composed loss, and the proof says which parameter differs."""
    from dataclasses import replace

    from symbp.proofs.composition import prove_full_composition

    d = derive()
    gradients = {key: value.copy() for key, value in d.gradients.items()}
    wrong = gradients[name][index]
    gradients[name][index] = wrong * 2 if change == 2 else wrong + 1
    proof = prove_full_composition(replace(d, gradients=gradients), seeds=(1,))
    symbol = d.quantities[name].symbols[index]
    assert not proof.holds and f"d L/d {symbol} differs" in proof.detail


# ---------------------------------------------------------------- breaking things on purpose
def _failed(rules, spec=None):
    spec = spec if spec is not None else NetworkSpec()
    return {p.key: p for p in prove_all(derive(spec, rules), full_composition=False) if not p.holds}


def _elementwise(fn):
    def build(z, params, spec):
        out = object_array(z.shape)
        for index in np.ndindex(*z.shape):
            out[index] = fn(z[index])
        return out

    return build


def test_relu_with_heaviside_half_at_zero_is_caught():
    failed = _failed(with_rule("relu", _elementwise(lambda z: sp.Max(z, 0))))
    assert set(failed) == {"relu0"}
    assert "Heaviside" in failed["relu0"].detail and "1/2" in failed["relu0"].detail


def test_relu_derivative_one_at_zero_is_caught():
    failed = _failed(with_rule("relu", _elementwise(lambda z: z * indicator(z >= 0))))
    assert set(failed) == {"relu0"}


def test_pool_ties_to_the_last_maximum_are_caught():
    failed = _failed(with_rule("maxpool", last_max_pool))
    assert set(failed) == {"ties"}
    assert "route to [0, 0, 0, 1]" in failed["ties"].detail  # the all-equal window [0,0,0,0]


def test_flipped_kernel_is_caught_and_recognized():
    def flipped_conv(x, params, stage):
        spec = NetworkSpec()
        w, b = params["W1"], params["B1"][()]
        kh, kw = spec.filter_shape
        out = object_array(spec.conv_shape)
        for i, j in product(*(range(n) for n in spec.conv_shape)):
            out[i, j] = sp.Add(
                *(
                    x[i + p, j + q] * w[kh - 1 - p, kw - 1 - q]
                    for p in range(kh)
                    for q in range(kw)
                ),
                b,
            )
        return out

    failed = _failed(with_rule("conv", flipped_conv))
    assert set(failed) == {"dW1", "dX"}
    assert "it is the cross-correlation rotated by 180°" in failed["dW1"].detail


def test_check_raises_loudly():
    rules = with_rule("relu", _elementwise(lambda z: sp.Max(z, 0)))
    with pytest.raises(ProofError, match="ReLU'"):
        check(derive(NetworkSpec(), rules), full_composition=False)
