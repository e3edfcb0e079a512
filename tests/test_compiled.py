"""The compiled module against the numeric engine, finite differences and PyTorch; its contract."""

from __future__ import annotations

import ast
import warnings

import numpy as np
import pytest

from symbp import derive, load
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import finite_difference_gradients, max_errors, same_zero_pattern
from symbp.reference.torch_oracle import torch_available, torch_gradients
from symbp.reference.verify import crafted_cases, random_cases, smooth_cases
from symbp.spec.model import NetworkSpec

SPECS = {
    "6x6/3/2": NetworkSpec(),
    "8x8/3/2": NetworkSpec((8, 8)),
    "10x10/5/2": NetworkSpec((10, 10), (5, 5)),
    "7x7/3/p3s2": NetworkSpec((7, 7), (3, 3), 3, 2),
    "6x9/3x2/2": NetworkSpec((6, 9), (3, 2), 2),
}
MODULES: dict[str, object] = {}


def compiled(key):
    if key not in MODULES:
        MODULES[key] = load(derive(SPECS[key]))
    return MODULES[key]


def assert_close(a, b, rtol, floor=1e-12):
    for name, (abs_err, rel_err) in max_errors(a, b, floor=floor).items():
        assert rel_err <= rtol, f"{name}: relative error {rel_err:.2e} (abs {abs_err:.2e})"


@pytest.mark.parametrize("key", SPECS)
def test_matches_engine_on_random_batches(key):
    """25 random batches per spec, 125 in all, with M from 1 to 64."""
    module, engine = compiled(key), NumericNetwork(SPECS[key])
    for _, x, y, params in random_cases(SPECS[key], count=25, seed=hash(key) % 1000):
        assert_close(module.gradients(x, y, params), engine.gradients(x, y, params), 1e-9)
        assert_close(
            {"X": module.input_gradient(x, y, params)},
            {"X": engine.input_gradient(x, y, params)},
            1e-9,
        )
        assert module.loss(x, y, params) == pytest.approx(engine.loss(x, y, params), rel=1e-12)


@pytest.mark.parametrize("key", SPECS)
def test_matches_finite_differences(key):
    module = compiled(key)
    for _, x, y, params in smooth_cases(SPECS[key], count=2):
        numeric = finite_difference_gradients(
            lambda p, x=x, y=y: module.loss(x, y, p), params, eps=1e-5
        )
        assert_close(module.gradients(x, y, params), numeric, 1e-6, floor=1e-2)


@pytest.mark.parametrize("key", SPECS)
def test_crafted_ties_and_zeros_agree_exactly(key):
    module, engine = compiled(key), NumericNetwork(SPECS[key])
    for name, x, y, params in crafted_cases(SPECS[key]):
        ours = {**module.gradients(x, y, params), "X": module.input_gradient(x, y, params)}
        theirs = {**engine.gradients(x, y, params), "X": engine.input_gradient(x, y, params)}
        assert same_zero_pattern(ours, theirs), name
        assert_close(ours, theirs, 1e-12)


@pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed (CI installs it)")
@pytest.mark.parametrize("key", SPECS)
def test_matches_pytorch_autograd(key):
    module = compiled(key)
    cases = random_cases(SPECS[key], count=4) + crafted_cases(SPECS[key])
    for name, x, y, params in cases:
        loss, grads, dx = torch_gradients(SPECS[key], x, y, params)
        ours = {**module.gradients(x, y, params), "X": module.input_gradient(x, y, params)}
        theirs = {**grads, "X": dx}
        assert_close(ours, theirs, 1e-9)
        if "random" not in name:
            assert same_zero_pattern(ours, theirs), name
        assert module.loss(x, y, params) == pytest.approx(loss, rel=1e-12)


def test_tied_window_routes_to_its_first_cell():
    """Z1 = 1 everywhere (every window a four-way tie): only each window's top-left cell learns.

    W1 is zero but for a centre weight of 1e-300, too small to change Z1 = B1 = 1 but enough
    to let the gradient reach X, where it lands at each winner shifted by the centre (1, 1).
    """
    module = compiled("6x6/3/2")
    params = {
        "W1": np.zeros((3, 3)),
        "B1": np.array(1.0),
        "W2": np.ones((4, 1)),
        "B2": np.array(0.0),
    }
    params["W1"][1, 1] = 1e-300
    x = np.random.default_rng(0).normal(size=(1, 6, 6))
    y = np.array([0.0])
    a2 = 1 / (1 + np.exp(-4.0))  # Z2 = 4 windows x 1
    assert module.gradients(x, y, params)["B1"] == pytest.approx(4 * a2)  # one cell per window
    dx = module.input_gradient(x, y, params)[0]
    expected = np.zeros((6, 6), dtype=bool)
    expected[1::2, 1::2][:2, :2] = True  # winners (0,0), (0,2), (2,0), (2,2) shifted by (1, 1)
    assert np.array_equal(dx != 0, expected)


