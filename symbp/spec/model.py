"""The network architecture as data, and the checks that keep it possible.

A `NetworkSpec` is all the other modules share: the symbolic derivation, the numeric engine,
the generated module and the document are each built from one. Validation lives here so that
every entry point (CLI, TOML file, Python API) refuses an impossible network with the same words.

A network is the input, one or more `ConvBlock`s (conv -> activation -> pool) and a dense
sigmoid unit with binary cross-entropy. A one-block network can be given with the flat fields
(`NetworkSpec(input_shape=(8, 8), filters=2, stride=2)`); several blocks with
`NetworkSpec(input_shape=..., blocks=(ConvBlock(...), ConvBlock(...)))`. Either way `blocks`
holds them all afterwards, and the flat fields describe the first.

Tensors are (channels, rows, cols). A quantity with one channel drops that axis, so the
teaching network keeps its 6x6 matrices and its names (x_i_j, w1_p_q) and gains no axes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from symbp.support.text import clipped, shown

from .kinds import ACTIVATIONS, POOL_KINDS

# Symbolic work is roughly proportional to (conv outputs x weights per output): that many
# products appear in the forward convolution, and again in dW and dX. 28x28 with a 3x3 filter
# is 6 084.
DEFAULT_SYMBOLIC_BUDGET = 60_000

POOL_TYPES = (*POOL_KINDS, "none")
DEFAULT_LEAKY_SLOPE = 0.01

# The largest value any size or count may take. Far past what the symbolic budget admits, it
# keeps every check arithmetic on ordinary numbers (and PyTorch's int64 strides in range).
MAX_SETTING = 1_000_000

ACTIVATION_NAMES = {
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "identity": "no activation",
}


class SpecError(ValueError):
    """An impossible or unreasonable network; the message names the problem and the fix.

    `key` names the setting at fault ('input', 'filter', 'pool', 'padding', ...) and `block`
    the conv block it belongs to (0-based; None for network-wide settings), so a config file
    can point at its line.
    """

    def __init__(self, message: str, key: str | None = None, block: int | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.block = block


def _whole(value: object, what: str, smallest: int, bound: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{what} must be a whole number, got {shown(value)}")
    if value < smallest:
        raise SpecError(f"{what} must be {bound}, got {shown(value)}")
    if value > MAX_SETTING:
        raise SpecError(f"{what} must be at most {MAX_SETTING:,}, got {shown(value)}")
    return value


def divisors(n: int) -> list[int]:
    """The divisors of n >= 1 in increasing order, by trial division up to sqrt(n)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def _listed(values: list[int], most: int = 8) -> str:
    """'1, 2, 4' or, past `most` values, the first ones and the last: '1, 2, 3, ..., 60'."""
    if len(values) <= most:
        return ", ".join(map(str, values))
    return ", ".join(map(str, values[: most - 1])) + f", ..., {values[-1]}"


def _positive_int(value: object, what: str) -> int:
    return _whole(value, what, 1, "at least 1")


def _non_negative_int(value: object, what: str) -> int:
    return _whole(value, what, 0, "0 or more")


def _keyed(
    check: Callable[[object, str], int],
    value: object,
    what: str,
    key: str,
    block: int | None = None,
    prefix: str = "",
) -> int:
    """Run a value check, tagging its SpecError with the setting's key (and block)."""
    try:
        return check(value, what)
    except SpecError as error:
        raise SpecError(prefix + str(error), key=key, block=block) from None


def parse_size(text: str, what: str) -> tuple[int, int]:
    """Parse 'HxW' (or a single 'N' meaning NxN) into two positive integers."""
    match = re.fullmatch(r"[ \t]*([0-9]+)[ \t]*(?:[xX×][ \t]*([0-9]+)[ \t]*)?", text)
    if match is None:
        raise SpecError(f"{what} must look like HxW (for example 6x6), got {shown(text)}")
    first = _digits(match.group(1), what)
    second = _digits(match.group(2), what) if match.group(2) is not None else first
    return _positive_int(first, what), _positive_int(second, what)


def _digits(text: str, what: str) -> int:
    """int(text) for a string of digits, refusing hundreds of them before Python's int() does."""
    digits = text.lstrip("+-0") or "0"
    if len(digits) > len(str(MAX_SETTING)):
        raise SpecError(f"{what} must be at most {MAX_SETTING:,}, got {shown(text)}")
    return int(text)


