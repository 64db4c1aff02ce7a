"""The run directory's safety: a new run never lands on an old one, a resume writes only into the checkpoint's
own run, one process trains in a directory at a time, writability is checked before the first epoch, and
temp files left by a killed save are cleaned up."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from pathlib import Path
from types import TracebackType

from pygan.errors import PyganError

SUBFOLDERS = ("checkpoints", "samples")
LOCK_NAME = ".lock"
LATEST = "latest.pt"


class RunDirectoryError(PyganError):
    """The run directory cannot be used: it holds another run, is in use, is not writable, or is not a run."""


def _is_temp(path: Path) -> bool:
    """A temp file of pygan.atomic (`.<name>.<random>.tmp`) or of the writability probe."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def _files_in(folder: Path) -> list[Path]:
    """The files a run (or anything else) left in `folder`; the lock and stale temp files do not count."""
    found = []
    for root, _, names in os.walk(folder):
        for name in sorted(names):
            path = Path(root, name)
            if not (path.parent == folder and name == LOCK_NAME) and not _is_temp(path):
                found.append(path.relative_to(folder))
    return found


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


def _require_writable(folder: Path) -> None:
    """Creates and removes a file in `folder`: os.access alone is fooled by read-only mounts and ACLs."""
    problem = None
    if not os.access(folder, os.W_OK | os.X_OK):
        problem = os.strerror(errno.EACCES).lower()
    else:
        try:
            fd, probe = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            problem = _reason(exc)
    if problem is not None:
        raise RunDirectoryError(f"{folder} is not writable ({problem}): training would fail at its first save; "
                                "fix the folder's permissions or train elsewhere with --out")


def _nearest_existing(path: Path) -> Path:
    return next(p for p in (path, *path.parents) if p.exists())


def _lock_holder(run_dir: Path) -> int | None:
    """The pid of another process that holds run_dir's lock, or None when no other process holds it."""
    lock = run_dir / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            pid = _read_pid(fd)
            return None if pid == os.getpid() else (pid or -1)
    finally:
        os.close(fd)  # closing releases a shared lock taken above


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip())
    return None


def _refuse_if_in_use(run_dir: Path) -> None:
    pid = _lock_holder(run_dir)
    if pid is not None:
        raise RunDirectoryError(f"{run_dir} is in use by another training (pid {pid if pid > 0 else 'unknown'}); "
                                "wait for it or choose another --out")


