"""What a proof returns, how it says how it was established, and how candidates are compared.

A proof compares what the chain rule produced with an independently built statement and
reports whether the difference is exactly zero (after `expand` / `cancel`). Where the
derivation has a choice (which operation is dW1?), `find_pattern` tries the textbook candidates
and reports which one the derivation matches: the tool *finds* the pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symbp.spec.naming import tex_name


class ProofError(AssertionError):
    """A proof about the derivation does not hold: the derivation or a convention is broken."""


# How a proof was established, from strongest to weakest:
SYMBOLIC = "symbolic"  # an identity in the symbols: it holds for every value of them
EXHAUSTIVE = "exhaustive"  # every case of a finite set that covers all behaviours was checked
SAMPLED = "sampled"  # exact checks on a finite sample: evidence, not a proof for all values


@dataclass(frozen=True)
class Proof:
    key: str
    title: str
    statement: str  # LaTeX, for the document
    holds: bool
    detail: str  # what was checked, or the first counterexample
    method: str = SYMBOLIC  # SYMBOLIC, EXHAUSTIVE or SAMPLED

    def __str__(self) -> str:
        mark = "holds" if self.holds else "FAILS"
        return f"[{mark}] {self.title}: {self.detail}"


Element = Callable[[tuple[int, ...]], sp.Expr]  # a candidate, element by element


def elements_of(array: np.ndarray) -> Element:
    return lambda index: array[index]


def first_difference(
    actual: np.ndarray, expected: Element
) -> tuple[tuple[int, ...], sp.Expr] | None:
    for index in np.ndindex(*actual.shape):
        difference = actual[index] - expected(index)  # equal sums of products cancel here
        if difference != 0:
            difference = sp.expand(difference)  # anything left must vanish when expanded
        if difference != 0:
            return index, difference
    return None


def compare(actual: np.ndarray, expected: Element, what: str) -> tuple[bool, str]:
    mismatch = first_difference(actual, expected)
    if mismatch is None:
        return True, f"all {actual.size} elements of {what}: difference expands to 0"
    index, difference = mismatch
    text = str(difference)
    text = text if len(text) <= 120 else text[:117] + "..."
    return False, f"element {list(index)} of {what} differs by {text}"


def find_pattern(actual: np.ndarray, candidates: dict[str, Element], what: str) -> tuple[bool, str]:
    """Try each textbook candidate, computed element by element; the first is the expected one.

    A rejected candidate needs only one differing element, so rejecting costs little.
    """
    expected_name = next(iter(candidates))
    holds, detail = compare(actual, candidates[expected_name], what)
    if holds:
        others = [
            name
            for name, element in candidates.items()
            if name != expected_name and first_difference(actual, element) is not None
        ]
        if others:
            detail += f"; not {', '.join(others)}"
        return True, detail
    matches = [
        name for name, element in candidates.items() if first_difference(actual, element) is None
    ]
    found = f"; it is the {matches[0]}" if matches else ""
    return False, detail + found


def proof_key(base: str, block: int) -> str:
    """Proof keys: 'ties' for the first block, 'ties.2' for the second."""
    return base if block == 1 else f"{base}.{block}"


def indexed(tex: str, index: str) -> str:
    """Filter k, channel c of a tensor, as W_1[k,c]: a subscript would merge with W_1's own."""
    return f"{tex}[{index}]" if index else tex


def partial_of(name: str) -> str:
    return rf"\frac{{\partial L}}{{\partial {tex_name(name)}}}"
