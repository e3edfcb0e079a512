"""What `symbp laws` and `symbp explain <law>` print, and the verdict they exit with."""

from __future__ import annotations

import textwrap
from typing import Any

from .catalog import Law
from .established import Established
from .text import text

WIDTH = 100


def _items(statement) -> tuple:
    return statement if isinstance(statement, tuple) else (statement,)


def _lines(label: str, items) -> list[str]:
    items = items if isinstance(items, tuple) else (items,)
    out = []
    for n, item in enumerate(items):
        head = f"  {label:<9} " if n == 0 else " " * 12
        out.append(head + text(item))
    return out


def _wrapped(label: str, words: str) -> list[str]:
    return textwrap.wrap(words, WIDTH, initial_indent=f"  {label:<9} ", subsequent_indent=" " * 12)


def format_law(law: Law, verdict: str | None = None) -> str:
    """A law in plain text: its verdict, statement, conditions, what diff found, and how it
    was established. `verdict` overrides the general law's (a failed instance: 'fails')."""
    lines = [
        f"{law.key} [{verdict or law.verdict}]",
        *textwrap.wrap(law.title, WIDTH, initial_indent="  ", subsequent_indent="  "),
    ]
    lines += _lines("law:", law.statement)
    shown = {text(x) for x in _items(law.statement) + _items(law.derived)}
    if law.index_form is not None and not {text(x) for x in _items(law.index_form)} <= shown:
        lines += _lines("as sums:", law.index_form)
    lines += _lines("derived:", law.derived)
    if law.conditions:
        lines += _lines("where:", law.conditions)
    lines += _wrapped("how:", f"{law.method}: {law.detail}")
    return "\n".join(lines)


def summary_line(law: Law, verdict: str | None = None) -> str:
    """One line: verdict, key, title."""
    return f"  [{verdict or law.verdict}] {law.key}: {law.title}"


def bridge_lines(checks: list[Any]) -> list[str]:
    """One line per failed check, and the count of those that held."""
    failed = [c for c in checks if not c.holds]
    elements = sum(c.elements for c in checks if c.holds)
    lines = [f"  {len(checks) - len(failed)} of {len(checks)} checks hold ({elements} elements)"]
    lines += [f"  {c}" for c in failed]
    return lines


def report_of(found: Established, full: bool = False) -> str:
    """The text of `symbp laws` for laws already established."""
    lines = [f"laws for {found.spec.label}:"]
    for law in found.laws:
        mine = list(found.checks_of(law.key))
        verdict = found.verdict(law.key)
        if full:
            lines += [format_law(law, verdict), *(bridge_lines(mine) if mine else []), ""]
            continue
        count = sum(c.elements for c in mine)
        checks_word = "check" if len(mine) == 1 else "checks"
        instance = f" (at this spec: {len(mine)} {checks_word}, {count} elements)" if mine else ""
        lines.append(summary_line(law, verdict) + instance)
    lines.append("each law at this spec's sizes against the element-wise derivation:")
    lines += bridge_lines(list(found.checks))
    broken = [law.key for law in found.laws if not found.holds(law.key)]
    if found.passed:
        held = f"all {len(found.laws)} laws hold" if len(found.laws) > 1 else "the law holds"
        lines.append(f"{held}, and every instance reproduces the derivation")
    else:
        lines.append(
            f"FAILED: {len(broken)} of {len(found.laws)} laws ({', '.join(broken) or 'none'}); "
            f"{len(found.failed_checks)} instance checks fail"
        )
    return "\n".join(lines)
