"""A small numeric backprop engine for the network, independent of the symbolic derivation.

It exists to check the SymPy-derived gradients against something written the ordinary way:
a list of layers, each with `forward` (which caches what its derivative needs) and `backward`
(which turns dL/d(output) into dL/d(input) and records any parameter gradients), in the style
of micrograd. Only NumPy is used, so a mistake shared with the symbolic code is unlikely.

Conventions, which the symbolic side and the PyTorch oracle follow too:

* Conv is valid cross-correlation (no kernel flip), stride 1, one scalar bias.
* ReLU'(0) = 0: gradient passes only where Z1 > 0.
* Max-pool sends a window's whole gradient to its FIRST maximum in row-major order (as
  `np.argmax` and PyTorch do); overlapping windows (stride < pool) add up.
* The loss is the MEAN binary cross-entropy over the batch, so dL/dZ2 = (A2 - Y) / M.

Everything is float64 and vectorized over the batch; the only Python loops run over kernel
or pool offsets, never over pixels or images.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from symbp.spec import NetworkSpec

Array = NDArray[np.float64]

#: Names of the layer outputs, in order; `forward` also returns "A2".
INTERMEDIATES = ("Z1", "A1", "P1", "F", "Z2")


def sigmoid(z: Array) -> Array:
    """Logistic function without overflow: exp is only ever taken of -|z|, which is <= 0."""
    e = np.exp(-np.abs(z))
    return np.asarray(np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), dtype=np.float64)


def bce_with_logits(z: Array, y: Array) -> float:
    """Mean BCE of sigmoid(z) against y in softplus form: finite for every finite z."""
    return float(np.mean(np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))))


class Layer(Protocol):
    def forward(self, x: Array) -> Array: ...

    def backward(self, grad: Array) -> Array: ...


class Conv2D:
    """Valid cross-correlation of every image with one kernel, plus a scalar bias."""

    windows: Array  # (M, cH, cW, kH, kW): the input patch under each output pixel
    grad_weight: Array
    grad_bias: Array

    def __init__(self, weight: Array, bias: Array) -> None:
        self.weight, self.bias = weight, bias

    def forward(self, x: Array) -> Array:
        self.input_shape = x.shape
        self.windows = sliding_window_view(x, self.weight.shape, axis=(1, 2))
        out: Array = np.einsum("mijab,ab->mij", self.windows, self.weight) + self.bias
        return out

    def backward(self, grad: Array) -> Array:
        # Each weight multiplies every patch pixel at its offset; the bias adds to every output.
        self.grad_weight = np.einsum("mijab,mij->ab", self.windows, grad)
        self.grad_bias = np.asarray(grad.sum())
        # dX: each output pixel sends grad * weight[a, b] back to the input pixel at offset (a, b).
        grad_x = np.zeros(self.input_shape)
        ch, cw = grad.shape[1:]
        kh, kw = self.weight.shape
        for a in range(kh):
            for b in range(kw):
                grad_x[:, a : a + ch, b : b + cw] += self.weight[a, b] * grad
        return grad_x


class ReLU:
    """max(x, 0); its derivative is taken as 0 at x == 0, so only strictly positive inputs pass."""

    mask: NDArray[np.bool_]

    def forward(self, x: Array) -> Array:
        self.mask = x > 0
        return np.where(self.mask, x, 0.0)

    def backward(self, grad: Array) -> Array:
        return np.where(self.mask, grad, 0.0)  # where, not multiply: no -0.0, no 0 * inf


class MaxPool2D:
    """Max over size x size windows taken every `stride` pixels; gradient to the first maximum."""

    argmax: NDArray[np.intp]  # (M, pH, pW): row-major index of the chosen pixel in its window

    def __init__(self, size: int, stride: int) -> None:
        self.size, self.stride = size, stride

    def forward(self, x: Array) -> Array:
        p, s = self.size, self.stride
        self.input_shape = x.shape
        windows = sliding_window_view(x, (p, p), axis=(1, 2))[:, ::s, ::s]
        flat = windows.reshape(*windows.shape[:3], p * p)
        self.argmax = flat.argmax(axis=-1)  # argmax returns the first of tied maxima
        out: Array = np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]
        return out

    def backward(self, grad: Array) -> Array:
        # For each offset (a, b) inside the window, route the gradient of the windows whose
        # choice was that offset to input pixel (i*s + a, j*s + b); `+=` sums overlapping windows.
        p, s = self.size, self.stride
        ph, pw = grad.shape[1:]
        grad_x = np.zeros(self.input_shape)
        for a in range(p):
            for b in range(p):
                routed = np.where(self.argmax == a * p + b, grad, 0.0)
                grad_x[:, a : a + s * (ph - 1) + 1 : s, b : b + s * (pw - 1) + 1 : s] += routed
        return grad_x


class Flatten:
    """(M, pH, pW) -> (M, pH * pW), row-major, as the dense layer's feature order requires."""

    def forward(self, x: Array) -> Array:
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad: Array) -> Array:
        return grad.reshape(self.input_shape)


