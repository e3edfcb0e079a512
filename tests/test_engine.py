"""The numeric engine against three independent references.

(a) A deliberately slow pure-Python reference in this file: explicit loops, Python floats,
    `math` functions, no NumPy in the arithmetic. Agreement to 1e-12 relative.
(b) Central finite differences (symbp.reference.gradcheck), on random data kept away from kinks.
(c) PyTorch autograd (symbp.reference.torch_oracle), including crafted cases where the conventions
    matter: tied pool windows, Z1 exactly 0, a saturated sigmoid, labels 0 and 1.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import finite_difference_gradients, max_errors, same_zero_pattern
from symbp.reference.torch_oracle import INSTALL_HINT, torch_available, torch_gradients
from symbp.spec.model import NetworkSpec

SPECS = {
    "6x6-f3-p2": NetworkSpec((6, 6), (3, 3), 2),
    "8x8-f3-p2": NetworkSpec((8, 8), (3, 3), 2),
    "10x10-f5-p2": NetworkSpec((10, 10), (5, 5), 2),
    "7x7-f3-p3s2-overlap": NetworkSpec((7, 7), (3, 3), 3, 2),  # conv 5x5 -> pool 2x2
    "6x9-f3x2-p2-rect": NetworkSpec((6, 9), (3, 2), 2),  # conv 4x8 -> pool 2x4
}
SPEC_IDS = list(SPECS)

needs_torch = pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed")


# --------------------------------------------------------------------------- helpers
def random_case(spec: NetworkSpec, seed: int, m: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, *spec.input_shape))
    Y = rng.integers(0, 2, size=m).astype(np.float64)
    params = {name: rng.normal(size=shape) for name, shape in spec.parameter_shapes.items()}
    params["B1"] = np.asarray(0.1)  # a little positive bias keeps some of Z1 alive
    return X, Y, params


def assert_close(actual: dict, expected: dict, tol: float, floor: float = 1e-12) -> None:
    errors = max_errors(actual, expected, floor=floor)
    worst = {name: rel for name, (_, rel) in errors.items()}
    assert all(rel <= tol for rel in worst.values()), f"relative errors {worst} > {tol}"


def engine_result(spec, X, Y, params):
    net = NumericNetwork(spec)
    return net.loss(X, Y, params), net.gradients(X, Y, params), net.input_gradient(X, Y, params)


# --------------------------------------------------------------------------- (a) loop reference
def loop_reference(spec: NetworkSpec, X, Y, params):
    """Loss, parameter gradients and dL/dX by explicit loops over every image and pixel."""
    X = [[[float(v) for v in row] for row in image] for image in np.asarray(X)]
    Y = [float(v) for v in np.asarray(Y).reshape(-1)]
    w1 = [[float(v) for v in row] for row in np.asarray(params["W1"])]
    b1 = float(params["B1"])
    w2 = [float(v) for v in np.asarray(params["W2"]).reshape(-1)]
    b2 = float(params["B2"])
    (h, w), (kh, kw) = spec.input_shape, spec.filter_shape
    ch, cw = h - kh + 1, w - kw + 1
    p, s = spec.pool_size, spec.pool_step
    ph, pw = (ch - p) // s + 1, (cw - p) // s + 1
    m = len(X)

    loss = 0.0
    dw1 = [[0.0] * kw for _ in range(kh)]
    db1 = 0.0
    dw2 = [0.0] * (ph * pw)
    db2 = 0.0
    dx = [[[0.0] * w for _ in range(h)] for _ in range(m)]
    for n in range(m):
        # forward: cross-correlation, ReLU, max-pool remembering the first maximum
        z1 = [[0.0] * cw for _ in range(ch)]
        for i in range(ch):
            for j in range(cw):
                total = b1
                for a in range(kh):
                    for b in range(kw):
                        total += X[n][i + a][j + b] * w1[a][b]
                z1[i][j] = total
        a1 = [[z if z > 0 else 0.0 for z in row] for row in z1]
        features, chosen = [], []
        for i in range(ph):
            for j in range(pw):
                best, where = None, None
                for a in range(p):
                    for b in range(p):
                        value = a1[i * s + a][j * s + b]
                        if best is None or value > best:  # strict: ties keep the first
                            best, where = value, (i * s + a, j * s + b)
                features.append(best)
                chosen.append(where)
        z2 = b2
        for k in range(len(features)):
            z2 += features[k] * w2[k]
        e = math.exp(-abs(z2))
        a2 = 1.0 / (1.0 + e) if z2 >= 0 else e / (1.0 + e)
        loss += max(z2, 0.0) - Y[n] * z2 + math.log1p(e)

        # backward
        dz2 = (a2 - Y[n]) / m
        db2 += dz2
        da1 = [[0.0] * cw for _ in range(ch)]
        for k in range(len(features)):
            dw2[k] += dz2 * features[k]
            r, c = chosen[k]
            da1[r][c] += dz2 * w2[k]
        for i in range(ch):
            for j in range(cw):
                dz1 = da1[i][j] if z1[i][j] > 0 else 0.0
                db1 += dz1
                for a in range(kh):
                    for b in range(kw):
                        dw1[a][b] += dz1 * X[n][i + a][j + b]
                        dx[n][i + a][j + b] += dz1 * w1[a][b]
    grads = {
        "W1": np.array(dw1),
        "B1": np.array(db1),
        "W2": np.array(dw2).reshape(-1, 1),
        "B2": np.array(db2),
    }
    return loss / m, grads, np.array(dx)


@pytest.mark.parametrize("spec_id", SPEC_IDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_engine_matches_loop_reference(spec_id, seed):
    spec = SPECS[spec_id]
    X, Y, params = random_case(spec, seed)
    loss, grads, grad_x = engine_result(spec, X, Y, params)
    ref_loss, ref_grads, ref_grad_x = loop_reference(spec, X, Y, params)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert {k: v.shape for k, v in grads.items()} == spec.parameter_shapes
    assert_close(grads, ref_grads, 1e-12)
    assert_close({"X": grad_x}, {"X": ref_grad_x}, 1e-12)
    assert same_zero_pattern(grad_x, ref_grad_x)


def test_forward_shapes_and_intermediate_gradients():
    spec = SPECS["7x7-f3-p3s2-overlap"]
    X, Y, params = random_case(spec, 3, m=5)
    net = NumericNetwork(spec)
    values = net.forward(X, params)
    ch, cw = spec.conv_shape
    ph, pw = spec.pool_shape
    expected = {"Z1": (5, ch, cw), "A1": (5, ch, cw), "P1": (5, ph, pw)}
    expected |= {"F": (5, spec.n_features), "Z2": (5,), "A2": (5,)}
    assert {k: v.shape for k, v in values.items()} == expected
    np.testing.assert_array_equal(values["F"], values["P1"].reshape(5, -1))
    inter = net.intermediate_gradients(X, Y, params)
    assert {k: v.shape for k, v in inter.items()} == {k: expected[k] for k in inter}
    assert set(inter) == {"Z2", "F", "P1", "A1", "Z1"}
    np.testing.assert_allclose(inter["Z2"], (values["A2"] - Y) / 5, rtol=1e-15)
    # dL/dZ1 is dL/dA1 where Z1 > 0 and exactly 0 elsewhere (ReLU'(0) = 0).
    np.testing.assert_array_equal(inter["Z1"], np.where(values["Z1"] > 0, inter["A1"], 0.0))
    # Every pool window routes all of its gradient: totals are conserved.
    assert inter["A1"].sum() == pytest.approx(inter["P1"].sum(), rel=1e-12)


def test_engine_rejects_wrong_shapes():
    spec = SPECS["6x6-f3-p2"]
    X, Y, params = random_case(spec, 0)
    net = NumericNetwork(spec)
    with pytest.raises(ValueError, match="X must have shape"):
        net.loss(X[:, :5], Y, params)
    with pytest.raises(ValueError, match="W2 must have shape"):
        net.loss(X, Y, {**params, "W2": params["W2"].ravel()})
    with pytest.raises(ValueError, match="one label per image"):
        net.loss(X, Y[:-1], params)


# --------------------------------------------------------------------------- (b) finite differences
def kink_margin(spec: NetworkSpec, X, params) -> float:
    """Distance to the nearest kink: min |Z1| and the gap between first and second place in
    every pool window whose maximum is positive (a zero window stays zero under small nudges)."""
    values = NumericNetwork(spec).forward(X, params)
    p, s = spec.pool_size, spec.pool_step
    windows = sliding_window_view(values["A1"], (p, p), axis=(1, 2))[:, ::s, ::s]
    ranked = np.sort(windows.reshape(*windows.shape[:3], p * p), axis=-1)
    live = ranked[..., -1] > 0
    gap = (ranked[..., -1] - ranked[..., -2])[live]
    return float(min(np.abs(values["Z1"]).min(), gap.min(initial=np.inf)))


def smooth_case(spec: NetworkSpec, seed: int):
    """A random case whose Z1 and pool choices cannot flip under a 1e-6 nudge."""
    for attempt in range(100):
        X, Y, params = random_case(spec, 1000 * seed + attempt, m=3)
        if kink_margin(spec, X, params) > 1e-3:
            return X, Y, params
    raise AssertionError("no kink-free random case found")


@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_engine_matches_finite_differences(spec_id):
    """Central differences are only accurate to about 1e-10 of a gradient's scale in absolute
    terms (rounding in the loss / step), and some true entries are far smaller than that (a
    dX pixel reached only by a nearly-dead Z1), so entries below 1 % of their parameter's
    largest are judged against that 1 % (floor=1e-2): abs error <= 1e-9 of the scale for them,
    relative error <= 1e-7 for the rest. The step 1e-5 (not 1e-6) halves the rounding error;
    the data keep every Z1 and pool choice 1e-3 away from a kink, far beyond the step."""
    spec = SPECS[spec_id]
    X, Y, params = smooth_case(spec, 7)
    net = NumericNetwork(spec)
    numeric = finite_difference_gradients(lambda p: net.loss(X, Y, p), params, eps=1e-5)
    assert_close(net.gradients(X, Y, params), numeric, 1e-7, floor=1e-2)
    numeric_x = finite_difference_gradients(
        lambda p: net.loss(p["X"], Y, params), {"X": X}, eps=1e-5
    )
    assert_close({"X": net.input_gradient(X, Y, params)}, numeric_x, 1e-7, floor=1e-2)


# --------------------------------------------------------------------------- (c) PyTorch
def check_against_references(spec, X, Y, params, *, zero_pattern: bool):
    """Engine vs loop reference (1e-12) and, when available, vs PyTorch (1e-10)."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grads, grad_x = engine_result(spec, X, Y, params)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())
    references = [("loops", loop_reference(spec, X, Y, params), 1e-12)]
    if torch_available():
        references.append(("torch", torch_gradients(spec, X, Y, params), 1e-10))
    for name, (ref_loss, ref_grads, ref_grad_x), tol in references:
        assert loss == pytest.approx(ref_loss, rel=tol), name
        assert_close(grads, ref_grads, tol)
        assert_close({"X": grad_x}, {"X": ref_grad_x}, tol)
        if zero_pattern:
            assert same_zero_pattern(grads, ref_grads), name
            assert same_zero_pattern(grad_x, ref_grad_x), name
    return grads, grad_x


