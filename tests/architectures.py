"""A matrix of network architectures shared by the tests: `from architectures import ARCHITECTURES`.

Each entry is (id, NetworkSpec). Together they cover every option at least twice and in
combination: channels 1/2/3, filters 1/2/3, conv stride 1/2/3, padding 0/1/2, every
activation (leaky ReLU with the default and other slopes), max/avg/no pool, overlapping pools
(stride < size), rectangular inputs and filters, two- and three-block networks and one
MNIST-sized input.

Every spec is built (and so validated) on import. Each one's symbolic cost is at most
MAX_COST, except the MNIST-sized one (at most MNIST_MAX_COST), so a symbolic derivation of
each stays quick.

In every multi-block network the blocks before the last compute exactly on small integers
(ReLU, identity or leaky ReLU with a power-of-two slope; 2x2 or no pooling), so integer test
data keep their exact ties and zeros through to the last block.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import max_errors
from symbp.spec.model import ConvBlock, NetworkSpec

M = 5

MAX_COST = 6000
MNIST_MAX_COST = 12_000


def _one(input_shape: tuple[int, int], **settings: Any) -> NetworkSpec:
    return NetworkSpec(input_shape=input_shape, **settings)


def _blocks(input_shape: tuple[int, int], channels: int, *blocks: ConvBlock) -> NetworkSpec:
    return NetworkSpec(input_shape=input_shape, channels=channels, blocks=blocks)


ARCHITECTURES: list[tuple[str, NetworkSpec]] = [
    # ---- one block, one channel
    ("default-6x6", NetworkSpec()),
    ("max-overlap-7x7-p3s2", _one((7, 7), pool_size=3, pool_stride=2)),
    ("max-overlap-s1-5x5-f2", _one((5, 5), filter_shape=(2, 2), pool_stride=1)),
    ("rect-6x9-f3x2", _one((6, 9), filter_shape=(3, 2))),
    ("stride2-9x9-f2", _one((9, 9), stride=2, filters=2)),
    ("stride3-pad2-avg-8x8", _one((8, 8), stride=3, padding=2, pool_type="avg")),
    ("stride3-none-10x10-f4", _one((10, 10), filter_shape=(4, 4), stride=3, pool_type="none")),
    ("leaky-default-6x6", _one((6, 6), activation="leaky_relu")),
    (
        "leaky-0.1-f3-7x7-overlap",
        _one(
            (7, 7), activation="leaky_relu", leaky_slope=0.1, filters=3, pool_size=3, pool_stride=2
        ),
    ),
    ("sigmoid-avg-6x6", _one((6, 6), activation="sigmoid", pool_type="avg")),
    (
        "tanh-avg-overlap-7x7",
        _one((7, 7), activation="tanh", pool_type="avg", pool_size=3, pool_stride=2),
    ),
    ("tanh-max-f3-6x6", _one((6, 6), activation="tanh", filters=3)),
    ("identity-none-5x5", _one((5, 5), activation="identity", pool_type="none")),
    (
        "identity-avg-pad2-5x5-overlap",
        _one((5, 5), activation="identity", padding=2, pool_type="avg", pool_size=3, pool_stride=2),
    ),
    ("pool-whole-5x5-f2-p4", _one((5, 5), filter_shape=(2, 2), pool_size=4)),
    # ---- one block, several channels
    ("c2-f2-6x6", _one((6, 6), channels=2, filters=2)),
    ("c3-f3-pad1-6x6", _one((6, 6), channels=3, filters=3, padding=1)),
    (
        "c3-stride2-pad1-sigmoid-8x8",
        _one((8, 8), channels=3, stride=2, padding=1, activation="sigmoid"),
    ),
    (
        "c2-rect-7x10-f2x3-pad1",
        _one((7, 10), channels=2, filters=2, filter_shape=(2, 3), padding=1),
    ),
    ("c3-f2-1x1-filter-4x4", _one((4, 4), channels=3, filters=2, filter_shape=(1, 1))),
    (
        "c2-f3-leaky-0.3-stride2-none-7x7",
        _one(
            (7, 7),
            channels=2,
            filters=3,
            stride=2,
            activation="leaky_relu",
            leaky_slope=0.3,
            pool_type="none",
        ),
    ),
    # ---- several blocks
    ("two-blocks-10x10", _blocks((10, 10), 1, ConvBlock(), ConvBlock())),
    (
        "two-blocks-c2-stride2-none-tanh-avg",
        _blocks(
            (11, 11),
            2,
            ConvBlock(filters=2, stride=2, pool_type="none"),
            ConvBlock(
                filters=3, padding=1, activation="tanh", pool_type="avg", pool_size=3, pool_stride=2
            ),
        ),
    ),
    (
        "two-blocks-c3-identity-avg-sigmoid-none",
        _blocks(
            (8, 8),
            3,
            ConvBlock(filters=2, padding=1, activation="identity", pool_type="avg"),
            ConvBlock(activation="sigmoid", pool_type="none"),
        ),
    ),
    (
        "two-blocks-leaky-overlap-stride2",
        _blocks(
            (9, 9),
            1,
            ConvBlock(
                filter_shape=(2, 2),
                filters=2,
                activation="leaky_relu",
                leaky_slope=0.25,
                pool_stride=1,
            ),
            ConvBlock(filters=2, stride=2, pool_size=3),
        ),
    ),
    (
        "two-blocks-rect-8x12",
        _blocks(
            (8, 12),
            1,
            ConvBlock(filter_shape=(3, 5)),
            ConvBlock(filter_shape=(2, 3), activation="tanh", pool_type="none"),
        ),
    ),
    (
        "two-blocks-c2-stride3-pad2-leaky",
        _blocks(
            (10, 10),
            2,
            ConvBlock(filters=3, stride=3, padding=2, activation="identity", pool_type="none"),
            ConvBlock(filters=2, padding=1, activation="leaky_relu"),  # 4x4 -> 2x2
        ),
    ),
    (
        "three-blocks-12x12",
        _blocks(
            (12, 12),
            1,
            ConvBlock(filters=2),
            ConvBlock(filter_shape=(2, 2), filters=2, activation="leaky_relu", leaky_slope=0.5),
            ConvBlock(filter_shape=(2, 2), activation="sigmoid", pool_type="none"),
        ),
    ),
    (
        # strided and floored: the last input row and column are never read, so their
        # gradients are exactly 0, and identity passes that 0 on unmasked
        "identity-unread-two-blocks-5x5",
        _blocks(
            (5, 5),
            1,
            ConvBlock(activation="identity", pool_type="none"),
            ConvBlock(filter_shape=(2, 2), stride=2, pool_type="none"),
        ),
    ),
    ("pool-one-cell-5x5-f2", _one((5, 5), filters=2, pool_size=1)),
    (
        "mnist-28x28",
        _blocks(
            (28, 28),
            1,
            ConvBlock(filters=2, stride=2, padding=1),  # 14x14 -> 7x7
            ConvBlock(filters=2, pool_type="none"),  # 5x5
        ),
    ),
]

ARCHITECTURE_IDS = [name for name, _ in ARCHITECTURES]
ARCHITECTURE_SPECS = dict(ARCHITECTURES)

assert len(ARCHITECTURE_SPECS) == len(ARCHITECTURES), "architecture ids must be unique"
for _name, _spec in ARCHITECTURES:
    _limit = MNIST_MAX_COST if _name.startswith("mnist") else MAX_COST
    assert _spec.symbolic_cost <= _limit, f"{_name}: symbolic cost {_spec.symbolic_cost}"


# ------------------------------------------------ cases shared by the architecture tests
def assert_close(actual: dict, expected: dict, tol: float, floor: float = 1e-12) -> None:
    errors = max_errors(actual, expected, floor=floor)
    worst = {name: rel for name, (_, rel) in errors.items()}
    assert all(rel <= tol for rel in worst.values()), f"relative errors {worst} > {tol}"


def random_case(spec: NetworkSpec, seed: int, m: int = M):
    """Normal data; weights scaled by 1/sqrt(fan-in) so that deep tanh/sigmoid stay lively."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, *spec.image_shape))
    Y = rng.integers(0, 2, size=m).astype(np.float64)
    params = {}
    for name, shape in spec.parameter_shapes.items():
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else int(np.prod(shape))
        params[name] = rng.normal(size=shape) / np.sqrt(max(fan_in, 1))
        if name.startswith("B"):
            params[name] = params[name] + 0.1  # a little positive bias keeps some ReLUs alive
    return X, Y, params


