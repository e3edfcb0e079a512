"""The numeric engine on the architecture matrix (tests/architectures.py) against PyTorch.

For every architecture: shapes and names of every quantity; engine vs PyTorch autograd in
float64 on a random batch (relative error <= 1e-9); and an integer case where pre-activations
hit exactly 0 and max-pool windows tie, where the two must agree to 1e-12 with identical zero
patterns (so ReLU'(0) = 0, leaky ReLU'(0) = slope and first-maximum tie-breaking are the
same on both sides). For a few smooth architectures, central finite differences as well.

PyTorch missing: these comparisons skip, unless SYMBP_REQUIRE_TORCH=1 (see conftest.py),
which turns a missing PyTorch into an error.
"""

from __future__ import annotations

import numpy as np
import pytest
from architectures import (
    ARCHITECTURE_IDS,
    ARCHITECTURE_SPECS,
    ARCHITECTURES,
    M,
    assert_close,
    integer_case,
    max_pool_ties,
    random_case,
)

from symbp.reference.engine import NumericNetwork, quantity_names
from symbp.reference.gradcheck import finite_difference_gradients, same_zero_pattern
from symbp.reference.torch_oracle import torch_available, torch_gradients
from symbp.spec.model import ACTIVATIONS, POOL_TYPES, NetworkSpec, squeeze

needs_torch = pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed")


def engine_result(spec, X, Y, params):
    net = NumericNetwork(spec)
    return net.loss(X, Y, params), net.gradients(X, Y, params), net.input_gradient(X, Y, params)


def compare_with_torch(spec, X, Y, params, tol: float, *, zero_pattern: bool) -> None:
    loss, grads, grad_x = engine_result(spec, X, Y, params)
    ref_loss, ref_grads, ref_grad_x = torch_gradients(spec, X, Y, params)
    assert loss == pytest.approx(ref_loss, rel=tol)
    assert {k: v.shape for k, v in ref_grads.items()} == spec.parameter_shapes
    assert ref_grad_x.shape == grad_x.shape
    assert_close(grads, ref_grads, tol)
    assert_close({"X": grad_x}, {"X": ref_grad_x}, tol)
    if zero_pattern:
        assert same_zero_pattern(grads, ref_grads)
        assert same_zero_pattern(grad_x, ref_grad_x)


# --------------------------------------------------------------------------- the matrix itself
def test_matrix_covers_every_option():
    specs = [spec for _, spec in ARCHITECTURES]
    blocks = [block for spec in specs for block in spec.blocks]
    assert len(ARCHITECTURES) >= 24

    def at_least_twice(values, wanted):
        counts = {v: sum(1 for x in values if x == v) for v in wanted}
        assert all(c >= 2 for c in counts.values()), counts

    at_least_twice([spec.channels for spec in specs], (1, 2, 3))
    at_least_twice([b.filters for b in blocks], (1, 2, 3))
    at_least_twice([b.stride for b in blocks], (1, 2, 3))
    at_least_twice([b.padding for b in blocks], (0, 1, 2))
    at_least_twice([b.activation for b in blocks], ACTIVATIONS)
    at_least_twice([b.pool_type for b in blocks], POOL_TYPES)
    leaky = [b.leaky_slope for b in blocks if b.activation == "leaky_relu"]
    assert len({s for s in leaky if s != 0.01}) >= 2 and 0.01 in leaky
    assert sum(b.pooled and b.pool_step < b.pool_size for b in blocks) >= 2
    assert sum(spec.input_shape[0] != spec.input_shape[1] for spec in specs) >= 2
    assert sum(b.filter_shape[0] != b.filter_shape[1] for b in blocks) >= 2
    several = [spec for spec in specs if spec.n_blocks > 1]
    assert len(several) >= 5
    assert any(spec.channels > 1 for spec in several)
    several_blocks = [b for spec in several for b in spec.blocks]
    assert {"max", "avg", "none"} <= {b.pool_type for b in several_blocks}
    assert any(b.stride > 1 for b in several_blocks) and any(b.padding for b in several_blocks)
    assert any(spec.input_shape == (28, 28) for spec in specs)


def test_earlier_blocks_compute_exactly_on_integers():
    """What integer_case relies on: every block but the last maps integers to numbers whose
    sums and products stay exact (power-of-two leaky slopes, avg-pools of 4 pixels)."""
    for _, spec in ARCHITECTURES:
        for block in spec.blocks[:-1]:
            assert block.activation in ("relu", "identity", "leaky_relu")
            if block.activation == "leaky_relu":
                assert np.log2(block.leaky_slope).is_integer()
            if block.pool_type == "avg":
                assert block.pool_size in (1, 2)


# --------------------------------------------------------------------------- shapes and names
def test_default_network_names():
    assert quantity_names(NetworkSpec()) == ("Z1", "A1", "P1", "F", "Z2", "A2")
    net = NumericNetwork(NetworkSpec())
    assert net.quantity_names() == ("Z1", "A1", "P1", "F", "Z2", "A2")
    assert net.intermediate_names() == ("Z1", "A1", "P1", "F", "Z2")


