"""Jinja2 environments for the templates in the top-level `templates/` folder.

LaTeX templates use LaTeX-safe delimiters (`\\VAR{...}`, `\\BLOCK{...}`, `\\#{...}`) so that
braces and percent signs stay LaTeX's; there are no line statements (a `%%` prefix would clash
with LaTeX comments). Undefined names are errors (`StrictUndefined`). Math reaches a template
as SymPy objects and is printed there through the `tex` filter (SymPy's LaTeX printer
subclass); user-provided text goes through `escape_tex`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import sympy as sp

from .printers import DocumentLatexPrinter

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "%": r"\%",
}


def escape_tex(text: object) -> str:
    """Escape user text so LaTeX prints it literally (no commands, no catcode tricks)."""
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in str(text))


def templates_folder() -> Path:
    if not (TEMPLATES / "cnn_backprop.tex").is_file():
        raise FileNotFoundError(
            f"symbp's templates were not found in {TEMPLATES}; install symbp from its source "
            "folder with `pip install -e .` so that templates/ sits beside the package"
        )
    return TEMPLATES


def latex_environment(symbol_names: dict[sp.Symbol, str]) -> jinja2.Environment:
    printer = DocumentLatexPrinter(symbol_names)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_folder())),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )

    def tex(value: Any) -> str:
        if isinstance(value, np.ndarray):
            from .symbols import as_matrix

            return printer.doprint(as_matrix(value))
        return printer.doprint(value)

    env.filters["tex"] = tex
    env.filters["escape_tex"] = escape_tex
    return env


def render_latex(template: str, symbol_names: dict[sp.Symbol, str], **context: Any) -> str:
    return latex_environment(symbol_names).get_template(template).render(**context)
