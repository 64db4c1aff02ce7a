"""`--tensorboard`: the metrics rows (evaluations too) as scalars and every sample grid as an image,
read back from the event files; a resumed run adds only what came after its checkpoint."""

from __future__ import annotations

import pytest

from pygan.training import Trainer
from pygan.training.errors import TrainingError
from pygan.training.tensorboard_log import scalars
from tests.training.conftest import image_config

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                        reason="needs the tensorboard package (pip install tensorboard)")


def _events(run_dir):
    events = event_accumulator.EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    return events


def test_a_run_writes_its_scalars_and_grids_beside_metrics_jsonl(tiny_images, tmp_path):
    config = image_config(tiny_images, tmp_path / "run", epochs=2, eval_every=1, eval_features="pixels")
    config.output.tensorboard = True
    Trainer(config).fit()
    events = _events(tmp_path / "run")
    tags = events.Tags()
    assert {"loss_d", "loss_g", "d_real", "d_fake", "eval/frechet_distance", "eval/kid"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("eval/frechet_distance")] == [2, 4]  # 2 steps an epoch
    assert len(events.Scalars("loss_d")) == 4
    images = events.Images("samples")
    assert len(images) == 2 and images[0].width > 0  # one grid per epoch, as samples/ holds them
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
    assert len(list((tmp_path / "run" / "samples").glob("*.png"))) == 2

    resumed = Trainer(image_config(tiny_images, tmp_path / "run"), resume_from=tmp_path / "run",
                      overrides={("train", "epochs"): 3})
    resumed.fit()
    events = _events(tmp_path / "run")
    assert [e.step for e in events.Scalars("loss_d")] == [1, 2, 3, 4, 5, 6]
    assert len(events.Images("samples")) == 3


def test_scalars_flatten_reports_and_skip_what_is_not_a_number():
    row = {"step": 3, "epoch": 1, "loss_d": 0.5, "partial": True, "eval": {"kid": 0.1, "features": "pixels",
                                                                         "kid_std": None, "nan": float("nan")}}
    assert dict(scalars(row)) == {"loss_d": 0.5, "eval/kid": 0.1}


def test_without_the_package_the_run_refuses_to_start(tiny_images, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("no tensorboard")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    config = image_config(tiny_images, tmp_path / "run")
    config.output.tensorboard = True
    with pytest.raises(TrainingError, match="--tensorboard needs the tensorboard package: pip install tensorboard"):
        Trainer(config).fit()
