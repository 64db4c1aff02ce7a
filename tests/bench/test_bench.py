"""The benchmark harness measures what it says (no timed assertions: speed is reported, not tested)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from pygan._extension import compiled_for
from pygan.bench import cases, memory, ops_bench, report, timing
from pygan.cli import app


def test_interleaved_timing_reports_medians_per_provider():
    calls = {"fast": 0, "slow": 0}

    def fast():
        calls["fast"] += 1

    def slow():
        calls["slow"] += 1
        time.sleep(0.001)

    result = timing.measure_interleaved({"fast": fast, "slow": slow}, torch.device("cpu"), repeats=3,
                                        target_seconds=0.005)
    assert set(result) == {"fast", "slow"}
    assert result["slow"].median_us >= 1000 > result["fast"].median_us
    assert result["slow"].p25_us <= result["slow"].median_us <= result["slow"].p75_us
    assert calls["slow"] >= 3 * result["slow"].calls_per_repeat


def test_saved_for_backward_counts_what_autograd_keeps():
    x = torch.randn(4, 8, 5, 5, requires_grad=True)
    b = torch.randn(8, requires_grad=True)
    eager = memory.saved_for_backward(cases._leaky_stable, [x, b])
    assert eager["extra_saved_bytes"] == x.numel() * 4  # the x + b temporary
    if compiled_for("cpu"):
        fused = memory.saved_for_backward(lambda x, b: cases.fused_leaky_relu(x, b), [x, b])
        assert fused["extra_saved_bytes"] == 0 and fused["saved_bytes"] == x.numel() * 4  # its output only


def test_a_case_produces_rows_for_every_provider_and_mode():
    case = cases.make_case("bias_leaky_relu", (2, 4, 8, 8), torch.float32, torch.device("cpu"))
    rows = ops_bench.bench_case(case, repeats=3, with_compile=False, copy_gbps=10.0)
    assert {(r["provider"], r["mode"]) for r in rows} == {
        (p, m) for p in ("pygan", "eager textbook", "eager stable") for m in ("fwd", "fwd+bwd")}
    assert all(r["median_us"] > 0 and r["effective_gbps"] > 0 for r in rows)
    table = report.ops_table(rows)
    assert table.row_count == 2


def _small_shape(op: str) -> tuple[int, ...]:
    if op == "diff_augment":
        return (4, 3, 16, 12)
    return (8, 4, 5, 5) if "relu" in op else (4, 3, 5, 5) if "penalty" in op else (64, 1)


@pytest.mark.parametrize("op", list(cases.SHAPES))
def test_every_provider_computes_the_fused_values_and_gradients(op):
    """Each eager reference is the op it claims to be: value and input gradients as the fused op's."""
    case = cases.make_case(op, _small_shape(op), torch.float64, torch.device("cpu"))
    results = {}
    for name, fn in case.providers.items():
        for t in case.inputs:
            t.grad = None
        out = fn(*case.inputs)
        out.backward(case.grad)
        results[name] = (out.detach(), [t.grad for t in case.inputs])
    fused_value, fused_grads = results["pygan"]
    assert case.compile_source in case.providers and len(case.providers) >= 2
    for name, (value, grads) in results.items():
        torch.testing.assert_close(value, fused_value, msg=name)
        for grad, fused_grad in zip(grads, fused_grads, strict=True):
            torch.testing.assert_close(grad, fused_grad, msg=f"{name}: gradient")


NEW_CASES = ("hinge_d_loss", "ls_d_loss", "wgan_d_loss", "rel_d_loss", "hinge_g_loss", "ls_g_loss",
             "gradient_penalty", "r1_penalty")


@pytest.mark.parametrize("op", NEW_CASES)
def test_the_objective_and_penalty_cases_build_at_every_shape_with_honest_bytes(op):
    assert len(cases.QUICK_SHAPES[op]) == 1 and cases.QUICK_SHAPES[op][0] in cases.SHAPES[op]
    for shape in cases.SHAPES[op]:
        for dtype in (torch.float32, torch.bfloat16):
            case = cases.make_case(op, shape, dtype, torch.device("meta"))
            assert all(t.shape == shape and t.dtype == dtype and t.requires_grad for t in case.inputs)
            inputs = sum(t.numel() * t.element_size() for t in case.inputs)
            # a forward reads every input once; a backward writes every input's gradient, and reads
            # the inputs again unless the gradient is a constant
            assert case.min_bytes_fwd == inputs
            constant_gradient = op in ("wgan_d_loss", "hinge_g_loss")
            assert case.min_bytes_fwd_bwd == inputs * (2 if constant_gradient else 3)


