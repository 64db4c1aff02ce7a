"""benchmarks/gpu-check.sh refuses bad arguments before doing anything, and its summary writer
marks a run that stopped early as incomplete (CI runs the whole CPU rehearsal as its own step)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu-check.sh"


def _summary_module():
    spec = importlib.util.spec_from_file_location("gpu_check_summary", ROOT / "benchmarks" / "gpu_check_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus", "out"], "unknown option --bogus"),
    ([], "give the output folder"),
    (["a", "b"], "one output folder only"),
])
def test_bad_arguments_are_refused_with_exit_2(args, message, tmp_path):
    out = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert message in out.stderr


def test_help_names_the_modes():
    out = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "--cpu-rehearsal" in out.stdout and "GPU_CHECK_BUDGET_S" in out.stdout


def test_a_run_cut_short_is_an_incomplete_summary(tmp_path):
    summary = _summary_module()
    rows = ["env\tok\t1.5\t0\tlogs/env.log\t", "build\ttimed out\t300.0\t124\tlogs/build.log\tkilled after 300s"]
    (tmp_path / "stages.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "env.json").write_text(json.dumps({"gpu": "test"}))
    assert summary.main([str(tmp_path), "--stages", "env build tests_cuda"]) == 0
    written = json.loads((tmp_path / "summary.json").read_text())
    assert [s["status"] for s in written["stages"]] == ["ok", "timed out", "not run"]
    assert written["stages"][0]["numbers"] == {"gpu": "test"}
    assert not written["complete"] and not written["ok"] and written["failed"] == ["build"]
    problems = summary.check(tmp_path / "summary.json", ["env", "build", "tests_cuda"])
    assert any("build: timed out" in p for p in problems) and any("tests_cuda: not run" in p for p in problems)
    assert summary.main([str(tmp_path), "--stages", "env build tests_cuda", "--check"]) == 1
