"""models/manifest.json: what each committed artifact (and ONNX export) is, its checksum and how
to remake it.

Built from the artifacts' own metadata, so it cannot disagree with them; a test checks that
the committed manifest matches the files. Run `python -m perception_training.manifest` after
training a model into models/; `--add-digests` first gives artifacts written before
``weights_sha256`` existed their digest (same tensors and metadata, no retraining).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from perception.core.artifacts import DIGEST_KEY, load_artifact, read_metadata, save_artifact, verify_digest
from perception.core.onnx_session import METADATA_KEY

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def build_manifest(models_dir: Path) -> dict[str, Any]:
    """One entry per ``*.safetensors`` artifact under ``models_dir``, sorted by path.

    An artifact whose weights no longer match its own digest is refused (ArtifactError), so the
    manifest, which loading trusts instead of that digest, never lists corrupt weights.
    """
    entries = []
    for path in sorted(models_dir.rglob("*.safetensors")):
        meta = read_metadata(path)
        data = path.read_bytes()
        verify_digest(path, data, meta)
        entries.append(
            {
                "name": path.stem,
                "file": path.relative_to(models_dir).as_posix(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "weights_sha256": meta.get(DIGEST_KEY),
                "bytes": len(data),
                "kind": meta["kind"],
                "architecture": meta["architecture"],
                "classes": meta.get("classes"),
                "input_size": meta.get("input_size"),
                "metrics": meta.get("metrics"),
                "regenerate": meta.get("command"),
                "dataset": meta.get("dataset"),
                "code_version": meta.get("code_version"),
                "created": meta.get("created"),
            }
        )
    return {"format_version": 1, "artifacts": entries, "exports": _exports(models_dir)}


def _exports(models_dir: Path) -> list[dict[str, Any]]:
    """One entry per ``*.onnx`` export under ``models_dir``: its checksum and the artifact it was made
    from (``perception-train export-onnx`` writes that into the file's metadata)."""
    import onnx

    entries = []
    for path in sorted(models_dir.rglob("*.onnx")):
        model = onnx.load(str(path), load_external_data=False)
        props = {prop.key: prop.value for prop in model.metadata_props}
        meta = json.loads(props.get(METADATA_KEY, "{}"))
        exported = meta.get("onnx", {})
        source = path.with_name(exported.get("source", path.with_suffix(".safetensors").name))
        source_file = source.relative_to(models_dir).as_posix()
        data = path.read_bytes()
        entries.append(
            {
                "file": path.relative_to(models_dir).as_posix(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "kind": meta.get("kind"),
                "source": source_file,
                "source_sha256": exported.get("source_sha256"),
                "outputs": exported.get("outputs"),
                "regenerate": f"perception-train export-onnx --artifact models/{source_file}",
            }
        )
    return entries


def render(manifest: dict[str, Any]) -> str:
    """The manifest as the committed JSON text."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def add_digest(path: str | Path) -> bool:
    """Re-save an artifact written before digests with the same tensors and metadata plus its
    ``weights_sha256``, without retraining; False (file untouched) when it already has one."""
    metadata = read_metadata(path)
    if DIGEST_KEY in metadata:
        return False
    tensors, _ = load_artifact(path)
    save_artifact(path, tensors, metadata)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument(
        "--add-digests",
        action="store_true",
        help=f"first re-save artifacts that lack {DIGEST_KEY} with it (same tensors and metadata)",
    )
    args = parser.parse_args(argv)
    if args.add_digests:
        for path in sorted(args.models_dir.rglob("*.safetensors")):
            if add_digest(path):
                print(f"added {DIGEST_KEY} to {path}")
    manifest = build_manifest(args.models_dir)
    out = args.models_dir / "manifest.json"
    out.write_text(render(manifest))
    print(f"wrote {out} ({len(manifest['artifacts'])} artifacts, {len(manifest['exports'])} ONNX exports)")


if __name__ == "__main__":
    main()
