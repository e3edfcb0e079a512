"""Progress on a terminal, silence elsewhere, and the JSON report (issue 16)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys

import jsonschema
import pytest
from broken_rules import last_max_pool, with_rule

from symbp import progress
from symbp.cli import main
from symbp.report import SCHEMA
from symbp.support.progress import TerminalProgress

NUMBERS = re.compile(r"[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?")


def run_with_stderr_on_a_terminal(argv: list[str], cwd) -> tuple[int, bytes, bytes]:
    """Run symbp with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "symbp", *argv], stdout=subprocess.PIPE, stderr=slave, cwd=cwd
    )
    os.close(slave)
    assert process.stdout is not None
    terminal, stdout = b"", b""
    streams = {master: "tty", process.stdout.fileno(): "out"}
    while streams:
        ready, _, _ = select.select(list(streams), [], [], 300)
        assert ready, "no output for 300 s"
        for descriptor in ready:
            try:
                chunk = os.read(descriptor, 65536)
            except OSError:  # EIO: the terminal's last writer has gone
                chunk = b""
            if not chunk:
                del streams[descriptor]
            elif streams[descriptor] == "tty":
                terminal += chunk
            else:
                stdout += chunk
    os.close(master)
    return process.wait(timeout=60), stdout, terminal


def test_a_terminal_sees_every_stage_and_stdout_does_not_change(tmp_path):
    argv = ["derive", "--format", "py,md", "--out", str(tmp_path / "a")]
    code, stdout, terminal = run_with_stderr_on_a_terminal(argv, tmp_path)
    assert code == 0, terminal
    seen = terminal.decode("utf-8", "replace")
    for stage in ("forward pass", "chain rule", "proofs", "compiling", "verification", "writing"):
        assert stage in seen, (stage, seen[-2000:])
    assert re.search(r"proofs  [█░]{20}  [0-9]+/[0-9]+", seen)
    assert seen.endswith("\r\x1b[K"), "the status line is erased at the end"

    plain = subprocess.run(
        [sys.executable, "-m", "symbp", *argv[:-1], str(tmp_path / "b")],
        capture_output=True,
        timeout=300,
        check=True,
    )
    assert plain.stderr == b""  # no terminal: nothing extra
    assert b"\r" not in plain.stdout and b"\x1b" not in plain.stdout
    # The same stdout either way, apart from measured numbers and the folder's name.
    lines = plain.stdout.decode().split("\n")
    same = [NUMBERS.sub("#", line.replace("/b", "/a")) for line in lines]
    assert [NUMBERS.sub("#", line) for line in stdout.decode().split("\n")] == same


def test_quiet_prints_only_the_final_line(tmp_path, capsys):
    assert main(["derive", "--quiet", "--format", "py", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert re.fullmatch(r"wrote \S+gradients\.py in [0-9.]+ s\n", out), out
    assert main(["verify", "-q"]) == 0
    assert capsys.readouterr().out == "verification passed\n"


def test_the_status_line_redraws_in_place_and_estimates():
    stream = io.StringIO()
    line = TerminalProgress(stream, interval=0)
    with progress.listening(line):
        progress.step("proofs", 0, 4, "head")
        progress.step("proofs", 2, 4, "dW of block 1")
        line.clear()
    text = stream.getvalue()
    assert text.count("\r") == 3 and "\n" not in text
    assert "proofs  ██████████░░░░░░░░░░  2/4  dW of block 1" in text
    assert TerminalProgress.line("proofs", 1, 4, "", elapsed=10) == (
        "proofs  █████░░░░░░░░░░░░░░░  1/4  about 30 s left"
    )
    progress.step("nobody listens", 1, 2)  # outside `listening`: does nothing


def _report(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(argv)
    out = capsys.readouterr().out
    data = json.loads(out)  # the whole of stdout is one JSON document
    jsonschema.validate(data, SCHEMA)
    assert data["exit_code"] == code
    return code, data


def test_verify_json_for_the_default_network(capsys):
    code, data = _report(capsys, ["verify", "--json"])
    assert code == 0 and data["passed"] and data["verification"]["passed"]
    assert data["parameters"] == {
        "count": 15,
        "shapes": {"W1": [3, 3], "B1": [], "W2": [4, 1], "B2": []},
    }
    methods = {proof["key"]: proof["method"] for proof in data["proofs"]}
    assert methods["relu0"] == "exhaustive" and methods["composition"] == "sampled"
    assert methods["head"] == "symbolic"
    assert {row["quantity"] for row in data["verification"]["rows"]} >= {"W1", "B2", "X"}
    assert set(data["seconds"]) >= {"derive", "proofs", "verify"}


def test_verify_json_for_a_general_spec(capsys):
    argv = ["verify", "--json", "--input", "7x7", "--channels", "2", "--filters", "2"]
    code, data = _report(capsys, [*argv, "--stride", "2", "--padding", "1", "--pool-type", "avg"])
    assert code == 0
    block = data["spec"]["blocks"][0]
    assert (block["filters"], block["stride"], block["padding"], block["pool_type"]) == (
        2,
        2,
        1,
        "avg",
    )
    assert data["spec"]["channels"] == 2


def test_verify_json_reports_a_broken_rule(capsys, monkeypatch):
    import symbp.symbolic.derivation

    broken = with_rule("maxpool", last_max_pool)
    real = symbp.symbolic.derivation.derive
    monkeypatch.setattr(symbp.symbolic.derivation, "derive", lambda spec: real(spec, rules=broken))
    code, data = _report(capsys, ["verify", "--json"])
    assert code == 1 and not data["passed"]
    failed = [proof["key"] for proof in data["proofs"] if not proof["holds"]]
    assert "ties" in failed


def test_derive_json_lists_the_files(tmp_path, capsys):
    code, data = _report(capsys, ["derive", "--json", "--format", "py,md", "--out", str(tmp_path)])
    assert code == 0
    assert data["files"] == [str(tmp_path / "gradients.py"), str(tmp_path / "cnn_backprop.md")]
    assert data["pdf"] is None and "total" in data["seconds"]


def test_json_has_no_nan():
    from symbp.report import _finite, dumps

    assert dumps(_finite({"a": [float("nan"), float("inf"), 1.5]})) == (
        '{\n  "a": [\n    null,\n    null,\n    1.5\n  ]\n}'
    )
    with pytest.raises(ValueError):
        dumps({"a": float("nan")})
