"""One gradient element, explained in plain text: its sum of products and where they come from.

`explain(derivation, "dW1[0,1]")` is the document's convolution figure for a terminal or a
notebook: the element's staged gradient written one product per line, the chain of quantities
from the loss down to it, and small grids marking which entries of which quantities meet in
those products. Everything shown is read off the derivation's own expression; the pattern
lines (a window offset, a rotated kernel) are stated only when every product obeys them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from symbp.support.text import shown
from symbp.symbolic.derivation import Derivation

SIDE_BY_SIDE_WIDTH = 100  # wider grids are stacked instead


class ExplainError(ValueError):
    """An element name that does not exist in this network; the message lists the valid ones."""


Index = tuple[int, ...]


# ------------------------------------------------------------------------------ parsing
def valid_elements(shapes: Mapping[str, tuple[int, ...]]) -> str:
    """'dW1[0..2,0..2], dB1, ...': every element name with its index ranges."""

    def span(n: int) -> str:
        return "0" if n == 1 else f"0..{n - 1}"

    names = []
    for name in _element_order(shapes):
        shape = shapes[name]
        names.append(f"d{name}[{','.join(span(n) for n in shape)}]" if shape else f"d{name}")
    return ", ".join(names)


def _is_parameter(name: str) -> bool:
    """W1, B1, W2, ...: the trainable parameters (the other quantities are X, Zn, An, Pn, F)."""
    return name[:1] in ("W", "B") and name[1:].isdigit()


def _element_order(shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Parameters first, then the other quantities from the input up: the help text's order."""
    ordered = [n for n in shapes if _is_parameter(n)] + [n for n in shapes if not _is_parameter(n)]
    return [n for n in ordered if n not in ("L", "Y")]


def parse_element(text: str, shapes: Mapping[str, tuple[int, ...]]) -> tuple[str, Index]:
    """'dW1[0,1]', 'W1[0, 1]', 'dL/dW1[0][1]', 'dB1' -> ('W1', (0, 1)); ExplainError otherwise.

    `shapes` maps each quantity that has a gradient to its shape.
    """
    valid = f"valid elements: {valid_elements(shapes)}, or a law (symbp laws lists them)"
    cleaned = text.replace("∂", "d").strip()
    match = re.fullmatch(r"(?:dL\s*/\s*)?([A-Za-z]+\d*)\s*(.*)", cleaned, re.DOTALL)
    if match is None:
        raise ExplainError(f"cannot read element {shown(text)}; {valid}")
    word, rest = match.groups()
    by_lower = {name.lower(): name for name in shapes}
    name = by_lower.get(word.lower())
    if name is None and word[:1] in "dD":
        name = by_lower.get(word[1:].lower())
    if name is None:
        raise ExplainError(f"unknown element {shown(text.strip())}; {valid}")
    index = _parse_index(rest, text, valid)
    shape = shapes[name]
    if len(index) != len(shape):
        wanted = {0: "no index", 1: "1 index"}.get(len(shape), f"{len(shape)} indices")
        raise ExplainError(f"d{name} takes {wanted}, got {shown(text.strip())}; {valid}")
    if any(not 0 <= i < n for i, n in zip(index, shape, strict=True)):
        size = "x".join(map(str, shape))
        raise ExplainError(f"{shown(text.strip())} is out of range: d{name} is {size}; {valid}")
    return name, index


def _parse_index(rest: str, text: str, valid: str) -> Index:
    rest = rest.strip()
    if not rest:
        return ()
    parts = re.fullmatch(r"(?:\[[^\[\]]*\]\s*)+|\([^()]*\)", rest)
    if parts is None:
        raise ExplainError(f"cannot read the index in {shown(text.strip())}; {valid}")
    numbers = [n for n in re.split(r"[\[\](),\s]+", rest) if n]
    if not all(re.fullmatch(r"-?\d+", n) for n in numbers):
        raise ExplainError(f"indices must be whole numbers in {shown(text.strip())}; {valid}")
    return tuple(int(n) for n in numbers)


