"""The worked numeric example, for any network: one concrete image and parameter set, run
through the engine.

The image is a vertical edge (dark left half, bright right half) with a little texture, so the
ReLU switches some outputs off and the pool windows pick different winners; channel c has the
texture shifted down by c rows. Every filter of every block is the same left-to-right ramp (it
responds to dark-to-bright edges) plus a small texture that differs between filters and
channels; every conv bias is -0.1 (or the first of CONV_BIASES that keeps the example
off the kinks, see near_kinks), the dense weights alternate 0.5, 0.2, -0.1 and its bias is
0.1. All are exact two-decimal numbers from formulas of the spec (no random numbers), so the
example is the same on every machine. Every computed value comes from the independent numeric
engine, `symbp.reference.engine.NumericNetwork`, never from the symbolic derivation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symbp.spec.model import BlockGeometry, NetworkSpec

from .engine import NumericNetwork

LEARNING_RATE = 0.1
LABEL = 1.0  # the image shows an edge
CONV_BIAS = -0.1
DENSE_BIAS = 0.1


def example_image(spec: NetworkSpec) -> np.ndarray:
    """A vertical edge with a small repeating texture: values in {0.0, ..., 1.0}."""
    h, w = spec.input_shape
    image = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            level = 0.9 if j >= w // 2 else 0.1
            image[i, j] = round(level + 0.1 * (((i + 2 * j + i * j) % 3) - 1), 1)
    return image


def example_input(spec: NetworkSpec) -> np.ndarray:
    """The edge image, one channel per input channel (the texture shifted by c rows)."""
    image = example_image(spec)
    if spec.channels == 1:
        return image
    return np.stack([np.roll(image, c, axis=0) for c in range(spec.channels)])


def edge_filter(kh: int, kw: int, shift: int = 0) -> np.ndarray:
    """A kh x kw ramp from -0.3 (left) to 0.3 (right), plus a texture shifted by `shift`."""
    centre = (kw - 1) / 2
    return np.array(
        [
            [
                round(
                    0.3 * (q - centre) / max(centre, 1) + 0.1 * (((p + 2 * q + shift) % 3) - 1), 2
                )
                for q in range(kw)
            ]
            for p in range(kh)
        ]
    )


# Conv biases tried in turn: the first that keeps the example off every kink is used.
CONV_BIASES = (CONV_BIAS, -0.13, -0.07, -0.17, -0.03, -0.19, -0.11, -0.09)
NEAR = 1e-9  # closer than this to a kink, floating point rather than the convention decides


def block_parameters(
    geometry: BlockGeometry, conv_bias: float = CONV_BIAS
) -> tuple[np.ndarray, np.ndarray]:
    """(filters, biases) of one block, in the shapes of its W and B."""
    (k, c), (kh, kw) = (geometry.conv[0], geometry.input[0]), geometry.block.filter_shape
    bank = np.stack([np.stack([edge_filter(kh, kw, f + ch) for ch in range(c)]) for f in range(k)])
    weight = bank.reshape(geometry.weight_shape)
    bias = np.full(geometry.bias_shape, conv_bias)
    return weight, bias


def near_kinks(spec: NetworkSpec, forward: dict[str, np.ndarray]) -> list[str]:
    """Where the example sits on a kink only up to rounding: a (Leaky)ReLU input within NEAR of
    0, or a max-pool window whose two largest values differ, but by less than NEAR (a tie in
    exact arithmetic that rounding broke). There a student's exact arithmetic, the engine and
    the compiled module could each take a different branch."""
    found = []
    for n, geometry in enumerate(spec.geometry, start=1):
        block = geometry.block
        z, a = forward[f"Z{n}"], forward[f"A{n}"]
        if block.activation in ("relu", "leaky_relu") and np.any(np.abs(z) < NEAR):
            found.append(f"Z{n} within {NEAR:g} of 0")
        if block.pool_type == "max" and block.pool_size > 1:
            planes = a.reshape(-1, *a.shape[-2:])
            size, step = block.pool_size, block.pool_step
            for plane in planes:
                for i in range(0, plane.shape[0] - size + 1, step):
                    for j in range(0, plane.shape[1] - size + 1, step):
                        top = np.sort(plane[i : i + size, j : j + size], axis=None)[-2:]
                        if 0 < top[1] - top[0] < NEAR:
                            found.append(f"A{n} window ({i},{j}) nearly tied")
    return found


def example_parameters(spec: NetworkSpec) -> dict[str, np.ndarray]:
    """Every parameter, named as the spec names them (W1, B1, ..., W_{n+1}, B_{n+1}): the
    first conv bias of CONV_BIASES that keeps the example off every kink (near_kinks), so
    that rounding never decides a branch the conventions should."""
    net, image = NumericNetwork(spec), example_input(spec)[None]
    for bias in CONV_BIASES:
        params = _parameters(spec, bias)
        forward = {k: np.asarray(v[0]) for k, v in net.forward(image, params).items()}
        if not near_kinks(spec, forward):
            return params
    return _parameters(spec, CONV_BIAS)


def _parameters(spec: NetworkSpec, conv_bias: float) -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for n, geometry in enumerate(spec.geometry, start=1):
        params[f"W{n}"], params[f"B{n}"] = block_parameters(geometry, conv_bias)
    dense = spec.n_blocks + 1
    params[f"W{dense}"] = np.array(
        [[round(0.5 - 0.3 * (k % 3), 2)] for k in range(spec.n_features)]
    )
    params[f"B{dense}"] = np.asarray(DENSE_BIAS)
    return params


def worked_example(spec: NetworkSpec | None = None) -> dict[str, Any]:
    """Every number of the worked example, computed by the numeric engine for one image.

    Keys: X, Y, params, forward (every quantity the forward pass writes), loss, intermediate
    (dL/d of each of them), gradients (of every parameter), input_gradient (dL/dX),
    learning_rate, updated (parameters after one gradient-descent step), updated_loss.
    Arrays are for the single image (no batch axis); scalars are floats.
    """
    spec = spec or NetworkSpec()
    net = NumericNetwork(spec)
    image = example_input(spec)
    params = example_parameters(spec)
    batch, labels = image[None], np.array([LABEL])
    forward = {k: np.asarray(v[0]) for k, v in net.forward(batch, params).items()}
    intermediate = {
        k: np.asarray(v[0]) for k, v in net.intermediate_gradients(batch, labels, params).items()
    }
    gradients = {k: np.asarray(v) for k, v in net.gradients(batch, labels, params).items()}
    updated = {k: params[k] - LEARNING_RATE * gradients[k] for k in params}
    return {
        "X": image,
        "Y": LABEL,
        "params": params,
        "forward": forward,
        "loss": net.loss(batch, labels, params),
        "intermediate": intermediate,
        "gradients": gradients,
        "input_gradient": np.asarray(net.input_gradient(batch, labels, params)[0]),
        "learning_rate": LEARNING_RATE,
        "updated": updated,
        "updated_loss": net.loss(batch, labels, updated),
    }
