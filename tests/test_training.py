"""symbp.training: the digit task, the optimizers, the loop, the files and `run_train`."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from symbp import ConvBlock, NetworkSpec, derive, load, progress
from symbp.document.build import render_document, render_markdown
from symbp.proofs import prove_all
from symbp.training import (
    CHAPTER_FIGURES,
    EXTRA_HINT,
    FILE_NAMES,
    TrainingDiverged,
    TrainingSettings,
    add_train_arguments,
    initial_parameters,
    iter_batches,
    load_task,
    make_optimizer,
    result_from_record,
    run_train,
    train,
    training_figures,
    training_files,
    training_record,
    training_section_data,
    write_training,
)
from symbp.training.data import fit_images

# Skipped only where the train extra is missing and nobody asked for it: CI sets CI=1 (and must
# install the extra, `pip install -e '.[test,oracle,dev,train]'`); there a missing one fails.
if os.environ.get("CI") != "1":
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")

DEFAULT = NetworkSpec(input_shape=(6, 6))
SHORT = TrainingSettings(steps=60)


@pytest.fixture(scope="module")
def module() -> Any:
    return load(derive(DEFAULT))


@pytest.fixture(scope="module")
def data() -> Any:
    return load_task(DEFAULT)


@pytest.fixture(scope="module")
def full_run(module: Any, data: Any) -> tuple[Any, float]:
    """The default training, as `symbp train` runs it, and its wall time."""
    started = time.perf_counter()
    result = train(DEFAULT, TrainingSettings(), data=data, module=module)
    return result, time.perf_counter() - started


@pytest.fixture
def full_record(full_run: tuple) -> dict[str, Any]:
    """The default run's training.json, parsed (a fresh copy for each test to edit)."""
    document: dict[str, Any] = json.loads(json.dumps(training_record(full_run[0]), allow_nan=False))
    return document


# ------------------------------------------------------------------ the task
def test_the_task_is_3_against_8_split_stratified(data: Any) -> None:
    assert (len(data.y_train), len(data.y_test)) == (267, 90)  # 183 threes, 174 eights
    assert (data.y_train.sum(), data.y_test.sum()) == (137, 46)
    assert data.majority_rate == pytest.approx(46 / 90)
    assert data.x_train.shape[1:] == (6, 6)
    assert data.x_train.min() >= -1 and data.x_train.max() <= 1
    again = load_task(DEFAULT)
    assert np.array_equal(again.x_train, data.x_train) and np.array_equal(again.y_test, data.y_test)


def test_center_crop_8_to_6_keeps_the_pixels() -> None:
    images = np.arange(2 * 64, dtype=float).reshape(2, 8, 8) % 17
    assert np.array_equal(fit_images(images, (6, 6)), images[:, 1:7, 1:7] / 8 - 1)
    assert np.array_equal(fit_images(images, (8, 8)), images / 8 - 1)
    assert np.array_equal(fit_images(images, (7, 5)), images[:, 0:7, 1:6] / 8 - 1)


def test_larger_inputs_are_resampled_linearly() -> None:
    ramp = np.tile(np.arange(8.0), (1, 8, 1)) * 2  # columns 0, 2, ..., 14
    wide = fit_images(ramp, (8, 16))
    assert wide.shape == (1, 8, 16)
    assert np.all(np.diff(wide[0, 0]) >= 0)  # linear interpolation keeps a ramp monotone
    assert wide[0, 0, 0] == ramp[0, 0, 0] / 8 - 1 and wide[0, 0, -1] == ramp[0, 0, -1] / 8 - 1
    constant = fit_images(np.full((1, 8, 8), 16.0), (28, 28))
    assert np.allclose(constant, 1.0)


