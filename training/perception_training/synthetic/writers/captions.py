"""Caption dataset: images/, per language captions.txt in CSV, TSV and Flickr8k token layouts.

Layout under ``root``::

    images/{split}_{index:06d}.jpg
    splits/{train,val,test}.txt          one image name per line
    {lang}/csv/captions.txt              header "image,caption", 5 rows per image
    {lang}/tsv/captions.txt              "image<TAB>caption"
    {lang}/flickr/captions.txt           "image.jpg#k<TAB>caption", k = 0..4
    annotations.jsonl                    the objects behind each image (hazard and caption checks)
    synthetic.json                       how the scenes were drawn (seed, counts, size, sim2real, ...)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import cv2
from tqdm import tqdm

from perception_training.synthetic.captions import LANGUAGES, captions
from perception_training.synthetic.world import SceneWorld
from perception_training.synthetic.writers.files import fresh_dir

DEFAULT_COUNTS: Mapping[str, int] = {"train": 800, "val": 100, "test": 100}
CAPTION_FORMATS: tuple[str, ...] = ("csv", "tsv", "flickr")


def captions_path(root: str | Path, language: str, fmt: str) -> Path:
    """Where the ``fmt`` captions.txt of ``language`` lives under a dataset ``root``."""
    return Path(root) / language / fmt / "captions.txt"


def _write_captions(root: Path, language: str, rows: list[tuple[str, list[str]]]) -> None:
    for fmt in CAPTION_FORMATS:
        captions_path(root, language, fmt).parent.mkdir(parents=True, exist_ok=True)
    with captions_path(root, language, "csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        writer.writerows((image, text) for image, texts in rows for text in texts)
    captions_path(root, language, "tsv").write_text(
        "".join(f"{image}\t{text}\n" for image, texts in rows for text in texts), encoding="utf-8"
    )
    captions_path(root, language, "flickr").write_text(
        "".join(f"{image}#{k}\t{text}\n" for image, texts in rows for k, text in enumerate(texts)),
        encoding="utf-8",
    )


def write_caption_dataset(
    root: str | Path,
    seed: int = 0,
    counts: Mapping[str, int] = DEFAULT_COUNTS,
    size: tuple[int, int] = (224, 224),
    languages: Sequence[str] = LANGUAGES,
    kind: str = "caption",
    sim2real: Sequence[str] = (),
) -> Path:
    """Write captioned synthetic scenes under ``root`` (layout in the module docstring); return ``root``.

    ``sim2real`` names options of :mod:`perception_training.synthetic.sim2real` (photo textures,
    look-alikes, a camera model): the scenes stay the same, only their pixels change (``camera``
    also moves the boxes with the lens; captions describe the scene as drawn). ``synthetic.json``
    records them as ``sim2real`` only when some are on, so data sets without them are unchanged."""
    root = Path(root).resolve()
    unknown = sorted(set(languages) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"unknown caption languages {unknown}; choose from {LANGUAGES}")
    world = SceneWorld(seed, sim2real)
    fresh_dir(root / "images", "*.jpg")
    fresh_dir(root / "splits", "*.txt")
    rows: dict[str, list[tuple[str, list[str]]]] = {language: [] for language in languages}
    with (root / "annotations.jsonl").open("w", encoding="utf-8") as annotations:
        for split, count in counts.items():
            names = []
            for index in tqdm(range(count), desc=f"captions {split}", unit="img"):
                scene = world.scene(index, split, kind, size)
                name = f"{split}_{index:06d}.jpg"
                if not cv2.imwrite(str(root / "images" / name), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
                    raise OSError(f"could not write {root / 'images' / name}; check the disk and permissions")
                names.append(name)
                for language in languages:
                    rows[language].append((name, captions(scene, language)))
                record = {"image": name, "split": split, "objects": [asdict(o) for o in scene.objects]}
                annotations.write(json.dumps(record, ensure_ascii=False) + "\n")
            (root / "splits" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    for language in languages:
        _write_captions(root, language, rows[language])
    info = {
        "generator": "perception_training.synthetic",
        "format": "captions",
        "seed": seed,
        "counts": dict(counts),
        "size": list(size),
        "languages": list(languages),
        "kind": kind,
        **({"sim2real": list(world.sim2real)} if world.sim2real else {}),
    }
    (root / "synthetic.json").write_text(json.dumps(info, indent=2) + "\n")
    return root
