"""The optional section "Training on handwritten digits", from a training record.

The record is a plain dict, what `symbp.training.training_section_data(result)` returns plus
`"figures": {"curve": NAME, "filters": NAME}` (the figures' file base names). The document does
not import symbp.training: the record is checked here field by field (it may come from a
training.json edited by hand), and a field that is not as a training run writes it is a
ValueError naming it. Numbers are formatted here, with fixed digits, so the same record gives
the same bytes; the templates `latex/training.tex` and `markdown/training.md` word them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .latex_printer import Numeral

DIGIT_SIZE = 8  # scikit-learn's handwritten digits are 8 x 8 pixels
OPTIMIZERS = ("sgd", "momentum", "adam")
FIGURES = ("curve", "filters")
FIGURE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
LARGEST = 10**9


def _whole(value: object, smallest: int, largest: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and smallest <= value <= largest


def _real(value: object, smallest: float = 0.0, largest: float = math.inf) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and smallest <= value <= largest
    )


def _optimizer_problems(settings: Mapping[str, Any]) -> list[str]:
    optimizer = settings["optimizer"]
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        return ["settings.optimizer"]
    bad = [] if _real(settings["lr"]) and settings["lr"] > 0 else ["settings.lr"]
    if optimizer == "momentum" and not _real(settings["momentum"], 0.0, 1.0):
        bad.append("settings.momentum")
    if optimizer == "adam":
        betas = settings["betas"]
        pair = isinstance(betas, list | tuple) and len(betas) == 2
        if not (pair and all(_real(beta, 0.0, 1.0) for beta in betas)):
            bad.append("settings.betas")
        if not _real(settings["epsilon"]) or settings["epsilon"] == 0:
            bad.append("settings.epsilon")
    return bad


def problems(record: Mapping[str, Any]) -> list[str]:
    """The fields of a training record that are not as a training run writes them."""
    settings = record["settings"]
    counts = (record["train_images"], record["test_images"])
    wholes = {
        "steps": (record["steps"], 1, LARGEST),
        "settings.batch": (settings["batch"], 1, LARGEST),
        "settings.seed": (settings["seed"], 0, 2**63 - 1),
        "channels": (record["channels"], 1, 10**6),
        "train_images": (counts[0], 1, LARGEST),
        "test_images": (counts[1], 1, LARGEST),
        "train_positives": (record["train_positives"], 0, counts[0]),
        "positive_digit": (record["positive_digit"], 0, 9),
        "negative_digit": (record["negative_digit"], 0, 9),
    }
    rates = ("train_accuracy", "test_accuracy", "majority_rate", "initial_test_accuracy")
    bad = [name for name, (value, low, high) in wholes.items() if not _whole(value, low, high)]
    bad += [name for name in rates if not _real(record[name], 0.0, 1.0)]
    bad += [name for name in ("train_loss", "test_loss") if not _real(record[name])]
    bad += _optimizer_problems(settings)
    shape = record["input_shape"]
    if not (
        isinstance(shape, list | tuple)
        and len(shape) == 2
        and all(_whole(n, 1, 10**6) for n in shape)
    ):
        bad.append("input_shape")
    figures = record["figures"]
    if not isinstance(figures, Mapping) or not all(
        isinstance(figures.get(key), str) and FIGURE_NAME.fullmatch(figures[key]) for key in FIGURES
    ):
        bad.append("figures (1 to 64 letters, digits, '-' or '_' each)")
    return bad


def checked(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record, or a one-line ValueError naming what is missing or wrong."""
    try:
        bad = problems(record)
    except (KeyError, TypeError, IndexError, AttributeError) as error:
        raise ValueError(
            "not a complete and valid symbp training record "
            f"({type(error).__name__}: {str(error)[:60]})"
        ) from None
    if bad:
        raise ValueError(f"training record: unexpected {', '.join(bad)}")
    return record


def number(value: float) -> Numeral:
    """A setting as math: 0.5, 10^{-8}, 2.5 \\cdot 10^{-5} (shortest form, fixed digits)."""
    text = f"{value:g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        text = power if mantissa == "1" else rf"{mantissa} \cdot {power}"
    return Numeral(text)


def _fit(size: int) -> str:
    """How one axis of the 8 x 8 digits became the network's: crop, keep or resample."""
    if size < DIGIT_SIZE:
        return "crop"
    return "keep" if size == DIGIT_SIZE else "resample"


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    optimizer = settings["optimizer"]
    shown: dict[str, Any] = {
        "optimizer": optimizer,
        "lr": number(float(settings["lr"])),
        "batch": settings["batch"],
        "seed": settings["seed"],
    }
    if optimizer == "momentum":
        shown["momentum"] = number(float(settings["momentum"]))
    if optimizer == "adam":
        shown["betas"] = [number(float(beta)) for beta in settings["betas"]]
        shown["epsilon"] = number(float(settings["epsilon"]))
    return shown


def _percent(rate: float) -> str:
    return f"{100 * rate:.1f}"


def training_section(record: Mapping[str, Any]) -> dict[str, Any]:
    """What the Training section shows: the task, the settings and the results, formatted."""
    r = checked(record)
    rows, cols = r["input_shape"]
    more_positive = 2 * r["train_positives"] >= r["train_images"]
    return {
        "figures": {key: r["figures"][key] for key in FIGURES},
        "digit_size": DIGIT_SIZE,
        "positive": r["positive_digit"],
        "negative": r["negative_digit"],
        "majority_digit": r["positive_digit"] if more_positive else r["negative_digit"],
        "rows": rows,
        "cols": cols,
        "fit": (_fit(rows), _fit(cols)),
        "channels": r["channels"],
        "train_images": r["train_images"],
        "test_images": r["test_images"],
        "steps": f"{r['steps']:,}",
        "settings": _settings(r["settings"]),
        "correct": round(r["test_accuracy"] * r["test_images"]),
        "accuracy": {
            key: _percent(r[f"{key}_accuracy"]) for key in ("train", "test", "initial_test")
        },
        "majority": _percent(r["majority_rate"]),
        "loss": {key: f"{r[f'{key}_loss']:.4f}" for key in ("train", "test")},
    }
