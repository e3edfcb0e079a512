"""SymPy code printers, one per target, with their settings in one place.

- `NumPyCodePrinter`: the generated module's arithmetic over batch vectors. Indicators print
  as boolean masks (never `numpy.select`, which evaluates every branch), the logistic function
  as a stable helper, log(1 + exp(u)) as `np.logaddexp(0, u)`.
- `ScalarCodePrinter`: the same for one image in Python floats.
- `GatedPrinting`: the indicator and logistic rules every code target shares (the C backend too).

The document's LaTeX printer lives in `symbp.document.latex_printer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from symbp.symbolic.layers import is_indicator

NUMPY_SETTINGS: dict[str, Any] = {
    "fully_qualified_modules": False,  # 'np.exp', not 'numpy.exp'
    "inline": True,
    "allow_unknown_functions": False,
    "order": "none",  # SymPy's stored (canonical, deterministic) order; sorting costs seconds
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


class GatedPrinting:
    """Indicator products and the logistic function, for every code target.

    A product with Iverson brackets, expr * [c1] * [c2], is printed as "expr where c1 and c2,
    else 0" in the target's own words: `GATE` with `{condition}` and `{value}`, conditions
    joined by `CONJUNCTION`; 1 / (1 + exp(-u)) calls the target's stable `LOGISTIC`.
    """

    GATE = "np.where({condition}, {value}, 0.0)"
    CONJUNCTION = " & "
    LOGISTIC = "_sigmoid"

    _print: Callable[..., str]  # provided by the SymPy printer this is mixed into

    def _print_And(self, expr: sp.And) -> str:
        return self.CONJUNCTION.join(f"({self._print(arg)})" for arg in expr.args)

    def _print_Mul(self, expr: sp.Mul, **kwargs: Any) -> str:
        indicators = [f for f in expr.args if is_indicator(f)]
        if not indicators:
            return super()._print_Mul(expr, **kwargs)  # type: ignore[misc]
        rest = sp.Mul(*(f for f in expr.args if not is_indicator(f)))
        condition = self.CONJUNCTION.join(f"({self._print(f.args[0].cond)})" for f in indicators)
        return self.GATE.format(condition=condition, value=self._print(rest))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        argument = _logistic_argument(expr)
        if argument is not None:
            return f"{self.LOGISTIC}({self._print(argument)})"
        if rational:
            return super()._print_Pow(expr, rational)  # type: ignore[misc]
        return super()._print_Pow(expr)  # type: ignore[misc]  # C printers take no `rational`


LONG_SUM = 64  # terms; longer sums print as sum((...)), flat for Python's compiler


class NumPyCodePrinter(GatedPrinting, NumPyPrinter):
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

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        """a + b + ... nests one level per term in Python's syntax tree; thousands of terms
        (dW1 at 60x60 sums 3364 products) exceed the compiler's recursion limit."""
        if len(expr.args) <= LONG_SUM:
            return super()._print_Add(expr, order)
        return "sum((" + ", ".join(self._print(term) for term in expr.args) + "))"

    def _print_Relational(self, expr: sp.core.relational.Relational) -> str:
        return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"

    def _print_log(self, expr: sp.log) -> str:
        inner = expr.args[0]
        if isinstance(inner, sp.Add) and len(inner.args) == 2 and sp.S.One in inner.args:
            other = inner.args[0] if inner.args[1] == 1 else inner.args[1]
            if isinstance(other, sp.exp):
                return f"np.logaddexp(0.0, {self._print(other.args[0])})"
        return f"np.log({self._print(inner)})"


class ScalarCodePrinter(NumPyCodePrinter):
    """The same expressions for one image in Python floats (math module, no NumPy calls)."""

    GATE = "({value} if {condition} else 0.0)"
    CONJUNCTION = " and "
    LOGISTIC = "_sigmoid_scalar"