@pytest.mark.parametrize("arch", ARCHITECTURE_IDS)
def test_shapes_and_names(arch):
    spec = ARCHITECTURE_SPECS[arch]
    X, Y, params = random_case(spec, 1)
    net = NumericNetwork(spec)
    expected: dict[str, tuple[int, ...]] = {}
    for n, geometry in enumerate(spec.geometry, start=1):
        expected[f"Z{n}"] = expected[f"A{n}"] = (M, *squeeze(geometry.conv))
        if geometry.block.pooled:
            expected[f"P{n}"] = (M, *squeeze(geometry.output))
    dense = spec.n_blocks + 1
    expected |= {"F": (M, spec.n_features), f"Z{dense}": (M,), f"A{dense}": (M,)}
    values = net.forward(X, params)
    assert tuple(values) == net.quantity_names() == tuple(expected)
    assert {k: v.shape for k, v in values.items()} == expected
    # F is the last block's output flattened row-major over (filters, rows, cols)
    last = list(values)[-4]
    np.testing.assert_array_equal(values["F"], values[last].reshape(M, -1))

    inter = net.intermediate_gradients(X, Y, params)
    # in backward order, as the layers hand the gradient on: dL/dZ_out first
    assert tuple(inter) == net.intermediate_names()[::-1] == tuple(expected)[-2::-1]
    assert {k: v.shape for k, v in inter.items()} == {k: expected[k] for k in inter}
    np.testing.assert_allclose(inter[f"Z{dense}"], (values[f"A{dense}"] - Y) / M, rtol=1e-15)
    for n, block in enumerate(spec.blocks, start=1):
        if block.pooled:  # max and avg pools both pass on all of a window's gradient
            assert inter[f"A{n}"].sum() == pytest.approx(inter[f"P{n}"].sum(), rel=1e-9, abs=1e-15)

    grads = net.gradients(X, Y, params)
    assert {k: v.shape for k, v in grads.items()} == spec.parameter_shapes
    assert net.input_gradient(X, Y, params).shape == (M, *spec.image_shape)
    assert net.loss(X, Y, params) == pytest.approx(
        float(np.mean(-Y * np.log(values[f"A{dense}"]) - (1 - Y) * np.log1p(-values[f"A{dense}"])))
    )


def test_wrong_image_shape_is_rejected():
    spec = ARCHITECTURE_SPECS["c2-f2-6x6"]
    X, Y, params = random_case(spec, 0)
    with pytest.raises(ValueError, match=r"X must have shape \(M, 2, 6, 6\)"):
        NumericNetwork(spec).loss(X[:, 0], Y, params)
    with pytest.raises(ValueError, match="W1 must have shape"):
        NumericNetwork(spec).loss(X, Y, {**params, "W1": params["W1"][0]})


# --------------------------------------------------------------------------- against PyTorch
@needs_torch
@pytest.mark.parametrize("arch", ARCHITECTURE_IDS)
def test_engine_matches_torch_random(arch):
    spec = ARCHITECTURE_SPECS[arch]
    X, Y, params = random_case(spec, 7)
    compare_with_torch(spec, X, Y, params, 1e-9, zero_pattern=False)


@needs_torch
@pytest.mark.parametrize("arch", ARCHITECTURE_IDS)
def test_engine_matches_torch_ties_and_zeros(arch):
    spec = ARCHITECTURE_SPECS[arch]
    X, Y, params = integer_case(spec, 13)
    values = NumericNetwork(spec).forward(X, params)
    assert all(np.any(values[f"Z{n}"] == 0) for n in range(1, spec.n_blocks + 1))
    if any(
        b.pool_type == "max" and b.activation == "relu" and b.pool_size > 1 for b in spec.blocks
    ):
        assert max_pool_ties(spec, values) > 0  # windows of zeros at least
    compare_with_torch(spec, X, Y, params, 1e-12, zero_pattern=True)


# --------------------------------------------------------------------------- finite differences
SMOOTH = ["tanh-avg-overlap-7x7", "identity-avg-pad2-5x5-overlap"]
SMOOTH += ["two-blocks-c3-identity-avg-sigmoid-none"]


@pytest.mark.parametrize("arch", SMOOTH)
def test_engine_matches_finite_differences(arch):
    """Smooth networks (no ReLU, no max-pool): central differences with step 1e-5 are good to
    about 1e-10 absolute; entries below 1 % of their parameter's largest are judged against
    that 1 % (floor=1e-2)."""
    spec = ARCHITECTURE_SPECS[arch]
    assert all(b.activation != "relu" and b.pool_type != "max" for b in spec.blocks)
    X, Y, params = random_case(spec, 3, m=2)
    net = NumericNetwork(spec)
    numeric = finite_difference_gradients(lambda p: net.loss(X, Y, p), params, eps=1e-5)
    assert_close(net.gradients(X, Y, params), numeric, 1e-6, floor=1e-2)
    numeric_x = finite_difference_gradients(
        lambda p: net.loss(p["X"], Y, params), {"X": X}, eps=1e-5
    )
    assert_close({"X": net.input_gradient(X, Y, params)}, numeric_x, 1e-6, floor=1e-2)