def test_penalty_cases_sit_at_dcgans_input_gradients_and_the_objectives_at_d_loss_shapes():
    assert cases.SHAPES["gradient_penalty"] == [(64, 1, 64, 64), (64, 3, 64, 64), (128, 3, 32, 32)]
    for op in NEW_CASES[:6]:
        assert cases.SHAPES[op] == cases.SHAPES["d_loss"]


def test_a_case_with_one_eager_spelling_is_compiled_from_it(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compiled.append(fn) or fn)
    case = cases.make_case("wgan_d_loss", (16, 1), torch.float32, torch.device("cpu"))
    rows = ops_bench.bench_case(case, repeats=3, with_compile=True, copy_gbps=10.0)
    assert compiled == [case.providers["eager"]]
    assert {(r["provider"], r["mode"]) for r in rows} == {
        (p, m) for p in ("pygan", "eager", "torch.compile") for m in ("fwd", "fwd+bwd")}
    table = report.ops_table(rows)
    assert [c.header for c in table.columns][4:7] == ["pygan", "eager", "torch.compile"]
    assert "0.0 / 0.0 MB" in list(table.columns[-1].cells)  # what autograd keeps, against the eager one


def test_an_unknown_case_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown case 'conv'.*hinge_d_loss"):
        cases.make_case("conv", (4,), torch.float32, torch.device("cpu"))


