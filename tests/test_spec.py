"""NetworkSpec: shapes, parameter counts, and a clear SpecError for every impossible network."""

from __future__ import annotations

import pytest

from symbp.spec.model import NetworkSpec, SpecError, parse_size, spec_from_strings


def test_default_network_is_the_teaching_example():
    spec = NetworkSpec()
    assert spec.input_shape == (6, 6) and spec.filter_shape == (3, 3)
    assert spec.conv_shape == (4, 4) and spec.pool_shape == (2, 2) and spec.n_features == 4
    assert spec.parameter_shapes == {"W1": (3, 3), "B1": (), "W2": (4, 1), "B2": ()}
    assert spec.parameter_count == 15 and spec.parameter_breakdown == "9 + 1 + 4 + 1"


@pytest.mark.parametrize(
    "size, filt, pool, params",
    [
        ((8, 8), (3, 3), 2, 9 + 1 + 9 + 1),
        ((10, 10), (5, 5), 2, 25 + 1 + 9 + 1),
        ((28, 28), (3, 3), 2, 9 + 1 + 169 + 1),
    ],
)
def test_other_sizes(size, filt, pool, params):
    assert NetworkSpec(size, filt, pool).parameter_count == params


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"filter_shape": (7, 7)}, "larger than the 6x6 input"),
        ({"input_shape": (7, 7)}, "do not cover"),  # conv 5x5 with 2x2 pools drops a row
        ({"pool_size": 5}, "larger than the 4x4"),
        ({"input_shape": (0, 6)}, "at least 1"),
        ({"input_shape": (6.5, 6)}, "whole number"),
        ({"pool_size": True}, "whole number"),
        ({"input_shape": (200, 200)}, "--allow-large"),
        ({"pool_stride": 0}, "at least 1"),
    ],
)
def test_impossible_networks_are_refused_with_the_fix(kwargs, words):
    with pytest.raises(SpecError, match=words):
        NetworkSpec(**kwargs)


def test_spec_error_is_a_value_error():
    assert issubclass(SpecError, ValueError)


def test_budget_error_gives_an_estimate():
    with pytest.raises(SpecError) as info:
        NetworkSpec((200, 200))
    assert "about 352,836 symbolic products" in str(info.value)
    assert NetworkSpec((200, 200), symbolic_budget=10**9).conv_shape == (198, 198)


@pytest.mark.parametrize(
    "text, expected", [("6x6", (6, 6)), ("8", (8, 8)), (" 10 X 12 ", (10, 12))]
)
def test_parse_size(text, expected):
    assert parse_size(text, "input size") == expected


@pytest.mark.parametrize("text", ["6x", "x6", "-6x6", "6x6x6", "six", "", "6.0x6"])
def test_parse_size_rejects(text):
    with pytest.raises(SpecError, match="HxW"):
        parse_size(text, "input size")


def test_spec_from_strings():
    spec = spec_from_strings("8x8", "3x3", "2")
    assert spec.pool_shape == (3, 3)
    with pytest.raises(SpecError, match="pool size must be a whole number"):
        spec_from_strings("6x6", "3x3", "two")
