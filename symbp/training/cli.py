"""`symbp train`: the command-line side of training, ready to be registered as a subcommand.

    train = commands.add_parser("train", help="train the network on handwritten digits")
    _add_spec_options(train); _add_report_options(train); add_train_arguments(train)
    ... return run_train(args, _spec(args))

`run_train` reports its own errors in one line on stderr and returns the exit status: 2 for
bad settings, a missing extra or an unusable --out (all found before anything is created), 1
when training diverges or the files cannot be written (the folder is left as it was), 0
otherwise. It honours --quiet and --json when the parser has them, and reports each step
through `symbp.progress` ("training", step, steps, "loss 0.123 acc 0.95"), which the caller's
terminal listener shows. The numeric options are parsed as text by `settings_from_arguments`,
so that `--steps 1e12` or `--lr nan` gets the same one-line message, naming the limits, in any
parser.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from .compat import prepare_output
from .data import MissingExtraError, load_task, require_training_extra
from .loop import TrainingDiverged, TrainingResult, train
from .optim import OPTIMIZERS
from .outputs import timing_record, training_record, write_training
from .settings import DEFAULT_LEARNING_RATES, MAX_STEPS, TrainingSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_OUT = "training"  # beside output/, so that derive's file set there stays its own
TORCH_HINT = "--torch needs PyTorch: pip install torch==2.13.0 (or pip install 'symbp[oracle]')"


def add_train_arguments(parser: argparse.ArgumentParser, report_options: bool = False) -> None:
    """The training settings (--steps, --lr, --batch, --seed, --optimizer, --out, --torch);
    with `report_options`, also --quiet and --json (leave it off if the parser has them).
    The numbers are taken as text and checked by `run_train`, so that a bad value gets the
    same one-line message, naming the limits, whichever parser the options sit in."""
    defaults = TrainingSettings()
    rates = ", ".join(f"{name} {rate:g}" for name, rate in DEFAULT_LEARNING_RATES.items())
    add = parser.add_argument
    add("--steps", metavar="N", help=f"gradient steps, 1 to {MAX_STEPS:,} ({defaults.steps})")
    add("--lr", metavar="ETA", help=f"learning rate, above 0 ({rates})")
    add("--batch", metavar="M", help=f"images per step ({defaults.batch})")
    add("--seed", metavar="S", help=f"initial parameters and batch order ({defaults.seed})")
    add(
        "--optimizer",
        default=defaults.optimizer,
        metavar="NAME",
        help=f"{', '.join(OPTIMIZERS)} (sgd; momentum 0.9; Adam betas 0.9, 0.999)",
    )
    add("--out", default=DEFAULT_OUT, metavar="DIR", help=f"folder for the files ({DEFAULT_OUT})")
    add(
        "--torch",
        action="store_true",
        help="also train with PyTorch from the same start on the same batches; print its time "
        "per step and how far its parameters end from symbp's",
    )
    if report_options:
        add("--quiet", "-q", action="store_true", help="print only errors and the final line")
        add("--json", action="store_true", help="print one JSON document on stdout")


def whole_number(text: object) -> object:
    """'1000' -> 1000; anything else is returned as it came, for validate() to refuse by name
    (a number written as 1e3 or 2.5 is not a count of steps)."""
    if isinstance(text, str) and len(text) <= 40 and re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):
        return int(text)
    return text


def real_number(text: object) -> object:
    """'0.5' -> 0.5 (also 'nan' and 'inf', which validate() refuses); else unchanged."""
    if isinstance(text, str) and len(text) <= 40:
        try:
            return float(text)
        except ValueError:
            return text
    return text


def settings_from_arguments(args: argparse.Namespace) -> TrainingSettings:
    """The TrainingSettings the parsed options ask for (not yet validated: call validate())."""
    given: dict[str, Any] = {
        "steps": whole_number(args.steps),
        "batch": whole_number(args.batch),
        "seed": whole_number(args.seed),
        "lr": real_number(args.lr),
        "optimizer": args.optimizer,
    }
    return TrainingSettings(**{key: value for key, value in given.items() if value is not None})


def _say(text: str, stream: Any = None) -> None:
    """Print a line; a closed pipe is not worth failing a run whose files are written."""
    with contextlib.suppress(BrokenPipeError, ValueError):
        print(text, file=stream or sys.stdout, flush=True)


def _prepared(args: argparse.Namespace, spec: Any) -> tuple[TrainingSettings, Path, Any]:
    """Everything that can be refused before the work starts: settings, extras, --out, data."""
    settings = settings_from_arguments(args)
    settings.validate(batch=False)  # --batch is checked against the data's size below
    require_training_extra()
    if getattr(args, "torch", False):
        try:
            importlib.import_module("torch")
        except ImportError:
            raise MissingExtraError(TORCH_HINT) from None
    data = load_task(spec)
    settings.validate(train_size=len(data.y_train))
    return settings, prepare_output(str(args.out)), data


def _absent(where: str) -> bool:
    """Whether --out is yet to be made; a name too long or odd to look up is not (the folder
    check refuses it in one line, and nothing here may fail before that check)."""
    try:
        return not Path(where).exists()
    except (OSError, ValueError):
        return False


def run_train(args: argparse.Namespace, spec: Any) -> int:
    """Train `spec`'s network as the options say, write the files, print the summary."""
    created = _absent(str(args.out))
    try:
        settings, folder, data = _prepared(args, spec)
    except (ValueError, MissingExtraError, OSError) as error:
        _say(f"symbp: error: {error}", sys.stderr)
        return EXIT_USAGE
    try:
        result = train(spec, settings, data=data)
    except TrainingDiverged as error:
        if created:  # the folder made to prove --out writable goes again, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        _say(f"symbp: error: {error}; nothing was written", sys.stderr)
        return EXIT_FAILED
    if getattr(args, "torch", False):
        from .torch_reference import compare_with_torch

        result.torch = compare_with_torch(result)
    try:
        names = write_training(folder, result)
    except OSError as error:  # the disk, not the settings: the set is written whole or not
        _say(f"symbp: error: cannot write into {folder}: {error}; no file was changed", sys.stderr)
        return EXIT_FAILED
    _report(args, result, folder, names)
    return EXIT_OK