def test_several_channels_repeat_the_grey_image() -> None:
    spec = NetworkSpec(input_shape=(6, 6), channels=3)
    data = load_task(spec)
    assert data.x_train.shape[1:] == (3, 6, 6)
    assert np.array_equal(data.x_train[:, 0], data.x_train[:, 2])


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (TrainingSettings(steps=0), "--steps"),
        (TrainingSettings(steps=-3), "--steps"),
        (TrainingSettings(steps=True), "--steps"),  # type: ignore[arg-type]
        (TrainingSettings(lr=0.0), "--lr"),
        (TrainingSettings(lr=-0.1), "--lr"),
        (TrainingSettings(lr=math.nan), "--lr"),
        (TrainingSettings(lr=math.inf), "--lr"),
        (TrainingSettings(batch=0), "--batch"),
        (TrainingSettings(optimizer="rmsprop"), "--optimizer"),
        (TrainingSettings(seed=-1), "--seed"),
    ],
)
def test_bad_settings_are_refused_in_one_line(settings: TrainingSettings, named: str) -> None:
    with pytest.raises(ValueError) as caught:
        settings.validate()
    message = str(caught.value)
    assert message.startswith(named) and "\n" not in message
    assert "for example" in message or "one of" in message


def test_a_batch_larger_than_the_training_set_is_refused(data: Any, module: Any) -> None:
    with pytest.raises(ValueError, match=r"--batch .* 267 images.*for example --batch 32"):
        train(DEFAULT, TrainingSettings(batch=268), data=data, module=module)
    train(DEFAULT, TrainingSettings(batch=267, steps=2), data=data, module=module)


def test_each_optimizer_has_its_default_learning_rate() -> None:
    rates = {name: TrainingSettings(optimizer=name).learning_rate for name in ("sgd", "adam")}
    assert rates == {"sgd": 0.5, "adam": 0.02}
    assert TrainingSettings(lr=0.1, optimizer="adam").record()["lr"] == 0.1


# ------------------------------------------------------------------ pieces of the loop
def test_batches_cover_each_epoch_once_and_follow_the_seed() -> None:
    batches = list(iter_batches(10, 3, 7, seed=1))
    assert all(len(b) == 3 for b in batches)
    for epoch in (batches[0:3], batches[3:6]):  # 3 batches per epoch, 1 image left out
        seen = np.concatenate(epoch)
        assert len(set(seen.tolist())) == 9
    same = list(iter_batches(10, 3, 7, seed=1))
    other = list(iter_batches(10, 3, 7, seed=2))
    assert all(np.array_equal(a, b) for a, b in zip(batches, same, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other, strict=True))


def test_initial_parameters_are_pytorch_sized_and_seeded() -> None:
    params = initial_parameters(DEFAULT, 0)
    assert {k: v.shape for k, v in params.items()} == DEFAULT.parameter_shapes
    assert np.all(np.abs(params["W1"]) <= 1 / 3) and np.all(np.abs(params["W2"]) <= 1 / 2)
    again, other = initial_parameters(DEFAULT, 0), initial_parameters(DEFAULT, 1)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    assert not np.array_equal(params["W1"], other["W1"])


def test_optimizers_descend_a_quadratic_without_touching_their_inputs() -> None:
    for name, lr in (("sgd", 0.1), ("momentum", 0.05), ("adam", 0.1)):
        optimizer = make_optimizer(name, lr)
        params = {"w": np.array([3.0, -2.0])}
        start = params["w"].copy()
        for _ in range(300):
            new = optimizer.update(params, {"w": 2 * params["w"]})
            assert np.array_equal(params["w"], start) or params is not new
            params = new
        assert np.linalg.norm(params["w"]) < 0.05, name


def test_first_steps_of_momentum_and_adam() -> None:
    grads = {"w": np.array([0.5, -4.0])}
    params = {"w": np.zeros(2)}
    assert np.array_equal(make_optimizer("momentum", 0.1).update(params, grads)["w"], [-0.05, 0.4])
    adam = make_optimizer("adam", 0.01).update(params, grads)["w"]
    assert np.allclose(adam, [-0.01, 0.01], rtol=1e-6)  # Adam's first step: lr * sign(g)


