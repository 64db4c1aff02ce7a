"""The one way pygan writes a file: a temp file in the same folder, written, flushed and fsynced, then renamed
over the target. A reader sees the old file or the complete new one, never a mix; a failure (disk full, no
permission, Ctrl-C) removes the temp file and leaves the old file as it was."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pygan.errors import PyganError

_HINTS = {
    errno.ENOSPC: "free space on that disk or choose another folder",
    errno.EDQUOT: "free space within your quota or choose another folder",
    errno.EACCES: "check the folder's permissions or choose another folder",
    errno.EPERM: "check the folder's permissions or choose another folder",
    errno.EROFS: "the file system is read-only; choose another folder",
}


class WriteError(PyganError, OSError):
    """A file could not be written: the message names the file and the operating system's reason. Also an
    OSError (with the original errno), so code that handles OSError keeps working."""


def write_error(path: str | Path, exc: OSError) -> WriteError:
    """The one-line error for `exc` raised while writing `path` (for writers that append, too)."""
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    hint = _HINTS.get(exc.errno or 0)
    error = WriteError(f"cannot write {path}: {reason}" + (f"; {hint}" if hint else ""))
    error.errno = exc.errno
    return error


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, racing other threads) where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable; some file systems cannot open or fsync a folder, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """A file object (binary "wb" or UTF-8 text "w") whose content replaces `path` when the block ends
    without an error; on any error the temp file is removed and `path` is untouched."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_output writes with mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    directory = path.parent
    blocker = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise WriteError(f"cannot write {path}: {blocker} is a file, not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise write_error(path, exc) from exc
    tmp = Path(tmp_name)
    try:
        try:
            # mkstemp makes 0600; every file pygan writes gets the mode the user's umask gives, as open() would.
            os.fchmod(fd, 0o666 & ~_umask())
            f = os.fdopen(fd, mode, encoding="utf-8" if mode == "w" else None)
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise
    _fsync_directory(directory)


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    """Replaces `path` with `data`, atomically."""
    with atomic_output(path, "wb") as f:
        f.write(data)


def write_text_atomic(text: str, path: str | Path) -> None:
    """Replaces `path` with `text` in UTF-8, atomically."""
    with atomic_output(path, "w") as f:
        f.write(text)
