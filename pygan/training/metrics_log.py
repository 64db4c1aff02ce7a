"""metrics.jsonl: one JSON object per logged step, appended and flushed as training goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pygan.atomic import write_error, write_text_atomic


class MetricsLog:
    """Rows in memory and, when `path` is given (rank 0), in the file."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.rows: list[dict[str, Any]] = []
        if self.path is not None and self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    try:
                        self.rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        break  # a line cut by a crash: drop it and what follows

    def truncate_after(self, step: int) -> None:
        """Forget rows past `step` (written after the checkpoint a resumed run restarts from), and the
        partial row a stopped run ends with: the resumed run completes that interval's row."""
        kept = [r for r in self.rows if r.get("step", 0) <= step and not r.get("partial")]
        if self.path is not None and (len(kept) != len(self.rows) or self.path.exists()):
            self.rows = kept
            write_text_atomic("".join(json.dumps(r) + "\n" for r in kept), self.path)

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if self.path is None:
            return
        try:  # appended, not rewritten: a line cut by a full disk is dropped when the file is read back
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        except OSError as exc:
            raise write_error(self.path, exc) from exc
