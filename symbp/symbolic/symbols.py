"""Named symbolic quantities: arrays of SymPy symbols with a Python name and a LaTeX name each.

Every element has two names so that one object serves all consumers: the SymPy symbol's own
name is the Python name the code generator prints (`w1_0_1`); `Quantity.latex_names()` gives
the LaTeX printer its `symbol_names` setting (`w^{(1)}_{0,1}`). Symbols are real, so SymPy
never assumes a sign but can still order them in relations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product

import numpy as np
import sympy as sp

from .construct import product_of, total


@dataclass(frozen=True)
class Quantity:
    """A named tensor of element symbols, e.g. Z1 with elements z1_i_j.

    `symbols` is a NumPy object array (any rank; rank 0 for scalars such as B1), which keeps
    indexing uniform for matrices now and channel tensors later.
    """

    name: str  # 'Z1'
    code: str  # 'z1': prefix of element names in generated code
    tex: str  # 'z^{(1)}': LaTeX stem; elements are tex_{i,j}
    symbols: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.symbols.shape)

    @property
    def size(self) -> int:
        return int(self.symbols.size)

    def flat(self) -> list[sp.Symbol]:
        return list(self.symbols.reshape(-1))

    def indices(self) -> Iterator[tuple[int, ...]]:
        return iter(product(*(range(n) for n in self.shape)))

    def latex_names(self) -> dict[sp.Symbol, str]:
        return {self.symbols[index]: element_latex(self.tex, index) for index in self.indices()}


def element_name(code: str, index: tuple[int, ...]) -> str:
    return "_".join([code, *map(str, index)])


def element_latex(tex: str, index: tuple[int, ...]) -> str:
    if not index:
        return tex
    subscript = ",".join(map(str, index))
    return f"{tex}_{{{subscript}}}"


def make_quantity(name: str, code: str, tex: str, shape: tuple[int, ...]) -> Quantity:
    """Create `name` with one real symbol per element, e.g. make_quantity('X', 'x', 'x', (6, 6))."""
    symbols = np.empty(shape, dtype=object)
    for index in product(*(range(n) for n in shape)):
        symbols[index] = sp.Symbol(element_name(code, index), real=True)
    return Quantity(name, code, tex, symbols)


def gradient_quantity(of: Quantity) -> Quantity:
    """Symbols standing for dL/d(element) of `of`: dz1_0_0, written \\delta z^{(1)}_{0,0}."""
    return make_quantity(f"d{of.name}", f"d{of.code}", rf"\delta {of.tex}", of.shape)


def as_matrix(array: np.ndarray) -> sp.Matrix:
    """A NumPy object array of expressions as a SymPy matrix (rank 0 -> 1x1, rank 1 -> column)."""
    if array.ndim == 0:
        return sp.Matrix([[array[()]]])
    if array.ndim == 1:
        return sp.Matrix([[e] for e in array])
    if array.ndim == 2:
        return sp.Matrix(array.tolist())
    raise ValueError(f"cannot show a rank-{array.ndim} array as one matrix")


def object_array(shape: tuple[int, ...], fill: sp.Expr = sp.S.Zero) -> np.ndarray:
    array = np.empty(shape, dtype=object)
    array[...] = fill
    return array


_UNEVALUATED = (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction, sp.Piecewise)


def rebuild_node(node: sp.Basic, args: list[sp.Basic]) -> sp.Basic:
    """node.func(*args), without re-running SymPy's evaluation of relations and piecewise.

    Used when renaming symbols in an expression that was evaluated when it was built: renaming
    cannot make a relation between distinct real symbols decidable, so skipping the (slow)
    evaluation is exact.
    """
    if isinstance(node, _UNEVALUATED):
        return node.func(*args, evaluate=False)
    if type(node) is sp.Add:
        return total(args)
    if type(node) is sp.Mul:
        return product_of(args)
    return node.func(*args)
