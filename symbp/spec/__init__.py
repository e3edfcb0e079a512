"""The network as data: the spec model, its validation, and reading it from TOML.

May import: symbp.support. No SymPy, no NumPy arrays of expressions: everything above reads a
spec, nothing here knows how it will be derived, proved, compiled or documented.
"""

from .model import ConvBlock, NetworkSpec, SpecError

__all__ = ["ConvBlock", "NetworkSpec", "SpecError"]
