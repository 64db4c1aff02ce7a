"""Argument checks of the DiffAugment op for the reference path and the fake kernel, worded like
the compiled kernels' own checks (csrc/augment_setup.h)."""

from __future__ import annotations

import torch

from pygan.ops._checks import fail, floating


def diff_augment_args(op: str, x: torch.Tensor, color: torch.Tensor, geometry: torch.Tensor,
                      x_name: str = "x") -> None:
    floating(op, x_name, x)
    if x.dim() != 4:
        fail(op, f"{x_name} must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}; "
                 "add the missing dims with .view()")
    n = x.shape[0]
    if not isinstance(color, torch.Tensor) or color.dtype not in (torch.float32, torch.float64):
        got = color.dtype if isinstance(color, torch.Tensor) else type(color).__name__
        fail(op, "color must be a float32 or float64 tensor (N, 3) of brightness offsets and saturation "
                 f"and contrast factors, got {got}")
    if color.dim() != 2 or tuple(color.shape) != (n, 3):
        fail(op, f"color must have shape (N, 3) = ({n}, 3) for {x_name} of shape {tuple(x.shape)}, "
                 f"got {tuple(color.shape)}")
    if color.device != x.device:
        fail(op, f"color is on {color.device} but {x_name} is on {x.device}; move both to the same device")
    if not isinstance(geometry, torch.Tensor) or geometry.dtype not in (torch.int64, torch.int32):
        got = geometry.dtype if isinstance(geometry, torch.Tensor) else type(geometry).__name__
        fail(op, f"geometry must be an int64 or int32 tensor (N, 6) of shifts and cut boxes, got {got}")
    if geometry.dim() != 2 or tuple(geometry.shape) != (n, 6):
        fail(op, f"geometry must have shape (N, 6) = ({n}, 6) (dy, dx, y0, y1, x0, x1) for {x_name} of shape "
                 f"{tuple(x.shape)}, got {tuple(geometry.shape)}")
    if geometry.device != x.device:
        fail(op, f"geometry is on {geometry.device} but {x_name} is on {x.device}; move both to the same device")


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels_last for a channels-last (and not also contiguous) x, else contiguous: the op's layout."""
    channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last else torch.contiguous_format


def output_like(x: torch.Tensor) -> torch.Tensor:
    """The op's output allocation (csrc/augment_setup.h), in the layout `memory_format` names."""
    return torch.empty_like(x, memory_format=memory_format(x))
