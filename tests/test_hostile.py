"""Hostile and odd input at the command line: each reproducer of issue 10, item 3.

Every case ends in a short one-line error with exit 2 (or a whole output set), never a hang,
a traceback, a huge echo of the input, a stray temporary file or a mixed set of outputs.
Commands that could hang run in a subprocess with a timeout, so a regression fails instead of
stalling the suite.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symbp.cli import main
from symbp.support.files import folder_lock, remove_stale_temporaries, write_set

HANG_TIMEOUT = 60  # seconds; each of these answers in about one


def symbp(*argv: str, cwd: Path | None = None, timeout: float = HANG_TIMEOUT):
    return subprocess.run(
        [sys.executable, "-m", "symbp", *argv],
        capture_output=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def one_error_line(result: subprocess.CompletedProcess, words: str) -> None:
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symbp: error: "), err
    assert words in lines[0], lines[0]
    assert len(lines[0]) < 400, f"{len(lines[0])} characters"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--input", "99999999999999999999999999x6"], "at most 1,000,000"),
        (["--input", "100000001x6"], "at most 1,000,000"),
        (["--input", "999999x6"], "pool sizes that fit 999997 rows"),
        (["--input", "9" * 5000 + "x6"], "at most 1,000,000"),
        (["--stride", "9223372036854775808", "--pool-type", "none"], "stride must be at most"),
        (["--filters", "9" * 30], "filters must be at most"),
        (["--activation", "r" * 100_000], "unknown activation"),  # argv caps one at 128 kB
        (["--leaky-slope", "1" * 100_000, "--activation", "leaky_relu"], "leaky"),
        (["--format", "x" * 100_000], "unknown --format"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_huge_or_odd_values_get_a_short_error_at_once(argv, words, tmp_path):
    command = "derive" if "--format" in argv else "verify"
    extra = ["--out", str(tmp_path / "out")] if command == "derive" else []
    one_error_line(symbp(command, *argv, *extra), words)


def test_pool_hint_lists_divisors_arithmetically():
    from symbp.spec.model import SpecError, spec_from_strings

    with pytest.raises(SpecError, match=r"pool sizes that fit 99 rows: 1, 3, 9, 11, 33, 99\)"):
        spec_from_strings("101x6", allow_large=True)
    with pytest.raises(SpecError, match=r"strides that fit 10 rows: 1\)"):
        spec_from_strings("12x12", pool="3", pool_stride="2", allow_large=True)


def config(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "net.toml"
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"input = " + b"9" * 5000 + b"\n", "cannot be read"),
        (b'input = "6x6"\n' + b"k" * 100_000 + b" = 1\n", "unknown key"),
        (b'activation = "' + b"r" * 1_000_000 + b'"\n', "unknown activation"),
        (b'input = "6x6"\n\xff\xfe\n', "not UTF-8"),
        (b"# " + b"x" * (2 << 20) + b"\n", "larger than 1 MiB"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_hostile_config_files_get_a_short_error(tmp_path, data, words):
    one_error_line(symbp("verify", "--config", config(tmp_path, data)), words)


def test_config_from_an_endless_device_is_refused():
    one_error_line(symbp("verify", "--config", "/dev/zero"), "larger than 1 MiB")


def test_a_byte_order_mark_is_read_as_utf8(tmp_path, capsys):
    path = config(tmp_path, b'\xef\xbb\xbfinput = "6x6"\npool_type = "avg"\n')
    from symbp.spec.config import load_config

    assert load_config(path).pool_type == "avg"


@pytest.mark.parametrize(
    "title, words",
    [
        (b"\xff\xfe bad", "not UTF-8"),
        (b"two\nlines", "control character"),
        (b"t" * 201, "keep it to 200"),
    ],
)
def test_bad_titles_are_refused_before_anything_is_written(tmp_path, title, words):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "symbp", "derive", "--out", os.fsencode(out), b"--title", title],
        capture_output=True,
        timeout=HANG_TIMEOUT,
        check=False,
    )
    one_error_line(result, words)
    assert not out.exists()


def test_empty_out_is_refused(tmp_path, capsys):
    assert main(["derive", "--out", "", "--format", "md"]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_is_refused_before_the_derivation(monkeypatch, capsys):
    import symbp.symbolic.derivation

    def never(*args, **kwargs):
        raise AssertionError("the derivation ran before --out was checked")

    monkeypatch.setattr(symbp.symbolic.derivation, "derive", never)
    assert main(["derive", "--out", "/sys/kernel", "--format", "md"]) == 2
    assert "cannot write into output folder /sys/kernel" in capsys.readouterr().err


def test_a_closed_pipe_on_stdout_keeps_the_files(tmp_path):
    """`symbp derive | head -1`: the reader leaves, the files are still written."""
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "symbp", "derive", "--format", "py,md", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # as head does after its line
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["cnn_backprop.md", "gradients.py"]
    compile((out / "gradients.py").read_text(), "gradients.py", "exec")


SIGNAL_DURING_SECOND_STAGE = """
import os, signal, sys
import symbp.support.files
real_fsync, calls = os.fsync, []

