"""File helpers shared by the writers."""

from __future__ import annotations

from pathlib import Path


def fresh_dir(path: Path, *patterns: str) -> Path:
    """Create ``path`` and delete files in it matching ``patterns`` from an earlier run.

    Rewriting a dataset with fewer images or another seed must not leave old images behind:
    loaders that glob a folder would silently mix two datasets.
    """
    path.mkdir(parents=True, exist_ok=True)
    for pattern in patterns:
        for stale in path.glob(pattern):
            if stale.is_file():
                stale.unlink()
    return path
