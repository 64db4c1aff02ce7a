"""How many CPU threads a run uses (`--threads N`, default auto), and whether other processes
compete for the same cores while it trains.

OpenMP threads spin while they wait for each other, so two threads on two cores that another
process also keeps busy run far slower than one thread would (on a 2-core EPYC beside one busy
process: 35 img/s with 2 threads, 123 img/s with 1). auto therefore counts the cores that are
actually free when the run starts (from /proc/stat, over a fraction of a second) instead of all
cores, and at every metrics row follows what other processes leave free (down when they start,
back up when they stop); results do not depend on the thread count, so this changes only speed.
With --threads N the run keeps N threads and only says when others compete.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

SAMPLE_SECONDS = 0.3      # how long auto looks at the other processes' load before choosing
BUSY_THRESHOLD = 0.5      # cores another process must keep busy to count as taken
_PROC_STAT = Path("/proc/stat")


def usable_cores() -> list[int] | None:
    """The CPUs this process may run on (its affinity mask), or None where that is unknown."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


_CGROUP_ROOT = Path("/sys/fs/cgroup")
_SELF_CGROUP = Path("/proc/self/cgroup")


def _quota_v2(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _quota_v1(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError, ZeroDivisionError):
        return None


def cpu_quota() -> float | None:
    """The tightest cgroup CPU limit on this process, in cores (None where there is none): cgroup
    v2's cpu.max of its own cgroup and each parent, or v1's cfs quota."""
    try:
        lines = _SELF_CGROUP.read_text().splitlines()
    except OSError:
        lines = []
    limits: list[float] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        relative = Path(path.lstrip("/"))
        if hierarchy == "0" and controllers == "":  # v2: walk from the process's cgroup up to the root
            folder = _CGROUP_ROOT / relative
            while True:
                if (limit := _quota_v2(folder)) is not None:
                    limits.append(limit)
                if folder == _CGROUP_ROOT or _CGROUP_ROOT not in folder.parents:
                    break
                folder = folder.parent
        elif "cpu" in controllers.split(","):  # v1
            for base in (_CGROUP_ROOT / "cpu", _CGROUP_ROOT / "cpu,cpuacct"):
                for folder in (base / relative, base):
                    if (limit := _quota_v1(folder)) is not None:
                        limits.append(limit)
    if not limits and (limit := _quota_v2(_CGROUP_ROOT)) is not None:  # a container's own root
        limits.append(limit)
    return min(limits) if limits else None


def core_count() -> int:
    """The cores this process can use: its affinity mask, capped by a cgroup CPU quota."""
    n = len(usable_cores() or []) or (os.cpu_count() or 1)
    quota = cpu_quota()
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n)


def _busy_jiffies(cpus: list[int] | None) -> int | None:
    """Busy time of `cpus` (all CPUs when None) since boot, in clock ticks, from /proc/stat; None
    where it cannot be read or lists none of those CPUs."""
    try:
        lines = _PROC_STAT.read_text().splitlines()
    except OSError:
        return None
    wanted = None if cpus is None else {f"cpu{c}" for c in cpus}
    total, seen = 0, 0
    for line in lines:
        parts = line.split()
        if not parts or not parts[0].startswith("cpu"):
            continue
        name = parts[0]
        if (wanted is None and name != "cpu") or (wanted is not None and name not in wanted):
            continue
        try:
            # user nice system idle iowait irq softirq: all but idle and iowait are busy. Steal (the
            # hypervisor's other guests) is left out: nothing on this machine can free it.
            values = [int(v) for v in parts[1:8]]
        except ValueError:
            return None
        if len(values) < 7:
            return None
        total += sum(values) - values[3] - values[4]
        seen += 1
    return total if seen else None


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class LoadSampler:
    """The load other processes put on this process's cores between two calls of `others()`."""

    def __init__(self) -> None:
        self.cpus = usable_cores()
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._read()

    def _read(self) -> tuple[float, int | None, float]:
        return time.monotonic(), _busy_jiffies(self.cpus), _own_cpu_seconds()

    def others(self) -> float | None:
        """Cores kept busy by other processes since the last call (None where /proc/stat is absent)."""
        now = self._read()
        (t0, busy0, own0), (t1, busy1, own1) = self._last, now
        self._last = now
        if busy0 is None or busy1 is None or t1 - t0 <= 0.0:
            return None
        all_busy = (busy1 - busy0) / self.tick
        return max(0.0, (all_busy - (own1 - own0)) / (t1 - t0))


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    cores: int
    busy_elsewhere: float | None  # cores other processes kept busy when auto chose (None: not measured)
    reason: str
    source: str = "auto"  # "--threads", "OMP_NUM_THREADS" or "auto": who chose the count


