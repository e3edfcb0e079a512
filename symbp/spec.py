"""The network architecture as data, and the checks that keep it possible.

A `NetworkSpec` is all the other modules share: the symbolic derivation, the numeric engine,
the generated module and the document are each built from one. Validation lives here so that
every entry point (CLI, Python API) refuses an impossible network with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

# Symbolic work is roughly proportional to (conv outputs x filter size): that many products
# appear in the forward convolution, and again in dW1 and dX. 28x28 with a 3x3 filter is 6 084.
DEFAULT_SYMBOLIC_BUDGET = 60_000


class SpecError(ValueError):
    """An impossible or unreasonable network; the message names the problem and the fix.

    `key` names the setting at fault ('input', 'filter', 'pool', 'pool_stride',
    'allow_large'), so a config file can point at its line.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{what} must be a whole number, got {value!r}")
    if value < 1:
        raise SpecError(f"{what} must be at least 1, got {value}")
    return value


def _keyed(check: Callable[[object, str], int], value: object, what: str, key: str) -> int:
    """Run a value check, tagging its SpecError with the setting's key."""
    try:
        return check(value, what)
    except SpecError as error:
        raise SpecError(str(error), key=key) from None


def parse_size(text: str, what: str) -> tuple[int, int]:
    """Parse 'HxW' (or a single 'N' meaning NxN) into two positive integers."""
    match = re.fullmatch(r"[ \t]*([0-9]+)[ \t]*(?:[xX×][ \t]*([0-9]+)[ \t]*)?", text)
    if match is None:
        raise SpecError(f"{what} must look like HxW (for example 6x6), got {text!r}")
    first = int(match.group(1))
    second = int(match.group(2)) if match.group(2) is not None else first
    return _positive_int(first, what), _positive_int(second, what)


