"""How the laws read: a plain-text printer for the terminal and a LaTeX printer for documents.

Both print the same SymPy objects the laws hold. Their conventions: an index condition
Piecewise((e, c), (0, True)) is the Iverson bracket e [c]; the pair lo <= m, m <= hi is the
chain lo <= m <= hi; delta_z[k, i, j] is the gradient symbol (δz in text, \\delta z in LaTeX).
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

TEXT_NAMES = {
    "delta_z": "δz",
    "delta_a": "δa",
    "delta_p": "δp",
    "delta_F": "δF",
    "delta_z_o": "δz_o",
    "alpha": "α",
    "mu": "μ",
}
LATEX_NAMES = {
    "delta_z": r"\delta z",
    "delta_a": r"\delta a",
    "delta_p": r"\delta p",
    "delta_F": r"\delta F",
    "delta_z_o": r"\delta z_o",
    "delta_X": r"\delta X",
    "delta_Z": r"\delta Z",
    "mu": r"\mu",
    "alpha": r"\alpha",
}
RELATIONS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠"}


def chain(condition: sp.Basic) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(lo, middle, hi) when a condition is lo <= middle <= hi, written as two relations."""
    if not isinstance(condition, sp.And) or len(condition.args) != 2:
        return None
    first, second = condition.args
    for left, right in ((first, second), (second, first)):
        both = isinstance(left, sp.LessThan) and isinstance(right, sp.LessThan)
        if both and left.rhs == right.lhs:
            return left.lhs, left.rhs, right.rhs
    return None


def _index_bracket(expr: sp.Piecewise) -> bool:
    return len(expr.args) == 2 and expr.args[1].expr == 0 and expr.args[1].cond is sp.true


class TextPrinter(StrPrinter):
    """Plain text with Unicode operators: Σ, ∂, ≤, ⌊⌋, [condition]. `names` prints chosen
    symbols as given (the sizes as numbers, for a law's arithmetic at a spec)."""

    def __init__(self, settings: dict | None = None, names: Mapping | None = None) -> None:
        super().__init__(settings)
        self.names = dict(names or {})

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        if expr in self.names:
            return str(self.names[expr])
        return TEXT_NAMES.get(expr.name, expr.name)

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return self._print(expr.label)

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        ((variable, _),) = expr.variable_count
        return f"∂{self._print(expr.expr)}/∂{self._print(variable)}"

    def _print_Sum(self, expr: sp.Sum) -> str:
        limits = " ".join(
            f"Σ_{{{self._print(v)}={self._print(lo)}}}^{{{self._print(hi)}}}"
            for v, lo, hi in expr.limits
        )
        return f"{limits} {self.parenthesize(expr.function, 40)}"

    def _print_Product(self, expr: sp.Product) -> str:
        limits = " ".join(
            f"Π_{{{self._print(v)}={self._print(lo)}}}^{{{self._print(hi)}}}"
            for v, lo, hi in expr.limits
        )
        return f"{limits} {self.parenthesize(expr.function, 40)}"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if _index_bracket(expr):
            body, condition = expr.args[0].expr, expr.args[0].cond
            bracket = f"[{self._print(condition)}]"
            return bracket if body == 1 else f"{self.parenthesize(body, 50)}·{bracket}"
        pieces = [f"{self._print(e)} if {self._print(c)}" for e, c in expr.args]
        return "(" + "; ".join(pieces).replace(" if True", " otherwise") + ")"

    def _print_And(self, expr: sp.And) -> str:
        found = chain(expr)
        if found is not None:
            lo, middle, hi = (self._print(e) for e in found)
            return f"{lo} ≤ {middle} ≤ {hi}"
        return " and ".join(self._print(a) for a in expr.args)

    def _print_Relational(self, expr: sp.Basic) -> str:
        operator = RELATIONS.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {operator} {self._print(expr.rhs)}"

    def _print_Equality(self, expr: sp.Eq) -> str:
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"

    def _print_floor(self, expr: sp.floor) -> str:
        return f"⌊{self._print(expr.args[0])}⌋"

    def _print_ceiling(self, expr: sp.ceiling) -> str:
        return f"⌈{self._print(expr.args[0])}⌉"

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta) -> str:
        return f"[{self._print(expr.args[0])} = {self._print(expr.args[1])}]"

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        return TEXT_NAMES.get(expr.name, expr.name.replace("delta_", "δ"))

    def _print_Transpose(self, expr: sp.Basic) -> str:
        return f"{self._print(expr.arg)}ᵀ"

    def _print_Subs(self, expr: sp.Subs) -> str:
        """f'(0) for Subs(Derivative(f(z), z), z, 0)."""
        inner, (variable,), (point,) = expr.args
        if isinstance(inner, sp.Derivative) and inner.variables == (variable,):
            function = inner.expr
            if isinstance(function, sp.core.function.AppliedUndef):
                return f"{function.func.__name__}'({self._print(point)})"
        return super()._print_Subs(expr)


def text(expr: sp.Basic, names: Mapping | None = None) -> str:
    """A law's SymPy object as one line of plain text (`names`: symbol -> what to print)."""
    out = TextPrinter(names=names).doprint(expr)
    return out.replace("**", "^").replace("*", "·")


class LawLatexPrinter(LatexPrinter):
    """LaTeX with Iverson brackets for index conditions and chained inequalities."""

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__(settings)

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if expr in self._settings["symbol_names"]:
            return self._settings["symbol_names"][expr]
        if expr.name in LATEX_NAMES:
            return LATEX_NAMES[expr.name]
        return super()._print_Symbol(expr, style=style)

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return self._print(expr.label)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        base = self._print(expr.base)
        indices = ",".join(self._print(i) for i in expr.indices)
        return f"{{{base}}}_{{{indices}}}"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if _index_bracket(expr):
            body, condition = expr.args[0].expr, expr.args[0].cond
            bracket = rf"\left[{self._print(condition)}\right]"
            return bracket if body == 1 else rf"{self.parenthesize(body, 50)}\,{bracket}"
        return super()._print_Piecewise(expr)

    def _print_And(self, expr: sp.And) -> str:
        found = chain(expr)
        if found is not None:
            lo, middle, hi = (self._print(e) for e in found)
            return rf"{lo} \le {middle} \le {hi}"
        return r",\ ".join(self._print(a) for a in expr.args)

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta, exp: str | None = None) -> str:
        left, right = (self._print(a) for a in expr.args)
        return rf"\left[{left} = {right}\right]"

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        ((variable, _),) = expr.variable_count
        return rf"\frac{{\partial {self._print(expr.expr)}}}{{\partial {self._print(variable)}}}"


def latex(expr: sp.Basic, names: Mapping | None = None, inline: bool = False) -> str:
    """A law's SymPy object as LaTeX math (without the $ delimiters); `names` maps symbols to
    the LaTeX to print for them (the sizes as numbers, for a law's arithmetic at a spec);
    `inline` folds fractions to a / b, for maths within a line of text."""
    settings = {
        "symbol_names": {s: str(v) for s, v in (names or {}).items()},
        "fold_short_frac": inline,
    }
    return LawLatexPrinter(settings).doprint(expr)
