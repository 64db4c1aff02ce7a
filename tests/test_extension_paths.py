"""pygan without its extension, and each ISA build of the CPU kernels, in fresh interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from pygan._extension import compiled_for

CHECK_OPS = """
import warnings, json, torch
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import pygan
    from pygan.ops import reference
    torch.manual_seed(0)
    r, f = torch.randn(300, 1, requires_grad=True), torch.randn(300, 1)
    x, b = torch.randn(4, 3, 9, 9), torch.randn(3)
    for _ in range(3):
        d = pygan.discriminator_loss(r, f, real_label=0.9)
        g = pygan.generator_loss(f, saturating=True)
        y = pygan.fused_leaky_relu(x, b, 0.2, 1.5)
        xl = (x * 2 + 1).contiguous(memory_format=torch.channels_last)
        bn = [pygan.ops.batch_norm_leaky_relu(t, b, -b, 1e-5, 0.2)[0] for t in (x, xl, x[:, :, 0].reshape(36, 3))]
    d.loss.backward()
    ok = (torch.allclose(d.loss, reference.discriminator_loss(r, f, real_label=0.9).loss)
          and torch.allclose(g.loss, reference.generator_loss(f, saturating=True).loss)
          and torch.allclose(y, reference.fused_leaky_relu(x, b, 0.2, 1.5))
          and all(torch.allclose(o, reference.batch_norm_leaky_relu(t, b, -b, 1e-5, 0.2)[0], atol=1e-5)
                  for o, t in zip(bn, (x, xl, x[:, :, 0].reshape(36, 3)))))
from pygan.info import collect
info = collect()
print(json.dumps({"ok": ok, "warnings": [str(w.message) for w in caught
                                          if issubclass(w.category, RuntimeWarning)],
                  "isa": info["cpu_isa_active"], "paths": info["ops"]}))
"""


def run_check(**env) -> dict:
    out = subprocess.run([sys.executable, "-c", CHECK_OPS], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_the_extension_pygan_runs_on_references_and_warns_once():
    result = run_check(PYGAN_DISABLE_EXTENSION="1")
    assert result["ok"]
    assert len(result["warnings"]) == 1 and "reference" in result["warnings"][0]
    assert result["isa"] is None
    assert result["paths"]["discriminator_loss"]["cpu"].startswith("reference")


@pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")
@pytest.mark.parametrize("capability", ["default", "avx2", "avx512"])
def test_each_isa_build_matches_the_reference(capability):
    from pygan._extension import _C

    if capability not in _C.compiled_isas():
        pytest.skip(f"{capability} kernels are not built on this machine")
    result = run_check(ATEN_CPU_CAPABILITY=capability)
    assert result["warnings"] == []
    assert result["paths"]["fused_leaky_relu"]["cpu"] == "compiled CPU"
    assert result["ok"]
    # ATen caps the request at what this CPU supports; the kernels follow ATen's choice.
    rank = {"default": 0, "avx2": 1, "avx512": 2}
    machine = torch.backends.cpu.get_cpu_capability().lower()
    expected = capability if rank[capability] <= rank.get(machine, 0) else machine
    assert result["isa"] == expected
