"""`pygan train`'s images/s against its own step's: the trainer's whole loop (data, hooks, metrics
rows, progress) and GanStep alone, built from the same RunSpec, timed interleaved in one process,
then torch.profiler over an interval of each, grouped as profile_step.py groups them, with the
time outside any torch op (Python, data, hooks) as its own line; and the step's floating-point
work (torch's FlopCounterMode) against this machine's float32 matrix-multiply rate, which bounds
how fast any implementation of the same convolutions can take a step.

    python benchmarks/train_loop_vs_step.py [--image-size 64] [--batch-size 64] [--channels 1]
        [--steps 8] [--repeats 3] [--json FILE]

The loop's figure is what a run reports: the images_per_s of a metrics row after warm-up (the
time hooks take at an epoch's end is left out of it, as the trainer leaves it out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from profile_step import ms_by_group, print_groups  # this folder's step profile: the same groups
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from pygan.training import Config, Trainer
from pygan.training.hooks import Hook, standard_hooks
from pygan.training.progress import SilentReporter


def config_for(size: int, batch: int, channels: int, steps: int, out: str) -> Config:
    """`pygan train --arch dcgan --plugin faces --image-size S --batch-size B -o channels=C`, cut
    after two metrics rows of `steps` steps each (the first holds the warm-up)."""
    config = Config()
    config.data.plugin, config.data.options = "faces", {"image-size": size, "channels": channels}
    config.model.arch = "dcgan"
    config.train.batch_size, config.train.max_steps = batch, 2 * steps
    config.output.log_every, config.output.out = steps, out
    return config


class ProfileInterval(Hook):
    """torch.profiler over the loop's steps after the first metrics row (hooks included)."""

    def __init__(self, start_step: int, end_step: int) -> None:
        self.start_step, self.end_step, self.prof, self.seconds = start_step, end_step, None, 0.0

    def on_step(self, trainer, row) -> None:
        if trainer.step == self.start_step:
            self.prof = profile(activities=[ProfilerActivity.CPU]).__enter__()
            self.t0 = time.perf_counter()
        elif trainer.step == self.end_step and self.prof is not None:
            self.seconds = time.perf_counter() - self.t0
            self.prof.__exit__(None, None, None)


def loop_images_per_s(config: Config, extra_hooks: list[Hook] | None = None) -> float:
    trainer = Trainer(config, hooks=standard_hooks(SilentReporter(), writes_files=True) + (extra_hooks or []))
    trainer.fit()
    rows = [r for r in trainer.metrics.rows if r.get("images_per_s") and not r.get("partial")]
    return rows[-1]["images_per_s"]  # the row after warm-up


def step_fn(config: Config):
    """The run's own GanStep on one batch of its data (the Trainer is built, never fit)."""
    trainer = Trainer(config, hooks=[])
    real = torch.stack([trainer.dataset[i] for i in range(config.train.batch_size)])
    return lambda: trainer.gan.train_step(real)


def grouped(prof, steps: int, seconds: float) -> dict[str, float]:
    """ms_by_group, plus the wall time no torch op accounts for."""
    totals = ms_by_group(prof, steps)
    totals["outside torch ops (Python, data, hooks)"] = max(0.0, seconds * 1e3 / steps - sum(totals.values()))
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def sgemm_gflops(n: int = 2048, repeats: int = 7) -> float:
    """This machine's float32 matrix-multiply rate (median of `repeats`), GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def step_gflop(step) -> float:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from pygan.bench.report import describe, machine

    size, batch, n = args.image_size, args.batch_size, args.steps
    loop, alone = [], []
    with tempfile.TemporaryDirectory() as tmp:
        step = step_fn(config_for(size, batch, args.channels, n, f"{tmp}/step"))
        step()
        step()
        for r in range(args.repeats):  # interleaved: a drift of the machine hits both
            loop.append(loop_images_per_s(config_for(size, batch, args.channels, n, f"{tmp}/loop{r}")))
            start = time.perf_counter()
            for _ in range(n):
                step()
            alone.append(batch * n / (time.perf_counter() - start))
        hook = ProfileInterval(n, 2 * n)
        loop_images_per_s(config_for(size, batch, args.channels, n, f"{tmp}/profiled"), [hook])
        profiles = {"pygan train (loop)": grouped(hook.prof, n, hook.seconds)}
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            for _ in range(n):
                step()
            seconds = time.perf_counter() - start
        profiles["GanStep alone"] = grouped(prof, n, seconds)
        gflop, sgemm = step_gflop(step), sgemm_gflops()
    loop_median, step_median = statistics.median(loop), statistics.median(alone)
    print(f"dcgan on faces, {size} px, {args.channels} channel(s), batch {batch}; medians of {args.repeats} "
          f"interleaved repeats of {n} steps after {n} of warm-up")
    print(f"pygan train (its metrics row): {loop_median:.1f} images/s  {[round(v, 1) for v in loop]}")
    print(f"GanStep alone:                 {step_median:.1f} images/s  {[round(v, 1) for v in alone]}")
    print(f"loop / step: {loop_median / step_median:.3f}")
    step_ms = batch / step_median * 1e3
    print(f"the step's work: {gflop:.1f} GFLOP (convolutions, forward and backward), {gflop / step_ms * 1e3:.0f} "
          f"GFLOP/s at the median step; this machine's float32 matmul (2048^2): {sgemm:.0f} GFLOP/s, at which the "
          f"same work takes {gflop / sgemm * 1e3:.0f} ms")
    print()
    print_groups(profiles)
    info = machine()
    print(describe(info))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "size": size, "batch": batch, "channels": args.channels,
                                         "steps": n, "loop_images_per_s": loop, "step_images_per_s": alone,
                                         "ms_per_step": profiles, "step_gflop": gflop, "sgemm_gflops": sgemm},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
