"""Imports a built pygan._C (by file path) and checks that every op it registers under
torch.ops.pygan has a CPU and an Autograd kernel (and a CUDA one with --cuda). The op list comes
from the dispatcher's registry (pygan/ops/registry.py), so a new op is checked without listing it.

usage: python .ci/check_build.py PATH_TO_C_SO [--cuda]
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import torch

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "pygan" / "ops" / "registry.py"
SCHEMAS = ROOT / "csrc" / "ops.cpp"


def defined_ops() -> set[str]:
    """The ops csrc/ops.cpp defines (m.def("name(...")): a build that registers fewer lost one."""
    return set(re.findall(r'm\.def\(\s*"(\w+)\(', SCHEMAS.read_text()))


def load(name: str, path: Path | str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    path, want_cuda = sys.argv[1], "--cuda" in sys.argv[2:]
    module = load("pygan._C", path)  # registers the ops
    registry = load("pygan_ops_registry", REGISTRY)
    ops = registry.registered_ops()
    if not ops or set(ops) != defined_ops():
        sys.exit(f"{path}: registers {list(ops)}, but {SCHEMAS.name} defines {sorted(defined_ops())}")
    keys = ["CPU", "Autograd"] + (["CUDA"] if want_cuda else [])
    missing = registry.missing_kernels(keys)
    if missing:
        sys.exit(f"{path}: missing kernels {missing}")
    if bool(module.compiled_with_cuda()) != want_cuda:
        sys.exit(f"{path}: compiled_with_cuda() = {module.compiled_with_cuda()}, expected {want_cuda}")
    print(f"{path}: ok; {len(ops)} ops ({', '.join(ops)}) with {'/'.join(keys)} kernels; CPU ISAs "
          f"{module.compiled_isas()}, active {module.cpu_isa()}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
