"""`pygan bench train`: images/s of a full DCGAN training step (64 px, batch 64) in the settings a
user can pick, against the same model in plain eager PyTorch (the pytorch/examples DCGAN:
nn.LeakyReLU, nn.BatchNorm2d, BCEWithLogitsLoss, float32, contiguous tensors).

Every pygan variant runs `GanStep`, the trainer's own step object, built from the RunSpec that
`pygan train --arch dcgan --plugin faces --option channels=3` with the variant's --precision,
--channels-last, --compile, --loss and --reg resolves to: the bench times exactly the step a run
trains with. Timings are interleaved medians after warm-up; the first call of a compiled variant
is reported as its compile time, not timed with the rest.

The penalty variants (lazy R1, WGAN-GP) compare against the same step in plain PyTorch: the plain
model, the same loss in plain ops and the penalty through torch.autograd.grad(create_graph=True).
torch.compile cannot take the penalty's double backward through a compiled D; such a variant is
reported as not timed, with torch's reason.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from pygan.bench.plain_step import DEFAULT_OBJECTIVE, LAZY_R1, WGAN_GP, Objective, plain_step
from pygan.ops.conv import set_weight_grad, weight_grad_rule
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
    objective: Objective = DEFAULT_OBJECTIVE
    augment: bool = False  # DiffAugment color,translation,cutout on every batch D sees
    weight_grad: str = "auto"  # the convolutions' weight gradient (pygan.ops.conv): auto, pygan or aten


VARIANTS = (
    Variant("plain eager fp32", pygan=False, precision="fp32", channels_last=False),
    Variant("pygan fp32", pygan=True, precision="fp32", channels_last=True),
    Variant("pygan fp32 NCHW", pygan=True, precision="fp32", channels_last=False),
    # What pygan's convolution weight gradient gives, where the rule picks it (CPUs without AVX-512).
    Variant("pygan fp32, oneDNN weight grads", pygan=True, precision="fp32", channels_last=True, weight_grad="aten"),
    Variant("pygan auto", pygan=True, precision="auto", channels_last=True),
    Variant("pygan bf16", pygan=True, precision="bf16", channels_last=True),
    Variant("pygan fp32 --compile", pygan=True, precision="fp32", channels_last=True, compile=True),
    Variant("pygan auto --compile", pygan=True, precision="auto", channels_last=True, compile=True),
)
BASELINE = "plain eager fp32"
# Opt-in (--penalties): a WGAN-GP step adds a forward, a backward and a double backward through D,
# and a lazy one's repeat holds a whole interval of 16 steps: together they about double the run.
PENALTY_VARIANTS = tuple(
    variant
    for suffix, objective in ((" + lazy R1", LAZY_R1), (" + WGAN-GP", WGAN_GP))
    for variant in (
        Variant("plain eager fp32" + suffix, pygan=False, precision="fp32", channels_last=False, objective=objective),
        Variant("pygan fp32" + suffix, pygan=True, precision="fp32", channels_last=True, objective=objective),
        Variant("pygan fp32 --compile" + suffix, pygan=True, precision="fp32", channels_last=True, compile=True,
                objective=objective),
    )
)
# Opt-in (--augment): what DiffAugment adds to a step, fused (pygan) and as its authors' code (plain).
AUGMENT_VARIANTS = (
    Variant("plain eager fp32 + DiffAugment", pygan=False, precision="fp32", channels_last=False, augment=True),
    Variant("pygan fp32 + DiffAugment", pygan=True, precision="fp32", channels_last=True, augment=True),
)
# Forced bfloat16 on a CPU without bfloat16 instructions runs emulated: 42.6 s a step against 1.0 s in
# fp32 on an AMD EPYC (Zen 3, AVX2); timing it would take most of the bench's run.
BF16_SKIPPED = ("pygan bf16: skipped, this CPU has no bfloat16 instructions (no AVX512-BF16, no AMX), where it "
                "measured 0.02x fp32 (AMD EPYC Zen 3, benchmarks/cpu-train-epyc-zen3-bf16.txt); --bf16 times it anyway")


def choose_variants(device: torch.device, with_compile: bool, bf16: bool | None,
                    penalties: bool = False, augment: bool = False) -> tuple[tuple[Variant, ...], list[str]]:
    """The variants to time and a note for each one left out. bf16=None: the forced-bf16 variant only
    where bfloat16 runs natively (CUDA, or a CPU with AVX512-BF16/AMX). penalties, augment: also the
    PENALTY_VARIANTS, the AUGMENT_VARIANTS."""
    from pygan.training.precision import cpu_bf16_features

    if bf16 is None:
        bf16 = device.type == "cuda" or bool(cpu_bf16_features())
    skipped = [] if bf16 else [BF16_SKIPPED]
    candidates = VARIANTS + (PENALTY_VARIANTS if penalties else ()) + (AUGMENT_VARIANTS if augment else ())
    chosen = tuple(v for v in candidates if (with_compile or not v.compile) and (bf16 or v.precision != "bf16"))
    if device.type != "cpu" or weight_grad_rule()[0] != "pygan":  # there "auto" is oneDNN's (cuDNN's) already
        chosen = tuple(v for v in chosen if v.weight_grad == "auto")
    return chosen, skipped


def run_spec(variant: Variant, device: torch.device, size: int, batch: int, **train: Any) -> RunSpec:
    """The run `pygan train --arch dcgan --plugin faces --option channels=3` would resolve for this variant."""
    config = Config()
    config.data.plugin, config.data.options = "faces", {"channels": 3, "image-size": size}
    config.model.arch = "dcgan"
    config.train.batch_size, config.train.device = batch, device.type
    config.train.precision, config.train.channels_last, config.train.compile = (variant.precision,
                                                                                variant.channels_last, variant.compile)
    config.train.loss, config.train.regularisers = variant.objective.loss, variant.objective.regularisers
    config.train.augment = "color,translation,cutout" if variant.augment else ""
    for key, value in train.items():
        setattr(config.train, key, value)
    return resolve(config)


def _step_fn(variant: Variant, device: torch.device, size: int, batch: int) -> tuple[Callable[[], None], str]:
    if not variant.pygan:
        return plain_step(device, size, batch, variant.objective, variant.augment), "fp32"
    gan = GanStep(run_spec(variant, device, size, batch), device=device)  # the trainer's own step
    if variant.weight_grad != "auto":
        set_weight_grad(gan.generator, variant.weight_grad)
        set_weight_grad(gan.discriminator, variant.weight_grad)
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


def steps_per_repeat(variant: Variant, steps: int) -> int:
    """`steps` rounded up to whole lazy intervals, so every repeat holds the same share of penalty steps."""
    every = variant.objective.every
    return math.ceil(steps / every) * every


def compile_limit(variant: Variant, error: RuntimeError) -> str | None:
    """The reason torch gave, when `error` is torch.compile refusing a penalty's double backward."""
    line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if variant.compile and variant.objective.penalty and "double backward" in line:
        return line
    return None


