"""The one naming scheme: how a quantity's name reads in code and in LaTeX.

Quantities are named by letter and layer number (X, W1, B1, Z1, A1, P1, F, W2, ..., L); the
letter says what it is, the number which layer wrote it. Every layer above reads names through
these functions, so a network with twelve blocks prints W_{12}, never W_12 (W₁2).
"""

from __future__ import annotations

# Quantities whose elements print as a lower-case letter without a layer number.
_PLAIN_ELEMENTS = {"X": "x", "F": "f", "Y": "y", "L": "L"}


def split_name(name: str) -> tuple[str, str]:
    """'W12' -> ('W', '12'), 'X' -> ('X', '')."""
    stem = name.rstrip("0123456789")
    return stem, name[len(stem) :]


def tex_name(name: str) -> str:
    """The whole quantity in LaTeX: 'W1' -> 'W_1', 'W12' -> 'W_{12}', 'F' -> 'F'."""
    stem, number = split_name(name)
    if not number:
        return stem
    return f"{stem}_{number}" if len(number) == 1 else f"{stem}_{{{number}}}"


def element_stem(name: str) -> tuple[str, str]:
    """(code prefix, LaTeX stem) of the quantity's elements: 'Z1' -> ('z1', 'z^{(1)}'),
    'X' -> ('x', 'x'), 'L' -> ('L', 'L')."""
    if name in _PLAIN_ELEMENTS:
        return name.lower() if name != "L" else "L", _PLAIN_ELEMENTS[name]
    stem, number = split_name(name)
    return name.lower(), f"{stem.lower()}^{{({number})}}"