def test_a_diverging_run_says_which_step_and_what_to_do(data: Any, module: Any) -> None:
    def huge(X: Any, Y: Any, params: Any) -> dict:
        return {k: np.full(np.shape(v), 1e308) for k, v in params.items()}

    with pytest.raises(TrainingDiverged, match=r"at step 1: .*lower --lr \(now 10\)"):
        train(DEFAULT, TrainingSettings(lr=10.0), data=data, module=module, gradients=huge)
    with pytest.raises(TrainingDiverged, match=r"the loss is no longer a finite number"):
        train(DEFAULT, TrainingSettings(lr=1e6, steps=200), data=data, module=module)


# ------------------------------------------------------------------ the run
def test_default_training_learns_well_above_the_majority_rate(full_run: tuple) -> None:
    result, seconds = full_run
    final = result.final_metrics
    assert final["test_accuracy"] >= 0.9
    assert final["test_accuracy"] >= result.data.majority_rate + 0.3
    assert final["train_loss"] < result.evaluations[0]["train_loss"] / 5
    assert len(result.step_loss) == 1000 and len(result.evaluations) == 101
    assert seconds < 60


def test_progress_reports_every_step(module: Any, data: Any) -> None:
    reports: list[tuple[str, int, int, str]] = []
    with progress.listening(lambda *report: reports.append(report)):
        train(DEFAULT, SHORT, data=data, module=module)
    training = [r for r in reports if r[0] == "training"]
    assert [r[1] for r in training] == list(range(1, 61))
    assert all(r[2] == 60 for r in training)
    assert all(re.fullmatch(r"loss \d+\.\d{3} acc \d\.\d{2}", r[3]) for r in training)


def test_same_seed_same_bytes_other_seed_other_record(module: Any, data: Any) -> None:
    first = training_files(train(DEFAULT, SHORT, data=data, module=module))
    second = training_files(train(DEFAULT, SHORT, data=data, module=module))
    assert set(first) == set(FILE_NAMES)
    for name in FILE_NAMES:
        if name != "timing.json":  # the one file a clock writes
            assert first[name] == second[name], name
    other = training_files(
        train(DEFAULT, TrainingSettings(steps=60, seed=1), data=data, module=module)
    )
    assert other["training.json"] != first["training.json"]


def test_pictures_ignore_the_users_matplotlib_settings(module: Any, data: Any) -> None:
    import matplotlib

    result = train(DEFAULT, SHORT, data=data, module=module)
    before = training_files(result)
    with matplotlib.rc_context({"lines.linewidth": 5.0, "font.size": 20}):
        during = training_files(result)
    assert all(before[name] == during[name] for name in before if name.endswith((".pdf", ".png")))
    assert (
        before["training.pdf"].startswith(b"%PDF") and b"CreationDate" not in before["filters.pdf"]
    )
    assert (
        before["training.png"].startswith(b"\x89PNG") and b"Software" not in before["filters.png"]
    )


def test_the_record_holds_the_run_and_no_timings(full_run: tuple) -> None:
    result, _ = full_run
    files = training_files(result)
    record = json.loads(files["training.json"])
    assert record["schema"] == "symbp-training/1"
    assert record["settings"] == {
        "steps": 1000,
        "lr": 0.5,
        "batch": 32,
        "seed": 0,
        "optimizer": "sgd",
    }
    assert len(record["step_loss"]) == 1000
    assert set(record["final_parameters"]) == {"W1", "B1", "W2", "B2"}
    assert np.array_equal(np.array(record["final_parameters"]["W1"]), result.final["W1"])
    assert record["results"]["majority_rate"] == pytest.approx(46 / 90)
    assert "seconds" not in json.dumps(record)
    timing = json.loads(files["timing.json"])
    assert 0 < timing["gradient_and_update_seconds_per_step"] < timing["seconds_per_step"]


