"""The generated module's input contract and memory: what counts as a number, what is refused
with a one-line ValueError naming the input, and input_gradient/predict in bounded memory.

Numbers (accepted, computed in float64): bool, signed and unsigned integers, floats from float16
to longdouble, as arrays, nested lists, scalars, and object arrays whose every element is a real
number. Refused: strings and bytes, datetime64 and timedelta64, complex, structured records,
object arrays holding any of those (or dates, None, arrays), and masked arrays with masked
entries. Every number is compared with the independent NumPy engine.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import functools
import shutil
import tracemalloc

import numpy as np
import pytest

from symbp import NetworkSpec, derive, load
from symbp.reference.engine import NumericNetwork
from symbp.reference.gradcheck import max_errors

DEFAULT = NetworkSpec()
AVG = NetworkSpec((6, 6), pool_type="avg")
NO_POOL_TANH = NetworkSpec((6, 6), pool_type="none", activation="tanh")
HAS_COMPILER = shutil.which("cc") is not None or shutil.which("gcc") is not None


@functools.cache
def module(spec=DEFAULT):
    return load(derive(spec))


def batch(m, spec=DEFAULT, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, *spec.image_shape))
    y = rng.integers(0, 2, m).astype(float)
    params = {k: rng.normal(size=s) for k, s in spec.parameter_shapes.items()}
    return x, y, params


def assert_matches_engine(grads, reference, rtol=1e-12):
    for name, (abs_err, rel_err) in max_errors(grads, reference).items():
        assert rel_err <= rtol, f"{name}: relative error {rel_err:.2e} (abs {abs_err:.2e})"


def assert_normwise(ours, reference, rtol=1e-12):
    assert ours.shape == reference.shape and ours.dtype == np.float64
    assert np.abs(ours - reference).max() <= rtol * np.abs(reference).max()


def masked(value, where=0):
    mask = np.zeros(np.shape(value), dtype=bool)
    mask.flat[where] = True
    return np.ma.masked_array(np.full(np.shape(value), 1e6), mask=mask)


# ---------------------------------------------------------------- refused inputs

NOT_NUMBERS = {
    "string": lambda v: np.asarray(v).astype(str),
    "bytes": lambda v: np.asarray(v).astype("S24"),
    "datetime64": lambda v: np.zeros(np.shape(v), "datetime64[s]"),
    "timedelta64": lambda v: np.ones(np.shape(v), "timedelta64[s]"),
    "structured": lambda v: np.zeros(np.shape(v), [("value", "f8")]),
    "object str": lambda v: np.full(np.shape(v), "1", dtype=object),
    "object bytes": lambda v: np.full(np.shape(v), b"1", dtype=object),
    "object date": lambda v: np.full(np.shape(v), datetime.date(2020, 1, 1), dtype=object),
    "object timedelta64": lambda v: np.full(np.shape(v), np.timedelta64(1, "s"), dtype=object),
    "object None": lambda v: np.full(np.shape(v), None, dtype=object),
    "list of str": lambda v: np.asarray(v).astype(str).tolist(),
}
if hasattr(np.dtypes, "StringDType"):  # NumPy 2's variable-width strings
    NOT_NUMBERS["StringDType"] = lambda v: np.asarray(v).astype(np.dtypes.StringDType())


def replace(where, make, x, y, params):
    if where == "X":
        return make(x), y, params
    if where == "Y":
        return x, make(y), params
    return x, y, {**params, where: make(params[where])}


CALLS = ("gradients", "loss", "input_gradient", "gradients_with_input")


@pytest.mark.parametrize("kind", NOT_NUMBERS)
@pytest.mark.parametrize("where", ["X", "Y", "W1", "B1", "W2"])
def test_non_numbers_are_refused_naming_the_input(kind, where):
    x, y, params = batch(5)
    args = replace(where, NOT_NUMBERS[kind], x, y, params)
    for call in CALLS:
        with pytest.raises(ValueError, match=rf"^{where} must be a numeric array") as info:
            getattr(module(), call)(*args)
        assert "\n" not in str(info.value) and len(str(info.value)) <= 120, str(info.value)
    if where != "Y":
        with pytest.raises(ValueError, match=rf"^{where} must be a numeric array"):
            module().predict(args[0], args[2])


def column(*values, dtype=None):
    """A W2-shaped (4, 1) array: the right shape, so only the kind of its entries is wrong."""
    return np.array([[v] for v in values], dtype=dtype)


@pytest.mark.parametrize(
    "value, words",
    [
        (column("1", "2", "3", "4"), r"a string array \(dtype <U1\); pass numbers$"),
        (column(b"1", b"2", b"3", b"4"), r"a bytes array \(dtype \|S1\); pass numbers$"),
        (column(*range(4), dtype="datetime64[D]"), r"a datetime64 array \(dtype datetime64\[D\]\)"),
        (
            column(*range(4), dtype="timedelta64[s]"),
            r"a timedelta64 array \(dtype timedelta64\[s\]\)",
        ),
        (column(1.0, 2, "3", 4, dtype=object), "an object array holding str; pass numbers$"),
        (
            column(1.0, datetime.timedelta(1), 3, 4, dtype=object),
            "holding timedelta; pass numbers$",
        ),
        (column(1.0, None, 3, 4, dtype=object), "holding NoneType; pass numbers$"),
        (column(1.0, 2j, 3, 4, dtype=object), "must be real numbers, got complex values$"),
        (column(1.0, np.complex128(2j), 3, 4, dtype=object), "must be real numbers, got complex"),
        ([np.ma.masked_array([1.0], mask=[True]), [2], [3], [4]], "is a masked array"),
    ],
)
def test_refusal_messages_say_what_was_passed(value, words):
    x, y, params = batch(5)
    with pytest.raises(ValueError, match=rf"^W2 .*{words}"):
        module().gradients(x, y, {**params, "W2": value})


@pytest.mark.parametrize("where", ["X", "Y", "W1", "B1", "B2"])
@pytest.mark.parametrize("call", CALLS)
def test_masked_entries_are_refused_not_dropped(where, call):
    """np.asarray would drop the mask and use the 1e6 under it."""
    x, y, params = batch(5)
    args = replace(where, masked, x, y, params)
    message = rf"^{where} is a masked array; fill or drop the masked entries first \(np.ma.filled\)"
    with pytest.raises(ValueError, match=message):
        getattr(module(), call)(*args)


def test_a_list_of_masked_images_and_the_masked_constant_are_refused():
    x, y, params = batch(3)
    images = [np.ma.masked_array(image, mask=image > 1) for image in x]
    with pytest.raises(ValueError, match="^X is a masked array"):
        module().gradients(images, y, params)
    with pytest.raises(ValueError, match="^B1 is a masked array"):
        module().gradients(x, y, {**params, "B1": np.ma.masked})


def test_masked_array_with_nothing_masked_is_plain_data():
    x, y, params = batch(7)
    engine = NumericNetwork(DEFAULT)
    grads = module().gradients(
        np.ma.masked_array(x),
        np.ma.masked_array(y, mask=False),
        {k: np.ma.masked_array(v) for k, v in params.items()},
    )
    assert_matches_engine(grads, engine.gradients(x, y, params))


# ---------------------------------------------------------------- accepted numbers


@pytest.mark.parametrize(
    "dtype", [bool, np.int8, np.uint8, np.int64, np.uint64, np.float16, np.float32, np.longdouble]
)
def test_real_dtypes_are_numbers_computed_in_float64(dtype):
    x, y, params = batch(9)
    x = x > 0 if dtype is bool else np.abs(x * 3).astype(dtype)
    labels = y.astype(dtype)
    engine = NumericNetwork(DEFAULT)
    x64, y64 = x.astype(np.float64), labels.astype(np.float64)
    grads = module().gradients(x, labels, params)
    assert all(g.dtype == np.float64 for g in grads.values())
    assert_matches_engine(grads, engine.gradients(x64, y64, params))
    assert_normwise(
        module().input_gradient(x, labels, params), engine.input_gradient(x64, y64, params)
    )


def test_object_arrays_of_real_numbers_are_numbers():
    x, y, params = batch(6)
    engine = NumericNetwork(DEFAULT)
    objects = x.astype(object)
    objects[0, 0, 0] = int(round(x[0, 0, 0]))
    objects[0, 0, 1] = fractions.Fraction(1, 3)
    objects[0, 0, 2] = decimal.Decimal("0.25")
    objects[0, 0, 3] = np.float32(0.5)
    objects[0, 0, 4] = True
    reference_x = np.array(objects.tolist(), dtype=np.float64)
    mixed = {
        "W1": params["W1"].tolist(),
        "B1": fractions.Fraction(1, 2),
        "W2": tuple(map(tuple, params["W2"])),
        "B2": np.float32(-0.25),
    }
    reference_params = {k: np.asarray(v, dtype=np.float64) for k, v in mixed.items()}
    grads = module().gradients(objects, y.astype(object), mixed)
    assert_matches_engine(grads, engine.gradients(reference_x, y, reference_params))


def test_float64_input_is_not_copied_by_validation():
    """For a big float64 batch, validation is a few checks, not another array."""
    x, y, params = batch(50)
    rows, labels, _ = module()._validate(x, y, params)
    assert np.shares_memory(rows, x) and np.shares_memory(labels, y)


# ---------------------------------------------------------------- input_gradient and predict


@pytest.mark.parametrize("spec", [DEFAULT, AVG, NO_POOL_TANH], ids=lambda s: s.label)
@pytest.mark.parametrize("extra", [0, 17])
def test_blocked_input_gradient_and_predict_match_the_engine(spec, extra):
    gen = module(spec)
    m = gen.BLOCK_SIZE * 2 + extra
    x, y, params = batch(m, spec, seed=3)
    engine = NumericNetwork(spec)
    assert_normwise(gen.input_gradient(x, y, params), engine.input_gradient(x, y, params))
    prediction = gen.predict(x, params)
    np.testing.assert_allclose(prediction, engine.forward(x, params)["A2"], rtol=1e-12)


def _extra_peak(call):
    """Peak bytes NumPy and Python allocated during call(), less the returned array's own."""
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - result.nbytes


