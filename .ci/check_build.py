"""Imports a built pygan._C (by file path) and checks that every op has the expected kernels.

usage: python .ci/check_build.py PATH_TO_C_SO [--cuda]
"""

from __future__ import annotations

import importlib.util
import sys

import torch

OPS = ["discriminator_loss", "discriminator_loss_backward", "generator_loss",
       "generator_loss_backward", "fused_leaky_relu", "fused_leaky_relu_", "fused_leaky_relu_backward"]


def main() -> None:
    path, want_cuda = sys.argv[1], "--cuda" in sys.argv[2:]
    spec = importlib.util.spec_from_file_location("pygan._C", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keys = ["CPU", "Autograd"] + (["CUDA"] if want_cuda else [])
    missing = [f"{op}:{key}" for op in OPS for key in keys
               if not torch._C._dispatch_has_kernel_for_dispatch_key(f"pygan::{op}", key)]
    if missing:
        sys.exit(f"{path}: missing kernels {missing}")
    if bool(module.compiled_with_cuda()) != want_cuda:
        sys.exit(f"{path}: compiled_with_cuda() = {module.compiled_with_cuda()}, expected {want_cuda}")
    print(f"{path}: ok; CPU ISAs {module.compiled_isas()}, active {module.cpu_isa()}, "
          f"CUDA kernels {'yes' if want_cuda else 'no'}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
