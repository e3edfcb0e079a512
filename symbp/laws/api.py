"""The Python API of the laws (re-exported by `symbp.laws`): find, establish, report, explain."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from . import catalog
from .bridge import BridgeCheck
from .catalog import ALL_KEYS, Law
from .established import checks_at, derivation_of, establish, spec_of
from .proof import IndexLaw
from .report import format_law, report_of
from .text import latex

LAW_KEYS = ALL_KEYS


class UnknownLaw(ValueError, KeyError):
    """A name that is no law; the message lists the laws (a ValueError and, as a lookup, a
    KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def laws_for(spec: Any = None) -> list[Law]:
    """Every law the spec's layers call for (general: symbolic sizes), proved."""
    return [catalog.law(key) for key in catalog.keys_for(spec_of(spec))]


def all_laws() -> list[Law]:
    """Every law symbp knows, whichever layers a spec has."""
    return [catalog.law(key) for key in ALL_KEYS]


def find_law(key: str) -> Law:
    """A law by its key ('dX', 'output-size', ...); UnknownLaw listing the keys otherwise."""
    if key not in ALL_KEYS:
        raise UnknownLaw(f"unknown law {key!r}; the laws are: {', '.join(ALL_KEYS)}")
    return catalog.law(key)


def is_law(name: str) -> bool:
    """Whether `symbp explain NAME` means a law rather than a gradient element."""
    return name in ALL_KEYS


def bridge_checks(
    spec_or_derivation: Any = None,
    keys: tuple[str, ...] = (),
    overrides: Mapping[str, IndexLaw] | None = None,
) -> list[BridgeCheck]:
    """(b): every law at the spec's sizes against every element of the element-wise derivation.

    `keys` keeps only the checks of those laws; `overrides` replaces the conv laws 'dW', 'dB',
    'dX' by others (`conv.conv_law(key, statement)`), so that tests can bridge a wrong law."""
    checks = checks_at(derivation_of(spec_or_derivation), overrides)
    return [c for c in checks if not keys or c.law in keys]


def laws_report(spec_or_derivation: Any = None, full: bool = False) -> tuple[str, bool]:
    """What `symbp laws` prints, and whether every law and every instance check holds.

    `full` prints each law in full (format_law) rather than one line each."""
    found = establish(spec_or_derivation)
    return report_of(found, full), found.passed


def explain_law(key: str, spec_or_derivation: Any = None) -> str:
    """What `symbp explain <law>` prints: the law in full, then its instance at the spec."""
    law = find_law(key)
    checks = bridge_checks(spec_or_derivation, keys=(key,))
    verdict = law.verdict if all(c.holds for c in checks) else "fails"
    lines = [format_law(law, verdict)]
    if checks:
        lines.append("at this spec's sizes:")
        lines += [f"  {c}" for c in checks]
    return "\n".join(lines)


def clear_caches() -> None:
    """Forget every law built in this process (and SymPy's cache), so that the next use pays
    the full cost again: for benchmarks that time a cold start."""
    from sympy.core.cache import clear_cache

    clear_cache()
    package = __name__.rpartition(".")[0]
    for name, module in sorted(sys.modules.items()):
        if name.startswith(package + ".") and module is not None:
            for value in vars(module).values():
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()


@dataclass(frozen=True)
class MatrixView:
    """The convolution of one block as a matrix: dX = J^T vec(dZ), at the spec's sizes."""

    block: int
    input: str
    output: str
    jacobian: sp.SparseMatrix  # d vec(Z) / d vec(input): rows (k,i,j), columns (c,u,v)
    output_gradient: sp.Matrix  # vec(dL/dZ), the derivation's gradient symbols
    input_gradient: sp.Matrix  # J^T vec(dL/dZ)
    holds: bool  # J is the derivation's Jacobian and J^T vec(dZ) its input gradient


def matrix_view(spec_or_derivation: Any = None, block: int = 1) -> MatrixView:
    """J from the law at the spec's sizes (16 x 36 at the default), and J^T vec(dZ)."""
    from .bridge import binder, conv_views, matrix_checks
    from .matrix import jacobian_at

    d = derivation_of(spec_or_derivation)
    view = next(v for v in conv_views(d) if v.block == block)
    jacobian = jacobian_at(view.sizes, binder(view.arrays))
    dz = sp.Matrix(view.arrays["delta_z"].reshape(-1).tolist())
    holds = all(c.holds for c in matrix_checks(d, view))
    return MatrixView(block, view.input, view.output, jacobian, dz, jacobian.T * dz, holds)


def latex_parts(law: Law) -> dict[str, Any]:
    """A law's pieces as LaTeX strings, for the document: statement(s), conditions, derived."""

    def each(item: Any) -> list[str]:
        return [latex(x) for x in (item if isinstance(item, tuple) else (item,))]

    return {
        "key": law.key,
        "title": law.title,
        "statement": each(law.statement),
        "index_form": each(law.index_form) if law.index_form is not None else [],
        "conditions": [latex(c) for c in law.conditions],
        "derived": each(law.derived),
        "verdict": law.verdict,
        "method": law.method,
        "detail": law.detail,
    }
