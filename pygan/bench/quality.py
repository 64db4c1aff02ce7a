"""`pygan bench quality`: mode coverage of mlp recipes (the default, and the losses and regularisers
of pygan.bench.recipes) on ring8 and grid25 over seeds, with and without PacGAN packing, beside
the published numbers for the same protocol."""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from pygan import plugins
from pygan.bench import recipes, worker_pool
from pygan.generate import generate
from pygan.metrics.mixture import PROTOCOL_SAMPLES, class_fidelity, mode_coverage
from pygan.sampling import load_generator
from pygan.training import Config, Trainer

# PacGAN (Lin et al., 2018), Table 1: modes covered / high-quality samples, same protocol.
PUBLISHED = {
    ("ring8", "GAN"): (6.3, 98.2), ("ring8", "PacGAN4"): (7.8, 95.9),
    ("grid25", "GAN"): (17.3, 94.8), ("grid25", "PacGAN4"): (24.8, 93.6),
}


Task = tuple[str, str, int, int, int]  # dataset, recipe, pack, seed, epochs


def _one_run(dataset: str, recipe: str, pack: int, seed: int, epochs: int) -> dict[str, Any]:
    config = Config()
    config.model.arch, config.data.plugin = "mlp", dataset
    recipes.get(recipe).apply(config)
    config.train.seed, config.train.pack, config.train.epochs = seed, pack, epochs
    config.output.keep_checkpoints = 0
    with tempfile.TemporaryDirectory() as tmp:
        config.output.out = f"{tmp}/run"
        Trainer(config).fit()
        loaded = load_generator(config.output.out)
        labels = loaded.labels(PROTOCOL_SAMPLES)  # conditional: each mode in turn
        samples = generate(loaded.generator, loaded.latent(PROTOCOL_SAMPLES, 12345 + seed), labels)
    mixture = plugins.get_dataset(dataset)
    result = mode_coverage(samples, mixture.modes(), mixture.std).to_dict()
    if labels is not None:
        fidelity = class_fidelity(samples, labels, mixture.modes(), mixture.std, loaded.spec.classes)
        result["own_mode_lowest"], result["own_mode"] = fidelity["lowest"], fidelity["overall"]
    return result


def _one_run_single_threaded(task: Task) -> dict[str, Any]:
    torch.set_num_threads(1)  # jobs share the cores; one thread each keeps runs from contending
    return _one_run(*task)


def _results(tasks: list[Task], jobs: int) -> Iterator[dict[str, Any]]:
    """Each task's result, in task order; with jobs > 1 from that many worker processes."""
    if jobs <= 1:
        yield from (_one_run(*task) for task in tasks)
        return
    yield from worker_pool.ordered_map(_one_run_single_threaded, tasks, jobs)


TASK_FIELDS = ("dataset", "recipe", "pack", "seed", "epochs")  # a Task's fields in a runs log line


def log_line(task: Task, result: dict[str, Any]) -> str:
    """One line of a bench's JSON.runs.jsonl log: the task's fields, then the run's figures."""
    return json.dumps({**dict(zip(TASK_FIELDS, task, strict=True)), **result}) + "\n"


def logged_runs(lines: Iterable[str]) -> dict[Task, dict[str, Any]]:
    """The runs of a log written with log_line, by task; a later line for the same task wins."""
    runs = {}
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        task = tuple(row.pop(field) for field in TASK_FIELDS)
        runs[task] = row
    return runs


def _mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error; a non-finite value (a collapsed run's infinite reverse KL) makes the
    mean that value and the error NaN instead of failing the whole bench at its end."""
    mean = statistics.fmean(values)
    if not math.isfinite(mean) or len(values) < 2:
        return mean, float("nan")
    return mean, statistics.stdev(values) / math.sqrt(len(values))


def run(seeds: int, epochs: int, datasets: list[str], packs: list[int],
        progress: Callable[[str], None] = lambda _: None, jobs: int = 1,
        recipe_names: list[str] | None = None,
        on_run: Callable[[Task, dict[str, Any]], None] = lambda task, result: None,
        done_runs: dict[Task, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every (dataset, recipe, pack, seed) run; `jobs` > 1 trains that many at once, one thread each.
    Runs in `done_runs` (a resumed bench's logged runs) are taken as they are, not trained again."""
    names = recipe_names or ["non-saturating"]
    for name in names:
        recipes.get(name)  # an unknown name fails before any training
    tasks = [(dataset, name, pack, seed, epochs) for dataset in datasets for name in names for pack in packs
             for seed in range(seeds)]
    runs_by_task = {task: done_runs[task] for task in tasks if task in (done_runs or {})}
    to_train = [task for task in tasks if task not in runs_by_task]
    for done, (task, result) in enumerate(zip(to_train, _results(to_train, jobs), strict=True), start=1):
        runs_by_task[task] = result
        on_run(task, result)
        progress(f"{done}/{len(to_train)} runs done (last: {task[0]} {task[1]} pack {task[2]} seed {task[3]})")
    results = []
    for dataset in datasets:
        for name in names:
            for pack in packs:
                runs = [runs_by_task[(dataset, name, pack, seed, epochs)] for seed in range(seeds)]
                summary = {"dataset": dataset, "recipe": name, "flags": recipes.get(name).flags(), "pack": pack,
                           "seeds": seeds, "epochs": epochs, "runs": runs}
                for key in ("modes_covered", "high_quality", "reverse_kl", "own_mode", "own_mode_lowest"):
                    if all(key in r for r in runs):  # own mode: conditional recipes only
                        summary[key] = _mean_se([r[key] for r in runs])
                if "own_mode_lowest" in summary:
                    summary["own_mode_lowest_worst_seed"] = min(r["own_mode_lowest"] for r in runs)
                results.append(summary)
    return {"results": results, "published": {f"{d} {m}": v for (d, m), v in PUBLISHED.items()}}
