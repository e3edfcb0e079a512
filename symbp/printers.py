"""SymPy printer subclasses, one per target, with their settings in one place.

- `NumPyCodePrinter`: the generated module's arithmetic over batch vectors. Indicators print
  as boolean masks (never `numpy.select`, which evaluates every branch), the logistic function
  as a stable helper, log(1 + exp(u)) as `np.logaddexp(0, u)`.
- `DocumentLatexPrinter`: the document's notation. Indicators print as Iverson brackets
  [z > 0], symbols with their LaTeX names, and products keep the order a reader expects.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.numpy import NumPyPrinter

from .layers import is_indicator

NUMPY_SETTINGS: dict[str, Any] = {
    "fully_qualified_modules": False,  # 'np.exp', not 'numpy.exp'
    "inline": True,
    "allow_unknown_functions": False,
    "order": "none",  # SymPy's stored (canonical, deterministic) order; sorting costs seconds
}

LATEX_SETTINGS: dict[str, Any] = {
    "mul_symbol": None,
    "fold_short_frac": False,
    "order": "none",
}


def _logistic_argument(expr: sp.Expr) -> sp.Expr | None:
    """u when expr is 1/(1 + exp(-u)), else None."""
    if isinstance(expr, sp.Pow) and expr.exp == -1 and isinstance(expr.base, sp.Add):
        terms = expr.base.args
        if len(terms) == 2 and sp.S.One in terms:
            other = terms[0] if terms[1] == 1 else terms[1]
            if isinstance(other, sp.exp):
                return -other.args[0]
    return None


class NumPyCodePrinter(NumPyPrinter):
    """Prints element expressions as NumPy operations on whole batch vectors."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({**NUMPY_SETTINGS, **(settings or {})})
        self.module_imports.clear()

    def _module_format(self, fqn: str, register: bool = True) -> str:
        return "np." + fqn.split(".", 1)[1] if fqn.startswith("numpy.") else fqn

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return expr.name

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if is_indicator(expr):
            return f"({self._print(expr.args[0].cond)})"
        raise NotImplementedError(f"only 0/1 indicators are compiled, not {expr}")

    def _print_And(self, expr: sp.And) -> str:
        return " & ".join(f"({self._print(arg)})" for arg in expr.args)

    def _print_Relational(self, expr: sp.core.relational.Relational) -> str:
        return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"

    def _print_Mul(self, expr: sp.Mul) -> str:
        indicators = [f for f in expr.args if is_indicator(f)]
        if not indicators:
            return super()._print_Mul(expr)
        rest = sp.Mul(*(f for f in expr.args if not is_indicator(f)))
        condition = " & ".join(f"({self._print(f.args[0].cond)})" for f in indicators)
        return f"np.where({condition}, {self._print(rest)}, 0.0)"

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        argument = _logistic_argument(expr)
        if argument is not None:
            return f"_sigmoid({self._print(argument)})"
        return super()._print_Pow(expr, rational)

    def _print_log(self, expr: sp.log) -> str:
        inner = expr.args[0]
        if isinstance(inner, sp.Add) and len(inner.args) == 2 and sp.S.One in inner.args:
            other = inner.args[0] if inner.args[1] == 1 else inner.args[1]
            if isinstance(other, sp.exp):
                return f"np.logaddexp(0.0, {self._print(other.args[0])})"
        return f"np.log({self._print(inner)})"


def numpy_code(expr: sp.Expr) -> str:
    return NumPyCodePrinter().doprint(expr)


class DocumentLatexPrinter(LatexPrinter):
    """LaTeX in the document's notation; `symbol_names` maps each symbol to its LaTeX name."""

    def __init__(self, symbol_names: dict[sp.Symbol, str], settings: dict[str, Any] | None = None):
        super().__init__({**LATEX_SETTINGS, "symbol_names": symbol_names, **(settings or {})})

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if is_indicator(expr):
            return rf"\left[{self._print(expr.args[0].cond)}\right]"
        return super()._print_Piecewise(expr)

    def _print_And(self, expr: sp.And, *args: Any) -> str:
        return r" \wedge ".join(self._print(arg) for arg in expr.args)
