"""The one atomic writer: the old file survives any failure, no temp file is left, modes follow the umask."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import pytest
import torch

from pygan import atomic
from pygan.atomic import WriteError, atomic_output, write_bytes_atomic, write_text_atomic
from pygan.errors import PyganError
from pygan.training import checkpoint
from pygan.training.metrics_log import MetricsLog


def _temps(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    write_text_atomic("old", target)
    write_text_atomic("new ü", target)
    assert target.read_text(encoding="utf-8") == "new ü"
    assert _temps(target.parent) == []


def test_a_failed_rename_keeps_the_old_file_and_removes_the_temp(tmp_path, monkeypatch):
    target = tmp_path / "grid.png"
    write_bytes_atomic(b"old", target)
    monkeypatch.setattr(atomic.os, "replace", _enospc)
    with pytest.raises(WriteError, match="no space left on device") as caught:
        write_bytes_atomic(b"new", target)
    assert str(target) in str(caught.value) and isinstance(caught.value, PyganError)
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old"
    assert _temps(tmp_path) == []


def test_a_disk_full_midway_through_a_checkpoint_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "checkpoints" / "latest.pt"
    checkpoint.save_atomic({"step": 1}, target)

    def half_written(obj, f):
        f.write(b"x" * 1000)
        _enospc()

    monkeypatch.setattr(checkpoint.torch, "save", half_written)
    with pytest.raises(WriteError, match=re.escape(f"cannot write {target}: no space left on device")):
        checkpoint.save_atomic({"step": 2}, target)
    monkeypatch.undo()
    assert checkpoint.load(target)["step"] == 1
    assert _temps(target.parent) == []


@pytest.mark.parametrize("failure", [KeyboardInterrupt, ValueError])
def test_an_interrupted_write_removes_the_temp_and_reraises(tmp_path, failure):
    target = tmp_path / "metrics.jsonl"
    write_text_atomic("old\n", target)
    with pytest.raises(failure), atomic_output(target, "w") as f:
        f.write("partial")
        raise failure()
    assert target.read_text() == "old\n"
    assert _temps(tmp_path) == []


def test_a_folder_that_cannot_be_created_is_a_write_error(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(WriteError, match=r"cannot write .*a-file/x\.png: .*a-file is a file, not a folder"):
        write_bytes_atomic(b"", tmp_path / "a-file" / "x.png")


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_every_written_file_gets_the_mode_the_umask_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        write_bytes_atomic(b"png", tmp_path / "grid.png")
        write_text_atomic("[train]\n", tmp_path / "config.toml")
        checkpoint.save_atomic({"step": 0, "w": torch.zeros(2)}, tmp_path / "latest.pt")
        (tmp_path / "plain.txt").write_text("")  # what open() gives, for comparison
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(["grid.png", "config.toml", "latest.pt", "plain.txt"], 0o666 & ~umask)


def test_metrics_rewrite_is_atomic_and_a_full_disk_on_append_is_a_write_error(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    log.append({"step": 1})
    log.append({"step": 2})
    monkeypatch.setattr(atomic.os, "replace", _enospc)
    with pytest.raises(WriteError, match="no space left on device"):
        log.truncate_after(1)
    assert path.read_text().count("\n") == 2 and _temps(tmp_path) == []
    if Path("/dev/full").exists():  # a real full device: every write fails with ENOSPC
        log.path = Path("/dev/full")
        with pytest.raises(WriteError, match="cannot write /dev/full: no space left on device"):
            log.append({"step": 3})