def test_bench_commands_have_help():
    runner = CliRunner()
    for command in (["bench", "--help"], ["bench", "train", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0 and "Usage" in result.output


def test_bench_help_names_every_case():
    output = CliRunner().invoke(app, ["bench", "--help"], terminal_width=200).output
    missing = [op for op in cases.SHAPES if not re.search(rf"(?<!\w){op}(?!\w)", output)]
    assert not missing


def test_quality_bench_runs_and_summarises_seeds(monkeypatch):
    from pygan.bench import quality

    monkeypatch.setattr(quality, "_one_run", lambda dataset, recipe, pack, seed, epochs: {
        "modes_covered": 6 + seed + (recipe == "hinge"), "modes_total": 8, "high_quality": 0.9, "reverse_kl": 0.1})
    result = quality.run(seeds=3, epochs=1, datasets=["ring8"], packs=[1, 2], recipe_names=["non-saturating", "hinge"])
    assert [(r["dataset"], r["recipe"], r["pack"]) for r in result["results"]] == [
        ("ring8", "non-saturating", 1), ("ring8", "non-saturating", 2), ("ring8", "hinge", 1), ("ring8", "hinge", 2)]
    assert result["results"][2]["modes_covered"][0] == 8.0 and result["results"][2]["flags"] == "--loss hinge"
    mean, se = result["results"][0]["modes_covered"]
    assert mean == 7.0 and abs(se - 1 / 3**0.5) < 1e-12  # stdev 1 over sqrt(3) seeds
    assert result["published"]["ring8 GAN"] == (6.3, 98.2)


def test_quality_bench_resume_trains_only_the_runs_its_log_lacks(monkeypatch, tmp_path):
    from pygan.bench import quality

    trained = []

    def fake_run(dataset, recipe, pack, seed, epochs):
        trained.append(seed)
        return {"modes_covered": 8 - seed, "modes_total": 8, "high_quality": 0.9, "reverse_kl": 0.1}

    monkeypatch.setattr(quality, "_one_run", fake_run)
    out = tmp_path / "q.json"
    args = ["bench", "quality", "--dataset", "ring8", "--pack", "1", "--epochs", "2", "--json", str(out)]
    assert CliRunner().invoke(app, [*args, "--seeds", "2"]).exit_code == 0
    assert trained == [0, 1]
    # An interrupted longer protocol goes on: seeds 0 and 1 come from the log, 2 and 3 are trained.
    result = CliRunner().invoke(app, [*args, "--seeds", "4", "--resume"])
    assert result.exit_code == 0, result.output
    assert trained == [0, 1, 2, 3]
    summary = json.loads(out.read_text())["results"][0]
    assert [r["modes_covered"] for r in summary["runs"]] == [8, 7, 6, 5] and summary["modes_covered"][0] == 6.5
    assert len(Path(f"{out}.runs.jsonl").read_text().splitlines()) == 4
    # Other epochs are other runs: nothing is reused.
    assert CliRunner().invoke(app, [*args[:-4], "--epochs", "3", "--json", str(out), "--seeds", "1",
                                    "--resume"]).exit_code == 0
    assert trained == [0, 1, 2, 3, 0]


def test_quality_bench_resume_needs_a_log_it_can_read(tmp_path):
    result = CliRunner().invoke(app, ["bench", "quality", "--resume"])
    assert result.exit_code == 2 and "--resume" in result.output and "--json" in result.output
    out = tmp_path / "q.json"
    Path(f"{out}.runs.jsonl").write_text("not json\n")
    result = CliRunner().invoke(app, ["bench", "quality", "--resume", "--json", str(out)])
    assert result.exit_code == 2 and "is not a runs log" in result.output


@pytest.mark.slow
def test_quality_bench_one_real_run():
    from pygan.bench import quality

    run = quality._one_run("ring8", "non-saturating", 2, seed=0, epochs=1)
    assert run["modes_total"] == 8 and 0 <= run["modes_covered"] <= 8 and 0 <= run["high_quality"] <= 1


@pytest.mark.slow
def test_quality_bench_jobs_train_in_worker_processes_and_keep_the_seed_order():
    from pygan.bench import quality

    result = quality.run(seeds=2, epochs=1, datasets=["ring8"], packs=[2], jobs=2)
    runs = result["results"][0]["runs"]
    # The same numbers as the runs trained here, one thread each (CPU training is deterministic).
    threads = torch.get_num_threads()
    try:
        expected = [quality._one_run_single_threaded(("ring8", "non-saturating", 2, seed, 1)) for seed in range(2)]
    finally:
        torch.set_num_threads(threads)
    assert runs == expected


def test_train_bench_reports_every_variant_against_plain_eager():
    from pygan.bench import train_step
    from pygan.training.precision import cpu_bf16_features

    variants = tuple(v for v in train_step.VARIANTS if not v.compile)
    result = train_step.run(torch.device("cpu"), size=16, batch=4, steps=1, repeats=1, variants=variants)
    rows = {r["provider"]: r for r in result["rows"]}
    assert list(rows) == [v.label for v in variants]
    assert rows["plain eager fp32"]["speedup_vs_plain_eager"] == 1.0
    assert rows["pygan auto"]["precision"] == ("bf16" if "amx_bf16" in cpu_bf16_features() else "fp32")
    assert rows["pygan fp32"]["channels_last"] and not rows["plain eager fp32"]["channels_last"]
    assert all(r["images_per_s"] > 0 and r["compile_seconds"] is None for r in rows.values())


def test_bench_refuses_an_unknown_case():
    result = CliRunner().invoke(app, ["bench", "--quick", "--op", "conv"])
    assert result.exit_code == 2 and "unknown case 'conv'" in result.output and "bn_leaky_relu" in result.output


def test_train_bench_leaves_out_emulated_bf16_and_says_so(monkeypatch):
    from pygan.bench import train_step
    from pygan.training import precision

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: ())
    variants, skipped = train_step.choose_variants(cpu, with_compile=False, bf16=None)
    assert "pygan bf16" not in [v.label for v in variants] and skipped == [train_step.BF16_SKIPPED]
    variants, skipped = train_step.choose_variants(cpu, with_compile=False, bf16=True)
    assert "pygan bf16" in [v.label for v in variants] and not skipped
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: ("avx512_bf16",))
    variants, _ = train_step.choose_variants(cpu, with_compile=True, bf16=None)
    assert [v.label for v in variants] == [v.label for v in train_step.VARIANTS]


def test_every_bench_table_names_the_machine():
    from rich.console import Console

    from pygan.bench import report

    info = report.machine()
    line = report.describe(info)
    assert info["cpu"] and line.startswith(f"measured on {info['cpu']}") and "threads of" in line
    console = Console(width=200, record=True)
    rows = [{"provider": "plain eager fp32", "precision": "fp32", "channels_last": False,
             "median_ms_per_step": 10.0, "images_per_s": 6.4, "speedup_vs_plain_eager": 1.0}]
    report.print_tables(console, {"machine": info, "train": {"size": 16, "batch": 4, "rows": rows,
                                                              "skipped": ["a note"]}})
    text = console.export_text()
    assert line in text and "a note" in text


