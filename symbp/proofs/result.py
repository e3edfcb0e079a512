"""What a proof returns, how it says how it was established, and how candidates are compared.

A proof compares what the chain rule produced with an independently built statement and
reports whether the difference is exactly zero (after `expand` / `cancel`). Where the
derivation has a choice (which operation is dW1?), `find_pattern` tries the textbook candidates
and reports which one the derivation matches: the tool *finds* the pattern.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from symbp.spec.naming import tex_name


class ProofError(AssertionError):
    """A proof about the derivation does not hold: the derivation or a convention is broken."""


# How a proof was established, from strongest to weakest:
SYMBOLIC = "symbolic"  # an identity in the symbols: it holds for every value of them
EXHAUSTIVE = "exhaustive"  # every case of a finite set that covers all behaviours was checked
SAMPLED = "sampled"  # exact checks on a finite sample: evidence, not a proof for all values


class TexAtom(sp.Symbol):
    """A quantity or operator as SymPy sees it, whose name is its LaTeX (W_1, \\delta Z_1).

    Proofs may not import the document's names, so they print themselves (`_latex`, SymPy's
    printer hook); the element symbols of the derivation print in the document's notation.
    """

    def _latex(self, printer: Any) -> str:
        return self.name


class Correlate(sp.Function):
    """a ⋆ b, cross-correlation: an operation SymPy has no object for."""

    def _latex(self, printer: Any) -> str:
        a, b = self.args
        return rf"{printer._print(a)} \star {printer._print(b)}"


class Convolve(sp.Function):
    """a ∗ b, true convolution (the kernel flipped)."""

    def _latex(self, printer: Any) -> str:
        a, b = self.args
        return rf"{printer._print(a)} \ast {printer._print(b)}"


class Rot180(sp.Function):
    """rot180(a): the kernel turned by 180 degrees."""

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{rot}}_{{180}}({printer._print(self.args[0])})"


@dataclass(frozen=True)
class Formula:
    """Mathematics inside a proof's words: a SymPy object for the documents' printer, and the
    same in plain text for the terminal, so both say one thing."""

    math: sp.Basic
    plain: str


Text = tuple["str | Formula", ...]  # words and formulas, in reading order


def plain(text: Iterable[str | Formula]) -> str:
    """The terminal's form of a text: formulas as their plain spelling."""
    return "".join(part if isinstance(part, str) else part.plain for part in text)


def named(quantity: str) -> Formula:
    """A whole quantity: W_1 in documents, W1 on the terminal."""
    return Formula(TexAtom(tex_name(quantity)), quantity)


def grad(quantity: str) -> Formula:
    """Its gradient: δW_1 in documents (the chapter's δ = ∂L/∂), dL/dW1 on the terminal."""
    return Formula(TexAtom(rf"\delta {tex_name(quantity)}"), f"dL/d{quantity}")


def formula(expr: Any, spelled: str | None = None) -> Formula:
    """Any SymPy object; its plain spelling is str(expr) unless given."""
    expr = sp.sympify(expr)
    return Formula(expr, str(expr) if spelled is None else spelled)


@dataclass(frozen=True)
class Proof:
    """One proof's record. `title` and `detail` are plain text (the terminal); `heading` and
    `findings` say the same as words and SymPy objects, for each document back-end to typeset
    (empty: the plain text is shown as it is)."""

    key: str
    title: str
    statement: str  # LaTeX, for the document
    holds: bool
    detail: str  # what was checked, or the first counterexample
    method: str = SYMBOLIC  # SYMBOLIC, EXHAUSTIVE or SAMPLED
    heading: Text = ()
    findings: Text = ()

    @classmethod
    def of(
        cls,
        key: str,
        heading: Iterable[str | Formula],
        statement: str,
        holds: bool,
        findings: Iterable[str | Formula],
        method: str = SYMBOLIC,
    ) -> Proof:
        """A proof whose plain title and detail are spelled from its structured text."""
        heading, findings = tuple(heading), tuple(findings)
        return cls(
            key, plain(heading), statement, holds, plain(findings), method, heading, findings
        )

    @property
    def document_title(self) -> Text:
        return self.heading or (self.title,)

    @property
    def document_detail(self) -> Text:
        return self.findings or (self.detail,)

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
        left, right = actual[index], expected(index)
        if left == right:  # the same canonical expression: the difference is 0
            continue
        difference = left - right  # equal sums of products cancel here
        if difference != 0:
            difference = sp.expand(difference)  # anything left must vanish when expanded
        if difference != 0:
            return index, difference
    return None


def differs(actual: np.ndarray, expected: Element) -> bool:
    """first_difference(...) is not None, sooner: a candidate that is wrong is usually wrong
    in its first element, and two sums that take different exact values at one rational point
    differ, with no expansion; where the values agree (or are not numbers), it expands."""
    for index in np.ndindex(*actual.shape):
        left, right = actual[index], expected(index)
        if left == right:
            continue
        point = {s: sp.Rational(n + 2, n + 3) for n, s in enumerate(_ordered_symbols(left, right))}
        at_left, at_right = left.xreplace(point), right.xreplace(point)
        if at_left.is_Rational and at_right.is_Rational and at_left != at_right:
            return True
        if sp.expand(left - right) != 0:
            return True
    return False


def _ordered_symbols(*exprs: sp.Expr) -> list[sp.Symbol]:
    return sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name)


def compare(actual: np.ndarray, expected: Element, what: Formula | str) -> tuple[bool, Text]:
    mismatch = first_difference(actual, expected)
    if mismatch is None:
        return True, (f"All {actual.size} elements of ", what, ": the difference expands to 0")
    index, difference = mismatch
    text = str(difference)
    text = text if len(text) <= 120 else text[:117] + "..."
    return False, (f"Element {list(index)} of ", what, " differs by ", formula(difference, text))


def find_pattern(
    actual: np.ndarray, candidates: dict[Text, Element], what: Formula | str
) -> tuple[bool, Text]:
    """Try each textbook candidate, computed element by element; the first is the expected one.

    Candidates are named in words and formulas. A rejected candidate needs only one differing
    element, so rejecting costs little.
    """
    expected_name = next(iter(candidates))
    holds, detail = compare(actual, candidates[expected_name], what)
    if holds:
        others = [
            label
            for label, element in candidates.items()
            if label != expected_name and differs(actual, element)
        ]
        if others:
            detail += ("; not ",) + sum(_joined(others), ())
        return True, detail
    matches = [
        label for label, element in candidates.items() if not differs(actual, element)
    ]
    found: Text = ("; it is the ", *matches[0]) if matches else ()
    return False, detail + found


def _joined(names: list[Text]) -> list[Text]:
    """Names separated by commas, as find_pattern's plain text always listed them."""
    return [(", ", *n) if k else n for k, n in enumerate(names)]


def proof_key(base: str, block: int) -> str:
    """Proof keys: 'ties' for the first block, 'ties.2' for the second."""
    return base if block == 1 else f"{base}.{block}"


def indexed(tex: str, index: str) -> str:
    """Filter k, channel c of a tensor, as W_1[k,c]: a subscript would merge with W_1's own."""
    return f"{tex}[{index}]" if index else tex


def partial_of(name: str) -> str:
    return rf"\frac{{\partial L}}{{\partial {tex_name(name)}}}"
