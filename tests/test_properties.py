"""Property-based tests (hypothesis): random valid networks and random inputs.

For every drawn network and batch: the compiled symbolic gradients equal the numeric engine,
equal central finite differences away from kinks, and satisfy invariants that hold for any
ReLU network of this shape:
  - dL/dB1 is the sum of dL/dZ1 (checked through the engine's dZ1),
  - Euler's relation for positively homogeneous maps: Z2 - B2 is homogeneous of degree 1 in
    (W1, B1) and in W2, so <W1, dW1> + B1 dB1 = <W2, dW2> = mean((A2 - Y)(Z2 - B2)).
"""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbp import derive, load
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import max_errors
from symbp.reference.verify import finite_difference_check, kink_margin
from symbp.spec.model import NetworkSpec

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def specs(draw: st.DrawFn) -> NetworkSpec:
    """Networks up to 11x11 whose pool windows tile the conv output exactly."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pool = draw(st.integers(1, 3))
    stride = draw(st.integers(1, pool))
    rows, cols = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    ch, cw = pool + stride * rows, pool + stride * cols
    return NetworkSpec((ch + kh - 1, cw + kw - 1), (kh, kw), pool, stride)


@functools.cache
def compiled(spec: NetworkSpec):
    return load(derive(spec))


def batch(spec: NetworkSpec, seed: int, m: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, *spec.input_shape))
    y = rng.uniform(0, 1, size=m)
    params = {name: rng.normal(size=shape) for name, shape in spec.parameter_shapes.items()}
    return x, y, params


def assert_close(a, b, rtol=1e-9, floor=1e-12):
    for name, (abs_err, rel_err) in max_errors(a, b, floor=floor).items():
        assert rel_err <= rtol, f"{name}: relative error {rel_err:.2e} (abs {abs_err:.2e})"


@SETTINGS
@given(spec=specs(), seed=st.integers(0, 2**32 - 1), m=st.integers(1, 9))
def test_compiled_equals_engine(spec, seed, m):
    x, y, params = batch(spec, seed, m)
    module, engine = compiled(spec), NumericNetwork(spec)
    assert_close(module.gradients(x, y, params), engine.gradients(x, y, params))
    assert_close(
        {"X": module.input_gradient(x, y, params)}, {"X": engine.input_gradient(x, y, params)}
    )
    assert abs(module.loss(x, y, params) - engine.loss(x, y, params)) <= 1e-12 * max(
        1.0, engine.loss(x, y, params)
    )


@settings(max_examples=60, deadline=None)
@given(spec=specs(), seed=st.integers(0, 2**32 - 1))
def test_compiled_equals_finite_differences_away_from_kinks(spec, seed):
    x, y, params = batch(spec, seed, 1)
    if kink_margin(spec, x, params) <= 1e-3:
        return  # a kink within reach of the step: differences mean nothing there
    for name, (_, rel_err) in finite_difference_check(compiled(spec), ("", x, y, params)).items():
        assert rel_err <= 1e-6, name


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), seed=st.integers(0, 2**32 - 1), m=st.integers(1, 9))
def test_bias_gradient_is_the_sum_of_dz1_and_euler_relation_holds(spec, seed, m):
    x, y, params = batch(spec, seed, m)
    grads = compiled(spec).gradients(x, y, params)
    engine = NumericNetwork(spec)
    dz1 = engine.intermediate_gradients(x, y, params)["Z1"]
    assert np.isclose(grads["B1"], dz1.sum(), rtol=1e-9, atol=1e-15)

    values = engine.forward(x, params)
    euler = np.mean((values["A2"] - y) * (values["Z2"] - params["B2"]))
    first = np.sum(params["W1"] * grads["W1"]) + params["B1"] * grads["B1"]
    second = np.sum(params["W2"] * grads["W2"])
    scale = max(abs(euler), 1e-300) + 1e-12 * (np.abs(params["W1"] * grads["W1"]).sum())
    assert abs(first - euler) <= 1e-9 * scale + 1e-14
    assert abs(second - euler) <= 1e-9 * scale + 1e-14
