"""Self-describing model artifacts: one safetensors file holding weights and metadata.

Every model the nodes load (detector, glass classifier, captioner, sign recogniser) is saved
the same way: tensors in safetensors format, and a JSON metadata document (architecture,
classes, vocabulary, input size, metrics, how it was made) in the safetensors header. Loading
never unpickles anything, so an artifact from an untrusted place cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

FORMAT_VERSION = 1
_METADATA_KEY = "perception"
REQUIRED_KEYS = ("kind", "architecture", "format_version")


class ArtifactError(RuntimeError):
    """A model artifact is missing, unreadable, or not the kind the caller needs."""


def save_artifact(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    """Write ``tensors`` and ``metadata`` (JSON-serialisable) to ``path``; return the path.

    ``metadata`` must name at least ``kind`` and ``architecture``; ``format_version`` and
    ``created`` (UTC, ISO 8601) are filled in when absent.
    """
    path = Path(path)
    meta = {"format_version": FORMAT_VERSION, "created": utc_now(), **metadata}
    missing = [key for key in REQUIRED_KEYS if key not in meta]
    if missing:
        raise ArtifactError(f"artifact metadata for {path} lacks required keys {missing}")
    path.parent.mkdir(parents=True, exist_ok=True)
    contiguous = {name: tensor.detach().contiguous().cpu() for name, tensor in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    # safetensors' save_file creates owner-only (0600) files, which a robot's service user or a
    # container with another uid cannot read; bytes written by Python get the usual umask mode.
    tmp.write_bytes(save(contiguous, metadata={_METADATA_KEY: json.dumps(meta, sort_keys=True)}))
    tmp.replace(path)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Return an artifact's metadata without loading its tensors."""
    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ArtifactError(
            f"{path} is not a readable safetensors artifact ({error}); "
            "regenerate it with perception-train or restore it from models/manifest.json"
        ) from error
    if _METADATA_KEY not in header:
        raise ArtifactError(
            f"{path} is a safetensors file without perception metadata; "
            "it was not written by perception.core.artifacts.save_artifact"
        )
    try:
        return json.loads(header[_METADATA_KEY])
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{path} has corrupt metadata JSON: {error}") from error


def load_artifact(
    path: str | Path, expected_kind: str | None = None, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load ``(tensors, metadata)``; raise ArtifactError naming the problem and the fix."""
    metadata = read_metadata(path)
    if expected_kind is not None and metadata.get("kind") != expected_kind:
        raise ArtifactError(
            f"{path} holds a {metadata.get('kind')!r} model, expected {expected_kind!r}; "
            "check the model_path parameter"
        )
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has artifact format {metadata['format_version']}, this code reads up to "
            f"{FORMAT_VERSION}; update perception"
        )
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ArtifactError(f"{path} is corrupt ({error}); regenerate it with perception-train") from error
    return tensors, metadata


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, for manifests."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def utc_now() -> str:
    """Current UTC time, ISO 8601, seconds precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def code_version() -> str:
    """``git describe`` of the checkout this code runs from, or 'unknown' outside git."""
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(
            f"model artifact {path} does not exist; train it with perception-train "
            "(see models/README.md) or point the model_path parameter at an existing file"
        )
    return path
