"""Run under torchrun by tests/training/test_distributed.py: one Trainer per process.

usage: dist_worker.py OUT_DIR MAX_STEPS BATCH_SIZE [--resume] [--pid-dir DIR] [--labels]
Writes OUT_DIR/rank-<r>.pt with this rank's weights after training.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from pygan.training import Config, Trainer


def main() -> None:
    out, max_steps, batch = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rank = os.environ.get("RANK", "0")
    if "--pid-dir" in sys.argv:
        pid_dir = Path(sys.argv[sys.argv.index("--pid-dir") + 1])
        (pid_dir / f"rank-{rank}.pid").write_text(str(os.getpid()))
    if "--resume" in sys.argv:
        trainer = Trainer(Config(), resume_from=out / "run", overrides={("train", "max_steps"): max_steps})
    else:
        config = Config()
        config.data.plugin, config.model.arch = "ring8", "mlp"
        config.data.options = {"size": 4096, **({"labels": "modes"} if "--labels" in sys.argv else {})}
        config.model.options = {"hidden": 32, "layers": 2}
        config.train.batch_size, config.train.max_steps, config.train.epochs = batch, max_steps, 1000
        config.output.out, config.output.log_every = str(out / "run"), 1
        trainer = Trainer(config)
    trainer.fit()
    weights = {**{f"g.{k}": v for k, v in trainer.generator.state_dict().items()},
               **{f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()}}
    torch.save(weights, out / f"rank-{rank}.pt")


if __name__ == "__main__":
    main()
