"""A small numeric backprop engine for the network, independent of the symbolic derivation.

It exists to check the SymPy-derived gradients against something written the ordinary way:
a list of layers, each with `forward` (which caches what its derivative needs) and `backward`
(which turns dL/d(output) into dL/d(input) and records any parameter gradients), in the style
of micrograd. Only NumPy is used, so a mistake shared with the symbolic code is unlikely.

Inside, every image tensor is (M, channels, rows, cols); the public methods take and return
the spec's own shapes (X as (M, *spec.image_shape), parameters as `spec.parameter_shapes`,
intermediates with the channel axis dropped when there is one channel).

Conventions, which the symbolic side and the PyTorch oracle follow too:

* Conv is cross-correlation (no kernel flip) over zero-padded input with a stride, summed
  over input channels, one bias per filter:
  Z[k, i, j] = sum_{c, p, q} Xpad[c, i*S + p, j*S + q] * W[k, c, p, q] + B[k].
* ReLU'(0) = 0: gradient passes only where Z > 0. Leaky ReLU is z for z > 0, else slope * z,
  with derivative slope at 0 (as PyTorch). Sigmoid and tanh are the ordinary functions;
  identity passes everything through.
* Max-pool (per channel) sends a window's whole gradient to its FIRST maximum in row-major
  order (as `np.argmax` and PyTorch do); overlapping windows (stride < pool) add up.
  Avg-pool is the window's mean; each pixel gets 1/(P*P) of the window's gradient.
* Flatten is row-major over (filters, rows, cols), like `torch.flatten(start_dim=1)`.
* The loss is the MEAN binary cross-entropy over the batch, so dL/dZ_out = (A_out - Y) / M.

Everything is float64 and vectorized over the batch; the only Python loops run over kernel
or pool offsets (and layers), never over pixels or images.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from symbp.spec.model import ConvBlock, NetworkSpec, squeeze

Array = NDArray[np.float64]


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


def _strided(x: Array, p: int, q: int, stride: int, rows: int, cols: int) -> Array:
    """x[..., p + i*stride, q + j*stride] for i < rows, j < cols: the pixels that kernel
    (or pool) offset (p, q) meets, one per output pixel."""
    return x[
        ..., p : p + stride * (rows - 1) + 1 : stride, q : q + stride * (cols - 1) + 1 : stride
    ]


class Conv2D:
    """Cross-correlation of (M, C, H, W) images with (K, C, kH, kW) kernels, zero padding,
    a stride and one bias per filter, giving (M, K, oH, oW)."""

    padded: Array  # (M, C, H + 2P, W + 2P)
    grad_weight: Array
    grad_bias: Array

    def __init__(self, weight: Array, bias: Array, stride: int = 1, padding: int = 0) -> None:
        self.weight, self.bias = weight, bias
        self.stride, self.padding = stride, padding

    def forward(self, x: Array) -> Array:
        pad, s = self.padding, self.stride
        self.input_shape = x.shape
        self.padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        _, _, kh, kw = self.weight.shape
        rows = (self.padded.shape[2] - kh) // s + 1
        cols = (self.padded.shape[3] - kw) // s + 1
        self.output_size = rows, cols
        out = np.zeros((x.shape[0], self.weight.shape[0], rows, cols))
        for p in range(kh):
            for q in range(kw):
                patch = _strided(self.padded, p, q, s, rows, cols)  # (M, C, oH, oW)
                out += np.einsum("mcij,kc->mkij", patch, self.weight[:, :, p, q])
        result: Array = out + self.bias[None, :, None, None]
        return result

    def backward(self, grad: Array) -> Array:
        # dW[k, c, p, q] = sum_{m,i,j} Xpad[m, c, i*S + p, j*S + q] dZ[m, k, i, j]: the padded
        # input correlated with dZ dilated by the stride. dX is the transposed operation: each
        # output pixel sends dZ * W[k, c, p, q] back to the input pixel at offset (p, q),
        # summed over filters; the padding is then cropped off.
        pad, s = self.padding, self.stride
        rows, cols = self.output_size
        _, _, kh, kw = self.weight.shape
        self.grad_weight = np.zeros(self.weight.shape)
        grad_padded = np.zeros(self.padded.shape)
        for p in range(kh):
            for q in range(kw):
                patch = _strided(self.padded, p, q, s, rows, cols)
                self.grad_weight[:, :, p, q] = np.einsum("mcij,mkij->kc", patch, grad)
                _strided(grad_padded, p, q, s, rows, cols)[...] += np.einsum(
                    "mkij,kc->mcij", grad, self.weight[:, :, p, q]
                )
        self.grad_bias = grad.sum(axis=(0, 2, 3))
        h, w = self.input_shape[2:]
        result: Array = grad_padded[:, :, pad : pad + h, pad : pad + w]
        return result


class ReLU:
    """max(x, 0); its derivative is taken as 0 at x == 0, so only strictly positive inputs pass."""

    mask: NDArray[np.bool_]

    def forward(self, x: Array) -> Array:
        self.mask = x > 0
        return np.where(self.mask, x, 0.0)

    def backward(self, grad: Array) -> Array:
        return np.where(self.mask, grad, 0.0)  # where, not multiply: no -0.0, no 0 * inf


class LeakyReLU:
    """x for x > 0, else slope * x; the derivative at 0 is the slope (as in PyTorch)."""

    mask: NDArray[np.bool_]

    def __init__(self, slope: float) -> None:
        self.slope = float(slope)

    def forward(self, x: Array) -> Array:
        self.mask = x > 0
        return np.where(self.mask, x, x * self.slope)

    def backward(self, grad: Array) -> Array:
        return np.where(self.mask, grad, grad * self.slope)


class Sigmoid:
    """1 / (1 + exp(-x)); derivative a (1 - a) from the cached output a."""

    output: Array

    def forward(self, x: Array) -> Array:
        self.output = sigmoid(x)
        return self.output

    def backward(self, grad: Array) -> Array:
        result: Array = grad * (1.0 - self.output) * self.output
        return result


class Tanh:
    """tanh(x); derivative 1 - a^2 from the cached output a."""

    output: Array

    def forward(self, x: Array) -> Array:
        self.output = np.tanh(x)
        return self.output

    def backward(self, grad: Array) -> Array:
        result: Array = grad * (1.0 - self.output * self.output)
        return result


class Identity:
    """No activation: values and gradients pass unchanged."""

    def forward(self, x: Array) -> Array:
        return x

    def backward(self, grad: Array) -> Array:
        return grad


class MaxPool2D:
    """Per-channel max over size x size windows taken every `stride` pixels; the gradient
    goes to the first maximum of each window."""

    argmax: NDArray[np.intp]  # (M, C, pH, pW): row-major index of the chosen pixel in its window

    def __init__(self, size: int, stride: int) -> None:
        self.size, self.stride = size, stride

    def forward(self, x: Array) -> Array:
        p, s = self.size, self.stride
        self.input_shape = x.shape
        windows = sliding_window_view(x, (p, p), axis=(2, 3))[:, :, ::s, ::s]
        flat = windows.reshape(*windows.shape[:4], p * p)
        self.argmax = flat.argmax(axis=-1)  # argmax returns the first of tied maxima
        out: Array = np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]
        return out

    def backward(self, grad: Array) -> Array:
        # For each offset (a, b) inside the window, route the gradient of the windows whose
        # choice was that offset to input pixel (i*s + a, j*s + b); `+=` sums overlapping windows.
        p, s = self.size, self.stride
        ph, pw = grad.shape[2:]
        grad_x = np.zeros(self.input_shape)
        for a in range(p):
            for b in range(p):
                routed = np.where(self.argmax == a * p + b, grad, 0.0)
                _strided(grad_x, a, b, s, ph, pw)[...] += routed
        return grad_x


class AvgPool2D:
    """Per-channel mean over size x size windows taken every `stride` pixels; each pixel of a
    window gets 1/(size*size) of its gradient (overlapping windows add up)."""

    def __init__(self, size: int, stride: int) -> None:
        self.size, self.stride = size, stride

    def forward(self, x: Array) -> Array:
        p, s = self.size, self.stride
        self.input_shape = x.shape
        rows = (x.shape[2] - p) // s + 1
        cols = (x.shape[3] - p) // s + 1
        total = np.zeros((*x.shape[:2], rows, cols))
        for a in range(p):  # row-major sum, then one division, as PyTorch does
            for b in range(p):
                total += _strided(x, a, b, s, rows, cols)
        result: Array = total / (p * p)
        return result

    def backward(self, grad: Array) -> Array:
        p, s = self.size, self.stride
        ph, pw = grad.shape[2:]
        share = grad / (p * p)
        grad_x = np.zeros(self.input_shape)
        for a in range(p):
            for b in range(p):
                _strided(grad_x, a, b, s, ph, pw)[...] += share
        return grad_x


class Flatten:
    """(M, K, pH, pW) -> (M, K * pH * pW), row-major, as the dense layer's feature order
    (and torch.flatten(start_dim=1)) requires."""

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
    """Sigmoid and mean binary cross-entropy fused into one loss head on the final logits.

    Fused because the separate chain rule, dL/dA * A (1 - A), divides by A (1 - A), which is
    0 once the sigmoid saturates; the fused derivative (A - Y) / M never is.
    """

    def forward(self, z: Array, y: Array) -> float:
        self.probabilities, self.targets = sigmoid(z), y
        return bce_with_logits(z, y)

    def backward(self) -> Array:
        result: Array = (self.probabilities - self.targets) / self.probabilities.size
        return result


POOL_LAYERS: dict[str, Callable[[int, int], Layer]] = {"max": MaxPool2D, "avg": AvgPool2D}
ACTIVATION_LAYERS: dict[str, Callable[[ConvBlock], Layer]] = {
    "relu": lambda block: ReLU(),
    "leaky_relu": lambda block: LeakyReLU(block.leaky_slope),
    "sigmoid": lambda block: Sigmoid(),
    "tanh": lambda block: Tanh(),
    "identity": lambda block: Identity(),
}


def activation_layer(block: ConvBlock) -> Layer:
    """The layer for a block's activation name."""
    if block.activation not in ACTIVATION_LAYERS:
        raise ValueError(f"unknown activation {block.activation!r}")
    return ACTIVATION_LAYERS[block.activation](block)


