"""--threads and auto: the thread count a run takes from the cores other processes leave free."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pygan.training import threads
from pygan.training.config import Config, ConfigError

PROC_STAT = Path("/proc/stat")


def _stat(busy: int, idle: int, cpus: int = 2) -> str:
    per_cpu = "".join(f"cpu{c} {busy // cpus} 0 0 {idle // cpus} 0 0 0 0 0 0\n" for c in range(cpus))
    return f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\n{per_cpu}intr 1 2 3\n"


def test_explicit_threads_and_omp_num_threads_are_taken_as_given(monkeypatch):
    assert threads.choose(3).threads == 3
    assert threads.choose(3).reason == "--threads 3"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    choice = threads.choose(0)
    assert (choice.threads, choice.reason) == (1, "OMP_NUM_THREADS=1")


def test_load_of_other_processes_is_busy_time_minus_our_own(monkeypatch, tmp_path):
    stat = tmp_path / "stat"
    monkeypatch.setattr(threads, "_PROC_STAT", stat)
    monkeypatch.setattr(threads, "usable_cores", lambda: [0, 1])
    clock = iter([100.0, 101.0])
    own = iter([10.0, 10.5])
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: next(own))
    stat.write_text(_stat(busy=0, idle=0))
    sampler = threads.LoadSampler()
    sampler.tick = 100
    # 150 busy ticks in 1 s over both CPUs = 1.5 cores busy, of which 0.5 are ours
    stat.write_text(_stat(busy=150, idle=50))
    assert sampler.others() == pytest.approx(1.0)


def test_auto_leaves_a_core_that_another_process_keeps_busy(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "core_count", lambda: 2)
    for others, expected in ((0.0, 2), (0.4, 2), (0.6, 1), (1.0, 1), (1.9, 1), (3.0, 1)):
        monkeypatch.setattr(threads.LoadSampler, "others", lambda self, v=others: v)
        choice = threads.choose(0, sample_seconds=0.0)
        assert choice.threads == expected, (others, choice)
        assert (expected < 2) == ("busy" in choice.reason)


def test_auto_without_proc_stat_takes_every_core(monkeypatch, tmp_path):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_PROC_STAT", tmp_path / "missing")
    choice = threads.choose(0, sample_seconds=0.0)
    assert choice.threads == threads.core_count() and choice.busy_elsewhere is None


@pytest.mark.skipif(not PROC_STAT.exists(), reason="needs Linux /proc/stat")
def test_a_real_busy_process_takes_a_core_from_auto(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = threads.core_count()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # past the interpreter's start-up
        choice = threads.choose(0, sample_seconds=0.5)
    finally:
        busy.kill()
        busy.wait()
    assert choice.busy_elsewhere is not None and choice.busy_elsewhere >= 0.6, choice
    assert choice.threads == max(1, cores - 1), choice


def test_contention_watch_says_when_it_starts_and_stops(monkeypatch):
    loads = iter([1.0, 1.0, 0.0])
    monkeypatch.setattr(threads.LoadSampler, "others", lambda self: next(loads))
    watch = threads.ContentionWatch(threads=2, cores=2)
    first = watch.check()
    assert first is not None and "--threads 1 would run faster" in first and "1.0 of 2 cores" in first
    assert watch.check() is None  # said once, not every row
    assert watch.check() == "the cores are free again (2 threads)"


def test_threads_is_a_checked_config_value():
    config = Config()
    config.train.threads = -1
    with pytest.raises(ConfigError, match="--threads must lie in"):
        config.validate()


def test_a_run_logs_its_thread_count_and_restores_the_callers(tmp_path):
    from pygan.training import Trainer

    config = Config()
    config.data.plugin, config.model.arch = "ring8", "mlp"
    config.data.options = {"size": 256}
    config.train.epochs, config.train.batch_size, config.train.threads = 1, 64, 1
    config.output.out, config.output.log_every = str(tmp_path / "run"), 2
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the caller's setting differs from the run's
    try:
        summary = Trainer(config).fit()
        assert summary["threads"] == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(r["threads"] == 1 for r in rows)


def test_auto_follows_the_free_cores_down_and_back_up(monkeypatch):
    loads = iter([1.0, 1.0, 0.0, 0.0])
    monkeypatch.setattr(threads.LoadSampler, "others", lambda self: next(loads))
    before = torch.get_num_threads()
    try:
        watch = threads.ContentionWatch(threads=2, cores=2, adapt=True)
        assert "1 thread(s) from now on instead of 2" in watch.check() and torch.get_num_threads() == 1
        assert watch.check() is None and watch.threads == 1  # still busy: no change, no line
        assert watch.check() == "the cores are free again: 2 threads (auto)" and torch.get_num_threads() == 2
        assert watch.check() is None
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("arch", ["mlp"])
def test_a_run_whose_thread_count_changes_ends_with_the_same_weights(arch, tmp_path, tiny_images, monkeypatch):
    """auto may change the thread count between rows: pygan's ops and mlp's layers do not notice.
    (dcgan would: oneDNN's convolution weight gradients sum in another order with another thread
    count, which the README says; --threads N pins it.)"""
    from pygan.training import Trainer
    from tests.training.conftest import image_config, ring_config

    def config(out, threads_):
        c = ring_config(out, epochs=1, threads=threads_) if arch == "mlp" else \
            image_config(tiny_images, out, epochs=2, threads=threads_)
        c.output.log_every = 1
        return c

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        fixed = Trainer(config(tmp_path / "fixed", 1))
        fixed.fit()
        loads = iter([0.0, 1.0] * 1000)  # every row: the other core taken, then free again
        monkeypatch.setattr(threads, "core_count", lambda: 2)
        monkeypatch.setattr(threads.LoadSampler, "others", lambda self: next(loads))
        switching = Trainer(config(tmp_path / "switching", 0))
        switching.fit()
    finally:
        torch.set_num_threads(before)
    rows = [json.loads(line) for line in (tmp_path / "switching" / "metrics.jsonl").read_text().splitlines()]
    assert {r["threads"] for r in rows if "threads" in r} == {1, 2}  # it did switch
    a, b = fixed.generator.state_dict(), switching.generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    a, b = fixed.discriminator.state_dict(), switching.discriminator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cpu_quota_reads_the_processs_own_cgroup_and_its_parents(monkeypatch, tmp_path):
    root = tmp_path / "cgroup"
    (root / "user.slice" / "job").mkdir(parents=True)
    (root / "cpu.max").write_text("max 100000\n")
    (root / "user.slice" / "cpu.max").write_text("300000 100000\n")  # 3 cores
    (root / "user.slice" / "job" / "cpu.max").write_text("150000 100000\n")  # 1.5 cores: the tightest
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("0::/user.slice/job\n")
    monkeypatch.setattr(threads, "_CGROUP_ROOT", root)
    monkeypatch.setattr(threads, "_SELF_CGROUP", self_cgroup)
    assert threads.cpu_quota() == 1.5
    (root / "user.slice" / "job" / "cpu.max").write_text("max 100000\n")
    assert threads.cpu_quota() == 3.0
    v1 = root / "cpu,cpuacct" / "docker" / "abc"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("200000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    self_cgroup.write_text("4:cpu,cpuacct:/docker/abc\n")
    assert threads.cpu_quota() == 2.0
    self_cgroup.write_text("4:cpu,cpuacct:/\n")
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cpu_quota() is None
