"""PyTorch autograd as an outside reference for the network's loss and gradients.

PyTorch is optional (pip install -e .[oracle]), so it is imported only when asked for. The
network is written with PyTorch's own building blocks, so nothing here shares code or
conventions by accident with the NumPy engine or the symbolic derivation:
`F.conv2d` is cross-correlation, `F.relu` has derivative 0 at 0, `F.max_pool2d` sends the
gradient to the first maximum of a window (CPU kernel: strict `>` while scanning row-major),
and `F.binary_cross_entropy_with_logits` is the stable fused loss, averaged over the batch.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from symbp.spec import NetworkSpec

INSTALL_HINT = "PyTorch is not installed: pip install torch==2.13.0 (or pip install -e .[oracle])"


def _torch() -> Any:
    try:
        import torch
    except ImportError as error:
        raise RuntimeError(INSTALL_HINT) from error
    return torch


def torch_available() -> bool:
    """True if PyTorch is installed (found without importing it, which takes about a second)."""
    return importlib.util.find_spec("torch") is not None


def torch_gradients(
    spec: NetworkSpec,
    X: ArrayLike,
    Y: ArrayLike,
    params: Mapping[str, ArrayLike],
    dtype: str = "float64",
) -> tuple[float, dict[str, NDArray[np.float64]], NDArray[np.float64]]:
    """(mean BCE loss, dL/d(parameter) shaped like spec.parameter_shapes, dL/dX of shape (M,H,W)).

    `dtype` is the torch dtype to compute in ("float64" or "float32"); results come back as
    float64 NumPy arrays either way.
    """
    torch = _torch()
    functional = torch.nn.functional
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    torch_dtype = getattr(torch, dtype)

    def leaf(value: ArrayLike) -> Any:
        array = np.array(value, dtype=np.float64)  # a private copy torch may share memory with
        return torch.from_numpy(array).to(torch_dtype).requires_grad_(True)

    images = leaf(X)
    if images.ndim != 3 or tuple(images.shape[1:]) != tuple(spec.input_shape):
        raise ValueError(f"X must have shape (M, {spec.input_shape[0]}, {spec.input_shape[1]})")
    shapes = spec.parameter_shapes
    leaves = {name: leaf(np.reshape(params[name], shape)) for name, shape in shapes.items()}
    w1, b1, w2, b2 = (leaves[name] for name in ("W1", "B1", "W2", "B2"))
    labels = torch.from_numpy(np.array(Y, dtype=np.float64).reshape(-1)).to(torch_dtype)

    z1 = functional.conv2d(images[:, None], w1[None, None], b1.reshape(1))  # (M, 1, cH, cW)
    a1 = functional.relu(z1)
    p1 = functional.max_pool2d(a1, kernel_size=spec.pool_size, stride=spec.stride)
    features = torch.flatten(p1, start_dim=1)  # (M, pH * pW), row-major
    z2 = (features @ w2)[:, 0] + b2
    loss = functional.binary_cross_entropy_with_logits(z2, labels, reduction="mean")
    loss.backward()

    def numpy(tensor: Any, shape: tuple[int, ...]) -> NDArray[np.float64]:
        return np.asarray(tensor.detach().cpu().numpy(), dtype=np.float64).reshape(shape)

    grads = {name: numpy(leaves[name].grad, shape) for name, shape in shapes.items()}
    return float(loss.item()), grads, numpy(images.grad, tuple(images.shape))