def test_section_data_from_a_result_or_its_json(full_run: tuple, full_record: dict) -> None:
    result, _ = full_run
    section = training_section_data(result)
    from_file = training_section_data(full_record)
    assert section == from_file
    assert section["curve"] == {"pdf": "training.pdf", "png": "training.png"}
    assert section["filters"] == {"pdf": "filters.pdf", "png": "filters.png"}
    assert section["test_accuracy"] == result.final_metrics["test_accuracy"]
    assert "digit 3" in section["task"] and "%" in section["summary"]


def test_write_training_leaves_the_set_and_no_temporaries(
    tmp_path: Path, module: Any, data: Any
) -> None:
    result = train(DEFAULT, SHORT, data=data, module=module)
    names = write_training(tmp_path / "run", result)
    assert sorted(names) == sorted(FILE_NAMES)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(FILE_NAMES)


def test_other_architectures_train_and_draw() -> None:
    spec = NetworkSpec(
        input_shape=(10, 10),
        channels=2,
        blocks=(ConvBlock(filters=2, stride=2, padding=1, activation="tanh", pool_type="none"),),
    )
    result = train(spec, TrainingSettings(steps=30, lr=0.2))
    files = training_files(result)
    assert result.data.x_train.shape[1:] == (2, 10, 10)
    assert files["filters.png"].startswith(b"\x89PNG")


# ------------------------------------------------------------------ run_train
def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser, report_options=True)
    return parser.parse_args(list(argv))


def test_run_train_writes_files_and_prints_the_summary(tmp_path: Path, capsys: Any) -> None:
    code = run_train(parsed("--steps", "200", "--out", str(tmp_path)), DEFAULT)
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "test set" in out and "majority class 51.1%" in out and "time per step:" in out
    assert out.splitlines()[-1].startswith(f"wrote {tmp_path / 'training.json'}, timing.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILE_NAMES)


def test_run_train_quiet_and_json(tmp_path: Path, capsys: Any) -> None:
    assert run_train(parsed("--steps", "20", "--out", str(tmp_path), "-q"), DEFAULT) == 0
    assert capsys.readouterr().out.count("\n") == 1
    assert run_train(parsed("--steps", "20", "--out", str(tmp_path), "--json"), DEFAULT) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["command"] == "train" and report["results"]["steps"] == 20


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--steps", "0"], "--steps"),
        (["--steps", "-5"], "--steps"),
        (["--steps", "1e12"], "--steps"),
        (["--steps", "1000000000000"], "--steps"),
        (["--steps", "9" * 5000], "--steps"),
        (["--steps", "2.5"], "--steps"),
        (["--steps", "ten"], "--steps"),
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--lr=-inf"], "--lr"),  # argparse takes a bare -inf for an option
        (["--lr", "-1"], "--lr"),
        (["--lr", "0"], "--lr"),
        (["--lr", "fast"], "--lr"),
        (["--batch", "0"], "--batch"),
        (["--batch", "268"], "--batch"),
        (["--batch", "1000"], "--batch"),
        (["--batch", "1e12"], "--batch"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**64)], "--seed"),
        (["--optimizer", "lbfgs"], "--optimizer"),
        (["--optimizer", "x" * 10_000], "--optimizer"),
    ],
)
def test_run_train_refuses_bad_settings_with_exit_2(
    tmp_path: Path, capsys: Any, argv: list[str], named: str
) -> None:
    assert run_train(parsed(*argv, "--out", str(tmp_path / "x")), DEFAULT) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"symbp: error: {named}")
    assert len(err) < 250 and ("for example" in err or "one of" in err)
    assert not (tmp_path / "x").exists()  # refused before anything was made


@pytest.mark.parametrize("where", ["taken", "taken/inside", ""])
def test_run_train_refuses_an_out_that_is_a_file(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("keep me")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run_train(parsed("--steps", "5", "--out", where), DEFAULT) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("symbp: error: ")
    assert "--out" in err or "taken" in err
    assert (tmp_path / "taken").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written


def test_a_diverging_command_exits_1_and_leaves_the_folder_as_it_was(
    tmp_path: Path, capsys: Any
) -> None:
    argv = ("--lr", "1000", "--steps", "300")
    assert run_train(parsed(*argv, "--out", str(tmp_path / "new")), DEFAULT) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert re.match(r"symbp: error: training diverged at step \d+: .*lower --lr", err)
    assert not (tmp_path / "new").exists()  # made to prove it writable, removed again
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "training.json").write_text("the previous run")
    assert run_train(parsed(*argv, "--out", str(tmp_path / "old")), DEFAULT) == 1
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["training.json"]
    assert (tmp_path / "old" / "training.json").read_text() == "the previous run"


