"""The same training in PyTorch: the outside reference for the loop and its timing.

The network is written with PyTorch's own layers (F.conv2d with the spec's stride and
padding, its activations, F.max_pool2d / F.avg_pool2d, flatten, a matrix product and
F.binary_cross_entropy_with_logits, mean over the batch) and trained by torch.optim's SGD,
SGD with momentum or Adam in float64, from the initial parameters and on the batches of the
symbp run it is compared with. PyTorch is optional; it is imported only here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .data import DigitData
from .loop import StepObserver, iter_batches
from .optim import ADAM_BETAS, ADAM_EPSILON, MOMENTUM, Array, Parameters
from .settings import TrainingSettings

ACTIVATIONS: dict[str, Callable[[Any, Any, float], Any]] = {
    "relu": lambda torch, z, slope: torch.nn.functional.relu(z),
    "leaky_relu": lambda torch, z, slope: torch.nn.functional.leaky_relu(z, slope),
    "sigmoid": lambda torch, z, slope: torch.sigmoid(z),
    "tanh": lambda torch, z, slope: torch.tanh(z),
    "identity": lambda torch, z, slope: z,
}


def logits(torch: Any, spec: Any, leaves: Mapping[str, Any], images: Any) -> Any:
    """Z of the output unit for a batch of images shaped (M, *spec.image_shape)."""
    functional = torch.nn.functional
    x = images.reshape(images.shape[0], spec.channels, *spec.input_shape)
    for n, geometry in enumerate(spec.geometry, start=1):
        block = geometry.block
        weight = leaves[f"W{n}"].reshape(geometry.conv[0], geometry.input[0], *block.filter_shape)
        bias = leaves[f"B{n}"].reshape(geometry.conv[0])
        x = functional.conv2d(x, weight, bias, stride=block.stride, padding=block.padding)
        x = ACTIVATIONS[block.activation](torch, x, block.leaky_slope)
        if block.pool_type == "max":
            x = functional.max_pool2d(x, block.pool_size, stride=block.pool_step)
        elif block.pool_type == "avg":
            x = functional.avg_pool2d(x, block.pool_size, stride=block.pool_step)
    dense = spec.n_blocks + 1
    features = torch.flatten(x, start_dim=1)  # (M, K * rows * cols), row-major
    return (features @ leaves[f"W{dense}"].reshape(-1, 1))[:, 0] + leaves[f"B{dense}"]


def torch_optimizer(torch: Any, settings: TrainingSettings, leaves: list[Any]) -> Any:
    """torch.optim's counterpart of the NumPy optimizer the settings name."""
    lr = settings.learning_rate
    if settings.optimizer == "sgd":
        return torch.optim.SGD(leaves, lr=lr)
    if settings.optimizer == "momentum":
        return torch.optim.SGD(leaves, lr=lr, momentum=MOMENTUM)
    return torch.optim.Adam(leaves, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPSILON)


def _numpy(leaves: Mapping[str, Any]) -> Parameters:
    return {name: leaf.detach().numpy().astype(np.float64) for name, leaf in leaves.items()}


def train_with_torch(
    spec: Any,
    data: DigitData,
    settings: TrainingSettings,
    initial: Mapping[str, Array],
    observe: StepObserver | None = None,
) -> tuple[Parameters, list[float]]:
    """Train from `initial` on the batches of `iter_batches`, in float64 on one thread (as
    symbp's benchmarks measure PyTorch); return the final parameters and each step's time
    (forward, loss, backward and update)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        leaves = {
            name: torch.tensor(np.array(value, dtype=np.float64), requires_grad=True)
            for name, value in initial.items()
        }
        optimizer = torch_optimizer(torch, settings, list(leaves.values()))
        images, labels = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
        batches = iter_batches(len(data.y_train), settings.batch, settings.steps, settings.seed)
        seconds = []
        for step, indices in enumerate(batches, start=1):
            started = time.perf_counter()
            chosen = torch.from_numpy(indices)
            optimizer.zero_grad()
            z = logits(torch, spec, leaves, images[chosen])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, labels[chosen])
            loss.backward()
            optimizer.step()
            seconds.append(time.perf_counter() - started)
            if observe is not None:
                observe(step, _numpy(leaves))
        return _numpy(leaves), seconds
    finally:
        torch.set_num_threads(threads)


def compare_with_torch(result: Any) -> dict[str, Any]:
    """PyTorch's run of the same training (same start, same batches): its time per step and
    how far its final parameters are from symbp's, relative to their size."""
    from .loop import relative_difference

    final, seconds = train_with_torch(result.spec, result.data, result.settings, result.initial)
    return {
        "reference": "PyTorch float64, 1 thread, torch.optim",
        "seconds_per_step": float(np.mean(seconds)),
        "final_relative_difference": relative_difference(result.final, final),
    }