def squeeze(shape: tuple[int, ...]) -> tuple[int, ...]:
    """(1, rows, cols) -> (rows, cols): one channel needs no channel axis."""
    return shape[1:] if len(shape) == 3 and shape[0] == 1 else shape


@dataclass(frozen=True)
class ConvBlock:
    """Conv (zero padding, stride, one bias per filter) -> activation -> pool."""

    filter_shape: tuple[int, int] = (3, 3)
    filters: int = 1
    stride: int = 1
    padding: int = 0
    activation: str = "relu"
    leaky_slope: float = DEFAULT_LEAKY_SLOPE
    pool_type: str = "max"
    pool_size: int = 2
    pool_stride: int | None = None  # None: equal to pool_size (non-overlapping windows)

    @property
    def pool_step(self) -> int:
        """The pool stride actually used."""
        return self.pool_size if self.pool_stride is None else self.pool_stride

    @property
    def pooled(self) -> bool:
        return self.pool_type != "none"

    def conv_output(self, rows: int, cols: int) -> tuple[int, int]:
        (kh, kw), s, p = self.filter_shape, self.stride, self.padding
        return (rows + 2 * p - kh) // s + 1, (cols + 2 * p - kw) // s + 1

    def pool_output(self, rows: int, cols: int) -> tuple[int, int]:
        if not self.pooled:
            return rows, cols
        size, step = self.pool_size, self.pool_step
        return (rows - size) // step + 1, (cols - size) // step + 1

    def describe(self) -> str:
        """'3x3 filter, 2x2 max-pool stride 2'; settings at their defaults are not named."""
        (kh, kw), k = self.filter_shape, self.filters
        words = f"{k} {kh}x{kw} filters" if k > 1 else f"{kh}x{kw} filter"
        if self.stride != 1:
            words += f" stride {self.stride}"
        if self.padding:
            words += f" padding {self.padding}"
        if self.activation == "leaky_relu":
            words += f", leaky ReLU (slope {self.leaky_slope:g})"
        elif self.activation != "relu":
            words += f", {ACTIVATION_NAMES.get(self.activation, self.activation)}"
        if self.pooled:
            p = self.pool_size
            words += f", {p}x{p} {self.pool_type}-pool stride {self.pool_step}"
        else:
            words += ", no pool"
        return words


@dataclass(frozen=True)
class BlockGeometry:
    """The (channels, rows, cols) shapes one block reads and writes."""

    block: ConvBlock
    input: tuple[int, int, int]
    conv: tuple[int, int, int]
    output: tuple[int, int, int]  # after the pool (the conv's shape when there is none)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        k, c = self.conv[0], self.input[0]
        kh, kw = self.block.filter_shape
        return (kh, kw) if k == c == 1 else (k, c, kh, kw)

    @property
    def bias_shape(self) -> tuple[int, ...]:
        return () if self.conv[0] == 1 else (self.conv[0],)

    @property
    def symbolic_cost(self) -> int:
        k, oh, ow = self.conv
        kh, kw = self.block.filter_shape
        return max(oh, 0) * max(ow, 0) * k * self.input[0] * kh * kw


_BLOCK_FIELDS = tuple(f.name for f in fields(ConvBlock))
# A block field's name in a config file and (with dashes) as a flag; others keep their own.
_SETTING_KEYS = {"filter_shape": "filter", "pool_size": "pool"}


def block_settings(block: ConvBlock) -> list[tuple[str, object]]:
    """(key, value) of every setting a config file or command line must state, in field
    order: the filter always, the pool size when pooled, any other field when not default."""
    default = ConvBlock()
    settings = []
    for name in _BLOCK_FIELDS:
        value = getattr(block, name)
        always = name == "filter_shape" or (name == "pool_size" and block.pooled)
        if always or (name != "pool_size" and value != getattr(default, name)):
            settings.append((_SETTING_KEYS.get(name, name), value))
    return settings


def _flag_text(value: object) -> str:
    if isinstance(value, tuple):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, float):
        return repr(float(value))  # a NumPy float prints as np.float64(...)
    return str(value)


def _toml_text(value: object) -> str:
    if isinstance(value, (tuple, str)):
        return f'"{_flag_text(value)}"'
    if isinstance(value, float):
        return _flag_text(value)
    return str(int(value))  # type: ignore[call-overload]


