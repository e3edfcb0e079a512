"""The document's names: element symbols from the derivation, plus whole-quantity symbols.

The derivation names elements (x_{0,0}, \\delta z^{(1)}_{0,0}); the document also talks about
whole quantities (X, W_1, \\partial L / \\partial Z_1). `DocumentNames` holds display symbols
for those, and `notation(d)` gives the printer one `Notation`: every symbol's LaTeX and its
place in reading order (data, then gradients, then weights; row-major within a quantity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .derivation import PARAMETER_NAMES, Derivation
from .printers import Notation, SymbolKey
from .symbols import element_latex, gradient_quantity

# Roles in reading order: a product reads data, gradient, weight (x δz, δz w, f δz).
DATA, GRADIENT, WEIGHT = 0, 1, 2


def quantity_tex(name: str) -> str:
    """'W1' -> 'W_1', 'F' -> 'F': the whole-quantity name as LaTeX."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem) :]
    return f"{stem}_{digits}" if digits else stem


@dataclass(frozen=True)
class DocumentNames:
    """Display symbols for whole quantities: `q['Z1']` prints Z_1, `dq['Z1']` prints δZ_1."""

    q: dict[str, sp.Symbol]
    dq: dict[str, sp.Symbol]
    dparam: dict[str, np.ndarray]  # δw^{(1)}_{p,q}, δb^{(1)}, ...: element gradients of parameters

    def derivative(self, top: str, bottom: str) -> sp.Derivative:
        """∂top/∂bottom between whole quantities, e.g. ∂L/∂W_1."""
        return sp.Derivative(self.q[top], self.q[bottom])


def document_names(d: Derivation) -> DocumentNames:
    q = {name: sp.Symbol(f"Q.{name}") for name in d.quantities}
    dq = {name: sp.Symbol(f"dQ.{name}") for name in d.quantities}
    dparam = {name: gradient_quantity(d.quantities[name]).symbols for name in PARAMETER_NAMES}
    return DocumentNames(q, dq, dparam)


def symbol_keys(d: Derivation) -> tuple[dict[sp.Symbol, str], dict[sp.Symbol, SymbolKey]]:
    """Every element symbol's LaTeX, and its reading-order key: role (data, gradient, weight),
    then the quantity's place in the pipeline, then the index."""
    tex = dict(d.latex_names)
    keys: dict[sp.Symbol, SymbolKey] = {}
    order = list(d.quantities)
    parameters = set(d.parameter_names)
    for position, (name, quantity) in enumerate(d.quantities.items()):
        role = WEIGHT if name in parameters else DATA
        for index in quantity.indices():
            keys[quantity.symbols[index]] = (role, position, index)
    for gradient_name, quantity in d.gradient_symbols.items():
        position = order.index(gradient_name[1:])
        for index in quantity.indices():
            keys[quantity.symbols[index]] = (GRADIENT, position, index)
    return tex, keys


def notation(d: Derivation, names: DocumentNames) -> Notation:
    """Every symbol's LaTeX and reading-order key, for the printer and the layout decisions."""
    tex, keys = symbol_keys(d)
    order = list(d.quantities)
    for name in PARAMETER_NAMES:
        quantity = d.quantities[name]
        for index in quantity.indices():
            symbol = names.dparam[name][index]
            tex[symbol] = element_latex(rf"\delta {quantity.tex}", index)
            keys[symbol] = (GRADIENT, order.index(name), index)
    for name in d.quantities:
        tex[names.q[name]] = quantity_tex(name)
        tex[names.dq[name]] = rf"\delta {quantity_tex(name)}"
    return Notation(tex, keys)
