"""The pygan ops as the dispatcher has them registered (csrc/ops.cpp): the one list of ops, read
from the registry, never kept by hand. Needs only torch, so the CI build check loads this file by
path next to a freshly built pygan._C."""

from __future__ import annotations

import torch

NAMESPACE = "pygan"


def registered_ops() -> tuple[str, ...]:
    """Every op registered under torch.ops.pygan (empty until pygan._C is loaded), sorted."""
    prefix = f"{NAMESPACE}::"
    names = {name[len(prefix):].split(".")[0] for name in torch._C._dispatch_get_all_op_names()
             if name.startswith(prefix)}
    return tuple(sorted(names))


def user_op(op: str) -> str:
    """The user-facing op an op serves: X_backward and X_backward_<variant> (its autograd backward)
    and X_ (its in-place form) all serve X."""
    if "_backward" in op:
        return op[: op.index("_backward")]
    return op[:-1] if op.endswith("_") else op


def user_ops() -> tuple[str, ...]:
    """The user-facing ops: the registered ops without backward and in-place forms, sorted."""
    return tuple(sorted({user_op(op) for op in registered_ops()}))


def missing_kernels(dispatch_keys: list[str]) -> list[str]:
    """'op:key' for every registered op that has no kernel for one of `dispatch_keys`."""
    return [f"{op}:{key}" for op in registered_ops() for key in dispatch_keys
            if not torch._C._dispatch_has_kernel_for_dispatch_key(f"{NAMESPACE}::{op}", key)]
