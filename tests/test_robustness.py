"""Bad and extreme input: only clear errors, and finite numbers wherever mathematics allows."""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbp import derive, load
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import max_errors
from symbp.spec.model import NetworkSpec, SpecError, spec_from_strings


@functools.cache
def module():
    return load(derive(NetworkSpec()))


# ------------------------------------------------------------------------ parser fuzzing
@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=12),
    st.text(max_size=8),
    st.text(max_size=4),
    st.one_of(st.none(), st.text(max_size=4)),
)
def test_spec_parser_raises_only_spec_error(input_size, filter_size, pool, pool_stride):
    try:
        spec = spec_from_strings(input_size, filter_size, pool, pool_stride)
    except SpecError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert spec.parameter_count >= 4


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(st.integers(-3, 40), st.integers(-3, 40)),
    st.tuples(st.integers(-2, 8), st.integers(-2, 8)),
    st.integers(-2, 6),
    st.one_of(st.none(), st.integers(-2, 6)),
)
def test_spec_constructor_raises_only_spec_error(input_shape, filter_shape, pool, stride):
    with contextlib.suppress(SpecError):
        NetworkSpec(input_shape, filter_shape, pool, stride)


# ------------------------------------------------------------------------------ numerics
def _params(scale_w2: float = 1.0):
    rng = np.random.default_rng(3)
    return {
        "W1": rng.normal(size=(3, 3)),
        "B1": np.array(0.1),
        "W2": scale_w2 * rng.normal(size=(4, 1)),
        "B2": np.array(-0.2),
    }


@pytest.mark.parametrize("scale", [1e-150, 1e-50, 1.0, 1e50, 1e150])
def test_extreme_input_scales_stay_finite_and_match_the_engine(scale):
    rng = np.random.default_rng(1)
    x, y = scale * rng.normal(size=(6, 6, 6)), rng.uniform(0, 1, 6)
    params = _params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = module().loss(x, y, params)
        grads = module().gradients(x, y, params)
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    engine = NumericNetwork(NetworkSpec())
    for name, (_, rel) in max_errors(grads, engine.gradients(x, y, params)).items():
        assert rel <= 1e-9, name


@pytest.mark.parametrize("z2_scale", [1e2, 1e3])
def test_saturated_sigmoid_with_z2_in_the_thousands(z2_scale):
    rng = np.random.default_rng(2)
    x = np.abs(rng.normal(size=(8, 6, 6))) + 1
    params = _params()
    params["W1"] = np.abs(params["W1"])
    params["W2"] = np.full((4, 1), z2_scale)
    for y in (np.zeros(8), np.ones(8)):
        for sign in (1.0, -1.0):
            p = {**params, "W2": sign * params["W2"]}
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                loss, grads = module().loss(x, y, p), module().gradients(x, y, p)
            assert np.isfinite(loss)
            assert all(np.isfinite(g).all() for g in grads.values())


def test_float32_input_is_computed_in_float64():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 6, 6)).astype(np.float32)
    y = rng.integers(0, 2, 5).astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in _params().items()}
    grads = module().gradients(x, y, params)
    assert all(g.dtype == np.float64 for g in grads.values())
    reference = NumericNetwork(NetworkSpec()).gradients(
        x.astype(np.float64),
        y.astype(np.float64),
        {k: v.astype(np.float64) for k, v in params.items()},
    )
    for name, (_, rel) in max_errors(grads, reference).items():
        assert rel <= 1e-9, name


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "Y", "W1", "B2"])
def test_non_finite_anywhere_is_refused(bad, where):
    rng = np.random.default_rng(5)
    x, y, params = rng.normal(size=(3, 6, 6)), np.array([0.0, 1.0, 0.5]), _params()
    if where == "X":
        x[1, 2, 3] = bad
    elif where == "Y":
        y[2] = bad
    else:
        params[where] = np.array(params[where], dtype=float)
        params[where].flat[0] = bad
    for call in (module().gradients, module().loss, module().input_gradient):
        with pytest.raises(ValueError, match="NaN or infinity"):
            call(x, y, params)


@pytest.mark.parametrize("m", [1, 4, 5, 5000])
def test_non_finite_is_found_in_every_path(m):
    """Small batches take the pure-Python path, large ones the blocked one."""
    x = np.zeros((m, 6, 6))
    x[-1, 5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        module().gradients(x, np.zeros(m), _params())


def test_predict_validates_too():
    with pytest.raises(ValueError, match="X must have shape"):
        module().predict(np.zeros((2, 5, 5)), _params())


@pytest.mark.parametrize("bad", ["6x6", (6, 6), 6, {"input": "6x6"}])
def test_derive_refuses_what_is_not_a_spec(bad):
    with pytest.raises(SpecError, match="derive\\(\\) takes a NetworkSpec"):
        derive(bad)


def test_complex_input_is_refused_not_truncated():
    x = np.zeros((2, 6, 6), dtype=complex)
    with pytest.raises(ValueError, match="real numbers"):
        module().gradients(x, np.zeros(2), _params())


def test_regeneration_command_keeps_allow_large():

    big = NetworkSpec((90, 90), symbolic_budget=10**9)
    assert big.command_line().endswith("--allow-large")
    assert "--allow-large" not in NetworkSpec().command_line()