@dataclass(frozen=True)
class NetworkSpec:
    """Input -> conv blocks (conv -> activation -> pool) -> flatten -> dense -> sigmoid -> BCE.

    The defaults are the teaching network: a 6x6 image, one 3x3 filter (valid, stride 1, one
    bias), ReLU, 2x2 max-pool with stride 2, giving 15 trainable parameters.
    """

    input_shape: tuple[int, int] = (6, 6)
    filter_shape: tuple[int, int] = (3, 3)
    pool_size: int = 2
    pool_stride: int | None = None  # None: equal to pool_size (non-overlapping windows)
    symbolic_budget: int = field(default=DEFAULT_SYMBOLIC_BUDGET, compare=False)
    channels: int = 1
    filters: int = 1
    stride: int = 1  # the convolution's stride
    padding: int = 0
    activation: str = "relu"
    leaky_slope: float = DEFAULT_LEAKY_SLOPE
    pool_type: str = "max"
    blocks: tuple[ConvBlock, ...] = ()  # empty: one block, from the flat fields above

    def __post_init__(self) -> None:
        flat = ConvBlock(**{name: getattr(self, name) for name in _BLOCK_FIELDS})
        if self.blocks == () or self.blocks == []:
            object.__setattr__(self, "blocks", (flat,))
        else:
            blocks = self.blocks
            if not isinstance(blocks, (tuple, list)) or not all(
                isinstance(b, ConvBlock) for b in blocks
            ):
                raise SpecError(
                    f"blocks must be a list of ConvBlock, got {shown(blocks)}", key="blocks"
                )
            if flat != ConvBlock():
                raise SpecError(
                    "give the conv settings either as blocks=[ConvBlock(...), ...] or as the "
                    "flat fields (filter_shape, pool_size, ...), not both",
                    key="blocks",
                )
            object.__setattr__(self, "blocks", tuple(blocks))
            for name in _BLOCK_FIELDS:  # the flat fields describe the first block
                object.__setattr__(self, name, getattr(blocks[0], name))
        self.validate()

    # ----------------------------------------------------------------- derived shapes
    @property
    def pool_step(self) -> int:
        """The first block's pool stride actually used."""
        return self.blocks[0].pool_step

    @property
    def geometry(self) -> list[BlockGeometry]:
        """Every block's input, conv and output shapes, as (channels, rows, cols)."""
        shapes = []
        c, (h, w) = self.channels, self.input_shape
        for block in self.blocks:
            oh, ow = block.conv_output(h, w)
            ph, pw = block.pool_output(oh, ow)
            k = block.filters
            shapes.append(BlockGeometry(block, (c, h, w), (k, oh, ow), (k, ph, pw)))
            c, h, w = k, ph, pw
        return shapes

    @property
    def image_shape(self) -> tuple[int, ...]:
        """One image as the generated module takes it: (H, W), or (C, H, W) for C > 1."""
        return squeeze((self.channels, *self.input_shape))

    @property
    def conv_shape(self) -> tuple[int, ...]:
        """Z1's shape: (rows, cols), or (filters, rows, cols) for several filters."""
        return squeeze(self.geometry[0].conv)

    @property
    def pool_shape(self) -> tuple[int, ...]:
        """P1's shape (Z1's when the first block has no pool)."""
        return squeeze(self.geometry[0].output)

    @property
    def n_features(self) -> int:
        return math.prod(self.geometry[-1].output)

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Trainable parameters in the order of the generated module's contract."""
        shapes: dict[str, tuple[int, ...]] = {}
        for n, geometry in enumerate(self.geometry, start=1):
            shapes[f"W{n}"] = geometry.weight_shape
            shapes[f"B{n}"] = geometry.bias_shape
        dense = len(self.blocks) + 1
        shapes[f"W{dense}"] = (self.n_features, 1)
        shapes[f"B{dense}"] = ()
        return shapes

    @property
    def parameter_count(self) -> int:
        return sum(math.prod(shape) for shape in self.parameter_shapes.values())

    @property
    def parameter_breakdown(self) -> str:
        """'9 + 1 + 4 + 1' for the default network."""
        return " + ".join(str(math.prod(s)) for s in self.parameter_shapes.values())

    @property
    def symbolic_cost(self) -> int:
        """Products in the convolutions: what the derivation's time and memory grow with."""
        return sum(g.symbolic_cost for g in self.geometry)

    @property
    def is_default_block(self) -> bool:
        """One block with the teaching network's kind of layers (sizes may differ)."""
        first = self.blocks[0]
        return (
            len(self.blocks) == 1
            and self.channels == 1
            and first.filters == 1
            and first.stride == 1
            and first.padding == 0
            and first.activation == "relu"
            and first.pool_type == "max"
        )

    @property
    def label(self) -> str:
        """A short human name: '6x6 input, 3x3 filter, 2x2 max-pool stride 2'."""
        h, w = self.input_shape
        words = f"{h}x{w} input"
        if self.channels > 1:
            words += f" with {self.channels} channels"
        return words + ", " + "; then ".join(block.describe() for block in self.blocks)

    def to_toml(self) -> str:
        """The spec as a TOML file `symbp derive --config` reads back to an equal spec."""
        h, w = self.input_shape
        lines = [f'input = "{h}x{w}"']
        if self.channels != 1:
            lines.append(f"channels = {self.channels}")
        if self.symbolic_cost > DEFAULT_SYMBOLIC_BUDGET:
            lines.append("allow_large = true")
        for block in self.blocks:
            lines += ["", "[[block]]"]
            lines += [f"{key} = {_toml_text(value)}" for key, value in block_settings(block)]
        return "\n".join(lines) + "\n"

    def command_line(self, command: str = "symbp derive") -> str:
        """The command that builds this spec from flags, written from the validated spec (so
        no user text is echoed). Several blocks need a config file: the command names one."""
        if len(self.blocks) > 1:
            return f"{command} --config net.toml"
        h, w = self.input_shape
        words = [command, f"--input {h}x{w}"]
        if self.channels != 1:
            words.append(f"--channels {self.channels}")
        for key, value in block_settings(self.blocks[0]):
            words.append(f"--{key.replace('_', '-')} {_flag_text(value)}")
        if self.symbolic_cost > DEFAULT_SYMBOLIC_BUDGET:
            words.append("--allow-large")
        return " ".join(words)

    # ----------------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise SpecError naming the first problem and how to fix it."""
        if not (isinstance(self.input_shape, tuple) and len(self.input_shape) == 2):
            raise SpecError(
                f"input_shape must be (H, W), got {shown(self.input_shape)}", key="input"
            )
        for n in self.input_shape:
            _keyed(_positive_int, n, "input size", "input", None)
        _keyed(_positive_int, self.channels, "channels", "channels", None)
        c, (h, w) = self.channels, self.input_shape
        several = len(self.blocks) > 1
        for index, block in enumerate(self.blocks):
            c, h, w = _validate_block(block, (c, h, w), index if several else None)
        budget = self.symbolic_budget
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise SpecError(f"symbolic budget must be a whole number >= 1, got {shown(budget)}")
        cost = self.symbolic_cost
        if cost > budget:
            if len(self.blocks) == 1 and self.channels == 1 and self.filters == 1:
                _, ch, cw = self.geometry[0].conv
                kh, kw = self.filter_shape
                what = f"{ch}x{cw} conv outputs x {kh}x{kw} filter"
            else:
                what = "conv outputs x weights per output, over all blocks"
            raise SpecError(
                f"this network needs about {cost:,} symbolic products ({what}), over the budget "
                f"of {budget:,}; derivation would take about {cost / 1500:.0f} s and much "
                f"memory. Use a smaller input, or pass --allow-large (allow_large = true in a "
                f"config file) to go ahead anyway",
                key="allow_large",
            )


