"""`symbp laws` and `symbp explain <law>`: the hooks the command line calls.

`add_laws_arguments(parser)` adds the law-specific options (the CLI adds the shared spec
options and --quiet/--json); `run_laws(args, spec)` prints every law the network calls for with
its status and returns the exit code: 0 when every law holds and every instance reproduces the
element-wise derivation, 1 otherwise. `explain_law(name, spec)` is the text of
`symbp explain <law>`, or None when the name is not a law (then it is a gradient element).
Bad input (an unknown --law) is a ValueError with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from .names import ALL_KEYS, law_key

if TYPE_CHECKING:  # the rest imports SymPy: only when a command runs, not to build the parser
    from .catalog import Law
    from .established import Established

SCHEMA_ID = "symbp-laws/1"

_CHECK = {
    "type": "object",
    "required": ["law", "block", "quantity", "form", "elements", "holds", "detail"],
    "properties": {
        "law": {"type": "string"},
        "block": {"type": ["integer", "null"]},
        "quantity": {"type": "string"},
        "form": {"enum": ["stated", "derived"]},
        "elements": {"type": "integer", "minimum": 0},
        "holds": {"type": "boolean"},
        "detail": {"type": "string"},
    },
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_LAW = {
    "type": "object",
    "required": ["key", "title", "status", "verdict", "method", "detail", "statement"],
    "properties": {
        "key": {"enum": list(ALL_KEYS)},
        "title": {"type": "string"},
        "status": {"enum": ["holds", "fails"]},
        "verdict": {"type": "string"},
        "method": {"type": "string"},
        "detail": {"type": "string"},
        "statement": _STRINGS,
        "derived": _STRINGS,
        "conditions": _STRINGS,
        "checks": {"type": "integer", "minimum": 0},
        "elements": {"type": "integer", "minimum": 0},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "symbp laws report",
    "type": "object",
    "required": ["schema", "symbp", "command", "spec", "laws", "checks", "passed", "exit_code"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "symbp": {"type": "string"},
        "command": {"const": "laws"},
        "spec": {
            "type": "object",
            "required": ["label", "config"],
            "properties": {"label": {"type": "string"}, "config": {"type": "string"}},
        },
        "laws": {"type": "array", "items": _LAW},
        "checks": {"type": "array", "items": _CHECK},
        "seconds": {"type": "object", "additionalProperties": {"type": "number"}},
        "passed": {"type": "boolean"},
        "exit_code": {"enum": [0, 1]},
    },
}


def add_laws_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `symbp laws` beyond the spec's (and --quiet / --json)."""
    parser.add_argument(
        "--law",
        action="append",
        metavar="NAME",
        help="show only this law (repeatable): " + ", ".join(ALL_KEYS),
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="print each law in full: statement, derived form, conditions, how it is known",
    )
    parser.add_argument(
        "--every-law",
        action="store_true",
        help="every law symbp knows, not only those this network's layers call for",
    )


def selected_keys(spec: Any, names: list[str] | None, every_law: bool) -> tuple[str, ...]:
    """The laws to show: those named (in catalog order), else the spec's (or every) law."""
    from .catalog import keys_for

    if not names:
        return tuple(ALL_KEYS if every_law else keys_for(spec))
    keys = []
    for name in names:
        key = law_key(name)
        if key is None:
            shown = name if len(name) <= 40 else name[:37] + "..."
            raise ValueError(f"unknown law {shown!r}; the laws are: {', '.join(ALL_KEYS)}")
        keys.append(key)
    return tuple(key for key in ALL_KEYS if key in keys)


def established_for(spec: Any, keys: tuple[str, ...]) -> tuple[Established, dict[str, float]]:
    """Derive, build the laws and bridge them, with the seconds each stage took."""
    from . import catalog
    from .established import Established, checks_at, derivation_of

    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    d = derivation_of(spec)
    seconds["derive"] = time.perf_counter() - clock
    clock = time.perf_counter()
    laws = tuple(catalog.law(key) for key in keys)
    seconds["laws"] = time.perf_counter() - clock
    clock = time.perf_counter()
    checks = tuple(c for c in checks_at(d) if c.law in keys)
    seconds["bridge"] = time.perf_counter() - clock
    return Established(d.spec, laws, checks), seconds


def _items(statement: Any) -> tuple:
    return statement if isinstance(statement, tuple) else (statement,)


