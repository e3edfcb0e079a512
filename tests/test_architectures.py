"""The architecture matrix through the symbolic path: every pattern proof holds, and the
compiled module agrees with the numeric engine and with PyTorch autograd to 1e-9 relative on
random batches, and exactly (1e-12, identical zero patterns) on integer cases full of ties and
exact zeros. Then each new pattern proof is broken on purpose and must say so."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from architectures import ARCHITECTURE_IDS, ARCHITECTURE_SPECS, integer_case, random_case
from broken_rules import last_max_pool, with_rule

from symbp.codegen.module import load
from symbp.proofs import prove_all
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import max_errors, same_zero_pattern
from symbp.reference.torch_oracle import torch_available, torch_gradients
from symbp.reference.verify import verify
from symbp.spec.model import ConvBlock, NetworkSpec
from symbp.symbolic.derivation import derive
from symbp.symbolic.layers import first_max_conditions, indicator, pool_windows
from symbp.symbolic.symbols import object_array

needs_torch = pytest.mark.skipif(not torch_available(), reason="PyTorch is not installed")


@functools.cache
def compiled(arch: str):
    d = derive(ARCHITECTURE_SPECS[arch])
    return d, load(d)


def answers(module, X, Y, params):
    return {
        **module.gradients(X, Y, params),
        "X": module.input_gradient(X, Y, params),
        "loss": np.array(module.loss(X, Y, params)),
    }


def engine_answers(spec, X, Y, params):
    net = NumericNetwork(spec)
    return {
        **net.gradients(X, Y, params),
        "X": net.input_gradient(X, Y, params),
        "loss": np.array(net.loss(X, Y, params)),
    }


def worst(errors):
    return max(rel for _, rel in errors.values())


@pytest.mark.parametrize("arch", ARCHITECTURE_IDS)
def test_every_pattern_proof_holds(arch):
    d, _ = compiled(arch)
    proofs = prove_all(d, full_composition=False)
    assert [str(p) for p in proofs if not p.holds] == []
    keys = {p.key for p in proofs}
    for n, block in enumerate(d.spec.blocks, start=1):
        assert {f"dW{n}", f"dB{n}"} <= keys
        if block.pool_type == "avg":
            assert "avg-spread" + ("" if n == 1 else f".{n}") in keys
        if block.pool_type == "max" and block.pool_step < block.pool_size:
            assert "max-accumulate" + ("" if n == 1 else f".{n}") in keys


@pytest.mark.parametrize("arch", ARCHITECTURE_IDS)
def test_compiled_matches_engine(arch):
    spec = ARCHITECTURE_SPECS[arch]
    _, module = compiled(arch)
    for seed, m in ((1, 5), (2, 1), (3, 40)):  # one image, a few, and the blocked path
        X, Y, params = random_case(spec, seed, m)
        got = answers(module, X, Y, params)
        assert {k: np.shape(v) for k, v in got.items() if k in params} == spec.parameter_shapes
        assert worst(max_errors(got, engine_answers(spec, X, Y, params))) <= 1e-9
    X, Y, params = integer_case(spec, 4)
    got, expected = answers(module, X, Y, params), engine_answers(spec, X, Y, params)
    assert worst(max_errors(got, expected)) <= 1e-12
    assert same_zero_pattern(got, expected)


@needs_torch
@pytest.mark.parametrize("arch", ARCHITECTURE_IDS)
def test_compiled_matches_pytorch(arch):
    spec = ARCHITECTURE_SPECS[arch]
    _, module = compiled(arch)
    for X, Y, params, tolerance in (
        (*random_case(spec, 5, 7), 1e-9),
        (*integer_case(spec, 6), 1e-12),
    ):
        loss, grads, grad_x = torch_gradients(spec, X, Y, params)
        reference = {**grads, "X": grad_x, "loss": np.array(loss)}
        got = answers(module, X, Y, params)
        assert worst(max_errors(got, reference)) <= tolerance
        if tolerance == 1e-12:
            assert same_zero_pattern(got, reference)


@pytest.mark.parametrize(
    "arch", ["two-blocks-c2-stride3-pad2-leaky", "c3-stride2-pad1-sigmoid-8x8", "mnist-28x28"]
)
def test_full_verification_passes(arch):
    """The `symbp verify` report: engine, PyTorch, crafted cases and finite differences."""
    _, module = compiled(arch)
    report = verify(ARCHITECTURE_SPECS[arch], module, use_torch=torch_available())
    assert report.passed, report.table()
    assert {row.quantity for row in report.rows} >= set(ARCHITECTURE_SPECS[arch].parameter_shapes)


# ------------------------------------------------------------- breaking patterns on purpose
def _failed(spec, rules):
    return {p.key for p in prove_all(derive(spec, rules), full_composition=False) if not p.holds}


def _conv_with(offset_rows: int = 0, flip: bool = False):
    """The convolution with its padding misplaced by `offset_rows`, or its kernel flipped."""

    def build(x, params, stage):
        g = stage.geometry
        block = g.block
        images = x.reshape(g.input)
        k_out, c_in = g.conv[0], g.input[0]
        (kh, kw), s, pad = block.filter_shape, block.stride, block.padding
        w = params[stage.params[0]].reshape(k_out, c_in, kh, kw)
        b = params[stage.params[1]].reshape(k_out)
        _, h, width = g.input
        out = object_array(g.conv)
        for k, i, j in np.ndindex(*g.conv):
            terms = []
            for c, p, q in np.ndindex(c_in, kh, kw):
                r, col = i * s + p - pad + offset_rows, j * s + q - pad
                if 0 <= r < h and 0 <= col < width:
                    weight = w[k, c, kh - 1 - p, kw - 1 - q] if flip else w[k, c, p, q]
                    terms.append(images[c, r, col] * weight)
            out[k, i, j] = sp.Add(*terms, b[k])
        return out.reshape(stage.shape)

    return build


STRIDED = NetworkSpec(input_shape=(7, 7), channels=2, filters=2, stride=2, padding=1)


def test_the_unbroken_rebuilt_convolution_passes():
    assert _failed(STRIDED, with_rule("conv", _conv_with())) == set()


def test_misplaced_padding_breaks_the_weight_and_input_patterns():
    assert _failed(STRIDED, with_rule("conv", _conv_with(offset_rows=1))) >= {"dW1", "dX"}


def test_flipped_strided_kernel_is_caught():
    assert _failed(STRIDED, with_rule("conv", _conv_with(flip=True))) >= {"dW1", "dX"}


def test_second_block_patterns_are_checked_too():
    spec = NetworkSpec(
        input_shape=(8, 8),
        blocks=(ConvBlock(filters=2, padding=1), ConvBlock(filters=2, stride=2, pool_type="none")),
    )
    assert _failed(spec, with_rule("conv", _conv_with(flip=True))) >= {"dW1", "dX", "dW2", "dP1"}


def test_average_pool_dividing_wrongly_is_caught():
    def sum_pool(a, params, stage):
        out = object_array(stage.shape)
        for index, window in pool_windows(stage.geometry).items():
            out[index] = sp.Add(*(a[cell] for cell in window)) / (len(window) + 1)
        return out

    spec = NetworkSpec(input_shape=(7, 7), pool_type="avg", pool_size=3, pool_stride=2)
    assert _failed(spec, with_rule("avgpool", sum_pool)) == {"avg-spread"}


def test_overlapping_max_pool_sending_ties_to_the_last_maximum_is_caught():
    spec = NetworkSpec(input_shape=(7, 7), pool_size=3, pool_stride=2)
    assert _failed(spec, with_rule("maxpool", last_max_pool)) == {"ties", "max-accumulate"}


def test_overlapping_max_pool_keeping_only_one_window_is_caught():
    """A pool whose windows all read the first window's cells: routing no longer accumulates."""

    def first_window_pool(a, params, stage):
        windows = pool_windows(stage.geometry)
        first = next(iter(windows.values()))
        out = object_array(stage.shape)
        for index in windows:
            values = [a[c] for c in first]
            conditions = first_max_conditions(values)
            out[index] = sp.Add(
                *(v * indicator(c) for v, c in zip(values, conditions, strict=True))
            )
        return out

    spec = NetworkSpec(input_shape=(7, 7), pool_size=3, pool_stride=2)
    assert "max-accumulate" in _failed(spec, with_rule("maxpool", first_window_pool))


def test_leaky_relu_with_slope_one_at_zero_is_caught():
    def leaky_wrong(z, params, stage):
        out = object_array(z.shape)
        for index in np.ndindex(*z.shape):
            v = z[index]
            out[index] = v * indicator(v >= 0) + sp.Rational(1, 100) * v * indicator(v < 0)
        return out

    spec = NetworkSpec(activation="leaky_relu")
    assert _failed(spec, with_rule("leaky_relu", leaky_wrong)) == {"leaky0"}
