"""How images reach the FID Inception network: one protocol for generated and real images alike,
written into every report (`PROTOCOL`).

1. quantised to uint8 as a PNG would store them: (x + 1) / 2 * 255, rounded, clamped (the
   sample grids use the same rule);
2. grayscale repeated to 3 channels;
3. resized to 299x299 bilinearly in TensorFlow 1.x's convention (`tf.image.resize_bilinear`,
   align_corners=False: source coordinate = output index * in / out, no half-pixel offset),
   the resize built into the original FID graph, which TTUR's FID, torch-fidelity, torchmetrics
   and clean-fid's legacy_tensorflow mode reproduce (pytorch-fid and clean-fid's default resize
   differently and report other numbers);
4. scaled to (x - 128) / 128, the graph's own input scaling.

The resize is two small interpolation matrices, H and W applied as matmuls: exact, and cheap next
to the network."""

from __future__ import annotations

import torch

from pygan.metrics.inception_network import INPUT_SIZE

PROTOCOL = {
    "quantisation": "uint8 as saved to PNG: round((x + 1) / 2 * 255), clamped to 0..255",
    "channels": "grayscale repeated to 3 channels",
    "resize": f"bilinear to {INPUT_SIZE}x{INPUT_SIZE}, TensorFlow 1.x convention (align_corners=False, "
              "no half-pixel offset), as TTUR, torch-fidelity and torchmetrics",
    "scaling": "(x - 128) / 128",
}


def quantise(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Images in `value_range` as the uint8 values a PNG would hold (returned as float32)."""
    low, high = value_range
    return ((images.float() - low) / (high - low)).clamp(0, 1).mul(255).round()


def tf1_bilinear_matrix(size_in: int, size_out: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(size_out, size_in) weights of TensorFlow 1.x's bilinear resize along one axis."""
    source = torch.arange(size_out, dtype=torch.float64) * (size_in / size_out)
    low = source.floor().long().clamp(max=size_in - 1)
    high = (low + 1).clamp(max=size_in - 1)
    frac = source - low
    matrix = torch.zeros(size_out, size_in, dtype=torch.float64)
    rows = torch.arange(size_out)
    matrix.index_put_((rows, low), 1 - frac, accumulate=True)
    matrix.index_put_((rows, high), frac, accumulate=True)
    return matrix.to(dtype)


def network_input(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0),
                  memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """(N, 1 or 3, H, W) images in `value_range` -> (N, 3, 299, 299) as the network takes them."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"the Inception features need (N, 1 or 3, H, W) images, got {tuple(images.shape)}")
    x = quantise(images, value_range)
    h, w = x.shape[-2:]
    if (h, w) != (INPUT_SIZE, INPUT_SIZE):
        rows = tf1_bilinear_matrix(h, INPUT_SIZE)
        cols = tf1_bilinear_matrix(w, INPUT_SIZE)
        x = rows @ x @ cols.T  # (299, H) @ (N, C, H, W) @ (W, 299), broadcast over N and C
    x = (x - 128) / 128
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous(memory_format=memory_format)