@needs_torch
@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_engine_matches_torch_random(spec_id):
    spec = SPECS[spec_id]
    X, Y, params = random_case(spec, 11, m=6)
    check_against_references(spec, X, Y, params, zero_pattern=True)


@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_all_pool_windows_tied_constant_z1(spec_id):
    """W1 = 0, B1 = 0.5: Z1 is 0.5 everywhere, so every window is a tie; only the first pixel
    of each window may receive gradient, which dW1 (a sum of X at those pixels) reveals."""
    spec = SPECS[spec_id]
    X, Y, params = random_case(spec, 21)
    params |= {"W1": np.zeros(spec.filter_shape), "B1": np.asarray(0.5)}
    assert np.all(NumericNetwork(spec).forward(X, params)["Z1"] == 0.5)
    check_against_references(spec, X, Y, params, zero_pattern=True)


@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_all_pool_windows_tied_constant_image(spec_id):
    """X = 1 with an integer filter makes Z1 an exact constant 2 (no rounding anywhere), so
    every window ties; dX shows which pixels received the gradient."""
    spec = SPECS[spec_id]
    X, Y, params = random_case(spec, 22)
    w1 = np.random.default_rng(5).integers(-3, 4, size=spec.filter_shape).astype(float)
    params |= {"W1": w1, "B1": np.asarray(2.0 - w1.sum())}
    X = np.ones_like(X)
    inter = NumericNetwork(spec).intermediate_gradients(X, Y, params)
    # first pixel of each window only (overlapping windows may share it)
    p, s = spec.pool_size, spec.pool_step
    ph, pw = spec.pool_shape
    chosen = np.zeros(spec.conv_shape, dtype=bool)
    chosen[: s * (ph - 1) + 1 : s, : s * (pw - 1) + 1 : s] = True
    assert np.array_equal(inter["A1"][0] != 0, chosen) or p == 1
    check_against_references(spec, X, Y, params, zero_pattern=True)


