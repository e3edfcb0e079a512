"""What the laws tests share: the issue's example networks, and running a script under
several hash seeds (same input, same bytes)."""

from __future__ import annotations

import os
import subprocess
import sys

from symbp import ConvBlock, NetworkSpec

# The "done when" examples of the laws issue: the default, padding 1 stride 2, two channels and
# filters, two blocks.
LAW_EXAMPLES = {
    "default": NetworkSpec(),
    "padding1-stride2": NetworkSpec((8, 8), padding=1, stride=2),
    "two-channels-two-filters": NetworkSpec((6, 6), channels=2, filters=2),
    "two-blocks": NetworkSpec(
        (12, 12),
        blocks=(ConvBlock(filters=2, padding=1), ConvBlock(activation="tanh", pool_type="avg")),
    ),
}


def stdout_under_hash_seeds(script: str, seeds: tuple[str, ...]) -> list[str]:
    """The script's standard output in a fresh interpreter per PYTHONHASHSEED."""
    outputs = []
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        outputs.append(done.stdout)
    return outputs
