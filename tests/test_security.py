"""User text is data: it never reaches sympify, eval or exec, nor the generated Python."""

from __future__ import annotations

import ast
import builtins
import sys
from pathlib import Path

import pytest
import sympy

from symbp.cli import main

MARKER = "__import__('os').system('echo pwned')"


@pytest.fixture
def recorded(monkeypatch):
    """Record every string handed to sympify, eval or exec while the CLI runs."""
    seen: list[str] = []
    real_sympify, real_eval, real_exec = sympy.sympify, builtins.eval, builtins.exec

    def sympify(a, *args, **kwargs):
        if isinstance(a, str):
            seen.append(a)
        return real_sympify(a, *args, **kwargs)

    def evaluate(source, *args, **kwargs):
        seen.append(source if isinstance(source, str) else repr(source))
        return real_eval(source, *args, **kwargs)

    def execute(source, *args, **kwargs):
        seen.append(source if isinstance(source, str) else repr(source))
        return real_exec(source, *args, **kwargs)

    monkeypatch.setattr(sympy, "sympify", sympify)
    monkeypatch.setattr(sys.modules["sympy.core.sympify"], "sympify", sympify)
    monkeypatch.setattr(builtins, "eval", evaluate)
    monkeypatch.setattr(builtins, "exec", execute)
    return seen


def test_title_and_arguments_never_reach_sympify_eval_or_exec(tmp_path, capsys, recorded):
    code = main(["derive", "--format", "tex,md,py", "--out", str(tmp_path), "--title", MARKER])
    assert code == 0, capsys.readouterr().err
    assert not any(MARKER in text for text in recorded)
    generated = (tmp_path / "gradients.py").read_text()
    assert "pwned" not in generated and "__import__" not in generated
    assert "pwned" in (tmp_path / "cnn_backprop.tex").read_text()  # as escaped text only


@pytest.mark.parametrize(
    "argv",
    [
        ["derive", "--input", "6x6; import os"],
        ["derive", "--input", '6x6"""\nimport os\n"""'],
        ["derive", "--filter", "__import__('os')"],
        ["derive", "--pool", "2 or 1"],
        ["explain", "dW1[__import__('os').getcwd()]"],
        ["explain", "dW1[0,1]+__import__('os')"],
    ],
)
def test_hostile_arguments_are_refused_without_evaluation(tmp_path, capsys, recorded, argv):
    out = ["--out", str(tmp_path / "o")] if argv[0] == "derive" else []
    assert main(argv + out) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert not any("import" in text or text == "os" for text in recorded)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_package_source_calls_no_string_evaluator():
    """Statically: symbp itself never calls eval, sympify, parse_expr or S(...) on text; its
    one exec runs the module it generated from the derivation."""
    package = Path(__file__).resolve().parent.parent / "symbp"
    calls = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in {"eval", "exec", "sympify", "parse_expr", "S"}:
                    calls.append(f"{path.name}:{node.lineno}:{name}")
    assert all(call.startswith("codegen.py") and call.endswith(":exec") for call in calls), calls
