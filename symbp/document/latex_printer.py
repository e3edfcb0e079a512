"""The document's LaTeX printer: SymPy's `LatexPrinter` in the document's notation.

Indicators print as Iverson brackets [z > 0], symbols with their LaTeX names, and products and
sums keep the order a reader expects (`Notation`). `Dots` and `Numeral` are symbols the document
places in matrices and sums: an ellipsis, and a number already formatted with fixed digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy.core.relational import Relational
from sympy.printing.latex import LatexPrinter

from symbp.symbolic.layers import is_indicator

MATRIX_ROW_GAP = "[3pt]"  # extra space between the rows of a matrix of tall entries

LATEX_SETTINGS: dict[str, Any] = {
    "mul_symbol": None,
    "fold_short_frac": False,
    "order": "none",
}


class Dots(sp.Symbol):
    r"""An ellipsis standing for elided entries of a matrix or terms of a sum.

    Its name is the LaTeX to print (\cdots, \vdots, \ddots); `DocumentLatexPrinter` prints it as
    is. A Symbol subclass so that SymPy matrices and term lists can hold it.
    """


class Numeral(sp.Symbol):
    """A number already formatted with a fixed number of digits, printed exactly as its name.

    Formatting numbers ourselves (not through SymPy's Float printing) keeps the document
    byte-identical across versions and lets a test compare every printed digit.
    """


SymbolKey = tuple[int, int, tuple[int, ...]]
_UNKNOWN_KEY: SymbolKey = (9, 0, ())


@dataclass(frozen=True)
class Notation:
    """How the document names and orders symbols, shared by the printer and the document.

    `names` maps each symbol to its LaTeX; `keys` gives each symbol a sort key (role, quantity,
    index) so that products read data · gradient · weight (x δz, δz w, f δz) and sums run in
    row-major index order (x_{2,0} before x_{10,0}), whatever SymPy's canonical order is.
    """

    names: dict[sp.Symbol, str]
    keys: dict[sp.Symbol, SymbolKey] = field(default_factory=dict)

    def symbol_key(self, symbol: sp.Basic) -> SymbolKey:
        return self.keys.get(symbol, _UNKNOWN_KEY)  # type: ignore[call-overload]

    def factor_key(self, factor: sp.Basic) -> tuple[int, SymbolKey]:
        """Numbers first, then symbols by their key, then Iverson brackets."""
        if factor.is_Number:
            return (0, _UNKNOWN_KEY)
        if is_indicator(factor):
            return (2, _UNKNOWN_KEY)
        return (1, self.symbol_key(factor))

    def ordered_factors(self, expr: sp.Mul) -> list[sp.Basic] | None:
        """The factors of a plain product in reading order; None for anything else."""
        factors = list(expr.args)
        if not all(_is_plain_factor(f) for f in factors):
            return None
        return sorted(factors, key=self.factor_key)

    def term_key(self, term: sp.Basic) -> tuple[tuple[int, SymbolKey], ...]:
        factors = (self.ordered_factors(term) or list(term.args)) if term.is_Mul else [term]
        return tuple(self.factor_key(f) for f in factors if not f.is_Number)

    def ordered_terms(self, expr: sp.Basic) -> list[sp.Basic]:
        """A sum's terms in reading order when every term is a plain product, else SymPy's."""
        terms = list(sp.Add.make_args(expr))
        if all(_is_plain_term(t) for t in terms):
            return sorted(terms, key=self.term_key)
        return terms

    def oriented_conditions(self, condition: sp.Basic) -> list[sp.Basic]:
        """The relations of a conjunction, each written with the common symbol on the left.

        A max-pool condition reads "a_{0,1} > a_{0,0} ∧ a_{0,1} ≥ a_{1,0} ∧ ...": the candidate
        first, compared with the others in index order.
        """
        relations = list(condition.args) if isinstance(condition, sp.And) else [condition]
        if not all(isinstance(r, Relational) for r in relations):
            return relations
        common = set.intersection(*({r.lhs, r.rhs} for r in relations))
        if len(relations) < 2 or len(common) != 1:
            return relations
        (pivot,) = common
        oriented = [r if r.lhs == pivot else r.reversed for r in relations]
        return sorted(oriented, key=lambda r: self.symbol_key(r.rhs))


def _is_plain_factor(factor: sp.Basic) -> bool:
    return bool(factor.is_Symbol or factor.is_Number or is_indicator(factor))


def _is_plain_term(term: sp.Basic) -> bool:
    if term.is_Mul:
        return all(_is_plain_factor(f) for f in term.args)
    return _is_plain_factor(term)


class DocumentLatexPrinter(LatexPrinter):
    """LaTeX in the document's notation.

    Symbols print with their LaTeX names; indicators as Iverson brackets [z > 0] (no extra
    parentheses: the brackets delimit them); products and sums in reading order (see
    `Notation`); a symbol carrying a superscript, such as a^{(2)}, is parenthesized plainly when
    raised to a power and needs none inside log; derivatives as ∂L/∂w.
    """

    def __init__(
        self,
        notation: Notation | dict[sp.Symbol, str],
        settings: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(notation, Notation):
            notation = Notation(dict(notation))
        self.notation = notation
        super().__init__({**LATEX_SETTINGS, "symbol_names": notation.names, **(settings or {})})

    # --------------------------------------------------------------- matrices
    def _print_matrix_contents(self, expr: sp.MatrixBase) -> str:
        """SymPy's matrix, with MATRIX_ROW_GAP more between rows whose entries carry a
        superscript or a fraction: z^{(1)} would otherwise touch the subscripts above it."""
        text = str(super()._print_matrix_contents(expr))
        lines = [" & ".join(self._print(e) for e in expr[r, :]) for r in range(expr.rows)]
        if expr.rows < 2 or not any("^" in line or r"\frac" in line for line in lines):
            return text
        joined = r"\\".join(lines)
        return text.replace(joined, (r"\\" + MATRIX_ROW_GAP).join(lines), 1)

    # --------------------------------------------------------------- display atoms
    def _print_Dots(self, expr: Dots) -> str:
        return expr.name

    def _print_Numeral(self, expr: Numeral) -> str:
        return expr.name

    # --------------------------------------------------------------- notation
    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if is_indicator(expr):
            return f"[{self._print(expr.args[0].cond)}]"
        return super()._print_Piecewise(expr)

    def _print_And(self, expr: sp.And, *args: Any) -> str:
        return r" \wedge ".join(self._print(arg) for arg in self.notation.oriented_conditions(expr))

    def _needs_mul_brackets(self, expr: sp.Basic, first: bool = False, last: bool = False) -> bool:
        if is_indicator(expr):
            return False
        return bool(super()._needs_mul_brackets(expr, first=first, last=last))

    def _as_ordered_terms(self, expr: sp.Basic, order: Any = None) -> list[sp.Basic]:
        if isinstance(expr, sp.Add):
            return self.notation.ordered_terms(expr)
        return list(super()._as_ordered_terms(expr, order=order))

    def _print_Mul(self, expr: sp.Mul) -> str:
        factors = self.notation.ordered_factors(expr)
        if factors is None:
            return str(super()._print_Mul(expr))
        sign = ""
        if factors[0].is_Number and factors[0] < 0:
            sign = "- "
            factors = [-factors[0], *factors[1:]] if factors[0] != -1 else factors[1:]
        if all(isinstance(f, Numeral) for f in factors):
            return sign + r" \cdot ".join(self._print(f) for f in factors)
        return sign + " ".join(self._print(f) for f in factors)

    def parenthesize_super(self, s: str) -> str:
        """(a^{(2)})^{2}: plain parentheses, sized like the symbol."""
        return f"({s})" if "^" in s else s

    def _print_log(self, expr: sp.log, exp: str | None = None) -> str:
        argument = expr.args[0]
        inner = self._print(argument)
        tex = rf"\log {inner}" if argument.is_Symbol else rf"\log\left({inner}\right)"
        return rf"\left({tex}\right)^{{{exp}}}" if exp is not None else tex

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        top = self._print(expr.expr)
        bottom = " ".join(rf"\partial {self._print(v)}" for v, _ in expr.variable_count)
        return rf"\frac{{\partial {top}}}{{{bottom}}}"