@dataclass(frozen=True)
class _BlockCheck:
    """Errors about one block: prefixed 'block n: ' in a network of several, keyed to it."""

    index: int | None

    @property
    def where(self) -> str:
        return f"block {self.index + 1}: " if self.index is not None else ""

    def fail(self, message: str, key: str) -> SpecError:
        return SpecError(self.where + message, key=key, block=self.index)

    def number(self, func: Callable[[object, str], int], value: object, what: str, key: str) -> int:
        return _keyed(func, value, what, key, self.index, self.where)


def _validate_block(
    block: ConvBlock, shape: tuple[int, int, int], index: int | None
) -> tuple[int, int, int]:
    """Check one block against the shape it reads; return the shape it writes."""
    check = _BlockCheck(index)
    _check_settings(block, check)
    _check_filter_fits(block, shape, check)
    ch, cw = block.conv_output(*shape[1:])
    if not block.pooled:
        return block.filters, ch, cw
    _check_pool(block, (ch, cw), check)
    return block.filters, *block.pool_output(ch, cw)


def _check_settings(block: ConvBlock, check: _BlockCheck) -> None:
    """Each setting on its own: sizes whole and positive, names known, the slope in [0, 1)."""
    if not (isinstance(block.filter_shape, tuple) and len(block.filter_shape) == 2):
        raise check.fail(
            f"filter_shape must be (kH, kW), got {shown(block.filter_shape)}", "filter"
        )
    for n in block.filter_shape:
        check.number(_positive_int, n, "filter size", "filter")
    check.number(_positive_int, block.filters, "filters", "filters")
    check.number(_positive_int, block.stride, "stride", "stride")
    check.number(_non_negative_int, block.padding, "padding", "padding")
    if block.activation not in ACTIVATIONS:
        raise check.fail(
            f"unknown activation {shown(block.activation)}; choose one of {', '.join(ACTIVATIONS)}",
            "activation",
        )
    slope = block.leaky_slope
    if (
        isinstance(slope, bool)
        or not isinstance(slope, (int, float))
        or not math.isfinite(slope)
        or not 0 <= slope < 1
    ):
        raise check.fail(
            f"leaky_slope must be a number in [0, 1), got {shown(slope)}", "leaky_slope"
        )
    if block.activation != "leaky_relu" and slope != DEFAULT_LEAKY_SLOPE:
        raise check.fail(
            f"leaky_slope applies only to activation leaky_relu, not {block.activation}; "
            "remove it or choose leaky_relu",
            "leaky_slope",
        )
    if block.pool_type not in POOL_TYPES:
        raise check.fail(
            f"unknown pool type {shown(block.pool_type)}; choose one of {', '.join(POOL_TYPES)}",
            "pool_type",
        )


