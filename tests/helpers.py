"""Shared test helpers: dtypes the ops accept and the tolerance each is held to."""

from __future__ import annotations

import torch

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]

# Kernels compute in float (double for float64) and round once (twice for summed terms), so the
# error against a float64 reference is a couple of units in the last place of the dtype.
TOLERANCES = {
    torch.float64: dict(rtol=1e-12, atol=1e-12),
    torch.float32: dict(rtol=2e-6, atol=2e-6),
    torch.float16: dict(rtol=2e-3, atol=2e-3),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1.6e-2),
}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    """Compare in float64, with the tolerance of `dtype`; NaN must match NaN."""
    torch.testing.assert_close(actual.double(), expected.double(), equal_nan=True,
                               **TOLERANCES[dtype])


def reference_in_float64(fn, *tensors: torch.Tensor, **kwargs):
    """Run a reference formula in float64 on leaf copies; returns (output, inputs)."""
    leaves = [t.detach().double().requires_grad_(t.requires_grad) for t in tensors]
    return fn(*leaves, **kwargs), leaves


def assert_refused_by_kernel_and_fake_kernel(call, message: str) -> None:
    """`call` raises RuntimeError matching `message` on real tensors and under FakeTensorMode
    (torch.compile traces with fake tensors, so both paths must check the same way)."""
    import pytest
    from torch._subclasses.fake_tensor import FakeTensorMode

    with pytest.raises(RuntimeError, match=message):
        call()
    with FakeTensorMode(), pytest.raises(RuntimeError, match=message):
        call()
