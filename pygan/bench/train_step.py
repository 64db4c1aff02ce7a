"""`pygan bench train`: images/s of a full DCGAN training step (64 px, batch 64) in the settings a
user can pick, against the same model in plain eager PyTorch (the pytorch/examples DCGAN:
nn.LeakyReLU, nn.BatchNorm2d, BCEWithLogitsLoss, float32, contiguous tensors).

Every pygan variant runs `GanStep`, the trainer's own step object, built from the RunSpec that
`pygan train --arch dcgan --plugin faces --option channels=3` with the variant's --precision,
--channels-last and --compile resolves to: the bench times exactly the step a run trains with.
Timings are interleaved medians after warm-up; the
first call of a compiled variant is reported as its compile time, not timed with the rest.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pygan import plugins
from pygan.ops import BatchNormLeakyReLU, FusedLeakyReLU
from pygan.training.config import Config
from pygan.training.run_spec import RunSpec, resolve
from pygan.training.step import GanStep


@dataclass(frozen=True)
class Variant:
    label: str
    pygan: bool          # pygan's fused models and losses (else the plain eager model)
    precision: str       # as --precision
    channels_last: bool
    compile: bool = False


VARIANTS = (
    Variant("plain eager fp32", pygan=False, precision="fp32", channels_last=False),
    Variant("pygan fp32", pygan=True, precision="fp32", channels_last=True),
    Variant("pygan fp32 NCHW", pygan=True, precision="fp32", channels_last=False),
    Variant("pygan auto", pygan=True, precision="auto", channels_last=True),
    Variant("pygan bf16", pygan=True, precision="bf16", channels_last=True),
    Variant("pygan fp32 --compile", pygan=True, precision="fp32", channels_last=True, compile=True),
    Variant("pygan auto --compile", pygan=True, precision="auto", channels_last=True, compile=True),
)
BASELINE = "plain eager fp32"
# Forced bfloat16 on a CPU without bfloat16 instructions runs emulated: 42.6 s a step against 1.0 s in
# fp32 on an AMD EPYC (Zen 3, AVX2); timing it would take most of the bench's run.
BF16_SKIPPED = ("pygan bf16: skipped, this CPU has no bfloat16 instructions (no AVX512-BF16, no AMX), where it "
                "measured 0.02x fp32 (AMD EPYC Zen 3, benchmarks/cpu-train-epyc-zen3-bf16.txt); --bf16 times it anyway")


def choose_variants(device: torch.device, with_compile: bool,
                    bf16: bool | None) -> tuple[tuple[Variant, ...], list[str]]:
    """The variants to time and a note for each one left out. bf16=None: the forced-bf16 variant only
    where bfloat16 runs natively (CUDA, or a CPU with AVX512-BF16/AMX)."""
    from pygan.training.precision import cpu_bf16_features

    if bf16 is None:
        bf16 = device.type == "cuda" or bool(cpu_bf16_features())
    skipped = [] if bf16 else [BF16_SKIPPED]
    chosen = tuple(v for v in VARIANTS if (with_compile or not v.compile) and (bf16 or v.precision != "bf16"))
    return chosen, skipped


def plain_copy(net: nn.Module) -> nn.Module:
    """A dcgan generator or discriminator with pygan's fused layers swapped for plain PyTorch ones
    (nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU): at 64 px, the pytorch/examples DCGAN."""
    layers: list[nn.Module] = []
    for m in net.net:
        act = None
        if isinstance(m, FusedLeakyReLU):
            act = m.negative_slope
        elif isinstance(m, BatchNormLeakyReLU):
            layers.append(nn.BatchNorm2d(m.num_features))
            act = m.negative_slope
        else:
            layers.append(copy.deepcopy(m))
        if act is not None:
            layers.append(nn.ReLU(inplace=True) if act == 0.0 else nn.LeakyReLU(act, inplace=True))
    plain = copy.deepcopy(net)
    plain.net = nn.Sequential(*layers)
    return plain


def _plain_step(device: torch.device, size: int, batch: int) -> Callable[[], None]:
    """The pytorch/examples DCGAN step: plain layers, BCEWithLogitsLoss, stock Adam, contiguous tensors."""
    arch = plugins.get_architecture("dcgan")
    spec = plugins.DataSpec((3, size, size))
    options = plugins.resolve_options("dcgan", arch.options, {})
    torch.manual_seed(0)
    models = arch.build(spec, options)
    g, d = plain_copy(models.generator).to(device), plain_copy(models.discriminator).to(device)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (g, d))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    latent = int(options["latent_dim"])

    def step() -> None:
        fake = g(torch.randn(batch, latent, device=device))
        real_out, fake_out = d(real), d(fake.detach())
        loss = bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        out = d(fake)
        loss = bce(out, torch.ones_like(out))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()

    return step


def run_spec(variant: Variant, device: torch.device, size: int, batch: int, **train: Any) -> RunSpec:
    """The run `pygan train --arch dcgan --plugin faces --option channels=3` would resolve for this variant."""
    config = Config()
    config.data.plugin, config.data.options = "faces", {"channels": 3, "image-size": size}
    config.model.arch = "dcgan"
    config.train.batch_size, config.train.device = batch, device.type
    config.train.precision, config.train.channels_last, config.train.compile = (variant.precision,
                                                                                variant.channels_last, variant.compile)
    for key, value in train.items():
        setattr(config.train, key, value)
    return resolve(config)


def _step_fn(variant: Variant, device: torch.device, size: int, batch: int) -> tuple[Callable[[], None], str]:
    if not variant.pygan:
        return _plain_step(device, size, batch), "fp32"
    gan = GanStep(run_spec(variant, device, size, batch), device=device)  # the trainer's own step
    real = (torch.rand(batch, 3, size, size, device=device) * 2 - 1).contiguous(memory_format=gan.memory_format)
    return (lambda: gan.train_step(real)), gan.precision.name


def _timed(fn: Callable[[], None], device: torch.device, steps: int) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def run(device: torch.device, size: int = 64, batch: int = 64, steps: int = 4, repeats: int = 3,
        variants: tuple[Variant, ...] = VARIANTS, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    steps_by_label: dict[str, Callable[[], None]] = {}
    info: dict[str, dict[str, Any]] = {}
    for v in variants:
        if progress:
            progress(f"building {v.label}")
        fn, precision = _step_fn(v, device, size, batch)
        first = _timed(fn, device, 1)  # compiles, for --compile variants
        fn()
        steps_by_label[v.label] = fn
        info[v.label] = {"precision": precision, "channels_last": v.channels_last, "compile": v.compile,
                         "compile_seconds": first if v.compile else None}
    seconds: dict[str, list[float]] = {label: [] for label in steps_by_label}
    for r in range(repeats):  # interleaved, so that drifts of a shared machine hit every variant
        for label, fn in steps_by_label.items():
            if progress:
                progress(f"repeat {r + 1}/{repeats}: {label}")
            seconds[label].append(_timed(fn, device, steps))
    base = statistics.median(seconds[BASELINE]) if BASELINE in seconds else None
    rows = []
    for label, s in seconds.items():
        median = statistics.median(s)
        rows.append({"provider": label, **info[label], "median_ms_per_step": median * 1e3,
                     "images_per_s": batch / median, "speedup_vs_plain_eager": base / median if base else None,
                     "repeats": repeats, "steps_per_repeat": steps})
    return {"size": size, "batch": batch, "rows": rows, "skipped": []}
