"""The settings of a training run, checked before any work starts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .optim import ADAM_BETAS, ADAM_EPSILON, MOMENTUM, OPTIMIZERS

MAX_STEPS = 1_000_000  # the limit symbp puts on every size and count
# Learning rates that train the default network well (measured; see data.py): momentum
# multiplies the effective step by about 1 / (1 - 0.9) = 10, and Adam's steps are lr-sized.
DEFAULT_LEARNING_RATES = {"sgd": 0.5, "momentum": 0.05, "adam": 0.02}


@dataclass(frozen=True)
class TrainingSettings:
    """steps, learning rate (None: the optimizer's default), batch size, seed, optimizer."""

    steps: int = 1000
    lr: float | None = None
    batch: int = 32
    seed: int = 0
    optimizer: str = "sgd"

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LEARNING_RATES[self.optimizer] if self.lr is None else float(self.lr)

    def validate(self, train_size: int | None = None, *, batch: bool = True) -> None:
        """ValueError in one line naming the setting and the fix; `train_size` bounds --batch.
        With `batch` False, --batch waits for the data: its real range is the training set's
        size, and a message naming 1,000,000 instead would mislead."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {shown(self.optimizer)}"
            )
        if not _whole(self.steps) or not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(
                f"--steps must be a whole number from 1 to {MAX_STEPS:,}, got {shown(self.steps)}; "
                "for example --steps 1000"
            )
        if self.lr is not None and not (_real(self.lr) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(
                f"--lr must be a finite number above 0, got {shown(self.lr)}; for example --lr "
                f"{DEFAULT_LEARNING_RATES[self.optimizer]}"
            )
        if not _whole(self.seed) or not 0 <= self.seed < 2**63:
            raise ValueError(
                f"--seed must be a whole number from 0 to 2**63 - 1, got {shown(self.seed)}; "
                "for example --seed 0"
            )
        if batch:
            self._validate_batch(train_size)

    def _validate_batch(self, train_size: int | None) -> None:
        largest = MAX_STEPS if train_size is None else train_size
        if not _whole(self.batch) or not 1 <= self.batch <= largest:
            within = "" if train_size is None else f" (the training set has {train_size} images)"
            raise ValueError(
                f"--batch must be a whole number from 1 to {largest:,}{within}, got "
                f"{shown(self.batch)}; for example --batch 32"
            )

    def record(self) -> dict[str, Any]:
        """The settings as they go into training.json, the optimizer's constants included."""
        record = asdict(self)
        record["lr"] = self.learning_rate
        if self.optimizer == "momentum":
            record["momentum"] = MOMENTUM
        if self.optimizer == "adam":
            record["betas"], record["epsilon"] = list(ADAM_BETAS), ADAM_EPSILON
        return record


def shown(value: object, limit: int = 60) -> str:
    """A refused value as the error message echoes it: repr, clipped (it may be hostile)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
