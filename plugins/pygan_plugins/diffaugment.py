"""DiffAugment (Zhao et al. 2020) with ADA's adaptive strength (Karras et al. 2020), on the fused
op pygan.ops.diff_augment: every batch D sees, real and generated, in D's step and G's, gets
each transform of the policy with probability p, independently per sample and transform:

- color: brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5);
- translation: a shift by up to 1/8 of each side (integers, zero fill);
- cutout: a square of half the side zeroed, its centre anywhere in the image.

p is fixed (`p`, default 1: DiffAugment itself), or with `adaptive` ADA's: after every D step p
moves by (the D step's real outputs) / ramp-images towards the side where E[sign(D(x))] = target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from pygan.augmentations import DIFFAUGMENT_POLICIES, Augmentation, adaptive_strength
from pygan.ops import diff_augment
from pygan.ops.diff_augment import IDENTITY_COLOR
from pygan.plugins import DataSpec, Option, PluginError

# Uniforms per sample: 7 parameters (brightness, saturation, contrast, dy, dx, the cut centre's y
# and x), then 5 gates, one per transform below.
DRAWS = 12
# Losses whose D outputs are logits or hinge scores: real above 0, fake below (ADA's sign rule).
SIGN_LOSSES = ("non-saturating", "saturating", "hinge")
GATED = ("color", "color", "color", "translation", "cutout")  # brightness, saturation, contrast, shift, cut


def parse_policy(policy: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in DIFFAUGMENT_POLICIES]
    if not names or unknown:
        raise PluginError("diffaugment: option 'policy' is a comma-separated list of "
                          f"{', '.join(DIFFAUGMENT_POLICIES)}, got {policy!r}")
    return names


def draw_parameters(shape: torch.Size, policy: tuple[str, ...], translation: float, cutout: float,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample parameters on the CPU, as if every transform were on: color (N, 3), geometry
    (N, 6), and the gates (N, 5) in [0, 1) that p compares with. Transforms not in the policy get
    a gate of 1 (never applied). One draw of (N, 12) uniforms, so the random stream does not
    depend on the policy."""
    n, _, h, w = shape
    u = torch.rand(n, DRAWS, generator=generator, dtype=torch.float64)
    color = torch.stack((u[:, 0] - 0.5, 2.0 * u[:, 1], u[:, 2] + 0.5), 1).float()

    def integers(v: torch.Tensor, count: int) -> torch.Tensor:  # uniform on 0 .. count - 1
        return (v * count).long().clamp(max=count - 1)

    shift_h, shift_w = int(h * translation + 0.5), int(w * translation + 0.5)
    size_h, size_w = int(h * cutout + 0.5), int(w * cutout + 0.5)
    dy = integers(u[:, 3], 2 * shift_h + 1) - shift_h
    dx = integers(u[:, 4], 2 * shift_w + 1) - shift_w
    y0 = integers(u[:, 5], h + 1 - size_h % 2) - size_h // 2  # centre anywhere, as DiffAugment draws it
    x0 = integers(u[:, 6], w + 1 - size_w % 2) - size_w // 2
    geometry = torch.stack((dy, dx, y0, y0 + size_h, x0, x0 + size_w), 1)
    gates = u[:, 7:].float()
    gates[:, [i for i, name in enumerate(GATED) if name not in policy]] = 1.0
    return color, geometry, gates


class DiffAugment(Augmentation):
    description = ("DiffAugment (Zhao et al. 2020): color, translation, cutout on the fused op, each with "
                   "probability p per sample; p fixed or adaptive (ADA, Karras et al. 2020); images only")
    options = (
        Option("policy", str, ",".join(DIFFAUGMENT_POLICIES), "comma-separated transforms: color, translation, cutout"),
        Option("p", float, 1.0, "probability that each transform is applied to a sample (adaptive: its start)",
               min=0.0, max=1.0),
        Option("adaptive", bool, False, "tune p from D's outputs on reals (ADA)"),
        Option("target", float, 0.6, "ADA's target for E[sign(D(x))]: p rises while D is above it",
               min=0.0, max=1.0),
        Option("ramp-images", int, 100_000, "D outputs on reals over which adaptive p can move from 0 to 1 "
               "(ADA: 500k; faster for short runs)", min=1),
        Option("translation", float, 0.125, "largest shift, as a share of each side", min=0.0, max=1.0),
        Option("cutout", float, 0.5, "side of the cut square, as a share of each side", min=0.0, max=1.0),
    )

    def accepts(self, spec: DataSpec) -> str | None:
        return None if spec.is_image else f"it transforms images, and this data is a {spec.describe()}"

    def accepts_loss(self, loss: str, options: Mapping[str, Any]) -> str | None:
        if options["adaptive"] and loss not in SIGN_LOSSES:
            return (f"adaptive p reads overfitting from sign(D(x)), which needs scores whose decision boundary is 0 "
                    f"(--loss {', '.join(SIGN_LOSSES)}); give a fixed --augment-p instead")
        return None

    def initial_strength(self, options: Mapping[str, Any]) -> float:
        parse_policy(options["policy"])
        return options["p"]

    def apply(self, x: torch.Tensor, strength: torch.Tensor, generator: torch.Generator,
              options: Mapping[str, Any]) -> torch.Tensor:
        policy = parse_policy(options["policy"])
        color, geometry, gates = draw_parameters(x.shape, policy, options["translation"], options["cutout"], generator)
        color, geometry, gates = (t.to(x.device, non_blocking=True) for t in (color, geometry, gates))
        on = gates < strength  # (N, 5) on the device: no host read of p
        identity = torch.tensor(IDENTITY_COLOR, device=x.device)
        color = torch.where(on[:, :3], color, identity)
        geometry = torch.where(on[:, [3, 3, 4, 4, 4, 4]], geometry, 0)  # no shift, an empty cut box
        return diff_augment(x, color, geometry)

    def adjust(self, strength: torch.Tensor, real_scores: torch.Tensor, options: Mapping[str, Any]) -> torch.Tensor:
        if not options["adaptive"]:
            return strength
        return adaptive_strength(strength, real_scores, options["target"], options["ramp_images"])
