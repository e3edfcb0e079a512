"""Gradient checking helpers: central differences and a fair way to compare two gradients.

Used by the tests and by anything else that wants to confirm a gradient without trusting the
code that produced it (in the spirit of HIPS/autograd's `check_grads`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

#: Smallest positive normal float64; keeps the denominator of a relative error non-zero.
TINY = float(np.finfo(np.float64).tiny)


def finite_difference_gradients(
    loss_fn: Callable[[dict[str, Array]], float],
    params: Mapping[str, ArrayLike],
    eps: float = 1e-6,
) -> dict[str, Array]:
    """Central differences (L(p + h) - L(p - h)) / (2h) for every element of every parameter.

    `params` is not modified: each element of a float64 copy is nudged in turn and restored.
    The divisor is the step actually taken, (p + eps) - (p - eps) in floating point, which can
    differ from 2 * eps in the last bits. Truncation error is O(eps^2); rounding error is about
    machine-epsilon * |L| / eps, so eps = 1e-6 gives roughly 1e-10 absolute accuracy for a
    smooth loss of order 1. Near a kink (ReLU at 0, a tie in max-pool) the result is meaningless.
    """
    point = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    grads: dict[str, Array] = {}
    for name, value in point.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            up, down = original + eps, original - eps
            value[index] = up
            loss_up = loss_fn(dict(point))
            value[index] = down
            loss_down = loss_fn(dict(point))
            value[index] = original
            grad[index] = (loss_up - loss_down) / (up - down)
        grads[name] = grad
    return grads


def _paired(
    a: Mapping[str, ArrayLike], b: Mapping[str, ArrayLike]
) -> Iterator[tuple[str, Array, Array]]:
    """Each name with its two gradients as float64 arrays; ValueError if they do not match."""
    if set(a) != set(b):
        raise ValueError(f"gradients name different parameters: {sorted(a)} vs {sorted(b)}")
    for name in a:
        x = np.asarray(a[name], dtype=np.float64)
        y = np.asarray(b[name], dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"{name}: shapes differ, {x.shape} vs {y.shape}")
        yield name, x, y


def max_errors(
    a: Mapping[str, ArrayLike], b: Mapping[str, ArrayLike], floor: float = 1e-12
) -> dict[str, tuple[float, float]]:
    """Per parameter, (max absolute error, max relative error) between gradients a and b.

    For each parameter, with s = the largest |a| or |b| anywhere in that parameter:

        abs_i = |a_i - b_i|
        rel_i = |a_i - b_i| / max(|a_i|, |b_i|, floor * s, TINY)

    An entry of ordinary size is compared relatively. An entry far below the parameter's own
    scale (1e-300 against 0, or a near-cancelled sum) is compared against floor * s instead,
    so it reports an error relative to the parameter as a whole rather than 100 %. TINY only
    matters when both gradients are all zero, where the error is then 0. NaN anywhere gives NaN,
    so a tolerance check `err <= tol` fails, as it should.
    """
    errors: dict[str, tuple[float, float]] = {}
    for name, x, y in _paired(a, b):
        if x.size == 0:
            errors[name] = (0.0, 0.0)
            continue
        diff = np.abs(x - y)
        magnitude = np.maximum(np.abs(x), np.abs(y))
        scale = float(np.max(magnitude))
        relative = diff / np.maximum(magnitude, max(floor * scale, TINY))
        errors[name] = (float(np.max(diff)), float(np.max(relative)))
    return errors


def scaled_errors(
    a: Mapping[str, ArrayLike], b: Mapping[str, ArrayLike], floors: Mapping[str, float]
) -> dict[str, tuple[float, float]]:
    """Per gradient, (max absolute error, scaled error) of a against the reference b.

        scaled = max_i |a_i - b_i| / (max_i |b_i| + floor)

    one number per gradient (per parameter, per input, the loss): the error measured against
    the gradient's whole size, not entry by entry, so an entry that cancels to nearly 0 (or a
    whole gradient that a saturated tanh makes tiny) is not judged by its own size. The test
    |a_i - b_i| <= rtol * max|b| + atol for every i is `scaled <= rtol` with floor = atol / rtol.
    `floors[name]` is that magnitude floor (>= 0). Both all zero give 0; NaN anywhere gives
    NaN, so a tolerance check `err <= tol` fails, as it should.
    """
    errors: dict[str, tuple[float, float]] = {}
    for name, x, y in _paired(a, b):
        if x.size == 0:
            errors[name] = (0.0, 0.0)
            continue
        diff = float(np.max(np.abs(x - y)))
        scale = float(np.max(np.abs(y))) + float(floors[name])
        if scale != 0:  # also NaN, which then stays NaN
            errors[name] = (diff, diff / scale)
        else:  # b all zero with no floor: only an exact 0 agrees
            errors[name] = (diff, 0.0 if diff == 0 else np.inf)
    return errors


def nonzero_where(value: ArrayLike, mask: ArrayLike) -> int:
    """How many entries of `value` are not exactly zero where `mask` is True (-0.0 is zero;
    NaN is not zero). Used on the entries a convention makes exactly 0."""
    x, where = np.asarray(value), np.asarray(mask, dtype=bool)
    if x.shape != where.shape:
        raise ValueError(f"shapes differ: {x.shape} vs mask {where.shape}")
    return int(np.count_nonzero(x[where] != 0))


def same_zero_pattern(
    a: ArrayLike | Mapping[str, ArrayLike], b: ArrayLike | Mapping[str, ArrayLike]
) -> bool:
    """True if a and b are exactly zero in exactly the same places (-0.0 counts as zero).

    Accepts two arrays or two dicts of arrays (then every name must match). Which entries are
    exactly zero is decided by ReLU masks and max-pool choices, so a mismatch points at a
    convention (ReLU'(0), tie-breaking) rather than at rounding.
    """
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        if not (isinstance(a, Mapping) and isinstance(b, Mapping)) or set(a) != set(b):
            return False
        return all(same_zero_pattern(a[name], b[name]) for name in a)
    x, y = np.asarray(a), np.asarray(b)
    return x.shape == y.shape and bool(np.array_equal(x == 0, y == 0))


def finite_difference_projections(
    loss_fn: Callable[[dict[str, Array]], float],
    params: Mapping[str, ArrayLike],
    name: str,
    directions: Array,
    eps: float = 1e-6,
) -> Array:
    """Central differences of the loss along each row of `directions` (unit vectors in `name`).

    For a large parameter this checks the gradient g through g . v for a few random v, as
    HIPS/autograd's `check_grads` does, instead of 2 loss evaluations per element.
    """
    point = {key: np.array(value, dtype=np.float64) for key, value in params.items()}
    base = point[name].copy()
    result = np.empty(len(directions))
    for k, direction in enumerate(directions):
        step = eps * direction.reshape(base.shape)
        point[name] = base + step
        loss_up = loss_fn(dict(point))
        point[name] = base - step
        loss_down = loss_fn(dict(point))
        result[k] = (loss_up - loss_down) / (2 * eps)
    return result
