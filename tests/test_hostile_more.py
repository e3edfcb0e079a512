"""More bad input, each refused in one line that names the problem and the fix: a learning rate
that blows the loss up while it stays finite, --batch outside the training set, --out names no
folder can have (too long, a control character, under a file) and a --config that is not there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import symbp
from symbp.cli import main
from symbp.spec.model import NetworkSpec
from symbp.support.files import OutputError, prepare_directory

DEFAULT = NetworkSpec(input_shape=(6, 6))
TIMEOUT = 120  # seconds; each command here answers in a few


def needs_training_extra() -> None:
    if os.environ.get("CI") != "1":
        pytest.importorskip("sklearn")
        pytest.importorskip("matplotlib")


def one_line(err: str, *words: str) -> str:
    """The one error line, checked: a single short line naming each of `words`."""
    assert err.count("\n") == 1 and err.startswith("symbp: error: "), err
    assert len(err) < 300, f"{len(err)} characters: {err[:200]}"
    for word in words:
        assert word in err, err
    return err


def never(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the work started before --out was checked")


# ------------------------------------------------------------------ 1. a loss that blows up
def test_a_loss_blown_up_but_finite_is_divergence_exit_1_without_a_plot_warning(
    tmp_path: Path,
) -> None:
    """--lr 1000 for 50 steps ends near 4e289, still finite: once it exited 0 with that
    written down, and matplotlib warned about the collapsed axes."""
    needs_training_extra()
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "symbp", "train", "--lr", "1000", "--steps", "50", "--out", out],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(symbp.__file__).parents[1])},  # this symbp
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    one_line(result.stderr, "training diverged at step", "lower --lr (now 1000)")
    assert "Warning" not in result.stderr and "nothing was written" in result.stderr
    assert not out.exists()


def test_train_raises_when_the_loss_grows_a_millionfold() -> None:
    """--lr 100 never overflows (its last loss is 8.5), but a batch loss reaches 1e67."""
    needs_training_extra()
    from symbp.training import TrainingDiverged, TrainingSettings, train

    with pytest.raises(TrainingDiverged, match=r"at step \d+: the loss grew from 0\.\d+ to "):
        train(DEFAULT, TrainingSettings(lr=100.0, steps=200))


def test_a_good_run_is_not_taken_for_divergence(tmp_path: Path, capsys: Any) -> None:
    needs_training_extra()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a matplotlib warning would fail the run
        code = main(["train", "--steps", "50", "--quiet", "--out", str(tmp_path / "ok")])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "") and out.startswith("wrote ")


# ------------------------------------------------------------------ 2. --batch's real range
@pytest.mark.parametrize("batch", ["0", "268", "1e12", "many"])
def test_batch_out_of_range_names_the_training_set_size(
    tmp_path: Path, capsys: Any, batch: str
) -> None:
    needs_training_extra()
    assert main(["train", "--batch", batch, "--out", str(tmp_path / "x")]) == 2
    err = one_line(capsys.readouterr().err, "--batch", "from 1 to 267", "for example --batch 32")
    assert "1,000,000" not in err and "1000000" not in err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ 3. names too long
@pytest.mark.parametrize("command", ["train", "derive"])
@pytest.mark.parametrize("name", ["a" * 300, "b" * 300 + "/inside", "c/" + "d" * 256])
def test_a_name_longer_than_name_max_is_refused_up_front(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, command: str, name: str
) -> None:
    import symbp.symbolic.derivation
    import symbp.training.cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(symbp.symbolic.derivation, "derive", never)
    monkeypatch.setattr(symbp.training.cli, "train", never)
    extra = ["--format", "md"] if command == "derive" else []
    assert main([command, "--out", name, *extra]) == 2
    one_line(capsys.readouterr().err, "longer than the 255 bytes", "choose a shorter --out")
    assert list(tmp_path.iterdir()) == []


def test_a_path_longer_than_path_max_is_refused_up_front(tmp_path: Path, capsys: Any) -> None:
    deep = "/".join(["e" * 200] * 21)  # every name fits; the whole path does not
    assert main(["derive", "--out", str(tmp_path / deep), "--format", "md"]) == 2
    one_line(capsys.readouterr().err, "is a path of", "choose a shorter --out")
    assert list(tmp_path.iterdir()) == []


def test_prepare_directory_counts_bytes_not_characters(tmp_path: Path) -> None:
    """NAME_MAX is in bytes: 128 two-byte characters are 256 of them."""
    with pytest.raises(OutputError, match="longer than the 255 bytes"):
        prepare_directory(tmp_path / ("é" * 128))
    assert prepare_directory(tmp_path / ("é" * 127)).is_dir()


# ------------------------------------------------------------------ 4. control characters
@pytest.mark.parametrize("command", ["train", "derive"])
@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x1b", "\x7f"])
def test_a_control_character_in_out_is_refused(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, command: str, bad: str
) -> None:
    import symbp.symbolic.derivation
    import symbp.training.cli

    monkeypatch.setattr(symbp.symbolic.derivation, "derive", never)
    monkeypatch.setattr(symbp.training.cli, "train", never)
    extra = ["--format", "md"] if command == "derive" else []
    assert main([command, "--out", str(tmp_path / f"a{bad}b"), *extra]) == 2
    one_line(capsys.readouterr().err, "control character", f"U+{ord(bad):04X}", "choose")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ 5. errors that name the fix
@pytest.mark.parametrize("command", ["train", "derive"])
@pytest.mark.parametrize("under", ["afile/sub", "afile/sub/deeper"])
def test_an_out_under_a_file_says_choose_a_folder(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, command: str, under: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("keep me")
    extra = ["--format", "md"] if command == "derive" else []
    assert main([command, "--out", under, *extra]) == 2
    one_line(capsys.readouterr().err, "afile, which is a file", "choose a folder")
    assert (tmp_path / "afile").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


@pytest.mark.parametrize("command", ["train", "derive", "verify"])
def test_a_missing_config_says_check_the_path(tmp_path: Path, capsys: Any, command: str) -> None:
    missing = tmp_path / "nope.toml"
    extra = ["--out", str(tmp_path / "out")] if command != "verify" else []
    assert main([command, "--config", str(missing), *extra]) == 2
    one_line(capsys.readouterr().err, "cannot read config", "no such file", "check the path")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_as_config_says_name_a_file(tmp_path: Path, capsys: Any) -> None:
    assert main(["verify", "--config", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, "is a folder", "name a TOML file")


def test_derive_train_reports_divergence_in_one_line(monkeypatch, tmp_path, capsys):
    """derive --train trains with train's defaults; should a network diverge there, the run
    ends with one line and exit 1, writes nothing and leaves no new folder."""
    import symbp.training
    from symbp.training import TrainingDiverged

    def diverges(*args, **kwargs):
        raise TrainingDiverged("training diverged at step 3: the loss grew past 1e6; lower --lr")

    monkeypatch.setattr(symbp.training, "train", diverges)
    out = tmp_path / "new"
    assert main(["derive", "--train", "--format", "md", "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "diverged" in err and "nothing was written" in err
    assert not out.exists()
