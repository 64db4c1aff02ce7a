"""Samples held in memory as one tensor, with their labels when the data is labelled."""

from __future__ import annotations

import torch


class TensorSamples(torch.utils.data.Dataset):
    """Item i is samples[i], or (samples[i], labels[i]) when labels are given (int64, one per sample)."""

    def __init__(self, samples: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        self.samples, self.labels = samples, labels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.labels is None:
            return self.samples[index]
        return self.samples[index], self.labels[index]
