"""The command line: help for every command, clear errors with exit code 2, and real runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from pygan.cli import app
from pygan.training import checkpoint as ckpt

runner = CliRunner()
RING = ["--arch", "mlp", "--plugin", "ring8", "-o", "size=256", "--batch-size", "32",
        "--arch-option", "hidden=16", "--arch-option", "layers=2"]


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["info"], ["plugins"], ["plugins", "list"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--arch", "nope"], "unknown architecture 'nope'; installed architectures: dcgan, mlp"),
    (["--plugin", "nope"], "unknown dataset 'nope'; installed datasets:"),
    (["--arch", "dcgan", "--plugin", "ring8"], "--arch dcgan cannot train on --plugin ring8"),
    (["--image-size", "48"], "power-of-two size"),
    (["--loss", "focal"], "--loss must be one of hinge, least-squares, non-saturating, relativistic, saturating"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["-o", "colour=red"], "faces: unknown option 'colour'; its options are: channels, data-dir, flip"),
    (["-o", "flip"], "expected KEY=VALUE"),
    (["--data-dir", "/no/such/folder"], "does not exist"),
    (["--device", "tpu"], "--device must be auto, cpu, cuda or cuda:N"),
    (["--precision", "half"], "--precision must be one of auto, fp32, bf16, fp16"),
    (["--precision", "fp16", "--device", "cpu"], "--precision fp16 needs a CUDA device"),
    (["--resume", "/no/such/run"], "no such file or folder"),
    (["--config", "/no/such.toml"], "does not exist"),
    (["--seed", str(2**64)], "--seed must be an integer in [0, 4294967295]"),
    (["--seed", str(2**63 - 1)], "--seed must be an integer in [0, 4294967295] (2**32 - 1, leaving room"),
    (["--seed", "-1"], "--seed must be an integer in [0, 4294967295]"),
    (["--device", "cudax"], "--device must be auto, cpu, cuda or cuda:N (N a GPU index, e.g. cuda:0), got 'cudax'"),
    (["--device", "cuda:abc"], "--device must be auto, cpu, cuda or cuda:N"),
    (["--lr", "0"], "--lr must be a finite number > 0"),
])
def test_bad_options_exit_2_with_a_message(args, message, tmp_path):
    out = [] if "--resume" in args else ["--out", str(tmp_path / "run")]
    result = runner.invoke(app, ["train", *out, *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize(("toml", "message"), [
    (b"[train]\nbeta1 = 5.0\n", "beta1 (Adam's first-moment decay) must lie in [0, 1), e.g. 0.5, got 5.0"),
    (b'[train]\ncompile = "false"\n', "[train] compile must be bool (true or false), got 'false' (str)"),
    (b"[train]\nepochs = true\n", "[train] epochs must be int (a whole number), got True (bool)"),
    (b"[data]\nplugin = \"ring8\"\n[data.options]\nsize = true\n", "ring8: option 'size' expects int, got True"),
    ('[train]\nloss = "s\u00e4turating"\n'.encode("latin-1"), "run.toml: not UTF-8 text"),
])
def test_bad_config_files_exit_2_with_a_message(toml, message, tmp_path):
    config = tmp_path / "run.toml"
    config.write_bytes(toml)
    result = runner.invoke(app, ["train", "--arch", "mlp", "--config", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_ctrl_c_while_training_sets_up_is_one_line_and_exit_130(monkeypatch, tmp_path):
    import pygan.training

    class SlowToStart:
        def __init__(self, *args, **kwargs):
            raise KeyboardInterrupt  # Ctrl-C while the data loads

    monkeypatch.setattr(pygan.training, "Trainer", SlowToStart)
    result = runner.invoke(app, ["train", *RING, "--out", str(tmp_path / "run")])
    assert result.exit_code == 130, result.output
    assert result.output.strip() == "interrupted before training started; nothing was written"
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("ring") / "run"
    result = runner.invoke(app, ["train", *RING, "--epochs", "1", "--out", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    return run


def _damaged(run, tmp_path, damage) -> str:
    state = ckpt.load(run)
    damage(state)
    path = tmp_path / "damaged.pt"
    torch.save(state, path)
    return str(path)


def _first_weight(state):
    return next(k for k, v in state["generator"].items() if v.dim() == 2)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda state: state.pop("generator"), "an incomplete pygan checkpoint: it lacks generator"),
    (lambda state: state.pop("spec"), "it lacks spec"),
    (lambda state: state["generator"].pop(_first_weight(state)), "the generator weights do not fit the network"),
    (lambda state: state["generator"].update({_first_weight(state): torch.zeros(3, 3)}),
     "of the wrong shape:"),
    (lambda state: state["generator"].update(extra=torch.zeros(1)), "unexpected extra"),
    (lambda state: state["spec"].update(shape="two"), "its data spec"),
])
def test_sample_refuses_a_checkpoint_missing_a_key_or_with_misshapen_weights(ring_run, tmp_path, damage, message):
    path = _damaged(ring_run, tmp_path, damage)
    result = runner.invoke(app, ["sample", path, "--out", str(tmp_path / "s.png")])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {path}: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "s.png").exists()


def test_sample_into_a_folder_it_cannot_write_exits_2(ring_run, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(app, ["sample", str(ring_run), "--out", str(blocker / "s.png")])
    assert result.exit_code == 2, result.output
    assert "cannot write the samples to --out" in result.output and "Traceback" not in result.output

    from pygan.training import artifacts

    def read_only(*args, **kwargs):  # as root, chmod cannot make a folder read-only: the OS error is simulated
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked" / "s.png"))

    monkeypatch.setattr(artifacts, "save_scatter", read_only)
    result = runner.invoke(app, ["sample", str(ring_run), "--out", str(tmp_path / "locked" / "s.png")])
    assert result.exit_code == 2, result.output
    assert "Permission denied" in result.output and "choose a folder you can write to" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--device", "cudax"], "--device must be cpu, cuda or cuda:N"),
    (["--seed", str(2**64)], "--seed"),
])
def test_sample_refuses_a_bad_device_or_seed(ring_run, tmp_path, args, message):
    result = runner.invoke(app, ["sample", str(ring_run), "--out", str(tmp_path / "s.png"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_train_then_sample_then_resume(tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", *RING, "--epochs", "1", "--out", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "done: 8 steps, 1 epoch in" in result.output
    assert (run / "samples" / "epoch-0001.png").is_file()
    result = runner.invoke(app, ["sample", str(run), "--out", str(tmp_path / "s.png"), "--n", "100"])
    assert result.exit_code == 0 and (tmp_path / "s.png").is_file()
    result = runner.invoke(app, ["train", "--resume", str(run), "--epochs", "2", "--log-every", "1", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert rows[-1]["summary"]["steps"] == 16 and rows[0]["step"] == 9
    result = runner.invoke(app, ["train", "--resume", str(run), "--plugin", "faces"])
    assert result.exit_code == 2 and "cannot be given with --resume" in result.output


def test_sample_an_image_run_with_a_latent_walk(tiny_images, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--plugin", "image-folder", "--data-dir", str(tiny_images),
                                 "--image-size", "16", "--arch-option", "ngf=4", "--arch-option", "ndf=4",
                                 "--batch-size", "4", "--epochs", "1", "--ema", "0.9", "--out", str(run), "-q"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sample", str(run), "--interpolate", "--n", "16", "--steps", "4",
                                 "--out", str(tmp_path / "walk.png")])
    assert result.exit_code == 0, result.output
    assert "EMA weights" in result.output and (tmp_path / "walk.png").is_file()
    result = runner.invoke(app, ["sample", str(run), "--no-grid", "--n", "3", "--out", str(tmp_path / "each")])
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [f"sample-000{i}.png" for i in range(3)]


def test_sample_refuses_a_broken_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = runner.invoke(app, ["sample", str(bad)])
    assert result.exit_code == 2 and "not a readable pygan checkpoint" in result.output


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_the_run_resumes_exactly(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run, whole = tmp_path / "run", tmp_path / "whole"
    args = [sys.executable, "-m", "pygan", "train", "--arch", "mlp", "--plugin", "ring8", "-o", "size=100000",
            "--epochs", "1", "--log-every", "1", "--quiet"]
    proc = subprocess.Popen([*args, "--out", str(run)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while not ((run / "metrics.jsonl").exists() and (run / "metrics.jsonl").stat().st_size > 0):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and f"--resume {run}" in err and "Traceback" not in err
    stopped_at = ckpt.load(run)["step"]
    assert 0 < stopped_at < 1562
    target = str(stopped_at + 20)
    subprocess.run([sys.executable, "-m", "pygan", "train", "--resume", str(run), "--max-steps", target, "-q"],
                   env=env, check=True, capture_output=True)
    subprocess.run([*args, "--out", str(whole), "--max-steps", target], env=env, check=True, capture_output=True)
    a, b = ckpt.load(run), ckpt.load(whole)
    assert a["step"] == b["step"] == int(target)
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])


def test_evaluate_a_mixture_run_and_an_image_run(tiny_images, tmp_path):
    run = tmp_path / "ring"
    assert runner.invoke(app, ["train", *RING, "--epochs", "1", "--out", str(run), "-q"]).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    coverage = report["mode_coverage"]
    assert coverage["modes_total"] == 8 and 0 <= coverage["modes_covered"] <= 8 and report["samples"] == 2500
    images = tmp_path / "images-run"
    result = runner.invoke(app, ["train", "--plugin", "image-folder", "--data-dir", str(tiny_images),
                                 "--image-size", "16", "--arch-option", "ngf=4", "--arch-option", "ndf=4",
                                 "--batch-size", "4", "--epochs", "1", "--out", str(images), "-q"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["evaluate", str(images), "--samples", "16", "--features", "pixels", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["features"].startswith("pixels") and report["frechet_distance"] > 0
    result = runner.invoke(app, ["evaluate", str(images), "--features", "/no/such.pt"])
    assert result.exit_code == 2 and "nor an existing TorchScript file" in result.output
