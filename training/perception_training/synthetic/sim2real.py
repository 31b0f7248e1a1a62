"""Sim-to-real options of the synthetic world: each makes scenes look more like camera photos.

All are off by default, so every existing data set, figure and test scene keeps its pixels.
Each option draws from its own random generator (derived from the scene's), so turning one on
changes only what it adds: the objects, their boxes and the rest of the scene stay the same
(apart from ``camera``, whose lens distortion moves the boxes with the pixels, and
``materials``, whose shape changes resize each object's box about its bottom centre).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

SIM2REAL_OPTIONS: dict[str, str] = {
    "photos": "real photo textures on the wall and table and as patches (grace_hopper.jpg only)",
    "lookalikes": "clutter that looks like a knife but is not (spoon, fork, pen, ruler, screwdriver)",
    "materials": "objects shaded towards a light, grainy, some shiny, stretched and seen at an angle",
    "camera": "lens distortion, motion and defocus blur, exposure, white balance, sensor noise, JPEG",
}


def sim2real_options(names: Iterable[str]) -> tuple[str, ...]:
    """The named options, validated, in canonical order (what data sets record)."""
    chosen = set(names)
    unknown = chosen - set(SIM2REAL_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown sim-to-real option(s) {sorted(unknown)}; choose from {list(SIM2REAL_OPTIONS)}"
        )
    return tuple(name for name in SIM2REAL_OPTIONS if name in chosen)


def add_sim2real_argument(parser: argparse.ArgumentParser) -> None:
    """``--sim2real [OPTION ...]``: absent = off, bare = all options (the same flag everywhere)."""
    listing = "; ".join(f"{name}: {text}" for name, text in SIM2REAL_OPTIONS.items())
    parser.add_argument(
        "--sim2real",
        nargs="*",
        choices=list(SIM2REAL_OPTIONS),
        metavar="OPTION",
        help=f"make scenes look more like photos (no value = all). {listing}",
    )


def sim2real_from_args(value: list[str] | None) -> tuple[str, ...]:
    """What ``--sim2real`` asked for: ``None`` (absent) is none, ``[]`` (bare flag) is all."""
    if value is None:
        return ()
    return sim2real_options(value or SIM2REAL_OPTIONS)