def for_new_run(out: str | Path) -> Path:
    """The run directory for a new run at `out`, created with its subfolders; refuses anything it could damage."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(f"--out {path} is a file, not a folder; choose a new --out")
    existing = _nearest_existing(path.absolute())
    if not existing.is_dir():
        raise RunDirectoryError(f"--out {path} lies under {existing}, which is a file; choose a new --out")
    if path.is_dir():
        _refuse_if_in_use(path)
        files = _files_in(path)
        if files:
            shown = ", ".join(str(f) for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            raise RunDirectoryError(
                f"--out {path} already holds files ({shown}); an existing run directory is never overwritten: "
                f"resume it with --resume {path}, or choose a new --out")
    _require_writable(existing)
    try:
        for sub in SUBFOLDERS:
            (path / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirectoryError(f"cannot create the run directory {path}: {_reason(exc)}; choose another --out") \
            from exc
    return path


def _stored_step(checkpoint_file: Path) -> int:
    """The step a checkpoint was written at; memory-mapped, so a large checkpoint is not read whole."""
    import torch

    try:
        state = torch.load(checkpoint_file, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip-format torch file: the full loader gives the precise reason
        from pygan.training.checkpoint import load

        state = load(checkpoint_file)
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        from pygan.training.checkpoint import CheckpointError

        raise CheckpointError(f"{checkpoint_file} is not a pygan checkpoint (it records no step)")
    return state["step"]


def for_resume(path: str | Path, *, allow_older: bool = False) -> tuple[Path, Path]:
    """(run_dir, checkpoint_file) for `--resume PATH`: a run directory (its checkpoints/latest.pt) or a .pt
    file inside RUN/checkpoints/. A checkpoint older than latest.pt needs `allow_older` (--resume-older)."""
    given = Path(path)
    if given.is_dir():
        latest = given / "checkpoints" / LATEST
        if not latest.is_file():
            raise RunDirectoryError(f"--resume {given}: the folder has no checkpoints/{LATEST}; pass a run directory "
                                    "written by `pygan train` or a .pt file inside its checkpoints/ folder")
        return given, latest
    if not given.exists():
        raise RunDirectoryError(f"--resume {given}: no such file or folder")
    absolute = Path(os.path.abspath(given))
    run_dir = absolute.parent.parent
    if given.suffix != ".pt" or absolute.parent.name != "checkpoints" or not (run_dir / "config.toml").is_file():
        raise RunDirectoryError(
            f"--resume {given} is not a checkpoint inside a run's checkpoints/ folder (RUN/checkpoints/*.pt next "
            "to RUN/config.toml), so there is no run to continue; pass the run directory, or start a new run")
    latest = absolute.parent / LATEST
    if absolute != latest and latest.is_file() and not allow_older:
        step = _stored_step(absolute)
        try:
            newest = _stored_step(latest)
        except PyganError:  # a damaged latest.pt is what an older checkpoint recovers from
            newest = step
        if step < newest:
            raise RunDirectoryError(
                f"--resume {given} is from step {step}, older than {latest} (step {newest}); resuming from it "
                f"would replace the newer {LATEST} and drop the metrics rows after step {step}. Resume the run "
                f"with --resume {run_dir}, or pass --resume-older to go back to step {step}")
    return run_dir, absolute


def check_writable(run_dir: Path) -> None:
    """Fails now, not after a whole epoch, when the run directory or a subfolder pygan writes cannot be written."""
    run_dir = Path(run_dir)
    for folder in (run_dir, *(run_dir / sub for sub in SUBFOLDERS)):
        if folder.exists() and not folder.is_dir():
            raise RunDirectoryError(f"{folder} is a file where the run keeps a folder; move it away")
        if folder.is_dir():
            _require_writable(folder)


def clean_stale_temps(run_dir: Path) -> list[Path]:
    """Removes the temp files a save killed midway (SIGKILL, power loss) left behind; returns what it removed.
    Refuses while another process trains in run_dir: its temp files are saves in progress."""
    run_dir = Path(run_dir)
    _refuse_if_in_use(run_dir)
    removed = []
    for folder in (run_dir, *(run_dir / sub for sub in SUBFOLDERS)):
        if not folder.is_dir():
            continue
        for temp in sorted(folder.glob(".*.tmp")):
            if temp.is_file():
                temp.unlink(missing_ok=True)
                removed.append(temp)
    return removed


def last_checkpoint_note(run_dir: Path) -> str:
    """For a stop message: where the last good checkpoint is, or that there is none yet."""
    latest = Path(run_dir) / "checkpoints" / LATEST
    if not latest.is_file():
        return "no checkpoint was written yet"
    try:
        return f"the last good checkpoint is kept in {latest} (step {_stored_step(latest)})"
    except PyganError:
        return f"the last checkpoint, {latest}, cannot be read"


class RunLock:
    """An exclusive lock on run_dir/.lock while a process trains there. The kernel drops it when the process
    ends, however it ends, so a killed run never leaves a stale lock. The file itself stays (removing it would
    let a process that opened it just before hold a lock on a deleted file)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise RunDirectoryError(f"cannot create the lock file {self.path}: {_reason(exc)}; fix the folder's "
                                    "permissions or choose another --out") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise RunDirectoryError(f"{self.run_dir} is in use by another training (pid {pid or 'unknown'}); "
                                    "wait for it or choose another --out") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
