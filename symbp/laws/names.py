"""The laws' names, without SymPy: what the command line needs to build its parser quickly."""

from __future__ import annotations

ACTIVATION_KEYS = {
    "relu": "relu",
    "leaky_relu": "leaky-relu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "identity": "identity",
}

ALL_KEYS = (
    "output-size",
    "dW",
    "dB",
    "dX",
    "matrix",
    *ACTIVATION_KEYS.values(),
    "pool-size",
    "avg-pool",
    "max-pool",
    "first-max",
    "flatten",
    "dense",
    "head",
)


def law_key(name: str) -> str | None:
    """The law a name means ('dx', 'output size', 'Max_Pool' -> 'dX', 'output-size',
    'max-pool'), or None."""
    wanted = "-".join(str(name).replace("_", " ").replace("-", " ").split()).lower()
    return next((key for key in ALL_KEYS if key.lower() == wanted), None)
