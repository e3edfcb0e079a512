"""The document's sections, for every network: one builder per section (the `section_*`
modules), each reading a `Context` (the derivation, its proofs, names and layout) and returning
what its template shows, as SymPy objects and plain data. A part that applies only to some
networks is None or empty for the others, and the template leaves it out."""

from __future__ import annotations

import functools
from typing import Any

from symbp.proofs import Proof
from symbp.support.version import __version__
from symbp.symbolic.derivation import Derivation

from .context import Context
from .section_backward import backward_section
from .section_batch import batch_section
from .section_chain import chain_section
from .section_convolution import convolution_section
from .section_edge import edge_section
from .section_example import example_section
from .section_exercises import exercises_section
from .section_forward import forward_section
from .section_laws import laws_section
from .section_network import network_section

__all__ = ["SECTIONS", "document_sections", "section_numbers"]

# The sections in the order the document has them; Markdown numbers its headings from this
# (LaTeX numbers its own and refers by label). "training" is there only with a training record.
SECTIONS = (
    "network",
    "laws",
    "forward",
    "chain",
    "backward",
    "conv",
    "batch",
    "example",
    "training",
    "exercises",
    "proofs",
)


def section_numbers(training: bool = False) -> dict[str, int]:
    """Each section's number: Markdown's headings and its references to other sections."""
    shown = [key for key in SECTIONS if training or key != "training"]
    return {key: number for number, key in enumerate(shown, start=1)}


@functools.lru_cache(maxsize=4)
def document_sections(d: Derivation, proofs: tuple[Proof, ...]) -> dict[str, Any]:
    """Everything the templates show but the title, built once for LaTeX and Markdown."""
    c = Context.of(d, proofs)
    names = c.names
    dense = d.stages[-3]
    return {
        "version": __version__,
        "spec": d.spec,
        "q": names.q,
        "dq": names.dq,
        "qt": names.qt,
        "dqt": names.dqt,
        "dparam": names.dparam,
        "symbols": {
            name: quantity.symbols
            for name, quantity in [*d.quantities.items(), *d.gradient_symbols.items()]
        },
        "prediction": d.prediction,
        "logit": d.logit,
        "dense": {"weight": dense.params[0], "bias": dense.params[1], "input": dense.input},
        "several": d.spec.n_blocks > 1,
        "network": network_section(c),
        "laws": laws_section(c),
        "forward": forward_section(c),
        "chain": chain_section(c),
        "backward": backward_section(c),
        "convolution": convolution_section(c),
        "batch": batch_section(c),
        "example": example_section(c),
        "edge": edge_section(c),
        "exercises": exercises_section(c),
        "proofs": proofs,
        "proof": {p.key: p for p in proofs},
        "proof_number": {p.key: number for number, p in enumerate(proofs, start=1)},
        "all_hold": all(p.holds for p in proofs),
    }
