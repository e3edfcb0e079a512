"""Where symbp's gradients() spends its time: a per-statement profile of the generated code.

cProfile only shows that nearly all the time is inside `_gradient_block`, because NumPy's
operations are not Python calls. So the generated source is re-compiled with a clock around
every statement of `_gradient_block`, statements are grouped by the quantity they assign (masks,
pool conditions, backward products, final reductions...), and the helpers around the block
(`_validate`, `_blocks` with its transpose, `_small_batch_sums`) are timed by wrappers. The
module's code is not changed, only observed; the clocks add well under 1% at M = 100 000.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any

import bench_blas
import bench_report as report
from bench_impl import random_problem

from symbp import derive, generate_source
from symbp.spec.model import NetworkSpec

BLOCK = "_gradient_block"
WRAPPED = ("_validate", "_prepare", "_small_batch_sums")

_PREFIX_GROUPS = (
    ("a1_", "ReLU values a1"),
    ("p1_", "pool select p1"),
    ("f_", "dense + sigmoid head"),
    ("z2", "dense + sigmoid head"),
    ("a2", "dense + sigmoid head"),
    ("dz2", "dense + sigmoid head"),
    ("df_", "backward dense df, dp1"),
    ("dp1_", "backward dense df, dp1"),
    ("da1_", "backward pool routing da1"),
    ("dz1_", "backward ReLU mask dz1"),
)


def group_of(statement: ast.stmt) -> str:
    """The profile group of one statement of the block function."""
    text = ast.unparse(statement)
    if isinstance(statement, ast.Return):
        return "parameter sums (np.dot / np.sum)"
    if " @ " in text:
        return "first layer: jacobian @ x (BLAS)"
    if isinstance(statement, ast.AugAssign):
        return "first layer: bias"
    if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Tuple):
        return "unpack theta / z1 / x rows"
    if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
        return _group_of_name(statement.targets[0].id, ast.unparse(statement.value))
    return "other"


def _group_of_name(name: str, value: str) -> str:
    if re.fullmatch(r"t\d+", name):
        if "&" in value or ">=" in value or "<" in value:
            return "pool first-max conditions"
        if "> 0" in value:
            return "ReLU masks"
        return "shared subexpressions"
    for prefix, group in _PREFIX_GROUPS:
        if name.startswith(prefix):
            return group
    return "other"


def _instrument(function: ast.FunctionDef) -> list[str]:
    """Wrap every statement of the block in clock reads; returns each statement's group."""
    groups: list[str] = []
    body: list[ast.stmt] = []
    for statement in function.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # docstring
        index = len(groups)
        groups.append(group_of(statement))
        timed = statement
        if isinstance(statement, ast.Return):
            value = statement.value or ast.Constant(None)
            timed = ast.Assign([ast.Name("_returned", ast.Store())], value)
        body += ast.parse("_started = _clock()").body
        body.append(timed)
        body += ast.parse(f"_spent[{index}] += _clock() - _started").body
    body += ast.parse("return _returned").body
    function.body = body
    return groups


def instrumented_module(spec: NetworkSpec) -> tuple[dict[str, Any], list[str], list[float]]:
    """The generated module's namespace with a clocked block; its groups and their counters."""
    tree = ast.parse(generate_source(derive(spec)))
    block = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == BLOCK)
    groups = _instrument(block)
    ast.fix_missing_locations(tree)
    spent = [0.0] * len(groups)
    namespace: dict[str, Any] = {"_clock": time.perf_counter, "_spent": spent}
    exec(compile(tree, "<symbp generated, instrumented>", "exec"), namespace)
    return namespace, groups, spent


def _timed_helpers(namespace: dict[str, Any], totals: dict[str, float]) -> None:
    """Replace the helpers around the block with clocked wrappers (same behaviour)."""
    for name in WRAPPED:
        if name in namespace:
            namespace[name] = _clocked(namespace[name], name, totals)
    if "_blocks" in namespace:
        namespace["_blocks"] = _clocked_generator(namespace["_blocks"], totals)


