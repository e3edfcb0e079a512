"""Laws, not only instances: the convolution-gradient patterns derived and proved for every size.

Each layer kind is written once in index form over symbolic sizes (`index_form`); `sympy.diff`
of a generic upstream contraction and delta elimination (`delta`) give the gradients as
index-form sums with their conditions. Each law is then

(a) proved equal to its textbook statement, symbolically (same canonical form) or, where the
    forms differ, by exact instantiation over a stated grid of sizes (`proof`), and
(b) bridged: instantiated at a spec's sizes, it reproduces every element of the element-wise
    derivation `derive(spec).gradients` exactly (`bridge`).

    from symbp import NetworkSpec
    from symbp.laws import laws_for, format_law, laws_report
    for law in laws_for(NetworkSpec()):
        print(format_law(law))
    text, ok = laws_report(NetworkSpec())          # what `symbp laws` prints, and its verdict
    found = establish(derive(NetworkSpec()))       # laws + bridge: what `derivation.laws` holds

The command line calls `command.add_laws_arguments`, `command.run_laws` and
`command.explain_law`; the document's section "The general law" (symbp.document.section_laws)
reads `establish` and the catalog. `timing.measure` is what the laws cost beside `derive` (for
the benchmark).

symbp itself is imported lazily and only through its public names.
"""

from __future__ import annotations

import importlib
from typing import Any

from .names import ALL_KEYS

LAW_KEYS = ALL_KEYS

# name -> the module that defines it; imported on first use, so that the command line can
# build its parser (symbp.laws.command, symbp.laws.names) without importing SymPy.
_EXPORTS = {
    "BridgeCheck": "bridge",
    "Established": "established",
    "Law": "catalog",
    "MatrixView": "api",
    "UnknownLaw": "api",
    "all_laws": "api",
    "bridge_checks": "api",
    "clear_caches": "api",
    "establish": "established",
    "explain_law": "api",
    "find_law": "api",
    "format_law": "report",
    "is_law": "api",
    "latex": "text",
    "latex_parts": "api",
    "laws_for": "api",
    "laws_report": "api",
    "matrix_view": "api",
    "report_of": "report",
    "text": "text",
}

__all__ = ["LAW_KEYS", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
