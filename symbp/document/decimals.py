"""Numbers in the document: formatted with a fixed number of digits, by Python, once.

Every number of the worked example goes through `fmt`, so the printed text does not depend on
SymPy's or NumPy's float printing, and a test can format the engine's values the same way and
compare digit for digit.
"""

from __future__ import annotations

import numpy as np

from .latex_printer import Numeral

DIGITS = 4  # computed values


def fmt(value: float, digits: int = DIGITS) -> str:
    """Fixed-point text with `digits` decimals; never "-0.0000"."""
    text = f"{float(value):.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def numeral(value: float, digits: int = DIGITS) -> Numeral:
    return Numeral(fmt(value, digits))


def numerals(values: np.ndarray, digits: int = DIGITS) -> np.ndarray:
    """An object array of `Numeral`s with the shape of `values`."""
    array = np.asarray(values, dtype=np.float64)
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(*array.shape):
        out[index] = numeral(float(array[index]), digits)
    return out
