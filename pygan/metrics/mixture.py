"""Mode coverage on Gaussian mixtures, the protocol of the mode-collapse literature (VEEGAN,
PacGAN): draw 2,500 samples, assign each to its nearest mode; a sample is high-quality if it lies
within 3 standard deviations of that mode; a mode is covered if it has at least one high-quality
sample. Also the share of high-quality samples and the reverse KL divergence between the
generated mode histogram and the uniform one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

PROTOCOL_SAMPLES = 2500


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int
    modes_total: int
    high_quality: float  # share of samples within 3 std of their nearest mode
    reverse_kl: float  # KL(generated mode histogram || uniform), over high-quality samples

    def to_dict(self) -> dict:
        return asdict(self)


def mode_coverage(samples: torch.Tensor, modes: torch.Tensor, std: float, *, radius_in_std: float = 3.0
                  ) -> ModeCoverage:
    if samples.dim() != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"samples must be (N, {modes.shape[1]}), got {tuple(samples.shape)}")
    samples = samples.detach().double().cpu()
    modes = modes.double().cpu()
    distance, nearest = torch.cdist(samples, modes).min(dim=1)
    good = distance <= radius_in_std * std
    counts = torch.bincount(nearest[good], minlength=len(modes)).double()
    covered = int((counts > 0).sum())
    if counts.sum() > 0:
        p = counts / counts.sum()
        nonzero = p > 0
        # KL(p || uniform) = sum p log(p K); 0 when every mode gets an equal share
        reverse_kl = float((p[nonzero] * torch.log(p[nonzero] * len(modes))).sum())
    else:
        reverse_kl = math.inf
    return ModeCoverage(covered, len(modes), float(good.double().mean()) if len(samples) else 0.0, reverse_kl)


def class_fidelity(samples: torch.Tensor, labels: torch.Tensor, modes: torch.Tensor, std: float,
                   classes: tuple[str, ...], *, radius_in_std: float = 3.0) -> dict:
    """Class-conditional mixtures (class k = mode k): for each class, the share of the samples drawn
    for it that lie within `radius_in_std` standard deviations of mode k; and the lowest share."""
    samples, labels = samples.detach().double().cpu(), labels.cpu()
    distance = (samples - modes.double().cpu()[labels]).norm(dim=1)
    on_mode = distance <= radius_in_std * std
    shares = {name: float(on_mode[labels == k].double().mean()) if bool((labels == k).any()) else 0.0
              for k, name in enumerate(classes)}
    return {"on_own_mode": shares, "lowest": min(shares.values()), "overall": float(on_mode.double().mean()),
            "radius_in_std": radius_in_std}
