"""Textbook operations on arrays of expressions: the patterns the proofs compare against.

These are written directly from their definitions, independently of the derivation, so that
"dW1 equals the cross-correlation of X with dZ1" is a comparison of two separately built
things. Arrays are NumPy object arrays of SymPy expressions (or plain numbers).
"""

from __future__ import annotations

from itertools import product

import numpy as np
import sympy as sp


def correlate_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """(image ⋆ kernel)[i, j] = sum_{p,q} image[i+p, j+q] * kernel[p, q] (no flip, no padding)."""
    (h, w), (kh, kw) = image.shape, kernel.shape
    out = np.empty((h - kh + 1, w - kw + 1), dtype=object)
    for i, j in product(range(h - kh + 1), range(w - kw + 1)):
        out[i, j] = correlate_at(image, kernel, i, j)
    return out


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


def convolve_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True convolution (kernel flipped), valid part: what 'convolution' means in mathematics."""
    return correlate_valid(image, rotate_180(kernel))


def convolve_full(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True convolution, full size (h + kh - 1) x (w + kw - 1)."""
    kh, kw = kernel.shape
    return convolve_valid(zero_pad(image, kh - 1, kw - 1), kernel)


def correlate_full(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlation of the zero-padded image with the kernel, full size."""
    kh, kw = kernel.shape
    return correlate_valid(zero_pad(image, kh - 1, kw - 1), kernel)


def total(array: np.ndarray) -> sp.Expr:
    return sp.Add(*array.reshape(-1))
