"""General architectures at the edges: every impossible combination is refused with one clear
line (Python, CLI exit 2 with nothing written, TOML with line and key), specs survive a TOML
round trip, and the CLI flags reach the compiled module."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from symbp.cli import main
from symbp.reference.engine import NumericNetwork
from symbp.reference.torch_oracle import torch_available
from symbp.spec.config import parse_config
from symbp.spec.model import ConvBlock, NetworkSpec, SpecError, spec_from_strings


@pytest.mark.parametrize(
    "kwargs, key, words",
    [
        ({"padding": 3}, "padding", "padding 3 is not smaller than the 3x3 filter"),
        ({"padding": -1}, "padding", "padding must be 0 or more"),
        ({"stride": 0}, "stride", "stride must be at least 1"),
        ({"filters": 0}, "filters", "filters must be at least 1"),
        ({"channels": 0}, "channels", "channels must be at least 1"),
        ({"activation": "relu6"}, "activation", "choose one of relu, leaky_relu"),
        ({"pool_type": "min"}, "pool_type", "choose one of max, avg, none"),
        ({"activation": "leaky_relu", "leaky_slope": 1.0}, "leaky_slope", "in [0, 1)"),
        ({"leaky_slope": float("nan")}, "leaky_slope", "in [0, 1)"),
        ({"input_shape": (4, 4), "filter_shape": (5, 5)}, "filter", "larger than the 4x4"),
        (
            {"input_shape": (4, 4), "filter_shape": (7, 7), "padding": 1},
            "filter",
            "larger than the 4x4 6x6 padded input",
        ),
        ({"input_shape": (5, 5), "stride": 3}, "pool", "larger than the 1x1 convolution"),
        ({"input_shape": (8, 8), "stride": 2, "pool_size": 4}, "pool", "larger than the 3x3"),
        ({"input_shape": (7, 7), "pool_type": "avg"}, "pool", "do not cover"),
        ({"input_shape": (8, 8), "pool_size": 3, "pool_stride": 2}, "pool_stride", "strides"),
        (
            {"input_shape": (60, 60), "filters": 8},
            "allow_large",
            "over all blocks",
        ),
    ],
)
def test_impossible_single_block_specs(kwargs, key, words):
    with pytest.raises(SpecError) as info:
        NetworkSpec(**kwargs)
    assert words in str(info.value) and info.value.key == key
    assert "\n" not in str(info.value)


def test_impossible_second_block_names_its_block():
    with pytest.raises(SpecError) as info:
        NetworkSpec(input_shape=(8, 8), blocks=(ConvBlock(), ConvBlock(filter_shape=(5, 5))))
    assert str(info.value).startswith("block 2: filter 5x5 is larger than the 3x3 input")
    assert info.value.block == 1 and info.value.key == "filter"
    with pytest.raises(SpecError, match="block 2: pool 2x2 is larger than the 1x1"):
        NetworkSpec(input_shape=(8, 8), blocks=(ConvBlock(), ConvBlock()))
    with pytest.raises(SpecError, match="not both"):
        NetworkSpec(filters=2, blocks=(ConvBlock(),))
    with pytest.raises(SpecError, match="list of ConvBlock"):
        NetworkSpec(blocks=("conv",))


def test_shapes_follow_the_blocks():
    spec = NetworkSpec(
        input_shape=(12, 12),
        channels=3,
        blocks=(
            ConvBlock(filters=4, padding=1),  # 12x12 -> pool 6x6
            ConvBlock(filters=2, stride=2, pool_type="avg", pool_size=1),  # (6-3)//2+1 = 2
        ),
    )
    assert [g.conv for g in spec.geometry] == [(4, 12, 12), (2, 2, 2)]
    assert spec.parameter_shapes == {
        "W1": (4, 3, 3, 3),
        "B1": (4,),
        "W2": (2, 4, 3, 3),
        "B2": (2,),
        "W3": (8, 1),
        "B3": (),
    }
    assert spec.parameter_count == 108 + 4 + 72 + 2 + 8 + 1
    assert spec.image_shape == (3, 12, 12)
    assert parse_config(spec.to_toml()) == spec


@pytest.mark.parametrize(
    "spec",
    [
        NetworkSpec(),
        NetworkSpec((9, 9), channels=2, filters=3, stride=2, padding=1, pool_type="none"),
        NetworkSpec((7, 7), activation="leaky_relu", leaky_slope=0.2, pool_size=3, pool_stride=2),
        NetworkSpec((10, 10), blocks=(ConvBlock(activation="tanh"), ConvBlock(pool_type="avg"))),
    ],
    ids=lambda s: s.label,
)
def test_toml_round_trip(spec):
    assert parse_config(spec.to_toml(), "round.toml") == spec


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--padding", "3"], "padding 3 is not smaller than the 3x3 filter"),
        (["--stride", "two"], "stride must be a whole number, got 'two'"),
        (["--activation", "softmax"], "unknown activation 'softmax'"),
        (["--pool-type", "median"], "unknown pool type 'median'"),
        (["--filters", "0"], "filters must be at least 1"),
        (["--channels", "-2"], "channels must be at least 1"),
        (["--leaky-slope", "0.5"], "--leaky-slope needs --activation leaky_relu"),
        (["--activation", "leaky_relu", "--leaky-slope", "x"], "leaky slope must be a number"),
        (["--pool-type", "none", "--pool", "3"], "--pool cannot be combined with --pool-type"),
        (["--input", "5x5", "--stride", "3"], "pool 2x2 is larger than the 1x1"),
    ],
)
def test_cli_refuses_with_one_line_and_writes_nothing(tmp_path, capsys, argv, words):
    out = tmp_path / "out"
    code = main(["derive", *argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_cli_flags_reach_the_compiled_module(tmp_path, capsys):
    argv = [
        "--input", "7x7", "--channels", "2", "--filters", "2", "--stride", "2",
        "--padding", "1", "--activation", "leaky_relu", "--leaky-slope", "0.1",
        "--pool-type", "avg", "--pool", "2",
    ]  # fmt: skip
    code = main(["derive", *argv, "--format", "py", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "MISMATCH" not in out and "FAILS" not in out
    assert (
        "7x7 input with 2 channels, 2 3x3 filters stride 2 padding 1, leaky ReLU (slope 0.1)" in out
    )
    source = (tmp_path / "gradients.py").read_text()
    assert "Generated by `symbp derive --input 7x7 --channels 2 --filter 3x3 --filters 2" in source
    namespace: dict = {}
    exec(source, namespace)
    assert namespace["PARAMETERS"] == {"W1": (2, 2, 3, 3), "B1": (2,), "W2": (8, 1), "B2": ()}
    spec = spec_from_strings(
        "7x7", channels=2, filters=2, stride=2, padding=1, activation="leaky_relu",
        leaky_slope="0.1", pool_type="avg",
    )  # fmt: skip
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 2, 7, 7))
    Y = np.array([0.0, 1.0, 1.0])
    params = {k: rng.normal(size=s) for k, s in spec.parameter_shapes.items()}
    ours = namespace["gradients"](X, Y, params)
    engine = NumericNetwork(spec).gradients(X, Y, params)
    for name in params:
        np.testing.assert_allclose(ours[name], engine[name], rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match=r"X must have shape \(M, 2, 7, 7\)"):
        namespace["gradients"](X[:, 0], Y, params)


def test_multi_block_module_header_holds_its_config(tmp_path, capsys):
    config = tmp_path / "net.toml"
    config.write_text(
        'input = "12x12"\n\n[[block]]\nfilters = 2\npadding = 1\n\n'
        '[[block]]\nfilters = 2\nactivation = "tanh"\npool_type = "avg"\n'
    )
    code = main(["derive", "--config", str(config), "--format", "py", "--out", str(tmp_path / "o")])
    assert code == 0, capsys.readouterr().err
    source = (tmp_path / "o" / "gradients.py").read_text()
    assert "Generated by `symbp derive --config net.toml`. net.toml holds:" in source
    assert str(tmp_path) not in source  # the user's path never reaches the generated code
    header = source.split('"""')[1]
    toml = header.split("net.toml holds:\n\n")[1].split("\n\nDo not edit")[0]
    text = textwrap.dedent(toml)
    assert parse_config(text) == parse_config(config.read_text())