def test_train_bench_times_the_penalty_variants_against_plain_pytorch_with_the_same_penalty():
    from pygan.bench import train_step

    variants = tuple(v for v in train_step.PENALTY_VARIANTS if not v.compile)
    result = train_step.run(torch.device("cpu"), size=16, batch=4, steps=1, repeats=1, variants=variants)
    rows = {r["provider"]: r for r in result["rows"]}
    assert list(rows) == [v.label for v in variants] and not result["skipped"]
    r1, gp = rows["pygan fp32 + lazy R1"], rows["pygan fp32 + WGAN-GP"]
    assert r1["regularisers"] == ["r1:10:16"] and r1["loss"] == "non-saturating"
    assert gp["regularisers"] == ["gradient-penalty:10:1"] and gp["loss"] == "wasserstein"
    assert r1["baseline"] == "plain eager fp32 + lazy R1" and gp["baseline"] == "plain eager fp32 + WGAN-GP"
    assert r1["steps_per_repeat"] == 16 and gp["steps_per_repeat"] == 1  # whole lazy intervals
    assert all(r["images_per_s"] > 0 and r["speedup_vs_plain_eager"] > 0 for r in rows.values())


def test_the_augment_case_moves_a_batch_of_images_and_its_gradient_once():
    for shape in cases.SHAPES["diff_augment"]:
        case = cases.make_case("diff_augment", shape, torch.bfloat16, torch.device("meta"))
        size = case.inputs[0].numel() * 2
        assert case.min_bytes_fwd == 2 * size and case.min_bytes_fwd_bwd == 4 * size
    assert cases.QUICK_SHAPES["diff_augment"] == [(64, 3, 64, 64)]  # the 64x3x64x64


def test_train_bench_times_diffaugment_fused_and_as_plain_pytorch():
    from pygan.bench import train_step

    cpu = torch.device("cpu")
    chosen, _ = train_step.choose_variants(cpu, with_compile=False, bf16=False, augment=True)
    assert [v.label for v in chosen if v.augment] == [v.label for v in train_step.AUGMENT_VARIANTS]
    result = train_step.run(cpu, size=16, batch=4, steps=1, repeats=1, variants=train_step.AUGMENT_VARIANTS)
    rows = {r["provider"]: r for r in result["rows"]}
    assert rows["pygan fp32 + DiffAugment"]["baseline"] == "plain eager fp32 + DiffAugment"
    assert all(r["augment"] and r["images_per_s"] > 0 for r in rows.values())
    spec = train_step.run_spec(train_step.AUGMENT_VARIANTS[1], cpu, 16, 4)
    assert spec.train.augment == "diffaugment" and spec.train.augment_options["p"] == 1.0


def test_train_bench_leaves_penalties_out_unless_asked():
    from pygan.bench import train_step

    cpu = torch.device("cpu")
    default, _ = train_step.choose_variants(cpu, with_compile=True, bf16=True)
    assert not any(v.objective.penalty for v in default)
    chosen, _ = train_step.choose_variants(cpu, with_compile=False, bf16=True, penalties=True)
    assert [v.label for v in chosen if v.objective.penalty] == [
        v.label for v in train_step.PENALTY_VARIANTS if not v.compile]


def test_the_plain_penalties_equal_the_regularisers_on_the_same_discriminator():
    from pygan import plugins
    from pygan.bench import plain_step
    from pygan.regularisers import PenaltyInputs

    arch = plugins.get_architecture("dcgan")
    spec = plugins.DataSpec((3, 16, 16))
    torch.manual_seed(0)
    d = plain_step.plain_copy(arch.build(spec, plugins.resolve_options("dcgan", arch.options, {})).discriminator)
    d = d.double()
    real, fake = torch.rand(4, 3, 16, 16, dtype=torch.float64), torch.rand(4, 3, 16, 16, dtype=torch.float64)
    inputs = PenaltyInputs(d, real, fake, torch.Generator().manual_seed(3))
    eps = torch.rand(4, generator=torch.Generator().manual_seed(3), dtype=torch.float64).view(4, 1, 1, 1)
    torch.testing.assert_close(plain_step.plain_r1(d, real, fake), plugins.get_regulariser("r1").penalty(inputs))
    torch.testing.assert_close(plain_step.plain_gradient_penalty(d, real, fake, eps),
                               plugins.get_regulariser("gradient-penalty").penalty(inputs))


