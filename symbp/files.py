"""Writing output files so that a reader never sees a half-written one.

Each file is written to a temporary file in the same folder and renamed over the target:
rename is atomic on POSIX, so an error or an interrupt leaves either the old file or the new
one, never a truncated mix.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputError(OSError):
    """The output folder cannot be used; the message says why and what to do."""


def prepare_directory(path: Path) -> Path:
    """Create the output folder if needed; refuse a path that is a file or not writable."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {path} is an existing file, not a folder; choose a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create output folder {path}: {error.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {path} is not writable; choose another --out")
    return path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write data to path via a temporary file in the same folder and a rename."""
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
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