def choose(requested: int, sample_seconds: float = SAMPLE_SECONDS, share: int = 1) -> ThreadChoice:
    """The thread count for a run: `requested` if > 0; else an explicit OMP_NUM_THREADS; else the
    cores free of other processes' load (at least 1), divided among `share` processes of one run
    on this machine (ranks started without torchrun's OMP_NUM_THREADS)."""
    cores = core_count()
    if requested > 0:
        return ThreadChoice(requested, cores, None, f"--threads {requested}", "--threads")
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return ThreadChoice(int(env), cores, None, f"OMP_NUM_THREADS={env}", "OMP_NUM_THREADS")
    share = max(1, share)
    sampler = LoadSampler()
    time.sleep(sample_seconds)
    others = sampler.others()
    if others is None:
        threads = max(1, cores // share)
        shared = f" for {share} processes" if share > 1 else ""
        return ThreadChoice(threads, cores, None, f"auto: {cores} cores{shared}")
    # The load covers every CPU of the affinity mask; a cgroup quota caps what is left of them.
    visible = len(sampler.cpus or []) or cores
    free = free_cores(others, visible, cores)
    threads = max(1, free // share)
    if free < cores:
        reason = f"auto: other processes keep {others:.1f} of {visible} cores busy"
    else:
        reason = f"auto: {cores} cores free"
    if share > 1:
        reason += f", shared by {share} processes"
    return ThreadChoice(threads, cores, others, reason)


def apply(choice: ThreadChoice) -> None:
    if torch.get_num_threads() != choice.threads:
        torch.set_num_threads(choice.threads)


def free_cores(others: float, visible: int, cores: int) -> int:
    """The cores a run can use while others keep `others` cores of the `visible` ones busy (>= 1)."""
    taken = math.floor(others + 1.0 - BUSY_THRESHOLD)  # a core counts as taken from half a core of load
    return min(cores, max(1, visible - taken))


class ContentionWatch:
    """Between metrics rows: do other processes compete for the run's cores? Under auto (`adapt`)
    the run follows the cores they leave free, down when they start and back up when they stop;
    with --threads N it only says so. check() returns the line to show when that changes."""

    def __init__(self, threads: int, cores: int, adapt: bool = False) -> None:
        self.threads, self.cores, self.adapt = threads, cores, adapt
        self.most = cores if adapt else threads  # auto may go back up to every core
        self.sampler = LoadSampler()
        self.visible = len(self.sampler.cpus or []) or cores
        self.contended = False
        self.last_others: float | None = None

    def check(self) -> str | None:
        others = self.sampler.others()
        self.last_others = others
        if others is None:
            return None
        target = min(self.most, free_cores(others, self.visible, self.cores))
        if self.adapt:
            if target == self.threads:
                return None
            before, self.threads = self.threads, target
            torch.set_num_threads(target)  # results do not depend on the thread count (tested)
            if target < before:
                return (f"other processes keep {others:.1f} of {self.visible} cores busy: {target} thread(s) from "
                        f"now on instead of {before} (auto; README: Threads)")
            return f"the cores are free again: {target} threads (auto)"
        oversubscribed = self.threads > self.cores
        contended = target < self.threads or oversubscribed
        if contended == self.contended:
            return None
        self.contended = contended
        if not contended:
            return f"the cores are free again ({self.threads} threads)"
        if oversubscribed and others < BUSY_THRESHOLD:  # the run itself asked for too many
            return (f"{self.threads} threads on {self.cores} cores: OpenMP threads wait for each other; "
                    f"--threads {self.cores} (or auto) runs faster")
        return (f"other processes keep {others:.1f} of {self.visible} cores busy beside this run's "
                f"{self.threads} threads: --threads {target} would run faster (README: Threads)")
