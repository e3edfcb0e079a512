"""Every layer kind, once, as data: what it is called and what the text says about it.

Each layer above keeps its own implementation table keyed by kind (the symbolic rule in
`symbp.symbolic.layers.LAYER_RULES`, the provers in `symbp.proofs.run.STAGE_PROVERS`, the
engine's and PyTorch's array forms in `symbp.reference`); tests check that every table covers
every kind listed here, so adding a kind fails the tests until each table has its entry.
DEVELOPERS.md lists the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Kind:
    """One layer kind's words.

    `pipeline` writes the stage in the generated module's header, with {o} its output, {i} its
    input, {w} and {b} its parameters and {how} the convolution's settings; `convention` is the
    rule the tool follows where the derivative is a choice ('' when there is none).
    """

    name: str
    title: str  # a heading: 'Max-pool'
    pipeline: str
    convention: str = ""
    piecewise_linear: bool = False  # the full-composition proof applies (no exp, no tanh)
    activation: bool = False  # a block's activation (spec key `activation`)


def _catalogue(*kinds: Kind) -> MappingProxyType[str, Kind]:
    return MappingProxyType({kind.name: kind for kind in kinds})


KINDS = _catalogue(
    Kind(
        "conv",
        "Convolution",
        "{o} = {i} ({how}) {w} + {b}",
        "cross-correlation (the kernel is not flipped)",
        piecewise_linear=True,
    ),
    Kind("relu", "ReLU", "{o} = ReLU({i})", "ReLU'(0) = 0", piecewise_linear=True, activation=True),
    Kind(
        "leaky_relu",
        "Leaky ReLU",
        "{o} = LeakyReLU({i})",
        "LeakyReLU'(0) is its slope",
        piecewise_linear=True,
        activation=True,
    ),
    Kind("sigmoid", "Sigmoid", "{o} = sigmoid({i})", activation=True),
    Kind("tanh", "Tanh", "{o} = tanh({i})", activation=True),
    Kind("identity", "Identity", "{o} = {i}", piecewise_linear=True, activation=True),
    Kind(
        "maxpool",
        "Max-pool",
        "{o} = MaxPool({i})",
        "a tied max-pool window sends its whole gradient to the first maximum in row-major order",
        piecewise_linear=True,
    ),
    Kind(
        "avgpool",
        "Average pool",
        "{o} = AvgPool({i})",
        "an average pool spreads its gradient evenly",
        piecewise_linear=True,
    ),
    Kind("flatten", "Flatten", "{o} = flatten({i}) (row-major)", piecewise_linear=True),
    Kind("dense", "Dense", "{o} = {i} . {w} + {b}", piecewise_linear=True),
    Kind("bce", "Binary cross-entropy", "{o} = mean BCE(Y, {i})"),
)

ACTIVATIONS = tuple(name for name, kind in KINDS.items() if kind.activation)
POOL_KINDS = {"max": "maxpool", "avg": "avgpool"}  # spec pool_type -> its layer kind
