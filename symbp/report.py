"""The machine-readable report of `symbp derive --json` and `symbp verify --json`.

One JSON document on stdout: the spec, the parameters, every proof with how it was
established, every verification row with its errors, tolerance and verdict, the files written,
the time of each stage and the exit code. `SCHEMA` (JSON Schema, draft 2020-12) is the
contract, documented in the README and checked by the tests.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

from symbp.spec.kinds import ACTIVATIONS
from symbp.spec.model import POOL_TYPES, NetworkSpec
from symbp.support.version import __version__

if TYPE_CHECKING:
    from symbp.pipeline import Checked

SCHEMA_ID = "symbp-report/1"

_NUMBER = {"type": ["number", "null"]}  # null: not a finite number (NaN or infinity)
_STRINGS = {"type": "array", "items": {"type": "string"}}
_PROOF = {
    "type": "object",
    "required": ["key", "title", "holds", "method", "detail"],
    "properties": {
        "key": {"type": "string"},
        "title": {"type": "string"},
        "holds": {"type": "boolean"},
        "method": {"enum": ["symbolic", "exhaustive", "sampled"]},
        "detail": {"type": "string"},
    },
}
_ROW = {
    "type": "object",
    "required": ["reference", "quantity", "cases", "tolerance", "passed"],
    "properties": {
        "reference": {"type": "string"},
        "quantity": {"type": "string"},
        "cases": {"type": "integer", "minimum": 0},
        "tolerance": _NUMBER,
        "passed": {"type": "boolean"},
    },
}
_BLOCK = {
    "type": "object",
    "required": ["filter", "filters", "stride", "padding", "activation", "pool_type"],
    "properties": {
        "filter": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
        "filters": {"type": "integer"},
        "stride": {"type": "integer"},
        "padding": {"type": "integer"},
        "activation": {"enum": list(ACTIVATIONS)},
        "leaky_slope": {"type": "number"},
        "pool_type": {"enum": list(POOL_TYPES)},
        "pool": {"type": "integer"},
        "pool_stride": {"type": "integer"},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "symbp report",
    "type": "object",
    "required": [
        "schema",
        "symbp",
        "command",
        "spec",
        "parameters",
        "proofs",
        "verification",
        "files",
        "seconds",
        "passed",
        "exit_code",
    ],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "symbp": {"type": "string"},
        "command": {"enum": ["derive", "verify"]},
        "spec": {
            "type": "object",
            "required": ["label", "input", "channels", "blocks"],
            "properties": {
                "label": {"type": "string"},
                "input": {"type": "array", "items": {"type": "integer"}},
                "channels": {"type": "integer"},
                "blocks": {"type": "array", "items": _BLOCK, "minItems": 1},
            },
        },
        "parameters": {
            "type": "object",
            "required": ["count", "shapes"],
            "properties": {
                "count": {"type": "integer"},
                "shapes": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "integer"}},
                },
            },
        },
        "proofs": {"type": "array", "items": _PROOF},
        "verification": {
            "type": "object",
            "required": ["passed", "rows", "notes"],
            "properties": {
                "passed": {"type": "boolean"},
                "rows": {"type": "array", "items": _ROW},
                "notes": _STRINGS,
            },
        },
        "files": _STRINGS,
        "pdf": {
            "type": ["object", "null"],
            "properties": {
                "pages": {"type": ["integer", "null"]},
                "overfull_boxes": {"type": "integer"},
                "engine": {"type": "string"},
                "runs": {"type": "integer"},
            },
        },
        "notes": _STRINGS,
        "seconds": {"type": "object", "additionalProperties": {"type": "number"}},
        "passed": {"type": "boolean"},
        "exit_code": {"enum": [0, 1]},
    },
}


def spec_data(spec: NetworkSpec) -> dict[str, Any]:
    """The spec as JSON data: the settings of every block, with their defaults filled in."""
    blocks = []
    for block in spec.blocks:
        data: dict[str, Any] = {
            "filter": list(block.filter_shape),
            "filters": block.filters,
            "stride": block.stride,
            "padding": block.padding,
            "activation": block.activation,
        }
        if block.activation == "leaky_relu":
            data["leaky_slope"] = block.leaky_slope
        data["pool_type"] = block.pool_type
        if block.pooled:
            data["pool"], data["pool_stride"] = block.pool_size, block.pool_step
        blocks.append(data)
    return {
        "label": spec.label,
        "input": list(spec.input_shape),
        "channels": spec.channels,
        "blocks": blocks,
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such numbers become null; NumPy scalars become Python's."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_data(
    command: str,
    checked: Checked,
    files: list[str] | None = None,
    pdf: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    seconds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The report as JSON-ready data; `exit_code` is 0 exactly when everything passed."""
    spec, report = checked.spec, checked.report
    rows = [{**dataclasses.asdict(row), "passed": row.passed} for row in report.rows]
    return _finite(
        {
            "schema": SCHEMA_ID,
            "symbp": __version__,
            "command": command,
            "spec": spec_data(spec),
            "parameters": {
                "count": spec.parameter_count,
                "shapes": {name: list(shape) for name, shape in spec.parameter_shapes.items()},
            },
            "proofs": [
                {
                    "key": p.key,
                    "title": p.title,
                    "holds": p.holds,
                    "method": p.method,
                    "detail": p.detail,
                }
                for p in checked.proofs
            ],
            "verification": {"passed": report.passed, "rows": rows, "notes": list(report.notes)},
            "files": files or [],
            "pdf": pdf,
            "notes": notes or [],
            "seconds": {**checked.seconds, **(seconds or {})},
            "passed": checked.passed,
            "exit_code": 0 if checked.passed else 1,
        }
    )


def dumps(data: dict[str, Any]) -> str:
    """The report as text: indented, keys in the order above, strict JSON (no NaN)."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
