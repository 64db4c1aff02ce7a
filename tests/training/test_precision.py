"""--precision, --channels-last and --compile: what a run chooses, records and still learns with."""

from __future__ import annotations

import json
import tomllib

import pytest
import torch

from pygan.training import Trainer
from pygan.training import precision as prec
from pygan.training.config import ConfigError
from tests.training.conftest import image_config, ring_config


def _saved_train(run) -> dict:
    return tomllib.loads((run / "config.toml").read_text())["train"]


def test_auto_picks_by_device_and_model():
    cpu = torch.device("cpu")
    assert prec.resolve("auto", cpu, image_model=False).name == "fp32"
    expected = "bf16" if "amx_bf16" in prec.cpu_bf16_features() else "fp32"
    chosen = prec.resolve("auto", cpu, image_model=True)
    assert chosen.name == expected and chosen.reason.startswith("auto")
    assert prec.resolve("bf16", cpu, image_model=False).autocast_dtype == torch.bfloat16
    assert not prec.resolve("bf16", cpu, image_model=True).needs_grad_scaler
    with pytest.raises(ConfigError, match=r"--precision fp16 needs a CUDA device.*bf16 or fp32"):
        prec.resolve("fp16", cpu, image_model=True)
    with pytest.raises(ConfigError, match="--precision must be one of auto, fp32, bf16, fp16"):
        prec.resolve("half", cpu, image_model=True)


def test_the_run_config_records_what_was_chosen(tiny_images, tmp_path):
    Trainer(image_config(tiny_images, tmp_path / "conv")).fit()
    saved = _saved_train(tmp_path / "conv")
    assert saved["precision"] == ("bf16" if "amx_bf16" in prec.cpu_bf16_features() else "fp32")
    assert saved["channels_last"] is True
    Trainer(ring_config(tmp_path / "mlp", epochs=1)).fit()
    saved = _saved_train(tmp_path / "mlp")
    assert saved["precision"] == "fp32" and saved["channels_last"] is False  # no convolutions to speed up


def test_channels_last_models_and_batches(tiny_images, tmp_path):
    trainer = Trainer(image_config(tiny_images, tmp_path / "run", precision="fp32"))
    conv = next(m for m in trainer.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    seen = []
    hook = trainer.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    trainer.fit()
    hook.remove()
    assert seen and all(x.is_contiguous(memory_format=torch.channels_last) for x in seen)
    off = Trainer(image_config(tiny_images, tmp_path / "off", precision="fp32", channels_last=False))
    conv = next(m for m in off.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous() and not off.config.train.channels_last


def test_bf16_training_is_finite_deterministic_and_keeps_float32_weights(tiny_images, tmp_path):
    runs = [Trainer(image_config(tiny_images, tmp_path / name, precision="bf16", epochs=2)) for name in "ab"]
    for run in runs:
        run.fit()
    a, b = (dict(r.generator.state_dict()) for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in runs[0].generator.parameters())
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert all(0 < r["d_real"] < 1 for r in rows if "d_real" in r)


def test_bf16_and_fp32_runs_start_from_the_same_place_and_stay_close(tmp_path):
    # Same seed: bfloat16 changes rounding, not the recipe; after a short run the losses agree
    # to within bfloat16's precision, not bit for bit.
    fp32 = Trainer(ring_config(tmp_path / "fp32", epochs=1, precision="fp32"))
    bf16 = Trainer(ring_config(tmp_path / "bf16", epochs=1, precision="bf16"))
    assert all(torch.equal(p, q) for p, q in zip(fp32.generator.parameters(), bf16.generator.parameters(),
                                                  strict=True))
    last32, last16 = fp32.fit()["last"], bf16.fit()["last"]
    assert abs(last32["loss_d"] - last16["loss_d"]) < 0.05 * last32["loss_d"]


@pytest.mark.slow
def test_compile_trains_like_eager_and_reports_its_compile_time(tmp_path):
    torch._dynamo.reset()
    eager = Trainer(ring_config(tmp_path / "eager", epochs=1))
    compiled = Trainer(ring_config(tmp_path / "compiled", epochs=1, compile=True))
    eager.fit()
    summary = compiled.fit()
    assert summary["compile_seconds"] > 0
    rows = [json.loads(line) for line in (tmp_path / "compiled" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["compile_seconds"] == summary["compile_seconds"]
    for p, q in zip(eager.generator.parameters(), compiled.generator.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)
    assert _saved_train(tmp_path / "compiled")["compile"] is True


def test_bf16_forced_on_a_cpu_without_bf16_instructions_is_warned_about(monkeypatch):
    monkeypatch.setattr(prec, "cpu_bf16_features", lambda: ())
    chosen = prec.resolve("bf16", torch.device("cpu"), image_model=True)
    assert chosen.name == "bf16" and "without bfloat16 instructions" in chosen.warning
    assert prec.resolve("auto", torch.device("cpu"), image_model=True).warning is None
    monkeypatch.setattr(prec, "cpu_bf16_features", lambda: ("avx512_bf16",))
    assert prec.resolve("bf16", torch.device("cpu"), image_model=True).warning is None
