"""Index-form terms evaluated at concrete sizes: exact polynomials over concrete elements.

A law is instantiated by giving every size a number and walking its summation indices over
their (now concrete) ranges. Each surviving product becomes a monomial: a tuple of
(base, index) reads with an exact rational coefficient. Two instantiations are equal exactly
when their polynomials are, so the comparison needs no SymPy simplification. The bridge reads
the element-wise derivation's expressions into the same polynomials where they are plain
products of elements (`polynomial_of`), and otherwise turns the law's polynomials into SymPy
expressions over the derivation's own symbols (`to_sympy`).

Each term is compiled once into a generated Python function of nested loops (its summation
indices, narrowed by the conditions linear in them), and the free indices' ranges into plain
Python too, so a grid of thousands of sizes costs integer arithmetic, not SymPy calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy as sp

from .delta import Limit, NotIndexForm, Term

Read = tuple[str, tuple[int, ...]]  # base name, concrete index
# (plain reads, sorted; a residual factor over placeholders _read0, _read1, ...; its reads)
Monomial = tuple[tuple[Read, ...], sp.Expr | None, tuple[Read, ...]]
Polynomial = dict[Monomial, int | Fraction]
PLACEHOLDERS = tuple(sp.Symbol(f"_read{n}") for n in range(64))


def _split_factor(factor: sp.Expr, sizes: Sequence[sp.Symbol], scalars: Sequence[sp.Symbol]):
    """factor -> (coefficient in the sizes, plain reads with powers, residual, residual reads).

    The residual is what is not a product of reads, such as [z[k,i,j] > 0]; its own reads are
    replaced by placeholders so that equal residuals of different laws compare equal.
    """
    coefficient, plain, residual = sp.S.One, [], sp.S.One
    for arg in sp.Mul.make_args(factor):
        base, power = arg.as_base_exp()
        if (isinstance(base, sp.Indexed) or base in scalars) and power.is_Integer and power > 0:
            plain += [base] * int(power)
        elif arg.free_symbols <= set(sizes) and not arg.has(sp.Indexed):
            coefficient *= arg
        else:
            residual *= arg
    inner = sorted(
        residual.atoms(sp.Indexed) | (residual.free_symbols & set(scalars)), key=sp.default_sort_key
    )
    if len(inner) > len(PLACEHOLDERS):
        raise ValueError("too many reads in one factor")
    template = residual.xreplace(dict(zip(inner, PLACEHOLDERS, strict=False)))
    stray = template.free_symbols - set(PLACEHOLDERS) - set(sizes) - set(scalars)
    if stray:
        raise NotIndexForm(f"indices outside any read in the factor {factor}: {stray}")
    return coefficient, plain, template, inner


def _narrowing(condition: sp.Expr, index: sp.Symbol, later: Sequence[sp.Symbol]):
    """(slope, rest) when `condition` (slope * index + rest >= 0) bounds `index` through known
    values only (no later index), with the slope's sign known; else None."""
    if not condition.has(index) or any(condition.has(v) for v in later):
        return None
    slope = sp.diff(condition, index)
    rest = sp.expand(condition - slope * index)
    if slope.has(index) or rest.has(index) or not (slope.is_positive or slope.is_negative):
        return None
    return slope, rest


def _compiled(lines: list[str], name: str) -> Callable[..., Any]:
    """Define the generated function (source from SymPy's own Python printer) and return it."""
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # generated from our own terms: no user text in it
    return namespace[name]


def _coder(symbols: Sequence[sp.Symbol]) -> Callable[[sp.Basic], str]:
    """expr -> Python source, the symbols renamed to a0, a1, ... (argument names)."""
    names = {s: sp.Symbol(f"a{n}") for n, s in enumerate(symbols)}

    def code(expr: sp.Basic) -> str:
        return sp.pycode(sp.sympify(expr).xreplace(names), fully_qualified_modules=False)

    return code


def _symbols(term: Term) -> set[sp.Basic]:
    """Every symbol a term uses outside the labels of its tensors."""
    parts = [term.factor, *term.conditions, *term.equations]
    parts += [sp.sympify(e) for limit in term.limits for e in limit[1:]]
    out: set[sp.Basic] = set()
    for part in parts:
        labels = {base.label for base in part.atoms(sp.IndexedBase)}
        out |= {v for v in part.free_symbols if isinstance(v, sp.Symbol) and v not in labels}
    return out


