"""Writing output files so that a reader never sees a half-written file or a mixed set.

A run's files are written as one set: under an exclusive lock on the output folder, each file
goes to a temporary file in the same folder, and only once every one of them is on disk are
they renamed over their targets (rename is atomic on POSIX), with the interrupting signals
held back during the renames. So an error or an interrupt leaves the old set; two runs into
one folder leave one run's set whole; a temporary file left by a killed run (SIGKILL cannot be
caught) is removed by the next run into that folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import tempfile
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from . import progress
from .text import clipped, shown

# Signals the command line turns into an interrupt; held back while a set is renamed in.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class OutputError(OSError):
    """The output folder cannot be used; the message says why and what to do."""


def prepare_directory(where: str | Path) -> Path:
    """Create the output folder if needed and prove it writable now, before the long work:
    refuse an empty name, a file, or a folder where no file can be created (/sys, read-only)."""
    if str(where) == "":  # Path("") would silently mean the current folder
        raise OutputError("--out is empty; name a folder, for example --out output")
    _check_name(str(where))
    path, name = Path(where), clipped(str(where))
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {name} is an existing file, not a folder; choose a folder")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:  # mkdir would say only "Not a directory"
        raise OutputError(
            f"--out {name} lies under {clipped(str(blocking))}, which is a file, not a folder; "
            "choose a folder"
        )
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        CREATED.extend(folder for folder in missing if folder not in CREATED)
    except OSError as error:
        raise OutputError(
            f"cannot create output folder {name}: {error.strerror}; choose another --out"
        ) from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OutputError(
            f"cannot write into output folder {name} ({error.strerror}); choose another --out"
        ) from None
    return path


def _check_name(where: str) -> None:
    """OutputError for a name no folder can have, found now rather than after the work: a
    control character (a newline splits every message and listing that shows the name), or a
    component longer than the filesystem's NAME_MAX (mkdir would fail with errno 36)."""
    bad = next((ch for ch in where if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise OutputError(
            f"--out {shown(where)} contains a control character (U+{ord(bad):04X}); choose a "
            "folder name without one"
        )
    path = Path(where)
    limit = _name_max(path)
    for part in path.parts:
        size = len(os.fsencode(part))
        if part != path.anchor and size > limit:
            raise OutputError(
                f"--out has a folder name longer than the {limit} bytes this filesystem allows: "
                f"{clipped(part, 40)}; choose a shorter --out"
            )
    size = len(os.fsencode(os.path.abspath(where)))
    if size > PATH_MAX - PATH_ROOM:
        raise OutputError(
            f"--out {clipped(where)} is a path of {size:,} bytes; with the file names inside it "
            f"that is beyond the system's {PATH_MAX:,}; choose a shorter --out"
        )


def _name_max(path: Path) -> int:
    """The longest name, in bytes, the nearest existing folder above `path` allows (255 where
    the system cannot say)."""
    for folder in path.parents:
        try:
            limit = os.pathconf(folder, "PC_NAME_MAX")
        except (OSError, ValueError):  # missing, itself too long, or not answerable
            continue
        return limit if limit > 0 else 255
    return 255


PATH_MAX = 4096  # Linux's limit on a whole path; the files written inside need PATH_ROOM more
PATH_ROOM = 64

# Folders prepare_directory made in this process, deepest first: a run that ends without
# writing (interrupted, failed verification) removes them again if they are still empty.
CREATED: list[Path] = []


def forget_created() -> None:
    """A new run begins: what earlier runs created is theirs."""
    CREATED.clear()


def discard_created() -> None:
    """Remove the folders this process created and left empty; anything else stays."""
    while CREATED:
        folder = CREATED.pop(0)
        with contextlib.suppress(OSError):  # not empty, or gone: it stays as it is
            folder.rmdir()


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive flock on the folder itself (no lock file is left behind)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _temporary_pattern(name: str) -> re.Pattern[str]:
    """The names `_stage` gives a temporary file for `name`: '.name.XXXXXXXX.tmp'."""
    return re.compile(rf"\.{re.escape(name)}\.[A-Za-z0-9_]+\.tmp")


def remove_stale_temporaries(folder: Path, names: list[str]) -> list[str]:
    """Delete temporary files of ours for these names, left by a killed run; call under the
    folder lock, when no other run can be writing. Returns the names removed."""
    patterns = [_temporary_pattern(name) for name in names]
    removed = []
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False) and any(p.fullmatch(entry.name) for p in patterns):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(entry.name)
    return sorted(removed)


def _stage(path: Path, data: str | bytes) -> Path:
    """Write data to a temporary file beside path, flushed to disk; return its path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Delay the interrupting signals (they arrive when the block ends)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_set(folder: Path, files: Mapping[str, str | bytes]) -> None:
    """Write every file of the mapping into folder, all of them or none."""
    with folder_lock(folder):
        remove_stale_temporaries(folder, list(files))
        staged: list[tuple[Path, Path]] = []
        try:
            for done, (name, data) in enumerate(files.items()):
                progress.step("writing", done, len(files), name)
                staged.append((_stage(folder / name, data), folder / name))
            with _signals_held():
                while staged:
                    temporary, target = staged[0]
                    os.replace(temporary, target)
                    staged.pop(0)
        finally:
            for temporary, _ in staged:
                temporary.unlink(missing_ok=True)
