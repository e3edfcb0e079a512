"""Gradient-descent updates in NumPy, written as PyTorch's optimizers compute them.

The formulas follow torch.optim step for step (SGD; SGD with momentum, dampening 0, no
Nesterov; Adam without weight decay or amsgrad), so that a training run can be compared with
PyTorch's parameter by parameter. Every update returns new arrays: the caller's dictionaries
are never changed behind its back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Parameters = dict[str, Array]

MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


class Optimizer(Protocol):
    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> Parameters: ...


class SGD:
    """theta <- theta - lr * g."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> Parameters:
        return {name: value - self.lr * grads[name] for name, value in params.items()}


class Momentum:
    """v <- mu * v + g (v = g on the first step), theta <- theta - lr * v: torch.optim.SGD
    with momentum mu."""

    def __init__(self, lr: float, momentum: float = MOMENTUM) -> None:
        self.lr, self.momentum = lr, momentum
        self.velocity: Parameters = {}

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> Parameters:
        for name, grad in grads.items():
            previous = self.velocity.get(name)
            if previous is None:
                self.velocity[name] = grad.copy()
            else:
                self.velocity[name] = self.momentum * previous + grad
        return {name: value - self.lr * self.velocity[name] for name, value in params.items()}


class Adam:
    """Adam with bias correction, in torch.optim.Adam's order of operations."""

    def __init__(
        self, lr: float, betas: tuple[float, float] = ADAM_BETAS, epsilon: float = ADAM_EPSILON
    ) -> None:
        self.lr, self.betas, self.epsilon = lr, betas, epsilon
        self.steps = 0
        self.first: Parameters = {}
        self.second: Parameters = {}

    def update(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> Parameters:
        self.steps += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**self.steps)
        correction2_sqrt = math.sqrt(1 - beta2**self.steps)
        updated: Parameters = {}
        for name, value in params.items():
            grad = grads[name]
            first = self.first.get(name, np.zeros_like(grad))
            second = self.second.get(name, np.zeros_like(grad))
            first = first + (grad - first) * (1 - beta1)  # torch's lerp_
            second = second * beta2 + (1 - beta2) * grad * grad
            self.first[name], self.second[name] = first, second
            denominator = np.sqrt(second) / correction2_sqrt + self.epsilon
            updated[name] = value - step_size * (first / denominator)
        return updated


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float) -> Optimizer:
    """A fresh optimizer (no state yet) by its --optimizer name."""
    if name not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    optimizer: Optimizer = OPTIMIZERS[name](lr)
    return optimizer
