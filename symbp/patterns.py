"""Textbook operations on arrays of expressions: the patterns the proofs compare against.

These are written directly from their definitions, independently of the derivation, so that
"dW1 equals the cross-correlation of X with dZ1" is a comparison of two separately built
things. Arrays are NumPy object arrays of SymPy expressions (or plain numbers).
"""

from __future__ import annotations

import numpy as np
import sympy as sp


def correlate_at(image: np.ndarray, kernel: np.ndarray, i: int, j: int) -> sp.Expr:
    """One element of the valid cross-correlation: sum_{p,q} image[i+p, j+q] * kernel[p, q]."""
    kh, kw = kernel.shape
    return sp.Add(*(image[i + p, j + q] * kernel[p, q] for p in range(kh) for q in range(kw)))


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
    return sp.Add(*array.reshape(-1))