@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_z1_exactly_zero(spec_id):
    """Small integers make many Z1 exactly 0 (ReLU'(0) = 0 must hold) and many pool ties."""
    spec = SPECS[spec_id]
    rng = np.random.default_rng(31)
    X = rng.integers(-1, 2, size=(5, *spec.input_shape)).astype(float)
    Y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    W1 = rng.integers(-1, 2, size=spec.filter_shape).astype(float)
    W1.flat[0] = 1.0  # never the zero filter
    params = {
        "W1": W1,
        "B1": np.asarray(0.0),
        "W2": rng.normal(size=(spec.n_features, 1)),
        "B2": np.asarray(0.3),
    }
    z1 = NumericNetwork(spec).forward(X, params)["Z1"]
    assert np.any(z1 == 0) and np.any(z1 > 0)
    check_against_references(spec, X, Y, params, zero_pattern=True)


@pytest.mark.parametrize("b2", [500.0, -500.0])
@pytest.mark.parametrize("labels", ["zeros", "ones", "mixed"])
def test_saturated_sigmoid(b2, labels):
    """|Z2| ~ 500: A2 is 1 exactly or ~1e-218; loss and gradients stay finite, warning-free
    (even underflow raises here), and agree with the references."""
    spec = SPECS["6x6-f3-p2"]
    X, _, params = random_case(spec, 41)
    params["B2"] = np.asarray(b2)
    params["W2"] = params["W2"] * 0.1
    Y = {"zeros": np.zeros(4), "ones": np.ones(4), "mixed": np.array([0.0, 1.0, 0.0, 1.0])}[labels]
    z2 = NumericNetwork(spec).forward(X, params)["Z2"]
    assert np.all(np.abs(z2) > 490)
    check_against_references(spec, X, Y, params, zero_pattern=True)


