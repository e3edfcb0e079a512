"""The optional fused C backend against the NumPy module, its reference."""

from __future__ import annotations

import functools
import shutil

import numpy as np
import pytest
from architectures import ARCHITECTURE_SPECS

from symbp import derive, load
from symbp.codegen.fused import FusedUnavailable, compile_fused, generate_c_source
from symbp.reference.gradcheck import max_errors, same_zero_pattern
from symbp.reference.verify import crafted_cases, random_cases
from symbp.spec.model import NetworkSpec

SPECS = [
    NetworkSpec(),
    NetworkSpec((8, 8)),
    NetworkSpec((10, 10), (5, 5)),
    NetworkSpec((7, 7), (3, 3), 3, 2),
    # general architectures: channels, filters, stride, padding, smooth activations, avg pool
    ARCHITECTURE_SPECS["c3-stride2-pad1-sigmoid-8x8"],
    ARCHITECTURE_SPECS["tanh-avg-overlap-7x7"],
    ARCHITECTURE_SPECS["two-blocks-c2-stride3-pad2-leaky"],
]
HAS_COMPILER = shutil.which("cc") is not None or shutil.which("gcc") is not None


@functools.cache
def both(spec):
    d = derive(spec)
    return compile_fused(d), load(d)


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler")
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label)
def test_fused_equals_the_numpy_module(spec):
    fused, reference = both(spec)
    for name, x, y, params in random_cases(spec, count=6) + crafted_cases(spec):
        ours, theirs = fused.gradients(x, y, params), reference.gradients(x, y, params)
        for key, (_, rel) in max_errors(ours, theirs).items():
            assert rel <= 1e-12, (name, key)
        if "random" not in name:
            assert same_zero_pattern(ours, theirs), name


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler")
def test_fused_keeps_the_contract():
    fused, _ = both(NetworkSpec())
    _, x, y, params = random_cases(NetworkSpec(), count=1)[0]
    grads = fused.gradients(x, y, params)
    assert {k: v.shape for k, v in grads.items()} == fused.PARAMETERS
    with pytest.raises(ValueError, match="X must have shape"):
        fused.gradients(x[:, :5], y, params)
    x = x.copy()
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        fused.gradients(x, y, params)


def test_c_source_is_plain_c_from_the_derivation():
    source = generate_c_source(derive())
    assert "for (long n = 0; n < m; ++n)" in source and "symbp_sigmoid(" in source
    assert "w1_0_1 = theta[1]" in source and "Dummy" not in source


def test_missing_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FusedUnavailable, match="no C compiler"):
        compile_fused(derive())
