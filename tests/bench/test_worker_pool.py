"""The quality bench's worker processes never outlive their parent: killed outright, or stopped
with Ctrl-C, the parent leaves no worker training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARENT = '''
import os, signal, sys, time
from pygan.bench.worker_pool import ordered_map

def report_and_sleep(seconds):
    print(os.getpid(), flush=True)
    time.sleep(seconds)
    return seconds

if __name__ == "__main__":
    # Ctrl-C as a terminal delivers it: a shell without job control starts background commands
    # with SIGINT ignored, and Python then keeps it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for _ in ordered_map(report_and_sleep, [120, 120], 2):
        pass
'''


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in state  # dead, not yet reaped


def _wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _start_parent(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers = [int(parent.stdout.readline()) for _ in range(2)]
    return parent, workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_when_their_parent_is_killed(tmp_path):
    parent, workers = _start_parent(tmp_path)
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_until(lambda: all(_gone(pid) for pid in workers), 20), workers
    finally:
        _stop(parent, workers)


def test_ctrl_c_in_the_parent_stops_its_workers_at_once(tmp_path):
    parent, workers = _start_parent(tmp_path)
    try:
        os.kill(parent.pid, signal.SIGINT)
        parent.wait(timeout=30)  # not the 120 s the workers' tasks would take
        assert parent.returncode != 0
        assert _wait_until(lambda: all(_gone(pid) for pid in workers), 20), workers
    finally:
        _stop(parent, workers)


def _stop(parent: subprocess.Popen, workers: list[int]) -> None:
    """Whatever the test found, leave nothing running."""
    parent.kill()
    parent.wait(timeout=10)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
