"""symbp: backpropagation through a small CNN, derived symbolically and element by element.

    from symbp import NetworkSpec, derive, load
    derivation = derive(NetworkSpec(input_shape=(6, 6)))
    module = load(derivation)          # the generated NumPy gradient functions

Names are imported on first use, so that the numeric parts (engine, verification workers) can
be used without paying for importing SymPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Derivation": "derivation",
    "derive": "derivation",
    "generate_source": "codegen",
    "load": "codegen",
    "ConvBlock": "spec",
    "NetworkSpec": "spec",
    "SpecError": "spec",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'symbp' has no attribute {name!r}")
