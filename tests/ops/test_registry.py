"""The op list comes from the dispatcher's registry: pygan info and the CI build check cover every
op registered under torch.ops.pygan, the backward and in-place ops included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pygan.ops
from pygan._extension import compiled_for
from pygan.info import collect, user_ops
from pygan.ops import registry

pytestmark = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")

ROOT = Path(__file__).resolve().parents[2]
USER_OPS = {"discriminator_loss", "generator_loss", "fused_leaky_relu", "batch_norm_leaky_relu",
            "discriminator_objective", "generator_objective", "gradient_penalty", "diff_augment",
            "conv2d_weight_grad"}


def test_the_registry_lists_every_op_and_maps_backward_and_in_place_ops_to_their_user_op():
    ops = set(registry.registered_ops())
    assert {"batch_norm_leaky_relu_backward", "fused_leaky_relu_", "fused_leaky_relu_backward",
            "fused_leaky_relu_backward_bias"} <= ops
    assert set(registry.user_ops()) == USER_OPS
    assert registry.user_op("batch_norm_leaky_relu_backward") == "batch_norm_leaky_relu"
    assert registry.user_op("fused_leaky_relu_backward_bias") == "fused_leaky_relu"
    assert registry.user_op("fused_leaky_relu_") == "fused_leaky_relu"
    assert registry.missing_kernels(["CPU", "Autograd"]) == []


def test_info_lists_the_user_ops_from_the_registry_and_the_public_api_agrees():
    assert set(user_ops()) == USER_OPS == set(collect()["ops"])
    public = {registry.user_op(n) for n in pygan.ops.__all__ if n.islower() and callable(getattr(pygan.ops, n))}
    assert public == set(registry.user_ops())


def test_ci_build_check_covers_every_registered_op():
    so = next((ROOT / "pygan").glob("_C*.so"))
    out = subprocess.run([sys.executable, str(ROOT / ".ci" / "check_build.py"), str(so)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "batch_norm_leaky_relu_backward" in out.stdout and f"{len(registry.registered_ops())} ops" in out.stdout


def test_a_new_op_without_kernels_is_reported():
    code = ("import torch, pygan\nfrom pygan.ops import registry\n"
            "lib = torch.library.Library('pygan', 'FRAGMENT')\nlib.define('extra_op(Tensor x) -> Tensor')\n"
            "print(registry.missing_kernels(['CPU', 'Autograd']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "['extra_op:CPU', 'extra_op:Autograd']"
