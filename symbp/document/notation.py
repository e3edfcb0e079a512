"""The document's names: element symbols from the derivation, plus whole-quantity symbols.

The derivation names elements (x_{0,0}, \\delta z^{(1)}_{0,0}); the document also talks about
whole quantities (X, W_1, \\partial L / \\partial Z_1), their transposes (W_2^T) and their
channel slices (X[0], W_1[0,1]). `DocumentNames` holds display symbols for those, and its
`notation` gives the printer every symbol's LaTeX and its place in reading order (data, then
gradients, then weights; row-major within a quantity).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symbp.spec.naming import tex_name
from symbp.symbolic.derivation import Derivation
from symbp.symbolic.symbols import element_latex, gradient_quantity

from .latex_printer import Notation, SymbolKey

# Roles in reading order: a product reads data, gradient, weight (x δz, δz w, f δz).
DATA, GRADIENT, WEIGHT = 0, 1, 2


@dataclass(frozen=True)
class DocumentNames:
    """Display symbols: `q['Z1']` prints Z_1, `dq['Z1']` prints δZ_1, `qt['W2']` W_2^T,
    `part('X', (0,))` X[0]; `dparam` holds δw^{(1)}_{p,q}, ...: the element gradients of the
    parameters, and `notation` every symbol's LaTeX and reading-order key."""

    q: dict[str, sp.Symbol]
    dq: dict[str, sp.Symbol]
    qt: dict[str, sp.Symbol]
    dqt: dict[str, sp.Symbol]
    dparam: dict[str, np.ndarray]
    parts: dict[tuple[str, tuple[int, ...]], sp.Symbol]
    notation: Notation

    def derivative(self, top: str, bottom: str) -> sp.Derivative:
        """∂top/∂bottom between whole quantities, e.g. ∂L/∂W_1."""
        return sp.Derivative(self.q[top], self.q[bottom])

    def gradient_symbols(self, d: Derivation, name: str) -> np.ndarray:
        """The symbols written δ(element) of any quantity, parameters included."""
        if name in self.dparam:
            return self.dparam[name]
        return d.gradient_symbols["d" + name].symbols

    def part(self, name: str, index: tuple[int, ...]) -> sp.Symbol:
        """The slice `name[index]` of a quantity (a channel, or one filter's kernel), or of its
        gradient when `name` starts with 'd' (dX -> δX[0])."""
        return self.parts[(name, index)]


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


def _slice_symbols(d: Derivation, tex: dict[sp.Symbol, str]) -> dict[tuple[str, tuple], sp.Symbol]:
    """X[c], W_1[k,c], δZ_1[k], ...: the leading indices of every tensor of rank 3 or 4."""
    parts: dict[tuple[str, tuple[int, ...]], sp.Symbol] = {}
    for name, quantity in d.quantities.items():
        shape = quantity.shape
        if len(shape) < 3:
            continue
        lead = shape[: len(shape) - 2]
        for index in np.ndindex(*lead):
            label = ",".join(map(str, index))
            for prefix, written in (("", tex_name(name)), ("d", rf"\delta {tex_name(name)}")):
                symbol = sp.Symbol(f"Part.{prefix}{name}[{label}]")
                tex[symbol] = f"{written}[{label}]"
                parts[(prefix + name, index)] = symbol
    return parts


@functools.lru_cache(maxsize=8)
def document_names(d: Derivation) -> DocumentNames:
    """Display names for every quantity, and the printer's notation (LaTeX, reading order)."""
    tex, keys = symbol_keys(d)
    order = list(d.quantities)
    dparam: dict[str, np.ndarray] = {}
    for name in d.parameter_names:
        quantity = d.quantities[name]
        dparam[name] = gradient_quantity(quantity).symbols
        for index in quantity.indices():
            symbol = dparam[name][index]
            tex[symbol] = element_latex(rf"\delta {quantity.tex}", index)
            keys[symbol] = (GRADIENT, order.index(name), index)
    q = {name: sp.Symbol(f"Q.{name}") for name in d.quantities}
    dq = {name: sp.Symbol(f"dQ.{name}") for name in d.quantities}
    qt = {name: sp.Symbol(f"QT.{name}") for name in d.quantities}
    dqt = {name: sp.Symbol(f"dQT.{name}") for name in d.quantities}
    for name in d.quantities:
        tex[q[name]] = tex_name(name)
        tex[dq[name]] = rf"\delta {tex_name(name)}"
        tex[qt[name]] = rf"{tex_name(name)}^{{\mathsf T}}"
        tex[dqt[name]] = rf"\delta {tex_name(name)}^{{\mathsf T}}"
    parts = _slice_symbols(d, tex)
    return DocumentNames(q, dq, qt, dqt, dparam, parts, Notation(tex, keys))