class Dense:
    """One output unit: z = f @ w + b with w of shape (n_features, 1), giving z of shape (M,)."""

    grad_weight: Array
    grad_bias: Array

    def __init__(self, weight: Array, bias: Array) -> None:
        self.weight, self.bias = weight, bias

    def forward(self, x: Array) -> Array:
        self.inputs = x
        out: Array = x @ self.weight[:, 0] + self.bias
        return out

    def backward(self, grad: Array) -> Array:
        self.grad_weight = (self.inputs.T @ grad)[:, None]
        self.grad_bias = np.asarray(grad.sum())
        return np.outer(grad, self.weight[:, 0])


class SigmoidBCE:
    """Sigmoid and mean binary cross-entropy fused into one loss head on the logits Z2.

    Fused because the separate chain rule, dL/dA2 * A2 (1 - A2), divides by A2 (1 - A2),
    which is 0 once the sigmoid saturates; the fused derivative (A2 - Y) / M never is.
    """

    def forward(self, z: Array, y: Array) -> float:
        self.probabilities, self.targets = sigmoid(z), y
        return bce_with_logits(z, y)

    def backward(self) -> Array:
        result: Array = (self.probabilities - self.targets) / self.probabilities.size
        return result


class NumericNetwork:
    """The spec's network as a layer list; every method takes the parameters explicitly."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec

    # ----------------------------------------------------------------- public API
    def forward(self, X: ArrayLike, params: Mapping[str, ArrayLike]) -> dict[str, Array]:
        """Every intermediate {"Z1", "A1", "P1", "F", "Z2", "A2"} for X of shape (M, H, W)."""
        _, values = self._forward(self._images(X), self._parameters(params))
        values["A2"] = sigmoid(values["Z2"])
        return values

    def loss(self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]) -> float:
        """Mean binary cross-entropy of the batch."""
        images = self._images(X)
        _, values = self._forward(images, self._parameters(params))
        return bce_with_logits(values["Z2"], self._labels(Y, len(images)))

    def gradients(
        self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]
    ) -> dict[str, Array]:
        """dL/d(parameter), shaped like `spec.parameter_shapes` (B1 and B2 as 0-d arrays)."""
        layers, _, _ = self._backward(X, Y, params)
        conv, dense = layers[0], layers[-1]
        assert isinstance(conv, Conv2D) and isinstance(dense, Dense)
        return {
            "W1": conv.grad_weight,
            "B1": conv.grad_bias,
            "W2": dense.grad_weight,
            "B2": dense.grad_bias,
        }

    def input_gradient(self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]) -> Array:
        """dL/dX, shape (M, H, W)."""
        _, _, grad_x = self._backward(X, Y, params)
        return grad_x

    def intermediate_gradients(
        self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]
    ) -> dict[str, Array]:
        """dL/d{"Z2", "F", "P1", "A1", "Z1"}: each layer's incoming gradient (worked examples)."""
        _, grads, _ = self._backward(X, Y, params)
        return grads

    # ----------------------------------------------------------------- the passes
    def _layers(self, params: dict[str, Array]) -> list[Layer]:
        return [
            Conv2D(params["W1"], params["B1"]),
            ReLU(),
            MaxPool2D(self.spec.pool_size, self.spec.stride),
            Flatten(),
            Dense(params["W2"], params["B2"]),
        ]

    def _forward(
        self, images: Array, params: dict[str, Array]
    ) -> tuple[list[Layer], dict[str, Array]]:
        layers, x = self._layers(params), images
        values: dict[str, Array] = {}
        for name, layer in zip(INTERMEDIATES, layers, strict=True):
            x = values[name] = layer.forward(x)
        return layers, values

    def _backward(
        self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]
    ) -> tuple[list[Layer], dict[str, Array], Array]:
        """Forward then backward; returns the layers (holding parameter gradients),
        dL/d(each intermediate) and dL/dX."""
        images = self._images(X)
        layers, values = self._forward(images, self._parameters(params))
        head = SigmoidBCE()
        head.forward(values["Z2"], self._labels(Y, len(images)))
        grads: dict[str, Array] = {}
        grad = head.backward()
        for name, layer in zip(reversed(INTERMEDIATES), reversed(layers), strict=True):
            grads[name] = grad
            grad = layer.backward(grad)
        return layers, grads, grad

    # ----------------------------------------------------------------- input checks
    def _images(self, X: ArrayLike) -> Array:
        images = np.asarray(X, dtype=np.float64)
        if images.ndim != 3 or images.shape[1:] != tuple(self.spec.input_shape):
            h, w = self.spec.input_shape
            raise ValueError(f"X must have shape (M, {h}, {w}), got {images.shape}")
        return images

    @staticmethod
    def _labels(Y: ArrayLike, m: int) -> Array:
        labels = np.asarray(Y, dtype=np.float64)
        if labels.size != m:
            raise ValueError(f"Y must hold one label per image ({m}), got shape {labels.shape}")
        return labels.reshape(m)

    def _parameters(self, params: Mapping[str, ArrayLike]) -> dict[str, Array]:
        checked = {}
        for name, shape in self.spec.parameter_shapes.items():
            if name not in params:
                raise ValueError(f"missing parameter {name} (shape {shape})")
            value = np.asarray(params[name], dtype=np.float64)
            if value.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
            checked[name] = value
        return checked