def _clocked(function: Callable[..., Any], name: str, totals: dict[str, float]) -> Any:
    label = {"_validate": "validate inputs", "_small_batch_sums": "pure-Python path"}.get(
        name, "prepare theta / Jacobian"
    )

    def wrapper(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args)
        finally:
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - start

    return wrapper


def _clocked_generator(generator: Callable[..., Iterator[Any]], totals: dict[str, float]) -> Any:
    label = "blocks: transpose to pixel rows + finite check"

    def wrapper(*args: Any) -> Iterator[Any]:
        iterator = generator(*args)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - start
                return
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - start
            yield item

    return wrapper


class _Profiled:
    """One instrumented copy of the module, run under one BLAS thread setting."""

    def __init__(self, spec: NetworkSpec, blas_threads: int | None) -> None:
        self.namespace, self.groups, self.spent = instrumented_module(spec)
        self.totals: dict[str, float] = {}
        _timed_helpers(self.namespace, self.totals)
        self.blas_threads = blas_threads or bench_blas.get_threads()
        self._setting = blas_threads
        self.wall = 0.0

    def reset(self) -> None:
        self.spent[:] = [0.0] * len(self.spent)
        self.totals.clear()
        self.wall = 0.0

    def call(self, x: Any, y: Any, params: Any) -> None:
        with bench_blas.limited(self._setting) if self._setting else nullcontext():
            start = time.perf_counter()
            self.namespace["gradients"](x, y, params)
            self.wall += time.perf_counter() - start

    def result(self, m: int, calls: int) -> dict[str, Any]:
        totals = dict(self.totals)
        for group, seconds in zip(self.groups, self.spent, strict=True):
            totals[group] = totals.get(group, 0.0) + seconds
        totals["rest of gradients() (loop, dict, timers)"] = max(
            self.wall - sum(totals.values()), 0.0
        )
        per_call = {group: seconds / calls for group, seconds in totals.items()}
        return {
            "m": m,
            "calls": calls,
            "blas_threads": self.blas_threads,
            "wall_per_call_s": self.wall / calls,
            "groups_s": dict(sorted(per_call.items(), key=lambda item: -item[1])),
        }


def profile(
    spec: NetworkSpec, m: int, calls: int, blas_settings: tuple[int | None, ...] = (None,)
) -> list[dict[str, Any]]:
    """Seconds per gradients() call by group, one profile per BLAS setting (None: default).

    The settings take turns call by call, so a slow spell of the shared machine hits all alike.
    """
    try:
        profiled = [_Profiled(spec, threads) for threads in blas_settings]
    except StopIteration:
        return [{"skipped": f"generated module has no {BLOCK}"}]
    x, y, params = random_problem(spec, m)
    for p in profiled:
        p.call(x, y, params)  # warm-up, then forget what it cost
        p.reset()
    for _ in range(calls):
        for p in profiled:
            p.call(x, y, params)
    return [p.result(m, calls) for p in profiled]


def render(profiles: list[dict[str, Any]]) -> str:
    """One column per profile (default BLAS threads, one thread), ms per call and share."""
    usable = [p for p in profiles if "groups_s" in p]
    if not usable:
        return "skipped: " + "; ".join(p.get("skipped", "") for p in profiles)
    groups = list(usable[0]["groups_s"])
    headers = ["group (per gradients() call)"]
    for p in usable:
        headers += [f"BLAS {p['blas_threads']} thr", "share"]
    rows = []
    for group in groups:
        row = [group]
        for p in usable:
            spent = p["groups_s"].get(group, 0.0)
            row += [report.seconds(spent), f"{100 * spent / p['wall_per_call_s']:.0f}%"]
        if any(p["groups_s"].get(group, 0.0) > 0 for p in usable):
            rows.append(row)
    total = ["total wall per call"]
    for p in usable:
        total += [report.seconds(p["wall_per_call_s"]), "100%"]
    rows.append(total)
    return "\n".join(
        [
            f"symbp gradients() at M={usable[0]['m']}, {usable[0]['calls']} calls"
            + (", BLAS settings taking turns call by call" if len(usable) > 1 else "")
            + ": statements of the generated _gradient_block clocked and grouped, helpers "
            "(_validate, _blocks, _small_batch_sums) timed by wrappers",
            report.table(headers, rows),
        ]
    )
