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

from . import notebook
from .support.version import __version__

_EXPORTS = {
    "Derivation": "symbolic.derivation",
    "derive": "symbolic.derivation",
    "generate_source": "codegen.module",
    "load": "codegen.module",
    "ConvBlock": "spec.model",
    "NetworkSpec": "spec.model",
    "SpecError": "spec.model",
}
_MODULES = {"progress": "support.progress"}  # `from symbp import progress`

__all__ = ["__version__", *_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f".{_MODULES[name]}", __name__)
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'symbp' has no attribute {name!r}")


notebook.register()  # Jupyter shows a Derivation as its gradients; a no-op outside IPython