class CompiledTerm:
    """One term, compiled to a Python function of nested loops over its summation indices.

    The loops run over each index's range, shortened by the conditions linear in that index
    (integer floor division, exact); every condition is still tested before a product is kept.
    The function returns the (plain reads, residual reads) of every surviving product.
    """

    def __init__(
        self,
        term: Term,
        sizes: Sequence[sp.Symbol],
        free: Sequence[sp.Symbol],
        scalars: Sequence[sp.Symbol] = (),
    ):
        known = {*sizes, *free, *scalars, *term.indices}
        loose = _symbols(term) - known
        if loose:
            names = ", ".join(sorted(str(v) for v in loose))
            raise NotIndexForm(f"the term uses {names}: neither sizes nor indices of the law")
        split = _split_factor(term.factor, sizes, scalars)
        self.coefficient, plain, self.residual, inner = split
        self.run = self._generate(term, [*sizes, *free], plain, inner)

    @staticmethod
    def _generate(term: Term, arguments: list, plain: list, inner: list) -> Callable[..., list]:
        """Python source for the term's loops, compiled."""
        indices = list(term.indices)
        code = _coder([*arguments, *indices])

        def read(r: sp.Expr) -> str:
            if not isinstance(r, sp.Indexed):
                return f"({str(r)!r}, ())"
            return f"({str(r.base.label)!r}, ({''.join(code(e) + ', ' for e in r.indices)}))"

        conditions = sorted(term.conditions, key=sp.default_sort_key)
        lines = [f"def run({', '.join(code(s) for s in arguments)}):", "    out = []"]
        depth = 1
        for n, (v, lo, hi) in enumerate(term.limits):
            pad = "    " * depth
            lines += [f"{pad}lo = {code(lo)}", f"{pad}hi = {code(hi)}"]
            for condition in conditions:
                bound = _narrowing(condition, v, indices[n + 1 :])
                if bound is None:
                    continue
                slope, rest = code(bound[0]), code(bound[1])
                if bound[0].is_positive:
                    lines.append(f"{pad}lo = max(lo, -(({rest}) // ({slope})))")
                else:
                    lines.append(f"{pad}hi = min(hi, ({rest}) // (-({slope})))")
            lines.append(f"{pad}for {code(v)} in range(lo, hi + 1):")
            depth += 1
        pad = "    " * depth
        tests = [f"({code(c)}) >= 0" for c in conditions]
        tests += [f"({code(e)}) == 0" for e in sorted(term.equations, key=sp.default_sort_key)]
        if tests:
            lines.append(f"{pad}if {' and '.join(tests)}:")
            pad += "    "
        plain_reads = ", ".join(read(r) for r in plain)
        inner_reads = "".join(read(r) + ", " for r in inner)
        lines.append(f"{pad}out.append((tuple(sorted([{plain_reads}])), ({inner_reads})))")
        lines.append("    return out")
        return _compiled(lines, "run")

    def monomials(self, sizes: tuple, free: tuple[int, ...], residual: sp.Expr | None) -> list:
        """Every product the term contributes at these sizes and free index values."""
        return [(plain, residual, inner) for plain, inner in self.run(*sizes, *free)]


def _range_function(arguments: Sequence[sp.Symbol], lo: sp.Expr, hi: sp.Expr) -> Callable:
    """(lo, hi) of one free index as a Python function of the sizes and the earlier indices."""
    code = _coder(arguments)
    signature = ", ".join(code(s) for s in arguments)
    lines = [f"def bounds({signature}):", f"    return ({code(lo)}, {code(hi)})"]
    return _compiled(lines, "bounds")


Instantiated = dict[tuple[int, ...], Polynomial]  # free index values -> polynomial


