"""`pygan train`: train a GAN from an architecture plugin and a dataset plugin."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from pygan.commands.errors import exit_on_user_error

ARCH_HELP = "Architecture plugin (see `pygan plugins list`)."
PLUGIN_HELP = "Dataset plugin (see `pygan plugins list`)."
NOT_STARTED = "interrupted before training started; nothing was written"


def _key_values(pairs: list[str] | None, flag: str) -> dict[str, str]:
    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=flag)
        values[key.strip()] = value.strip()
    return values


def _augment_options(pairs: list[str] | None, p: str | None) -> dict[str, str]:
    """--augment-option pairs with --augment-p folded in: a probability sets option p, 'adaptive'
    sets adaptive=true and starts p at 0 (as ADA does)."""
    options = _key_values(pairs, "--augment-option")
    if p is None:
        return options
    if "p" in options or "adaptive" in options:
        raise typer.BadParameter("give p either here or as --augment-option p=..., not both", param_hint="--augment-p")
    if p.strip().lower() == "adaptive":
        return {**options, "adaptive": "true", "p": "0"}
    return {**options, "p": p.strip()}


def train(
    arch: str = typer.Option(None, "--arch", metavar="NAME", help=ARCH_HELP + " Default: dcgan."),
    plugin: str = typer.Option(None, "--plugin", metavar="NAME", help=PLUGIN_HELP + " Default: faces."),
    config: Path = typer.Option(None, "--config", metavar="FILE",
                                help="TOML file with [data] [model] [train] [output] tables.",
                                exists=True, dir_okay=False),
    data_dir: str = typer.Option(None, "--data-dir", metavar="FOLDER", help="Folder of data for the dataset plugin."),
    image_size: int = typer.Option(None, "--image-size", metavar="PIXELS", help="Image side for image datasets."),
    option: list[str] = typer.Option(None, "--option", "-o", metavar="KEY=VALUE",
                                     help="Dataset plugin option (repeatable)."),
    arch_option: list[str] = typer.Option(None, "--arch-option", metavar="KEY=VALUE",
                                          help="Architecture plugin option (repeatable)."),
    epochs: int = typer.Option(None, "--epochs", metavar="N", help="Epochs to train (default 25)."),
    max_steps: int = typer.Option(None, "--max-steps", metavar="N",
                                  help="Stop after this many D steps in total (0 = no limit)."),
    batch_size: int = typer.Option(None, "--batch-size", metavar="N",
                                   help="Examples D judges per step (default 64); with "
                                   "--pack m, m x as many samples."),
    d_steps: int = typer.Option(None, "--d-steps", metavar="K",
                                help="Discriminator steps per generator step (default 1)."),
    loss: str = typer.Option(None, "--loss", metavar="NAME",
                             help="Loss plugin: non-saturating (default), saturating, or any "
                             "installed (`pygan plugins list`)."),
    loss_option: list[str] = typer.Option(None, "--loss-option", metavar="KEY=VALUE",
                                          help="Loss plugin option (repeatable)."),
    reg: list[str] = typer.Option(None, "--reg", metavar="NAME[:W[:K]]",
                                  help="Regulariser NAME[:weight[:every]], e.g. r1:10:16 "
                                  "(repeatable; every k-th D step, scaled by k)."),
    augment: str = typer.Option(None, "--augment", metavar="NAME",
                                help="Augmentation plugin applied to every batch D sees: "
                                "color,translation,cutout (DiffAugment; any of the three), flip, or any installed."),
    augment_p: str = typer.Option(None, "--augment-p", metavar="P|adaptive",
                                  help="Probability of each augmentation per sample, or 'adaptive' (ADA: "
                                  "tuned from D's outputs on reals, from 0)."),
    augment_option: list[str] = typer.Option(None, "--augment-option", metavar="KEY=VALUE",
                                             help="Augmentation plugin option (repeatable)."),
    real_label: float = typer.Option(None, "--real-label", metavar="LABEL",
                                     help="Real target; 0.9 = one-sided label smoothing."),
    lr: float = typer.Option(None, "--lr", metavar="LR", help="Adam learning rate (default: the architecture's)."),
    beta1: float = typer.Option(None, "--beta1", metavar="B",
                                help="Adam beta1 (default: the architecture's; WGAN-GP trains with 0)."),
    beta2: float = typer.Option(None, "--beta2", metavar="B",
                                help="Adam beta2 (default: the architecture's; WGAN-GP trains with 0.9)."),
    lr_decay: float = typer.Option(None, "--lr-decay", metavar="SHARE",
                                   help="Let the lr fall linearly to 0 over this share of "
                                   "the run's end, e.g. 0.5 (default: the architecture's; 0 = constant)."),
    seed: int = typer.Option(None, "--seed", metavar="N",
                             help="Seed in [0, 2**32 - 1]: same seed, same CPU numbers (default 0)."),
    device: str = typer.Option(None, "--device", metavar="DEVICE", help="auto (default), cpu, cuda or cuda:N."),
    ema: float = typer.Option(None, "--ema", metavar="DECAY",
                              help="EMA decay for G's weights (0 = off; default: the architecture's, dcgan 0.995)."),
    precision: str = typer.Option(None, "--precision", metavar="MODE",
                                  help="fp32, bf16, fp16 (CUDA) or auto (default: bf16 "
                                  "autocast on CUDA and, for image models, on CPUs with AVX512-BF16/AMX)."),
    channels_last: bool = typer.Option(None, "--channels-last/--no-channels-last",
                                       help="Channels-last memory format for image models (default on)."),
    threads: int = typer.Option(None, "--threads", metavar="N",
                                help="CPU threads (default 0 = auto: the cores other processes leave free)."),
    compile_models: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile G and D (default off; "
                                        "the compile time is reported)."),
    sync_bn: bool = typer.Option(None, "--sync-bn/--no-sync-bn", help="Under torchrun: one BatchNorm statistic "
                                 "across processes (CUDA)."),
    nproc: int = typer.Option(None, "--nproc", metavar="N",
                              help="Launch N data-parallel processes with torchrun.", min=1),
    pack: int = typer.Option(None, "--pack", metavar="M",
                             help="PacGAN: D judges M samples at once (default 1); "
                             "each step then draws M x the batch size in samples."),
    class_sampling: str = typer.Option(None, "--class-sampling", metavar="HOW", help="Labelled data: G's labels "
                                       "drawn as often as each class occurs in the data (frequency, default) or "
                                       "uniformly (uniform)."),
    eval_every: int = typer.Option(None, "--eval-every", metavar="N", help="Run `pygan evaluate` every N epochs into "
                                   "metrics.jsonl (default never)."),
    eval_features: str = typer.Option(None, "--eval-features", help="Features of those evaluations, as `pygan "
                                      "evaluate --features` (default auto: Inception when its weights are "
                                      "installed, else pixels)."),
    tensorboard: bool = typer.Option(None, "--tensorboard/--no-tensorboard", help="Also write the metrics rows "
                                     "and sample grids as TensorBoard events under the run directory (needs the "
                                     "tensorboard package)."),
    out: str = typer.Option(None, "--out", metavar="FOLDER",
                            help="Run directory (default runs/<arch>-<plugin>-<time>)."),
    resume_older: bool = typer.Option(False, "--resume-older", help="Allow --resume from an epoch checkpoint "
                                      "older than latest.pt (it replaces latest.pt; later metrics rows are dropped)."),
    resume: Path = typer.Option(None, "--resume", metavar="RUN",
                                help="Continue the run in this directory from its last checkpoint."),
    checkpoint_every: int = typer.Option(None, "--checkpoint-every", metavar="N",
                                         help="Also checkpoint every N steps."),
    log_every: int = typer.Option(None, "--log-every", metavar="N", help="Steps per metrics row (default 10)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar; one line at the end."),
    as_json: bool = typer.Option(False, "--json", help="Metrics rows as JSON lines on stdout."),
) -> None:
    """Train a GAN. Writes config.toml, metrics.jsonl, sample grids, a training plot and checkpoints."""
    import os

    with exit_on_user_error(NOT_STARTED):  # Ctrl-C while the trainer loads: one line, exit 130
        from pygan.training.distributed import launched_by_torchrun

        if nproc and nproc > 1 and not launched_by_torchrun():
            _relaunch_with_torchrun(nproc)
        from pygan.training import Trainer
        from pygan.training import config as cfg
        from pygan.training.progress import JsonReporter, RichReporter, SilentReporter, format_extent, format_row
        from pygan.training.trainer import Interrupted, NonFiniteLoss

    data_options: dict[str, Any] = _key_values(option, "--option")
    if data_dir is not None:
        data_options["data-dir"] = data_dir
    if image_size is not None:
        data_options["image-size"] = image_size
    train_values = dict(epochs=epochs, max_steps=max_steps, batch_size=batch_size, d_steps=d_steps, loss=loss,
                        real_label=real_label, lr=lr, beta1=beta1, beta2=beta2, lr_decay=lr_decay, seed=seed,
                        device=device, ema=ema,
                        precision=precision, channels_last=channels_last, compile=compile_models, sync_bn=sync_bn,
                        pack=pack, eval_every=eval_every, eval_features=eval_features, threads=threads,
                        class_sampling=class_sampling,
                        regularisers=reg or None, augment=augment,
                        loss_options=_key_values(loss_option, "--loss-option") or None,
                        augment_options=_augment_options(augment_option, augment_p) or None)
    output_values = dict(out=out, checkpoint_every=checkpoint_every, log_every=log_every, tensorboard=tensorboard)
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    reporter = (JsonReporter() if as_json else SilentReporter() if quiet else RichReporter()) if main_rank \
        else SilentReporter()

    def warn(text: str) -> None:
        if isinstance(reporter, RichReporter):
            reporter.message(f"warning: {text}")
        else:  # --quiet and --json still say what was skipped, on stderr
            rank = "" if main_rank else f" (rank {os.environ.get('RANK')})"
            typer.echo(f"warning{rank}: {text}", err=True)

    with _pygan_warnings_to(warn), exit_on_user_error(NOT_STARTED):
        if resume is not None:
            given = {"--arch": arch, "--plugin": plugin, "--config": config, "--out": out}
            given.update({"--option": option or None, "--arch-option": arch_option or None,
                          "--data-dir": data_dir, "--image-size": image_size})
            clash = [flag for flag, value in given.items() if value is not None]
            if clash:
                raise cfg.ConfigError(f"{', '.join(clash)} cannot be given with --resume: the run keeps its own")
            overrides = {("train", k): v for k, v in train_values.items()}
            overrides |= {("output", k): v for k, v in output_values.items()}
            trainer = Trainer(cfg.Config(), reporter=reporter, resume_from=resume, overrides=overrides,
                              allow_older=resume_older)
        else:
            config_obj = cfg.load(config) if config else cfg.Config()
            cfg.apply_overrides(config_obj, "data", {"plugin": plugin, "options": data_options or None})
            cfg.apply_overrides(config_obj, "model", {"arch": arch,
                                                      "options": _key_values(arch_option, "--arch-option") or None})
            cfg.apply_overrides(config_obj, "train", train_values)
            cfg.apply_overrides(config_obj, "output", output_values)
            trainer = Trainer(config_obj, reporter=reporter)
    try:
        with _pygan_warnings_to(warn), exit_on_user_error():
            summary = trainer.fit()
    except Interrupted as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(130) from None
    except NonFiniteLoss as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    if not main_rank:
        return
    # "epochs" counts whole epochs; a run cut inside one also says how far into it it got
    summary.setdefault("batch_in_epoch", trainer.batch_in_epoch)
    summary.setdefault("batches_per_epoch", trainer.batches_per_epoch)
    summary.setdefault("epochs_planned", trainer.run.train.epochs)
    if as_json:
        typer.echo(json.dumps({"summary": summary}))
    else:
        last = summary["last"]
        detail = f"; last: {format_row(last)}" if last else ""
        extent = format_extent(summary["steps"], summary["epochs"], summary["batch_in_epoch"],
                               summary["batches_per_epoch"], summary["epochs_planned"])
        typer.echo(f"done: {extent} in {summary['seconds']:.0f} s{detail}\nrun directory: {summary['run_dir']}")


@contextlib.contextmanager
def _pygan_warnings_to(say: Callable[[str], None]) -> Iterator[None]:
    """pygan's own warnings (those of classes defined in pygan, e.g. a skipped corrupt image) as one line
    through `say`, not Python's two-line form with a source line; other warnings are shown as usual.
    Library callers keep the plain `warnings.warn`."""
    import warnings

    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            if category.__module__.partition(".")[0] == "pygan":
                say(str(message))
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _relaunch_with_torchrun(nproc: int) -> None:
    """`pygan train --nproc N ...` = `torchrun --standalone --nproc_per_node N -m pygan train ...`."""
    import os
    import sys

    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            args.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "pygan", *args]
    os.execv(sys.executable, command)
