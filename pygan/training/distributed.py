"""torch.distributed wiring: the same `pygan train` under torchrun trains data-parallel with
DistributedDataParallel (gloo on CPU, nccl on CUDA). Rank 0 writes the run directory.

Batch semantics: --batch-size is the GLOBAL batch. Each step the global batch (the same indices
and the same z a 1-process run would use) is split across the processes, rank r taking every
world-th sample from position r, as DistributedSampler deals them out. So learning rates mean
the same for any number of processes, and a checkpoint resumes with any other number.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

# A rank that stops answering (killed, crashed) fails the others' collectives after this long,
# if torchrun has not already stopped them.
COLLECTIVE_TIMEOUT = timedelta(seconds=120)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's share of a global batch."""
        return batch[self.rank::self.world] if self.enabled else batch

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks (identity in one process)."""
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """Equal-shaped tensors of every rank concatenated along dim 0, on the device (t in one process)."""
        if not self.enabled:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts)

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any rank (a stop request, for one)."""
        return self.sum([float(flag)])[0] > 0 if self.enabled else flag


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def setup(device_type: str) -> DistContext:
    """Joins the process group torchrun set up (env://), or returns the single-process context."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistContext()
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=COLLECTIVE_TIMEOUT)
    return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def teardown(ctx: DistContext, finished: bool) -> None:
    """Leaves the process group. After a finished run the ranks first meet at a barrier: a rank
    that tears its gloo connections down while another still writes its last checkpoint can make
    that one abort (SIGABRT) on a reset connection. After a failure there is no one to wait for."""
    if not (ctx.enabled and dist.is_initialized()):
        return
    if finished:
        try:
            dist.barrier()
        except RuntimeError:  # a peer gone at the very end: leaving is all that is left to do
            pass
    dist.destroy_process_group()
