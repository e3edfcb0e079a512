"""The documents of a few networks, each derived and rendered once per test module, on demand.

Several test modules read the same LaTeX and Markdown; `built_documents(specs, title)` gives
them one cache: name -> Documents(derivation, proofs, tex, md). A spec may be given as a
callable, so that reading an example config waits until a test asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from symbp.codegen.module import load
from symbp.document.build import render_document, render_markdown
from symbp.proofs import prove_all
from symbp.reference.gradient_table import gradient_table
from symbp.symbolic.derivation import derive

_CHECKS: dict[int, Any] = {}  # id(derivation) -> its gradient-check table, for re-rendering


def checks_for(d: Any) -> Any:
    """The gradient-check table a cached document was rendered with (to render it again)."""
    return _CHECKS[id(d)]


class Documents(NamedTuple):
    derivation: Any
    proofs: list
    tex: str
    md: str


def built_documents(
    specs: Mapping[str, Any], title: str, full_composition: bool | None = False
) -> Callable[[str], Documents]:
    """full_composition=None: the proofs the command line runs (the composition included)."""
    cache: dict[str, Documents] = {}

    def get(name: str) -> Documents:
        if name not in cache:
            spec = specs[name]() if callable(specs[name]) else specs[name]
            d = derive(spec)
            proofs = prove_all(d, full_composition=full_composition)
            checks = _CHECKS[id(d)] = gradient_table(spec, load(d))  # as `symbp derive` does
            cache[name] = Documents(
                d,
                proofs,
                render_document(d, proofs, title, checks=checks),
                render_markdown(d, proofs, title, checks=checks),
            )
        return cache[name]

    return get
