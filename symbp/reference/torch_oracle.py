"""PyTorch autograd as an outside reference for the network's loss and gradients.

PyTorch is optional (pip install -e .[oracle]), so it is imported only when asked for. The
network is written with PyTorch's own building blocks, so nothing here shares code or
conventions by accident with the NumPy engine or the symbolic derivation:
`F.conv2d` is cross-correlation (with `stride` and zero `padding`), `F.relu` has derivative 0
at 0, `F.leaky_relu` has derivative `negative_slope` at 0, `F.max_pool2d` sends the gradient
to the first maximum of a window (CPU kernel: strict `>` while scanning row-major),
`F.avg_pool2d` spreads it evenly, `torch.flatten(start_dim=1)` orders features as
(filters, rows, cols), and `F.binary_cross_entropy_with_logits` is the stable fused loss,
averaged over the batch.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from symbp.spec.model import ConvBlock, NetworkSpec

INSTALL_HINT = "PyTorch is not installed: pip install torch==2.13.0 (or pip install -e .[oracle])"


def _torch() -> Any:
    try:
        import torch
    except ImportError as error:
        raise RuntimeError(INSTALL_HINT) from error
    return torch


# Each activation and pool with PyTorch's own function (torch passed in: imported on first use).
TORCH_ACTIVATIONS: dict[str, Callable[[Any, Any, ConvBlock], Any]] = {
    "relu": lambda torch, x, block: torch.nn.functional.relu(x),
    "leaky_relu": lambda torch, x, block: torch.nn.functional.leaky_relu(
        x, negative_slope=block.leaky_slope
    ),
    "sigmoid": lambda torch, x, block: torch.sigmoid(x),
    "tanh": lambda torch, x, block: torch.tanh(x),
    "identity": lambda torch, x, block: x,
}
TORCH_POOLS: dict[str, Callable[[Any], Any]] = {
    "max": lambda functional: functional.max_pool2d,
    "avg": lambda functional: functional.avg_pool2d,
}


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
    """(mean BCE loss, dL/d(parameter) shaped like spec.parameter_shapes, dL/dX of shape
    (M, *spec.image_shape)).

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
    image_shape = tuple(spec.image_shape)
    if images.ndim != len(image_shape) + 1 or tuple(images.shape[1:]) != image_shape:
        wanted = ", ".join(["M", *map(str, image_shape)])
        raise ValueError(f"X must have shape ({wanted}), got {tuple(images.shape)}")
    shapes = spec.parameter_shapes
    leaves = {name: leaf(np.reshape(params[name], shape)) for name, shape in shapes.items()}
    labels = torch.from_numpy(np.array(Y, dtype=np.float64).reshape(-1)).to(torch_dtype)

    x = images.reshape(images.shape[0], spec.channels, *spec.input_shape)  # (M, C, H, W)
    for n, geometry in enumerate(spec.geometry, start=1):
        block = geometry.block
        k, c = geometry.conv[0], geometry.input[0]
        weight = leaves[f"W{n}"].reshape(k, c, *block.filter_shape)
        bias = leaves[f"B{n}"].reshape(k)
        x = functional.conv2d(x, weight, bias, stride=block.stride, padding=block.padding)
        x = TORCH_ACTIVATIONS[block.activation](torch, x, block)
        if block.pooled:
            pool = TORCH_POOLS[block.pool_type](functional)
            x = pool(x, kernel_size=block.pool_size, stride=block.pool_step)
    features = torch.flatten(x, start_dim=1)  # (M, K * pH * pW), row-major
    dense = spec.n_blocks + 1
    logits = (features @ leaves[f"W{dense}"])[:, 0] + leaves[f"B{dense}"]
    loss = functional.binary_cross_entropy_with_logits(logits, labels, reduction="mean")
    loss.backward()

    def numpy(tensor: Any, shape: tuple[int, ...]) -> NDArray[np.float64]:
        return np.asarray(tensor.detach().cpu().numpy(), dtype=np.float64).reshape(shape)

    grads = {name: numpy(leaves[name].grad, shape) for name, shape in shapes.items()}
    return float(loss.item()), grads, numpy(images.grad, tuple(images.shape))
