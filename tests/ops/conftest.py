"""PYGAN_TEST_DEVICE=cuda runs the op tests on the GPU: every tensor a test makes without naming a
device is made there (torch.set_default_device), so the same tests (reference in every dtype,
extreme logits, layouts, double backward, opcheck, torch.compile) check the CUDA kernels.
Unset or `cpu`, nothing changes. Only for `pytest tests/ops`: other folders assume the CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

DEVICE = os.environ.get("PYGAN_TEST_DEVICE", "cpu").strip().lower() or "cpu"
HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    if DEVICE == "cpu":
        return
    if DEVICE != "cuda":
        raise pytest.UsageError(f"PYGAN_TEST_DEVICE must be cpu or cuda, got {DEVICE!r}")
    from pygan._extension import compiled_for

    if not torch.cuda.is_available():
        raise pytest.UsageError("PYGAN_TEST_DEVICE=cuda but torch sees no GPU; unset it to test on the CPU")
    if not compiled_for("cuda"):
        raise pytest.UsageError("PYGAN_TEST_DEVICE=cuda but pygan._C has no CUDA kernels; rebuild with "
                                "PYGAN_FORCE_CUDA=1 python setup.py build_ext --inplace")
    # Before the test modules import: tensors they build at collection (opcheck samples) go there too.
    torch.set_default_device(DEVICE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DEVICE == "cpu":
        return
    outside = [item.nodeid for item in items if HERE not in Path(item.path).resolve().parents]
    if outside:
        raise pytest.UsageError(f"PYGAN_TEST_DEVICE={DEVICE} applies to tests/ops only, but the run collected "
                                f"{outside[0]} (and {len(outside) - 1} more); run pytest tests/ops")
