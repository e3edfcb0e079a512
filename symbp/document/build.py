"""The derivation document, as LaTeX and Markdown, and its compact Jupyter forms.

One document for every network: `symbp.document.sections` builds what each section shows (one
builder per section; a part that applies only to some networks is None or empty for the others,
and its template leaves it out), and the templates in `templates/` render it: `cnn_backprop.tex`
and `cnn_backprop.md` include one template per section. Every formula is a SymPy object from the
derivation or its proofs, printed by `DocumentLatexPrinter`; every number of the worked example
comes from the numeric engine (`worked_example`). The same spec always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symbp.document import DEFAULT_TITLE
from symbp.proofs import Proof
from symbp.reference.example import worked_example
from symbp.symbolic.derivation import Derivation

from .context import Context
from .markdown_math import github_math
from .notation import document_names
from .render import render_latex
from .render import render_markdown as render_markdown_template
from .section_batch import gradient_summary
from .section_edge import check_table
from .section_network import network_section
from .section_training import training_section
from .sections import document_sections, section_numbers

__all__ = [
    "document_context",
    "notebook_latex",
    "notebook_markdown",
    "render_document",
    "render_markdown",
    "worked_example",
]


def document_context(
    d: Derivation,
    proofs: list[Proof],
    title: str,
    training: Mapping[str, Any] | None = None,
    checks: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the LaTeX and Markdown templates show, as SymPy objects and plain data; the
    Training section only with a training record, the gradient-check table only with `checks`
    (see `render_document`)."""
    return {
        "title": title,
        **document_sections(d, tuple(proofs)),
        "checks": check_table(document_names(d), checks),
        "training": None if training is None else training_section(training),
        "sec": section_numbers(training is not None),
    }


def render_document(
    d: Derivation,
    proofs: list[Proof],
    title: str = DEFAULT_TITLE,
    *,
    training: Mapping[str, Any] | None = None,
    checks: Mapping[str, Any] | None = None,
) -> str:
    """The derivation as a LaTeX document (pdflatex, base/recommended/pictures packages only).

    `checks` is `symbp.reference.gradient_table.gradient_table(spec, module)`: the compiled
    module's gradients beside central differences and PyTorch, which the edge subsection shows
    as a table (the document never imports the code generator; whoever compiled the module
    passes its numbers in). Without it the table is left out, and the text says so.

    `training`, a plain dict, adds the section "Training on handwritten digits": what
    `symbp.training.training_section_data(result)` returns, plus `"figures": {"curve": ...,
    "filters": ...}`, the figures' file base names without extension (`\\includegraphics`
    finds `<name>.pdf` beside the .tex). A record that is not as a training run writes it is
    a ValueError naming the field."""
    notation = document_names(d).notation
    context = document_context(d, proofs, title, training, checks)
    return render_latex("cnn_backprop.tex", notation, **context)


def render_markdown(
    d: Derivation,
    proofs: list[Proof],
    title: str = DEFAULT_TITLE,
    *,
    training: Mapping[str, Any] | None = None,
    checks: Mapping[str, Any] | None = None,
) -> str:
    """The same document as GitHub Markdown: inline math as $`…`$ and display math in fenced
    `math` blocks, the forms GitHub's parser leaves alone (`github_math`; the notebook views keep
    Jupyter's `$…$`); with `training` (as for `render_document`) its figures are linked as
    `<name>.png`."""
    notation = document_names(d).notation
    context = document_context(d, proofs, title, training, checks)
    return github_math(render_markdown_template("cnn_backprop.md", notation, **context))


def _notebook_context(d: Derivation) -> dict[str, Any]:
    """The network's layers, the head's A - Y, and each parameter's gradient."""
    c = Context.of(d)
    return {
        "spec": d.spec,
        "layers": network_section(c)["layers"],
        "head": d.head,
        "dz": d.gradient_symbols["d" + d.logit].symbols[()],
        "count": d.parameter_count,
        "summary": gradient_summary(d, c.names.dparam, c.layout, d.parameter_names),
    }


def notebook_latex(d: Derivation) -> str:
    """A compact summary for Jupyter's `_repr_latex_`: one `$$\\begin{aligned}…$$` block."""
    notation = document_names(d).notation
    return render_latex("notebook/summary.tex", notation, **_notebook_context(d)).strip()


def notebook_markdown(d: Derivation) -> str:
    """The same summary as Markdown for `_repr_markdown_`."""
    notation = document_names(d).notation
    text = render_markdown_template("notebook/summary.md", notation, **_notebook_context(d))
    return text.strip() + "\n"
