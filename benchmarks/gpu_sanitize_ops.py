"""Every pygan op, forward and backward, on odd shapes: a short, deterministic workload for
`compute-sanitizer --tool memcheck` and `--tool racecheck` (benchmarks/gpu-check.sh runs it).

Shapes: one element, sizes that are no multiple of the 256-thread block, a plane past one
block, and one past the 1024-block grid (so the grid-stride loops wrap), each contiguous,
channels-last and sliced (not dense); dtypes float32, float64, float16, bfloat16. Each result is
also compared with the float64 reference, so a kernel that reads the wrong element fails here
even where the sanitizer sees no bad address. Exits 1 on any mismatch; prints one JSON line.

    python benchmarks/gpu_sanitize_ops.py --device cuda
    PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool memcheck python benchmarks/gpu_sanitize_ops.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

from pygan._extension import compiled_for
from pygan.ops import (
    batch_norm_leaky_relu,
    conv2d_weight_grad,
    diff_augment,
    discriminator_loss,
    discriminator_objective,
    fused_leaky_relu,
    generator_loss,
    generator_objective,
    gradient_penalty,
    reference,
)
from pygan.ops.gan_objective import DEFAULT_TARGETS

ops = torch.ops.pygan
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
# Loose on purpose: this looks for wrong elements, not last-place rounding (tests/ops does that).
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 2e-2, torch.bfloat16: 1e-1}
SMALL = [(1, 1), (3, 5, 7, 11), (2, 3, 1, 1), (5, 257), (2, 13, 17, 19)]  # 257: one past a block
LARGE = (3, 7, 113, 113)  # 268,149 values: past 1024 blocks x 256 threads, the grid-stride loops wrap


def layouts(shape: tuple[int, ...], dtype: torch.dtype, device: str, scale: float = 1.0,
            shift: float = 0.0) -> Iterator[tuple[str, torch.Tensor]]:
    """The same values laid out three ways; `detach()` keeps the strides, `clone()` would not."""
    g = torch.Generator().manual_seed(zlib.crc32(f"{shape} {dtype}".encode()))

    def draw(*s: int) -> torch.Tensor:
        return (torch.randn(s, generator=g, dtype=torch.float64) * scale + shift).to(device, dtype)

    yield "contiguous", draw(*shape)
    if len(shape) == 4:
        yield "channels_last", draw(*shape).contiguous(memory_format=torch.channels_last)
    yield "sliced", draw(*shape[:-1], 2 * shape[-1])[..., ::2]


class Checker:
    def __init__(self) -> None:
        self.calls = 0
        self.failures: list[str] = []
        self.worst: dict[str, float] = {}

    def close(self, what: str, got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype, scale: float = 1.0) -> None:
        self.calls += 1
        got64, want64 = got.detach().double().cpu(), want.detach().double().cpu()
        if got64.shape != want64.shape:
            self.failures.append(f"{what}: shape {tuple(got64.shape)}, expected {tuple(want64.shape)}")
            return
        if got64.numel() == 0:
            return
        finite = torch.isfinite(want64)
        if not torch.equal(finite, torch.isfinite(got64)):
            self.failures.append(f"{what}: non-finite values where the reference has finite ones (or back)")
            return
        err = ((got64 - want64).abs()[finite] / (1.0 + want64.abs()[finite])).max().item() / max(1.0, scale)
        key = str(dtype).removeprefix("torch.")
        self.worst[key] = max(self.worst.get(key, 0.0), err)
        if err > TOLERANCE[dtype]:
            self.failures.append(f"{what}: relative error {err:.3g} > {TOLERANCE[dtype]:g}")


def leaves64(*tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    return [None if t is None else t.detach().double().requires_grad_() for t in tensors]


def grads(out: torch.Tensor, wrt: list[torch.Tensor], g: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return torch.autograd.grad(out, wrt, g)


def check_losses(c: Checker, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    for layout, real in layouts(shape, dtype, device, scale=4.0):
        fake = real.flip(0).contiguous() * 0.5
        for reduction in ("mean", "sum", "none"):
            for label in (1.0, 0.9):
                r, f = real.detach().requires_grad_(), fake.detach().requires_grad_()
                out = discriminator_loss(r, f, reduction=reduction, real_label=label)
                r64, f64 = leaves64(r, f)
                ref = reference.discriminator_loss(r64, f64, reduction=reduction, real_label=label)
                what = f"discriminator_loss {shape} {dtype} {layout} {reduction} {label}"
                c.close(what, out.loss, ref.loss, dtype, scale=real.numel() if reduction == "sum" else 1.0)
                c.close(what + " d_real", out.d_real, ref.d_real, dtype)
                g = torch.ones_like(out.loss) * 0.7
                for got, want in zip(grads(out.loss, [r, f], g), grads(ref.loss, [r64, f64], g.double()), strict=True):
                    c.close(what + " grad", got, want, dtype)
            for saturating in (False, True):
                f = fake.detach().requires_grad_()
                out = generator_loss(f, saturating=saturating, reduction=reduction)
                (f64,) = leaves64(f)
                ref = reference.generator_loss(f64, saturating=saturating, reduction=reduction)
                what = f"generator_loss {shape} {dtype} {layout} {reduction} saturating={saturating}"
                c.close(what, out.loss, ref.loss, dtype, scale=fake.numel() if reduction == "sum" else 1.0)
                g = torch.ones_like(out.loss) * 1.3
                c.close(what + " grad", grads(out.loss, [f], g)[0], grads(ref.loss, [f64], g.double())[0], dtype)


def check_leaky_relu(c: Checker, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    channels = shape[1]
    bias = torch.randn(channels, dtype=torch.float64).to(device, dtype)
    for layout, x in layouts(shape, dtype, device):
        for b in (None, bias):
            xi, bi = x.detach().requires_grad_(), None if b is None else b.detach().requires_grad_()
            out = fused_leaky_relu(xi, bi, 0.2, 1.4)
            x64, b64 = leaves64(xi, bi)
            ref = reference.fused_leaky_relu(x64, b64, 0.2, 1.4)
            what = f"fused_leaky_relu {shape} {dtype} {layout} bias={b is not None}"
            c.close(what, out, ref, dtype)
            g = torch.randn(shape, dtype=torch.float64).to(device, dtype)
            wrt = [xi] if b is None else [xi, bi]
            wrt64 = [x64] if b is None else [x64, b64]
            rows = out.numel() // channels
            scales = (1.0, rows)[:len(wrt)]
            ref_grads = grads(ref, wrt64, g.double())
            for got, want, scale in zip(grads(out, wrt, g), ref_grads, scales, strict=True):
                c.close(what + " grad", got, want, dtype, scale=scale)  # the bias gradient sums `rows` terms
            # the in-place op and the backward without a bias gradient, called directly
            y = torch.empty_strided(x.shape, x.stride(), dtype=dtype, device=device).copy_(x)  # same layout
            ops.fused_leaky_relu_(y, b, 0.2, 1.4)
            c.close(what + " in place", y, ref, dtype)
            c.close(what + " backward", ops.fused_leaky_relu_backward(g, out.detach(), 0.2, 1.4),
                    ref_grads[0], dtype)


def check_batch_norm(c: Checker, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    if shape[0] * (shape[2] * shape[3] if len(shape) == 4 else 1) < 2:
        return  # batch statistics need two values per channel
    channels = shape[1]
    param_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    for layout, x in layouts(shape, dtype, device, scale=3.0, shift=1.0):
        for affine in (False, True):
            w = torch.randn(channels, dtype=param_dtype, device=device).requires_grad_() if affine else None
            b = torch.randn(channels, dtype=param_dtype, device=device).requires_grad_() if affine else None
            xi = x.detach().requires_grad_()
            out, mean, invstd = batch_norm_leaky_relu(xi, w, b, 1e-5, 0.2)
            x64, w64, b64 = leaves64(xi, w, b)
            ref, ref_mean, ref_invstd = reference.batch_norm_leaky_relu(x64, w64, b64, 1e-5, 0.2)
            what = f"batch_norm_leaky_relu {shape} {dtype} {layout} affine={affine}"
            c.close(what, out, ref, dtype, scale=3.0)
            c.close(what + " mean", mean, ref_mean, param_dtype)
            c.close(what + " invstd", invstd, ref_invstd, param_dtype)
            g = torch.randn(shape, dtype=torch.float64).to(device, dtype)
            wrt = [t for t in (xi, w, b) if t is not None]
            wrt64 = [t for t in (x64, w64, b64) if t is not None]
            rows = out.numel() // channels
            for i, (got, want) in enumerate(zip(grads(out, wrt, g), grads(ref, wrt64, g.double()), strict=True)):
                c.close(what + " grad", got, want, dtype, scale=4.0 if i == 0 else 4.0 * rows)


def check_objectives(c: Checker, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    for layout, real in layouts(shape, dtype, device, scale=2.0):
        fake = real.flip(0).contiguous() * 0.5
        for reduction in ("mean", "sum"):
            scale = real.numel() if reduction == "sum" else 1.0
            for kind, (tr, tf) in DEFAULT_TARGETS.items():
                r, f = real.detach().requires_grad_(), fake.detach().requires_grad_()
                out = discriminator_objective(r, f, kind, reduction=reduction)
                r64, f64 = leaves64(r, f)
                ref = reference.discriminator_objective(r64, f64, kind, real_target=tr, fake_target=tf,
                                                        reduction=reduction)
                what = f"discriminator_objective {kind} {shape} {dtype} {layout} {reduction}"
                c.close(what, out.loss, ref.loss, dtype, scale=scale)
                c.close(what + " d_real", out.d_real, ref.d_real, dtype)
                c.close(what + " d_fake", out.d_fake, ref.d_fake, dtype)
                g = torch.ones_like(out.loss) * 0.7
                for got, want in zip(grads(out.loss, [r, f], g), grads(ref.loss, [r64, f64], g.double()), strict=True):
                    c.close(what + " grad", got, want, dtype)
            for kind in ("hinge", "least-squares"):
                f = fake.detach().requires_grad_()
                out = generator_objective(f, kind, reduction=reduction)
                (f64,) = leaves64(f)
                ref = reference.generator_objective(f64, kind, reduction=reduction)
                what = f"generator_objective {kind} {shape} {dtype} {layout} {reduction}"
                c.close(what, out.loss, ref.loss, dtype, scale=scale)
                g = torch.ones_like(out.loss) * 1.3
                c.close(what + " grad", grads(out.loss, [f], g)[0], grads(ref.loss, [f64], g.double())[0], dtype)


MANY_SAMPLES = (1100, 3, 2, 2)  # more samples than the penalty kernel's 1024-block grid: its sample loop wraps


def check_gradient_penalty(c: Checker, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    norm_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    shapes = [shape, MANY_SAMPLES] if shape == SMALL[0] else [shape]
    for layout, x in (item for s in shapes for item in layouts(s, dtype, device, scale=0.3)):
        for center in (0.0, 1.0):
            xi = x.detach().requires_grad_()
            out = gradient_penalty(xi, center=center)
            (x64,) = leaves64(xi)
            ref = reference.gradient_penalty(x64, center=center)
            what = f"gradient_penalty {tuple(x.shape)} {dtype} {layout} center={center}"
            c.close(what, out.penalty, ref.penalty, dtype)
            c.close(what + " norms", out.norms, ref.norms, norm_dtype)
            g = torch.tensor(0.9, dtype=dtype, device=device)
            c.close(what + " grad", grads(out.penalty, [xi], g)[0], grads(ref.penalty, [x64], g.double())[0], dtype)


def augment_params(shape: tuple[int, ...], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample DiffAugment parameters, cut boxes reaching past the border and shifts past the image."""
    n, _, h, w = shape
    g = torch.Generator().manual_seed(n * 1000 + h)
    color = torch.stack((torch.rand(n, generator=g) - 0.5, 2 * torch.rand(n, generator=g),
                         torch.rand(n, generator=g) + 0.5), 1)
    dy, dx = (torch.randint(-s - 1, s + 2, (n,), generator=g) for s in (h // 4, w // 4))
    y0, x0 = (torch.randint(-s // 2, s + 1, (n,), generator=g) for s in (h, w))
    geometry = torch.stack((dy, dx, y0, y0 + (h + 1) // 2, x0, x0 + (w + 1) // 2), 1)
    return color.to(device), geometry.to(device)


def check_diff_augment(c: Checker, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    if len(shape) != 4:
        return
    color, geometry = augment_params(shape, device)
    for layout, x in layouts(shape, dtype, device):
        xi = x.detach().requires_grad_()
        out = diff_augment(xi, color, geometry)
        (x64,) = leaves64(xi)
        ref = reference.diff_augment(x64, color, geometry)
        what = f"diff_augment {tuple(x.shape)} {dtype} {layout}"
        c.close(what, out, ref, dtype, scale=4.0)
        g = torch.randn(shape, dtype=torch.float64).to(device, dtype)
        c.close(what + " grad", grads(out, [xi], g)[0], grads(ref, [x64], g.double())[0], dtype, scale=4.0)


def check_conv2d_weight_grad(c: Checker, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    if len(shape) != 4 or dtype not in (torch.float32, torch.float64):
        return  # the op takes float32 and float64 images
    n, _, h, w = shape
    for k, s, p in (((4, 4), (2, 2), (1, 1)), ((3, 3), (1, 1), (1, 1))):
        if h + 2 * p[0] < k[0] or w + 2 * p[1] < k[1]:
            continue
        oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
        gy = torch.randn(n, 5, oh, ow, dtype=torch.float64).to(device, dtype)
        for layout, x in layouts(shape, dtype, device):
            out = conv2d_weight_grad(x, gy, k, s, p)
            ref = reference.conv2d_weight_grad(x.double().cpu(), gy.double().cpu(), k, s, p)
            # a sum of n * oh * ow products: its rounding grows with the square root of their count
            c.close(f"conv2d_weight_grad {tuple(x.shape)} k={k} s={s} {dtype} {layout}", out, ref, dtype,
                    scale=(n * oh * ow) ** 0.5)


CHECKS: list[Callable[[Checker, tuple[int, ...], torch.dtype, str], None]] = [
    check_losses, check_objectives, check_gradient_penalty, check_diff_augment, check_leaky_relu, check_batch_norm,
    check_conv2d_weight_grad]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a rehearsal of the same calls)")
    parser.add_argument("--no-large", action="store_true", help=f"skip the {LARGE} shape")
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    args = parser.parse_args(argv)
    device_type = torch.device(args.device).type
    if device_type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no GPU; pass --device cpu to rehearse on the CPU")
    if not compiled_for(device_type):
        parser.error(f"pygan._C has no {device_type} kernels: the calls would test the reference ops; "
                     "build it first (python setup.py build_ext --inplace)")
    start = time.perf_counter()
    c = Checker()
    for dtype in DTYPES:
        for shape in SMALL:
            for check in CHECKS:
                check(c, shape, dtype, args.device)
    if not args.no_large:
        for check in CHECKS:
            check(c, LARGE, torch.float32, args.device)
    if device_type == "cuda":
        torch.cuda.synchronize()  # a kernel fault surfaces here at the latest
    summary = {"device": args.device, "calls_checked": c.calls, "failures": len(c.failures),
               "first_failures": c.failures[:10], "worst_relative_error": c.worst,
               "seconds": round(time.perf_counter() - start, 2)}
    line = json.dumps(summary)
    print(line)
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