@dataclass(frozen=True)
class NetworkSpec:
    """Conv (valid, stride 1, one bias) -> ReLU -> max-pool -> flatten -> dense -> sigmoid -> BCE.

    The defaults are the teaching network: a 6x6 image, a 3x3 filter, 2x2 max-pool with
    stride 2, giving 15 trainable parameters.
    """

    input_shape: tuple[int, int] = (6, 6)
    filter_shape: tuple[int, int] = (3, 3)
    pool_size: int = 2
    pool_stride: int | None = None  # None: equal to pool_size (non-overlapping windows)
    symbolic_budget: int = field(default=DEFAULT_SYMBOLIC_BUDGET, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    # ----------------------------------------------------------------- derived shapes
    @property
    def stride(self) -> int:
        """The pool stride actually used."""
        return self.pool_size if self.pool_stride is None else self.pool_stride

    @property
    def conv_shape(self) -> tuple[int, int]:
        (h, w), (kh, kw) = self.input_shape, self.filter_shape
        return h - kh + 1, w - kw + 1

    @property
    def pool_shape(self) -> tuple[int, int]:
        ch, cw = self.conv_shape
        return (ch - self.pool_size) // self.stride + 1, (cw - self.pool_size) // self.stride + 1

    @property
    def n_features(self) -> int:
        ph, pw = self.pool_shape
        return ph * pw

    @property
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Trainable parameters in the order of the generated module's contract."""
        return {"W1": tuple(self.filter_shape), "B1": (), "W2": (self.n_features, 1), "B2": ()}

    @property
    def parameter_count(self) -> int:
        count = 0
        for shape in self.parameter_shapes.values():
            size = 1
            for n in shape:
                size *= n
            count += size
        return count

    @property
    def parameter_breakdown(self) -> str:
        """'9 + 1 + 4 + 1' for the default network."""
        sizes = []
        for shape in self.parameter_shapes.values():
            size = 1
            for n in shape:
                size *= n
            sizes.append(str(size))
        return " + ".join(sizes)

    @property
    def symbolic_cost(self) -> int:
        """Products in the convolution: what the derivation's time and memory grow with."""
        ch, cw = self.conv_shape
        kh, kw = self.filter_shape
        return max(ch, 0) * max(cw, 0) * kh * kw

    @property
    def label(self) -> str:
        """A short human name: '6x6 input, 3x3 filter, 2x2 max-pool stride 2'."""
        (h, w), (kh, kw), p = self.input_shape, self.filter_shape, self.pool_size
        return f"{h}x{w} input, {kh}x{kw} filter, {p}x{p} max-pool stride {self.stride}"

    # ----------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise SpecError naming the first problem and how to fix it."""
        if not (isinstance(self.input_shape, tuple) and len(self.input_shape) == 2):
            raise SpecError(f"input_shape must be (H, W), got {self.input_shape!r}")
        if not (isinstance(self.filter_shape, tuple) and len(self.filter_shape) == 2):
            raise SpecError(f"filter_shape must be (kH, kW), got {self.filter_shape!r}")
        h, w = (_keyed(_positive_int, n, "input size", "input") for n in self.input_shape)
        kh, kw = (_keyed(_positive_int, n, "filter size", "filter") for n in self.filter_shape)
        pool = _keyed(_positive_int, self.pool_size, "pool size", "pool")
        stride = _keyed(_positive_int, self.stride, "pool stride", "pool_stride")
        if kh > h or kw > w:
            raise SpecError(
                f"filter {kh}x{kw} is larger than the {h}x{w} input; "
                f"use a filter of at most {h}x{w} or a larger input",
                key="filter",
            )
        ch, cw = h - kh + 1, w - kw + 1
        if pool > ch or pool > cw:
            raise SpecError(
                f"pool {pool}x{pool} is larger than the {ch}x{cw} convolution output; "
                f"use a pool of {min(ch, cw)} or smaller, a smaller filter or a larger input",
                key="pool",
            )
        for extent, axis in ((ch, "rows"), (cw, "columns")):
            if (extent - pool) % stride != 0:
                if self.pool_stride is None:
                    fitting = [p for p in range(1, extent + 1) if (extent - p) % p == 0]
                    advice = f"pool sizes that fit {extent} {axis}: {', '.join(map(str, fitting))}"
                else:
                    fitting = [s for s in range(1, pool + 1) if (extent - pool) % s == 0]
                    advice = f"strides that fit {extent} {axis}: {', '.join(map(str, fitting))}"
                raise SpecError(
                    f"{pool}x{pool} pool windows with stride {stride} do not cover the {ch}x{cw} "
                    f"convolution output exactly ({axis} would be dropped); choose an input and "
                    f"filter whose output size fits the pool ({advice})",
                    key="pool" if self.pool_stride is None else "pool_stride",
                )
        budget = _positive_int(self.symbolic_budget, "symbolic budget")
        cost = ch * cw * kh * kw
        if cost > budget:
            raise SpecError(
                f"this network needs about {cost:,} symbolic products ({ch}x{cw} conv outputs x "
                f"{kh}x{kw} filter), over the budget of {budget:,}; derivation would take about "
                f"{cost / 1500:.0f} s and much memory. Use a smaller input, or pass "
                f"--allow-large (allow_large = true in a config file) to go ahead anyway",
                key="allow_large",
            )


def spec_from_strings(
    input_size: str = "6x6",
    filter_size: str = "3x3",
    pool: str | int = 2,
    pool_stride: str | int | None = None,
    allow_large: bool = False,
) -> NetworkSpec:
    """Build a spec from command-line style strings, with SpecError for anything malformed."""

    def as_int(value: str | int, what: str) -> int:
        if isinstance(value, int):
            return value
        text = value.strip(" \t")
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise SpecError(f"{what} must be a whole number, got {value!r}")
        return int(text)

    return NetworkSpec(
        input_shape=parse_size(input_size, "input size"),
        filter_shape=parse_size(filter_size, "filter size"),
        pool_size=as_int(pool, "pool size"),
        pool_stride=None if pool_stride is None else as_int(pool_stride, "pool stride"),
        symbolic_budget=10**9 if allow_large else DEFAULT_SYMBOLIC_BUDGET,
    )
