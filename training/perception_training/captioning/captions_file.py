"""Read ``captions.txt`` in the layouts caption datasets ship in.

* ``csv``: a header line ``image,caption`` then CSV rows (Kaggle's Flickr8k layout);
* ``tsv``: ``image<TAB>caption`` per line, optionally under an ``image<TAB>caption`` header;
* ``flickr``: Flickr8k token style ``image.jpg#0<TAB>caption``;
* ``plain``: caption lines alone, matched in order to the images of the images folder sorted
  by name: one line per image, or the same number of consecutive lines for each.

The layout is detected from the first non-empty line. A line that does not fit raises
:class:`CaptionFileError` naming the file and line, because a silently skipped line turns into
a quietly smaller dataset.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("csv", "tsv", "flickr", "plain")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_FLICKR_KEY = re.compile(r"^(?P<image>.+)#(?P<index>\d+)$")
_HEADERLESS_CSV = re.compile(r"^\S+\.(jpe?g|png|bmp|webp)\s*,", re.IGNORECASE)
_CSV_HEADER = ("image", "caption")


class CaptionFileError(ValueError):
    """A captions file is missing, empty or has a line that fits none of the layouts."""


@dataclass(frozen=True)
class CaptionRecord:
    """One reference caption of one image (``image`` is a file name relative to the images folder)."""

    image: str
    caption: str


def detect_format(path: str | Path) -> str:
    """Return ``csv``, ``tsv``, ``flickr`` or ``plain`` for the captions file at ``path``."""
    path = Path(path)
    for number, line in _lines(path):
        return _format_of(path, number, line)
    raise CaptionFileError(f"{path} is empty; expected image/caption lines (csv, tsv or flickr layout)")


def read_captions(
    path: str | Path, fmt: str = "auto", images: str | Path | None = None
) -> list[CaptionRecord]:
    """Read every caption of ``path``; ``fmt`` is ``auto`` or one of :data:`FORMATS`.

    ``images`` is the folder a ``plain`` file's lines are matched to (other layouts name their
    images themselves).
    """
    path = Path(path)
    if fmt not in (*FORMATS, "auto"):
        raise CaptionFileError(f"unknown captions format {fmt!r}; use auto, {', '.join(FORMATS)}")
    layout = detect_format(path) if fmt == "auto" else fmt
    if layout == "plain":
        records = _read_plain(path, images)
    else:
        records = _read_csv(path) if layout == "csv" else _read_tabbed(path, layout)
    if not records:
        raise CaptionFileError(f"{path} has a header but no captions")
    return records


def _lines(path: Path):
    if not path.is_file():
        raise CaptionFileError(f"captions file {path} does not exist; check the --captions path")
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line.rstrip("\r\n")


def _format_of(path: Path, number: int, line: str) -> str:
    if tuple(part.strip().lower() for part in line.split(",")) == _CSV_HEADER:
        return "csv"
    if "\t" in line:
        key = line.split("\t", 1)[0].strip()
        return "flickr" if _FLICKR_KEY.match(key) else "tsv"
    if _HEADERLESS_CSV.match(line):
        raise CaptionFileError(
            f"{path}:{number}: {line[:60]!r} looks like CSV without its header; add the line "
            "'image,caption' first (or use 'image<TAB>caption', or caption lines alone)"
        )
    return "plain"


def _read_plain(path: Path, images: str | Path | None) -> list[CaptionRecord]:
    """Caption lines matched in order to the folder's images sorted by name (k lines each)."""
    if images is None or not Path(images).is_dir():
        raise CaptionFileError(
            f"{path} holds caption lines without image names; give the images folder they belong to "
            f"(got {images})"
        )
    names = sorted(p.name for p in Path(images).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    lines = [line.strip() for _, line in _lines(path)]
    if not names or len(lines) % len(names):
        raise CaptionFileError(
            f"{path} has {len(lines)} caption lines for {len(names)} images in {images}; a plain captions "
            "file needs the same number of lines for every image, in the images' name order"
        )
    per_image = len(lines) // len(names)
    return [CaptionRecord(names[index // per_image], caption) for index, caption in enumerate(lines)]


def _read_tabbed(path: Path, layout: str) -> list[CaptionRecord]:
    records = []
    for number, line in _lines(path):
        fields = [field.strip() for field in line.split("\t")]
        if layout == "tsv" and tuple(field.lower() for field in fields) == _CSV_HEADER:
            continue
        if len(fields) != 2 or not all(fields):
            raise CaptionFileError(
                f"{path}:{number}: expected exactly two non-empty tab-separated fields "
                f"(image, caption) in the {layout} layout, got {len(fields)}: {line[:80]!r}"
            )
        image, caption = fields
        if layout == "flickr":
            match = _FLICKR_KEY.match(image)
            if match is None:
                raise CaptionFileError(
                    f"{path}:{number}: Flickr8k layout needs 'image.jpg#N' before the tab, got {image!r}"
                )
            image = match.group("image")
        records.append(CaptionRecord(image, caption))
    return records


def _read_csv(path: Path) -> list[CaptionRecord]:
    records = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        for row in reader:
            number = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            cells = [cell.strip() for cell in row]
            if tuple(cell.lower() for cell in cells) == _CSV_HEADER:
                continue
            if len(cells) != 2 or not all(cells):
                raise CaptionFileError(
                    f"{path}:{number}: expected two non-empty CSV fields (image, caption), got "
                    f"{len(cells)}: {row!r}; quote captions that contain commas"
                )
            records.append(CaptionRecord(cells[0], cells[1]))
    return records