@pytest.mark.parametrize(
    "text, words",
    [
        (
            '[[block]]\nfilters = 2\n[[block]]\nfilter = "9x9"\n',
            "[[block]] 2, line 4, key 'filter'",
        ),
        ('filter = "3x3"\n[[block]]\nfilters = 2\n', "line 1, key 'filter': block settings go"),
        ('[[block]]\ninput = "6x6"\n', "[[block]] 1, line 2, key 'input': unknown key"),
        ("block = 3\n", "key 'block': must be an array of [[block]] tables"),
        ("padding = 3\n", "line 1, key 'padding': padding 3 is not smaller"),
        ("activation = 3\n", "line 1, key 'activation': must be one of"),
        ('pool_type = "none"\npool_stride = 1\n', "line 2, key 'pool_stride'"),
        ("leaky_slope = true\n", "line 1, key 'leaky_slope': must be a number"),
        ("channels = 0\n", "line 1, key 'channels': channels must be at least 1"),
        ('input = "5x5"\nstride = 3\n', "line 1, key 'input': pool 2x2 is larger"),
    ],
)
def test_bad_block_files_name_table_line_and_key(text, words):
    with pytest.raises(SpecError) as info:
        parse_config(text, "net.toml")
    assert words in str(info.value) and "\n" not in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "example, formats, parameters",
    [
        ("two-blocks.toml", "tex,pdf,md,py", "67 (18 + 2 + 36 + 2 + 8 + 1)"),
        ("rgb-strided.toml", "tex,md,py", "65 (54 + 2 + 8 + 1)"),
        ("mnist-cnn.toml", "md,py", "241 (18 + 2 + 72 + 4 + 144 + 1)"),  # about 20 s
    ],
)
def test_shipped_examples_derive(tmp_path, capsys, example, formats, parameters):
    """`symbp derive --config examples/...` end to end: proofs, verification, every file."""
    config = Path(__file__).resolve().parent.parent / "examples" / example
    code = main(["derive", "--config", str(config), "--format", formats, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"trainable parameters: {parameters}" in out
    assert "FAILS" not in out and "MISMATCH" not in out
    assert ("PyTorch float64 / crafted" in out) == torch_available()
    written = {p.name for p in tmp_path.iterdir()}
    expected = {"py": "gradients.py", "tex": "cnn_backprop.tex", "md": "cnn_backprop.md"}
    assert written >= {expected[f] for f in formats.split(",") if f in expected}
    markdown = (tmp_path / "cnn_backprop.md").read_text()
    assert re.search(r"\$`?\\delta W_1`?\$ is the", markdown) and "holds" in markdown
    if "pdf" in formats:
        assert (tmp_path / "cnn_backprop.pdf").read_bytes().startswith(b"%PDF-")
        assert "0 overfull boxes" in out


def test_review_findings_stay_fixed():
    """Pool windows with gaps, a slope without leaky ReLU, NumPy floats in a written config,
    and the padding of the dX statement written with the filter's own numbers."""
    with pytest.raises(SpecError, match="pool stride 3 is larger than the 2x2 window") as info:
        NetworkSpec((7, 7), pool_stride=3)
    assert info.value.key == "pool_stride"
    with pytest.raises(SpecError, match="leaky_slope applies only to activation leaky_relu"):
        NetworkSpec(leaky_slope=0.2)
    with pytest.raises(SpecError, match="line 2, key 'leaky_slope'"):
        parse_config('activation = "tanh"\nleaky_slope = 0.2\n', "net.toml")
    spec = NetworkSpec(activation="leaky_relu", leaky_slope=np.float64(0.25))
    assert "leaky_slope = 0.25" in spec.to_toml() and parse_config(spec.to_toml()) == spec

    from symbp.proofs import prove_all
    from symbp.symbolic.derivation import derive

    d = derive(NetworkSpec((6, 6), (3, 2), filters=2, pool_type="none"))
    statement = next(p.statement for p in prove_all(d, full_composition=False) if p.key == "dX")
    assert r"\operatorname{pad}_{2,1}" in statement


def test_block_errors_point_at_the_block_whose_default_fails():
    with pytest.raises(SpecError) as info:
        parse_config("[[block]]\n[[block]]\n[[block]]\n", "net.toml")
    message = str(info.value)
    assert message.startswith("net.toml, [[block]] 2, line 2 (its filter is the default): filter")
    assert "block 2:" not in message


def test_allow_large_flag_reaches_a_config():
    with pytest.raises(SpecError, match="--allow-large"):
        parse_config("input = [90, 90]\n")
    assert parse_config("input = [90, 90]\n", allow_large=True).symbolic_cost > 60_000