def _check_filter_fits(block: ConvBlock, shape: tuple[int, int, int], check: _BlockCheck) -> None:
    """The padding smaller than the filter, the filter within the (padded) input."""
    (kh, kw), padding = block.filter_shape, block.padding
    _, h, w = shape
    if padding >= kh or padding >= kw:
        raise check.fail(
            f"padding {padding} is not smaller than the {kh}x{kw} filter: outputs would see "
            f"only padding zeros; use a padding of at most {min(kh, kw) - 1}",
            "padding",
        )
    if kh > h + 2 * padding or kw > w + 2 * padding:
        raise check.fail(
            f"filter {kh}x{kw} is larger than the {h}x{w} {h + 2 * padding}x{w + 2 * padding} "
            f"padded input; use a filter of at most {h + 2 * padding}x{w + 2 * padding} or a "
            "larger input"
            if padding
            else f"filter {kh}x{kw} is larger than the {h}x{w} input; "
            f"use a filter of at most {h}x{w} or a larger input",
            "filter",
        )


def _check_pool(block: ConvBlock, conv: tuple[int, int], check: _BlockCheck) -> None:
    """The pool within the convolution output, its stride within its window, and its windows
    covering the output exactly (as PyTorch would silently drop rows)."""
    ch, cw = conv
    pool = check.number(_positive_int, block.pool_size, "pool size", "pool")
    step = check.number(_positive_int, block.pool_step, "pool stride", "pool_stride")
    if step > pool:
        raise check.fail(
            f"pool stride {step} is larger than the {pool}x{pool} window: the cells between "
            f"windows would never be read; use a pool stride of at most {pool}",
            "pool_stride",
        )
    if pool > ch or pool > cw:
        raise check.fail(
            f"pool {pool}x{pool} is larger than the {ch}x{cw} convolution output; "
            f"use a pool of {min(ch, cw)} or smaller, a smaller filter or a larger input"
            + ("" if check.index is None else ', or pool_type = "none"'),
            "pool",
        )
    for extent, axis in ((ch, "rows"), (cw, "columns")):
        if (extent - pool) % step != 0:
            # Windows of size p and stride p fit exactly when p divides the extent; stride s
            # fits a window p when s divides extent - p (and s <= p).
            if block.pool_stride is None:
                advice = f"pool sizes that fit {extent} {axis}: {_listed(divisors(extent))}"
            else:
                fitting = [s for s in divisors(extent - pool) if s <= pool]
                advice = f"strides that fit {extent} {axis}: {_listed(fitting)}"
            raise check.fail(
                f"{pool}x{pool} pool windows with stride {step} do not cover the {ch}x{cw} "
                f"convolution output exactly ({axis} would be dropped); choose an input and "
                f"filter whose output size fits the pool ({advice})",
                "pool" if block.pool_stride is None else "pool_stride",
            )