def fsync(fd):
    real_fsync(fd)
    calls.append(fd)
    if len(calls) == 2:  # the second file is staged, nothing is renamed yet
        os.kill(os.getpid(), int(sys.argv[2]))

symbp.support.files.os.fsync = fsync
from symbp.cli import main
sys.exit(main(["derive", "--format", "py,tex", "--out", sys.argv[1]]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT])
def test_a_signal_while_writing_leaves_the_old_set_and_no_temporary(tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    (out / "cnn_backprop.tex").write_text("old tex")
    result = subprocess.run(
        [sys.executable, "-c", SIGNAL_DURING_SECOND_STAGE, str(out), str(int(signum))],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == "symbp: interrupted; no file was left half-written"
    assert sorted(p.name for p in out.iterdir()) == ["cnn_backprop.tex"]
    assert (out / "cnn_backprop.tex").read_text() == "old tex"


KILLED_DURING_STAGE = SIGNAL_DURING_SECOND_STAGE.replace("int(sys.argv[2])", "signal.SIGKILL")


def test_temporaries_of_a_killed_run_are_removed_by_the_next(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.tmp").write_text("the user's own file")
    result = subprocess.run(
        [sys.executable, "-c", KILLED_DURING_STAGE, str(out)], capture_output=True, timeout=300
    )
    assert result.returncode == -signal.SIGKILL
    left = sorted(p.name for p in out.iterdir())
    assert len(left) == 3 and all(n.endswith(".tmp") for n in left), left  # SIGKILL: no cleanup
    assert main(["derive", "--format", "py,tex", "--out", str(out)]) == 0
    kept = sorted(p.name for p in out.iterdir())
    assert kept == ["cnn_backprop.tex", "gradients.py", "notes.tmp"]


def test_a_failed_write_changes_nothing(tmp_path, monkeypatch):
    import symbp.support.files

    (tmp_path / "a.txt").write_text("old a")
    real_stage, calls = symbp.support.files._stage, []

    def failing(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_stage(path, data)

    monkeypatch.setattr(symbp.support.files, "_stage", failing)
    with pytest.raises(OSError, match="No space"):
        write_set(tmp_path, {"a.txt": "new a", "b.txt": "new b"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old a"


def _blocked_on_lock(folder: Path) -> bool:
    """Whether some process waits for a flock on this folder (/proc/locks marks it '->')."""
    inode = os.stat(folder).st_ino
    lines = Path("/proc/locks").read_text().splitlines()
    return any("->" in line and f":{inode} " in line for line in lines)


def test_a_second_run_waits_for_the_first_to_finish_its_set(tmp_path):
    """While one run holds the folder, another writes nothing; then it writes its whole set."""
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out):
        process = subprocess.Popen(
            [sys.executable, "-m", "symbp", "derive", "--format", "py,md", "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 300
        while not _blocked_on_lock(out):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the second run never reached the lock"
            time.sleep(0.05)
        assert list(out.iterdir()) == []  # waiting: nothing staged, nothing renamed
    assert process.wait(timeout=60) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cnn_backprop.md", "gradients.py"]


def test_the_lock_is_on_the_folder_and_leaves_no_file(tmp_path):
    with folder_lock(tmp_path):
        descriptor = os.open(tmp_path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(descriptor)
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_are_only_ours(tmp_path):
    for name in (".gradients.py.k2j_x9a1.tmp", ".gradients.py.tmp", "gradients.py.x.tmp", "x.tmp"):
        (tmp_path / name).write_text("")
    assert remove_stale_temporaries(tmp_path, ["gradients.py"]) == [".gradients.py.k2j_x9a1.tmp"]
    assert len(list(tmp_path.iterdir())) == 3


@pytest.mark.parametrize("how", ["interrupt", "failed verification"])
def test_a_run_that_writes_nothing_leaves_no_new_folder(monkeypatch, tmp_path, how):
    """The folders --out made are removed again when the run ends without writing; a folder
    that existed before stays, and so does one that is no longer empty."""
    import symbp.pipeline

    real = symbp.pipeline.check_spec

    def broken(spec, meanwhile=None):
        if how == "interrupt":
            raise KeyboardInterrupt
        checked = real(spec, meanwhile)
        checked.proofs[0] = type(checked.proofs[0])("x", "broken on purpose", "", False, "")
        return checked

    monkeypatch.setattr(symbp.pipeline, "check_spec", broken)
    existing = tmp_path / "existing"
    existing.mkdir()
    assert main(["derive", "--quiet", "--format", "py", "--out", str(tmp_path / "a" / "b")]) != 0
    assert main(["derive", "--quiet", "--format", "py", "--out", str(existing)]) != 0
    assert not (tmp_path / "a").exists() and existing.is_dir()
