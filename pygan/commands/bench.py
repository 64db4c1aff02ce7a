"""`pygan bench` (fused ops) and `pygan bench train` (a DCGAN training step)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Benchmarks: fused ops against eager PyTorch and torch.compile.")


def _setup(device: str):
    import os

    import torch

    torch.set_num_threads(os.cpu_count() or 1)  # all of this machine's cores, for every provider
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def _write(result: dict, json_path: Path | None) -> None:
    if json_path:
        from pygan.atomic import write_text_atomic

        write_text_atomic(json.dumps(result, indent=2), json_path)


@app.callback(invoke_without_command=True)
def ops(
    ctx: typer.Context,
    quick: bool = typer.Option(False, "--quick", help="A few shapes, float32, fewer repeats."),
    dtype: list[str] = typer.Option(None, "--dtype", help="float32 and/or bfloat16 (default both)."),
    op: list[str] = typer.Option(None, "--op", help="Only these cases (repeatable): d_loss, g_loss, hinge_d_loss, "
                                 "ls_d_loss, wgan_d_loss, rel_d_loss, hinge_g_loss, ls_g_loss, gradient_penalty, "
                                 "r1_penalty, leaky_relu, bias_leaky_relu, bn_leaky_relu, bn_leaky_relu_cl, "
                                 "diff_augment."),
    compile_: bool = typer.Option(True, "--compile/--no-compile", help="Include torch.compile."),
    repeats: int = typer.Option(9, "--repeats", min=3, help="Timed repeats per provider (median reported)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (timed with CUDA events)."),
    json_path: Path = typer.Option(None, "--json", help="Write all results to this JSON file."),
    plot_path: Path = typer.Option(None, "--plot", help="Write a speed-up chart to this PNG."),
) -> None:
    """Time every fused op, forward and forward+backward, against eager PyTorch and torch.compile."""
    if ctx.invoked_subcommand is not None:
        return
    import torch
    from rich.console import Console

    from pygan.bench import cases, ops_bench, report

    unknown = [o for o in op or [] if o not in cases.SHAPES]
    if unknown:
        raise typer.BadParameter(f"unknown case {unknown[0]!r}; cases are {', '.join(cases.SHAPES)}", param_hint="--op")
    names = dtype or (["float32"] if quick else ["float32", "bfloat16"])
    bad = [n for n in names if n not in ("float32", "bfloat16")]
    if bad:
        raise typer.BadParameter(f"unsupported dtype {bad[0]!r}; use float32 or bfloat16", param_hint="--dtype")
    dev = _setup(device)
    console = Console(width=170)  # the table is wide; let it wrap in files rather than squeeze
    with console.status("benchmarking") as status:
        ops_result = ops_bench.run(dev, [getattr(torch, n) for n in names], quick, compile_,
                                   3 if quick and repeats == 9 else repeats, ops=op or None,
                                   progress=lambda text: status.update(f"benchmarking {text}"))
    result = {"machine": report.machine(), "ops": ops_result}
    report.print_tables(console, result)
    _write(result, json_path)
    if plot_path:
        report.plot(ops_result["rows"], str(plot_path))


@app.command()
def train(
    size: int = typer.Option(64, "--image-size", help="Image side."),
    batch: int = typer.Option(64, "--batch-size", help="Batch size."),
    steps: int = typer.Option(4, "--steps", min=1, help="Steps per timed repeat."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Timed repeats per provider."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    compile_variants: bool = typer.Option(True, "--compile/--no-compile",
                                          help="Include the torch.compile variants (they compile first)."),
    bf16: bool = typer.Option(None, "--bf16/--no-bf16", show_default=False,
                              help="Time the forced-bf16 variant (default: where bfloat16 runs natively)."),
    penalties: bool = typer.Option(False, "--penalties/--no-penalties",
                                   help="Also time the step with lazy R1 (--reg r1:10:16) and WGAN-GP (--loss "
                                   "wasserstein --reg gradient-penalty), each against the same in plain PyTorch; "
                                   "about doubles the run."),
    augment: bool = typer.Option(False, "--augment/--no-augment",
                                 help="Also time the step with DiffAugment (--augment color,translation,cutout) "
                                 "on every batch D sees, against its authors' code in plain PyTorch."),
    json_path: Path = typer.Option(None, "--json", help="Write the results to this JSON file."),
) -> None:
    """Images/s of a DCGAN training step, pygan against plain PyTorch.

    Plain eager fp32 against pygan fp32 (channels-last and NCHW), pygan --precision auto (bf16 autocast
    where the hardware runs it natively), forced bf16 and pygan --compile; with --penalties also
    lazy R1 and WGAN-GP, plain and pygan (--compile where torch.compile can take the double backward); with
    --augment also DiffAugment, plain and pygan."""
    from rich.console import Console

    from pygan.bench import report, train_step

    dev = _setup(device)
    console = Console(width=120)
    variants, skipped = train_step.choose_variants(dev, compile_variants, bf16, penalties, augment)
    with console.status("timing training steps") as status:
        result = {"machine": report.machine(),
                  "train": train_step.run(dev, size, batch, steps, repeats, variants,
                                          progress=lambda text: status.update(f"timing {text}"))}
    result["train"]["skipped"] = skipped + result["train"]["skipped"]
    report.print_tables(console, result)
    _write(result, json_path)


def _logged_runs(json_path: Path | None) -> dict:
    """The runs a --resume takes from JSON.runs.jsonl (none when it does not exist yet)."""
    from pygan.bench import quality as quality_bench

    if json_path is None:
        raise typer.BadParameter("--resume reads the runs logged beside --json PATH; give --json",
                                 param_hint="--resume")
    log = Path(f"{json_path}.runs.jsonl")
    if not log.exists():
        return {}
    try:
        return quality_bench.logged_runs(log.read_text().splitlines())
    except (ValueError, KeyError, AttributeError) as exc:
        raise typer.BadParameter(f"{log} is not a runs log of pygan bench quality ({exc}); move it away or "
                                 "leave out --resume", param_hint="--resume") from None


def _run_logger(json_path: Path | None):
    """Appends each finished run to JSON_PATH.runs.jsonl as it ends, so hours of training survive a
    failure before the summary is written."""
    from pygan.bench import quality as quality_bench

    if json_path is None:
        return lambda task, result: None
    log = Path(f"{json_path}.runs.jsonl")

    def write(task, result) -> None:
        with log.open("a") as f:
            f.write(quality_bench.log_line(task, result))
    return write


@app.command()
def quality(
    seeds: int = typer.Option(10, "--seeds", min=1, help="Seeds per setting."),
    epochs: int = typer.Option(25, "--epochs", min=1, help="Epochs per run (25 = the trainer's default)."),
    dataset: list[str] = typer.Option(None, "--dataset", help="ring8 and/or grid25 (default both)."),
    pack: list[int] = typer.Option(None, "--pack", help="Packing degrees to compare (default 1 and 2)."),
    recipe: list[str] = typer.Option(None, "--recipe", metavar="NAME",
                                     help="Training recipes to compare (repeatable; default non-saturating): "
                                     "non-saturating, hinge, hinge-sn, least-squares, wgan-gp, relativistic-r1-r2, "
                                     "conditional."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Runs trained at once, one thread each (e.g. the core count)."),
    json_path: Path = typer.Option(None, "--json", help="Write the results to this JSON file."),
    resume: bool = typer.Option(False, "--resume", help="Take the runs already logged in JSON.runs.jsonl "
                                "(same data, recipe, pack, seed and epochs) instead of training them again."),
) -> None:
    """Mode coverage on ring8/grid25 over seeds, vs PacGAN.

    mlp recipes (default: the non-saturating one) over seeds, with and without PacGAN packing,
    beside PacGAN's table."""
    from rich.console import Console
    from rich.table import Table

    from pygan.bench import quality as quality_bench
    from pygan.bench import recipes
    from pygan.bench.report import describe, machine

    names = recipe or ["non-saturating"]
    for name in names:
        try:
            recipes.get(name)
        except ValueError as exc:
            raise typer.BadParameter(str(exc).removeprefix("--recipe "), param_hint="--recipe") from None
    console = Console(width=120)
    done_runs = _logged_runs(json_path) if resume else None
    with console.status("training") as status:
        result = quality_bench.run(seeds, epochs, dataset or ["ring8", "grid25"], pack or [1, 2],
                                   progress=lambda text: status.update(f"training: {text}"), jobs=jobs,
                                   recipe_names=names, on_run=_run_logger(json_path), done_runs=done_runs)
    table = Table(title=f"mode coverage, mlp, {epochs} epochs, {seeds} seeds, mean +- standard error")
    conditional = any("own_mode" in r for r in result["results"])
    columns = ["data", "setting", "modes covered", "high-quality samples", "reverse KL"]
    for col in columns + (["on own mode (worst class; worst seed)"] if conditional else []):
        table.add_column(col)
    for r in result["results"]:
        (m, m_se), (h, h_se), (k, k_se) = r["modes_covered"], r["high_quality"], r["reverse_kl"]
        row = [r["dataset"], f"pygan {r['recipe']}, pack {r['pack']}", f"{m:.1f} +- {m_se:.1f}",
               f"{100 * h:.1f}% +- {100 * h_se:.1f}", f"{k:.3f} +- {k_se:.3f}"]
        if conditional:
            row.append(f"{100 * r['own_mode'][0]:.1f}% ({100 * r['own_mode_lowest'][0]:.1f}%; "
                       f"{100 * r['own_mode_lowest_worst_seed']:.1f}%)" if "own_mode" in r else "")
        table.add_row(*row)
    for name, (modes, hq) in result["published"].items():
        data, setting = name.split(" ")
        if data not in (dataset or ["ring8", "grid25"]):
            continue
        table.add_row(data, f"PacGAN paper, {setting}", f"{modes}", f"{hq}%", "")
    console.print(table)
    result["machine"] = machine()
    console.print(describe(result["machine"]))
    _write(result, json_path)
