"""The textbook operations as SymPy functions that typeset themselves, for the statements.

`Correlate(Pad(x[c], P), Dilate(delta_z[k], S))` prints in LaTeX as
pad_P(x_c) star dil_S(delta z_k) and in plain text as `pad_P(x[c]) ⋆ dil_S(δz[k])`. They are
notation only: the laws are proved on their index-form definitions in `conv.py`.
"""

from __future__ import annotations

import sympy as sp


class _Operation(sp.Function):
    """An unevaluated operation with a LaTeX and a plain-text form."""

    name = ""

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:  # never evaluates: it is notation
        return None

    def _latex(self, printer) -> str:
        body = printer._print(self.args[0])
        if len(self.args) == 1:
            return rf"\operatorname{{{self.name}}}\!\left({body}\right)"
        amount = printer._print(self.args[1])
        return rf"\operatorname{{{self.name}}}_{{{amount}}}\!\left({body}\right)"

    def _sympystr(self, printer) -> str:
        body = printer._print(self.args[0])
        if len(self.args) == 1:
            return f"{self.name}({body})"
        amount = printer._print(self.args[1])
        amount = amount if self.args[1].is_Atom else "{" + amount + "}"
        return f"{self.name}_{amount}({body})"


class Pad(_Operation):
    """Zeros added on every side."""

    name = "pad"


class Dilate(_Operation):
    """stride - 1 zeros between neighbours."""

    name = "dil"


class Crop(_Operation):
    """Rows and columns removed on every side."""

    name = "crop"


class Rotate(_Operation):
    """The kernel turned by 180 degrees."""

    name = "rot180"

    def _latex(self, printer) -> str:
        return rf"\operatorname{{rot}}_{{180}}\!\left({printer._print(self.args[0])}\right)"


class Correlate(sp.Function):
    """Cross-correlation A star B (valid: the kernel B slides inside A)."""

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:
        return None

    def _latex(self, printer) -> str:
        return rf"{printer._print(self.args[0])} \star {printer._print(self.args[1])}"

    def _sympystr(self, printer) -> str:
        return f"{printer._print(self.args[0])} ⋆ {printer._print(self.args[1])}"


class Iverson(sp.Function):
    """The Iverson bracket [condition], for display: 1 where the condition holds, else 0.

    A plain Piecewise would do the same, but SymPy's Sum folds every Piecewise in its body into
    one, merging the brackets; this one stays as written."""

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:
        return None

    def _latex(self, printer) -> str:
        return rf"\left[{printer._print(self.args[0])}\right]"

    def _sympystr(self, printer) -> str:
        return f"[{printer._print(self.args[0])}]"
