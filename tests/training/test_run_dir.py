"""The run directory's safety (issue items 7-12 and --out that is a file): tested on run_dir's functions directly."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pygan
from pygan.errors import PyganError
from pygan.training import checkpoint
from pygan.training.run_dir import (
    RunDirectoryError,
    RunLock,
    check_writable,
    clean_stale_temps,
    for_new_run,
    for_resume,
    last_checkpoint_note,
)

REPO = Path(pygan.__file__).resolve().parents[1]
HOLD_LOCK = ("import sys\nfrom pygan.training.run_dir import RunLock\n"
             "with RunLock(sys.argv[1]):\n    print('locked', flush=True)\n    sys.stdin.read()\n")


def _run(root: Path, step: int = 3) -> Path:
    """A run directory as `pygan train` leaves it: config.toml, metrics rows, checkpoints/latest.pt at `step`."""
    run = for_new_run(root / "run")
    (run / "config.toml").write_text("[train]\n")
    (run / "metrics.jsonl").write_text("".join(f'{{"step": {s}}}\n' for s in range(1, step + 1)))
    checkpoint.save_atomic({"step": step}, run / "checkpoints" / "latest.pt")
    return run


@contextlib.contextmanager
def _locked_by_another_process(run_dir: Path) -> Iterator[subprocess.Popen]:
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], cwd=REPO, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "locked"
        yield child
    finally:
        child.kill()
        child.wait()


def test_item7_a_checkpoint_outside_a_runs_checkpoints_folder_is_refused(tmp_path):
    unrelated = tmp_path / "project"
    (unrelated / "models").mkdir(parents=True)
    (unrelated / "config.toml").write_text("mine = 1\n")
    (unrelated / "metrics.jsonl").write_text('{"step": 1}\n')
    stray = unrelated / "models" / "copy.pt"
    checkpoint.save_atomic({"step": 1}, stray)
    with pytest.raises(RunDirectoryError, match=r"is not a checkpoint inside a run's checkpoints/ folder"):
        for_resume(stray)
    # A folder merely named checkpoints is not a run either, without RUN/config.toml beside it.
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(stray, tmp_path / "checkpoints" / "copy.pt")
    with pytest.raises(RunDirectoryError, match="no run to continue"):
        for_resume(tmp_path / "checkpoints" / "copy.pt")
    assert (unrelated / "config.toml").read_text() == "mine = 1\n"
    assert (unrelated / "metrics.jsonl").read_text() == '{"step": 1}\n'


def test_item7_a_run_directory_or_a_checkpoint_inside_it_resumes_that_run(tmp_path):
    run = _run(tmp_path)
    assert for_resume(run) == (run, run / "checkpoints" / "latest.pt")
    assert for_resume(run / "checkpoints" / "latest.pt") == (run.absolute(), run.absolute() / "checkpoints" /
                                                            "latest.pt")
    with pytest.raises(RunDirectoryError, match=r"has no checkpoints/latest\.pt"):
        for_resume(tmp_path)
    with pytest.raises(RunDirectoryError, match="no such file or folder"):
        for_resume(tmp_path / "missing.pt")


def test_item8_a_second_process_cannot_train_in_a_locked_run_directory(tmp_path):
    run = _run(tmp_path)
    with _locked_by_another_process(run) as child:
        message = re.escape(f"{run} is in use by another training (pid {child.pid}); wait for it or choose another")
        with pytest.raises(RunDirectoryError, match=message), RunLock(run):
            pass
        with pytest.raises(RunDirectoryError, match="is in use by another training"):
            clean_stale_temps(run)  # its temp files are saves in progress
        with pytest.raises(RunDirectoryError, match="is in use by another training"):
            for_new_run(run)
        child.send_signal(signal.SIGKILL)  # a killed training leaves no stale lock behind
        child.wait()
        with RunLock(run):
            assert clean_stale_temps(run) == []  # the holder itself may clean


def test_item8_the_lock_is_released_on_exit(tmp_path):
    run = for_new_run(tmp_path / "run")
    with RunLock(run):
        pass
    with RunLock(run):
        pass


def test_item9_an_existing_run_directory_is_never_overwritten(tmp_path):
    run = tmp_path / "old"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text("[train]\n")
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    (run / "checkpoints" / "epoch-0001.pt").write_bytes(b"kept")  # no latest.pt
    with pytest.raises(RunDirectoryError) as caught:
        for_new_run(run)
    message = str(caught.value)
    assert "never overwritten" in message and f"--resume {run}" in message and "choose a new --out" in message
    assert "config.toml" in message
    assert (run / "metrics.jsonl").read_text() == '{"step": 1}\n'
    assert (run / "checkpoints" / "epoch-0001.pt").read_bytes() == b"kept"


def test_item9_an_empty_folder_or_one_left_by_a_failed_start_is_a_new_run(tmp_path):
    fresh = for_new_run(tmp_path / "a" / "b")
    assert sorted(p.name for p in fresh.iterdir()) == ["checkpoints", "samples"]
    with RunLock(fresh):
        pass
    (fresh / "checkpoints" / ".latest.pt.x1y2.tmp").write_bytes(b"")
    assert for_new_run(fresh) == fresh  # only the lock, a temp and empty folders: nothing to lose


def test_item10_an_epoch_file_older_than_latest_needs_the_explicit_option(tmp_path):
    run = _run(tmp_path, step=16)
    older = run / "checkpoints" / "epoch-0001.pt"
    checkpoint.save_atomic({"step": 8}, older)
    with pytest.raises(RunDirectoryError) as caught:
        for_resume(older)
    message = str(caught.value)
    assert "step 8" in message and "step 16" in message and "--resume-older" in message
    assert "replace the newer latest.pt" in message and "drop the metrics rows after step 8" in message
    assert checkpoint.load(run / "checkpoints" / "latest.pt")["step"] == 16
    assert for_resume(older, allow_older=True) == (run.absolute(), older.absolute())
    same = run / "checkpoints" / "epoch-0002.pt"
    checkpoint.save_atomic({"step": 16}, same)
    assert for_resume(same)[1] == same.absolute()  # the epoch file of latest's own step loses nothing


@contextlib.contextmanager
def _unwritable(folder: Path, monkeypatch) -> Iterator[None]:
    """`folder` made really unwritable: chmod, or for root (whom chmod does not stop) the immutable flag; only
    where neither works, os.access reports it unwritable."""
    folder.chmod(0o555)
    immutable = False
    try:
        probe = folder / "probe"
        try:
            probe.write_text("")
            probe.unlink()
            immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
            if not immutable:
                real_access = os.access
                monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != folder and real_access(p, mode))
        except PermissionError:
            pass  # chmod did it
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_item11_a_read_only_checkpoints_folder_fails_at_start(tmp_path, monkeypatch):
    run = _run(tmp_path)
    check_writable(run)
    with _unwritable(run / "checkpoints", monkeypatch):
        with pytest.raises(RunDirectoryError, match=re.escape(f"{run / 'checkpoints'} is not writable (")):
            check_writable(run)


def test_item11_a_read_only_parent_of_out_fails_before_anything_is_created(tmp_path, monkeypatch):
    parent = tmp_path / "readonly"
    parent.mkdir()
    with _unwritable(parent, monkeypatch):
        with pytest.raises(RunDirectoryError, match="is not writable"):
            for_new_run(parent / "run")
    assert list(parent.iterdir()) == []


def test_item12_stale_temp_files_of_a_killed_save_are_removed(tmp_path):
    run = _run(tmp_path)
    stale = [run / "checkpoints" / ".latest.pt.k3j2h1.tmp", run / "samples" / ".epoch-0001.png.a8b7.tmp",
             run / ".config.toml.q1w2.tmp", run / ".write-check.z9x8.tmp"]
    for temp in stale:
        temp.write_bytes(b"\0" * 100)
    with RunLock(run):
        removed = clean_stale_temps(run)
    assert sorted(removed) == sorted(stale)
    assert not any(t.exists() for t in stale)
    assert checkpoint.load(run / "checkpoints" / "latest.pt")["step"] == 3 and (run / "config.toml").exists()


def test_item12_the_stop_message_says_whether_a_checkpoint_exists(tmp_path):
    run = for_new_run(tmp_path / "run")
    assert last_checkpoint_note(run) == "no checkpoint was written yet"
    checkpoint.save_atomic({"step": 42}, run / "checkpoints" / "latest.pt")
    assert last_checkpoint_note(run) == f"the last good checkpoint is kept in {run}/checkpoints/latest.pt (step 42)"


def test_out_that_is_a_file_or_lies_under_a_file_is_refused(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    with pytest.raises(RunDirectoryError, match=re.escape(f"--out {a_file} is a file, not a folder")):
        for_new_run(a_file)
    with pytest.raises(RunDirectoryError, match=re.escape(f"lies under {a_file}, which is a file")):
        for_new_run(a_file / "deeper" / "run")
    assert a_file.read_text() == "keep"
    assert issubclass(RunDirectoryError, PyganError)