def test_input_gradient_and_predict_extra_memory_is_bounded():
    """Beyond X and the result, one block's working set: <= 0.1 X at M = 200 000 and not
    growing with M (the old list of blocks + concatenate took 1 X more; predict 2/36 X)."""
    gen = module()
    extra = {}
    for m in (20_000, 200_000):
        x, y, params = batch(m, seed=7)
        gen.input_gradient(x[:10], y[:10], params)  # warm-up outside the measurement
        extra[m] = (
            _extra_peak(functools.partial(gen.input_gradient, x, y, params)),
            _extra_peak(functools.partial(gen.predict, x, params)),
            x.nbytes,
        )
    small, large = extra[20_000], extra[200_000]
    x_bytes = large[2]
    assert large[0] <= 0.1 * x_bytes, f"input_gradient: {large[0] / x_bytes:.3f} X extra"
    assert large[1] <= 0.1 * x_bytes, f"predict: {large[1] / x_bytes:.3f} X extra"
    # tenfold M, about the same working set (allow 1% of X for allocator noise)
    assert large[0] - small[0] <= 0.01 * x_bytes, (small[0], large[0])
    assert large[1] - small[1] <= 0.01 * x_bytes, (small[1], large[1])


# ---------------------------------------------------------------- the fused backend


@pytest.mark.skipif(not HAS_COMPILER, reason="no C compiler")
@pytest.mark.parametrize("kind", ["string", "datetime64", "timedelta64", "object str"])
@pytest.mark.parametrize("where", ["X", "Y", "W1"])
def test_fused_backend_refuses_the_same_inputs(kind, where):
    from symbp.codegen.fused import compile_fused

    fused = compile_fused(derive(DEFAULT))
    x, y, params = batch(5)
    with pytest.raises(ValueError, match=rf"^{where} must be a numeric array"):
        fused.gradients(*replace(where, NOT_NUMBERS[kind], x, y, params))
    with pytest.raises(ValueError, match=rf"^{where} is a masked array"):
        fused.gradients(*replace(where, masked, x, y, params))


def test_tracebacks_and_inspect_show_the_generated_source() -> None:
    import inspect
    import linecache
    import traceback

    module = load(derive(NetworkSpec()))
    filename = module.__file__
    assert filename.startswith("<symbp generated gradients ")
    assert inspect.getsource(module.loss).startswith("def loss(X, Y, params):")
    try:
        module.loss(np.zeros((2, 5, 5)), np.zeros(2), {})
    except ValueError:
        shown = traceback.format_exc()
    else:
        raise AssertionError("a wrong image shape must be refused")
    assert f'File "{filename}"' in shown
    raise_line = next(line for line in shown.splitlines()[::-1] if "raise ValueError" in line)
    assert raise_line.strip().startswith("raise ValueError")  # the generated line itself
    linecache.checkcache()  # no file behind it: the entry must survive a cache check
    assert linecache.getlines(filename)
