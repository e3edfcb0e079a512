"""The hooks of `symbp laws` and `symbp explain <law>` (symbp.laws.command).

Each example of issue 12 must print every law held and say how it was established; a wrong
law must make the command fail, whichever of proof (a) or bridge (b) catches it; bad input is
a one-line ValueError.
"""

from __future__ import annotations

import argparse
import io
import json

import jsonschema
import pytest
import sympy as sp
from law_examples import LAW_EXAMPLES

from symbp import NetworkSpec, derive
from symbp.laws import catalog, conv, explain_law, find_law
from symbp.laws import command as C
from symbp.laws import index_form as F

EXAMPLES = LAW_EXAMPLES
VERDICTS = ("[holds: symbolic] ", "[holds: checked for ")


def parser() -> argparse.ArgumentParser:
    """What the CLI will build: the law options plus --quiet and --json."""
    p = argparse.ArgumentParser(prog="symbp laws")
    C.add_laws_arguments(p)
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--json", action="store_true")
    return p


def run(spec: NetworkSpec, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = C.run_laws(parser().parse_args(list(argv)), spec, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_prints_every_law_held_and_how(name):
    spec = EXAMPLES[name]
    code, out, err = run(spec)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"laws for {spec.label}:"
    for key in catalog.keys_for(spec):
        (line,) = [x for x in lines if f"] {key}: " in x]
        assert line.lstrip().startswith(VERDICTS), line
    assert lines[-1].startswith(f"all {len(catalog.keys_for(spec))} laws hold")
    assert "[fails]" not in out and "FAIL" not in out


def test_the_checked_laws_say_what_they_were_checked_on():
    _, out, _ = run(NetworkSpec())
    (flatten,) = [x for x in out.splitlines() if "] flatten: " in x]
    assert "[holds: checked for all K <= 3, H_p, W_p <= 5" in flatten
    (first,) = [x for x in out.splitlines() if "] first-max: " in x]
    assert "[holds: checked for every R x R window" in first


def test_quiet_prints_only_the_final_line():
    code, out, err = run(NetworkSpec(), "--quiet")
    assert code == 0 and err == ""
    assert out == "all 12 laws hold, and every instance reproduces the derivation\n"


def test_json_follows_its_schema():
    code, out, _ = run(EXAMPLES["two-blocks"], "--json")
    data = json.loads(out)
    jsonschema.validate(data, C.SCHEMA)
    assert code == 0 and data["passed"] is True and data["exit_code"] == 0
    keys = [law["key"] for law in data["laws"]]
    assert keys == catalog.keys_for(EXAMPLES["two-blocks"])
    dx = next(law for law in data["laws"] if law["key"] == "dX")
    assert dx["verdict"] == "holds: symbolic" and dx["checks"] == 4  # 2 blocks x 2 forms
    assert {c["block"] for c in data["checks"] if c["law"] == "dW"} == {1, 2}
    assert set(data["seconds"]) == {"derive", "laws", "bridge"}


def test_law_selects_and_full_prints_in_full():
    code, out, _ = run(
        EXAMPLES["padding1-stride2"], "--law", "dx", "--law", "Output size", "--full"
    )
    assert code == 0
    assert out.count(" [holds: symbolic]") == 2
    assert "dX [holds: symbolic]" in out and "output-size [holds: symbolic]" in out
    assert "rot180(w[k, c])" in out and "dW [" not in out
    assert out.splitlines()[-1].startswith("all 2 laws hold")


def test_every_law_lists_laws_the_network_does_not_use():
    _, out, _ = run(NetworkSpec(), "--every-law")
    assert "] tanh: " in out and "] avg-pool: " in out and "] leaky-relu: " in out


def test_an_unknown_law_is_a_one_line_value_error():
    with pytest.raises(ValueError, match="unknown law 'dZ'; the laws are: output-size") as error:
        run(NetworkSpec(), "--law", "dZ")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match=r"\.\.\.'"):
        run(NetworkSpec(), "--law", "x" * 500)  # the echo is capped


def test_law_names_are_forgiving_but_exact():
    assert C.law_key("dx") == "dX" and C.law_key("MAX_POOL") == "max-pool"
    assert C.law_key(" output  size ") == "output-size" and C.law_key("leaky_relu") == "leaky-relu"
    assert C.law_key("dW1[0,1]") is None and C.law_key("") is None


WRONG = {
    "unflipped kernel": ("dX", lambda: conv.stated_input_gradient(rotated=False)),
    "off-by-one padding": ("dW", lambda: conv.stated_weight_gradient(pad_by=F.P + 1)),
    "missing dilation": ("dX", lambda: conv.stated_input_gradient(dilated=False)),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_law_makes_the_command_fail(name, monkeypatch):
    """The wrong law replaces the textbook one in both the proof and the bridge."""
    key, statement = WRONG[name]
    wrong = conv.conv_law(key, statement())
    right_laws, right_law = catalog.index_laws(), catalog.law
    monkeypatch.setattr(catalog, "index_laws", lambda: {**right_laws, key: wrong})
    failed = catalog.conv_gradient_law(wrong)
    monkeypatch.setattr(catalog, "law", lambda k: failed if k == key else right_law(k))
    code, out, err = run(EXAMPLES["padding1-stride2"])
    assert code == 1
    (line,) = [x for x in out.splitlines() if f"] {key}: " in x]
    assert line.lstrip().startswith("[fails] ")
    assert out.splitlines()[-1].startswith("FAILED: 1 of 12 laws (" + key + ")")
    code, out, err = run(EXAMPLES["padding1-stride2"], "--quiet")
    assert code == 1 and f"symbp: law {key} fails: at " in err
    assert "symbp: instance check failed: [FAILS]" in err and out.startswith("FAILED")


SHORT_SUM = sp.Sum(F.dz[F.k, F.i, F.j], (F.i, 0, F.HO - 2), (F.j, 0, F.WO - 1))
WRONG_BIAS = {
    "a row short": lambda: SHORT_SUM,
    "indices it does not have": conv.stated_weight_gradient,  # dW's law bridged as dB's
}


@pytest.mark.parametrize("name", list(WRONG_BIAS))
def test_a_failing_instance_alone_fails_the_law(name, monkeypatch):
    """Proof (a) holds, the bridge fails: the law is reported as failing at this network."""
    wrong = conv.conv_law("dB", WRONG_BIAS[name]())
    monkeypatch.setattr(catalog, "index_laws", lambda: {**conv_laws(), "dB": wrong})
    code, out, _ = run(NetworkSpec(), "--law", "dB", "--json")
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and not data["passed"]
    (law,) = data["laws"]
    assert law["status"] == "fails" and law["verdict"] == "fails"
    assert find_law("dB").holds  # the general law itself is fine


def conv_laws() -> dict:
    return {key: conv.conv_law(key) for key in ("dW", "dB", "dX")}


# ------------------------------------------------------------------ symbp explain <law>
def test_explain_a_law_at_a_network():
    text = C.explain_law("dX", EXAMPLES["padding1-stride2"])
    assert text is not None and text.startswith("dX [holds: symbolic]") and text.endswith("\n")
    assert "at this network's sizes (8x8 input" in text
    assert "H_o = ⌊(8 + 2·1 - 3)/2⌋ + 1 = 4" in text  # the size law with the numbers
    assert "[holds] dX (block 1, stated) dL/dX: all 64 elements" in text


def test_explain_a_law_without_a_network_and_a_name_that_is_no_law():
    text = C.explain_law("output-size")
    assert text is not None and "H_o = ⌊(H + 2·P - k_H)/S⌋ + 1" in text
    assert "at this network" not in text
    assert C.explain_law("dW1[0,1]") is None and C.explain_law("X") is None


def test_explain_says_fails_when_an_instance_fails(monkeypatch):
    wrong = conv.conv_law("dX", conv.stated_input_gradient(crop_by=F.P + 1))
    monkeypatch.setattr(catalog, "index_laws", lambda: {**conv_laws(), "dX": wrong})
    text = C.explain_law("dx", EXAMPLES["padding1-stride2"])
    assert text is not None and text.startswith("dX [fails]") and "[FAILS] dX" in text
    assert explain_law("dX", derive(EXAMPLES["padding1-stride2"])).startswith("dX [fails]")


def test_building_the_parser_does_not_import_sympy():
    """`symbp --help` builds every subcommand's parser: the laws' options must stay cheap."""
    import subprocess
    import sys

    script = (
        "import argparse, sys\n"
        "from symbp.laws.command import add_laws_arguments, law_key\n"
        "add_laws_arguments(argparse.ArgumentParser())\n"
        "assert law_key('DX') == 'dX'\n"
        "print('sympy' in sys.modules, 'numpy' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_every_public_name_of_the_package_resolves():
    import symbp.laws as laws

    for name in laws.__all__:
        assert getattr(laws, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        laws.nothing  # noqa: B018