def quantity_names(spec: NetworkSpec) -> tuple[str, ...]:
    """The names `NumericNetwork.forward` returns, in network order: per block n "Z{n}",
    "A{n}" and (if the block pools) "P{n}"; then "F", "Z{n+1}", "A{n+1}". All but the last
    are the keys of `intermediate_gradients`."""
    names: list[str] = []
    for n, block in enumerate(spec.blocks, start=1):
        names += [f"Z{n}", f"A{n}"] + ([f"P{n}"] if block.pooled else [])
    dense = spec.n_blocks + 1
    return (*names, "F", f"Z{dense}", f"A{dense}")


class NumericNetwork:
    """The spec's network as a layer list; every method takes the parameters explicitly."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec

    # ----------------------------------------------------------------- public API
    def quantity_names(self) -> tuple[str, ...]:
        """`forward`'s keys in network order (see the module function `quantity_names`)."""
        return quantity_names(self.spec)

    def intermediate_names(self) -> tuple[str, ...]:
        """The layer outputs that have a gradient: every quantity but the final A."""
        return self.quantity_names()[:-1]

    def forward(self, X: ArrayLike, params: Mapping[str, ArrayLike]) -> dict[str, Array]:
        """Every quantity of `quantity_names()` (for the default network Z1, A1, P1, F, Z2,
        A2) for X of shape (M, *spec.image_shape). Block outputs are (M, K, rows, cols), or
        (M, rows, cols) when K == 1; F is (M, features); Z and A of the dense unit are (M,)."""
        _, values = self._forward(self._images(X), self._parameters(params))
        out = self._shaped(values)
        out[self.quantity_names()[-1]] = sigmoid(values[self.intermediate_names()[-1]])
        return out

    def loss(self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]) -> float:
        """Mean binary cross-entropy of the batch."""
        images = self._images(X)
        _, values = self._forward(images, self._parameters(params))
        logits = values[self.intermediate_names()[-1]]
        return bce_with_logits(logits, self._labels(Y, len(images)))

    def gradients(
        self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]
    ) -> dict[str, Array]:
        """dL/d(parameter), shaped like `spec.parameter_shapes` (scalar biases as 0-d arrays)."""
        layers, _, _ = self._backward(X, Y, params)
        weighted = [layer for layer in layers if isinstance(layer, (Conv2D, Dense))]
        shapes = self.spec.parameter_shapes
        grads: dict[str, Array] = {}
        for n, layer in enumerate(weighted, start=1):
            grads[f"W{n}"] = layer.grad_weight.reshape(shapes[f"W{n}"])
            grads[f"B{n}"] = layer.grad_bias.reshape(shapes[f"B{n}"])
        return grads

    def input_gradient(self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]) -> Array:
        """dL/dX, shape (M, *spec.image_shape)."""
        _, _, grad_x = self._backward(X, Y, params)
        return grad_x.reshape(grad_x.shape[0], *self.spec.image_shape)

    def intermediate_gradients(
        self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]
    ) -> dict[str, Array]:
        """dL/d(each of `intermediate_names()`), shaped like `forward`'s values: each layer's
        incoming gradient (for the worked examples). In backward order: dL/dZ_out first."""
        _, grads, _ = self._backward(X, Y, params)
        return self._shaped(grads)

    # ----------------------------------------------------------------- the passes
    def _layers(self, params: dict[str, Array]) -> list[Layer]:
        """The layers, one per name of `intermediate_names()`, in order."""
        layers: list[Layer] = []
        for n, geometry in enumerate(self.spec.geometry, start=1):
            block = geometry.block
            (k, c), (kh, kw) = (geometry.conv[0], geometry.input[0]), block.filter_shape
            weight = params[f"W{n}"].reshape(k, c, kh, kw)
            bias = params[f"B{n}"].reshape(k)
            layers += [Conv2D(weight, bias, block.stride, block.padding), activation_layer(block)]
            if block.pooled:
                layers.append(POOL_LAYERS[block.pool_type](block.pool_size, block.pool_step))
        dense = self.spec.n_blocks + 1
        layers += [Flatten(), Dense(params[f"W{dense}"], params[f"B{dense}"])]
        return layers

    def _forward(
        self, images: Array, params: dict[str, Array]
    ) -> tuple[list[Layer], dict[str, Array]]:
        layers, x = self._layers(params), images
        values: dict[str, Array] = {}
        for name, layer in zip(self.intermediate_names(), layers, strict=True):
            x = values[name] = layer.forward(x)
        return layers, values

    def _backward(
        self, X: ArrayLike, Y: ArrayLike, params: Mapping[str, ArrayLike]
    ) -> tuple[list[Layer], dict[str, Array], Array]:
        """Forward then backward; returns the layers (holding parameter gradients),
        dL/d(each intermediate) in the internal (M, C, H, W) layout, and dL/dX likewise."""
        images = self._images(X)
        layers, values = self._forward(images, self._parameters(params))
        names = self.intermediate_names()
        head = SigmoidBCE()
        head.forward(values[names[-1]], self._labels(Y, len(images)))
        grads: dict[str, Array] = {}
        grad = head.backward()
        for name, layer in zip(reversed(names), reversed(layers), strict=True):
            grads[name] = grad
            grad = layer.backward(grad)
        return layers, grads, grad

    @staticmethod
    def _shaped(values: dict[str, Array]) -> dict[str, Array]:
        """Internal (M, K, rows, cols) block tensors as the quantities are shaped: the channel
        axis dropped when K == 1."""
        return {
            name: value.reshape(value.shape[0], *squeeze(value.shape[1:]))
            if value.ndim == 4
            else value
            for name, value in values.items()
        }

    # ----------------------------------------------------------------- input checks
    def _images(self, X: ArrayLike) -> Array:
        """X as (M, C, H, W) float64, after checking it is (M, *spec.image_shape)."""
        images = np.asarray(X, dtype=np.float64)
        shape = self.spec.image_shape
        if images.ndim != len(shape) + 1 or images.shape[1:] != shape:
            wanted = ", ".join(["M", *map(str, shape)])
            raise ValueError(f"X must have shape ({wanted}), got {images.shape}")
        return images.reshape(images.shape[0], self.spec.channels, *self.spec.input_shape)

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