def _build(v: Variant, device: torch.device, size: int, batch: int) -> tuple[Callable[[], None], dict[str, Any]]:
    """The variant's step, warmed up (its first call compiles, for --compile, and computes any lazy
    penalty: D step 0), and what its row reports besides the timings."""
    fn, precision = _step_fn(v, device, size, batch)
    first = _timed(fn, device, 1)
    fn()
    # Timed repeats start at D step 2 and hold whole intervals: one penalty step in each.
    return fn, {"precision": precision, "channels_last": v.channels_last, "compile": v.compile,
                "compile_seconds": first if v.compile else None, "loss": v.objective.loss,
                "regularisers": v.objective.regularisers, "augment": v.augment,
                "conv_weight_grad": _weight_grad_path(v, device)}


def _weight_grad_path(v: Variant, device: torch.device) -> str:
    if not v.pygan or v.weight_grad == "aten" or v.compile:
        return "aten"
    return weight_grad_rule()[0] if device.type == "cpu" else "aten"


def _baselines(variants: tuple[Variant, ...]) -> dict[str, str]:
    """Each variant's plain eager counterpart: the plain step with the same loss, penalty and augmentation."""
    plain = {(v.objective, v.augment): v.label for v in variants if not v.pygan}
    return {v.label: plain[(v.objective, v.augment)] for v in variants if (v.objective, v.augment) in plain}


def run(device: torch.device, size: int = 64, batch: int = 64, steps: int = 4, repeats: int = 3,
        variants: tuple[Variant, ...] = VARIANTS, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    steps_by_label: dict[str, Callable[[], None]] = {}
    info: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for v in variants:
        if progress:
            progress(f"building {v.label}")
        try:
            steps_by_label[v.label], info[v.label] = _build(v, device, size, batch)
        except RuntimeError as error:
            reason = compile_limit(v, error)
            if reason is None:
                raise
            skipped.append(f"{v.label}: not timed, torch.compile cannot differentiate the penalty's gradient "
                           f"through the compiled D: {reason}")
    counts = {v.label: steps_per_repeat(v, steps) for v in variants if v.label in steps_by_label}
    seconds: dict[str, list[float]] = {label: [] for label in steps_by_label}
    for r in range(repeats):  # interleaved, so that drifts of a shared machine hit every variant
        for label, fn in steps_by_label.items():
            if progress:
                progress(f"repeat {r + 1}/{repeats}: {label}")
            seconds[label].append(_timed(fn, device, counts[label]))
    medians = {label: statistics.median(s) for label, s in seconds.items()}
    baselines = _baselines(tuple(v for v in variants if v.label in steps_by_label))
    rows = []
    for label, median in medians.items():
        base = medians.get(baselines.get(label, ""))
        rows.append({"provider": label, **info[label], "median_ms_per_step": median * 1e3,
                     "images_per_s": batch / median, "baseline": baselines.get(label),
                     "speedup_vs_plain_eager": base / median if base else None,
                     "repeats": repeats, "steps_per_repeat": counts[label]})
    return {"size": size, "batch": batch, "rows": rows, "skipped": skipped}
