"""The benchmark cases: each op with its providers, the shapes of interest and the minimum bytes
a perfectly fused kernel must move (for the effective bandwidth).

Providers: "pygan" (the fused op) and the eager PyTorch a user would write: "eager textbook" and
"eager stable" where two natural spellings exist (sigmoid then log, against softplus or
binary_cross_entropy_with_logits), else one "eager". torch.compile is given `compile_source`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pygan.ops import (
    batch_norm_leaky_relu,
    diff_augment,
    discriminator_loss,
    discriminator_objective,
    fused_leaky_relu,
    generator_loss,
    generator_objective,
    gradient_penalty,
    reference,
)

# D's outputs: one score per sample at two batch sizes, a PatchGAN map, and a large flat tensor.
SCORE_SHAPES = [(64, 1), (128, 1), (128, 1, 30, 30), (4 * 1024 * 1024,)]
# D's input gradients in dcgan's penalties: 64 px grayscale and RGB at batch 64, 32 px RGB at batch 128.
INPUT_GRADIENT_SHAPES = [(64, 1, 64, 64), (64, 3, 64, 64), (128, 3, 32, 32)]

SHAPES = {
    "d_loss": SCORE_SHAPES,
    "g_loss": SCORE_SHAPES,
    "hinge_d_loss": SCORE_SHAPES,
    "ls_d_loss": SCORE_SHAPES,
    "wgan_d_loss": SCORE_SHAPES,
    "rel_d_loss": SCORE_SHAPES,
    "hinge_g_loss": SCORE_SHAPES,
    "ls_g_loss": SCORE_SHAPES,
    "gradient_penalty": INPUT_GRADIENT_SHAPES,
    "r1_penalty": INPUT_GRADIENT_SHAPES,
    "leaky_relu": [(64, 64, 32, 32), (64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    "bias_leaky_relu": [(64, 64, 32, 32), (64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    # DCGAN's D blocks at 64 px, batch 64; "_cl" = channels-last tensors, as the trainer runs them.
    "bn_leaky_relu": [(64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    "bn_leaky_relu_cl": [(64, 128, 16, 16), (64, 256, 8, 8), (64, 512, 4, 4)],
    # every batch D sees: 64 px RGB and 32 px grayscale (the faces run) at batch 64
    "diff_augment": [(64, 3, 64, 64), (64, 1, 32, 32)],
}
QUICK_SHAPES = {"d_loss": [(128, 1), (4 * 1024 * 1024,)], "g_loss": [(128, 1)],
                "leaky_relu": [(64, 64, 32, 32)], "bias_leaky_relu": [(64, 128, 16, 16)],
                "bn_leaky_relu": [(64, 128, 16, 16)], "bn_leaky_relu_cl": [(64, 128, 16, 16)],
                # the objectives at a real batch's scores, the penalties at 64 px RGB
                "hinge_d_loss": [(128, 1)], "ls_d_loss": [(128, 1)], "wgan_d_loss": [(128, 1)],
                "rel_d_loss": [(128, 1)], "hinge_g_loss": [(128, 1)], "ls_g_loss": [(128, 1)],
                "gradient_penalty": [(64, 3, 64, 64)], "r1_penalty": [(64, 3, 64, 64)],
                "diff_augment": [(64, 3, 64, 64)]}


@dataclass
class Case:
    op: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    inputs: list[torch.Tensor]  # leaves that require grad
    grad: torch.Tensor | None  # grad_output for non-scalar outputs
    providers: dict[str, Callable[..., torch.Tensor]]
    min_bytes_fwd: int
    min_bytes_fwd_bwd: int
    compile_source: str = "eager stable"  # the eager provider torch.compile is given


def _d_loss_textbook(r, f):
    return -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean())


def _d_loss_stable(r, f):
    return (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
            + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))


def _g_loss_textbook(f):
    return -torch.log(torch.sigmoid(f)).mean()


def _g_loss_stable(f):
    return F.softplus(-f).mean()


def _leaky_textbook(x, b=None):
    if b is not None:
        x = x + b.view(1, -1, *([1] * (x.dim() - 2)))
    return torch.where(x > 0, x, 0.2 * x)


def _leaky_stable(x, b=None):
    if b is not None:
        x = x + b.view(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x, 0.2)


def _bn_leaky_textbook(x, w, b):
    dims = [0, *range(2, x.dim())]
    shape = [1, -1] + [1] * (x.dim() - 2)
    var, mean = torch.var_mean(x, dims, correction=0, keepdim=True)
    z = (x - mean) / torch.sqrt(var + 1e-5) * w.view(shape) + b.view(shape)
    return torch.where(z > 0, z, 0.2 * z)


def _bn_leaky_stable(x, w, b):
    return F.leaky_relu(F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5), 0.2)


def _bn_leaky_case(op: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Case:
    layout = torch.channels_last if op.endswith("_cl") else torch.contiguous_format
    x = torch.randn(*shape, device=device).to(dtype).contiguous(memory_format=layout).requires_grad_()
    # BatchNorm's parameters stay float32 under autocast, as in training.
    param_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    w = (1 + 0.1 * torch.randn(shape[1], device=device)).to(param_dtype).requires_grad_()
    b = (0.1 * torch.randn(shape[1], device=device)).to(param_dtype).requires_grad_()
    grad = torch.randn(*shape, device=device).to(dtype).contiguous(memory_format=layout)
    providers = {"pygan": lambda x, w, b: batch_norm_leaky_relu(x, w, b, 1e-5, 0.2)[0],
                 "eager textbook": _bn_leaky_textbook, "eager stable": _bn_leaky_stable}
    n = x.numel() * x.element_size()
    # forward: read x, write y; backward: read grad and x, write grad_x
    return Case(op, shape, dtype, device, [x, w, b], grad, providers, 2 * n, 5 * n)


# The objectives after 2014 as a user writes them in eager PyTorch (the fused op's default targets:
# hinge 1 / -1, least-squares b = 1, a = 0, c = 1). Only relativistic has two natural spellings.

def _hinge_d(r, f):
    return F.relu(1 - r).mean() + F.relu(1 + f).mean()


def _ls_d(r, f):
    return 0.5 * (r - 1).square().mean() + 0.5 * f.square().mean()


def _wgan_d(r, f):
    return f.mean() - r.mean()


def _rel_d_textbook(r, f):
    return -torch.log(torch.sigmoid(r - f)).mean()


def _rel_d_stable(r, f):
    return F.softplus(f - r).mean()


def _hinge_g(f):  # WGAN's generator objective too
    return -f.mean()


def _ls_g(f):
    return 0.5 * (f - 1).square().mean()


@dataclass(frozen=True)
class _Objective:
    kind: str
    player: str  # "d": the case takes real and fake scores; "g": fake scores only
    eager: dict[str, Callable[..., torch.Tensor]]
    # False where the gradient is a constant (-1/n, 1/n): a perfect backward only writes it
    backward_reads_scores: bool = True


OBJECTIVES = {
    "hinge_d_loss": _Objective("hinge", "d", {"eager": _hinge_d}),
    "ls_d_loss": _Objective("least-squares", "d", {"eager": _ls_d}),
    "wgan_d_loss": _Objective("wasserstein", "d", {"eager": _wgan_d}, backward_reads_scores=False),
    "rel_d_loss": _Objective("relativistic", "d", {"eager textbook": _rel_d_textbook, "eager stable": _rel_d_stable}),
    "hinge_g_loss": _Objective("hinge", "g", {"eager": _hinge_g}, backward_reads_scores=False),
    "ls_g_loss": _Objective("least-squares", "g", {"eager": _ls_g}),
}


def _objective_case(op: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Case:
    spec = OBJECTIVES[op]
    inputs = [(torch.randn(*shape, device=device) * 3.0).to(dtype).requires_grad_()
              for _ in range(2 if spec.player == "d" else 1)]
    if spec.player == "d":
        fused = lambda r, f: discriminator_objective(r, f, spec.kind).loss  # noqa: E731
    else:
        fused = lambda f: generator_objective(f, spec.kind).loss  # noqa: E731
    scores = sum(t.numel() * t.element_size() for t in inputs)
    # forward reads the scores; backward reads them again (unless the gradient is constant) and
    # writes their gradients
    backward = (2 if spec.backward_reads_scores else 1) * scores
    return Case(op, shape, dtype, device, inputs, None, {"pygan": fused, **spec.eager}, scores, scores + backward,
                compile_source="eager stable" if "eager stable" in spec.eager else "eager")


def _wgan_gp_eager(g):
    return (g.flatten(1).norm(dim=1) - 1).square().mean()


def _r1_eager(g):
    return g.square().flatten(1).sum(1).mean()


def _penalty_case(op: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Case:
    center, eager = (1.0, _wgan_gp_eager) if op == "gradient_penalty" else (0.0, _r1_eager)
    per_sample = 1
    for s in shape[1:]:
        per_sample *= s
    # scaled so that the norms lie around 1, on both sides of WGAN-GP's center
    g = (torch.randn(*shape, device=device) / per_sample**0.5).to(dtype).requires_grad_()
    n = g.numel() * g.element_size()
    # forward reads g; backward reads g again and writes its gradient (the N norms are negligible)
    return Case(op, shape, dtype, device, [g], None,
                {"pygan": lambda g: gradient_penalty(g, center=center).penalty, "eager": eager}, n, 3 * n,
                compile_source="eager")


def _augment_case(op: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Case:
    n, _, h, w = shape
    g = torch.Generator().manual_seed(0)  # DiffAugment's ranges: shifts up to 1/8, a cut square of half the side
    color = torch.stack((torch.rand(n, generator=g) - 0.5, 2 * torch.rand(n, generator=g),
                         torch.rand(n, generator=g) + 0.5), 1).to(device)
    dy, dx = (torch.randint(-(s // 8), s // 8 + 1, (n,), generator=g) for s in (h, w))
    y0, x0 = (torch.randint(0, s, (n,), generator=g) - s // 4 for s in (h, w))
    geometry = torch.stack((dy, dx, y0, y0 + h // 2, x0, x0 + w // 2), 1).to(device)
    x = torch.randn(*shape, device=device).to(dtype).requires_grad_()
    grad = torch.randn(*shape, device=device).to(dtype)
    providers = {"pygan": lambda x: diff_augment(x, color, geometry),
                 "eager": lambda x: reference.diff_augment_steps(x, color, geometry)}  # DiffAugment's own code
    size = x.numel() * x.element_size()
    # forward: read x, write out; backward: read grad, write grad_x
    return Case(op, shape, dtype, device, [x], grad, providers, 2 * size, 4 * size, compile_source="eager")


def make_case(op: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Case:
    if op not in SHAPES:
        raise ValueError(f"make_case: unknown case {op!r}; cases are {', '.join(SHAPES)}")
    def leaf(*s, scale=1.0):
        return (torch.randn(*s, device=device) * scale).to(dtype).requires_grad_()

    itemsize = torch.empty((), dtype=dtype).element_size()
    n = 1
    for s in shape:
        n *= s
    if op == "d_loss":
        inputs = [leaf(*shape, scale=3.0), leaf(*shape, scale=3.0)]
        fused = lambda r, f: discriminator_loss(r, f).loss  # noqa: E731
        providers = {"pygan": fused, "eager textbook": _d_loss_textbook, "eager stable": _d_loss_stable}
        # forward reads both logits; backward reads them again and writes both gradients
        return Case(op, shape, dtype, device, inputs, None, providers, 2 * n * itemsize, 6 * n * itemsize)
    if op == "g_loss":
        inputs = [leaf(*shape, scale=3.0)]
        providers = {"pygan": lambda f: generator_loss(f).loss, "eager textbook": _g_loss_textbook,
                     "eager stable": _g_loss_stable}
        return Case(op, shape, dtype, device, inputs, None, providers, n * itemsize, 3 * n * itemsize)
    if op.startswith("bn_leaky_relu"):
        return _bn_leaky_case(op, shape, dtype, device)
    if op in OBJECTIVES:
        return _objective_case(op, shape, dtype, device)
    if op in ("gradient_penalty", "r1_penalty"):
        return _penalty_case(op, shape, dtype, device)
    if op == "diff_augment":
        return _augment_case(op, shape, dtype, device)
    with_bias = op == "bias_leaky_relu"
    inputs = [leaf(*shape)] + ([leaf(shape[1])] if with_bias else [])
    grad = torch.randn(*shape, device=device).to(dtype)
    providers = {"pygan": lambda x, b=None: fused_leaky_relu(x, b, 0.2, 1.0), "eager textbook": _leaky_textbook,
                 "eager stable": _leaky_stable}
    # forward: read x, write y; backward: read grad and y, write grad_x (the bias sum rides along)
    return Case(op, shape, dtype, device, inputs, grad, providers, 2 * n * itemsize, 5 * n * itemsize)
