"""The derivation document, as LaTeX and Markdown, and its compact Jupyter forms.

This module assembles what the document shows (`symbp.sections`, one builder per section)
and renders the templates in `templates/`: `cnn_backprop.tex` and `cnn_backprop.md` include
one template per section. Every formula is a SymPy object from the derivation or its proofs,
printed by `DocumentLatexPrinter`; every number of the worked example comes from the numeric
engine (`worked_example`). The same spec always gives the same bytes.

Networks not of the teaching kind (`spec.is_default_block` false: several channels, filters or
blocks, stride, padding, other activations or pools) get the general document instead:
`symbp.general_document` builds its context, `general.tex` and `general.md` render it.
"""

from __future__ import annotations

import functools
from typing import Any

from . import __version__
from .derivation import Derivation
from .example import worked_example
from .general_document import general_context, general_notation, general_notebook_context
from .notation import document_names, notation
from .printers import Notation
from .proofs import Proof
from .render import render_latex
from .render import render_markdown as _render_markdown_template
from .sections import (
    Layout,
    backward_section,
    batch_section,
    chain_section,
    example_section,
    forward_section,
    network_section,
)

DEFAULT_TITLE = "Backpropagation in a CNN"

__all__ = [
    "document_context",
    "notebook_latex",
    "notebook_markdown",
    "render_document",
    "render_markdown",
    "worked_example",
]


def document_context(d: Derivation, proofs: list[Proof], title: str) -> dict[str, Any]:
    """Everything the LaTeX and Markdown templates show, as SymPy objects and plain data."""
    return {"title": title, **_sections(d, tuple(proofs))}


@functools.lru_cache(maxsize=4)
def _sections(d: Derivation, proofs: tuple[Proof, ...]) -> dict[str, Any]:
    """The title-free part of the context, built once for both the LaTeX and the Markdown."""
    names = document_names(d)
    layout = Layout.of(notation(d, names))
    return {
        "version": __version__,
        "spec": d.spec,
        "q": names.q,
        "dq": names.dq,
        "dparam": names.dparam,
        "symbols": {
            name: quantity.symbols
            for name, quantity in [*d.quantities.items(), *d.gradient_symbols.items()]
        },
        "network": network_section(d, names),
        "forward": forward_section(d, names, layout),
        "chain": chain_section(d, names),
        "backward": backward_section(d, names, layout),
        "batch": batch_section(d, names, layout),
        "example": example_section(d, names, layout),
        "proofs": proofs,
        "proof": {p.key: p for p in proofs},
        "all_hold": all(p.holds for p in proofs),
    }


def _notation(d: Derivation) -> Notation:
    return notation(d, document_names(d))


def render_document(d: Derivation, proofs: list[Proof], title: str = DEFAULT_TITLE) -> str:
    """The derivation as a LaTeX document (pdflatex, base/recommended/pictures packages only).

    A network of the teaching kind gets the teaching document; any other the general one.
    """
    if not d.spec.is_default_block:
        return render_latex("general.tex", general_notation(d), **general_context(d, proofs, title))
    return render_latex("cnn_backprop.tex", _notation(d), **document_context(d, proofs, title))


def render_markdown(d: Derivation, proofs: list[Proof], title: str = DEFAULT_TITLE) -> str:
    """The same document as GitHub Markdown: `$…$` inline math and fenced `math` blocks."""
    if not d.spec.is_default_block:
        return _render_markdown_template(
            "general.md", general_notation(d), **general_context(d, proofs, title)
        )
    return _render_markdown_template(
        "cnn_backprop.md", _notation(d), **document_context(d, proofs, title)
    )


def _notebook_context(d: Derivation) -> dict[str, Any]:
    names = document_names(d)
    layout = Layout.of(notation(d, names))
    return {
        "spec": d.spec,
        "q": names.q,
        "chain": chain_section(d, names),
        "batch": batch_section(d, names, layout),
        "head": d.head,
        "dz2": d.gradient_symbols["dZ2"].symbols[()],
        "count": d.parameter_count,
    }


def notebook_latex(d: Derivation) -> str:
    """A compact summary for Jupyter's `_repr_latex_`: one `$$\\begin{aligned}…$$` block."""
    if not d.spec.is_default_block:
        return render_latex(
            "general/notebook.tex", general_notation(d), **general_notebook_context(d)
        ).strip()
    return render_latex("notebook/summary.tex", _notation(d), **_notebook_context(d)).strip()


def notebook_markdown(d: Derivation) -> str:
    """The same summary as Markdown for `_repr_markdown_`."""
    if not d.spec.is_default_block:
        return (
            _render_markdown_template(
                "general/notebook.md", general_notation(d), **general_notebook_context(d)
            ).strip()
            + "\n"
        )
    return (
        _render_markdown_template(
            "notebook/summary.md", _notation(d), **_notebook_context(d)
        ).strip()
        + "\n"
    )
