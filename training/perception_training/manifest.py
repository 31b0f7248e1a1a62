"""models/manifest.json: what each committed artifact is, its checksum and how to remake it.

Built from the artifacts' own metadata, so it cannot disagree with them; a test checks that
the committed manifest matches the files. Run `python -m perception_training.manifest` after
training a model into models/.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from perception.core.artifacts import read_metadata, sha256_of

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def build_manifest(models_dir: Path) -> dict[str, Any]:
    """One entry per ``*.safetensors`` artifact under ``models_dir``, sorted by path."""
    entries = []
    for path in sorted(models_dir.rglob("*.safetensors")):
        meta = read_metadata(path)
        entries.append(
            {
                "name": path.stem,
                "file": path.relative_to(models_dir).as_posix(),
                "sha256": sha256_of(path),
                "bytes": path.stat().st_size,
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
    return {"format_version": 1, "artifacts": entries}


def render(manifest: dict[str, Any]) -> str:
    """The manifest as the committed JSON text."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    args = parser.parse_args(argv)
    manifest = build_manifest(args.models_dir)
    out = args.models_dir / "manifest.json"
    out.write_text(render(manifest))
    print(f"wrote {out} ({len(manifest['artifacts'])} artifacts)")


if __name__ == "__main__":
    main()
