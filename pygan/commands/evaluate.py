"""`pygan evaluate`: mode coverage (2-D mixtures) or Frechet distance / KID of a trained run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from pygan.commands.errors import exit_on_user_error


def evaluate(
    run: Path = typer.Argument(..., help="A run directory or a .pt checkpoint written by `pygan train`."),
    samples: int = typer.Option(2500, "--samples", min=2, help="Generated samples (2,500 is the mixture protocol)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the latent draws.", min=0, max=2**32 - 1),
    features: str = typer.Option("pixels", "--features", help="'pixels', or a TorchScript file mapping images "
                                 "to features (e.g. an exported Inception network) for FID."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Measure a trained generator against its dataset."""
    with exit_on_user_error():
        report = evaluate_run(run, samples=samples, seed=seed, features=features)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        if isinstance(value, dict):
            for k, v in value.items():
                typer.echo(f"{k}: {v}")
        else:
            typer.echo(f"{key}: {value}")


def evaluate_run(run: str | Path, **kwargs: Any) -> dict[str, Any]:
    """The evaluation of the generator a run directory (or checkpoint) holds, against its own data."""
    from pygan.metrics.evaluate import evaluate
    from pygan.sampling import load_generator

    loaded = load_generator(run)
    report = evaluate(loaded.generator, loaded.latent, loaded.data_plugin, loaded.data_options or {}, **kwargs)
    return {"run": str(run), "step": loaded.step, **report, "ema": loaded.used_ema}