def blocks_of(values: np.ndarray) -> np.ndarray:
    """(M, rows, cols) or (M, K, rows, cols) -> (M, K, rows, cols)."""
    return values[:, None] if values.ndim == 3 else values


def integer_case(spec: NetworkSpec, seed: int, m: int = M):
    """Integer images in {0, 1, 2} and conv weights in {0, 1}; each bias is minus the middle
    value of its filter's pre-activations, so that many are exactly 0. All conv arithmetic is
    then exact (see tests/architectures.py), so max-pool windows tie exactly too.

    Every weight is non-negative and every label 0, so every dL/dZ_out = A_out / M > 0 and
    every gradient is a sum of terms of one sign: exactly 0 only where no path carries
    gradient (ReLU masks, pool choices), never by cancellation, and without cancellation the
    two summation orders agree to a few ulp."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(m, *spec.image_shape)).astype(np.float64)
    Y = np.zeros(m)
    shapes = spec.parameter_shapes
    params = {name: np.zeros(shape) for name, shape in shapes.items()}
    for n in range(1, spec.n_blocks + 1):
        weight = rng.integers(0, 2, size=shapes[f"W{n}"]).astype(np.float64)
        weight.flat[0] = 1.0  # never an all-zero filter
        params[f"W{n}"] = weight
        z = blocks_of(NumericNetwork(spec).forward(X, params)[f"Z{n}"])  # bias still 0
        per_filter = np.swapaxes(z, 0, 1).reshape(z.shape[1], -1)
        middle = np.sort(per_filter, axis=1)[:, per_filter.shape[1] // 2]
        params[f"B{n}"] = -middle.reshape(shapes[f"B{n}"])
        if spec.blocks[n - 1].activation in ("sigmoid", "tanh"):
            # keep |Z| <= 2 by an exact power-of-two scale: a saturated sigmoid or tanh has a
            # derivative (1 - a) a or 1 - a^2 that cancels, so a last-bit difference in a
            # between NumPy and PyTorch would be magnified far beyond 1e-12
            spread = float(np.max(np.abs(per_filter - middle[:, None])))
            scale = 2.0 ** -max(0, int(np.ceil(np.log2(max(spread, 1.0) / 2))))
            params[f"W{n}"] = params[f"W{n}"] * scale
            params[f"B{n}"] = params[f"B{n}"] * scale
    dense = spec.n_blocks + 1
    params[f"W{dense}"] = rng.uniform(0.5, 1.5, size=shapes[f"W{dense}"])
    logits = NumericNetwork(spec).forward(X, params)[f"Z{dense}"]
    params[f"B{dense}"] = np.asarray(-float(np.mean(logits)))  # no saturated sigmoid
    return X, Y, params


def max_pool_ties(spec: NetworkSpec, values: dict) -> int:
    """How many max-pool windows (over all blocks) have their maximum more than once."""
    ties = 0
    for n, block in enumerate(spec.blocks, start=1):
        if block.pool_type != "max":
            continue
        p, s = block.pool_size, block.pool_step
        a = blocks_of(values[f"A{n}"])
        windows = sliding_window_view(a, (p, p), axis=(2, 3))[:, :, ::s, ::s]
        flat = windows.reshape(*windows.shape[:4], p * p)
        ties += int(np.sum(np.sum(flat == flat.max(axis=-1, keepdims=True), axis=-1) > 1))
    return ties
