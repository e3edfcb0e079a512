"""Jinja2 environments for the templates in the top-level `templates/` folder.

The folder stays top-level in the repository; a build (wheel or sdist) maps it into the package
as `symbp/templates/`. An installed symbp reads it from there, a source checkout (the editable
install) from the repository's top level.

LaTeX and Markdown templates use the same LaTeX-safe delimiters (`\\VAR{...}`, `\\BLOCK{...}`,
`\\#{...}`) so that braces and percent signs stay LaTeX's (Markdown math is LaTeX too); there
are no line statements (a `%%` prefix would clash with LaTeX comments). Undefined names are
errors (`StrictUndefined`). Math reaches a template as SymPy objects and is printed there
through the filters below, all backed by SymPy's LaTeX printer: `tex`, `texsum`, `texand` by the
document's subclass (this network's elements), `law`, `lawinline` by the laws' (the general laws
in index form, symbp.laws.text); user-provided text goes through `escape_tex` or
`escape_markdown`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import sympy as sp

from symbp.laws.text import latex as law_latex
from symbp.support.version import __version__

from .latex_printer import DocumentLatexPrinter, Dots, Notation, Numeral

_PACKAGE = Path(__file__).resolve().parent.parent  # symbp/
# Where the templates are looked for, in order: inside the installed package (wheel, sdist,
# `pip install .`), then beside the package in a source checkout (`pip install -e .`).
TEMPLATE_FOLDERS = (_PACKAGE / "templates", _PACKAGE.parent / "templates")

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
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\n": " ",
    "\r": " ",
    "\t": " ",
}

# Non-ASCII characters the proofs' and users' text use, as commands every engine knows.
_TEX_UNICODE = {
    "°": r"\textdegree{}",
    "⋆": r"$\star$",
    "×": r"$\times$",
    "·": r"$\cdot$",
    "σ": r"$\sigma$",
    "δ": r"$\delta$",
    "∂": r"$\partial$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "≠": r"$\neq$",
    "→": r"$\to$",
    "−": "-",
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "…": r"\dots{}",
    "é": r"\'e",
    "è": r"\`e",
    "ä": r"\"a",
    "ö": r"\"o",
    "ü": r"\"u",
    "Ä": r"\"A",
    "Ö": r"\"O",
    "Ü": r"\"U",
    "ß": r"\ss{}",
}


def escape_tex(text: object) -> str:
    """Escape user text so LaTeX prints it literally: no commands, no catcode tricks.

    Characters LaTeX cannot typeset in the document's fonts become "?" rather than an error.
    """
    out = []
    for ch in str(text):
        if ch in _TEX_SPECIALS:
            out.append(_TEX_SPECIALS[ch])
        elif ch in _TEX_UNICODE:
            out.append(_TEX_UNICODE[ch])
        elif ord(ch) < 32 or ord(ch) > 126:
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]#|<>$~&])")


def escape_markdown(text: object) -> str:
    """Escape user text so Markdown (and GitHub's math) shows it literally, on one line."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIALS.sub(r"\\\1", flat)


def templates_folder() -> Path:
    """The first of TEMPLATE_FOLDERS that holds the templates."""
    for folder in TEMPLATE_FOLDERS:
        if (folder / "cnn_backprop.tex").is_file():
            return folder
    raise FileNotFoundError(
        f"symbp's templates were not found in {TEMPLATE_FOLDERS[0]} or {TEMPLATE_FOLDERS[1]}; "
        "this installation is incomplete: reinstall symbp from a wheel or its source folder "
        "(`pip install .`), or with `pip install -e .` from a source checkout"
    )


class MathFilters:
    """The template filters that print mathematics, all through one `DocumentLatexPrinter`."""

    def __init__(self, notation: Notation | dict[sp.Symbol, str]) -> None:
        self.printer = DocumentLatexPrinter(notation)

    def tex(self, value: Any) -> str:
        """Any SymPy object, array (as a matrix) or numeric product (a tuple of numerals)."""
        if isinstance(value, np.ndarray):
            from symbp.symbolic.symbols import as_matrix

            return str(self.printer.doprint(as_matrix(value)))
        if isinstance(value, tuple):
            return r" \cdot ".join(self._factor(f) for f in value)
        return str(self.printer.doprint(value))

    def _factor(self, factor: sp.Basic) -> str:
        text = self.tex(factor)
        return f"({text})" if isinstance(factor, Numeral) and text.startswith("-") else text

    def _signed(self, term: Any) -> tuple[str, str]:
        """(sign, text) of one term of a sum."""
        if isinstance(term, Dots):
            return "+", self.tex(term)
        if isinstance(term, tuple):
            return "+", self.tex(term)
        if isinstance(term, sp.Basic) and term.could_extract_minus_sign():
            return "-", self.tex(-term)
        return "+", self.tex(term)

    def texsum(self, terms: Iterable[Any], continued: bool = False) -> str:
        """Terms joined into a sum; a continued line starts with its sign."""
        parts = []
        for k, term in enumerate(terms):
            sign, text = self._signed(term)
            if k == 0 and not continued:
                parts.append(text if sign == "+" else f"-{text}")
            else:
                parts.append(f"{sign} {text}")
        return " ".join(parts)

    def texand(self, conditions: Iterable[sp.Basic], continued: bool = False) -> str:
        """Conditions joined by ∧; a continued line starts with ∧."""
        text = r" \wedge ".join(self.tex(c) for c in conditions)
        return rf"\wedge {text}" if continued else text


def law_filter(value: sp.Basic, sizes: Mapping[sp.Symbol, Any] | None = None) -> str:
    """A general law's SymPy object in the laws' notation (Iverson brackets, chained ranges,
    indexed tensors): `sizes` prints those symbols as their numbers (a law at a spec)."""
    return law_latex(value, sizes)


def law_inline_filter(value: sp.Basic) -> str:
    """The same within a line of text: fractions folded to a / b."""
    return law_latex(value, inline=True)


def article(number: int) -> str:
    """The indefinite article a number takes when read aloud: 'an 8', 'an 11', 'an 18', 'a 12'.

    An initial 8 is always 'eight'; 11 and 18 are 'eleven', 'eighteen' when the number's
    digits group as 11 or 18 (11, 11 000, 18 000 000; not 110 or 1 100)."""
    digits = str(int(number))
    lead = len(digits) % 3 == 2 and digits[:2] in ("11", "18")
    return "an" if digits.startswith("8") or lead else "a"


# The printer of the document being rendered. The environment, and with it Jinja's cache of
# compiled templates, is built once; each render sets its own notation here (a context
# variable, so imported macro files, which get no render context, print with it too).
_PRINTING: ContextVar[MathFilters] = ContextVar("symbp_document_printing")


def _printing() -> MathFilters:
    return _PRINTING.get()


SYNTAX: dict[str, Any] = {
    "block_start_string": r"\BLOCK{",
    "block_end_string": "}",
    "variable_start_string": r"\VAR{",
    "variable_end_string": "}",
    "comment_start_string": r"\#{",
    "comment_end_string": "}",
    "trim_blocks": True,
    "lstrip_blocks": True,
    "autoescape": False,
    "keep_trailing_newline": True,
}


class CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Jinja's own cache of compiled templates, in its per-user temporary folder, so that a
    second `symbp derive` does not compile the 56 templates again (half a second).

    Jinja checks each entry against its template's source; the file names add symbp's version
    and the syntax above, which change the compiled code without changing a source. An entry
    is written to a temporary file and renamed, so concurrent runs are safe. A folder that
    cannot be used (read-only, foreign owner) only means no cache: never an error.
    """

    def __init__(self, directory: str | None = None) -> None:
        settings = hashlib.sha256(repr(sorted(SYNTAX.items())).encode()).hexdigest()[:12]
        super().__init__(directory, pattern=f"symbp-{__version__}-{settings}-%s.cache")

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()  # unreadable or truncated: compile from the source

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):  # a full disk or a read-only folder: no entry
            super().dump_bytecode(bucket)


def compiled_templates() -> jinja2.BytecodeCache | None:
    """The cache, or None where Jinja finds no safe folder or SYMBP_TEMPLATE_CACHE=0."""
    if os.environ.get("SYMBP_TEMPLATE_CACHE", "1") == "0":
        return None
    try:
        return CompiledTemplates()
    except (OSError, RuntimeError):
        return None


@functools.cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment of every document: LaTeX-safe delimiters (`\\VAR{…}`,
    `\\BLOCK{…}`, `\\#{…}`), StrictUndefined, and the filters that print mathematics and escape
    user text. Built once, so each template is compiled once per process (and, through the
    bytecode cache, once per machine and symbp version)."""
    return make_environment(compiled_templates())


def make_environment(cache: jinja2.BytecodeCache | None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_folder())),
        undefined=jinja2.StrictUndefined,
        bytecode_cache=cache,
        **SYNTAX,
    )
    env.filters["tex"] = lambda value: _printing().tex(value)
    env.filters["texsum"] = lambda terms, continued=False: _printing().texsum(terms, continued)
    env.filters["texand"] = lambda conditions, continued=False: _printing().texand(
        conditions, continued
    )
    env.filters["law"] = law_filter
    env.filters["lawinline"] = law_inline_filter
    env.filters["article"] = article
    env.filters["escape_tex"] = escape_tex
    env.filters["escape_markdown"] = escape_markdown
    return env


def _render(template: str, notation: Notation | dict[sp.Symbol, str], context: Any) -> str:
    token = _PRINTING.set(MathFilters(notation))
    try:
        return environment().get_template(template).render(**context)
    finally:
        _PRINTING.reset(token)


def render_latex(template: str, notation: Notation | dict[sp.Symbol, str], **context: Any) -> str:
    return _render(template, notation, context)


def render_markdown(
    template: str, notation: Notation | dict[sp.Symbol, str], **context: Any
) -> str:
    return _render(template, notation, context)