def law_data(law: Law, found: Established) -> dict[str, Any]:
    """One law as JSON data: its status at this spec and how the general law is known."""
    from .text import text

    mine = found.checks_of(law.key)
    return {
        "key": law.key,
        "title": law.title,
        "status": "holds" if found.holds(law.key) else "fails",
        "verdict": found.verdict(law.key),
        "method": law.method,
        "detail": law.detail,
        "statement": [text(s) for s in _items(law.statement)],
        "derived": [text(s) for s in _items(law.derived)],
        "conditions": [text(c) for c in law.conditions],
        "checks": len(mine),
        "elements": sum(c.elements for c in mine),
    }


def report_data(found: Established, seconds: dict[str, float] | None = None) -> dict[str, Any]:
    """The JSON document of `symbp laws --json` (schema: SCHEMA)."""
    from symbp.support.version import __version__

    checks = [
        {
            "law": c.law,
            "block": c.block,
            "quantity": c.quantity,
            "form": c.form,
            "elements": c.elements,
            "holds": c.holds,
            "detail": c.detail,
        }
        for c in found.checks
    ]
    return {
        "schema": SCHEMA_ID,
        "symbp": __version__,
        "command": "laws",
        "spec": {"label": found.spec.label, "config": found.spec.to_toml()},
        "laws": [law_data(law, found) for law in found.laws],
        "checks": checks,
        "seconds": dict(seconds or {}),
        "passed": found.passed,
        "exit_code": 0 if found.passed else 1,
    }


def _failures(found: Established) -> list[str]:
    """One line per failed law and per failed instance check: what --quiet still prints."""
    lines = [f"symbp: law {law.key} fails: {law.detail}" for law in found.laws if not law.holds]
    lines += [f"symbp: instance check failed: {c}" for c in found.failed_checks]
    return lines


def run_laws(
    args: argparse.Namespace, spec: Any, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """`symbp laws`: every law with its status and how it was established; 1 on a failure.

    --json prints one JSON document (SCHEMA) instead; --quiet prints the failures (on stderr)
    and the final line only."""
    from .report import report_of

    out, err = out or sys.stdout, err or sys.stderr
    names = getattr(args, "law", None)
    keys = selected_keys(spec, names, bool(getattr(args, "every_law", False)))
    found, seconds = established_for(spec, keys)
    code = 0 if found.passed else 1
    if getattr(args, "json", False):
        data = report_data(found, seconds)
        print(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False), file=out)
        return code
    report = report_of(found, full=bool(getattr(args, "full", False)))
    if getattr(args, "quiet", False):
        for line in _failures(found):
            print(line, file=err)
        print(report.splitlines()[-1], file=out)
    else:
        print(report, file=out)
    return code


def instance_lines(law: Law, spec: Any) -> list[str]:
    """The law at each place of the spec's network: sizes, size arithmetic, the law."""
    from .instance import instances
    from .text import text

    lines = []
    for place in instances(law, spec):
        where = f"block {place.block}" if place.block is not None else "after the blocks"
        sizes = ", ".join(f"{text(s)} = {text(v)}" for s, v in place.sizes.items())
        lines.append(f"  {where}: {sizes}")
        for size, rule, value in place.arithmetic:
            lines.append(f"    {text(size)} = {text(rule, place.sizes)} = {value}")
        lines += [f"    {text(form)}" for form in place.forms]
    return lines


def explain_law(name: str, spec: Any = None) -> str | None:
    """`symbp explain <law>`: the law in full and, with a spec, the law at its sizes and its
    instance checks against the element-wise derivation; None when the name is no law."""
    key = law_key(name)
    if key is None:
        return None
    from . import catalog
    from .established import checks_at, derivation_of
    from .report import format_law

    law = catalog.law(key)
    if spec is None:
        return format_law(law) + "\n"
    checks = [c for c in checks_at(derivation_of(spec)) if c.law == key]
    verdict = law.verdict if law.holds and all(c.holds for c in checks) else "fails"
    lines = [format_law(law, verdict)]
    at = instance_lines(law, spec)
    if at:
        lines += [f"at this network's sizes ({spec.label}):", *at]
    if checks:
        lines.append("against the element-wise derivation:")
        lines += [f"  {c}" for c in checks]
    return "\n".join(lines) + "\n"
