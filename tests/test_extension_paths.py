"""pygan without its extension, and each ISA build of the CPU kernels, in fresh interpreters."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

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


# The CPU features each ISA build needs, as Linux's /proc/cpuinfo names them (bmi1 = BMI, abm = LZCNT).
CPUINFO_FLAGS = {"default": set(), "avx2": {"avx2", "fma", "f16c", "bmi1", "abm"},
                 "avx512": {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma", "f16c"}}
AVX2 = ["avx2", "fma", "f16c", "bmi", "lzcnt"]
AVX512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma", "f16c"]
needs_kernels = pytest.mark.skipif(not compiled_for("cpu"), reason="pygan._C is not built")


def cpuinfo_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), None)
    return set(line.split(":", 1)[1].split()) if line else None


def cpu_runs(isa: str) -> bool:
    """Decided from the CPU itself (never from torch's capability, which ATEN_CPU_CAPABILITY sets)."""
    flags = cpuinfo_flags()
    if flags is None:
        from pygan._extension import _C

        return isa in _C.cpu_isa_support()["supported"]
    return CPUINFO_FLAGS[isa] <= flags


@needs_kernels
@pytest.mark.parametrize("capability", ["default", "avx2", "avx512"])
def test_each_isa_build_matches_the_reference(capability):
    from pygan._extension import _C

    if capability not in _C.compiled_isas():
        pytest.skip(f"{capability} kernels are not built on this machine")
    if not cpu_runs(capability):
        pytest.skip(f"this CPU cannot run {capability} code")
    result = run_check(ATEN_CPU_CAPABILITY=capability)
    assert result["warnings"] == []
    assert result["paths"]["fused_leaky_relu"]["cpu"] == "compiled CPU"
    assert result["ok"]
    assert result["isa"] == capability


@needs_kernels
def test_the_isas_pygan_detects_are_those_the_cpu_reports():
    from pygan._extension import _C

    flags = cpuinfo_flags()
    if flags is None or platform.machine().lower() not in {"x86_64", "amd64"}:
        pytest.skip("needs /proc/cpuinfo on x86-64")
    expected = [isa for isa in ("default", "avx2", "avx512") if CPUINFO_FLAGS[isa] <= flags]
    assert list(_C.cpu_isa_support()["supported"]) == expected


@needs_kernels
@pytest.mark.parametrize(("requested", "features", "runs"), [
    ("avx512", AVX512 + AVX2, "avx512"),
    ("avx512", AVX2, "avx2"),                            # an AVX2-only CPU told to use AVX-512
    ("avx512", [], "default"),
    ("AVX512", [f for f in AVX2 if f != "lzcnt"], "default"),  # ATen's spelling; no LZCNT: no AVX2 build
    ("avx2", AVX512 + AVX2, "avx2"),                     # never above what ATen asks for
    ("default", AVX512 + AVX2, "default"),
    *[("avx512", [f for f in AVX512 + AVX2 if f != missing], "avx2") for missing in AVX512 if missing not in AVX2],
    *[("avx2", [f for f in AVX2 if f != missing], "default") for missing in AVX2],
])
def test_the_choice_is_clamped_to_the_cpu_features(requested, features, runs):
    from pygan._extension import _C

    assert _C.clamp_isa(requested, features) == runs


@needs_kernels
def test_clamp_isa_refuses_an_unknown_isa():
    from pygan._extension import _C

    with pytest.raises(ValueError, match="requested must be 'default', 'avx2' or 'avx512', got 'sse9'"):
        _C.clamp_isa("sse9", [])


@needs_kernels
@pytest.mark.parametrize("capability", [None, "default", "avx2", "avx512"])
def test_info_reports_a_consistent_isa_choice(capability):
    env = {"ATEN_CPU_CAPABILITY": capability} if capability else {}
    if capability and not cpu_runs(capability):
        pytest.skip(f"this CPU cannot run {capability} code")  # torch's own kernels would crash
    code = ("import json; from pygan import _C; from pygan.info import collect; "
            "print(json.dumps({'info': collect(), 'support': _C.cpu_isa_support()}))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
                         text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    info, support = result["info"], result["support"]
    assert info["cpu_isa_active"] == support["active"]
    assert info["cpu_isa_active"] in info["cpu_isas_supported"] and info["cpu_isa_active"] in info["cpu_isas_compiled"]
    from pygan._extension import _C

    assert info["cpu_isa_active"] == _C.clamp_isa(info["cpu_isa_requested"], support["cpu_features"])
    assert info["cpu_isa_clamped"] == (info["cpu_isa_active"] != info["cpu_isa_requested"])
    assert (info["cpu_isa_note"] is None) == (not info["cpu_isa_clamped"])
    if capability and capability in info["cpu_isas_compiled"]:
        assert info["cpu_isa_requested"] == capability


def test_info_says_when_it_clamped(monkeypatch):
    from pygan import info

    class AvxTwoOnlyCpu:  # what pygan._C reports on an AVX2-only CPU told to use AVX-512
        @staticmethod
        def cpu_isa_support():
            return {"cpu_features": tuple(AVX2), "supported": ("default", "avx2"), "requested": "avx512",
                    "active": "avx2", "clamped": True}

        @staticmethod
        def compiled_isas():
            return ("default", "avx2", "avx512")

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    report = info._isa_report(AvxTwoOnlyCpu())
    assert report["cpu_isa_active"] == "avx2" and report["cpu_isa_clamped"] is True
    assert report["cpu_isas_supported"] == ["default", "avx2"]
    assert "ATEN_CPU_CAPABILITY=avx512 asks for avx512" in report["cpu_isa_note"]
    assert "pygan's kernels run avx2" in report["cpu_isa_note"]
