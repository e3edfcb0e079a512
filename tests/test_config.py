"""TOML specs: the shipped examples work, and every bad file gets one line naming line and key."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbp.cli import main
from symbp.spec.config import load_config, parse_config
from symbp.spec.model import ConvBlock, NetworkSpec, SpecError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_examples_load():
    assert load_config(EXAMPLES / "teaching.toml") == NetworkSpec()
    assert load_config(EXAMPLES / "mnist.toml") == NetworkSpec((28, 28), (3, 3), 2)
    assert load_config(EXAMPLES / "overlapping-pool.toml") == NetworkSpec((7, 7), (3, 3), 3, 2)
    assert load_config(EXAMPLES / "rgb-strided.toml") == NetworkSpec(
        (10, 10), (3, 3), 3, 2, channels=3, filters=2, stride=2, padding=1,
        activation="leaky_relu", leaky_slope=0.1, pool_type="avg",
    )  # fmt: skip
    mnist = load_config(EXAMPLES / "mnist-cnn.toml")
    assert [g.conv for g in mnist.geometry] == [(2, 28, 28), (4, 12, 12)]
    assert mnist.n_features == 144 and mnist.parameter_count == 241
    two = load_config(EXAMPLES / "two-blocks.toml")
    assert two.blocks == (
        ConvBlock(filters=2, padding=1),
        ConvBlock(filters=2, activation="tanh", pool_type="avg"),
    )


@pytest.mark.parametrize(
    "text, words",
    [
        ('input = "6x6"\nfiltr = "3x3"\n', "line 2, key 'filtr': unknown key"),
        ('input = "6x6"\n\nfilter = "9x9"\n', "line 3, key 'filter': filter 9x9 is larger"),
        ("pool = 2.5\n", "line 1, key 'pool': must be a whole number"),
        ('pool = "2"\n', "key 'pool': must be a whole number"),
        ("input = [6, 6, 6]\n", "line 1, key 'input': must be a size"),
        ("input = true\n", "key 'input': must be a size"),
        ("allow_large = 1\n", "key 'allow_large': must be true or false"),
        ("input = 6x6\n", "not valid TOML"),
        ('input = "7x7"\n', "line 1, key 'input': 2x2 pool windows with stride 2 do not cover"),
        ("pool_stride = 0\n", "line 1, key 'pool_stride'"),
        ("input = [300, 300]\n", "--allow-large"),
    ],
)
def test_bad_files_name_line_and_key(text, words):
    with pytest.raises(SpecError) as info:
        parse_config(text, "net.toml")
    message = str(info.value)
    assert message.startswith("net.toml") and words in message and "\n" not in message


def test_allow_large_in_the_file():
    assert parse_config("input = [70, 70]\nallow_large = true\n").conv_shape == (68, 68)


def test_unreadable_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match=r"binary.toml is not UTF-8 text \(byte 1 "):
        load_config(tmp_path / "binary.toml")
    with pytest.raises(SpecError, match="cannot read config .*: Is a directory"):
        load_config(tmp_path)


def test_cli_config_and_its_conflicts(tmp_path, capsys):
    assert main(["verify", "--config", str(EXAMPLES / "overlapping-pool.toml")]) == 0
    capsys.readouterr()
    code = main(
        [
            "derive",
            "--config",
            str(EXAMPLES / "mnist.toml"),
            "--input",
            "8x8",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "cannot be combined with --input" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('filter = "3x3"\nstrides = 2\n')
    code = main(["derive", "--config", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "line 2, key 'strides': unknown key" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_fuzzed_text_raises_only_spec_error(text):
    try:
        spec = parse_config(text, "fuzz.toml")
    except SpecError as error:
        assert "\n" not in str(error).strip() or "TOML" in str(error)
    else:
        assert spec.parameter_count >= 4


_values = st.one_of(
    st.integers(-5, 40),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.lists(st.integers(-2, 30), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["input", "filter", "pool", "pool_stride", "allow_large", "other"]),
        _values,
        max_size=5,
    )
)
def test_fuzzed_documents_raise_only_spec_error(data):
    lines = []
    for key, value in data.items():
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, str):
            rendered = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif isinstance(value, float):
            rendered = repr(value) if "inf" not in repr(value) else "1.0"
        else:
            rendered = repr(value)
        lines.append(f"{key} = {rendered}")
    with contextlib.suppress(SpecError):
        parse_config("\n".join(lines), "fuzz.toml")
