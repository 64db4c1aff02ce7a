"""`--tensorboard`: the metrics rows as TensorBoard scalars and each sample grid as an image, in
`<run>/tensorboard/`, beside (not instead of) metrics.jsonl and the PNGs. `tensorboard --logdir
runs/` then shows every run. A resumed run appends a new event file and writes only the rows and
grids that came after its checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pygan.training.errors import TrainingError

FOLDER = "tensorboard"
_SKIPPED = {"step", "epoch", "partial", "threads"}


def scalars(row: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """(tag, value) for every finite number in a metrics row; nested reports become `eval/kid`."""
    for key, value in row.items():
        if not prefix and key in _SKIPPED:
            continue
        tag = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from scalars(value, f"{tag}/")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int | float) and np.isfinite(value):
            yield tag, float(value)


class TensorBoardLog:
    """The event files of one run: metrics rows and sample grids not written yet are written."""

    def __init__(self, run_dir: Path, rows_before: int, resumed_at: int) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TrainingError("--tensorboard needs the tensorboard package: pip install tensorboard "
                                "(or leave --tensorboard out)") from None
        # purge_step: events a stopped run wrote after its checkpoint (step > resumed_at) are dropped
        self.writer = SummaryWriter(str(run_dir / FOLDER), purge_step=resumed_at + 1 if resumed_at else None)
        self.samples = run_dir / "samples"
        self.rows_written = rows_before  # a resumed run's earlier rows are in its old event files
        self.grids_written = {p.name for p in self._grids()}

    def _grids(self) -> list[Path]:
        return sorted(self.samples.glob("*.png"))

    def write(self, rows: list[dict[str, Any]], step: int) -> None:
        for row in rows[self.rows_written:]:
            for tag, value in scalars(row):
                self.writer.add_scalar(tag, value, global_step=int(row.get("step", step)))
        self.rows_written = len(rows)
        for path in self._grids():
            if path.name in self.grids_written:
                continue
            with Image.open(path) as picture:
                pixels = np.asarray(picture.convert("RGB"))
            self.writer.add_image("samples", pixels, global_step=step, dataformats="HWC")
            self.grids_written.add(path.name)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
