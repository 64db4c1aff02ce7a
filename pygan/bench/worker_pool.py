"""A process pool whose workers never outlive the run that started them.

`pygan bench quality --jobs N` trains each run in a worker process. Two ways a worker would be
left training with nobody to collect its result, both closed here:
- the parent is killed (SIGTERM, SIGKILL, a closed terminal): each worker asks Linux for SIGTERM
  when its parent dies (prctl PR_SET_PDEATHSIG), and exits at once if the parent is already gone;
- the parent stops early (Ctrl-C, an error, a consumer that stops reading): the pool terminates
  its workers instead of waiting for their runs to finish.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Worker initialiser: SIGTERM when the parent dies (Linux; elsewhere only the check below)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(1)


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], jobs: int) -> Iterator[Any]:
    """fn over items in `jobs` spawned worker processes, results in item order. Spawn, not fork: a
    forked child would inherit the parent's OpenMP thread pool state."""
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        yield from pool.map(fn, items)
    except BaseException:  # Ctrl-C, an error, or the consumer closing this generator
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