def test_relu_gradient_is_zero_at_zero():
    module = compiled("6x6/3/2")
    params = {
        "W1": np.zeros((3, 3)),
        "B1": np.array(0.0),
        "W2": np.ones((4, 1)),
        "B2": np.array(0.0),
    }
    grads = module.gradients(np.ones((2, 6, 6)), np.array([0.0, 1.0]), params)
    assert grads["B1"] == 0.0 and np.all(grads["W1"] == 0.0)


def test_saturated_sigmoid_stays_finite_without_warnings():
    module = compiled("6x6/3/2")
    params = {
        "W1": np.ones((3, 3)),
        "B1": np.array(0.0),
        "W2": np.full((4, 1), 50.0),
        "B2": np.array(0.0),
    }
    x = np.stack([np.full((6, 6), 1.0), np.full((6, 6), -1.0), np.full((6, 6), 3.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            for y in (np.zeros(3), np.ones(3)):
                loss = module.loss(x, y, params)
                grads = module.gradients(x, y, params)
                assert np.isfinite(loss)
                assert all(np.all(np.isfinite(g)) for g in grads.values())
    # Z2 = 1800 with Y = 0: the loss is 1800 / 3 from the first image alone, exactly.
    loss = module.loss(x[:1], np.zeros(1), params)
    assert loss == pytest.approx(1800.0)


def test_contract():
    module = compiled("6x6/3/2")
    assert module.PARAMETERS == {"W1": (3, 3), "B1": (), "W2": (4, 1), "B2": ()}
    assert list(module.PARAMETERS) == ["W1", "B1", "W2", "B2"]
    _, x, y, params = random_cases(NetworkSpec(), count=1)[0]
    grads = module.gradients(x, y, params)
    assert list(grads) == list(module.PARAMETERS)
    assert all(grads[k].shape == s for k, s in module.PARAMETERS.items())
    assert isinstance(module.loss(x, y, params), float)
    assert module.predict(x, params).shape == (len(y),)


def test_large_batches_are_processed_in_blocks():
    module, engine = compiled("6x6/3/2"), NumericNetwork(NetworkSpec())
    rng = np.random.default_rng(5)
    m = module.BLOCK_SIZE * 2 + 17
    x, y = rng.normal(size=(m, 6, 6)), rng.integers(0, 2, m).astype(float)
    params = random_cases(NetworkSpec(), count=1)[0][3]
    assert_close(module.gradients(x, y, params), engine.gradients(x, y, params), 1e-9)
    assert module.loss(x, y, params) == pytest.approx(engine.loss(x, y, params), rel=1e-12)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda x, y, p: (x[:, :5], y, p), "X must have shape"),
        (lambda x, y, p: (x[0], y, p), "X must have shape"),
        (lambda x, y, p: (x[:0], y[:0], p), "empty batch"),
        (lambda x, y, p: (x, y[:-1], p), "Y must have shape"),
        (lambda x, y, p: (x, y + 2, p), r"labels in \[0, 1\]"),
        (lambda x, y, p: (np.where(x > 1, np.nan, x), y, p), "NaN or infinity"),
        (lambda x, y, p: (x, y, {**p, "W2": p["W2"].ravel()}), "W2 must have shape"),
        (lambda x, y, p: (x, y, {k: v for k, v in p.items() if k != "B2"}), "missing"),
        (lambda x, y, p: (x, y, {**p, "W3": 1.0}), "unexpected"),
        (lambda x, y, p: ("images", y, p), "numeric array"),
        (lambda x, y, p: (x.astype(object).tolist() and [["a"]], y, p), "numeric array"),
        (lambda x, y, p: (x, y, [1, 2]), "must be a dict"),
        (lambda x, y, p: (x, y, {**p, "B1": np.inf}), "NaN or infinity"),
    ],
)
def test_bad_input_raises_value_error(mutate, words):
    module = compiled("6x6/3/2")
    _, x, y, params = random_cases(NetworkSpec(), count=2)[1]
    args = mutate(x, y, params)
    with pytest.raises(ValueError, match=words):
        module.gradients(*args)


def test_float32_and_list_inputs_are_accepted():
    module = compiled("6x6/3/2")
    _, x, y, params = random_cases(NetworkSpec(), count=2)[1]
    expected = module.gradients(x.astype(np.float32).astype(np.float64), y, params)
    assert_close(module.gradients(x.astype(np.float32), y.tolist(), params), expected, 1e-15)


def test_generated_source_imports_only_numpy():
    from symbp.codegen.module import generate_source

    tree = ast.parse(generate_source(derive()))
    imports = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imports |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports == {"math", "numpy"}  # the standard library and NumPy, nothing else


def test_long_sums_compile_flat():
    """dW1 at 60x60 sums 3364 products; a + b + ... that long overflows Python's compiler."""
    import sympy as sp

    from symbp.codegen.printers import NumPyCodePrinter, ScalarCodePrinter

    terms = sp.symbols("a0:5000")
    for printer in (NumPyCodePrinter(), ScalarCodePrinter()):
        code = printer.doprint(sp.Add(*terms))
        namespace = {f"a{k}": 1.0 for k in range(5000)}
        assert eval(compile(code, "<sum>", "eval"), namespace) == 5000.0