def _report(
    args: argparse.Namespace, result: TrainingResult, folder: Path, names: list[str]
) -> None:
    """The end of a run on stdout: the JSON document, the final line alone, or the summary."""
    written = f"wrote {folder / names[0]}, " + ", ".join(names[1:])
    if getattr(args, "json", False):
        _say(json.dumps(_json_report(result, folder, names), indent=1))
    elif getattr(args, "quiet", False):
        _say(written)
    else:
        _say("\n".join([*summary_lines(result), written]))


def _json_report(result: TrainingResult, folder: Path, names: list[str]) -> dict[str, Any]:
    record = training_record(result)
    return {
        "schema": "symbp-train-report/1",
        "command": "train",
        **{key: record[key] for key in ("symbp", "spec", "data", "settings", "results")},
        "timing": timing_record(result),
        "files": [str(folder / name) for name in names],
        "exit_code": EXIT_OK,
    }


def _microseconds(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def summary_lines(result: TrainingResult) -> list[str]:
    """The end-of-run report: task, settings, losses and accuracies, time per step."""
    settings, data, final = result.settings, result.data, result.final_metrics
    steps = len(result.step_loss)
    update = result.update_seconds_per_step
    lines = [
        f"task: {data.task}",
        f"data: {len(data.y_train)} training and {len(data.y_test)} test images; "
        f"{data.preprocessing}",
        f"training: {steps} steps of {settings.optimizer}, learning rate "
        f"{settings.learning_rate:g}, batch {settings.batch}, seed {settings.seed}",
        "              loss    accuracy",
        f"training set  {final['train_loss']:.4f}  {final['train_accuracy']:6.1%}",
        f"test set      {final['test_loss']:.4f}  {final['test_accuracy']:6.1%}"
        f"   (majority class {data.majority_rate:.1%})",
        f"time per step: {_microseconds(result.seconds_per_step)} (gradients and update "
        f"{_microseconds(update)}, batch loss {_microseconds(result.seconds_per_step - update)}); "
        f"{steps} steps in {result.seconds_per_step * steps:.2f} s"
        + (
            ""
            if result.wall_seconds is None
            else f" ({result.wall_seconds:.2f} s with the "
            f"{len(result.evaluations)} evaluations of both sets)"
        ),
    ]
    if result.torch is not None:
        theirs = result.torch["seconds_per_step"]
        lines.append(
            f"PyTorch float64 (1 thread), same start and batches: {_microseconds(theirs)} per "
            f"step, {theirs / result.seconds_per_step:.2f}x symbp's time; final parameters "
            f"{result.torch['final_relative_difference']:.1e} apart (relative)"
        )
    return lines
