"""The worked numeric example: one concrete image and parameter set, run through the engine.

The image is a vertical edge (dark left half, bright right half) with a little texture, so the
ReLU switches some outputs off and the pool windows pick different winners. Inputs and
parameters are exact two-decimal numbers built from formulas of the spec (no random numbers),
so the example is the same on every machine. All computed values come from the independent
numeric engine, `symbp.engine.NumericNetwork`, never from the symbolic derivation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine import NumericNetwork
from .spec import NetworkSpec

LEARNING_RATE = 0.1
LABEL = 1.0  # the image shows an edge


def example_image(spec: NetworkSpec) -> np.ndarray:
    """A vertical edge with a small repeating texture: values in {0.0, ..., 1.0}."""
    h, w = spec.input_shape
    image = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            level = 0.9 if j >= w // 2 else 0.1
            image[i, j] = round(level + 0.1 * (((i + 2 * j + i * j) % 3) - 1), 1)
    return image


def example_parameters(spec: NetworkSpec) -> dict[str, np.ndarray]:
    """A filter that responds to dark-to-bright edges, plus small fixed offsets."""
    kh, kw = spec.filter_shape
    centre = (kw - 1) / 2
    w1 = np.array(
        [
            [
                round(0.3 * (q - centre) / max(centre, 1) + 0.1 * (((p + 2 * q) % 3) - 1), 2)
                for q in range(kw)
            ]
            for p in range(kh)
        ]
    )
    w2 = np.array([[round(0.5 - 0.3 * (k % 3), 2)] for k in range(spec.n_features)])
    return {"W1": w1, "B1": np.asarray(-0.1), "W2": w2, "B2": np.asarray(0.1)}


def worked_example(spec: NetworkSpec | None = None) -> dict[str, Any]:
    """Every number of the worked example, computed by the numeric engine for one image.

    Keys: X, Y, params, forward (Z1, A1, P1, F, Z2, A2), loss, intermediate (dL/dZ2, dL/dF,
    dL/dP1, dL/dA1, dL/dZ1), gradients (W1, B1, W2, B2), input_gradient (dL/dX),
    learning_rate, updated (parameters after one gradient-descent step), updated_loss.
    Arrays are for the single image (no batch axis); scalars are floats.
    """
    spec = spec or NetworkSpec()
    net = NumericNetwork(spec)
    image = example_image(spec)
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
