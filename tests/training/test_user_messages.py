"""What a run tells its user: the last line says how far it got, each epoch's line shows that epoch's own
values, pygan's warnings and start notes are one clean line each, and every file a run writes gets the
mode the user's umask gives."""

from __future__ import annotations

import io
import json
import os
import stat

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from pygan.cli import app
from pygan.training import Trainer
from pygan.training.progress import RichReporter, format_extent
from tests.training.conftest import ring_config

runner = CliRunner()
# mlp on 256 ring8 points, batch 32: 8 steps an epoch
RING = ["--arch", "mlp", "--plugin", "ring8", "-o", "size=256", "--batch-size", "32",
        "--arch-option", "hidden=16", "--arch-option", "layers=2"]


def _plain(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("args", "expected"), [
    ((19525, 25, 0, 781, 25), "19525 steps, 25 epochs"),
    ((781, 1, 0, 781, 25), "781 steps, 1 of 25 epochs"),
    ((8, 1, 0, 8, 1), "8 steps, 1 epoch"),
    ((30, 0, 30, 781, 25), "30 steps (epoch 1 of 25: 30 of 781 batches)"),
    ((2373, 3, 30, 781, 25), "2373 steps (3 epochs, then epoch 4 of 25: 30 of 781 batches)"),
    ((1, 0, 1, 8, 25), "1 step (epoch 1 of 25: 1 of 8 batches)"),
])
def test_the_extent_of_a_run_in_words(args, expected):
    assert format_extent(*args) == expected


def test_a_run_shorter_than_an_epoch_says_how_far_it_got(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", *RING, "--max-steps", "5", "--log-every", "2", "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert "done: 5 steps (epoch 1 of 25: 5 of 8 batches) in" in _plain(result.output)
    assert "0 epochs" not in result.output
    assert (run / "samples" / "step-0000005.png").is_file() and (run / "training.png").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 5] and {r["epoch"] for r in rows} == {1}

    result = runner.invoke(app, ["train", "--resume", str(run), "--max-steps", "7", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(next(line for line in result.output.splitlines() if '"summary"' in line))["summary"]
    assert (summary["steps"], summary["epochs"], summary["batch_in_epoch"], summary["batches_per_epoch"],
            summary["epochs_planned"]) == (7, 0, 7, 8, 25)


def test_a_resumed_run_says_where_it_goes_on(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", *RING, "--max-steps", "11", "--out", str(run), "--quiet"]).exit_code == 0
    result = runner.invoke(app, ["train", "--resume", str(run), "--max-steps", "12"])
    assert result.exit_code == 0, result.output
    assert "resuming at step 11 (epoch 2 of 25, after 3 of its 8 batches)" in _plain(result.output)


def test_each_epoch_line_shows_its_own_row_or_says_it_has_none(tmp_path):
    """2 steps an epoch, a row every 3 steps: rows at steps 3, 6, 9, 12 fall in epochs 2, 3, 5 and 6."""
    config = ring_config(tmp_path / "run", epochs=6)
    config.data.options = {"size": 64}
    config.output.log_every = 3
    text = io.StringIO()
    reporter = RichReporter(Console(file=text, width=200, force_terminal=False))
    Trainer(config, reporter=reporter).fit()
    rows = {r["epoch"]: r for r in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())}
    lines = {int(line.split()[1].split("/")[0]): line for line in text.getvalue().splitlines()
             if line.startswith("epoch ")}
    assert sorted(lines) == [1, 2, 3, 4, 5, 6]
    assert "no metrics row yet (one every 3 steps)" in lines[1]
    assert "no metrics row this epoch (one every 3 steps; last at step 6)" in lines[4]
    for epoch in (2, 3, 5, 6):
        assert f"loss D {rows[epoch]['loss_d']:.3f}" in lines[epoch], (epoch, lines[epoch])
    assert len({lines[e].split("  ", 1)[1] for e in (2, 3, 5, 6)}) == 4  # no epoch repeats another's row


def _images(folder, n: int, side: int, corrupt: int = 0):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    for i in range(corrupt):
        (folder / f"bad-{i}.png").write_bytes(b"not a png")
    return folder


IMAGES = ["--arch", "mlp", "--plugin", "image-folder", "--arch-option", "hidden=16", "--arch-option", "layers=1"]


def test_small_images_dropped_samples_and_corrupt_files_are_said_once_in_one_line(tmp_path):
    folder = _images(tmp_path / "images", 30, 16, corrupt=1)
    result = runner.invoke(app, ["train", *IMAGES, "--data-dir", str(folder), "--image-size", "32",
                                 "--batch-size", "16", "--max-steps", "2", "--out", str(tmp_path / "run")],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("warning: skipped 1 corrupt image(s) under") == 1 and "bad-0.png" in out
    assert "UserWarning" not in out and "warnings.warn" not in out and "image_files.py" not in out
    assert _plain(out).count(f"all 30 images under '{folder}' are smaller than 32 px (the smallest: 16 px): "
                             "they are upscaled") == 1
    assert _plain(out).count("30 samples, 16 per step: each epoch leaves 14 out") == 1


def test_images_at_the_training_size_and_batches_that_fit_say_nothing(tmp_path):
    folder = _images(tmp_path / "images", 32, 16)
    result = runner.invoke(app, ["train", *IMAGES, "--data-dir", str(folder), "--image-size", "16",
                                 "--batch-size", "16", "--max-steps", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "upscaled" not in result.output and "leaves" not in result.output and "warning" not in result.output


def test_quiet_and_json_runs_still_show_pygans_warnings_on_one_line(tmp_path):
    folder = _images(tmp_path / "images", 16, 16, corrupt=1)
    for flag in ("--quiet", "--json"):
        result = runner.invoke(app, ["train", *IMAGES, "--data-dir", str(folder), "--image-size", "16",
                                     "--batch-size", "16", "--max-steps", "1", "--out", str(tmp_path / flag), flag])
        assert result.exit_code == 0, result.output
        assert result.output.count("warning: skipped 1 corrupt image(s)") == 1, result.output
        assert "UserWarning" not in result.output


def test_library_callers_keep_the_python_warning(tmp_path):
    from pygan.data.image_files import ImageFiles, ImageFolderWarning

    folder = _images(tmp_path / "images", 2, 16, corrupt=1)
    with pytest.warns(ImageFolderWarning, match="skipped 1 corrupt image"):
        files = ImageFiles(folder, 32)
    assert files.source_sizes == [(16, 16), (16, 16)] and len(files.notes()) == 1


def _modes(root) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_every_file_a_run_writes_gets_the_mode_the_umask_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        run = tmp_path / "run"
        result = runner.invoke(app, ["train", *RING, "--max-steps", "10", "--out", str(run), "--quiet"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(app, ["sample", str(run), "--out", str(tmp_path / "grid.png"), "--n", "4"])
        assert result.exit_code == 0, result.output
    finally:
        os.umask(previous)
    modes = _modes(run) | {"grid.png": _modes(tmp_path)["grid.png"]}
    for name in ("config.toml", "metrics.jsonl", "training.png", "checkpoints/latest.pt", "checkpoints/epoch-0001.pt",
                 "samples/epoch-0001.png", "samples/step-0000010.png"):
        assert name in modes, sorted(modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o666 & ~umask} == {}


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CUDA column shows where CUDA is present")
def test_info_shows_no_cuda_column_without_cuda():
    result = runner.invoke(app, ["info"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if " op " in line and "cpu" in line)
    assert "cuda" not in header and "no CUDA device here" in result.output