def test_the_plain_step_computes_a_lazy_penalty_on_every_kth_step(monkeypatch):
    from pygan.bench import plain_step

    calls = []
    r1 = plain_step.plain_r1
    monkeypatch.setitem(plain_step.PLAIN_PENALTIES, "r1", lambda *a: calls.append(1) or r1(*a))
    step = plain_step.plain_step(torch.device("cpu"), 16, 2, plain_step.LAZY_R1)
    for _ in range(17):
        step()
    assert len(calls) == 2  # D steps 0 and 16


def test_a_compile_variant_torch_cannot_differentiate_twice_is_reported_not_raised(monkeypatch):
    from pygan.bench import train_step

    def refused(variant, *args):
        if variant.compile:
            raise RuntimeError("torch.compile with aot_autograd does not currently support double backward\ndetail")
        return (lambda: None), "fp32"

    monkeypatch.setattr(train_step, "_step_fn", refused)
    result = train_step.run(torch.device("cpu"), size=16, batch=4, steps=1, repeats=1,
                            variants=train_step.PENALTY_VARIANTS[:3])
    assert [r["provider"] for r in result["rows"]] == [v.label for v in train_step.PENALTY_VARIANTS[:2]]
    assert result["skipped"] == [
        "pygan fp32 --compile + lazy R1: not timed, torch.compile cannot differentiate the penalty's gradient "
        "through the compiled D: torch.compile with aot_autograd does not currently support double backward"]

    def broken(variant, *args):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(train_step, "_step_fn", broken)  # any other failure still fails the bench
    with pytest.raises(RuntimeError, match="shape mismatch"):
        train_step.run(torch.device("cpu"), size=16, batch=4, steps=1, repeats=1,
                       variants=train_step.PENALTY_VARIANTS[2:3])


@pytest.mark.slow
def test_torch_compile_of_a_penalty_step_is_reported_with_torchs_reason():
    from pygan.bench import train_step

    result = train_step.run(torch.device("cpu"), size=16, batch=4, steps=1, repeats=1,
                            variants=train_step.PENALTY_VARIANTS[2:3])
    if result["rows"]:  # a torch that differentiates compiled graphs twice times it like the others
        assert result["rows"][0]["compile_seconds"] > 0 and not result["skipped"]
    else:
        (note,) = result["skipped"]
        assert note.startswith("pygan fp32 --compile + lazy R1: not timed") and "double backward" in note


def test_the_train_loop_benchmark_times_the_loop_and_its_step_and_profiles_both(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "benchmarks" / "train_loop_vs_step.py"
    out = tmp_path / "loop.json"
    done = subprocess.run([sys.executable, str(script), "--image-size", "16", "--batch-size", "8", "--steps", "2",
                           "--repeats", "1", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["loop_images_per_s"][0] > 0 and result["step_images_per_s"][0] > 0
    assert set(result["ms_per_step"]) == {"pygan train (loop)", "GanStep alone"}
    assert result["ms_per_step"]["GanStep alone"]["convolution (oneDNN)"] > 0
    assert result["step_gflop"] > 0 and result["sgemm_gflops"] > 0
    assert "loop / step" in done.stdout and "measured on" in done.stdout


def test_the_weight_gradient_benchmark_times_every_dcgan_layer_on_both_paths(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "benchmarks" / "conv_weight_grad.py"
    out = tmp_path / "wgrad.json"
    done = subprocess.run([sys.executable, str(script), "--batch-size", "2", "--repeats", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert len(result["rows"]) == 8 and result["sgemm_2048_gflops"] > 0
    for row in result["rows"]:
        assert set(row["ms"]) == {"oneDNN channels-last", "oneDNN NCHW", "pygan im2col+GEMM"}
        assert all(v > 0 for v in row["ms"].values())
    assert "measured on" in done.stdout and "pygan / oneDNN CL" in done.stdout