def _as_int(value: str | int, what: str, key: str) -> int:
    if isinstance(value, int):
        return value
    text = value.strip(" \t")
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise SpecError(f"{what} must be a whole number, got {shown(value)}", key=key)
    try:
        return _digits(text, what)
    except SpecError as error:
        raise SpecError(str(error), key=key) from None


def _as_float(value: str | float, what: str, key: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip(" \t")
    if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
        raise SpecError(f"{what} must be a number like 0.01, got {shown(value)}", key=key)
    return float(text)


def _choice(value: str, choices: tuple[str, ...], what: str, key: str) -> str:
    text = value.strip().lower().replace("-", "_")
    if key == "pool_type":
        text = {"average": "avg", "mean": "avg"}.get(text, text)
    if text not in choices:
        raise SpecError(
            f"unknown {what} {shown(value)}; choose one of {', '.join(choices)}", key=key
        )
    return text


def block_from_strings(
    filter_size: str = "3x3",
    filters: str | int = 1,
    stride: str | int = 1,
    padding: str | int = 0,
    activation: str = "relu",
    leaky_slope: str | float = DEFAULT_LEAKY_SLOPE,
    pool_type: str = "max",
    pool: str | int = 2,
    pool_stride: str | int | None = None,
) -> ConvBlock:
    """One conv block from command-line style strings (not yet checked against its input)."""
    try:
        filter_shape = parse_size(filter_size, "filter size")
    except SpecError as error:
        raise SpecError(str(error), key="filter") from None
    return ConvBlock(
        filter_shape=filter_shape,
        filters=_as_int(filters, "filters", "filters"),
        stride=_as_int(stride, "stride", "stride"),
        padding=_as_int(padding, "padding", "padding"),
        activation=_choice(activation, ACTIVATIONS, "activation", "activation"),
        leaky_slope=_as_float(leaky_slope, "leaky slope", "leaky_slope"),
        pool_type=_choice(pool_type, POOL_TYPES, "pool type", "pool_type"),
        pool_size=_as_int(pool, "pool size", "pool"),
        pool_stride=None
        if pool_stride is None
        else _as_int(pool_stride, "pool stride", "pool_stride"),
    )


def spec_from_strings(
    input_size: str = "6x6",
    filter_size: str = "3x3",
    pool: str | int = 2,
    pool_stride: str | int | None = None,
    allow_large: bool = False,
    *,
    channels: str | int = 1,
    filters: str | int = 1,
    stride: str | int = 1,
    padding: str | int = 0,
    activation: str = "relu",
    leaky_slope: str | float = DEFAULT_LEAKY_SLOPE,
    pool_type: str = "max",
) -> NetworkSpec:
    """Build a one-block spec from command-line style strings, with SpecError for anything
    malformed."""
    try:
        input_shape = parse_size(input_size, "input size")
    except SpecError as error:
        raise SpecError(str(error), key="input") from None
    block = block_from_strings(
        filter_size, filters, stride, padding, activation, leaky_slope, pool_type, pool, pool_stride
    )
    return network_from_blocks(
        input_shape, _as_int(channels, "channels", "channels"), [block], allow_large
    )


def network_from_blocks(
    input_shape: tuple[int, int], channels: int, blocks: list[ConvBlock], allow_large: bool
) -> NetworkSpec:
    """A spec from its blocks; a single block goes in the flat fields (the canonical form)."""
    budget = 10**9 if allow_large else DEFAULT_SYMBOLIC_BUDGET
    if len(blocks) == 1:
        flat = {name: getattr(blocks[0], name) for name in _BLOCK_FIELDS}
        return NetworkSpec(
            input_shape=input_shape, channels=channels, symbolic_budget=budget, **flat
        )
    return NetworkSpec(
        input_shape=input_shape, channels=channels, blocks=tuple(blocks), symbolic_budget=budget
    )


__all__ = [
    "ACTIVATIONS",
    "POOL_TYPES",
    "BlockGeometry",
    "ConvBlock",
    "NetworkSpec",
    "SpecError",
    "block_from_strings",
    "network_from_blocks",
    "clipped",
    "parse_size",
    "shown",
    "spec_from_strings",
    "squeeze",
]
