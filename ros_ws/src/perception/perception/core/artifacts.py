"""Self-describing model artifacts: one safetensors file holding weights and metadata.

Every model the nodes load (detector, glass classifier, captioner, sign recogniser) is saved
the same way: tensors in safetensors format, and a JSON metadata document (architecture,
classes, vocabulary, input size, metrics, how it was made) in the safetensors header. Loading
never unpickles anything, so an artifact from an untrusted place cannot run code.

Loading also verifies the bytes, so a bad copy or a failing disk cannot quietly change what a
model outputs: the sha256 of the tensor data (``weights_sha256`` in the metadata, written by
:func:`save_artifact`) and, where a ``manifest.json`` in a folder above lists the file, the
whole file's sha256 from it (docs/reliability.md, "Model integrity").
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load, save

from perception.core.model_files import (
    MANIFEST_NAME,
    MODEL_SUFFIXES,
    ArtifactError,
    manifest_entry,
    model_id,
    not_a_file,
    sha256_of,
)

LOG = logging.getLogger(__name__)

# Re-exported: callers name these through this module since before model_files existed.
__all__ = [
    "MANIFEST_NAME",
    "MODEL_SUFFIXES",
    "ArtifactError",
    "code_version",
    "load_artifact",
    "model_id",
    "not_a_file",
    "read_metadata",
    "save_artifact",
    "sha256_of",
    "utc_now",
    "verify_digest",
    "weights_digest",
]

FORMAT_VERSION = 1
_METADATA_KEY = "perception"
REQUIRED_KEYS = ("kind", "architecture", "format_version")
DIGEST_KEY = "weights_sha256"
ADD_DIGESTS_COMMAND = "python -m perception_training.manifest --add-digests --models-dir <folder>"


def save_artifact(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    """Write ``tensors`` and ``metadata`` (JSON-serialisable) to ``path``; return the path.

    ``metadata`` must name at least ``kind`` and ``architecture``; ``format_version`` and
    ``created`` (UTC, ISO 8601) are filled in when absent, ``weights_sha256`` always.
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
    tmp.write_bytes(_serialize(contiguous, meta))
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
        data = Path(path).read_bytes()
    except OSError as error:
        raise ArtifactError(f"{path} cannot be read ({error}); check its permissions") from error
    _verify(Path(path), data, metadata)
    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise ArtifactError(f"{path} is corrupt ({error}); regenerate it with perception-train") from error
    if str(device) != "cpu":
        tensors = {name: tensor.to(device) for name, tensor in tensors.items()}
    return tensors, metadata


def weights_digest(data: bytes) -> str:
    """``weights_sha256`` of a serialized artifact: sha256 of its tensor data, after the header."""
    return hashlib.sha256(_data_section(data)).hexdigest()


def verify_digest(path: Path, data: bytes, metadata: dict[str, Any]) -> bool:
    """Raise ArtifactError unless ``data`` (the file ``path``) has the tensor bytes its metadata's
    ``weights_sha256`` names; False when the metadata has none (written before digests)."""
    expected = metadata.get(DIGEST_KEY)
    if expected is None:
        return False
    actual = weights_digest(data)
    if actual != expected:
        raise ArtifactError(
            f"{path}: its weights are corrupt: expected {DIGEST_KEY} {expected} (from its metadata), "
            f"actual {actual}; the tensor data changed after it was written (a bad copy or disk). "
            f"Copy it again or regenerate it with `{metadata.get('command', 'perception-train')}`"
        )
    return True


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
    problem = not_a_file(path)
    if problem:
        raise ArtifactError(
            f"model artifact {path} {problem}; train it with perception-train "
            "(see models/README.md) or point the model_path parameter at an existing file"
        )
    return path


def _serialize(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> bytes:
    """safetensors bytes whose metadata carries the digest of their own tensor data.

    The data section does not depend on the metadata, so serializing twice is exact.
    """
    meta = {**meta, DIGEST_KEY: weights_digest(save(tensors))}
    return save(tensors, metadata={_METADATA_KEY: json.dumps(meta, sort_keys=True)})


def _data_section(data: bytes) -> memoryview:
    """The tensor bytes of a serialized safetensors file (everything after its JSON header)."""
    (header_size,) = struct.unpack("<Q", data[:8])
    return memoryview(data)[8 + header_size :]


def _verify(path: Path, data: bytes, metadata: dict[str, Any]) -> None:
    """Raise ArtifactError when the bytes are not the ones written; warn when nothing can tell.

    A file a manifest lists is checked against the manifest's sha256 (one hash over the whole
    file, header included, covers the tensor data too); any other file against its own digest.
    """
    listed = manifest_entry(path)
    if listed is not None:
        manifest, manifest_sha = listed
        actual = hashlib.sha256(data).hexdigest()
        if actual != manifest_sha:
            raise ArtifactError(
                f"{path} does not match {manifest}: expected sha256 {manifest_sha}, actual {actual}; "
                + _weights_verdict(metadata.get(DIGEST_KEY), data)
                + f" Restore the file (e.g. `git checkout -- {path}`) or regenerate it with "
                f"`{metadata.get('command', 'perception-train')}`; if you "
                "changed it on purpose, refresh the manifest with `python -m perception_training.manifest`"
            )
        return
    if not verify_digest(path, data, metadata):
        LOG.warning(
            "%s has no %s in its metadata (written before artifacts carried one) and no "
            "manifest lists it: its weights are loaded unverified; add a digest with `%s`",
            path,
            DIGEST_KEY,
            ADD_DIGESTS_COMMAND,
        )


def _weights_verdict(expected: str | None, data: bytes) -> str:
    """Whether the tensor data is intact, for a manifest mismatch's message."""
    if expected is None:
        return f"it has no {DIGEST_KEY} to tell whether its weights are intact."
    actual = weights_digest(data)
    if expected == actual:
        return f"its own {DIGEST_KEY} matches, so the file is intact but not the one the manifest lists."
    return f"its weights are corrupt too: expected {DIGEST_KEY} {expected}, actual {actual}."
