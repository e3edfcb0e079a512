"""The worked example stays off the kinks that rounding, not a convention, would decide: a
ReLU input of 0 that floating point computes as 1e-17 (7x7, stride 2, padding 1 did: the
document printed Z = 0 and then passed a gradient through it), or a pool tie broken by one
unit of rounding."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from architectures import ARCHITECTURE_SPECS

from symbp.reference.engine import NumericNetwork
from symbp.reference.example import (
    CONV_BIAS,
    _parameters,
    example_input,
    example_parameters,
    near_kinks,
    worked_example,
)
from symbp.spec.model import NetworkSpec

STRIDED = NetworkSpec(input_shape=(7, 7), stride=2, padding=1, pool_size=1)
# Two specs whose textures tie pool windows for every bias tried: their near ties remain.
KNOWN = {"c3-f3-pad1-6x6", "two-blocks-c2-stride3-pad2-leaky"}


def _forward(spec, params):
    net = NumericNetwork(spec)
    return {k: np.asarray(v[0]) for k, v in net.forward(example_input(spec)[None], params).items()}


def test_the_old_bias_put_the_strided_example_on_the_relu_kink():
    """Break it on purpose: with every conv bias -0.1 the corner is 0.08 + 0.02 - 0.1, exactly
    0 by hand (fractions) and 1.4e-17 in floating point, and near_kinks says so."""
    found = near_kinks(STRIDED, _forward(STRIDED, _parameters(STRIDED, CONV_BIAS)))
    assert found and found[0].startswith("Z1")
    exact = Fraction(8, 100) + Fraction(2, 100) - Fraction(1, 10)
    assert exact == 0


@pytest.mark.parametrize("name", sorted(set(ARCHITECTURE_SPECS) - KNOWN))
def test_the_example_is_off_every_kink(name):
    spec = ARCHITECTURE_SPECS[name]
    assert near_kinks(spec, _forward(spec, example_parameters(spec))) == []


def test_the_strided_example_now_stops_no_gradient_at_a_zero():
    example = worked_example(STRIDED)
    z, dz = example["forward"]["Z1"], example["intermediate"]["Z1"]
    assert np.all(np.abs(z) > 1e-9)
    assert np.all(dz[z < 0] == 0)  # ReLU'(z) = 0 where z < 0, and no z is at the kink


def test_the_default_example_keeps_its_numbers():
    assert float(example_parameters(NetworkSpec())["B1"]) == CONV_BIAS
