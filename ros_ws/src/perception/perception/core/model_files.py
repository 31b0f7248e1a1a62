"""Model files as files: what a path is, which bytes it holds, what a manifest says of it.

Kept free of torch so that a node running an ONNX Runtime model identifies and verifies its file
without importing torch (about 650 MiB of a process); :mod:`perception.core.artifacts` builds
the safetensors artifacts on top of this.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path

LOG = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MODEL_SUFFIXES = (".safetensors", ".pt", ".onnx")


class ArtifactError(RuntimeError):
    """A model artifact is missing, unreadable, or not the kind the caller needs."""


def model_id(path: str | Path) -> str:
    """``<file name>@<first 12 hex of its sha256>``: what every output's ``model_id`` field says."""
    path = Path(path)
    return f"{path.name}@{sha256_of(path)[:12]}"


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, for manifests."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def not_a_file(path: Path) -> str | None:
    """What ``path`` is instead of a model file ('does not exist', 'is a directory ...'), or None.

    A directory holding exactly one model file gets that file as the suggestion.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        inside = sorted(
            child for child in path.iterdir() if child.suffix in MODEL_SUFFIXES and child.is_file()
        )
        hint = f"; did you mean {inside[0]}?" if len(inside) == 1 else ""
        return f"is a directory, not a model file{hint}"
    kinds = {
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISFIFO: "a named pipe",
    }
    kind = next((name for test, name in kinds.items() if test(mode)), "not a regular file")
    return f"is {kind}, not a model file"


def manifest_entry(path: Path) -> tuple[Path, str] | None:
    """``(manifest, sha256)`` from the nearest manifest.json above ``path`` that lists it (among its
    artifacts or their ONNX exports), or None. Paths stay unresolved, as build_manifest lists them."""
    absolute = Path(os.path.abspath(path))
    for folder in absolute.parents:
        manifest = folder / MANIFEST_NAME
        if not manifest.is_file():
            continue
        relative = absolute.relative_to(folder).as_posix()
        try:
            content = json.loads(manifest.read_text())
            entries = [*content.get("artifacts", []), *content.get("exports", [])]
            listed = {entry["file"]: entry["sha256"] for entry in entries}
        except (OSError, ValueError, AttributeError, TypeError, KeyError) as error:
            LOG.warning("ignoring %s, not a readable models manifest (%s)", manifest, error)
            continue
        if relative in listed:
            return manifest, listed[relative]
    return None
