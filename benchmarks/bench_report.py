"""Plain-text tables and number formats for the benchmark's printed report."""

from __future__ import annotations

from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Columns padded to their widest cell; the first `left` columns left-aligned (names,
    prose), the rest right-aligned (numbers)."""
    cells = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(row[k]) for row in cells) for k in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = [
            cell.ljust(width) if k < left else cell.rjust(width)
            for k, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join(line(row) for row in cells)


def rate(per_second: float) -> str:
    """Images per second: 3.12M, 52.1k."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{suffix}"
    return f"{per_second:.3g}"


def seconds(value: float) -> str:
    """Seconds with a unit that keeps three significant digits."""
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def size(nbytes: float) -> str:
    for scale, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {suffix}"
    return f"{nbytes:.0f} B"


def count(n: int) -> str:
    """Thousands separated by a thin space-free comma: 3,449,299."""
    return f"{n:,}"


def ratio(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.3g}x"


def heading(text: str) -> str:
    return f"\n== {text}"