# ------------------------------------------------------------------------------ terms
@dataclass(frozen=True)
class Factor:
    """An element symbol in a product, located: quantity 'X' or 'dZ1', and its index."""

    quantity: str
    index: Index
    symbol: sp.Symbol


def _natural_key(text: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def terms_of(expr: sp.Expr) -> list[sp.Expr]:
    """The terms of a staged gradient in reading order (dz1_0_0*..., dz1_0_1*..., ...)."""
    if expr == 0:
        return []
    terms = list(sp.Add.make_args(expr))
    return sorted(terms, key=lambda t: _natural_key(sp.sstr(-t if _negative(t) else t)))


def _negative(term: sp.Expr) -> bool:
    return bool(term.could_extract_minus_sign())


def _locations(d: Derivation) -> dict[sp.Symbol, Factor]:
    located: dict[sp.Symbol, Factor] = {}
    for quantity in [*d.quantities.values(), *d.gradient_symbols.values()]:
        for index in quantity.indices():
            symbol = quantity.symbols[index]
            located[symbol] = Factor(quantity.name, index, symbol)
    return located


def _factors(term: sp.Expr, located: Mapping[sp.Symbol, Factor]) -> list[Factor]:
    """The element symbols multiplied in a term (not those inside a condition or a quotient)."""
    return [located[f] for f in sp.Mul.make_args(term) if isinstance(f, sp.Symbol) and f in located]


# ------------------------------------------------------------------------------ text
def _label(name: str, index: Index) -> str:
    return f"{name}[{','.join(map(str, index))}]" if index else name


def _gradient_label(name: str, index: Index = ()) -> str:
    return "dL/d" + _label(name, index)


def _sum_lines(terms: list[sp.Expr]) -> list[str]:
    lines = []
    for number, term in enumerate(terms):
        negative = _negative(term)
        text = sp.sstr(-term if negative else term)
        sign = ("- " if negative else "  ") if number == 0 else ("- " if negative else "+ ")
        lines.append(f"  {sign}{text}")
    return lines


def _count_text(terms: list[sp.Expr]) -> str:
    noun = "product" if all(_is_product(t) for t in terms) else "term"
    if len(terms) == 1:
        return f"a single {noun}"
    return f"sum of {len(terms)} {noun}s"


def _is_product(term: sp.Expr) -> bool:
    """A product of at least two factors, none of them a divisor."""
    factors = [f for f in sp.Mul.make_args(term) if not f.is_number]
    return len(factors) >= 2 and not any(f.is_Pow and f.exp.is_negative for f in factors)


def _stands_for(factors: list[Factor], d: Derivation) -> list[str]:
    """'dz1_i_j stands for dL/dZ1[i,j]' for every gradient symbol family in the products."""
    lines = []
    seen: set[str] = set()
    for factor in factors:
        if factor.quantity not in d.gradient_symbols or factor.quantity in seen:
            continue
        seen.add(factor.quantity)
        quantity = d.gradient_symbols[factor.quantity]
        letters = {0: (), 1: ("k",), 2: ("i", "j"), 3: ("k", "i", "j")}[len(quantity.shape)]
        generic = "_".join([quantity.code, *letters])
        element = f"{factor.quantity}[{','.join(letters)}]" if letters else factor.quantity
        lines.append(
            f"{generic} = dL/{element}, arriving from the layer above (symbp explain {element})"
        )
    return lines


def _pattern(name: str, index: Index, pairs: list[tuple[Factor, Factor]]) -> list[str]:
    """State a window offset or a rotated kernel only when every product obeys it.

    Products of a gradient with data (dW1: dz1 with x) are checked for one constant offset
    between the two indices; products of a gradient with a kernel (dX: dz1 with w1) for
    indices that add up to the element's own index.
    """
    if not pairs or any(len(g.index) != 2 or len(f.index) != 2 for g, f in pairs):
        return []
    gradient, other = pairs[0][0].quantity, pairs[0][1].quantity
    if any(g.quantity != gradient or f.quantity != other for g, f in pairs):
        return []
    grad = gradient[1:]
    if _is_parameter(other):
        sums = {tuple(a + b for a, b in zip(f.index, g.index, strict=True)) for g, f in pairs}
        if sums != {index}:
            return []
        r, c = index
        return [
            f"Every product pairs {_gradient_label(grad)}[i,j] with {other}[p,q] where "
            f"i+p = {r} and j+q = {c}: the kernel enters upside down and back to front. "
            f"So {_gradient_label(name)} is "
            f"the full cross-correlation of the zero-padded {_gradient_label(grad)} with "
            f"{other} rotated 180 degrees, rot180({other}), i.e. the full true convolution "
            f"{_gradient_label(grad)} * {other}."
        ]
    offsets = {tuple(a - b for a, b in zip(f.index, g.index, strict=True)) for g, f in pairs}
    if len(offsets) != 1:
        return []
    p, q = next(iter(offsets))
    text = (
        f"Every product pairs {_gradient_label(grad)}[i,j] with {other}[i+{p},j+{q}]: the "
        f"window of {other} at offset ({p},{q}), the size of {_gradient_label(grad)}, lines up "
        f"with {_gradient_label(grad)} entry by entry."
    )
    if _is_parameter(name):
        text += (
            f" So {_gradient_label(name)} is the valid cross-correlation of {other} with "
            f"{_gradient_label(grad)}; this element is its value at ({p},{q})."
        )
    return [text]


# ------------------------------------------------------------------------------ grids
def _grid(title: str, shape: tuple[int, ...], cells: Mapping[Index, str]) -> list[str]:
    """A small text grid: '.' for entries not involved, the cell's mark otherwise."""
    rows, columns = (1, shape[0]) if len(shape) == 1 else shape
    at = (lambda r, c: (c,)) if len(shape) == 1 else (lambda r, c: (r, c))
    width = max([1, len(str(columns - 1)), *(len(mark) for mark in cells.values())])
    margin = len(str(rows - 1)) if len(shape) == 2 else 0
    header = " " * (margin + 2) + " ".join(str(c).rjust(width) for c in range(columns))
    lines = [title, header]
    for r in range(rows):
        label = str(r).rjust(margin) if len(shape) == 2 else ""
        marks = " ".join(cells.get(at(r, c), ".").rjust(width) for c in range(columns))
        lines.append(f"{label}  {marks}")
    return lines


def _grids_of(title: str, shape: tuple[int, ...], cells: Mapping[Index, str]) -> list[list[str]]:
    """One grid for a matrix or vector; for (channels, rows, cols) or (filters, channels, kH,
    kW) tensors, one rows x cols grid per leading index that has a marked cell."""
    if len(shape) <= 2:
        return [_grid(f"{title} ({_shape_text(shape)})", shape, cells)]
    lead = len(shape) - 2
    prefixes = sorted({index[:lead] for index in cells})
    return [
        _grid(
            f"{title}[{','.join(map(str, prefix))},:,:] ({_shape_text(shape[lead:])})",
            shape[lead:],
            {index[lead:]: mark for index, mark in cells.items() if index[:lead] == prefix},
        )
        for prefix in prefixes
    ]


def _side_by_side(blocks: list[list[str]]) -> list[str]:
    widths = [max(map(len, block)) for block in blocks]
    if sum(widths) + 4 * (len(blocks) - 1) > SIDE_BY_SIDE_WIDTH:
        stacked: list[str] = []
        for block in blocks:
            stacked.extend([*block, ""])
        return stacked[:-1]
    height = max(map(len, blocks))
    lines = []
    for row in range(height):
        parts = [
            (block[row] if row < len(block) else "").ljust(width)
            for block, width in zip(blocks, widths, strict=True)
        ]
        lines.append("    ".join(parts).rstrip())
    return lines


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _grids(
    d: Derivation, name: str, index: Index, factor_lists: list[list[Factor]]
) -> tuple[list[list[str]], list[str]]:
    """Grids of the target and of every indexed quantity in the products, with a legend."""
    shapes = {q.name: q.shape for q in [*d.quantities.values(), *d.gradient_symbols.values()]}
    blocks: list[list[str]] = []
    legend: list[str] = []
    if index:
        blocks.extend(_grids_of(name, shapes[name], {index: "@"}))
        legend.append(f"@ = {_label(name, index)}, the element explained")
    marks: dict[str, dict[Index, str]] = {}
    kernels: dict[str, str] = {}  # gradient quantity -> the kernel its entries are labelled with
    for factors in factor_lists:
        for factor in factors:
            if not factor.index:
                continue
            partners = [f for f in factors if f is not factor and f.index]
            cell = "#"
            if (
                factor.quantity in d.gradient_symbols
                and len(partners) == 1
                and _is_parameter(partners[0].quantity)
            ):
                # A gradient entry meets one weight: show which, so the rotation is visible.
                cell = ",".join(map(str, partners[0].index))
                kernels[factor.quantity] = partners[0].quantity
            marks.setdefault(factor.quantity, {})[factor.index] = cell
    for quantity in sorted(marks, key=lambda q: (q in d.gradient_symbols, q)):
        title = _gradient_label(quantity[1:]) if quantity in d.gradient_symbols else quantity
        blocks.extend(_grids_of(title, shapes[quantity], marks[quantity]))
        if quantity in kernels:
            kernel = kernels[quantity]
            letters = "p,q" if len(shapes[kernel]) == 2 else "k,c,p,q"
            legend.append(
                f"in {title}, {letters} = the weight {kernel}[{letters}] that entry multiplies"
            )
    if marks:
        legend.insert(
            1 if legend else 0, "# = an entry that appears in the products, . = one that does not"
        )
    return blocks, legend


# ------------------------------------------------------------------------------ explain
def _wrap(text: str) -> str:
    return textwrap.fill(
        text, width=SIDE_BY_SIDE_WIDTH, subsequent_indent="  ", break_on_hyphens=False
    )


def explain(derivation: Derivation, element: str) -> str:
    """The text explanation of one gradient element, e.g. explain(d, 'dW1[0,1]')."""
    d = derivation
    shapes = {name: tuple(g.shape) for name, g in d.gradients.items()}
    name, index = parse_element(element, shapes)
    terms = terms_of(d.gradients[name][index])
    located = _locations(d)
    factor_lists = [_factors(t, located) for t in terms]
    label = _gradient_label(name, index)

    lines = [f"{label} in the {d.spec.label} network", "", *_chain_lines(d, name), ""]
    if not terms:
        lines.append(f"{label} = 0: no product reaches this element")
        return "\n".join(lines) + "\n"
    lines.append(f"{label} = {_count_text(terms)}:")
    lines.extend(_sum_lines(terms))
    flat = [f for fs in factor_lists for f in fs]
    for number, meaning in enumerate(_stands_for(flat, d)):
        lines.append(("where " if number == 0 else "  and ") + meaning)

    pattern = _pattern(name, index, _pairs(d, factor_lists))
    if pattern:
        lines.append("")
        lines.extend(_wrap(text) for text in pattern)

    blocks, legend = _grids(d, name, index, factor_lists)
    if blocks:
        lines.extend(["", *_side_by_side(blocks), "", *legend])
    return "\n".join(lines) + "\n"


def _chain_lines(d: Derivation, name: str) -> list[str]:
    """'chain: L -> A2 -> ... -> W1' and the product of local derivatives along it."""
    chain = d.chain(name)
    lines = ["chain: " + " -> ".join(chain)]
    if len(chain) > 2:
        links = [f"d{a}/d{b}" for a, b in zip(chain, chain[1:], strict=False)]
        lines.append(f"       {_gradient_label(name)} = " + " * ".join(links))
    return lines


def _pairs(d: Derivation, factor_lists: list[list[Factor]]) -> list[tuple[Factor, Factor]]:
    """(gradient factor, other factor) per product; empty unless every term is such a pair."""
    pairs = []
    for factors in factor_lists:
        gradients = [f for f in factors if f.quantity in d.gradient_symbols]
        others = [f for f in factors if f.quantity not in d.gradient_symbols]
        if len(factors) != 2 or len(gradients) != 1 or len(others) != 1:
            return []
        pairs.append((gradients[0], others[0]))
    return pairs