@pytest.mark.parametrize("module_name", ["sklearn", "matplotlib"])
def test_without_the_extra_run_train_names_it(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, module_name: str
) -> None:
    """A missing package is simulated the way Python sees one: its import raises ImportError."""
    for name in list(sys.modules):
        if name == module_name or name.startswith(module_name + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module_name, None)  # `import sklearn` -> ImportError
    assert run_train(parsed("--out", str(tmp_path / "out")), DEFAULT) == 2
    assert capsys.readouterr() == ("", f"symbp: error: {EXTRA_HINT}\n")
    assert EXTRA_HINT == "symbp train needs scikit-learn and matplotlib: pip install 'symbp[train]'"
    assert not (tmp_path / "out").exists()


def test_without_torch_the_torch_comparison_says_what_to_install(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    assert run_train(parsed("--torch", "--out", str(tmp_path / "out")), DEFAULT) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install torch" in err
    assert not (tmp_path / "out").exists()


def test_same_seed_same_files_through_the_command(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        argv = ("--steps", "100", "--seed", "7", "--out", str(tmp_path / folder), "-q")
        assert run_train(parsed(*argv), DEFAULT) == 0
    for name in FILE_NAMES:
        if name != "timing.json":
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_the_record_of_a_run_matches_training_record(tmp_path: Path) -> None:
    assert run_train(parsed("--steps", "30", "--out", str(tmp_path), "-q"), DEFAULT) == 0
    written = json.loads((tmp_path / "training.json").read_text())
    again = train(DEFAULT, TrainingSettings(steps=30))
    assert written == json.loads(json.dumps(training_record(again)))


# ------------------------------------------------------------------ the chapter's section
# The section is the document's (symbp.document: section_training.py, templates/*/training.*),
# rendered from the record `training_section_data` gives plus the figures' base names.
@pytest.fixture(scope="module")
def documented() -> tuple[Any, list[Any]]:
    d = derive(DEFAULT)
    return d, prove_all(d)


@pytest.fixture(scope="module")
def short_run(module: Any, data: Any) -> Any:
    return train(DEFAULT, TrainingSettings(steps=50), data=data, module=module)


def chapter_record(result_or_record: Any) -> dict[str, Any]:
    """What `symbp derive --train` gives the document: the section data and the figures."""
    return {**training_section_data(result_or_record), "figures": dict(CHAPTER_FIGURES)}


def training_part(text: str, fmt: str) -> str:
    """The Training section of a rendered document (up to the exercises that follow it)."""
    if fmt == "latex":
        start = text.index(r"\section{Training on handwritten digits}")
        return text[start : text.index(r"\section{Exercises}")]
    start = text.index("## 9 Training on handwritten digits")
    return text[start : text.index("## 10 Exercises")]


def test_the_section_is_there_only_with_a_record(documented: tuple, short_run: Any) -> None:
    d, proofs = documented
    for render in (render_document, render_markdown):
        plain = render(d, proofs)
        assert "Training on handwritten digits" not in plain and "training-curve" not in plain
        with_it = render(d, proofs, training=chapter_record(short_run))
        assert with_it != plain and "Training on handwritten digits" in with_it
    latex = render_document(d, proofs, training=chapter_record(short_run))
    order = [r"\section{A worked example", r"\section{Training on", r"\section{What the der"]
    assert [latex.index(s) for s in order] == sorted(latex.index(s) for s in order)
    assert r"\usepackage{graphicx}" in latex and r"\label{sec:training}" in latex
    markdown = render_markdown(d, proofs, training=chapter_record(short_run))
    assert "8 A worked example with numbers · 9 Training on handwritten digits · 10 Exercises" in (
        " ".join(markdown.split())
    )


def test_section_in_both_formats_from_a_result_or_its_record(
    documented: tuple, short_run: Any
) -> None:
    d, proofs = documented
    result = short_run
    record = json.loads(json.dumps(training_record(result), allow_nan=False))  # training.json
    accuracy = result.final_metrics["test_accuracy"]
    majority = result.data.majority_rate
    for fmt, render in (("latex", render_document), ("markdown", render_markdown)):
        text = render(d, proofs, training=chapter_record(result))
        assert text == render(d, proofs, training=chapter_record(record))  # the same bytes
        part = " ".join(training_part(text, fmt).split())
        percent = r"\,\%" if fmt == "latex" else " %"
        assert f"classifies {round(accuracy * 90)} of the 90 test images correctly" in part
        assert f"({100 * accuracy:.1f}{percent})" in part
        assert f"would score {100 * majority:.1f}{percent} on the test set" in part
        assert "takes 50 steps of" in part
        assert re.search(r"\$`?W_1`?\$", part) and r"Z_1 = X \star W_1 + B_1" in part
        assert not re.search(r"dL/d|W1|Z1|B1|->", part)  # no ASCII math in the prose
    latex = training_part(render_document(d, proofs, training=chapter_record(result)), "latex")
    assert r"keepaspectratio]{training-curve}" in latex and "{training-filters}" in latex
    assert "\\label{fig:training-curve}" in latex and "\\label{fig:training-filters}" in latex
    markdown = render_markdown(d, proofs, training=chapter_record(result))
    part = training_part(markdown, "markdown")
    assert "![loss and accuracy](training-curve.png)" in part and "```math" in part
    assert "![the learned filter](training-filters.png)" in part


RESAMPLED = NetworkSpec(  # larger than the digits, three channels, three filters
    input_shape=(10, 9),
    channels=3,
    blocks=(ConvBlock(filters=3, stride=2, padding=1, activation="tanh", pool_type="none"),),
)


@pytest.mark.parametrize(
    ("spec", "optimizer"),
    [(DEFAULT, "sgd"), (DEFAULT, "momentum"), (DEFAULT, "adam"), (RESAMPLED, "sgd")],
    ids=["sgd", "momentum", "adam", "resampled"],
)
def test_the_document_with_the_section_compiles_and_prints_the_record(
    tmp_path: Path,
    module: Any,
    data: Any,
    documented: tuple,
    spec: NetworkSpec,
    optimizer: str,
) -> None:
    """The whole document with the figures beside it: no error, no overfull line, references
    resolved, and the test accuracy and majority-class rate on the page are the record's."""
    from latex_tools import require_tex_tools

    from symbp.document.pdf import compile_pdf

    require_tex_tools()
    settings = TrainingSettings(steps=50, optimizer=optimizer)
    if spec == DEFAULT:
        result, (d, proofs) = train(spec, settings, data=data, module=module), documented
    else:
        d = derive(spec)
        result, proofs = train(spec, settings), prove_all(d)
    figures = training_figures(result, "latex")
    assert sorted(figures) == ["training-curve.pdf", "training-filters.pdf"]
    record = chapter_record(result)
    compiled = compile_pdf(render_document(d, proofs, training=record), "chapter", files=figures)
    assert compiled is not None
    pdf, report = compiled
    assert report.overfull_boxes == 0 and not report.undefined_references
    (tmp_path / "chapter.pdf").write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", str(tmp_path / "chapter.pdf"), "-"], capture_output=True, text=True
    )
    words = " ".join(done.stdout.split())
    part = words[words.index("Training on handwritten digits The gradients") :]
    part = part[: part.index("What the derivation proves")]
    shown_accuracy = f"{100 * record['test_accuracy']:.1f} %"
    assert f"correctly ({shown_accuracy});" in part
    assert f"would score {100 * record['majority_rate']:.1f} % on the test set" in part
    for loss in ("train_loss", "test_loss"):  # the table (pdftotext reads it by columns)
        assert f"{record[loss]:.4f}" in part
    assert "Figure 4 shows the loss" in part or "Figure 5 shows the loss" in part
    assert part.count("Figure") >= 4  # two references, two captions: both figures included


def test_section_figures_are_deterministic_and_drawn_again_from_the_record(
    full_run: tuple, full_record: dict
) -> None:
    result, record = full_run[0], full_record
    for fmt, magic, extension in (("latex", b"%PDF", "pdf"), ("markdown", b"\x89PNG", "png")):
        first = training_figures(result, fmt)
        names = [f"{CHAPTER_FIGURES[key]}.{extension}" for key in ("curve", "filters")]
        assert sorted(first) == sorted(names)
        assert all(content.startswith(magic) for content in first.values())
        assert first == training_figures(result, fmt)
        assert first == training_figures(record, fmt, spec=DEFAULT)
    with pytest.raises(ValueError, match="needs its spec"):
        training_figures(record, "latex")
    with pytest.raises(ValueError, match="format"):
        training_figures(result, "html")
    other = NetworkSpec(input_shape=(8, 8))
    with pytest.raises(ValueError, match="another network"):
        result_from_record(record, other)


def test_record_round_trip_keeps_the_parameters(full_run: tuple, full_record: dict) -> None:
    result, _ = full_run
    record = full_record
    again = result_from_record(record, DEFAULT, data=result.data)
    assert all(np.array_equal(again.final[k], result.final[k]) for k in result.final)
    assert again.evaluations == result.evaluations and again.step_loss == result.step_loss


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("settings", "optimizer"), "sgd}\\input{secret}", "settings.optimizer"),
        (("settings", "lr"), "0.5", "settings.lr"),
        (("settings", "lr"), math.inf, "settings.lr"),
        (("test_accuracy",), 1.5, "test_accuracy"),
        (("steps",), True, "steps"),
        (("input_shape",), "6x6", "input_shape"),
        (("test_images",), -1, "test_images"),
        (("majority_rate",), math.nan, "majority_rate"),
    ],
)
def test_a_record_edited_by_hand_is_refused_by_name(
    documented: tuple, short_run: Any, path: tuple[str, ...], value: Any, named: str
) -> None:
    d, proofs = documented
    record = json.loads(json.dumps(chapter_record(short_run)))
    place = record
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = value
    for render in (render_document, render_markdown):
        with pytest.raises(ValueError, match="training record: unexpected") as caught:
            render(d, proofs, training=record)
        assert named in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="not a complete and valid symbp training record"):
        render_markdown(d, proofs, training={"figures": dict(CHAPTER_FIGURES)})


@pytest.mark.parametrize("name", ["", "a b", "../up", "x.y", "a}b", "-lead", "x" * 65, "é", 7])
def test_figure_names_must_be_plain(documented: tuple, short_run: Any, name: Any) -> None:
    d, proofs = documented
    record = {**chapter_record(short_run), "figures": {"curve": name, "filters": "ok"}}
    with pytest.raises(ValueError, match="figures"):
        render_document(d, proofs, training=record)


def test_the_records_free_text_never_reaches_the_page(documented: tuple, short_run: Any) -> None:
    """The record's strings (task, preprocessing, summary, ...) are not printed: the section
    words its facts itself, so hostile text in a hand-edited training.json cannot reach TeX."""
    d, proofs = documented
    hostile = "\\input{/etc/passwd} $x$ 50% a_b #1 & ~ ^ <b>\nnext"
    record = chapter_record(short_run)
    edited = {**record, "task": hostile, "preprocessing": hostile, "summary": hostile}
    edited |= {"split": hostile, "initialization": hostile, "curve": {"pdf": hostile}}
    for render in (render_document, render_markdown):
        assert render(d, proofs, training=edited) == render(d, proofs, training=record)