class CompiledLaw:
    """A list of terms with its free indices' ranges, compiled once, evaluated at any sizes."""

    def __init__(
        self,
        terms: list[Term],
        sizes: Sequence[sp.Symbol],
        free: Sequence[Limit],
        scalars: Sequence[sp.Symbol] = (),
    ) -> None:
        self.sizes = tuple(sizes)
        self.free = tuple(free)
        names = [f[0] for f in free]
        self.terms = [CompiledTerm(t, sizes, names, scalars) for t in terms]
        self._free_ranges = [
            _range_function([*self.sizes, *names[:n]], lo, hi)
            for n, (_, lo, hi) in enumerate(self.free)
        ]

    def free_points(self, sizes: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        """Every value of the free indices, in row-major order."""

        def walk(prefix: tuple[int, ...], depth: int) -> Iterator[tuple[int, ...]]:
            if depth == len(self.free):
                yield prefix[len(sizes) :]
                return
            lo, hi = self._free_ranges[depth](*prefix)
            for value in range(int(lo), int(hi) + 1):
                yield from walk((*prefix, value), depth + 1)

        yield from walk(sizes, 0)

    def evaluate(self, size_values: Mapping[sp.Symbol, int]) -> Instantiated:
        """Every free index value -> its polynomial, at these sizes."""
        numbers = {s: sp.sympify(size_values[s]) for s in self.sizes}
        sizes = tuple(int(n) if n.is_Integer else n for n in numbers.values())
        coefficients = [_python_number(t.coefficient.xreplace(numbers)) for t in self.terms]
        # a residual of 1 is None in the monomials: cheaper to hash than SymPy's One
        residuals = [None if t.residual == 1 else t.residual.xreplace(numbers) for t in self.terms]
        values: Instantiated = {}
        for point in self.free_points(sizes):
            polynomial: Polynomial = {}
            for term, coefficient, residual in zip(
                self.terms, coefficients, residuals, strict=True
            ):
                if coefficient == 0:
                    continue
                for monomial in term.monomials(sizes, point, residual):
                    total = polynomial.get(monomial, 0) + coefficient
                    if total == 0:
                        del polynomial[monomial]
                    else:
                        polynomial[monomial] = total
            values[point] = polynomial
        return values


def _python_number(value: sp.Expr) -> int | Fraction:
    """An exact SymPy rational as a Python int or Fraction (fast to add up)."""
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    raise NotIndexForm(f"a coefficient that is not a rational number: {value}")


def first_difference(
    a: Instantiated, b: Instantiated
) -> tuple[tuple[int, ...], Polynomial, Polynomial] | None:
    """The first free index value at which two instantiations differ."""
    for point in sorted(set(a) | set(b)):
        left, right = a.get(point, {}), b.get(point, {})
        if left != right:
            return point, left, right
    return None


def within(read: Read, extents: Mapping[str, tuple[int, ...]]) -> bool:
    base, index = read
    extent = extents.get(base)
    if extent is None:
        return True
    return len(index) == len(extent) and all(0 <= n < e for n, e in zip(index, extent, strict=True))


def reads_outside(
    instantiated: Instantiated, extents: Mapping[str, tuple[int, ...]]
) -> Read | None:
    """The first element read outside its tensor's extent, or None."""
    for polynomial in instantiated.values():
        for plain, _, inner in polynomial:
            for read in (*plain, *inner):
                if not within(read, extents):
                    return read
    return None


def polynomial_of(expr: sp.Expr, read_of: Mapping[sp.Basic, Read]) -> Polynomial | None:
    """An expanded sum of products of elements as a polynomial over their reads, or None when
    it is not one (a sum inside a product, a condition, a symbol that is no element).

    Different polynomials are different expressions (the elements are independent symbols and
    SymPy's Add has merged equal products), so comparing these dicts decides equality."""
    out: Polynomial = {}
    for term in sp.Add.make_args(expr):
        coefficient, factors = term.as_coeff_mul()
        if not coefficient.is_Rational:
            return None
        reads: list[Read] = []
        for factor in factors:
            read = read_of.get(factor)
            if read is not None:
                reads.append(read)
                continue
            base, power = factor.as_base_exp()
            read = read_of.get(base)
            if read is None or not (power.is_Integer and int(power) > 0):
                return None
            reads += [read] * int(power)
        key: Monomial = (tuple(sorted(reads)), None, ())
        total = out.get(key, 0) + _python_number(coefficient)
        if total == 0:
            out.pop(key, None)
        else:
            out[key] = total
    return out


def to_sympy(polynomial: Polynomial, element: Callable[[str, tuple[int, ...]], sp.Expr]) -> sp.Expr:
    """A polynomial as a SymPy expression, each read resolved by `element(base, index)`."""
    terms = []
    for (plain, residual, inner), coefficient in polynomial.items():
        factors = [sp.sympify(coefficient), *(element(b, i) for b, i in plain)]
        if residual is not None:
            values = {PLACEHOLDERS[n]: element(b, i) for n, (b, i) in enumerate(inner)}
            factors.append(residual.xreplace(values))
        terms.append(sp.Mul(*factors))
    return sp.Add(*terms)


def show_polynomial(polynomial: Polynomial) -> str:
    """A short plain-text form of a polynomial, for failure details."""
    if not polynomial:
        return "0"

    def read(r: Read) -> str:
        return f"{r[0]}[{', '.join(map(str, r[1]))}]"

    parts = []
    for (plain, residual, inner), coefficient in sorted(polynomial.items(), key=str):
        factors = [read(r) for r in plain]
        if residual is not None:
            factors.append(
                str(
                    residual.xreplace(
                        {PLACEHOLDERS[n]: sp.Symbol(read(r)) for n, r in enumerate(inner)}
                    )
                )
            )
        text = "*".join(factors) or "1"
        parts.append(text if coefficient == 1 else f"{coefficient}*{text}")
    text = " + ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."
