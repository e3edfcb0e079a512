"""`symbp explain`: one gradient element as its products, checked against independent loops."""

from __future__ import annotations

import re

import pytest

from symbp import NetworkSpec, derive
from symbp.cli import main
from symbp.document.explain import ExplainError, explain, parse_element


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def products(text: str) -> list[str]:
    """The one-product-per-line body of the explanation ('dz1_0_0*x_0_1', ...)."""
    return re.findall(r"^ {2}[ +] (\S+)$", text, re.MULTILINE)


def grid(text: str, title: str) -> dict[tuple[int, int], str]:
    """The cells of the grid headed `title` (a side-by-side column or a stacked block)."""
    lines = text.splitlines()
    top = next(n for n, line in enumerate(lines) if title in line)
    column = lines[top].index(title)
    rows, columns = map(int, re.search(r"\((\d+)x(\d+)\)", title).groups())
    cells = {}
    for r in range(rows):
        words = lines[top + 2 + r][column:].split()
        assert int(words[0]) == r, lines[top + 2 + r]
        for c in range(columns):
            cells[(r, c)] = words[1 + c]
    return cells


@pytest.fixture(scope="module")
def default():
    return derive()


def test_dW1_0_1_is_16_products_of_dZ1_with_the_shifted_window_of_X(capsys):
    code, out, err = run(capsys, "explain", "dW1[0,1]")
    assert code == 0, err
    expected = [f"dz1_{i}_{j}*x_{i}_{j + 1}" for i in range(4) for j in range(4)]
    assert sorted(products(out)) == sorted(expected)
    assert len(products(out)) == 16
    assert "dL/dW1[0,1] = sum of 16 products:" in out
    assert "chain: L -> A2 -> Z2 -> F -> P1 -> A1 -> Z1 -> W1" in out
    assert "valid cross-correlation of X with dL/dZ1" in " ".join(out.split())

    x = grid(out, "X (6x6)")
    marked = {cell for cell, mark in x.items() if mark == "#"}
    assert marked == {(i + 0, j + 1) for i in range(4) for j in range(4)}
    assert set(x.values()) == {"#", "."}
    dz1 = grid(out, "dL/dZ1 (4x4)")
    assert set(dz1.values()) == {"#"}  # every entry of dL/dZ1 meets the window
    w1 = grid(out, "W1 (3x3)")
    assert [cell for cell, mark in w1.items() if mark == "@"] == [(0, 1)]


@pytest.mark.parametrize("r, c", [(3, 4), (0, 0), (5, 5), (2, 2)])
def test_dX_pairs_dZ1_with_the_rotated_kernel(default, r, c):
    text = explain(default, f"dX[{r},{c}]")
    expected = {
        f"dz1_{i}_{j}*w1_{r - i}_{c - j}"
        for i in range(4)
        for j in range(4)
        if 0 <= r - i < 3 and 0 <= c - j < 3
    }
    assert set(products(text)) == expected and len(products(text)) == len(expected)
    dz1 = grid(text, "dL/dZ1 (4x4)")
    labelled = {cell: mark for cell, mark in dz1.items() if mark != "."}
    assert labelled == {
        (i, j): f"{r - i},{c - j}"
        for i in range(4)
        for j in range(4)
        if 0 <= r - i < 3 and 0 <= c - j < 3
    }
    assert "with W1 rotated 180 degrees" in " ".join(text.split())


@pytest.mark.parametrize(
    "spec, p, q",
    [
        (NetworkSpec(input_shape=(8, 8), filter_shape=(3, 3), pool_size=2), 2, 1),
        (NetworkSpec(input_shape=(10, 10), filter_shape=(5, 5), pool_size=2), 4, 3),
        (NetworkSpec(input_shape=(7, 9), filter_shape=(2, 4), pool_size=3), 1, 3),
    ],
)
def test_dW1_on_other_networks(spec, p, q):
    d = derive(spec)
    (ch, cw) = spec.conv_shape
    text = explain(d, f"dW1[{p},{q}]")
    expected = {f"dz1_{i}_{j}*x_{i + p}_{j + q}" for i in range(ch) for j in range(cw)}
    assert set(products(text)) == expected and len(products(text)) == ch * cw
    h, w = spec.input_shape
    x = grid(text, f"X ({h}x{w})")
    assert {cell for cell, mark in x.items() if mark == "#"} == {
        (i + p, j + q) for i in range(ch) for j in range(cw)
    }


def test_other_elements(default):
    b1 = explain(default, "dB1")
    assert sorted(products(b1)) == sorted(f"dz1_{i}_{j}" for i in range(4) for j in range(4))
    assert products(explain(default, "dW2[2,0]")) == ["dz2*f_2"]
    assert products(explain(default, "dB2")) == ["dz2"]
    z1 = explain(default, "dZ1[1,1]")
    assert "da1_1_1" in z1 and "z1_1_1 > 0" in z1
    assert "chain: L -> A2 -> Z2 -> F -> P1 -> A1 -> Z1\n" in z1


@pytest.mark.parametrize(
    "spelling",
    ["dW1[0,1]", "W1[0,1]", " dW1 [ 0 , 1 ] ", "dL/dW1[0,1]", "dw1[0][1]", "∂L/∂W1[0,1]"],
)
def test_spellings(default, spelling):
    assert explain(default, spelling) == explain(default, "dW1[0,1]")


def test_unquoted_element_with_a_space(capsys):
    code, out, _ = run(capsys, "explain", "dW1[0,", "1]")
    assert code == 0 and len(products(out)) == 16


def test_other_spec_from_the_command_line(capsys):
    code, out, err = run(capsys, "explain", "dW1[2,2]", "--input", "8x8")
    assert code == 0, err
    assert len(products(out)) == 36 and "8x8 input" in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["dW1[3,0]"], "out of range"),
        (["dW1[0,-1]"], "out of range"),
        (["dX[6,0]"], "out of range"),
        (["dW1[0]"], "takes 2 indices"),
        (["dB1[0]"], "takes no index"),
        (["dQ[0,1]"], "unknown element"),
        (["dL"], "unknown element"),
        (["Y"], "unknown element"),
        (["dW1[a,b]"], "whole numbers"),
        (["dW1[0,1"], "cannot read the index"),
        (["dW1[0,1]", "--input", "7x7"], "do not cover"),
        (["dX[7,7]", "--input", "6x6"], "out of range"),
    ],
)
def test_bad_elements_exit_2_with_one_line(capsys, argv, words):
    code, out, err = run(capsys, "explain", *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert words in err
    if "do not cover" not in words:
        assert "valid elements: dW1[0..2,0..2], dB1, dW2[0..3,0], dB2, dX[0..5,0..5]" in err


def test_parse_element_api():
    shapes = {"W1": (3, 3), "B1": ()}
    assert parse_element("dW1[2,0]", shapes) == ("W1", (2, 0))
    assert parse_element("B1", shapes) == ("B1", ())
    with pytest.raises(ExplainError, match="valid elements: dW1"):
        parse_element("dW1[3,3]", shapes)
