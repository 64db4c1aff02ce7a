"""Data-parallel training under torchrun, CPU and gloo, 2 processes on this machine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pygan.training import checkpoint as ckpt

WORKER = Path(__file__).with_name("dist_worker.py")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def torchrun(nproc: int, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={nproc}", str(WORKER), *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def assert_close(a: dict, b: dict, exact: bool = False) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if exact:
            assert torch.equal(a[k], b[k]), k
        else:
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_two_processes_train_and_keep_identical_weights(tmp_path):
    result = torchrun(2, str(tmp_path), "3", "32")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_close(weights(tmp_path / "rank-0.pt"), weights(tmp_path / "rank-1.pt"), exact=True)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]  # written once, by rank 0
    assert ckpt.load(tmp_path / "run")["step"] == 3


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir(), one.mkdir()
    result = torchrun(2, str(two), "6", "64")
    assert result.returncode == 0, result.stderr[-3000:]
    result = torchrun(1, str(one), "6", "64")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_close(weights(two / "rank-0.pt"), weights(one / "rank-0.pt"))
    rows2 = [json.loads(x) for x in (two / "run" / "metrics.jsonl").read_text().splitlines()]
    rows1 = [json.loads(x) for x in (one / "run" / "metrics.jsonl").read_text().splitlines()]
    for r2, r1 in zip(rows2, rows1, strict=True):  # metrics are reduced over both ranks
        assert abs(r2["loss_d"] - r1["loss_d"]) < 1e-4 and abs(r2["d_real"] - r1["d_real"]) < 1e-4


def test_two_processes_match_one_process_with_labels(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir(), one.mkdir()
    for folder, nproc in ((two, 2), (one, 1)):
        result = torchrun(nproc, str(folder), "4", "64", "--labels")
        assert result.returncode == 0, result.stderr[-3000:]
    assert "d.projection.embed.weight" in weights(one / "rank-0.pt")
    assert_close(weights(two / "rank-0.pt"), weights(one / "rank-0.pt"))


def test_a_two_process_checkpoint_resumes_in_one_process(tmp_path):
    split, whole = tmp_path / "split", tmp_path / "whole"
    split.mkdir(), whole.mkdir()
    result = torchrun(2, str(split), "4", "64")
    assert result.returncode == 0, result.stderr[-3000:]
    result = torchrun(1, str(split), "8", "64", "--resume")
    assert result.returncode == 0, result.stderr[-3000:]
    assert ckpt.load(split / "run")["step"] == 8
    result = torchrun(1, str(whole), "8", "64")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_close(weights(split / "rank-0.pt"), weights(whole / "rank-0.pt"))


def test_a_killed_rank_stops_the_run_with_a_usable_checkpoint(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(WORKER), str(tmp_path), "0", "32", "--pid-dir", str(pids)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    deadline = time.time() + 180
    while not (latest.exists() and (pids / "rank-1.pid").exists()):  # an epoch ended: a checkpoint exists
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.1)
    killed_at = time.time()
    os.kill(int((pids / "rank-1.pid").read_text()), signal.SIGKILL)
    _, err = proc.communicate(timeout=150)
    assert proc.returncode != 0
    assert time.time() - killed_at < 150  # no hang
    assert "rank" in err.lower() and ("fail" in err.lower() or "signal" in err.lower())
    shutil.copy(latest, tmp_path / "copy.pt")
    assert ckpt.load(tmp_path / "copy.pt")["step"] > 0


def _gather_worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    from pygan.training.distributed import DistContext

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        gathered = DistContext(rank=rank, world=2).gather(torch.full((3, 1), float(rank)) + torch.arange(3.0)[:, None])
        torch.save(gathered, Path(out_dir) / f"gathered-{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_gather_gives_every_rank_the_scores_of_all_ranks(tmp_path):
    # ADA adjusts p from sign(D(x)) over the global batch, so every rank must see the same scores
    torch.multiprocessing.spawn(_gather_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    expected = torch.tensor([0.0, 1, 2, 1, 2, 3])[:, None]
    for rank in (0, 1):
        assert torch.equal(torch.load(tmp_path / f"gathered-{rank}.pt"), expected)