def test_saturated_sigmoid_mixed_signs():
    """Both saturated sides in one batch: W2 is solved for so that Z2 hits chosen logits.
    Every |Z2| >= 120, so each (A2 - Y) is 0, +-1 or ~1e-196 and no per-image term is a
    near-cancellation that would make a 1e-10 relative comparison meaningless."""
    spec = SPECS["8x8-f3-p2"]
    X, _, params = random_case(spec, 43, m=6)
    Y = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    target = np.array([-300.0, 250.0, -450.0, 400.0, -120.0, 600.0])
    params["B2"] = np.asarray(0.0)
    features = NumericNetwork(spec).forward(X, params)["F"]
    params["W2"] = np.linalg.lstsq(features, target, rcond=None)[0][:, None]
    z2 = NumericNetwork(spec).forward(X, params)["Z2"]
    np.testing.assert_allclose(z2, target, rtol=1e-8)
    check_against_references(spec, X, Y, params, zero_pattern=True)


@pytest.mark.parametrize("z2", [1000.0, -1000.0])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_no_numpy_warnings_at_extreme_logits(z2, y):
    """|Z2| = 1000: exp(-1000) underflows to exactly 0, the correctly rounded answer, so
    underflow is allowed; overflow, division by zero and invalid operations are not."""
    spec = SPECS["6x6-f3-p2"]
    X, _, params = random_case(spec, 51)
    params |= {"W2": params["W2"] * 1e-3, "B2": np.asarray(z2)}
    Y = np.full(4, y)
    net = NumericNetwork(spec)
    with np.errstate(all="raise", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        values = net.forward(X, params)
        loss = net.loss(X, Y, params)
        grads = net.gradients(X, Y, params)
        grad_x = net.input_gradient(X, Y, params)
    assert set(values["A2"]) == {1.0 if z2 > 0 else 0.0}
    wrong = (z2 > 0) != (y == 1.0)
    assert loss == pytest.approx(abs(z2), rel=1e-5) if wrong else loss == 0.0
    assert np.all(np.isfinite(grad_x)) and all(np.all(np.isfinite(g)) for g in grads.values())
    if not wrong:  # sigmoid saturated on the right side: the gradient is exactly zero
        assert all(np.all(g == 0) for g in grads.values()) and np.all(grad_x == 0)


# --------------------------------------------------------------------------- torch oracle API
@needs_torch
def test_torch_breaks_pool_ties_at_first_maximum():
    """Documents the convention the oracle relies on, straight from PyTorch."""
    import torch

    a = torch.tensor([[[[1.0, 3.0], [3.0, 3.0]]]], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.max_pool2d(a, kernel_size=2).sum().backward()
    assert a.grad.tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]]
    b = torch.tensor([0.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.relu(b).sum().backward()
    assert b.grad.tolist() == [0.0, 1.0]


@needs_torch
def test_torch_float32_is_close():
    spec = SPECS["6x6-f3-p2"]
    X, Y, params = random_case(spec, 61)
    loss64, grads64, gx64 = torch_gradients(spec, X, Y, params)
    loss32, grads32, gx32 = torch_gradients(spec, X, Y, params, dtype="float32")
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    assert all(g.dtype == np.float64 for g in grads32.values())
    assert_close(grads32, grads64, 1e-4)


def test_torch_missing_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert not torch_available()
    spec = SPECS["6x6-f3-p2"]
    X, Y, params = random_case(spec, 0)
    with pytest.raises(RuntimeError) as error:
        torch_gradients(spec, X, Y, params)
    assert str(error.value) == INSTALL_HINT
    assert "pip install torch==2.13.0" in INSTALL_HINT and ".[oracle]" in INSTALL_HINT


# --------------------------------------------------------------------------- gradcheck helpers
def test_finite_differences_of_a_known_function():
    params = {"a": np.array([[1.0, -2.0], [0.5, 3.0]]), "c": np.asarray(0.7)}
    before = {k: v.copy() for k, v in params.items()}

    def loss(p):
        return float(np.sum(p["a"] ** 3) + np.sin(p["c"]) * np.sum(p["a"]))

    numeric = finite_difference_gradients(loss, params)
    exact = {"a": 3 * params["a"] ** 2 + np.sin(0.7), "c": np.cos(0.7) * np.sum(params["a"])}
    assert_close(numeric, exact, 1e-8)
    assert numeric["c"].shape == ()
    assert all(np.array_equal(params[k], before[k]) for k in params)  # inputs untouched


def test_max_errors_formula():
    errors = max_errors(
        {"w": np.array([1.0, 1e-300, 2.0]), "b": np.asarray(0.0)},
        {"w": np.array([1.0, 0.0, 2.002]), "b": np.asarray(0.0)},
    )
    abs_w, rel_w = errors["w"]
    assert abs_w == pytest.approx(0.002)
    assert rel_w == pytest.approx(0.002 / 2.002)  # the 1e-300 vs 0 entry does not count as 1
    assert errors["b"] == (0.0, 0.0)  # all zero on both sides: no 0/0
    # a parameter that is tiny everywhere is still compared relatively
    assert max_errors({"t": np.array([1e-200])}, {"t": np.array([2e-200])})["t"][1] == 0.5
    assert math.isnan(max_errors({"n": np.array([np.nan])}, {"n": np.array([1.0])})["n"][1])
    with pytest.raises(ValueError):
        max_errors({"w": np.zeros(2)}, {"w": np.zeros(3)})
    with pytest.raises(ValueError):
        max_errors({"w": np.zeros(2)}, {"v": np.zeros(2)})


def test_same_zero_pattern():
    assert same_zero_pattern(np.array([0.0, 1.0]), np.array([-0.0, 5.0]))
    assert not same_zero_pattern(np.array([0.0, 1.0]), np.array([1e-300, 5.0]))
    assert not same_zero_pattern(np.zeros(2), np.zeros(3))
    assert same_zero_pattern({"a": np.zeros(2)}, {"a": np.zeros(2)})
    assert not same_zero_pattern({"a": np.zeros(2)}, {"b": np.zeros(2)})
