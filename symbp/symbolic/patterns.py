"""Textbook operations on arrays of expressions: the patterns the proofs compare against.

These are written directly from their definitions, independently of the derivation, so that
"dW1 equals the cross-correlation of X with dZ1" is a comparison of two separately built
things. Arrays are NumPy object arrays of SymPy expressions (or plain numbers). Sums and
products go through `construct`, which only skips SymPy's evaluation where there is nothing to
evaluate: the mathematics stays each side's own.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from . import construct


def correlate_at(image: np.ndarray, kernel: np.ndarray, i: int, j: int) -> sp.Expr:
    """One element of the valid cross-correlation: sum_{p,q} image[i+p, j+q] * kernel[p, q]."""
    kh, kw = kernel.shape
    products = [construct.times(image[i + p, j + q], kernel[p, q]) for p, q in np.ndindex(kh, kw)]
    return construct.total(products)


def rotate_180(kernel: np.ndarray) -> np.ndarray:
    return kernel[::-1, ::-1].copy()


def zero_pad(image: np.ndarray, rows: int, cols: int | None = None) -> np.ndarray:
    cols = rows if cols is None else cols
    h, w = image.shape
    out = np.empty((h + 2 * rows, w + 2 * cols), dtype=object)
    out[...] = sp.S.Zero
    out[rows : rows + h, cols : cols + w] = image
    return out


def total(array: np.ndarray) -> sp.Expr:
    return construct.total(list(array.reshape(-1)))


def dilate(image: np.ndarray, step: int, rows: int, cols: int) -> np.ndarray:
    """`step - 1` zeros between neighbours, then zeros up to rows x cols (bottom and right).

    Dilating dL/dZ by the stride puts each output's gradient back at the input position its
    window started from; the extra rows and columns stand for input a strided window skipped.
    """
    h, w = image.shape
    out = np.empty((rows, cols), dtype=object)
    out[...] = sp.S.Zero
    out[: (h - 1) * step + 1 : step, : (w - 1) * step + 1 : step] = image
    return out


def crop(image: np.ndarray, margin: int) -> np.ndarray:
    """Remove `margin` rows and columns on every side (undo zero padding)."""
    if margin == 0:
        return image
    return image[margin:-margin, margin:-margin]


def window_cells(
    rows: int, cols: int, size: int, step: int
) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Pool output (a, b) -> its window's cells, row-major: written from the definition."""
    return {
        (a, b): [(a * step + r, b * step + c) for r in range(size) for c in range(size)]
        for a in range((rows - size) // step + 1)
        for b in range((cols - size) // step + 1)
    }
