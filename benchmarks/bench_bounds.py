"""The two ceilings every measured rate is set beside, both measured in the same run.

- Compute bound: the network's floating-point operations per image (counted from the spec:
  two per multiply-add of every convolution and of the dense unit, in the forward pass, the
  weight gradient and the input gradient of every layer that needs one) divided by what one core
  sustains on its best kernel, a single-threaded float64 matrix product (dgemm through NumPy's
  OpenBLAS held to one thread, best of several). Element-wise work (activations, pool, sigmoid)
  is not counted, so the bound is optimistic: nothing can beat it on one core.
- Bandwidth bound: the bytes of each image and its label over the single-thread read bandwidth
  (section 4 measures it): the rate if reading the input once were the only cost.
"""

from __future__ import annotations

import math
from typing import Any

import bench_blas
import bench_timing
import numpy as np

from symbp.spec.model import NetworkSpec

DGEMM_N = 512


def flops_per_image(spec: NetworkSpec, input_gradient: bool = False) -> dict[str, int]:
    """FLOPs of one image's loss and gradients, by pass (see the module docstring)."""
    conv = [g.symbolic_cost for g in spec.geometry]  # multiply-adds of each convolution
    features = spec.n_features
    forward = 2 * (sum(conv) + features)
    weights = 2 * (sum(conv) + features)
    # dL/d(input of layer n) for n >= 2 is needed to reach the earlier layers; dL/dX of the
    # first only when asked for. The dense unit's input gradient (dL/dfeatures) is always needed.
    inputs = 2 * (sum(conv[1:]) + features + (conv[0] if input_gradient else 0))
    return {
        "forward": forward,
        "weight_gradients": weights,
        "input_gradients": inputs,
        "total": forward + weights + inputs,
    }


def dgemm(n: int = DGEMM_N, repeats: int = 7) -> dict[str, Any]:
    """Single-thread float64 matrix-product rate: best of `repeats` n x n products."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    with bench_blas.limited(1):
        np.matmul(a, b, out=out)  # warm up
        seconds = [bench_timing.once(lambda: np.matmul(a, b, out=out)) for _ in range(repeats)]
    best = min(seconds)
    return {
        "method": f"np.matmul of two {n}x{n} float64 arrays, OpenBLAS held to 1 thread, "
        f"best of {repeats}",
        "blas_thread_control": bench_blas.available(),
        "n": n,
        "samples_s": seconds,
        "flops_per_s": 2 * n**3 / best,
    }


def bytes_per_image(spec: NetworkSpec) -> int:
    """X's float64 pixels of one image and its label."""
    return math.prod(spec.image_shape) * 8 + 8


def bounds(
    spec: NetworkSpec, flops_per_s: float, bytes_per_s: float, input_gradient: bool = False
) -> dict[str, Any]:
    """Both bounds, as images/s, for one network."""
    flops = flops_per_image(spec, input_gradient)
    per_image = bytes_per_image(spec)
    return {
        "flops_per_image": flops,
        "compute_images_per_s": flops_per_s / flops["total"],
        "bytes_per_image": per_image,
        "bandwidth_images_per_s": bytes_per_s / per_image,
    }
